//! Durability through the public API, on SQLite and PostgreSQL (`AOK_TEST_BACKEND`):
//! crash-restart from the last checkpoint under the same pid, restore and fork, a corrupted
//! checkpoint refused, retention that frees storage, the journal answering a replayed step
//! (the in-test provider counts no extra call), resume after a kernel restart with durable
//! messages redelivered, and each runaway limit.

mod common;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{BackendConfig, BackendKind, ChatRequest, Message};
use agent_os_kernel::storage::Storage;
use agent_os_kernel::{KernelConfig, KernelEvent, WriteMode};
use axum::routing::post;
use sea_orm::{ConnectionTrait, Statement};
use serde::{Deserialize, Serialize};
use support::eventually;

/// Jobs it has done (in order), a running total, one page per job.
#[derive(Default, Serialize, Deserialize)]
struct Ledger {
    done: Vec<u64>,
    total: u64,
    #[serde(skip)]
    hooks: Hooks,
}

/// Test hooks shared with the factory (not part of the state).
#[derive(Default, Clone)]
struct Hooks {
    /// Panic once, after the LLM and the side effect, on this job.
    crash_on: Arc<std::sync::Mutex<Option<u64>>>,
    effects: Arc<AtomicUsize>,
    llm: Arc<AtomicBool>,
}

#[derive(Serialize, Deserialize)]
enum Job {
    Do(u64),
    Get,
    Loop,
    Fail,
    Poison,
}

impl Agent for Ledger {
    type Msg = Job;
    type Reply = Vec<u64>;

    async fn handle(&mut self, msg: Job, ctx: &mut AgentContext) -> Result<Vec<u64>, AgentError> {
        match msg {
            Job::Do(n) => {
                if self.done.contains(&n) {
                    return Ok(self.done.clone());
                }
                ctx.add_message(&Message::user(format!("job {n} for the ledger")))
                    .await?;
                if self.hooks.llm.load(Ordering::SeqCst) {
                    let answer = ctx
                        .llm(ChatRequest::new(
                            "test-model",
                            vec![Message::user(format!("job {n}"))],
                        ))
                        .await?;
                    assert_eq!(answer.content, "done");
                }
                let effects = self.hooks.effects.clone();
                let key: String = ctx
                    .journaled("effect", |key| async move {
                        effects.fetch_add(1, Ordering::SeqCst);
                        Ok(key)
                    })
                    .await?;
                assert!(key.contains(&ctx.pid().to_string()));
                let crash = {
                    let mut c = self.hooks.crash_on.lock().unwrap();
                    if *c == Some(n) {
                        *c = None;
                        true
                    } else {
                        false
                    }
                };
                if crash {
                    panic!("crash on job {n}");
                }
                self.done.push(n);
                self.total += n;
                Ok(self.done.clone())
            }
            Job::Get => Ok(self.done.clone()),
            Job::Poison => panic!("poison"),
            Job::Loop => {
                self.total += 1;
                ctx.myself::<Ledger>()?.tell(Job::Loop).await?;
                Ok(Vec::new())
            }
            Job::Fail => loop {
                let r = ctx
                    .llm(ChatRequest::new("test-model", vec![Message::user("fail")]))
                    .await;
                if let Err(LlmError::Runaway(limit)) = r {
                    return Err(AgentError::Failed(limit.to_string()));
                }
            },
        }
    }

    fn snapshot(&self) -> Result<Option<serde_json::Value>, AgentError> {
        AgentContext::to_state(self).map(Some)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), AgentError> {
        let hooks = std::mem::take(&mut self.hooks);
        *self = serde_json::from_value(state).map_err(AgentError::other)?;
        self.hooks = hooks;
        Ok(())
    }
}

