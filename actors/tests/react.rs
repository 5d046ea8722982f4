//! `ReactAgent` against an in-test OpenAI-shaped server: a tool call (`fs.write`) then an
//! answer, the file written; a model that never stops calling tools cut by the step limit;
//! the quick start in ten lines.

mod support;

use agent_os_actors::{ReactAgent, ReactMsg, Stopped};
use agent_os_kernel::AgentState;
use serde_json::{Value, json};
use support::{config, kernel_with, openai_server, text, tool_call};

fn has_tool_result(body: &Value) -> bool {
    body["messages"]
        .as_array()
        .is_some_and(|m| m.iter().any(|x| x["role"] == "tool"))
}

#[actix_rt::test]
async fn a_tool_call_then_an_answer_writes_the_file_and_finishes() {
    let (url, seen) = openai_server(|body| {
        if has_tool_result(body) {
            text("wrote hello to notes.txt")
        } else {
            tool_call(
                "call_1",
                "fs__write",
                json!({"path": "notes.txt", "content": "hello"}),
            )
        }
    })
    .await;
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(&url, root.path())).await;
    let agent = ReactAgent::new("writer", "write hello to notes.txt")
        .priority(20)
        .model("test-model")
        .max_steps(4)
        .spawn(&k)
        .await
        .unwrap();
    let outcome = agent.ask(ReactMsg::Run).await.unwrap();
    assert_eq!(outcome.stopped, Stopped::Finished);
    assert_eq!(outcome.steps, 2);
    assert_eq!(outcome.answer, "wrote hello to notes.txt");
    assert_eq!(outcome.tool_calls.len(), 1);
    assert_eq!(outcome.tool_calls[0].name, "fs__write");
    assert_eq!(outcome.tool_calls[0].error, None);
    let file = root.path().join(agent.pid().to_string()).join("notes.txt");
    assert_eq!(std::fs::read_to_string(file).unwrap(), "hello");

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    // Tools from the registry, as the policy allows them.
    let names: Vec<&str> = seen[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(names.contains(&"fs__write"), "{names:?}");
    // The conversation comes from the pager: system prompt, task, the call and its result.
    let second = seen[1]["messages"].as_array().unwrap();
    assert_eq!(second[0]["role"], "system");
    assert!(
        second
            .iter()
            .any(|m| m["content"] == "write hello to notes.txt")
    );
    let result = second.iter().find(|m| m["role"] == "tool").unwrap();
    assert_eq!(result["tool_call_id"], "call_1");
    let pages = k.pager().pages(agent.pid()).await.unwrap();
    assert!(
        pages.len() >= 4,
        "system, task, call, result, answer: {pages:?}"
    );
    k.shutdown().await;
}

#[actix_rt::test]
async fn the_step_limit_stops_a_model_that_keeps_calling_tools() {
    let (url, seen) = openai_server(|_| tool_call("again", "fs__list", json!({}))).await;
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(&url, root.path())).await;
    let agent = ReactAgent::new("looper", "look around forever")
        .max_steps(3)
        .spawn(&k)
        .await
        .unwrap();
    let outcome = agent.ask(ReactMsg::Run).await.unwrap();
    assert_eq!(outcome.stopped, Stopped::StepLimit);
    assert_eq!(outcome.steps, 3);
    assert_eq!(outcome.tool_calls.len(), 3);
    assert_eq!(seen.lock().unwrap().len(), 3, "no LLM call past the limit");
    // A failing tool is an observation, not a crash.
    let next = agent
        .ask(ReactMsg::Task("call a tool that does not exist".into()))
        .await
        .unwrap();
    assert_eq!(next.stopped, Stopped::StepLimit);
    k.shutdown().await;
}

/// Tool results after the last user message (this run's observations so far).
fn tool_results_this_run(body: &Value) -> usize {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let start = messages
        .iter()
        .rposition(|m| m["role"] == "user")
        .map_or(0, |i| i + 1);
    messages[start..]
        .iter()
        .filter(|m| m["role"] == "tool")
        .count()
}

