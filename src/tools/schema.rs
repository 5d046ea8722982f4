//! Checking tool arguments against their JSON Schema before a call. The keywords tool schemas
//! use are supported — `type` (one or a list), `properties`, `required`,
//! `additionalProperties: false`, `items`, `enum`, `const`, `minimum`, `maximum`, `minLength`,
//! `maxLength`, `minItems`, `maxItems`; others are ignored (never a false refusal). Errors name
//! the field by its path (`$.path`, `$.items[2]`).

use serde_json::Value;

/// Checks `value` against `schema`; the first problem, with its path.
pub(crate) fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, value, "$")
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_type(v: &Value, t: &str) -> bool {
    let actual = type_of(v);
    actual == t || (t == "number" && actual == "integer")
}

fn check(schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let Some(s) = schema.as_object() else {
        return Ok(());
    };
    match s.get("type") {
        Some(Value::String(t)) if !is_type(v, t) => {
            return Err(format!("{at}: expected {t}, got {}", type_of(v)));
        }
        Some(Value::Array(ts)) if !ts.iter().filter_map(Value::as_str).any(|t| is_type(v, t)) => {
            return Err(format!("{at}: expected one of {ts:?}, got {}", type_of(v)));
        }
        _ => {}
    }
    if let Some(Value::Array(options)) = s.get("enum")
        && !options.contains(v)
    {
        return Err(format!(
            "{at}: {v} is not one of {}",
            Value::Array(options.clone())
        ));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        return Err(format!("{at}: must be {c}"));
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = s.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            return Err(format!("{at}: {n} is below the minimum {min}"));
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            return Err(format!("{at}: {n} is above the maximum {max}"));
        }
    }
    if let Some(text) = v.as_str() {
        let len = text.chars().count() as u64;
        if s.get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| len < m)
        {
            return Err(format!("{at}: shorter than minLength"));
        }
        if s.get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| len > m)
        {
            return Err(format!("{at}: longer than maxLength"));
        }
    }
    if let Some(items) = v.as_array() {
        let n = items.len() as u64;
        if s.get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
        {
            return Err(format!("{at}: fewer than minItems"));
        }
        if s.get("maxItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| n > m)
        {
            return Err(format!("{at}: more than maxItems"));
        }
        if let Some(item) = s.get("items") {
            for (i, x) in items.iter().enumerate() {
                check(item, x, &format!("{at}[{i}]"))?;
            }
        }
    }
    if let Some(obj) = v.as_object() {
        if let Some(Value::Array(required)) = s.get("required") {
            for r in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    return Err(format!("{at}.{r}: required"));
                }
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, x) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(sub) => check(sub, x, &format!("{at}.{k}"))?,
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}.{k}: not an allowed property"));
                }
                None => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_field() {
        let s = json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "minLength": 1},
                "lines": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "mode": {"enum": ["a", "w"]}
            },
            "required": ["path"],
            "additionalProperties": false
        });
        assert!(validate(&s, &json!({"path": "x", "lines": [1, 2], "mode": "a"})).is_ok());
        assert_eq!(validate(&s, &json!({})).unwrap_err(), "$.path: required");
        assert!(
            validate(&s, &json!({"path": 3}))
                .unwrap_err()
                .starts_with("$.path: expected string")
        );
        assert!(
            validate(&s, &json!({"path": "x", "lines": [1, -1]}))
                .unwrap_err()
                .starts_with("$.lines[1]")
        );
        assert!(
            validate(&s, &json!({"path": "x", "mode": "r"}))
                .unwrap_err()
                .starts_with("$.mode")
        );
        assert!(
            validate(&s, &json!({"path": "x", "extra": 1}))
                .unwrap_err()
                .contains("not an allowed")
        );
        assert!(validate(&s, &json!([1])).is_err());
    }
}
