//! `Kernel::metrics_text`: the Prometheus exposition of the kernel's state and events after
//! real work (agents spawned, a message queued, an LLM call through the scheduler and a
//! provider actor), parsed line by line.

mod common;
mod support;

use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{BackendConfig, BackendKind, ChatRequest, ChatResponse, Message};
use support::*;

struct Caller;

impl Agent for Caller {
    type Msg = String;
    type Reply = ChatResponse;
    async fn handle(
        &mut self,
        prompt: String,
        ctx: &mut AgentContext,
    ) -> Result<ChatResponse, AgentError> {
        Ok(ctx
            .llm(ChatRequest::new("test-model", vec![Message::user(prompt)]))
            .await?)
    }
}

/// The value of the first sample that starts with `series` followed by the end of the name,
/// of a label, or of the labels.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            l.strip_prefix(series)
                .is_some_and(|rest| rest.starts_with([' ', ',', '}', '"'].as_slice()))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[actix_rt::test]
async fn the_prometheus_text_reports_agents_scheduler_providers_and_usage() {
    let mut cfg = KernelConfig::default();
    cfg.providers
        .backends
        .insert("scripted".into(), BackendConfig::new(BackendKind::Scripted));
    let (k, _db) = kernel_with(cfg).await;
    let caller = k
        .spawn(|| Caller, SpawnOptions::new("caller"))
        .await
        .unwrap();
    let _idle = k.spawn(|| Caller, SpawnOptions::new("idle")).await.unwrap();
    let answer = caller
        .ask("count my tokens".to_owned())
        .timeout(LONG)
        .await
        .unwrap();
    assert_eq!(answer.backend, "scripted");

    let text = k.metrics_text().await;
    let alive: f64 = text
        .lines()
        .filter(|l| l.starts_with("aok_agents{state="))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(alive, 2.0, "two agents, whatever their state:\n{text}");
    assert_eq!(
        sample(&text, "aok_agents{state=\"terminated\""),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "aok_scheduler_grants_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "aok_messages_handled_total"),
        Some(1.0),
        "{text}"
    );
    let backend = "{backend=\"scripted\"";
    assert_eq!(
        sample(&text, &format!("aok_provider_attempts_total{backend}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("aok_provider_rate_limited_total{backend}")),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("aok_provider_breaker_state{backend}")),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "aok_llm_calls_total{backend=\"scripted\",model="),
        Some(1.0),
        "{text}"
    );
    let prompt = text
        .lines()
        .find(|l| l.starts_with("aok_llm_tokens_total") && l.contains("kind=\"prompt\""))
        .unwrap_or_else(|| panic!("prompt tokens:\n{text}"));
    let tokens: f64 = prompt.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(tokens > 0.0, "{prompt}");
    // The latency of the attempt, measured where it happened (a histogram with buckets).
    assert!(
        text.lines().any(
            |l| l.starts_with("aok_provider_request_duration_seconds_bucket")
                && l.contains("backend=\"scripted\"")
                && l.contains("outcome=\"ok\"")
        ),
        "latency histogram:\n{text}"
    );
    // Every line is a comment or `name{labels} value`.
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let value = line.rsplit(' ').next().unwrap();
        assert!(
            value.parse::<f64>().is_ok() || value == "+Inf",
            "bad sample line {line}"
        );
        assert!(line.starts_with("aok_"), "foreign series {line}");
    }
    k.shutdown().await;
}

/// A message waiting in a mailbox shows up in the depth gauges.
struct Stuck;

impl Agent for Stuck {
    type Msg = ();
    type Reply = ();
    async fn handle(&mut self, _: (), _ctx: &mut AgentContext) -> Result<(), AgentError> {
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[actix_rt::test]
async fn mailbox_depths_are_reported_per_agent_and_in_total() {
    let (k, _db) = kernel().await;
    let stuck = k.spawn(|| Stuck, SpawnOptions::new("stuck")).await.unwrap();
    for _ in 0..3 {
        stuck.tell(()).await.unwrap();
    }
    // One message is being handled (forever), two wait.
    let queued = eventually(LONG, || {
        k.status(stuck.pid())
            .map(|s| s.mailbox_len == 2)
            .unwrap_or(false)
    })
    .await;
    assert!(queued, "two messages wait");
    let text = k.metrics_text().await;
    assert_eq!(sample(&text, "aok_mailbox_depth_max"), Some(2.0), "{text}");
    assert_eq!(sample(&text, "aok_mailbox_depth"), Some(2.0), "{text}");
    let per_agent = format!(
        "aok_mailbox_depth{{name=\"stuck\",pid=\"{}\"}}",
        stuck.pid()
    );
    let alt = format!(
        "aok_mailbox_depth{{pid=\"{}\",name=\"stuck\"}}",
        stuck.pid()
    );
    assert!(
        text.contains(&per_agent) || text.contains(&alt),
        "per-agent depth:\n{text}"
    );
    k.kill(stuck.pid()).await.unwrap();
    k.shutdown().await;
}
