//! The provider actor: one per backend. Its mailbox is the rate-limit queue — calls wait, in
//! slice-priority order, for RPM/TPM/concurrency budget, then run one attempt at a time under
//! the retry policy and the circuit breaker.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures::{FutureExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::backend::{Backend, Failed, ReplyBody, Timeouts};
use super::breaker::{BreakerState, CircuitBreaker};
use super::budget::{Budget, Permit, Wait};
use super::error::ProviderError;
use super::estimate::{
    count_text, embed_tokens, prompt_tokens, reservation, upper_embed, upper_reservation,
};
use super::headers::RateInfo;
use super::messages::{Chat, Embed, GetStats, ProviderStats};
use super::model::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, FinishReason, ResponseBuilder,
    StreamDelta,
};
use super::retry::{AttemptBudget, RetryPolicy};
use super::usage::UsageLedger;
use crate::scheduler::SliceToken;

/// Static settings of one provider actor.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// Backend name (logs, usage ledger).
    pub name: String,
    /// Budget limits.
    pub limits: super::budget::BudgetLimits,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Breaker settings.
    pub breaker: super::breaker::BreakerConfig,
    /// Attempt timeouts.
    pub timeouts: Timeouts,
}

enum Job {
    Chat {
        /// Shared with the attempt tasks (a retry re-sends it).
        req: Arc<ChatRequest>,
        sink: Option<mpsc::UnboundedSender<StreamDelta>>,
        reply: oneshot::Sender<Result<ChatResponse, ProviderError>>,
    },
    Embed {
        req: EmbedRequest,
        reply: oneshot::Sender<Result<EmbedResponse, ProviderError>>,
    },
}

impl Job {
    fn fail(self, e: ProviderError) {
        // The caller may have gone away; nothing to do then.
        match self {
            Job::Chat { reply, .. } => {
                let _ = reply.send(Err(e));
            }
            Job::Embed { reply, .. } => {
                let _ = reply.send(Err(e));
            }
        }
    }
}

struct Queued {
    priority: u8,
    seq: u64,
    token: SliceToken,
    attempts: AttemptBudget,
    tries: u32,
    /// Byte-based upper bound of the call's tokens (cheap, computed on arrival).
    upper: u64,
    /// The tiktoken estimate, computed only when the budget is tight (see [`Queued::charge`]).
    exact: Option<u64>,
    job: Job,
}

/// The bound is reserved as is while it is at most this fraction of the token room left;
/// closer to the limit the call is tokenized so the reservation is the tiktoken estimate.
const CHEAP_ROOM_FACTOR: u64 = 4;

impl Queued {
    /// Tokens to reserve for this call when `room` tokens are left (`None`: no token limit).
    /// A token is at least one byte, so the byte bound never under-reserves; tokenizing is
    /// only worth its CPU near the limit, where over-reserving could hold other calls back.
    fn charge(&mut self, room: Option<u64>) -> u64 {
        if let Some(n) = self.exact {
            return n;
        }
        if room.is_none_or(|r| self.upper.saturating_mul(CHEAP_ROOM_FACTOR) <= r) {
            return self.upper;
        }
        let n = match &self.job {
            Job::Chat { req, .. } => reservation(req),
            Job::Embed { req, .. } => embed_tokens(&req.inputs),
        };
        self.exact = Some(n);
        n
    }
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    /// Max-heap order: lower priority number first, then earlier arrival.
    fn cmp(&self, o: &Self) -> Ordering {
        o.priority.cmp(&self.priority).then(o.seq.cmp(&self.seq))
    }
}

/// What an attempt's task reports back to the actor. A success has already been delivered
/// to the caller (and recorded in the ledger) by the task; a failure comes back with its call
/// so the actor can decide on a retry.
enum Attempt {
    Delivered {
        rate: RateInfo,
        tokens: Option<u64>,
        preempted: bool,
    },
    Failed {
        q: Queued,
        failed: Failed,
    },
}

struct Finished {
    permit: Permit,
    attempt: Attempt,
}

impl Message for Finished {
    type Result = ();
}

