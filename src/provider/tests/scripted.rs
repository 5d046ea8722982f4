//! The `scripted` backend plays a configured script turn by turn, tool calls included, the
//! same way streamed and not; a bad script is refused with an error naming its key, from a
//! file, the environment and a configuration built in code.

use std::io::Write as _;

use serde_json::json;

use super::server::*;
use crate::config::{ConfigError, KernelConfig};
use crate::pid::Pid;
use crate::provider::{
    BackendConfig, ChatRequest, ChatResponse, FinishReason, Message, ProviderError, Providers,
    ScriptEntry, ScriptTurn, ToolCall,
};

fn fix_script() -> Vec<ScriptEntry> {
    vec![
        ScriptEntry::new("calc.sh")
            .turn(
                ScriptTurn::text("[scripted] Reading both files.")
                    .call("fs__read", json!({"path": "calc.sh"}))
                    .call("fs.read", json!({"path": "test_calc.sh"})),
            )
            .turn(ScriptTurn::default().call("shell__run", json!({"command": "sh test_calc.sh"})))
            .turn(ScriptTurn::text("[scripted] Fixed.")),
    ]
}

/// The conversation after `turns` model turns, each answered by its tool results.
fn conversation(turns: &[&ChatResponse], stream: bool) -> ChatRequest {
    let mut messages = vec![
        Message::system("You fix bugs."),
        Message::user("The test of calc.sh fails: fix it."),
    ];
    for r in turns {
        messages.push(Message {
            tool_calls: r.tool_calls.clone(),
            ..Message::assistant(r.content.clone())
        });
        for c in &r.tool_calls {
            messages.push(Message::tool_result(c.id.clone(), "{\"ok\":true}"));
        }
    }
    let mut req = ChatRequest::new("any-model", messages);
    req.stream = stream;
    req
}

async fn play(p: &Providers, stream: bool) -> Vec<ChatResponse> {
    let pid = Pid::new();
    let mut out: Vec<ChatResponse> = Vec::new();
    for _ in 0..4 {
        let req = conversation(&out.iter().collect::<Vec<_>>(), stream);
        let r = p
            .router
            .chat(req, &token(pid, 1), None)
            .await
            .expect("scripted");
        out.push(r);
    }
    out
}

