//! Trajectories: the kernel records agents' steps with no code in the agent — the message
//! that started a step, its LLM calls (backend, tokens, latency), its tool calls (argument
//! digest, outcome, error), how it ended — and answers queries by agent type, task and pid.

mod common;
mod support;

use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{BackendConfig, BackendKind, ChatRequest, Message};
use agent_os_kernel::trajectory::{RecordMode, StepOutcome, TrajectoryQuery};
use agent_os_kernel::{KernelConfig, Pid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use support::*;

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Job {
    /// One LLM call and one tool call.
    Work,
    /// A tool call with bad arguments, then an error from the handler.
    Fail,
    /// Nothing but a reply.
    Idle,
    /// Work, then a follow-up to itself (the same task).
    Chain,
    /// A panic.
    Panic,
}

#[derive(Default)]
struct Worker;

impl Agent for Worker {
    type Msg = Job;
    type Reply = ();
    async fn handle(&mut self, job: Job, ctx: &mut AgentContext) -> Result<(), AgentError> {
        match job {
            Job::Work => {
                ctx.llm(ChatRequest::new(
                    "test-model",
                    vec![Message::user("plan the work")],
                ))
                .await?;
                ctx.tool("fs.write", json!({"path": "out.txt", "content": "done"}))
                    .await
                    .map_err(|e| AgentError::failed(e.to_string()))?;
            }
            Job::Fail => {
                let _ = ctx.tool("fs.write", json!({"content": "no path"})).await;
                return Err(AgentError::failed("the job could not be done"));
            }
            Job::Idle => {}
            Job::Chain => {
                ctx.llm(ChatRequest::new(
                    "test-model",
                    vec![Message::user("first part")],
                ))
                .await?;
                ctx.myself::<Worker>()?.tell(Job::Work).await?;
            }
            Job::Panic => panic!("the worker fell over"),
        }
        Ok(())
    }
}

fn config(record: RecordMode, root: &std::path::Path) -> KernelConfig {
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = 2;
    cfg.tools.workspace_root = root.display().to_string();
    cfg.trajectories.record = record;
    cfg.providers
        .backends
        .insert("scripted".into(), BackendConfig::new(BackendKind::Scripted));
    cfg
}

async fn steps_of(
    k: &Kernel,
    pid: Pid,
    n: usize,
) -> Vec<agent_os_kernel::trajectory::TrajectoryStep> {
    for _ in 0..200 {
        k.trajectories().flush().await;
        let steps = k
            .trajectories()
            .query(TrajectoryQuery::new().pid(pid))
            .await
            .unwrap();
        if steps.len() >= n {
            return steps;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("fewer than {n} steps recorded for {pid}");
}

#[actix_rt::test]
async fn steps_with_calls_and_failures_are_recorded_with_what_they_did() {
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(RecordMode::Calls, root.path())).await;
    let w = k
        .spawn(Worker::default, SpawnOptions::new("w"))
        .await
        .unwrap();
    w.ask(Job::Work).await.unwrap();
    w.ask(Job::Idle).await.unwrap(); // no call: not kept in `calls` mode
    w.ask(Job::Fail).await.unwrap_err();
    let crashed = w.ask(Job::Panic).await.unwrap_err();
    assert!(crashed.to_string().contains("fell over"), "{crashed}");

    let steps = steps_of(&k, w.pid(), 3).await;
    assert_eq!(steps.len(), 3, "{steps:#?}");
    let (work, fail, panic) = (&steps[0], &steps[1], &steps[2]);

    assert_eq!(work.outcome, StepOutcome::Ok);
    assert_eq!(work.agent_name, "w");
    assert!(work.agent_type.ends_with("Worker"), "{}", work.agent_type);
    assert_eq!(work.step, 1);
    assert_eq!(work.sender, None, "sent from outside any agent");
    assert_eq!(work.llm_calls.len(), 1);
    let call = &work.llm_calls[0];
    assert_eq!(call.backend, "scripted");
    assert_eq!(call.model, "test-model");
    assert!(
        call.prompt_tokens > 0 && call.completion_tokens > 0,
        "{call:?}"
    );
    assert_eq!(work.tool_calls.len(), 1);
    assert_eq!(work.tool_calls[0].tool, "fs.write");
    assert!(work.tool_calls[0].ok);
    assert_eq!(work.tool_calls[0].args_digest.len(), 64);

    assert_eq!(fail.step, 3, "the idle step 2 was not kept");
    assert_eq!(fail.outcome, StepOutcome::Error);
    assert!(fail.error.as_deref().unwrap().contains("could not be done"));
    assert!(!fail.tool_calls[0].ok);
    assert!(
        fail.tool_calls[0]
            .error
            .as_deref()
            .unwrap()
            .contains("path"),
        "{:?}",
        fail.tool_calls[0]
    );

    assert_eq!(panic.outcome, StepOutcome::Crashed);
    assert!(panic.error.as_deref().unwrap().contains("fell over"));

    // By agent type.
    let by_type = k
        .trajectories()
        .query(TrajectoryQuery::new().agent_type(work.agent_type.clone()))
        .await
        .unwrap();
    assert_eq!(by_type.len(), 3);
    let stats = k.trajectories().stats();
    assert_eq!((stats.recorded, stats.dropped), (3, 0));
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_task_spans_the_agents_messages_to_itself_and_all_mode_keeps_every_step() {
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(RecordMode::All, root.path())).await;
    let w = k
        .spawn(Worker::default, SpawnOptions::new("chain"))
        .await
        .unwrap();
    w.ask(Job::Idle).await.unwrap();
    w.ask(Job::Chain).await.unwrap();
    let steps = steps_of(&k, w.pid(), 3).await;
    assert_eq!(steps.len(), 3, "{steps:#?}");
    assert!(steps[0].llm_calls.is_empty(), "kept in `all` mode");
    assert_ne!(
        steps[0].task, steps[1].task,
        "a message from outside starts a task"
    );
    assert_eq!(
        steps[1].task, steps[2].task,
        "its message to itself continues it"
    );
    assert_eq!(steps[2].sender, Some(w.pid()));
    let task = k
        .trajectories()
        .query(TrajectoryQuery::new().task(steps[1].task.clone()))
        .await
        .unwrap();
    assert_eq!(task.iter().map(|s| s.step).collect::<Vec<_>>(), [2, 3]);
    k.shutdown().await;
}

#[actix_rt::test]
async fn registered_types_are_named_and_off_records_nothing() {
    let root = tempfile::tempdir().unwrap();
    let (storage, _db) = common::test_storage(common::backend_from_env()).await;
    let k = Kernel::builder()
        .config(config(RecordMode::Calls, root.path()))
        .storage(storage)
        .agent_type("worker", Worker::default)
        .build()
        .await
        .unwrap();
    let pid = k
        .spawn_registered("worker", SpawnOptions::new("typed"))
        .await
        .unwrap();
    k.ask_json(pid, json!("Work"), std::time::Duration::from_secs(10))
        .await
        .unwrap();
    let steps = steps_of(&k, pid, 1).await;
    assert_eq!(steps[0].agent_type, "worker");
    let typed = k
        .trajectories()
        .query(TrajectoryQuery::new().agent_type("worker"))
        .await
        .unwrap();
    assert_eq!(typed.len(), 1);
    k.shutdown().await;

    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(RecordMode::Off, root.path())).await;
    let w = k
        .spawn(Worker::default, SpawnOptions::new("quiet"))
        .await
        .unwrap();
    w.ask(Job::Work).await.unwrap();
    k.trajectories().flush().await;
    let none = k
        .trajectories()
        .query(TrajectoryQuery::new().pid(w.pid()))
        .await
        .unwrap();
    assert!(none.is_empty());
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_limited_query_keeps_the_oldest_or_with_newest_the_newest_steps() {
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(RecordMode::Calls, root.path())).await;
    let w = k
        .spawn(Worker::default, SpawnOptions::new("w"))
        .await
        .unwrap();
    for _ in 0..3 {
        w.ask(Job::Work).await.unwrap();
    }
    steps_of(&k, w.pid(), 3).await;
    let numbers = |steps: Vec<agent_os_kernel::trajectory::TrajectoryStep>| {
        steps.iter().map(|s| s.step).collect::<Vec<_>>()
    };
    let q = TrajectoryQuery::new().pid(w.pid()).limit(2);
    let oldest = k.trajectories().query(q.clone()).await.unwrap();
    assert_eq!(numbers(oldest), [1, 2]);
    let newest = k.trajectories().query(q.newest()).await.unwrap();
    assert_eq!(numbers(newest), [2, 3], "the newest two, oldest first");
    k.shutdown().await;
}
