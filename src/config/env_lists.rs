//! List-valued keys from the environment: `AOK__PROVIDERS__BACKENDS__LOCAL__MODELS='["m"]'`.
//! A variable whose value starts with `[` is read as a JSON array (of strings, numbers,
//! booleans, or nested arrays and objects) and set at its key, keeping "the environment" as
//! its origin, so errors still name the variable.

use config::{Map, Value, ValueKind};

use super::error::ConfigError;

/// Where environment values come from, as config-rs names it.
pub(super) const ORIGIN: &str = "the environment";

/// Takes the array-valued `AOK__…` variables out of `env`: their dotted keys and values.
pub(super) fn take_lists(
    env: &mut Map<String, String>,
) -> Result<Vec<(String, Value)>, ConfigError> {
    let names: Vec<String> = env
        .iter()
        .filter(|(_, v)| v.trim_start().starts_with('['))
        .map(|(k, _)| k.clone())
        .collect();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let Some(raw) = env.remove(&name) else {
            continue;
        };
        let key = name
            .trim_start_matches("AOK__")
            .split("__")
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join(".");
        let parsed: serde_json::Value =
            serde_json::from_str(&raw).map_err(|e| ConfigError::Invalid {
                key: key.clone(),
                origin: format!("environment variable {name}"),
                reason: format!("a value starting with `[` must be a JSON array: {e}"),
            })?;
        out.push((key, convert(parsed)));
    }
    Ok(out)
}

fn convert(json: serde_json::Value) -> Value {
    let origin = ORIGIN.to_string();
    let kind = match json {
        serde_json::Value::Null => ValueKind::Nil,
        serde_json::Value::Bool(b) => ValueKind::Boolean(b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => ValueKind::I64(i),
            (None, Some(u), _) => ValueKind::U64(u),
            (_, _, Some(f)) => ValueKind::Float(f),
            _ => ValueKind::String(n.to_string()),
        },
        serde_json::Value::String(s) => ValueKind::String(s),
        serde_json::Value::Array(items) => {
            ValueKind::Array(items.into_iter().map(convert).collect())
        }
        serde_json::Value::Object(map) => {
            ValueKind::Table(map.into_iter().map(|(k, v)| (k, convert(v))).collect())
        }
    };
    Value::new(Some(&origin), kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_become_lists_at_their_dotted_key() {
        let mut env = Map::new();
        env.insert(
            "AOK__PROVIDERS__BACKENDS__LOCAL__MODELS".into(),
            r#"["a", "b"]"#.into(),
        );
        env.insert("AOK__LOG__FILTER".into(), "debug".into());
        let lists = take_lists(&mut env).unwrap();
        assert_eq!(lists.len(), 1);
        assert_eq!(lists[0].0, "providers.backends.local.models");
        let values: Vec<String> = lists[0]
            .1
            .clone()
            .into_array()
            .unwrap()
            .into_iter()
            .map(|v| v.into_string().unwrap())
            .collect();
        assert_eq!(values, ["a", "b"]);
        assert_eq!(env.len(), 1, "the plain variable stays");
    }

    #[test]
    fn a_malformed_array_names_the_variable() {
        let mut env = Map::new();
        env.insert(
            "AOK__PROVIDERS__BACKENDS__LOCAL__MODELS".into(),
            "[a, b".into(),
        );
        let err = take_lists(&mut env).unwrap_err().to_string();
        assert!(
            err.contains("AOK__PROVIDERS__BACKENDS__LOCAL__MODELS"),
            "{err}"
        );
        assert!(err.contains("JSON array"), "{err}");
    }
}