/// An OpenAI-compatible server that answers "done" (or 400 to "fail") and counts requests.
async fn server() -> (String, Arc<AtomicUsize>) {
    let served = Arc::new(AtomicUsize::new(0));
    let s = served.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |body: String| {
            let s = s.clone();
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                if body.contains("\"fail\"") {
                    return (
                        axum::http::StatusCode::BAD_REQUEST,
                        [("content-type", "application/json")],
                        r#"{"error":{"message":"bad request","type":"invalid_request_error"}}"#.to_string(),
                    );
                }
                let reply = serde_json::json!({
                    "id": "x", "object": "chat.completion", "created": 0, "model": "test-model",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "done"}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}
                });
                (axum::http::StatusCode::OK, [("content-type", "application/json")], reply.to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), served)
}

fn config(url: Option<String>) -> KernelConfig {
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = 2;
    cfg.supervisor.backoff_min_ms = 1;
    cfg.supervisor.backoff_max_ms = 5;
    if let Some(url) = url {
        let mut backend = BackendConfig::new(BackendKind::OpenaiCompatible);
        backend.base_url = Some(url);
        backend.models = vec!["test-model".into()];
        cfg.providers.backends.insert("local".into(), backend);
    }
    cfg
}

async fn kernel_on(storage: &Storage, cfg: KernelConfig, hooks: &Hooks) -> Kernel {
    let hooks = hooks.clone();
    Kernel::builder()
        .config(cfg)
        .storage(storage.clone())
        .agent_type("ledger", move || Ledger {
            hooks: hooks.clone(),
            ..Ledger::default()
        })
        .build()
        .await
        .expect("kernel builds")
}