/// Delivers a successful attempt to its caller and records its usage.
fn deliver(q: Queued, done: Done, rate: RateInfo, backend: &str, ledger: &UsageLedger) -> Attempt {
    let pid = q.token.pid();
    match (done, q.job) {
        (Done::Chat(mut r), Job::Chat { reply, .. }) => {
            if r.backend != backend {
                r.backend = backend.to_string();
            }
            ledger.record(pid, backend, &r.model, &r.usage);
            let (tokens, preempted) = (Some(r.usage.total()), r.is_preempted());
            let _ = reply.send(Ok(r));
            Attempt::Delivered {
                rate,
                tokens,
                preempted,
            }
        }
        (Done::Embed(mut r), Job::Embed { reply, .. }) => {
            r.backend = backend.to_string();
            ledger.record(pid, backend, &r.model, &r.usage);
            let tokens = Some(r.usage.total());
            let _ = reply.send(Ok(r));
            Attempt::Delivered {
                rate,
                tokens,
                preempted: false,
            }
        }
        (_, job) => {
            job.fail(ProviderError::Unavailable(
                "outcome did not match its job".into(),
            ));
            Attempt::Delivered {
                rate,
                tokens: None,
                preempted: false,
            }
        }
    }
}

enum Done {
    Chat(ChatResponse),
    Embed(EmbedResponse),
}

/// The actor.
pub struct ProviderActor {
    settings: ProviderSettings,
    /// `settings.name`, shared with the attempt tasks.
    name: Arc<str>,
    backend: Arc<dyn Backend>,
    budget: Budget,
    breaker: CircuitBreaker,
    queue: BinaryHeap<Queued>,
    seq: u64,
    wake: Option<(Instant, SpawnHandle)>,
    ledger: UsageLedger,
    stats: ProviderStats,
}

impl ProviderActor {
    /// An actor driving `backend` under `settings`, recording usage into `ledger`.
    pub fn new(settings: ProviderSettings, backend: Arc<dyn Backend>, ledger: UsageLedger) -> Self {
        ProviderActor {
            budget: Budget::new(settings.limits.clone()),
            breaker: CircuitBreaker::new(settings.breaker.clone()),
            stats: ProviderStats {
                backend: settings.name.clone(),
                ..ProviderStats::default()
            },
            name: Arc::from(settings.name.as_str()),
            settings,
            backend,
            queue: BinaryHeap::new(),
            seq: 0,
            wake: None,
            ledger,
        }
    }

    fn enqueue(
        &mut self,
        token: SliceToken,
        attempts: AttemptBudget,
        upper: u64,
        job: Job,
        ctx: &mut Context<Self>,
    ) {
        if !token.is_valid() {
            return job.fail(ProviderError::InvalidToken);
        }
        if !attempts.take() {
            return job.fail(ProviderError::AttemptsExhausted);
        }
        self.seq += 1;
        self.queue.push(Queued {
            priority: token.priority(),
            seq: self.seq,
            token,
            attempts,
            tries: 1,
            upper,
            exact: None,
            job,
        });
        self.pump(ctx);
    }

    fn schedule_wake(&mut self, at: Instant, ctx: &mut Context<Self>) {
        if let Some((t, h)) = self.wake {
            if t <= at {
                return;
            }
            ctx.cancel_future(h);
        }
        let delay = at.saturating_duration_since(Instant::now()) + Duration::from_millis(1);
        let h = ctx.run_later(delay, |act, ctx| {
            act.wake = None;
            act.pump(ctx);
        });
        self.wake = Some((at, h));
    }

