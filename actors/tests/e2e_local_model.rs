//! The e2e tier for the stock agents: `ReactAgent`, `Router`, `Summarizer` and
//! `Planner` + `WorkerPool` against the real local model — llama.cpp's `llama-server` with
//! SmolLM2-135M-Instruct, installed by `scripts/setup-llm.sh` and started once for this binary
//! on a free port (the kernel crate's tests/e2e_support: without the cached files it panics
//! naming the script; the tier never skips). Every kernel is on the test database
//! (`AOK_TEST_BACKEND=sqlite|postgres`), its backend `local` configured the way a user does it
//! (`AOK__PROVIDERS__BACKENDS__LOCAL__…`).
//!
//! A 135M model answers in prose, makes no tool calls and rarely follows a format, so the
//! assertions are on the agents' contracts (what they do with whatever the model said), on
//! the text being real (non-empty, from the server) and on the accounting (usage ledger,
//! trajectories) — never on a particular answer, and never on how long anything took.
//!
//! `cargo test -p agent-os-actors --features agent-os-kernel/neural --test e2e_local_model`

#[path = "../../tests/e2e_support/mod.rs"]
mod e2e_support;
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_os_actors::{
    FnWorker, PlanMsg, Planner, ReactAgent, ReactMsg, Router, Stopped, Summarizer, SummarizerMsg,
    WorkerPool,
};
use agent_os_kernel::pager::PageKind;
use agent_os_kernel::provider::Role;
use agent_os_kernel::security::policy::AllowBlock;
use agent_os_kernel::trajectory::{StepOutcome, TrajectoryQuery, TrajectoryStep};
use agent_os_kernel::{AgentRef, Kernel, Pid, SecurityPolicy, SpawnOptions};
use e2e_support::{BACKEND, MODEL, local_config, local_model};
use serde_json::{Value, json};
use support::{StorageGuard, eventually, kernel_with};

/// The longest any single ask may take: a loaded 2-core machine runs several tests at once,
/// the server runs 4 sequences for every test of the binary, and under a load of 10 the
/// model was seen at 0.2 tokens/s (an ask waiting behind a summary waits for all of it).
const E2E: Duration = Duration::from_secs(400);

/// A kernel on the test database whose backend `local` is the real local model.
async fn kernel_at_the_local_model() -> (Kernel, StorageGuard) {
    let model = local_model();
    // The backend's own deadline for a response (120 s by default) below `E2E`, but above
    // what a loaded machine needs for these short generations.
    let extra = [(
        "AOK__PROVIDERS__BACKENDS__LOCAL__REQUEST_TIMEOUT_MS",
        "360000",
    )];
    kernel_with(local_config(&model.base_url, &extra)).await
}

/// No tool at all: the model is offered none (a 135M model makes no tool calls, and the
/// request stays a plain chat).
fn no_tools() -> SecurityPolicy {
    SecurityPolicy {
        tools: AllowBlock::all().blocking(["*"]),
        ..SecurityPolicy::default()
    }
}

