//! The kernel's state written into a fresh recorder at each scrape.

use std::collections::BTreeMap;

use metrics::{counter, gauge};

use super::names::*;
use crate::Kernel;
use crate::agent::{AgentState, WaitReason};
use crate::provider::BreakerState;

/// Every state an agent can be in, so that each appears (at 0 when empty).
const STATES: [AgentState; 9] = [
    AgentState::Created,
    AgentState::Ready,
    AgentState::Running,
    AgentState::Waiting(WaitReason::Message),
    AgentState::Waiting(WaitReason::Slice),
    AgentState::Waiting(WaitReason::Quota),
    AgentState::Waiting(WaitReason::Reply),
    AgentState::Suspended,
    AgentState::Terminated,
];

/// The Prometheus text for `kernel`: its state now, then the event metrics of the global
/// recorder when it is the kernel's.
pub(crate) async fn render(kernel: &Kernel) -> String {
    let recorder = super::builder().build_recorder();
    let handle = recorder.handle();
    let scheduler = kernel.scheduler_stats().await.ok();
    let agents = kernel.list();
    let providers = kernel.providers().router.stats();
    let usage = kernel.providers().ledger.snapshot();
    let audit = kernel.audit().stats();
    metrics::with_local_recorder(&recorder, || {
        let mut by_state: BTreeMap<&'static str, usize> =
            STATES.iter().map(|s| (s.as_str(), 0)).collect();
        let (mut depth, mut deepest, mut handled, mut restarts) = (0_usize, 0_usize, 0_u64, 0_u64);
        for a in &agents {
            *by_state.entry(a.state.as_str()).or_default() += 1;
            depth = depth.saturating_add(a.mailbox_len);
            deepest = deepest.max(a.mailbox_len);
            handled = handled.saturating_add(a.handled);
            restarts = restarts.saturating_add(u64::from(a.restarts));
            if a.mailbox_len > 0 {
                let labels = [("pid", a.pid.to_string()), ("name", a.name.clone())];
                gauge!(MAILBOX_DEPTH, &labels).set(a.mailbox_len as f64);
            }
        }
        for (state, n) in by_state {
            gauge!(AGENTS, "state" => state).set(n as f64);
        }
        gauge!(MAILBOX_DEPTH).set(depth as f64);
        gauge!(MAILBOX_DEPTH_MAX).set(deepest as f64);
        counter!(MESSAGES_HANDLED).absolute(handled);
        counter!(RESTARTS).absolute(restarts);

        if let Some(s) = &scheduler {
            counter!(GRANTS).absolute(s.grants);
            counter!(PREEMPTIONS).absolute(s.preemptions);
            counter!(EXPIRATIONS).absolute(s.expirations);
            counter!(DENIALS).absolute(s.denials);
            gauge!(RUNNING).set(s.running as f64);
            gauge!(QUEUED).set(s.queued as f64);
            gauge!(WAITING_QUOTA).set(s.waiting_quota as f64);
            for (q, d) in [
                ("0.5", s.wait_p50),
                ("0.9", s.wait_p90),
                ("0.99", s.wait_p99),
            ] {
                gauge!(WAIT, "quantile" => q).set(d.as_secs_f64());
            }
        }

        for p in &providers {
            let b = [("backend", p.backend.clone())];
            counter!(PROVIDER_ATTEMPTS, &b).absolute(p.attempts);
            counter!(PROVIDER_SUCCEEDED, &b).absolute(p.succeeded);
            counter!(PROVIDER_FAILED, &b).absolute(p.failed);
            counter!(PROVIDER_RETRIES, &b).absolute(p.retries);
            counter!(PROVIDER_RATE_LIMITED, &b).absolute(p.rate_limited);
            counter!(PROVIDER_PREEMPTED, &b).absolute(p.preempted);
            counter!(PROVIDER_BREAKER_OPENED, &b).absolute(p.breaker_opened);
            let breaker = match p.breaker {
                None | Some(BreakerState::Closed) => 0.0,
                Some(BreakerState::HalfOpen) => 1.0,
                Some(BreakerState::Open(_)) => 2.0,
            };
            gauge!(PROVIDER_BREAKER, &b).set(breaker);
            gauge!(PROVIDER_IN_FLIGHT, &b).set(p.in_flight as f64);
            gauge!(PROVIDER_QUEUED, &b).set(p.queued as f64);
        }

        let mut by_model: BTreeMap<(String, String), crate::provider::UsageTotals> =
            BTreeMap::new();
        for (key, totals) in usage {
            by_model
                .entry((key.backend, key.model))
                .or_default()
                .add(&totals);
        }
        for ((backend, model), t) in by_model {
            let labels = [("backend", backend), ("model", model)];
            counter!(LLM_CALLS, &labels).absolute(t.calls);
            gauge!(LLM_COST, &labels).set(t.cost_usd());
            for (kind, n) in [
                ("prompt", t.prompt_tokens),
                ("completion", t.completion_tokens),
            ] {
                let [backend, model] = labels.clone();
                let labels = [backend, model, ("kind", kind.to_string())];
                counter!(LLM_TOKENS, &labels).absolute(n);
            }
        }

        counter!(AUDIT_WRITTEN).absolute(audit.written);
        counter!(AUDIT_DROPPED).absolute(audit.dropped);
    });
    let mut text = handle.render();
    if let Some(global) = super::global() {
        text.push_str(&global.render());
    }
    text
}