    /// Dispatches as many queued calls as the budget and breaker allow.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        loop {
            let now = Instant::now();
            let Some(top) = self.queue.peek() else { return };
            if !top.token.is_valid() {
                if let Some(q) = self.queue.pop() {
                    q.job.fail(ProviderError::InvalidToken);
                }
                continue;
            }
            if let BreakerState::Open(_) = self.breaker.state(now) {
                let backend = self.settings.name.clone();
                for q in std::mem::take(&mut self.queue).into_vec() {
                    self.stats.failed += 1;
                    q.job.fail(ProviderError::BreakerOpen {
                        backend: backend.clone(),
                    });
                }
                return;
            }
            let room = self.budget.token_room(now);
            let charge = match self.queue.peek_mut() {
                Some(mut top) => top.charge(room),
                None => return,
            };
            match self.budget.try_acquire(now, charge) {
                Err(Wait::Until(t)) => {
                    self.sweep_invalid();
                    return self.schedule_wake(t, ctx);
                }
                Err(Wait::Completion) => return self.sweep_invalid(),
                Ok(permit) => {
                    if !self.breaker.allow(now) {
                        // Half-open with its probe out: wait for the probe's outcome.
                        self.budget.cancel(permit);
                        return;
                    }
                    if let Some(q) = self.queue.pop() {
                        self.dispatch(q, permit, ctx);
                    }
                }
            }
        }
    }

    /// While blocked, answers the queued calls whose slice was revoked or expired meanwhile.
    fn sweep_invalid(&mut self) {
        if self.queue.iter().all(|q| q.token.is_valid()) {
            return;
        }
        let (keep, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut self.queue)
            .into_vec()
            .into_iter()
            .partition(|q| q.token.is_valid());
        self.queue = keep.into();
        for q in gone {
            self.stats.failed += 1;
            q.job.fail(ProviderError::InvalidToken);
        }
    }

    fn dispatch(&mut self, q: Queued, permit: Permit, ctx: &mut Context<Self>) {
        self.stats.attempts += 1;
        let backend = self.backend.clone();
        let timeouts = self.settings.timeouts;
        let token = q.token.clone();
        let fut = match &q.job {
            Job::Chat { req, sink, .. } => {
                let (req, sink) = (Arc::clone(req), sink.clone());
                async move {
                    run_chat(backend, req, timeouts, token, sink)
                        .await
                        .map(|(r, i)| (Done::Chat(r), i))
                }
                .boxed()
            }
            Job::Embed { req, .. } => {
                let call = backend.embed(req.clone(), timeouts);
                async move {
                    tokio::select! {
                        r = call => r.map(|(e, i)| (Done::Embed(e), i)),
                        () = token.revoked() => Err(ProviderError::InvalidToken.into()),
                    }
                }
                .boxed()
            }
        };
        // Each attempt is its own task (woken on its own); its outcome comes back as a message.
        let addr = ctx.address();
        let (name, ledger) = (Arc::clone(&self.name), self.ledger.clone());
        actix::spawn(async move {
            let attempt = match fut.await {
                Ok((done, rate)) => deliver(q, done, rate, &name, &ledger),
                Err(failed) => Attempt::Failed { q, failed },
            };
            addr.do_send(Finished { permit, attempt });
        });
    }

    fn finish(&mut self, permit: Permit, attempt: Attempt, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let name = Arc::clone(&self.name);
        match attempt {
            Attempt::Delivered {
                rate,
                tokens,
                preempted,
            } => {
                self.budget.observe(&rate, now);
                self.budget.complete(permit, now, tokens);
                self.breaker.on_success();
                self.stats.succeeded += 1;
                self.stats.preempted += u64::from(preempted);
            }
            Attempt::Failed {
                q,
                failed: Failed { error, rate },
            } => {
                self.budget.observe(&rate, now);
                self.budget.complete(permit, now, None);
                if let ProviderError::RateLimited { retry_after, .. } = &error {
                    self.stats.rate_limited += 1;
                    let pause = retry_after.unwrap_or_else(|| self.settings.retry.backoff(q.tries));
                    info!(backend = %name, ?pause, "429: pausing the whole backend");
                    self.budget.pause(now + pause);
                }
                if error.counts_for_breaker() && self.breaker.on_failure(now) {
                    self.stats.breaker_opened += 1;
                    warn!(backend = %name, %error, "circuit breaker opened");
                }
                let retry = error.is_transient()
                    && q.tries < self.settings.retry.max_attempts
                    && q.token.is_valid()
                    && q.attempts.take();
                if !retry {
                    debug!(backend = %name, %error, tries = q.tries, "call failed");
                    self.stats.failed += 1;
                    return q.job.fail(error);
                }
                self.stats.retries += 1;
                let mut q = q;
                let delay = match error {
                    // The pause already holds dispatch back.
                    ProviderError::RateLimited { .. } => Duration::ZERO,
                    _ => self.settings.retry.backoff(q.tries),
                };
                debug!(backend = %name, %error, ?delay, tries = q.tries, "retrying");
                q.tries += 1;
                if let Job::Chat { sink: Some(s), .. } = &q.job {
                    let _ = s.send(StreamDelta::Reset);
                }
                ctx.run_later(delay, move |act, ctx| {
                    act.queue.push(q);
                    act.pump(ctx);
                });
            }
        }
    }
}

