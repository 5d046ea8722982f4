//! The script of the offline `scripted` backend: `needle → turns`, each turn a reply text and
//! tool calls, configured under `providers.backends.<name>.script` or built in code.
//!
//! ```toml
//! [providers.backends.scripted]
//! kind = "scripted"
//!
//! [[providers.backends.scripted.script]]
//! needle = "calc.sh"
//! turns = [
//!   { reply = "[scripted] Reading the file.", tool_calls = [{ name = "fs.read", arguments = { path = "calc.sh" } }] },
//!   { reply = "[scripted] Done." },
//! ]
//! ```
//!
//! The first entry whose `needle` the last user message contains is chosen; its turn is the
//! number of assistant messages after that user message (turn 0 answers the user, turn 1
//! answers the first tool results, …). Past the last turn the backend answers a plain text
//! saying the script has ended, with no tool call, so an agent's loop ends. `reply` and
//! `tool_calls` directly on an entry are a one-turn script.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::{BackendKind, ProvidersConfig};
use super::model::ToolCall;

/// One entry of a scripted backend's script.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptEntry {
    /// Chosen when the last user message contains this text (an empty needle matches every
    /// message: a catch-all, put it last).
    pub needle: String,
    /// One-turn form: the reply text (use either this and `tool_calls`, or `turns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// One-turn form: the tool calls of the reply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ScriptedToolCall>,
    /// The replies in order: turn N answers a conversation with N assistant messages after the
    /// matching user message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub turns: Vec<ScriptTurn>,
}

/// One scripted model turn: text, tool calls, or both.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptTurn {
    /// The visible text of the reply.
    #[serde(default)]
    pub reply: String,
    /// The tool calls of the reply (the finish reason is then `tool_calls`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ScriptedToolCall>,
}

/// One scripted tool call.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedToolCall {
    /// The tool's name (`fs.read`, or the wire form `fs__read`).
    pub name: String,
    /// Its arguments: a JSON object (sent as its JSON text), or a string sent verbatim (which
    /// may be malformed on purpose, to exercise an agent's handling of bad arguments).
    #[serde(default = "empty_object")]
    pub arguments: Value,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

impl ScriptEntry {
    /// An entry for `needle` with no turn yet.
    pub fn new(needle: impl Into<String>) -> Self {
        ScriptEntry {
            needle: needle.into(),
            ..ScriptEntry::default()
        }
    }

    /// Appends a turn.
    pub fn turn(mut self, turn: ScriptTurn) -> Self {
        self.turns.push(turn);
        self
    }

    /// The turns, the one-turn form included.
    pub fn all_turns(&self) -> Vec<ScriptTurn> {
        if self.turns.is_empty() {
            vec![ScriptTurn {
                reply: self.reply.clone().unwrap_or_default(),
                tool_calls: self.tool_calls.clone(),
            }]
        } else {
            self.turns.clone()
        }
    }
}

impl ScriptTurn {
    /// A turn answering `reply` with no tool call.
    pub fn text(reply: impl Into<String>) -> Self {
        ScriptTurn {
            reply: reply.into(),
            tool_calls: Vec::new(),
        }
    }

    /// Adds a tool call to the turn.
    pub fn call(mut self, name: impl Into<String>, arguments: Value) -> Self {
        self.tool_calls.push(ScriptedToolCall {
            name: name.into(),
            arguments,
        });
        self
    }
}

