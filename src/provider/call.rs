//! One backend's call path, top to bottom: admission at the gate, a slice for the attempt, the
//! attempt itself (cut short when the slice is revoked), the accounting, and a retry or the
//! answer. Chat and embeddings take the same path; only the attempt differs.

use std::sync::Arc;

use actix::{Actor, Addr};
use futures::StreamExt;
use tracing::debug;

use super::actor::ProviderActor;
use super::backend::{Backend, DeltaStream, Failed, ReplyBody};
use super::config::BackendConfig;
use super::echo::{EchoCut, cut_echo};
use super::estimate::{prompt_tokens, text_tokens};
use super::gate::Gate;
use super::headers::RateInfo;
use super::job::{Done, Estimate, Job, Sink};
use super::model::{ChatRequest, ChatResponse, FinishReason, ResponseBuilder, StreamDelta, Usage};
use super::retry::{AttemptBudget, RetryPolicy};
use super::slices::SliceSource;
use super::stats::ProviderStats;
use super::usage::UsageLedger;
use super::{budget::BudgetLimits, error::ProviderError};
use crate::scheduler::SliceToken;

/// One configured backend: its client, its gate, its retry policy, and the provider actor that
/// owns the gate's timers and lifetime.
#[derive(Clone)]
pub(crate) struct Lane {
    name: Arc<str>,
    backend: Arc<dyn Backend>,
    gate: Arc<Gate>,
    retry: RetryPolicy,
    ledger: UsageLedger,
    /// Keeps the actor alive as long as the lane.
    _actor: Addr<ProviderActor>,
}

impl std::fmt::Debug for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane")
            .field("backend", &&*self.name)
            .field("kind", &self.backend.kind())
            .finish_non_exhaustive()
    }
}

impl Lane {
    /// Starts the backend's provider actor on the current arbiter (inside an actix system).
    pub(crate) fn start(
        name: &str,
        cfg: &BackendConfig,
        backend: Arc<dyn Backend>,
        ledger: UsageLedger,
    ) -> Lane {
        let name: Arc<str> = name.into();
        let limits = BudgetLimits {
            requests: cfg.rpm,
            tokens: cfg.tpm,
            window: std::time::Duration::from_millis(cfg.window_ms.max(1)),
            max_concurrency: cfg.max_concurrency.max(1),
        };
        let gate = Arc::new(Gate::new(Arc::clone(&name), limits, cfg.breaker.clone()));
        let actor = ProviderActor::new(Arc::clone(&gate), Arc::clone(&name), backend.kind());
        Lane {
            name,
            backend,
            gate,
            retry: cfg.retry.clone(),
            ledger,
            _actor: actor.start(),
        }
    }

    /// The backend's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Counters and state now.
    pub(crate) fn stats(&self) -> ProviderStats {
        self.gate.stats()
    }

    /// Runs `job` on this backend: admitted by the gate, under a slice from `slices`, retried
    /// on transient errors while this backend's `retry.max_attempts` and the call's
    /// `attempts` allow.
    pub(crate) async fn call(
        &self,
        job: &Job,
        estimate: &Estimate,
        slices: &impl SliceSource,
        attempts: &AttemptBudget,
    ) -> Result<Done, ProviderError> {
        if !attempts.take() {
            return Err(ProviderError::AttemptsExhausted);
        }
        let mut tries = 1;
        loop {
            // 1. Admission: queue order, RPM/TPM/concurrency, breaker. No slice is held here.
            let charge = estimate.charge(job, self.gate.token_room());
            let permit = self.gate.admit(slices.priority(), charge).await?;
            // 2. The slice (the CPU), only now that the request can go to the backend.
            let tokens = if slices.exact_estimate() {
                estimate.exact(job)
            } else {
                charge
            };
            let slice = match slices.acquire(&self.name, tokens).await {
                Ok(s) if s.is_valid() => s,
                Ok(_) => {
                    permit.cancel();
                    return Err(ProviderError::InvalidToken);
                }
                Err(e) => {
                    permit.cancel();
                    return Err(e);
                }
            };
            // 3. One attempt.
            let started = std::time::Instant::now();
            let outcome = attempt(&*self.backend, job, &slice).await;
            let outcome_label = if outcome.is_ok() { "ok" } else { "error" };
            metrics::histogram!(
                crate::telemetry::PROVIDER_LATENCY,
                "backend" => self.name.to_string(),
                "outcome" => outcome_label
            )
            .record(started.elapsed().as_secs_f64());
            // 4. Accounting: the slice goes back, the ledger and the gate learn the outcome.
            let failed = match outcome {
                Ok((mut done, rate)) => {
                    let (model, usage) = self.record(&slice, &mut done);
                    slices.release(slice, Some((&model, &usage)));
                    let preempted = matches!(&done, Done::Chat(r) if r.is_preempted());
                    permit.succeeded(&rate, Some(done.tokens()), preempted);
                    return Ok(done);
                }
                Err(failed) => {
                    slices.release(slice, None);
                    failed
                }
            };
            // 5. A retry, or the answer.
            let Failed { error, rate } = failed;
            let retry = error.is_transient() && tries < self.retry.max_attempts && attempts.take();
            let pause = match &error {
                ProviderError::RateLimited { retry_after, .. } => {
                    Some(retry_after.unwrap_or_else(|| self.retry.backoff(tries)))
                }
                _ => None,
            };
            permit.failed(&error, &rate, pause, retry);
            if !retry {
                debug!(backend = %self.name, %error, tries, "call failed");
                return Err(error);
            }
            job.reset_stream();
            // A 429's pause already holds the gate; other errors back off here, slice-less.
            if pause.is_none() {
                tokio::time::sleep(self.retry.backoff(tries)).await;
            }
            debug!(backend = %self.name, %error, tries, "retrying");
            tries += 1;
        }
    }

