//! Driving one call through its attempts: admission at the gate, the attempt itself (cut short
//! when the slice is revoked), the accounting, retries, and the answer.
//!
//! The same driver runs in the caller's task (a call admitted on arrival: no actor hop) and in
//! a task the provider actor spawns for a call it pumped out of the queue.

use std::sync::Arc;
use std::time::Instant;

use actix::Addr;
use actix::prelude::SendError;
use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::actor::ProviderActor;
use super::backend::{Backend, Failed, ReplyBody, Timeouts};
use super::budget::Permit;
use super::error::ProviderError;
use super::estimate::{count_text, prompt_tokens};
use super::gate::{Entry, Gate, Verdict};
use super::headers::RateInfo;
use super::messages::Pump;
use super::model::{
    ChatRequest, ChatResponse, EmbedRequest, FinishReason, ResponseBuilder, StreamDelta,
};
use super::queued::{Done, Job, Pending, Queued};
use super::retry::AttemptBudget;
use super::usage::UsageLedger;
use crate::scheduler::SliceToken;

/// What the provider actor and its callers share.
pub(super) struct Shared {
    pub(super) gate: Mutex<Gate>,
    pub(super) backend: Arc<dyn Backend>,
    /// Backend name (logs, usage ledger, responses).
    pub(super) name: Arc<str>,
    pub(super) timeouts: Timeouts,
    pub(super) ledger: UsageLedger,
}

/// Asks the actor to pump its queue; if the actor is gone, answers every queued call.
pub(super) fn poke(shared: &Shared, addr: &Addr<ProviderActor>) {
    // A full mailbox already holds a pump; a closed one has no actor left to pump.
    if let Err(SendError::Closed(_)) = addr.try_send(Pump) {
        for q in shared.gate.lock().drain() {
            // Queued calls always have their channel: nothing comes back.
            let _ = q.answer(Err(stopped()));
        }
    }
}

pub(super) fn stopped() -> ProviderError {
    ProviderError::Unavailable("provider actor stopped".into())
}

/// Hands a permit back if the attempt holding it is dropped half-way (its caller went away).
struct Held<'a> {
    shared: &'a Shared,
    addr: &'a Addr<ProviderActor>,
    permit: Option<Permit>,
}

impl Held<'_> {
    fn take(mut self) -> Permit {
        self.permit
            .take()
            .unwrap_or_else(|| unreachable!("taken once"))
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.permit.take()
            && self.shared.gate.lock().attempt_dropped(p, Instant::now())
        {
            poke(self.shared, self.addr);
        }
    }
}

/// How [`drive`] left a call.
pub(super) enum Driven {
    /// Ended in the driving task, which had no channel to answer on: here is the result.
    Answered(Result<Done, ProviderError>),
    /// Answered on the call's channel, or parked: the pump's task answers it later, on the
    /// receiver given here (`None`: on the channel the call already had).
    Later(Option<Pending>),
}

impl Driven {
    fn from_answer(r: Option<Result<Done, ProviderError>>) -> Self {
        match r {
            Some(r) => Driven::Answered(r),
            None => Driven::Later(None),
        }
    }
}

/// Runs one call on this backend: refused at once without a valid slice or attempts left;
/// otherwise driven from the caller's task until answered, or parked and then answered by the
/// task the actor's pump starts for it. Only a parked call gets a channel: one admitted on
/// arrival returns its result straight from this task. `into` takes the kind of result the
/// caller asked for out of it.
pub(super) async fn submit<T>(
    shared: &Shared,
    addr: &Addr<ProviderActor>,
    (job, upper): (Job, u64),
    token: &SliceToken,
    attempts: &AttemptBudget,
    into: fn(Done) -> Result<T, ProviderError>,
) -> Result<T, ProviderError> {
    if !token.is_valid() {
        return Err(ProviderError::InvalidToken);
    }
    if !attempts.take() {
        return Err(ProviderError::AttemptsExhausted);
    }
    let q = Queued::new(token.clone(), attempts.clone(), upper, job);
    let dropped = || ProviderError::Unavailable("call dropped".into());
    match drive(shared, addr, q, None).await {
        Driven::Answered(r) => r.and_then(into),
        Driven::Later(Some(rx)) => rx.await.map_err(|_| dropped())?.and_then(into),
        // Unreachable: the call had no channel until it parked, and parking hands one out.
        Driven::Later(None) => Err(dropped()),
    }
}

/// Drives `q` until it is answered or parked in the queue (the pump picks it up later).
/// `admitted` is the permit of a call the pump already admitted.
pub(super) async fn drive(
    shared: &Shared,
    addr: &Addr<ProviderActor>,
    mut q: Queued,
    mut admitted: Option<Permit>,
) -> Driven {
    loop {
        let permit = match admitted.take() {
            Some(p) => p,
            None => {
                let entry = shared.gate.lock().enter(q, Instant::now());
                match entry {
                    Entry::Go(back, p) => {
                        q = back;
                        p
                    }
                    Entry::Parked(rx) => {
                        poke(shared, addr);
                        return Driven::Later(rx);
                    }
                    Entry::Refused(q, e) => return Driven::from_answer(q.answer(Err(e))),
                }
            }
        };
        let held = Held {
            shared,
            addr,
            permit: Some(permit),
        };
        // One attempt of `q` on the backend (written out here rather than as a function of its
        // own: every level of futures costs each call its poll and its moves).
        let outcome = match &q.job {
            Job::Chat { req, sink } => run_chat(shared, req, &q.token, sink.as_ref())
                .await
                .map(|(r, i)| (Done::Chat(r), i)),
            Job::Embed { req } => run_embed(shared, req, &q.token).await,
        };
        let permit = held.take();
        let now = Instant::now();
        let failed = match outcome {
            Ok((mut done, rate)) => {
                let (tokens, preempted) = record(shared, &q, &mut done);
                let waiting = shared
                    .gate
                    .lock()
                    .succeeded(permit, &rate, tokens, preempted, now);
                if waiting {
                    poke(shared, addr);
                }
                return Driven::from_answer(q.answer(Ok(done)));
            }
            Err(failed) => failed,
        };
        let (verdict, waiting) = shared.gate.lock().failed(permit, &q, failed, now);
        if waiting {
            poke(shared, addr);
        }
        match verdict {
            Verdict::Fail(e) => return Driven::from_answer(q.answer(Err(e))),
            Verdict::Retry(delay) => {
                q.reset_stream();
                if !delay.is_zero() {
                    // Boxed: a rare state, kept out of every call's future.
                    Box::pin(tokio::time::sleep(delay)).await;
                }
                q.tries += 1;
            }
        }
    }
}