/// One chat attempt, streamed or not, cut short when the slice is revoked.
async fn run_chat(
    backend: Arc<dyn Backend>,
    req: Arc<ChatRequest>,
    timeouts: Timeouts,
    token: SliceToken,
    sink: Option<mpsc::UnboundedSender<StreamDelta>>,
) -> Result<(ChatResponse, RateInfo), Failed> {
    let preempted = |content: String| {
        let usage = super::model::Usage {
            prompt_tokens: prompt_tokens(&req),
            completion_tokens: count_text(&content),
        };
        ChatResponse {
            model: req.model.clone(),
            content,
            finish_reason: Some(FinishReason::Preempted),
            usage,
            ..ChatResponse::default()
        }
    };
    let call = backend.chat(&req, timeouts);
    let reply = tokio::select! {
        r = call => r?,
        () = token.revoked() => return Ok((preempted(String::new()), RateInfo::default())),
    };
    let mut stream = match reply.body {
        ReplyBody::Complete(mut r) => {
            if r.model.is_empty() {
                r.model.clone_from(&req.model);
            }
            return Ok((r, reply.rate));
        }
        ReplyBody::Stream(s) => s,
    };
    let rate = reply.rate;
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
                let mut p = preempted(std::mem::take(&mut partial.content));
                p.reasoning = partial.reasoning;
                p.tool_calls = partial.tool_calls;
                if partial.usage.completion_tokens > 0 {
                    p.usage = partial.usage;
                }
                return Ok((p, rate));
            }
            Some(None) => break,
            Some(Some(Err(error))) => return Err(Failed { error, rate }),
            Some(Some(Ok(d))) => {
                b.apply(&d);
                if let Some(s) = &sink {
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
            prompt_tokens: prompt_tokens(&req),
            completion_tokens: count_text(&r.content),
        };
    }
    Ok((r, rate))
}

impl Actor for ProviderActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The mailbox only hands calls to the priority queue; keep it roomy so bursts do not park senders.
        ctx.set_mailbox_capacity(4096);
        info!(backend = %self.settings.name, kind = self.backend.kind(), "provider actor started");
    }
}

impl Handler<Chat> for ProviderActor {
    type Result = ();

    fn handle(&mut self, msg: Chat, ctx: &mut Context<Self>) {
        let upper = upper_reservation(&msg.req);
        let job = Job::Chat {
            req: Arc::new(msg.req),
            sink: msg.sink,
            reply: msg.reply,
        };
        self.enqueue(msg.token, msg.attempts, upper, job, ctx);
    }
}

impl Handler<Finished> for ProviderActor {
    type Result = ();

    fn handle(&mut self, msg: Finished, ctx: &mut Context<Self>) {
        self.finish(msg.permit, msg.attempt, ctx);
        self.pump(ctx);
    }
}

impl Handler<Embed> for ProviderActor {
    type Result = ();

    fn handle(&mut self, msg: Embed, ctx: &mut Context<Self>) {
        let upper = upper_embed(&msg.req.inputs);
        let job = Job::Embed {
            req: msg.req,
            reply: msg.reply,
        };
        self.enqueue(msg.token, msg.attempts, upper, job, ctx);
    }
}

impl Handler<GetStats> for ProviderActor {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _: GetStats, _: &mut Context<Self>) -> Self::Result {
        let now = Instant::now();
        let mut s = self.stats.clone();
        s.queued = self.queue.len();
        s.in_flight = self.budget.in_flight();
        s.breaker = Some(self.breaker.state(now));
        s.paused_until = self.budget.paused_until(now);
        MessageResult(s)
    }
}
