//! `docs/operations.md` stays true to the code: it names every key of `config/default.toml`,
//! every field of the configuration structs (those only commented in the file included), and
//! every metric name of `src/telemetry/names.rs`; and the environment form it documents,
//! `AOK__SECTION__KEY`, sets each key of `config/default.toml`.

use std::collections::BTreeSet;

use agent_os_kernel::KernelConfig;
use agent_os_kernel::api::{ApiToken, Role};
use agent_os_kernel::provider::{BackendConfig, Price, RouteTarget, ScriptEntry, ScriptTurn};
use agent_os_kernel::scheduler::Quota;
use agent_os_kernel::tools::mcp::McpServerConfig;
use serde_json::Value;

fn read(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {full}: {e}"))
}

/// The dotted paths of `value`'s leaves under `prefix`: scalars, arrays, nulls and empty
/// tables (a table whose keys the user chooses, such as `providers.backends`).
fn leaves(prefix: &str, value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&key, v, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("configuration values serialise")
}

/// Every key of `config/default.toml`.
fn default_toml_keys() -> BTreeSet<String> {
    let table: toml::Table =
        toml::from_str(&read("config/default.toml")).expect("config/default.toml parses");
    let mut out = BTreeSet::new();
    leaves("", &json(&table), &mut out);
    out
}

/// Every field of the configuration structs, with `<name>`-style placeholders for the tables
/// whose keys the user chooses and `[]` for the entries of arrays of tables.
fn struct_keys() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    leaves("", &json(&KernelConfig::default()), &mut out);
    let backend = BackendConfig::scripted(vec![ScriptEntry::new("x").turn(ScriptTurn::text("y"))]);
    leaves("providers.backends.<name>", &json(&backend), &mut out);
    let route = RouteTarget {
        backend: "b".into(),
        model: None,
        context_window: None,
    };
    leaves("providers.routes.<group>[]", &json(&route), &mut out);
    out.insert("providers.routes.<group>".into());
    let price = Price {
        input_per_mtok: 1.0,
        output_per_mtok: 1.0,
    };
    leaves("providers.prices.<model>", &json(&price), &mut out);
    out.insert("scheduler.per_provider_slots.<provider>".into());
    leaves(
        "scheduler.agent_overrides.<pid>",
        &json(&Quota::default()),
        &mut out,
    );
    leaves(
        "mcp.servers.<name>",
        &json(&McpServerConfig::default()),
        &mut out,
    );
    let token = ApiToken {
        name: "ci".into(),
        role: Role::Viewer,
        sha256: String::new(),
    };
    leaves("api.tokens[]", &json(&token), &mut out);
    out
}

fn missing_from_doc<'a>(doc: &str, keys: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    keys.into_iter()
        .filter(|k| !doc.contains(&format!("`{k}`")))
        .cloned()
        .collect()
}

#[test]
fn operations_md_names_every_key_of_default_toml() {
    let doc = read("docs/operations.md");
    let keys = default_toml_keys();
    assert!(keys.len() > 80, "too few keys parsed: {keys:?}");
    let missing = missing_from_doc(&doc, &keys);
    assert!(
        missing.is_empty(),
        "docs/operations.md does not mention these keys of config/default.toml (as `key`): {missing:#?}"
    );
}

#[test]
fn operations_md_names_every_field_of_the_config_structs() {
    let doc = read("docs/operations.md");
    let keys = struct_keys();
    let missing = missing_from_doc(&doc, &keys);
    assert!(
        missing.is_empty(),
        "docs/operations.md does not mention these configuration keys (as `key`): {missing:#?}"
    );
}

#[test]
fn operations_md_names_every_metric() {
    let doc = read("docs/operations.md");
    let names: Vec<String> = read("src/telemetry/names.rs")
        .lines()
        .filter_map(|l| l.split('"').nth(1).filter(|n| n.starts_with("aok_")))
        .map(str::to_string)
        .collect();
    assert!(names.len() >= 30, "{names:?}");
    let missing = missing_from_doc(&doc, &names);
    assert!(
        missing.is_empty(),
        "docs/operations.md does not list these metrics of src/telemetry/names.rs: {missing:?}"
    );
}

/// The value of `key` (dotted) in a configuration rendered as JSON.
fn at<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.').try_fold(v, |v, k| v.get(k))
}

/// The variable's value for a default: text for strings, JSON for arrays, else its literal.
fn env_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) | Value::Array(_) => Some(v.to_string()),
        _ => None,
    }
}

#[test]
fn every_key_of_default_toml_is_set_by_its_documented_variable() {
    let table: toml::Table = toml::from_str(&read("config/default.toml")).unwrap();
    let defaults = json(&table);
    let mut failures = Vec::new();
    for key in default_toml_keys() {
        let Some(value) = at(&defaults, &key).and_then(env_value) else {
            continue; // an empty table: its keys are the user's
        };
        let var = format!("AOK__{}", key.replace('.', "__").to_uppercase());
        match KernelConfig::from_sources(None, [(var.clone(), value.clone())]) {
            Ok(cfg) => {
                let got = at(&json(&cfg), &key).cloned();
                let want = at(&json(&KernelConfig::default()), &key).cloned();
                if got != want {
                    failures.push(format!("{var}={value}: {key} became {got:?}, not {want:?}"));
                }
            }
            Err(e) => failures.push(format!("{var}={value}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // A changed value arrives too, a list as a JSON array.
    let cfg = KernelConfig::from_sources(
        None,
        [
            ("AOK__SECURITY__TOOLS__BLOCK", r#"["shell.*"]"#),
            ("AOK__SCHEDULER__AGENT_QUOTA__MAX_TOKENS", "5000"),
            ("AOK__PROVIDERS__BACKENDS__LOCAL__KIND", "openai_compatible"),
            ("AOK__PROVIDERS__BACKENDS__LOCAL__MODELS", r#"["smollm2"]"#),
            (
                "AOK__PROVIDERS__ROUTES__SMART",
                r#"[{"backend": "local", "model": "smollm2"}]"#,
            ),
            (
                "AOK__API__TOKENS",
                r#"[{"name": "ci", "role": "operator", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}]"#,
            ),
        ],
    )
    .expect("variables load");
    assert_eq!(cfg.security.tools.block, ["shell.*"]);
    assert_eq!(cfg.scheduler.agent_quota.max_tokens, Some(5000));
    assert_eq!(cfg.api.tokens[0].role, Role::Operator);
    assert_eq!(cfg.providers.backends["local"].models, ["smollm2"]);
    assert_eq!(cfg.providers.routes["smart"][0].backend, "local");
}
