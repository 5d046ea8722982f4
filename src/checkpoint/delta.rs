//! Structural JSON deltas: what changed between two snapshots of an agent's state, so a
//! checkpoint stores the change and not the whole state again.
//!
//! Objects are diffed key by key; arrays that keep a common prefix (a conversation that grows,
//! a list whose tail changed) store only the new tail; anything else is replaced whole.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How to turn one JSON value into another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Patch {
    /// Unchanged.
    Same,
    /// Replaced by `value`.
    Set { value: Value },
    /// An object: these keys changed (recursively) or were added; these were removed.
    Object {
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        set: BTreeMap<String, Patch>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        del: Vec<String>,
    },
    /// An array: the first `keep` items stay, `items` follow them.
    Splice { keep: usize, items: Vec<Value> },
}

impl Patch {
    pub(crate) fn is_same(&self) -> bool {
        matches!(self, Patch::Same)
    }
}

/// The patch that turns `old` into `new`.
pub(crate) fn diff(old: &Value, new: &Value) -> Patch {
    if old == new {
        return Patch::Same;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut set = BTreeMap::new();
            for (k, v) in b {
                let p = match a.get(k) {
                    Some(old_v) => diff(old_v, v),
                    None => Patch::Set { value: v.clone() },
                };
                if !p.is_same() {
                    set.insert(k.clone(), p);
                }
            }
            let del: Vec<String> = a.keys().filter(|k| !b.contains_key(*k)).cloned().collect();
            Patch::Object { set, del }
        }
        (Value::Array(a), Value::Array(b)) => {
            let keep = a.iter().zip(b).take_while(|(x, y)| x == y).count();
            // A tail that changed in place is cheaper as a patch of its one item than as a
            // new tail when only that item differs (a growing last message).
            if keep > 0 || b.len() > a.len() {
                Patch::Splice {
                    keep,
                    items: b[keep..].to_vec(),
                }
            } else {
                Patch::Set { value: new.clone() }
            }
        }
        _ => Patch::Set { value: new.clone() },
    }
}

/// Applies `patch` to `base`. A patch that does not fit its base (a splice past the end, an
/// object patch on a non-object) is an error: the chain it came from is not this base's.
pub(crate) fn apply(base: Value, patch: &Patch) -> Result<Value, String> {
    match patch {
        Patch::Same => Ok(base),
        Patch::Set { value } => Ok(value.clone()),
        Patch::Object { set, del } => {
            let Value::Object(mut map) = base else {
                return Err("an object patch applied to a non-object".into());
            };
            for k in del {
                map.remove(k);
            }
            for (k, p) in set {
                let old = map.remove(k).unwrap_or(Value::Null);
                map.insert(k.clone(), apply(old, p)?);
            }
            Ok(Value::Object(map))
        }
        Patch::Splice { keep, items } => {
            let Value::Array(mut arr) = base else {
                return Err("an array patch applied to a non-array".into());
            };
            if *keep > arr.len() {
                return Err(format!(
                    "an array patch keeps {keep} items of an array of {}",
                    arr.len()
                ));
            }
            arr.truncate(*keep);
            arr.extend(items.iter().cloned());
            Ok(Value::Array(arr))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roundtrip(a: Value, b: Value) -> Patch {
        let p = diff(&a, &b);
        assert_eq!(apply(a, &p).unwrap(), b);
        p
    }

    #[test]
    fn unchanged_is_same() {
        assert_eq!(roundtrip(json!({"a": 1}), json!({"a": 1})), Patch::Same);
    }

    #[test]
    fn a_growing_list_stores_only_the_new_tail() {
        let old = json!({"turns": ["a", "b", "c"], "n": 3});
        let new = json!({"turns": ["a", "b", "c", "d"], "n": 4});
        let p = roundtrip(old, new);
        let bytes = serde_json::to_vec(&p).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("\"a\""), "{p:?}");
    }

    #[test]
    fn keys_added_removed_and_nested() {
        roundtrip(
            json!({"a": {"x": 1, "y": [1, 2]}, "gone": true}),
            json!({"a": {"x": 2, "y": [1, 3]}, "new": null}),
        );
    }

    #[test]
    fn type_changes_and_shrinking_arrays() {
        roundtrip(json!([1, 2, 3]), json!([9]));
        roundtrip(json!([1, 2, 3]), json!([1]));
        roundtrip(json!({"a": 1}), json!([1]));
        roundtrip(json!(null), json!({"a": 1}));
    }

    #[test]
    fn a_patch_on_the_wrong_base_is_an_error() {
        let p = diff(&json!([1, 2, 3]), &json!([1, 2, 3, 4]));
        assert!(apply(json!([1]), &p).is_err());
        let p = diff(&json!({"a": 1}), &json!({"a": 2}));
        assert!(apply(json!(5), &p).is_err());
    }
}