impl ScriptedToolCall {
    /// The call as a model's [`ToolCall`], with a deterministic id.
    pub(crate) fn to_call(&self, id: String) -> ToolCall {
        let arguments = match &self.arguments {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        ToolCall {
            id,
            name: self.name.clone(),
            arguments,
        }
    }
}

/// Whether a tool name is one a provider accepts (`[A-Za-z0-9_-]`, with `.` for the kernel's
/// own names, at most 64 characters).
fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn check_calls(at: &str, calls: &[ScriptedToolCall], out: &mut Vec<(String, String)>) {
    for (j, call) in calls.iter().enumerate() {
        if !valid_tool_name(&call.name) {
            out.push((
                format!("{at}.tool_calls[{j}].name"),
                format!(
                    "`{}` is not a tool name (1 to 64 of A-Z a-z 0-9 _ - .)",
                    call.name
                ),
            ));
        }
        if !matches!(call.arguments, Value::Object(_) | Value::String(_)) {
            out.push((
                format!("{at}.tool_calls[{j}].arguments"),
                "must be a table (JSON object) or a string of JSON text".into(),
            ));
        }
    }
}

impl ProvidersConfig {
    /// `(key, reason)` for every invalid value of the providers section that serde cannot
    /// see: a `script` on a backend that is not `scripted`, a script entry with both forms or
    /// an empty turn, a tool call with a bad name or arguments.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, backend) in &self.backends {
            let at = format!("providers.backends.{name}.script");
            if backend.script.is_empty() {
                continue;
            }
            if backend.kind != BackendKind::Scripted {
                out.push((at, "only a backend of kind `scripted` has a script".into()));
                continue;
            }
            for (i, entry) in backend.script.iter().enumerate() {
                let at = format!("{at}[{i}]");
                let one_turn = entry.reply.is_some() || !entry.tool_calls.is_empty();
                if one_turn && !entry.turns.is_empty() {
                    out.push((
                        at.clone(),
                        "give either `reply`/`tool_calls` (one turn) or `turns`, not both".into(),
                    ));
                }
                if !one_turn && entry.turns.is_empty() {
                    out.push((at.clone(), "needs `reply`, `tool_calls` or `turns`".into()));
                }
                check_calls(&at, &entry.tool_calls, &mut out);
                for (t, turn) in entry.turns.iter().enumerate() {
                    let at = format!("{at}.turns[{t}]");
                    if turn.reply.is_empty() && turn.tool_calls.is_empty() {
                        out.push((at.clone(), "a turn needs a `reply` or `tool_calls`".into()));
                    }
                    check_calls(&at, &turn.tool_calls, &mut out);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::BackendConfig;
    use serde_json::json;

    fn with_script(kind: BackendKind, script: Vec<ScriptEntry>) -> ProvidersConfig {
        let mut cfg = ProvidersConfig::default();
        let mut b = BackendConfig::new(kind);
        b.script = script;
        cfg.backends.insert("s".into(), b);
        cfg
    }

    #[test]
    fn a_good_script_has_no_problem_and_one_turn_form_is_a_turn() {
        let e = ScriptEntry {
            needle: "x".into(),
            reply: Some("hi".into()),
            tool_calls: vec![ScriptedToolCall {
                name: "fs__read".into(),
                arguments: json!({"path": "a"}),
            }],
            turns: Vec::new(),
        };
        assert_eq!(e.all_turns().len(), 1);
        assert_eq!(e.all_turns()[0].tool_calls[0].name, "fs__read");
        let built = ScriptEntry::new("y")
            .turn(ScriptTurn::text("a").call("shell.run", json!({"command": "ls"})))
            .turn(ScriptTurn::text("b"));
        let cfg = with_script(BackendKind::Scripted, vec![e, built]);
        assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
    }

    #[test]
    fn bad_scripts_name_the_key() {
        let keys = |cfg: ProvidersConfig| -> Vec<String> {
            cfg.problems().into_iter().map(|(k, _)| k).collect()
        };
        let entry = ScriptEntry::new("x").turn(ScriptTurn::text("a"));
        assert_eq!(
            keys(with_script(BackendKind::Anthropic, vec![entry])),
            ["providers.backends.s.script"]
        );
        let both = ScriptEntry {
            reply: Some("a".into()),
            ..ScriptEntry::new("x").turn(ScriptTurn::text("b"))
        };
        let bad_call = ScriptEntry::new("y")
            .turn(ScriptTurn::default())
            .turn(ScriptTurn::text("c").call("rm -rf", json!(3)));
        assert_eq!(
            keys(with_script(
                BackendKind::Scripted,
                vec![both, ScriptEntry::new("z"), bad_call]
            )),
            [
                "providers.backends.s.script[0]",
                "providers.backends.s.script[1]",
                "providers.backends.s.script[2].turns[0]",
                "providers.backends.s.script[2].turns[1].tool_calls[0].name",
                "providers.backends.s.script[2].turns[1].tool_calls[0].arguments",
            ]
        );
    }

    #[test]
    fn arguments_are_json_text_or_a_verbatim_string() {
        let obj = ScriptedToolCall {
            name: "fs.read".into(),
            arguments: json!({"path": "a"}),
        };
        assert_eq!(obj.to_call("c0".into()).arguments, r#"{"path":"a"}"#);
        let raw = ScriptedToolCall {
            name: "fs.read".into(),
            arguments: json!("{not json"),
        };
        assert_eq!(raw.to_call("c1".into()).arguments, "{not json");
    }
}