async fn count(storage: &Storage, sql: &str) -> i64 {
    let row = storage
        .connection()
        .query_one_raw(Statement::from_string(
            storage.connection().get_database_backend(),
            sql.to_string(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

const LONG: Duration = Duration::from_secs(20);

/// Asks until the ledger's done list is `want` (or 20 s pass).
async fn reaches(ledger: &AgentRef<Ledger>, want: &[u64]) -> bool {
    let deadline = tokio::time::Instant::now() + LONG;
    while tokio::time::Instant::now() < deadline {
        if ledger.ask(Job::Get).await.is_ok_and(|d| d == want) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[actix_rt::test]
async fn a_panic_restarts_from_the_last_checkpoint_with_the_same_pid_and_state() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let mut events = k.events();
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("ledger"))
        .await
        .unwrap();
    let pid = ledger.pid();
    assert_eq!(ledger.ask(Job::Do(1)).await.unwrap(), vec![1]);
    assert_eq!(ledger.ask(Job::Do(2)).await.unwrap(), vec![1, 2]);
    *hooks.crash_on.lock().unwrap() = Some(3);
    // The asker sees the crash; the durable message is redelivered to the restarted agent.
    assert!(matches!(
        ledger.ask(Job::Do(3)).await,
        Err(IpcError::Crashed { .. })
    ));
    assert!(
        eventually(LONG, || matches!(events.try_recv(), Ok(KernelEvent::Restored { pid: p, redelivered: 1, .. }) if p == pid)).await,
        "restored from its checkpoint with the crashed message redelivered"
    );
    assert_eq!(ledger.ask(Job::Get).await.unwrap(), vec![1, 2, 3]);
    assert_eq!(ledger.pid(), pid, "same pid");
    // One page per job: the page the crashed step added was rolled back with it.
    let pages = k.pager().pages(pid).await.unwrap();
    assert_eq!(pages.len(), 3, "{pages:?}");
    // The side effect of job 3 ran once: the replayed step was answered from the journal.
    assert_eq!(hooks.effects.load(Ordering::SeqCst), 3);
    let cps = k.checkpoints(pid).await.unwrap();
    assert!(cps.len() >= 4, "one per step: {cps:?}");
    assert_eq!(cps.last().unwrap().step, cps.len() as u64);
    k.shutdown().await;
}

#[actix_rt::test]
async fn the_journal_answers_a_replayed_step_without_calling_the_model_again() {
    let (url, served) = server().await;
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    hooks.llm.store(true, Ordering::SeqCst);
    let k = kernel_on(&storage, config(Some(url)), &hooks).await;
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("ledger"))
        .await
        .unwrap();
    ledger.ask(Job::Do(1)).await.unwrap();
    assert_eq!(served.load(Ordering::SeqCst), 1);
    *hooks.crash_on.lock().unwrap() = Some(2);
    let _ = ledger.ask(Job::Do(2)).await;
    assert_eq!(served.load(Ordering::SeqCst), 2);
    assert!(eventually(LONG, || hooks.crash_on.lock().unwrap().is_none()).await);
    assert!(reaches(&ledger, &[1, 2]).await);
    assert_eq!(
        served.load(Ordering::SeqCst),
        2,
        "0 extra calls: the replay was answered from the journal"
    );
    assert_eq!(
        hooks.effects.load(Ordering::SeqCst),
        2,
        "the side effect ran once per job"
    );
    let usage = k.providers().ledger.agent_totals(ledger.pid());
    assert_eq!(usage.calls, 2, "billed once per job");
    let carried = k.agent_usage(ledger.pid()).unwrap();
    assert_eq!(
        carried.calls, 2,
        "the checkpointed usage counts each call once: {carried:?}"
    );
    assert_eq!(carried.input_tokens, 20);
    k.shutdown().await;
}

#[actix_rt::test]
async fn restore_and_fork_a_checkpoint() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let ledger = k
        .spawn_durable::<Ledger>(
            "ledger",
            SpawnOptions::new("ledger").checkpoint(CheckpointPolicy::Manual),
        )
        .await
        .unwrap();
    ledger.ask(Job::Do(1)).await.unwrap();
    ledger.ask(Job::Do(2)).await.unwrap();
    let cp = k.checkpoint(ledger.pid()).await.unwrap();
    assert_eq!(cp.step, 2);
    assert_eq!(cp.kind, "full");
    ledger.ask(Job::Do(3)).await.unwrap();
    assert_eq!(k.pager().pages(ledger.pid()).await.unwrap().len(), 3);

    // Restore in place: the state and the pages go back to step 2.
    assert_eq!(k.restore_checkpoint(&cp.id).await.unwrap(), ledger.pid());
    assert_eq!(ledger.ask(Job::Get).await.unwrap(), vec![1, 2]);
    assert_eq!(k.pager().pages(ledger.pid()).await.unwrap().len(), 2);

    // Fork: a new agent from the same checkpoint; the original is unaffected.
    ledger.ask(Job::Do(4)).await.unwrap();
    let fork = k.fork_checkpoint(&cp.id, Some("fork")).await.unwrap();
    assert_ne!(fork, ledger.pid());
    let fork_ref = k.agent_ref::<Ledger>(fork).unwrap();
    assert_eq!(fork_ref.ask(Job::Get).await.unwrap(), vec![1, 2]);
    assert_eq!(k.pager().pages(fork).await.unwrap().len(), 2);
    assert_eq!(ledger.ask(Job::Get).await.unwrap(), vec![1, 2, 4]);

    // Restore into a stopped agent: it comes back under its pid.
    let pid = ledger.pid();
    k.stop(pid).await.unwrap();
    assert_eq!(k.restore_checkpoint(&cp.id).await.unwrap(), pid);
    let back = k.agent_ref::<Ledger>(pid).unwrap();
    assert_eq!(back.ask(Job::Get).await.unwrap(), vec![1, 2]);
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_corrupted_checkpoint_is_refused_with_a_clear_error() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("ledger"))
        .await
        .unwrap();
    ledger.ask(Job::Do(7)).await.unwrap();
    let cp = k.checkpoints(ledger.pid()).await.unwrap().pop().unwrap();
    let sql = format!(
        "UPDATE checkpoints SET checksum = '{}' WHERE id = '{}'",
        "0".repeat(64),
        cp.id
    );
    storage
        .connection()
        .execute_raw(Statement::from_string(
            storage.connection().get_database_backend(),
            sql,
        ))
        .await
        .unwrap();
    let err = k.restore_checkpoint(&cp.id).await.unwrap_err();
    assert!(
        matches!(&err, CheckpointError::Corrupt { id, .. } if *id == cp.id),
        "{err}"
    );
    assert!(err.to_string().contains("corrupt"), "{err}");
    // Nothing was restored: the agent still has its state.
    assert_eq!(ledger.ask(Job::Get).await.unwrap(), vec![7]);
    k.shutdown().await;
}

#[actix_rt::test]
async fn retention_deletes_old_checkpoints_and_frees_their_blobs() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let mut cfg = config(None);
    cfg.durability.keep_last = 2;
    cfg.durability.full_every = 3;
    let k = kernel_on(&storage, cfg, &hooks).await;
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("ledger"))
        .await
        .unwrap();
    for n in 0..12 {
        ledger.ask(Job::Do(n)).await.unwrap();
    }
    // Free every page but the last: their blobs are now held only by old checkpoints.
    let pages = k.pager().pages(ledger.pid()).await.unwrap();
    for p in &pages[..pages.len() - 1] {
        k.pager().free(ledger.pid(), p.id).await.unwrap();
    }
    let freed: Vec<String> = pages[..pages.len() - 1]
        .iter()
        .map(|p| format!("'{}'", p.hash))
        .collect();
    let held = format!(
        "SELECT COUNT(*) AS n FROM page_blobs WHERE hash IN ({})",
        freed.join(", ")
    );
    assert_eq!(
        count(&storage, &held).await,
        11,
        "kept while checkpoints hold them"
    );
    // Later checkpoints no longer hold them; the old ones go by retention.
    for n in 100..106 {
        ledger.ask(Job::Do(n)).await.unwrap();
    }
    // Retention also runs on its own after full checkpoints; this pass finishes the job.
    let report = k.collect_garbage(ledger.pid()).await.unwrap();
    let left = k.checkpoints(ledger.pid()).await.unwrap();
    // The last 2, and the chain back to the full base the older of them needs.
    let base = left
        .iter()
        .rposition(|c| c.kind == "full" && c.sequence <= left[left.len() - 2].sequence);
    let base = base.expect("a full base under the kept deltas");
    assert_eq!(
        left.len(),
        left.len() - base,
        "nothing older than that base is kept: {left:?}"
    );
    assert!(left.len() < 18, "old checkpoints were deleted: {left:?}");
    assert_eq!(left.last().unwrap().step, 18);
    assert_eq!(count(&storage, &held).await, 0, "freed: {report:?}");
    // What is left still restores.
    let newest = left.last().unwrap().id.clone();
    k.restore_checkpoint(&newest).await.unwrap();
    assert_eq!(ledger.ask(Job::Get).await.unwrap().len(), 18);
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_kernel_restart_resumes_durable_agents_and_redelivers_their_messages() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("ledger"))
        .await
        .unwrap();
    let pid = ledger.pid();
    ledger.ask(Job::Do(1)).await.unwrap();
    // A message persisted but not handled yet (the agent is mid-way through a slow one).
    k.shutdown().await;

    let k2 = kernel_on(&storage, config(None), &hooks).await;
    let back = k2.agent_ref::<Ledger>(pid).expect("resumed under its pid");
    assert_eq!(back.ask(Job::Get).await.unwrap(), vec![1]);
    back.tell(Job::Do(2)).await.unwrap();
    // Persisted before tell returned: drop the kernel without letting it handle anything
    // more than it may have, then resume again.
    k2.shutdown().await;
    let k3 = kernel_on(&storage, config(None), &hooks).await;
    let again = k3.agent_ref::<Ledger>(pid).unwrap();
    assert!(reaches(&again, &[1, 2]).await);
    // Stopped for good: not resumed by the next start.
    k3.stop(pid).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    k3.shutdown().await;
    let k4 = kernel_on(&storage, config(None), &hooks).await;
    assert!(k4.agent_ref::<Ledger>(pid).is_err());
    k4.shutdown().await;
}