/// The recorded steps of `pid`, once at least `n` are there (flushing the recorder).
async fn steps_of(k: &Kernel, pid: Pid, n: usize) -> Vec<TrajectoryStep> {
    for _ in 0..500 {
        k.trajectories().flush().await;
        let steps = k
            .trajectories()
            .query(TrajectoryQuery::new().pid(pid))
            .await
            .unwrap();
        if steps.len() >= n {
            return steps;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("fewer than {n} trajectory steps recorded for {pid}");
}

/// The ledger's calls and tokens of `pid`, checked to be the server's real usage (both
/// counts above zero), returned as (calls, prompt, completion).
fn real_usage(k: &Kernel, pid: Pid) -> (u64, u64, u64) {
    let t = k.providers().ledger.agent_totals(pid);
    assert!(
        t.prompt_tokens > 0 && t.completion_tokens > 0,
        "the ledger holds the server's usage for {pid}: {t:?}"
    );
    (t.calls, t.prompt_tokens, t.completion_tokens)
}

#[actix_rt::test]
async fn a_react_agent_answers_a_task_with_the_real_model() {
    let (k, _db) = kernel_at_the_local_model().await;
    let react = ReactAgent::new(
        "e2e-react",
        "What is the capital of France? Answer in one short sentence.",
    )
    .priority(20)
    .model(MODEL)
    .max_steps(3)
    .max_tokens(48);
    let agent = k
        .spawn(react.factory(), react.options().policy(no_tools()))
        .await
        .unwrap();
    let outcome = agent.ask(ReactMsg::Run).timeout(E2E).await.unwrap();
    println!("react: {outcome:?}");
    assert_eq!(outcome.stopped, Stopped::Finished, "{outcome:?}");
    assert_eq!(
        outcome.steps, 1,
        "an answer without a tool call ends the run"
    );
    assert!(outcome.tool_calls.is_empty(), "{outcome:?}");
    assert!(
        !outcome.answer.trim().is_empty(),
        "an empty answer: {outcome:?}"
    );

    // The usage ledger holds the one call with the server's token counts.
    let (calls, prompt, completion) = real_usage(&k, agent.pid());
    assert_eq!(calls, 1);
    assert!(completion <= 48, "max_tokens was honoured: {completion}");

    // The trajectory recorder kept the step, with the same call and counts.
    let steps = steps_of(&k, agent.pid(), 1).await;
    assert_eq!(steps.len(), 1, "{steps:#?}");
    let step = &steps[0];
    assert_eq!(step.outcome, StepOutcome::Ok);
    assert_eq!(step.agent_name, "e2e-react");
    assert!(step.tool_calls.is_empty());
    assert_eq!(step.llm_calls.len(), 1, "{step:#?}");
    let call = &step.llm_calls[0];
    assert_eq!(
        (call.backend.as_str(), call.model.as_str()),
        (BACKEND, MODEL)
    );
    assert_eq!(call.error, None);
    assert_eq!(step.tokens(), (prompt, completion));

    // The conversation is in its pages: the pinned system prompt, the task, the answer.
    let pages = k.pager().pages(agent.pid()).await.unwrap();
    assert!(
        pages.iter().any(|p| p.kind == PageKind::System && p.pinned),
        "{pages:?}"
    );
    assert!(pages.iter().any(|p| p.role == Role::User), "{pages:?}");
    assert!(pages.iter().any(|p| p.role == Role::Assistant), "{pages:?}");

    // A second task on the same agent: another single step, the ledger at two calls.
    let next = agent
        .ask(ReactMsg::Task("Name one colour of the sky.".into()))
        .timeout(E2E)
        .await
        .unwrap();
    assert_eq!(
        (next.stopped, next.steps),
        (Stopped::Finished, 1),
        "{next:?}"
    );
    assert!(!next.answer.trim().is_empty(), "{next:?}");
    assert_eq!(real_usage(&k, agent.pid()).0, 2);
    k.shutdown().await;
}

type Inbox = Arc<Mutex<Vec<Value>>>;

/// A JSON target that records what it gets.
async fn target(k: &Kernel, name: &str) -> (AgentRef<FnWorker>, Inbox) {
    let inbox: Inbox = Arc::default();
    let i = inbox.clone();
    let worker = FnWorker::new(move |v, _| {
        i.lock().unwrap().push(v.clone());
        Ok(Value::Null)
    });
    let r = k
        .spawn(worker.factory(), SpawnOptions::new(name))
        .json()
        .await
        .unwrap();
    (r, inbox)
}

/// The routing contract with a real classifier: each message goes to exactly one agent — the
/// route the model named, or the fallback (here the `support` agent) when the answer names no
/// route — and arrives there unchanged. (In the runs so far SmolLM2-135M never answered with
/// a bare route name: every message took the fallback; the assertions hold either way.)
#[actix_rt::test]
async fn a_router_classifying_with_the_real_model_delivers_to_one_labelled_route() {
    let (k, _db) = kernel_at_the_local_model().await;
    let (billing, billing_in) = target(&k, "billing").await;
    let (support, support_in) = target(&k, "support").await;
    let router = Router::by_llm(
        MODEL,
        [("billing", billing.pid()), ("support", support.pid())],
        support.pid(),
    );
    let r = k
        .spawn(router.factory(), SpawnOptions::new("router"))
        .await
        .unwrap();
    let messages = [
        json!({"text": "I was charged twice on my last invoice, please refund the payment."}),
        json!({"text": "The app crashes every time I open the settings page."}),
    ];
    let mut expected = (0, 0);
    for msg in &messages {
        let routed = r.ask(msg.clone()).timeout(E2E).await.unwrap();
        println!("router: {msg} -> {routed:?}");
        match routed.route.as_str() {
            "billing" => {
                assert_eq!(routed.to, billing.pid());
                expected.0 += 1;
            }
            "support" | "fallback" => {
                assert_eq!(routed.to, support.pid(), "{routed:?}");
                expected.1 += 1;
            }
            other => panic!("a route outside the table and not the fallback: {other}"),
        }
    }
    let delivered = || {
        (
            billing_in.lock().unwrap().len(),
            support_in.lock().unwrap().len(),
        )
    };
    assert!(
        eventually(5000, || delivered() == expected).await,
        "delivered {:?}, routed {expected:?}",
        delivered()
    );
    // Each message arrived, unchanged, at exactly one of the two agents.
    let mut all: Vec<Value> = billing_in.lock().unwrap().clone();
    all.extend(support_in.lock().unwrap().iter().cloned());
    for msg in &messages {
        assert_eq!(all.iter().filter(|m| *m == msg).count(), 1, "{all:?}");
    }
    // One classification per message, at the server's real usage.
    assert_eq!(real_usage(&k, r.pid()).0, 2);
    k.shutdown().await;
}

/// An answer that names no route goes to the fallback, as documented. The routes' names are
/// longer than the 16 tokens the router lets the model answer with, so whatever the model
/// writes cannot name one: the fallback path, with a real answer.
#[actix_rt::test]
async fn a_router_answer_that_names_no_route_goes_to_the_fallback() {
    let (k, _db) = kernel_at_the_local_model().await;
    let (a, a_in) = target(&k, "route-a").await;
    let (b, b_in) = target(&k, "route-b").await;
    let (triage, triage_in) = target(&k, "triage").await;
    let long = |tag: &str| format!("{tag}-{}", "0123456789".repeat(5));
    let router = Router::by_llm(
        MODEL,
        [(long("alpha"), a.pid()), (long("beta"), b.pid())],
        triage.pid(),
    );
    let r = k
        .spawn(router.factory(), SpawnOptions::new("router"))
        .await
        .unwrap();
    let msg = json!({"text": "Please write me a short poem about the sea."});
    let routed = r.ask(msg.clone()).timeout(E2E).await.unwrap();
    println!("router fallback: {routed:?}");
    assert_eq!(
        (routed.route.as_str(), routed.to),
        ("fallback", triage.pid())
    );
    assert!(eventually(5000, || triage_in.lock().unwrap().len() == 1).await);
    assert_eq!(triage_in.lock().unwrap()[0], msg);
    assert!(a_in.lock().unwrap().is_empty() && b_in.lock().unwrap().is_empty());
    // The model was asked (a real classification, not a short cut).
    assert_eq!(real_usage(&k, r.pid()).0, 1);
    k.shutdown().await;
}

/// A message that jumps over a small context budget: the pager evicts the older pages, and
/// the summarizer's pressure hook has the real model summarise them into a `summary` page.
#[actix_rt::test]
async fn a_summarizer_turns_evicted_pages_into_a_summary_page_with_real_text() {
    let (k, _db) = kernel_at_the_local_model().await;
    let s = k
        .spawn(
            Summarizer::new(MODEL).max_tokens(32).factory(),
            SpawnOptions::new("summarizer").context_budget(400),
        )
        .await
        .unwrap();
    for i in 0..3 {
        let text = format!(
            "Fact number {i}: the warehouse in district {i} holds {} crates of apples.",
            i * 17
        );
        s.ask(SummarizerMsg::Note {
            role: Role::User,
            text,
        })
        .timeout(E2E)
        .await
        .unwrap();
    }
    let big = format!("The long report: {}", "apples and pears ".repeat(90));
    s.ask(SummarizerMsg::Note {
        role: Role::Assistant,
        text: big,
    })
    .timeout(E2E)
    .await
    .unwrap();
    // The hook runs between two messages, and the model takes its time: ask until the
    // summary is there.
    let deadline = tokio::time::Instant::now() + E2E;
    let summaries = loop {
        let summaries = s.ask(SummarizerMsg::Summaries).timeout(E2E).await.unwrap();
        if summaries.as_array().is_some_and(|a| !a.is_empty()) {
            break summaries;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no summary page; the server's log:\n{}",
            local_model().log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("summaries: {summaries}");
    let summary = summaries[0].as_str().unwrap();
    assert!(!summary.trim().is_empty(), "{summaries}");
    let stats = k.pager().stats(s.pid()).await.unwrap();
    assert!(stats.evictions >= 1, "{stats:?}");
    let pages = k.pager().pages(s.pid()).await.unwrap();
    assert!(
        pages
            .iter()
            .any(|p| p.kind == PageKind::Summary && p.resident),
        "{pages:?}"
    );
    assert!(
        pages
            .iter()
            .all(|p| p.resident || p.kind != PageKind::Message),
        "the evicted messages were summarised and freed: {pages:?}"
    );
    let (calls, _, completion) = real_usage(&k, s.pid());
    assert!(calls >= 1, "{calls}");
    assert!(
        completion <= 32 * calls,
        "max_tokens honoured: {completion}"
    );
    k.shutdown().await;
}

/// What a pool worker makes of one task: the task, and its length in words.
fn measure(task: &Value, _ctx: &agent_os_kernel::AgentContext) -> Result<Value, String> {
    let text = task
        .as_str()
        .map_or_else(|| task.to_string(), str::to_string);
    Ok(json!({"task": task, "words": text.split_whitespace().count()}))
}

/// `Planner` + `WorkerPool` with the real model: the plan is the model's (`PlanMsg::Goal`, one
/// LLM step; a 135M model often writes no JSON array, and then the planner's documented
/// refusal quotes its answer), and every task gets an LLM step of its own — one `ReactAgent`
/// per task, all at once through the scheduler — whose answers the planner fans out to the
/// supervised pool and gathers, every result in plan order.
///
/// The pool's workers are `FnWorker`s (synchronous functions), so the per-task LLM step runs
/// in agents of its own rather than inside a worker.
#[actix_rt::test]
async fn a_planner_and_a_worker_pool_gather_a_result_for_every_task() {
    let (k, _db) = kernel_at_the_local_model().await;
    let pool = WorkerPool::spawn(&k, "pool", 2, 3, &FnWorker::new(measure))
        .await
        .unwrap();
    let planner = k
        .spawn(
            Planner::new(&pool)
                .model(MODEL)
                .timeout(Duration::from_secs(60))
                .factory(),
            SpawnOptions::new("planner"),
        )
        .await
        .unwrap();

    // 1. The plan from the model.
    let goal = "Plan a picnic. Answer like this: [\"buy bread\", \"pack a blanket\"]";
    let planned = planner.ask(PlanMsg::Goal(goal.into())).timeout(E2E).await;
    let mut tasks: Vec<String> = match planned {
        Ok(report) => {
            println!("plan from the model: {report:?}");
            assert_eq!(report.failed().count(), 0, "{report:?}");
            for t in &report.tasks {
                assert_eq!(t.attempts, 1, "{t:?}");
                let result = t.result.as_ref().unwrap();
                assert_eq!(result["task"], t.task, "{t:?}");
            }
            report
                .tasks
                .iter()
                .map(|t| {
                    t.task
                        .as_str()
                        .map_or_else(|| t.task.to_string(), str::to_string)
                })
                .filter(|t| !t.trim().is_empty())
                .take(3)
                .collect()
        }
        Err(e) => {
            let e = e.to_string();
            println!("no plan from the model: {e}");
            assert!(e.contains("not a JSON array"), "{e}");
            let quoted = e.split_once("not a JSON array:").map_or("", |(_, a)| a);
            assert!(
                !quoted.trim().is_empty(),
                "the refusal quotes the answer: {e}"
            );
            Vec::new()
        }
    };
    let (plan_calls, _, _) = real_usage(&k, planner.pid());
    assert_eq!(plan_calls, 1, "one LLM step for the plan");
    if tasks.is_empty() {
        tasks = ["buy bread", "pack a blanket", "choose a park"]
            .map(String::from)
            .to_vec();
    }

    // 2. An LLM step per task: one ReactAgent each, all at once.
    let mut agents = Vec::new();
    for (i, task) in tasks.iter().enumerate() {
        let react = ReactAgent::new(
            format!("step-{i}"),
            format!("In one short sentence, how would you do this: {task}"),
        )
        .model(MODEL)
        .max_steps(2)
        .max_tokens(40);
        agents.push(
            k.spawn(react.factory(), react.options().policy(no_tools()))
                .await
                .unwrap(),
        );
    }
    let outcomes =
        futures::future::join_all(agents.iter().map(|a| a.ask(ReactMsg::Run).timeout(E2E))).await;
    let mut answers = Vec::new();
    for (a, outcome) in agents.iter().zip(outcomes) {
        let outcome = outcome.unwrap();
        assert_eq!(outcome.stopped, Stopped::Finished, "{outcome:?}");
        assert!(!outcome.answer.trim().is_empty(), "{outcome:?}");
        assert_eq!(real_usage(&k, a.pid()).0, 1);
        answers.push(Value::from(outcome.answer));
    }

    // 3. The planner fans the answers out to the pool and gathers every result, in order.
    let report = planner
        .ask(PlanMsg::Tasks(answers.clone()))
        .timeout(E2E)
        .await
        .unwrap();
    println!("gathered: {report:?}");
    assert_eq!(report.tasks.len(), answers.len());
    assert_eq!(report.failed().count(), 0, "{report:?}");
    for (t, answer) in report.tasks.iter().zip(&answers) {
        assert_eq!(&t.task, answer);
        assert_eq!(t.attempts, 1);
        let words = answer.as_str().unwrap().split_whitespace().count();
        assert_eq!(t.result, Ok(json!({"task": answer, "words": words})));
    }
    assert_eq!(
        real_usage(&k, planner.pid()).0,
        1,
        "a given plan asks no model"
    );
    k.shutdown().await;
}