#[actix_rt::test]
async fn the_optimizer_raises_a_step_limit_that_cut_off_succeeding_runs() {
    use agent_os_kernel::optimizer::{AnalysisQuery, Change};
    // Each run needs 4 tool calls (that succeed), then the model answers: 5 LLM calls.
    let (url, _seen) = openai_server(|body| {
        if tool_results_this_run(body) < 4 {
            tool_call(
                "note",
                "fs__write",
                json!({"path": "notes.txt", "content": "seen"}),
            )
        } else {
            text("all looked at")
        }
    })
    .await;
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(&url, root.path())).await;
    let agent = ReactAgent::new("explorer", "look around")
        .max_steps(3)
        .spawn(&k)
        .await
        .unwrap();
    for task in ["look around", "look again"] {
        let cut = agent.ask(ReactMsg::Task(task.into())).await.unwrap();
        assert_eq!((cut.stopped, cut.steps), (Stopped::StepLimit, 3));
    }
    let analysis = k.optimizer().analyze(AnalysisQuery::new()).await.unwrap();
    let agent_type = std::any::type_name::<ReactAgent>();
    let change = analysis
        .suggestions
        .iter()
        .find_map(|s| {
            s.change
                .clone()
                .filter(|c| matches!(c, Change::StepLimit { .. }))
        })
        .unwrap_or_else(|| panic!("a step-limit suggestion: {analysis:#?}"));
    assert_eq!(
        change,
        Change::StepLimit {
            agent_type: agent_type.into(),
            max_steps: 6
        }
    );
    k.optimizer().apply(&change, "test").unwrap();
    let done = agent
        .ask(ReactMsg::Task("look once more".into()))
        .await
        .unwrap();
    assert_eq!((done.stopped, done.steps), (Stopped::Finished, 5));
    assert_eq!(done.answer, "all looked at");
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_failing_tool_is_reported_to_the_model_and_in_the_outcome() {
    let (url, _seen) = openai_server(|body| {
        if has_tool_result(body) {
            text("could not read it")
        } else {
            tool_call("c", "fs__read", json!({"path": "missing.txt"}))
        }
    })
    .await;
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(&url, root.path())).await;
    let agent = ReactAgent::new("reader", "read missing.txt")
        .spawn(&k)
        .await
        .unwrap();
    let outcome = agent.ask(ReactMsg::Run).await.unwrap();
    assert_eq!(outcome.stopped, Stopped::Finished);
    assert!(outcome.tool_calls[0].error.is_some(), "{outcome:?}");
    k.shutdown().await;
}

/// The seed's quick start: an agent with a name, a task and a priority; run; status printed.
/// The lines between the markers are what a user writes (the kernel here is the test's).
#[actix_rt::test]
async fn the_quick_start_fits_in_ten_lines() {
    let (url, _seen) = openai_server(|_| text("nothing to do")).await;
    let root = tempfile::tempdir().unwrap();
    let (kernel, _db) = kernel_with(config(&url, root.path())).await;
    // -- user code --
    let agent = ReactAgent::new("researcher", "say hello")
        .priority(10)
        .spawn(&kernel)
        .await
        .unwrap();
    let outcome = agent.ask(ReactMsg::Run).await.unwrap();
    let status = kernel.status(agent.pid()).unwrap();
    println!(
        "{} {:?} after {} steps: {}",
        status.name, status.state, outcome.steps, outcome.answer
    );
    // -- end --
    assert_eq!(status.name, "researcher");
    assert_eq!(status.priority, 10);
    assert_ne!(status.state, AgentState::Terminated);
    assert_eq!(outcome.answer, "nothing to do");
    kernel.shutdown().await;
}

/// The tools offered are the registry's as the agent's policy allows them.
#[actix_rt::test]
async fn the_tools_offered_follow_the_policy() {
    use agent_os_kernel::SecurityPolicy;
    use agent_os_kernel::security::policy::AllowBlock;

    let (url, seen) = openai_server(|_| text("done")).await;
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(&url, root.path())).await;
    let react = ReactAgent::new("careful", "read only").max_steps(2);
    let policy = SecurityPolicy {
        tools: AllowBlock::all().blocking(["fs.write"]),
        ..SecurityPolicy::default()
    };
    let agent = k
        .spawn(react.factory(), react.options().policy(policy))
        .await
        .unwrap();
    assert_eq!(
        agent.ask(ReactMsg::Run).await.unwrap().stopped,
        Stopped::Finished
    );
    let body = seen.lock().unwrap()[0].clone();
    let names: Vec<&str> = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(names.contains(&"fs__read"), "{names:?}");
    assert!(!names.contains(&"fs__write"), "{names:?}");
    k.shutdown().await;
}
