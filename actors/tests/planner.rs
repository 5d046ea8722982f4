//! `Planner` + `WorkerPool`: a plan from the LLM (an in-test OpenAI-shaped server) fanned out
//! to supervised workers; a task whose worker crashes once is retried and succeeds, one whose
//! worker always crashes is reported after its retry, the crashed workers restarted.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use agent_os_actors::{FnWorker, PlanMsg, Planner, WorkerPool};
use agent_os_kernel::SpawnOptions;
use serde_json::json;
use support::{config, eventually, kernel_with, openai_server, text};

#[actix_rt::test]
async fn a_plan_fans_out_and_a_crashing_task_is_retried_once_then_reported() {
    let (url, seen) = openai_server(|_| {
        text("Here is the plan:\n[\"alpha\", \"crash-once\", \"always-crash\", \"beta\"]")
    })
    .await;
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(&url, root.path())).await;
    let crashed_once = Arc::new(AtomicBool::new(false));
    let runs = Arc::new(AtomicUsize::new(0));
    let (c, r) = (crashed_once.clone(), runs.clone());
    let worker = FnWorker::new(move |task, _ctx| {
        r.fetch_add(1, Ordering::SeqCst);
        match task.as_str().unwrap_or_default() {
            "crash-once" if !c.swap(true, Ordering::SeqCst) => panic!("worker crashed"),
            "always-crash" => panic!("worker always crashes"),
            t => Ok(json!(t.to_uppercase())),
        }
    });
    let pool = WorkerPool::spawn(&k, "pool", 2, 10, &worker).await.unwrap();
    assert_eq!(pool.workers().len(), 2);
    let planner = k
        .spawn(
            Planner::new(&pool)
                .model("test-model")
                .timeout(Duration::from_secs(5))
                .factory(),
            SpawnOptions::new("planner"),
        )
        .await
        .unwrap();
    let report = planner
        .ask(PlanMsg::Goal("shout four words".into()))
        .timeout(Duration::from_secs(30))
        .await
        .unwrap();
    let by_task: Vec<(String, Result<serde_json::Value, String>, u32)> = report
        .tasks
        .iter()
        .map(|t| {
            (
                t.task.as_str().unwrap().to_string(),
                t.result.clone(),
                t.attempts,
            )
        })
        .collect();
    assert_eq!(by_task[0], ("alpha".into(), Ok(json!("ALPHA")), 1));
    assert_eq!(
        by_task[1],
        ("crash-once".into(), Ok(json!("CRASH-ONCE")), 2)
    );
    assert_eq!(by_task[2].0, "always-crash");
    assert_eq!(by_task[2].2, 2, "retried once");
    assert!(
        by_task[2].1.as_ref().is_err_and(|e| e.contains("crash")),
        "{by_task:?}"
    );
    assert_eq!(by_task[3], ("beta".into(), Ok(json!("BETA")), 1));
    assert_eq!(report.failed().count(), 1);
    // The supervisor restarted the crashed workers: the pool still works.
    let restarts = || -> u32 {
        pool.workers()
            .iter()
            .map(|w| k.status(w.pid()).map_or(0, |s| s.restarts))
            .sum()
    };
    assert!(
        eventually(3000, || restarts() == 3).await,
        "one crash of crash-once, two of always-crash: {}",
        restarts()
    );
    let again = planner
        .ask(PlanMsg::Tasks(vec![json!("gamma")]))
        .await
        .unwrap();
    assert_eq!(again.tasks[0].result, Ok(json!("GAMMA")));
    assert_eq!(seen.lock().unwrap().len(), 1, "a given plan asks no model");
    k.shutdown().await;
}

#[actix_rt::test]
async fn an_answer_that_is_no_plan_is_an_error() {
    let (url, _seen) = openai_server(|_| text("I would rather not.")).await;
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(&url, root.path())).await;
    let worker = FnWorker::new(|t, _| Ok(t.clone()));
    let pool = WorkerPool::spawn(&k, "pool", 1, 3, &worker).await.unwrap();
    let planner = k
        .spawn(Planner::new(&pool).factory(), SpawnOptions::new("planner"))
        .await
        .unwrap();
    let err = planner.ask(PlanMsg::Goal("x".into())).await.unwrap_err();
    assert!(err.to_string().contains("not a JSON array"), "{err}");
    k.shutdown().await;
}