#[actix_rt::test]
async fn runaway_steps_end_the_task_and_a_restart_does_not_reenter_it() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let mut events = k.events();
    let limits = RunawayLimits {
        max_steps_per_task: 5,
        ..RunawayLimits::unlimited()
    };
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("looper").limits(limits))
        .await
        .unwrap();
    let pid = ledger.pid();
    ledger.tell(Job::Loop).await.unwrap();
    assert!(
        eventually(LONG, || matches!(events.try_recv(), Ok(KernelEvent::RunawayStopped { pid: p, limit: RunawayLimit::Steps { limit: 5 } }) if p == pid)).await
    );
    let steps = k.checkpoints(pid).await.unwrap().last().unwrap().step;
    k.shutdown().await;
    let k2 = kernel_on(&storage, config(None), &hooks).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = k2.checkpoints(pid).await.unwrap().last().unwrap().step;
    assert!(
        after <= steps + 1,
        "the loop was not re-entered: {steps} → {after}"
    );
    k2.shutdown().await;
}

#[actix_rt::test]
async fn consecutive_llm_failures_and_wall_time_end_the_task() {
    let (url, served) = server().await;
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(Some(url)), &hooks).await;
    let limits = RunawayLimits {
        max_consecutive_llm_failures: 3,
        ..RunawayLimits::unlimited()
    };
    let failing = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("failing").limits(limits))
        .await
        .unwrap();
    let err = failing.ask(Job::Fail).await.unwrap_err();
    assert!(
        err.to_string().contains("3 LLM calls failed in a row"),
        "{err}"
    );
    assert_eq!(served.load(Ordering::SeqCst), 3, "no call after the limit");

    let limits = RunawayLimits {
        max_task_wall_ms: 100,
        ..RunawayLimits::unlimited()
    };
    let mut events = k.events();
    let slow = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("slow").limits(limits))
        .await
        .unwrap();
    slow.tell(Job::Loop).await.unwrap();
    assert!(
        eventually(LONG, || matches!(
            events.try_recv(),
            Ok(KernelEvent::RunawayStopped {
                limit: RunawayLimit::WallTime { limit_ms: 100 },
                ..
            })
        ))
        .await
    );
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_producer_delivery_id_is_handled_once() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("ledger"))
        .await
        .unwrap();
    let pid = ledger.pid();
    let body = serde_json::json!({"Do": 5});
    assert!(
        k.send_json_once(pid, "order-5", body.clone())
            .await
            .unwrap()
    );
    assert!(
        !k.send_json_once(pid, "order-5", body).await.unwrap(),
        "a duplicate"
    );
    assert!(ledger.tell_once("order-6", Job::Do(6)).await.unwrap());
    assert!(!ledger.tell_once("order-6", Job::Do(6)).await.unwrap());
    assert!(reaches(&ledger, &[5, 6]).await);
    // Still a duplicate once handled and acknowledged.
    assert!(!ledger.tell_once("order-6", Job::Do(6)).await.unwrap());
    // A path that cannot wait for the write is refused, not silently non-durable.
    assert!(matches!(
        ledger.try_tell(Job::Get),
        Err(IpcError::Durable { .. })
    ));
    // An agent without a durable mailbox has no delivery ids.
    let plain = k
        .spawn(Ledger::default, SpawnOptions::new("plain"))
        .json()
        .await
        .unwrap();
    let err = k
        .send_json_once(plain.pid(), "x", serde_json::json!("Get"))
        .await
        .unwrap_err();
    assert!(matches!(err, IpcError::Durable { .. }), "{err}");
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_message_that_always_crashes_is_set_aside_and_the_agent_goes_on() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let mut events = k.events();
    let ledger = k
        .spawn_durable::<Ledger>("ledger", SpawnOptions::new("ledger"))
        .await
        .unwrap();
    let pid = ledger.pid();
    ledger.ask(Job::Do(1)).await.unwrap();
    ledger.tell(Job::Poison).await.unwrap();
    ledger.tell(Job::Do(2)).await.unwrap();
    assert!(
        eventually(
            LONG,
            || matches!(events.try_recv(), Ok(KernelEvent::DeadLetter { pid: p, .. }) if p == pid)
        )
        .await,
        "dead-lettered after max_deliveries crashed steps"
    );
    assert!(
        reaches(&ledger, &[1, 2]).await,
        "the agent went on with the next message"
    );
    k.shutdown().await;
}