#[actix_rt::test]
async fn scripted_tool_calls_are_replayed_turn_by_turn_streamed_or_not() {
    let p =
        Providers::start(&one("scripted", BackendConfig::scripted(fix_script()))).expect("start");
    let plain = play(&p, false).await;
    let streamed = play(&p, true).await;
    for (a, b) in plain.iter().zip(&streamed) {
        assert_eq!(
            (&a.content, &a.tool_calls, a.finish_reason),
            (&b.content, &b.tool_calls, b.finish_reason),
            "streamed and not agree"
        );
        assert_eq!(
            (a.backend.as_str(), a.model.as_str()),
            ("scripted", "scripted:any-model")
        );
        assert!(a.usage.completion_tokens > 0);
    }
    assert_eq!(
        plain[0].tool_calls,
        [
            ToolCall {
                id: "scripted_0_0".into(),
                name: "fs__read".into(),
                arguments: r#"{"path":"calc.sh"}"#.into()
            },
            ToolCall {
                id: "scripted_0_1".into(),
                name: "fs.read".into(),
                arguments: r#"{"path":"test_calc.sh"}"#.into()
            },
        ]
    );
    assert_eq!(plain[0].finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(plain[0].content, "[scripted] Reading both files.");
    assert_eq!(plain[1].tool_calls[0].name, "shell__run");
    assert_eq!(plain[1].content, "");
    assert_eq!(plain[2].content, "[scripted] Fixed.");
    assert!(plain[2].tool_calls.is_empty());
    assert_eq!(plain[2].finish_reason, Some(FinishReason::Stop));
    // Past the last turn: a plain text saying so, no tool call (an agent's loop ends).
    assert!(
        plain[3].content.starts_with("[scripted] the script"),
        "{}",
        plain[3].content
    );
    assert!(plain[3].tool_calls.is_empty());
    // A prompt no needle matches is echoed, as before.
    let other = ChatRequest::new("m", vec![Message::user("hello")]);
    let echo = p
        .router
        .chat(other, &token(Pid::new(), 1), None)
        .await
        .unwrap();
    assert!(
        echo.content.starts_with("[scripted] no model"),
        "{}",
        echo.content
    );
}

#[actix_rt::test]
async fn a_bad_script_built_in_code_is_refused_naming_the_key() {
    let bad = vec![ScriptEntry::new("x").turn(ScriptTurn::text("ok").call("", json!({})))];
    match Providers::start(&one("offline", BackendConfig::scripted(bad))) {
        Err(ProviderError::InvalidConfig { key, reason }) => {
            assert_eq!(
                key,
                "providers.backends.offline.script[0].turns[0].tool_calls[0].name"
            );
            assert!(reason.contains("not a tool name"), "{reason}");
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

const SCRIPT_TOML: &str = r#"
[providers.backends.scripted]
kind = "scripted"

[[providers.backends.scripted.script]]
needle = "calc.sh"
turns = [
  { reply = "[scripted] Reading.", tool_calls = [{ name = "fs.read", arguments = { path = "calc.sh" } }] },
  { reply = "[scripted] Done." },
]

[[providers.backends.scripted.script]]
needle = ""
reply = "[scripted] catch-all"
"#;

fn toml_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn a_script_is_read_from_a_config_file_and_from_the_environment() {
    let f = toml_file(SCRIPT_TOML);
    let cfg = KernelConfig::from_sources(Some(f.path()), Vec::<(String, String)>::new())
        .expect("a good script loads");
    let script = &cfg.providers.backends["scripted"].script;
    assert_eq!(script.len(), 2);
    assert_eq!(
        script[0].turns[0].tool_calls[0].arguments,
        json!({"path": "calc.sh"})
    );
    assert_eq!(script[1].all_turns()[0].reply, "[scripted] catch-all");

    let env = [
        ("AOK__PROVIDERS__BACKENDS__OFFLINE__KIND", "scripted"),
        (
            "AOK__PROVIDERS__BACKENDS__OFFLINE__SCRIPT",
            r#"[{"needle": "ls", "tool_calls": [{"name": "fs.list", "arguments": {"path": "."}}]}]"#,
        ),
    ];
    let cfg = KernelConfig::from_sources(None, env).expect("a script from the environment");
    let entry = &cfg.providers.backends["offline"].script[0];
    assert_eq!(entry.tool_calls[0].name, "fs.list");
}

#[test]
fn a_bad_script_in_a_config_file_names_the_key() {
    let bad = SCRIPT_TOML.replace("{ reply = \"[scripted] Done.\" }", "{ }");
    let f = toml_file(&bad);
    let err = KernelConfig::from_sources(Some(f.path()), Vec::<(String, String)>::new())
        .expect_err("an empty turn is refused");
    match &err {
        ConfigError::Invalid { key, origin, .. } => {
            assert_eq!(key, "providers.backends.scripted.script[0].turns[1]");
            assert!(origin.contains(&f.path().display().to_string()), "{origin}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    let misspelt = SCRIPT_TOML.replace("tool_calls = [{ name", "tool_call = [{ name");
    let f = toml_file(&misspelt);
    let err = KernelConfig::from_sources(Some(f.path()), Vec::<(String, String)>::new())
        .expect_err("an unknown field is refused")
        .to_string();
    assert!(err.contains("tool_call"), "{err}");
    let on_openai = "[providers.backends.o]\nkind = \"openai_compatible\"\npreset = \"openai\"\nscript = [{ needle = \"x\", reply = \"y\" }]\n";
    let f = toml_file(on_openai);
    let err = KernelConfig::from_sources(Some(f.path()), Vec::<(String, String)>::new())
        .expect_err("a script on another kind is refused")
        .to_string();
    assert!(err.contains("`providers.backends.o.script`"), "{err}");
}