    /// Names this backend on a result and records its usage under the slice's agent; returns
    /// the model and usage for the slice's release.
    fn record(&self, slice: &SliceToken, done: &mut Done) -> (String, Usage) {
        let (backend, model, usage) = match done {
            Done::Chat(r) => (&mut r.backend, &r.model, r.usage),
            Done::Embed(r) => (&mut r.backend, &r.model, r.usage),
        };
        if **backend != *self.name {
            *backend = self.name.to_string();
        }
        self.ledger.record(slice.pid(), &self.name, model, &usage);
        (model.clone(), usage)
    }
}

/// One attempt of `job` on `backend` under `slice`.
async fn attempt(
    backend: &dyn Backend,
    job: &Job,
    slice: &SliceToken,
) -> Result<(Done, RateInfo), Failed> {
    match job {
        Job::Chat { req, sink } => chat(backend, req, slice, sink.as_ref())
            .await
            .map(|(r, rate)| (Done::Chat(r), rate)),
        Job::Embed { req } => tokio::select! {
            r = backend.embed(req) => r.map(|(e, rate)| (Done::Embed(e), rate)),
            () = slice.revoked() => Err(ProviderError::InvalidToken.into()),
        },
    }
}

/// One chat attempt, streamed or not. A revoked slice ends it with the output so far
/// (`FinishReason::Preempted`; empty for a non-streamed call).
async fn chat(
    backend: &dyn Backend,
    req: &ChatRequest,
    slice: &SliceToken,
    sink: Option<&Sink>,
) -> Result<(ChatResponse, RateInfo), Failed> {
    let reply = tokio::select! {
        r = backend.chat(req) => r?,
        () = slice.revoked() => return Ok((preempted(req, ResponseBuilder::default()), RateInfo::default())),
    };
    let mut r = match reply.body {
        ReplyBody::Complete(mut r) => {
            cut_echo(&mut r.content, req.continuation.as_deref());
            r
        }
        ReplyBody::Stream(s) => read_stream(req, slice, sink, s)
            .await
            .map_err(|error| Failed {
                error,
                rate: reply.rate,
            })?,
    };
    if r.model.is_empty() {
        r.model.clone_from(&req.model);
    }
    Ok((r, reply.rate))
}

/// Reads a streamed reply to its end, forwarding deltas to `sink`, or until the slice is
/// revoked (then the partial output comes back, preempted). A continuation's prefix echoed at
/// the start of the reply is cut (`echo.rs`).
async fn read_stream(
    req: &ChatRequest,
    slice: &SliceToken,
    sink: Option<&Sink>,
    mut stream: DeltaStream,
) -> Result<ChatResponse, ProviderError> {
    let mut b = ResponseBuilder::default();
    let mut echo = EchoCut::new(req.continuation.as_deref());
    let pass = |b: &mut ResponseBuilder, d: StreamDelta| {
        b.apply(&d);
        if let Some(s) = sink {
            let _ = s.send(d);
        }
    };
    loop {
        let item = tokio::select! {
            () = slice.revoked() => return Ok(preempted(req, b)),
            item = stream.next() => item,
        };
        match item {
            None => break,
            Some(Err(error)) => return Err(error),
            Some(Ok(StreamDelta::Text(t))) => {
                if let Some(t) = echo.text(t) {
                    pass(&mut b, StreamDelta::Text(t));
                }
            }
            Some(Ok(d)) => {
                if let Some(t) = echo.flush() {
                    pass(&mut b, StreamDelta::Text(t));
                }
                pass(&mut b, d);
            }
        }
    }
    if let Some(t) = echo.flush() {
        pass(&mut b, StreamDelta::Text(t));
    }
    let mut r = b.finish();
    if r.finish_reason.is_none() {
        r.finish_reason = Some(FinishReason::Stop);
    }
    if r.usage.total() == 0 {
        r.usage = estimated_usage(req, &r.content);
    }
    Ok(r)
}

/// Usage estimated from the request and the output, for a reply that reported none.
fn estimated_usage(req: &ChatRequest, output: &str) -> Usage {
    Usage {
        prompt_tokens: prompt_tokens(req),
        completion_tokens: text_tokens(output),
    }
}

/// The answer of an attempt cut short by a revoked slice: the output so far, with usage
/// estimated unless the stream reported some.
fn preempted(req: &ChatRequest, so_far: ResponseBuilder) -> ChatResponse {
    let mut r = so_far.finish();
    if r.usage.completion_tokens == 0 {
        r.usage = estimated_usage(req, &r.content);
    }
    r.model.clone_from(&req.model);
    r.finish_reason = Some(FinishReason::Preempted);
    r
}