#[actix_rt::test]
async fn write_behind_checkpoints_land_in_order_and_restart_from_them() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let mut events = k.events();
    let ledger = k
        .spawn_durable::<Ledger>(
            "ledger",
            SpawnOptions::new("behind").write_mode(WriteMode::Behind),
        )
        .await
        .unwrap();
    let pid = ledger.pid();
    for n in 1..=5 {
        ledger.ask(Job::Do(n)).await.unwrap();
    }
    k.flush_checkpoints().await;
    let cps = k.checkpoints(pid).await.unwrap();
    assert_eq!(cps.len(), 5, "one per step, all committed after a flush");
    for pair in cps.windows(2) {
        assert_eq!(
            pair[1].parent.as_deref(),
            Some(pair[0].id.as_str()),
            "in order"
        );
    }
    *hooks.crash_on.lock().unwrap() = Some(6);
    let _ = ledger.ask(Job::Do(6)).await;
    assert!(
        eventually(
            LONG,
            || matches!(events.try_recv(), Ok(KernelEvent::Restored { pid: p, .. }) if p == pid)
        )
        .await
    );
    assert!(reaches(&ledger, &[1, 2, 3, 4, 5, 6]).await);
    k.shutdown().await;
}

#[actix_rt::test]
async fn every_n_steps_and_interval_policies_checkpoint_as_configured() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let hooks = Hooks::default();
    let k = kernel_on(&storage, config(None), &hooks).await;
    let every3 = k
        .spawn_durable::<Ledger>(
            "ledger",
            SpawnOptions::new("every3").checkpoint(CheckpointPolicy::EverySteps(3)),
        )
        .await
        .unwrap();
    for n in 1..=7 {
        every3.ask(Job::Do(n)).await.unwrap();
    }
    let steps: Vec<u64> = k
        .checkpoints(every3.pid())
        .await
        .unwrap()
        .iter()
        .map(|c| c.step)
        .collect();
    assert_eq!(steps, vec![3, 6]);

    let timed = k
        .spawn_durable::<Ledger>(
            "ledger",
            SpawnOptions::new("timed").checkpoint(CheckpointPolicy::IntervalMs(150)),
        )
        .await
        .unwrap();
    for n in 1..=3 {
        timed.ask(Job::Do(n)).await.unwrap();
    }
    let early = k.checkpoints(timed.pid()).await.unwrap().len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    timed.ask(Job::Do(4)).await.unwrap();
    let later = k.checkpoints(timed.pid()).await.unwrap();
    assert!(early <= 1, "not every step: {early}");
    assert_eq!(
        later.last().unwrap().step,
        4,
        "the first step after the interval"
    );

    // An invalid policy is refused at spawn, naming the problem.
    let err = k
        .spawn_durable::<Ledger>(
            "ledger",
            SpawnOptions::new("bad").checkpoint(CheckpointPolicy::EverySteps(0)),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("every_steps"), "{err}");
    k.shutdown().await;
}
