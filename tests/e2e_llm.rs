//! The e2e tier: the kernel against a real local model — llama.cpp's `llama-server` with
//! SmolLM2-135M-Instruct, installed by `scripts/setup-llm.sh` and started here on a free port
//! (tests/e2e_support). Everything goes through the public API on the test database
//! (`AOK_TEST_BACKEND=sqlite|postgres`), with the backend configured the way a user does it
//! (`AOK__PROVIDERS__BACKENDS__LOCAL__…` variables). Generations are short and greedy
//! (temperature 0); nothing here asserts on how long anything took.

mod common;
mod e2e_support;
mod support;

use std::time::Duration;

use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{ChatRequest, ChatResponse, FinishReason, Message, StreamDelta};
use e2e_support::{BACKEND, MODEL, local_config, local_model};
use support::kernel_with;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// The longest any single ask may take (a loaded 2-core machine runs several tests at once).
const E2E: Duration = Duration::from_secs(180);

/// A call for the [`Caller`] to make, streamed to `sink` when there is one.
struct Ask {
    request: ChatRequest,
    sink: Option<UnboundedSender<StreamDelta>>,
}

/// An agent that makes the LLM call it is asked to make and replies with the response.
struct Caller;

impl Agent for Caller {
    type Msg = Ask;
    type Reply = ChatResponse;
    async fn handle(
        &mut self,
        ask: Ask,
        ctx: &mut AgentContext,
    ) -> Result<ChatResponse, AgentError> {
        Ok(match ask.sink {
            Some(sink) => ctx.llm_streaming(ask.request, Some(sink)).await?,
            None => ctx.llm(ask.request).await?,
        })
    }
}

/// A greedy request for the local model.
fn request(prompt: &str, max_tokens: u32) -> ChatRequest {
    let mut r = ChatRequest::new(
        MODEL,
        vec![
            Message::system("You are a helpful assistant."),
            Message::user(prompt),
        ],
    );
    r.max_tokens = max_tokens;
    r.temperature = Some(0.0);
    r
}

fn plain(request: ChatRequest) -> Ask {
    Ask {
        request,
        sink: None,
    }
}

/// A kernel on the test database whose backend `local` is the real local model.
async fn kernel_at_the_local_model(extra: &[(&str, &str)]) -> (Kernel, common::StorageGuard) {
    let model = local_model();
    kernel_with(local_config(&model.base_url, extra)).await
}

/// Waits for the first visible text of a stream (panics, with the server's log, at `E2E`).
async fn first_text(rx: &mut UnboundedReceiver<StreamDelta>, seen: &mut Vec<StreamDelta>) {
    let deadline = tokio::time::Instant::now() + E2E;
    loop {
        let next = tokio::time::timeout_at(deadline, rx.recv()).await;
        let Ok(Some(delta)) = next else {
            panic!(
                "the stream sent no text; the server's log:\n{}",
                local_model().log_tail()
            );
        };
        let is_text = matches!(&delta, StreamDelta::Text(t) if !t.is_empty());
        seen.push(delta);
        if is_text {
            return;
        }
    }
}

/// The visible text the deltas add up to (a `Reset` voids what came before it).
fn streamed_text(deltas: &[StreamDelta]) -> String {
    let mut text = String::new();
    for d in deltas {
        match d {
            StreamDelta::Text(t) => text.push_str(t),
            StreamDelta::Reset => text.clear(),
            _ => {}
        }
    }
    text
}

fn drain(rx: &mut UnboundedReceiver<StreamDelta>, into: &mut Vec<StreamDelta>) {
    while let Ok(d) = rx.try_recv() {
        into.push(d);
    }
}

fn finished(r: &ChatResponse) -> bool {
    matches!(
        r.finish_reason,
        Some(FinishReason::Stop | FinishReason::Length)
    )
}

