//! The optimizer learns from recorded trajectories and changes what the runtime uses: a model
//! group routed to the backend that was faster and as successful (the learning test: the next
//! runs' p50 and failures improve), a step limit raised for a type whose runs were cut off
//! while succeeding, a priority lowered for a type that overruns its quota. Every applied
//! change is audited; a change naming what does not exist is refused and changes nothing.

mod common;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use agent_os_kernel::optimizer::{AnalysisQuery, Change, Evidence, OptimizerError};
use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{BackendConfig, BackendKind, ChatRequest, Message, RouteTarget};
use agent_os_kernel::scheduler::Quota;
use agent_os_kernel::trajectory::{StepOutcome, TrajectoryQuery, TrajectoryStep};
use agent_os_kernel::{AuditQuery, KernelConfig};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use support::*;

/// An OpenAI-compatible server that answers after `delay`; every `fail_every`-th request
/// (counting from 1) gets a 500 instead (0: never).
async fn backend_server(delay: Duration, fail_every: usize) -> String {
    let hits = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().fallback(move || {
        let hits = hits.clone();
        async move {
            tokio::time::sleep(delay).await;
            let n = hits.fetch_add(1, Ordering::SeqCst) + 1;
            if fail_every > 0 && n.is_multiple_of(fail_every) {
                return (StatusCode::INTERNAL_SERVER_ERROR, "overloaded").into_response();
            }
            let body = serde_json::json!({"model": "m", "choices": [{"index": 0,
                "message": {"role": "assistant", "content": "done"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 3}});
            (StatusCode::OK, body.to_string()).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1")
}

fn backend_at(url: &str) -> BackendConfig {
    let mut b = BackendConfig::new(BackendKind::OpenaiCompatible);
    b.base_url = Some(url.to_owned());
    // A failed attempt falls back to the next backend at once (no retry on the same one).
    b.retry.max_attempts = 1;
    b
}

/// Two arbiters, no detection, and one backend `local` serving model `m` from an in-test
/// server that answers at once.
async fn config_serving_m() -> KernelConfig {
    let url = backend_server(Duration::from_millis(1), 0).await;
    let mut cfg = bare_config();
    let mut b = backend_at(&url);
    b.models = vec!["m".into()];
    cfg.providers.backends.insert("local".into(), b);
    cfg
}

/// Two arbiters and no backend detection from the environment.
fn bare_config() -> KernelConfig {
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = 2;
    cfg.providers.detect = false;
    cfg
}

fn target(backend: &str) -> RouteTarget {
    RouteTarget {
        backend: backend.into(),
        model: None,
        context_window: None,
    }
}

/// One task: `calls` LLM calls to `model`, then (`follow_ups` > 0) a message to itself that
/// continues the task.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Task {
    model: String,
    calls: u32,
    follow_ups: u32,
}

#[derive(Default)]
struct Caller;

impl Agent for Caller {
    type Msg = Task;
    type Reply = ();
    async fn handle(&mut self, task: Task, ctx: &mut AgentContext) -> Result<(), AgentError> {
        for _ in 0..task.calls {
            ctx.llm(ChatRequest::new(
                task.model.clone(),
                vec![Message::user("next")],
            ))
            .await?;
        }
        if task.follow_ups > 0 {
            let next = Task {
                follow_ups: task.follow_ups - 1,
                ..task
            };
            ctx.myself::<Caller>()?.tell(next).await?;
        }
        Ok(())
    }
}

/// Runs `tasks` tasks of `calls` calls spread over `agents`, and waits for them.
async fn run_tasks(agents: &[AgentRef<Caller>], tasks: usize, calls: u32, model: &str) {
    let mut waits = Vec::new();
    for i in 0..tasks {
        let a = agents[i % agents.len()].clone();
        let task = Task {
            model: model.into(),
            calls,
            follow_ups: 0,
        };
        waits.push(async move { a.ask(task).await });
    }
    for r in futures::future::join_all(waits).await {
        r.expect("the task ran");
    }
}

async fn steps_since(k: &Kernel, from: chrono::DateTime<chrono::Utc>) -> Vec<TrajectoryStep> {
    k.trajectories().flush().await;
    k.trajectories()
        .query(TrajectoryQuery::new().from(from).limit(100_000))
        .await
        .unwrap()
}

/// The steps recorded since `from` once `done` holds for them (or after 10 s).
async fn recorded_until(
    k: &Kernel,
    from: chrono::DateTime<chrono::Utc>,
    done: impl Fn(&[TrajectoryStep]) -> bool,
) -> Vec<TrajectoryStep> {
    let mut steps = Vec::new();
    for _ in 0..500 {
        steps = steps_since(k, from).await;
        if done(&steps) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    steps
}

/// (p50 call latency in ms, failed attempts) of the steps' LLM calls.
fn measured(steps: &[TrajectoryStep]) -> (u64, usize) {
    let mut lat: Vec<u64> = steps
        .iter()
        .flat_map(|s| s.llm_calls.iter().map(|c| c.latency_ms))
        .collect();
    lat.sort_unstable();
    let failed = steps
        .iter()
        .flat_map(|s| s.llm_calls.iter().flat_map(|c| c.attempts.iter()))
        .filter(|a| !a.ok)
        .count();
    (lat[lat.len() / 2], failed)
}

#[actix_rt::test]
async fn an_applied_route_suggestion_shifts_traffic_and_the_next_runs_improve() {
    let slow = backend_server(Duration::from_millis(120), 3).await;
    let fast = backend_server(Duration::from_millis(10), 0).await;
    let mut cfg = bare_config();
    cfg.providers
        .backends
        .insert("slow".into(), backend_at(&slow));
    cfg.providers
        .backends
        .insert("fast".into(), backend_at(&fast));
    cfg.providers
        .routes
        .insert("smart".into(), vec![target("slow"), target("fast")]);
    let (k, _db) = kernel_with(cfg).await;
    let mut agents = Vec::new();
    for i in 0..4 {
        agents.push(
            k.spawn(Caller::default, SpawnOptions::new(format!("caller-{i}")))
                .await
                .unwrap(),
        );
    }

    // Before: the slow, flaky backend takes the traffic; its failures fall back.
    let before_from = chrono::Utc::now();
    run_tasks(&agents, 12, 3, "smart").await;
    let (p50_before, failed_before) = measured(&steps_since(&k, before_from).await);

    let analysis = k.optimizer().analyze(AnalysisQuery::new()).await.unwrap();
    let caller = analysis
        .types
        .iter()
        .find(|t| t.agent_type.ends_with("Caller"))
        .expect("a report for the Caller type");
    assert_eq!(
        (caller.tasks, caller.succeeded, caller.llm_calls),
        (12, 12, 36)
    );
    let route = analysis
        .suggestions
        .iter()
        .find(|s| matches!(s.change, Some(Change::Route { .. })))
        .unwrap_or_else(|| panic!("a route suggestion: {analysis:#?}"));
    let Some(Change::Route { model, chain }) = &route.change else {
        unreachable!()
    };
    assert_eq!(model, "smart");
    assert_eq!(chain, &vec![target("fast"), target("slow")]);
    let Evidence::Backends { backends } = &route.evidence else {
        panic!("backend evidence: {route:#?}");
    };
    let of = |name: &str| backends.iter().find(|b| b.backend == name).unwrap();
    assert_eq!(of("slow").attempts, 36, "every call tried slow first");
    assert_eq!(of("slow").failures, 12, "every third request failed");
    assert_eq!(of("fast").attempts, 12, "each failure fell back to fast");
    assert!(of("slow").latency_ms.p50 >= 120, "{:?}", of("slow"));
    assert!(of("fast").latency_ms.p50 < of("slow").latency_ms.p50);
    assert!(route.summary.contains("`fast`"), "{}", route.summary);

    let applied = k
        .optimizer()
        .apply(route.change.as_ref().unwrap(), "test")
        .unwrap();
    assert_eq!(applied.previous, "chain slow, fast");
    let routes = k.providers().router.routes();
    assert_eq!(routes["smart"], vec![target("fast"), target("slow")]);
    k.audit().flush().await.unwrap();
    let audited = k
        .audit()
        .query(AuditQuery::new().action("optimizer.apply"))
        .await
        .unwrap();
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].record.actor.as_deref(), Some("test"));
    assert_eq!(audited[0].record.target.as_deref(), Some("route:smart"));

    // After: the same workload, on the route the optimizer chose.
    let after_from = chrono::Utc::now();
    run_tasks(&agents, 12, 3, "smart").await;
    let after = steps_since(&k, after_from).await;
    let (p50_after, failed_after) = measured(&after);
    assert!(
        after
            .iter()
            .flat_map(|s| &s.llm_calls)
            .all(|c| c.backend == "fast"),
        "all traffic shifted"
    );
    println!(
        "route learning: p50 {p50_before} ms → {p50_after} ms, failed attempts {failed_before} → {failed_after}"
    );
    assert!(
        p50_after * 2 < p50_before,
        "p50 {p50_before} → {p50_after} ms"
    );
    assert!(
        failed_after < failed_before,
        "{failed_before} → {failed_after}"
    );

    // The analysis now finds nothing better than the new first backend.
    let again = k.optimizer().analyze(AnalysisQuery::new()).await.unwrap();
    assert!(
        !again
            .suggestions
            .iter()
            .any(|s| matches!(s.change, Some(Change::Route { .. }))),
        "{:#?}",
        again.suggestions
    );
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_raised_step_limit_lets_tasks_that_were_cut_off_finish() {
    let mut cfg = config_serving_m().await;
    cfg.durability.limits.max_steps_per_task = 3;
    let (k, _db) = kernel_with(cfg).await;
    let a = k
        .spawn(Caller::default, SpawnOptions::new("looper"))
        .await
        .unwrap();
    let task = Task {
        model: "m".into(),
        calls: 1,
        follow_ups: 4,
    };
    let agent_type = std::any::type_name::<Caller>();

    // Each task needs 5 steps; the limit refuses the 4th. A task's continuations run after
    // its ask returns: the next task starts once the last one ended.
    let from = chrono::Utc::now();
    let refused = |steps: &[TrajectoryStep]| {
        steps
            .iter()
            .filter(|s| s.outcome == StepOutcome::Refused)
            .count()
    };
    let mut before = Vec::new();
    for n in 1..=3 {
        a.ask(task.clone()).await.unwrap();
        before = recorded_until(&k, from, |s| refused(s) == n).await;
    }
    assert_eq!(refused(&before), 3, "{before:#?}");

    let analysis = k.optimizer().analyze(AnalysisQuery::new()).await.unwrap();
    let s = analysis
        .suggestions
        .iter()
        .find(|s| matches!(s.change, Some(Change::StepLimit { .. })))
        .unwrap_or_else(|| panic!("a step-limit suggestion: {analysis:#?}"));
    assert_eq!(
        s.change,
        Some(Change::StepLimit {
            agent_type: agent_type.into(),
            max_steps: 6
        })
    );
    let Evidence::StepLimit {
        tasks,
        clean_cut_off,
        limit,
        ..
    } = &s.evidence
    else {
        panic!("{s:#?}")
    };
    assert_eq!((*tasks, *clean_cut_off, *limit), (3, 3, 3));
    k.optimizer()
        .apply(s.change.as_ref().unwrap(), "test")
        .unwrap();
    assert_eq!(k.tuning().get(agent_type).max_steps, Some(6));

    // The next tasks run all 5 steps.
    let from = chrono::Utc::now();
    let mut after = Vec::new();
    for n in 1..=2 {
        a.ask(task.clone()).await.unwrap();
        after = recorded_until(&k, from, |s| s.len() >= 5 * n).await;
    }
    assert_eq!(after.len(), 10, "{after:#?}");
    assert!(after.iter().all(|s| s.outcome == StepOutcome::Ok));
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_type_that_overruns_its_quota_gets_a_lower_priority() {
    let mut cfg = config_serving_m().await;
    cfg.scheduler.agent_quota = Quota {
        max_calls: Some(2),
        window_ms: 100,
        ..Quota::default()
    };
    let (k, _db) = kernel_with(cfg).await;
    let a = k
        .spawn(Caller::default, SpawnOptions::new("greedy").priority(40))
        .await
        .unwrap();
    let task = Task {
        model: "m".into(),
        calls: 10,
        follow_ups: 0,
    };
    a.ask(task.clone()).await.unwrap();
    a.ask(task.clone()).await.unwrap();

    let analysis = k.optimizer().analyze(AnalysisQuery::new()).await.unwrap();
    let agent_type = std::any::type_name::<Caller>();
    let report = analysis
        .types
        .iter()
        .find(|t| t.agent_type == agent_type)
        .unwrap();
    assert!(report.quota_overruns >= 5, "{report:#?}");
    let s = analysis
        .suggestions
        .iter()
        .find(|s| matches!(s.change, Some(Change::Priority { .. })))
        .unwrap_or_else(|| panic!("a priority suggestion: {analysis:#?}"));
    assert_eq!(
        s.change,
        Some(Change::Priority {
            agent_type: agent_type.into(),
            priority: 60
        })
    );
    let Evidence::Quota {
        llm_calls,
        overruns,
        priority,
    } = &s.evidence
    else {
        panic!("{s:#?}")
    };
    assert_eq!((*llm_calls, *priority), (20, 40));
    assert!(*overruns >= 5);
    k.optimizer()
        .apply(s.change.as_ref().unwrap(), "test")
        .unwrap();

    // The running agent's next calls carry the new priority.
    let from = chrono::Utc::now();
    a.ask(Task {
        model: "m".into(),
        calls: 1,
        follow_ups: 0,
    })
    .await
    .unwrap();
    let after = steps_since(&k, from).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].llm_calls[0].priority, 60);
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_change_naming_what_does_not_exist_is_refused_and_changes_nothing() {
    let fast = backend_server(Duration::from_millis(1), 0).await;
    let mut cfg = bare_config();
    cfg.providers
        .backends
        .insert("fast".into(), backend_at(&fast));
    cfg.providers
        .routes
        .insert("smart".into(), vec![target("fast")]);
    let (k, _db) = kernel_with(cfg).await;
    let bad = [
        Change::Route {
            model: "smart".into(),
            chain: vec![target("nowhere")],
        },
        Change::Route {
            model: "smart".into(),
            chain: vec![],
        },
        Change::StepLimit {
            agent_type: "t".into(),
            max_steps: 0,
        },
        Change::Priority {
            agent_type: "t".into(),
            priority: 101,
        },
    ];
    for change in &bad {
        let e = k.optimizer().apply(change, "test").unwrap_err();
        assert!(matches!(e, OptimizerError::Invalid(_)), "{e:?}");
    }
    let e = k.optimizer().apply(&bad[0], "test").unwrap_err();
    assert!(e.to_string().contains("unknown backend `nowhere`"), "{e}");
    assert_eq!(k.providers().router.routes()["smart"], vec![target("fast")]);
    assert!(k.tuning().all().is_empty());
    k.audit().flush().await.unwrap();
    let audited = k
        .audit()
        .query(AuditQuery::new().action("optimizer.apply"))
        .await
        .unwrap();
    assert!(audited.is_empty(), "refused changes are not applied");
    k.shutdown().await;
}