/// Names the backend on a result and records its usage; returns the tokens it used and
/// whether it was preempted.
fn record(shared: &Shared, q: &Queued, done: &mut Done) -> (Option<u64>, bool) {
    let (pid, name) = (q.token.pid(), &*shared.name);
    match done {
        Done::Chat(r) => {
            if r.backend != name {
                r.backend = name.to_string();
            }
            shared.ledger.record(pid, name, &r.model, &r.usage);
            (Some(r.usage.total()), r.is_preempted())
        }
        Done::Embed(r) => {
            r.backend = name.to_string();
            shared.ledger.record(pid, name, &r.model, &r.usage);
            (Some(r.usage.total()), false)
        }
    }
}

/// One embeddings attempt, refused when the slice is revoked meanwhile.
async fn run_embed(
    shared: &Shared,
    req: &EmbedRequest,
    token: &SliceToken,
) -> Result<(Done, RateInfo), Failed> {
    let call = shared.backend.embed(req.clone(), shared.timeouts);
    tokio::select! {
        biased;
        r = call => r.map(|(e, i)| (Done::Embed(e), i)),
        () = token.revoked() => Err(ProviderError::InvalidToken.into()),
    }
}

/// The answer of an attempt cut short by a revoked slice: the partial `content`, with the
/// usage estimated from the request and that content.
fn preempted(req: &ChatRequest, content: String) -> ChatResponse {
    let usage = super::model::Usage {
        prompt_tokens: prompt_tokens(req),
        completion_tokens: count_text(&content),
    };
    ChatResponse {
        model: req.model.clone(),
        content,
        finish_reason: Some(FinishReason::Preempted),
        usage,
        ..ChatResponse::default()
    }
}

/// One chat attempt, streamed or not, cut short when the slice is revoked.
async fn run_chat(
    shared: &Shared,
    req: &ChatRequest,
    token: &SliceToken,
    sink: Option<&mpsc::UnboundedSender<StreamDelta>>,
) -> Result<(ChatResponse, RateInfo), Failed> {
    let call = shared.backend.chat(req, shared.timeouts);
    // Biased: no random start (the call is polled first; a revocation still wakes the task).
    let reply = tokio::select! {
        biased;
        r = call => r?,
        () = token.revoked() => return Ok((preempted(req, String::new()), RateInfo::default())),
    };
    match reply.body {
        ReplyBody::Complete(mut r) => {
            if r.model.is_empty() {
                r.model.clone_from(&req.model);
            }
            Ok((r, reply.rate))
        }
        // Boxed: the stream's state lives on the heap only while a stream is read, which
        // keeps every call's future (and each move of it) small.
        ReplyBody::Stream(s) => Box::pin(read_stream(req, token, sink, s))
            .await
            .map(|r| (r, reply.rate))
            .map_err(|error| Failed {
                error,
                rate: reply.rate,
            }),
    }
}

/// Reads a streamed reply to its end (forwarding deltas to `sink`), or until the slice is
/// revoked: then the partial output comes back as a preempted answer.
async fn read_stream(
    req: &ChatRequest,
    token: &SliceToken,
    sink: Option<&mpsc::UnboundedSender<StreamDelta>>,
    mut stream: super::backend::DeltaStream,
) -> Result<ChatResponse, ProviderError> {
    let mut b = ResponseBuilder::default();
    loop {
        let item = tokio::select! {
            biased;
            () = token.revoked() => None,
            item = stream.next() => Some(item),
        };
        match item {
            // Revoked: stop at this chunk and hand back the partial output.
            None => {
                let mut partial = b.finish();
                let mut p = preempted(req, std::mem::take(&mut partial.content));
                p.reasoning = partial.reasoning;
                p.tool_calls = partial.tool_calls;
                if partial.usage.completion_tokens > 0 {
                    p.usage = partial.usage;
                }
                return Ok(p);
            }
            Some(None) => break,
            Some(Some(Err(error))) => return Err(error),
            Some(Some(Ok(d))) => {
                b.apply(&d);
                if let Some(s) = sink {
                    let _ = s.send(d);
                }
            }
        }
    }
    let mut r = b.finish();
    if r.model.is_empty() {
        r.model.clone_from(&req.model);
    }
    if r.finish_reason.is_none() {
        r.finish_reason = Some(FinishReason::Stop);
    }
    if r.usage.total() == 0 {
        r.usage = super::model::Usage {
            prompt_tokens: prompt_tokens(req),
            completion_tokens: count_text(&r.content),
        };
    }
    Ok(r)
}