#[actix_rt::test]
async fn a_plain_call_answers_with_real_usage() {
    let (k, _db) = kernel_at_the_local_model(&[]).await;
    let pid = k
        .spawn(|| Caller, SpawnOptions::new("asker"))
        .await
        .unwrap();
    let question = request("What is the capital of France? Answer in one word.", 32);
    let r: ChatResponse = pid.ask(plain(question)).timeout(E2E).await.unwrap();
    assert!(!r.content.trim().is_empty(), "an empty answer: {r:?}");
    assert_eq!(r.backend, BACKEND);
    assert!(finished(&r), "{:?}", r.finish_reason);
    assert!(
        r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0,
        "{:?}",
        r.usage
    );
    assert!(r.usage.completion_tokens <= 32, "max_tokens: {:?}", r.usage);
    let totals = k.providers().ledger.agent_totals(pid.pid());
    assert_eq!(totals.calls, 1);
    assert_eq!(
        (totals.prompt_tokens, totals.completion_tokens),
        (r.usage.prompt_tokens, r.usage.completion_tokens),
        "the ledger holds the server's usage"
    );
    assert_eq!(k.scheduler_stats().await.unwrap().grants, 1, "one slice");
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_streamed_call_sends_deltas_that_add_up_to_the_reply() {
    let (k, _db) = kernel_at_the_local_model(&[]).await;
    let pid = k
        .spawn(|| Caller, SpawnOptions::new("streamer"))
        .await
        .unwrap();
    let (tx, mut rx) = unbounded_channel();
    let ask = Ask {
        request: request("Name three colours of the rainbow.", 48),
        sink: Some(tx),
    };
    let r: ChatResponse = pid.ask(ask).timeout(E2E).await.unwrap();
    let mut deltas = Vec::new();
    drain(&mut rx, &mut deltas);
    let pieces = deltas
        .iter()
        .filter(|d| matches!(d, StreamDelta::Text(t) if !t.is_empty()))
        .count();
    assert!(pieces >= 2, "streamed in pieces, got {pieces}: {deltas:?}");
    assert!(!r.content.trim().is_empty());
    assert_eq!(
        streamed_text(&deltas),
        r.content,
        "the deltas add up to the reply"
    );
    assert!(finished(&r), "{:?}", r.finish_reason);
    assert!(
        deltas
            .iter()
            .any(|d| matches!(d, StreamDelta::Usage(u) if u.completion_tokens > 0)),
        "the server reported usage in the stream (not an estimate): {deltas:?}"
    );
    assert!(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
    assert_eq!(k.providers().ledger.agent_totals(pid.pid()).calls, 1);
    k.shutdown().await;
}

/// The slice is requested with the call's estimate (the byte bound plus `max_tokens`) and
/// released with the server's usage: the scheduler's and the gate's accounts end at the real
/// numbers, the over-reservation handed back.
#[actix_rt::test]
async fn real_usage_replaces_the_estimate_in_the_scheduler_and_the_gate() {
    const TPM: u64 = 1_000_000;
    let (k, _db) = kernel_at_the_local_model(&[
        ("AOK__PROVIDERS__BACKENDS__LOCAL__TPM", "1000000"),
        ("AOK__PROVIDERS__BACKENDS__LOCAL__WINDOW_MS", "3600000"),
    ])
    .await;
    let pid = k
        .spawn(|| Caller, SpawnOptions::new("counted"))
        .await
        .unwrap();
    let (tx, mut rx) = unbounded_channel();
    let ask = Ask {
        request: request("Write a short story about a robot who learns to paint.", 64),
        sink: Some(tx),
    };
    let call = tokio::spawn(pid.ask(ask).timeout(E2E));
    // Mid-stream: the slice is held with the estimate reserved, the gate charged it.
    let mut deltas = Vec::new();
    first_text(&mut rx, &mut deltas).await;
    let during = k.scheduler_stats().await.unwrap();
    let gate_during = k.providers().router.backend_stats(BACKEND).unwrap();
    let r: ChatResponse = call.await.unwrap().unwrap();
    drain(&mut rx, &mut deltas);

    let used = r.usage;
    assert!(
        used.prompt_tokens > 0 && used.completion_tokens > 0,
        "{used:?}"
    );
    assert_eq!(during.running, 1, "the stream runs under a slice");
    let reserved = during.agents[&pid.pid()].window.reserved_tokens;
    let charged = TPM - gate_during.budget.tokens_available.unwrap();
    println!("estimate: slice {reserved}, gate {charged}; real usage {used:?}");
    assert!(
        reserved > used.total() && charged > used.total(),
        "the estimate is an upper bound: slice {reserved}, gate {charged}, real {}",
        used.total()
    );

    let after = k.scheduler_stats().await.unwrap();
    let me = &after.agents[&pid.pid()];
    assert_eq!(me.window.reserved_tokens, 0, "the reservation is gone");
    assert_eq!(
        (me.input_tokens, me.output_tokens, me.calls),
        (used.prompt_tokens, used.completion_tokens, 1),
        "the slice was released with the real usage"
    );
    let ledger = k.providers().ledger.agent_totals(pid.pid());
    assert_eq!(
        (ledger.prompt_tokens, ledger.completion_tokens),
        (used.prompt_tokens, used.completion_tokens)
    );
    let gate_after = k.providers().router.backend_stats(BACKEND).unwrap();
    assert_eq!(
        gate_after.budget.tokens_available,
        Some(TPM - used.total()),
        "the gate's charge became the real usage (the over-estimate refunded)"
    );
    k.shutdown().await;
}

/// A far more urgent agent revokes the slice of a running real stream (one global slot); the
/// preempted generation keeps its partial output, re-queues with `resume` and continues from
/// it once the urgent call is done: the reply and the stream are whole.
#[actix_rt::test]
async fn an_urgent_call_preempts_a_real_stream_which_resumes_whole() {
    let (k, _db) = kernel_at_the_local_model(&[
        ("AOK__SCHEDULER__GLOBAL_SLOTS", "1"),
        ("AOK__SCHEDULER__POLICY", "priority"),
        ("AOK__SCHEDULER__PREEMPTION", "true"),
        ("AOK__SCHEDULER__PREEMPT_PRIORITY_GAP", "20"),
        ("AOK__SCHEDULER__MIN_QUANTUM_MS", "0"),
    ])
    .await;
    let mut events = k.events();
    let low = k
        .spawn(|| Caller, SpawnOptions::new("low").priority(90))
        .await
        .unwrap();
    let high = k
        .spawn(|| Caller, SpawnOptions::new("high").priority(5))
        .await
        .unwrap();

    let (tx, mut rx) = unbounded_channel();
    let long = Ask {
        request: request("Count from 1 to 100, separated by commas.", 192),
        sink: Some(tx),
    };
    let long = tokio::spawn(low.ask(long).timeout(E2E));
    let mut deltas = Vec::new();
    first_text(&mut rx, &mut deltas).await; // the low agent's stream is running
    let short: ChatResponse = high
        .ask(plain(request("Say hello.", 16)))
        .timeout(E2E)
        .await
        .unwrap();
    assert!(!short.content.trim().is_empty());
    let whole: ChatResponse = long.await.unwrap().unwrap();
    drain(&mut rx, &mut deltas);

    let mut preempted = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let KernelEvent::SlicePreempted { pid, by, .. } = e {
            preempted.push((pid, by));
        }
    }
    assert_eq!(preempted, vec![(low.pid(), high.pid())]);
    assert!(
        finished(&whole),
        "resumed to its end: {:?}",
        whole.finish_reason
    );
    assert_eq!(
        streamed_text(&deltas),
        whole.content,
        "the stream went on after the preemption and adds up to the reply"
    );
    println!("preempted and resumed: {:?}", whole.content);
    // The count goes on from where it was cut: no number twice (a continuation that restarted,
    // or a server's echo of the prefill kept in the reply, would repeat the numbers).
    let numbers: Vec<u64> = whole
        .content
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(
        numbers.len() >= 3 && numbers.windows(2).all(|w| w[0] < w[1]),
        "the reply is one count, not two: {:?}",
        whole.content
    );
    let stats = k.scheduler_stats().await.unwrap();
    assert_eq!(stats.preemptions, 1);
    let l = &stats.agents[&low.pid()];
    assert_eq!(
        (l.preemptions, l.grants),
        (1, 2),
        "one preempted slice, one resumed"
    );
    assert_eq!(
        l.output_tokens, whole.usage.completion_tokens,
        "the partial and the resumed output are both charged"
    );
    assert_eq!(
        k.providers().ledger.agent_totals(low.pid()).calls,
        2,
        "the partial call and its continuation"
    );
    k.shutdown().await;
}

/// A backend limited to 2 requests per 1.5 s window: a burst of 6 calls waits at the gate
/// (holding no slice), never more than the limit in flight, and every call completes.
#[actix_rt::test]
async fn a_rate_limited_backend_makes_a_burst_wait_at_the_gate() {
    let (k, _db) = kernel_at_the_local_model(&[
        ("AOK__PROVIDERS__BACKENDS__LOCAL__RPM", "2"),
        ("AOK__PROVIDERS__BACKENDS__LOCAL__WINDOW_MS", "1500"),
    ])
    .await;
    let mut calls = Vec::new();
    let mut pids = Vec::new();
    for i in 0..6 {
        let pid = k
            .spawn(|| Caller, SpawnOptions::new(format!("burst-{i}")))
            .await
            .unwrap();
        let question = request(&format!("What is {i} plus {i}?"), 8);
        calls.push(tokio::spawn(pid.ask(plain(question)).timeout(E2E)));
        pids.push(pid);
    }
    let (mut most_queued, mut most_in_flight) = (0, 0);
    while calls.iter().any(|c| !c.is_finished()) {
        let s = k.providers().router.backend_stats(BACKEND).unwrap();
        most_queued = most_queued.max(s.queued);
        most_in_flight = most_in_flight.max(s.in_flight);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for c in calls {
        let r: ChatResponse = c.await.unwrap().unwrap();
        assert!(!r.content.trim().is_empty(), "{r:?}");
    }
    let s = k.providers().router.backend_stats(BACKEND).unwrap();
    assert_eq!(s.budget.rpm, Some(2));
    assert_eq!((s.attempts, s.succeeded, s.failed), (6, 6, 0));
    assert_eq!(s.rate_limited, 0, "no 429");
    assert!(most_queued >= 1, "calls waited at the gate");
    assert!(most_in_flight <= 2, "{most_in_flight} requests at once");
    assert_eq!(s.queued, 0);
    assert_eq!(k.providers().ledger.totals().calls, 6);
    assert_eq!(k.scheduler_stats().await.unwrap().grants, 6);
    for pid in &pids {
        assert_eq!(k.providers().ledger.agent_totals(pid.pid()).calls, 1);
    }
    k.shutdown().await;
}
