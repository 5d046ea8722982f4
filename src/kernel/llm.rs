//! The LLM syscall: router (fallback chain) → per backend: gate admission, then a slice per
//! attempt named for that backend, released with its usage; a preempted generation re-queues
//! and continues from its partial output.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use crate::agent::AgentContext;
use crate::provider::{
    self, ChatRequest, ChatResponse, ProviderError, Providers, SliceSource, StreamDelta,
};
use crate::scheduler::{Quota, SchedulerConfig, SchedulerError, SliceToken, Usage};

/// An LLM call that did not complete.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// The kernel has no LLM backend at all.
    #[error(
        "no LLM backend is configured: list one under [providers.backends.<name>] in the configuration, export an API-key variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, DEEPSEEK_API_KEY, MOONSHOT_API_KEY, DASHSCOPE_API_KEY, MINIMAX_API_KEY) with providers.detect = true, set providers.probe_ollama = true for a local Ollama, or providers.offline_fallback = true for the offline scripted backend"
    )]
    NotConfigured,
    /// No slice could be had (over a per-request cap, scheduler stopped, …).
    #[error("no slice for the LLM call: {0}")]
    Slice(#[from] SchedulerError),
    /// The provider layer failed (after its retries and fallbacks).
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// No backend serves the requested model.
    #[error("no LLM backend is configured for model `{0}`")]
    NoBackend(String),
    /// The agent's policy does not allow this model; no call was made.
    #[error(transparent)]
    Denied(#[from] crate::security::policy::Denied),
    /// A runaway limit ended the agent's task; no call was made.
    #[error(transparent)]
    Runaway(#[from] crate::checkpoint::RunawayLimit),
}

/// Probes a local Ollama (TCP connect to 127.0.0.1:11434, 200 ms).
pub(crate) async fn ollama_is_up() -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(("127.0.0.1", 11434))
        )
        .await,
        Ok(Ok(_))
    )
}

impl crate::Kernel {
    /// The provider layer: router (with fallback chains) and the usage ledger.
    pub fn providers(&self) -> &Providers {
        &self.inner.providers
    }
}

impl AgentContext {
    /// Calls the LLM: the router walks the model's fallback chain; on each backend the call
    /// waits at the backend's rate-limit gate without a slice, then each attempt takes a
    /// slice named for that backend (priority = this agent's) and releases it with the tokens
    /// and cost used as soon as the attempt ends. If the scheduler preempts a slice
    /// mid-stream, the partial output is kept, the agent re-queues (`resume`) and the
    /// generation continues from it; the reply is the whole output.
    pub async fn llm(&self, request: ChatRequest) -> Result<ChatResponse, LlmError> {
        self.llm_streaming(request, None).await
    }

    /// [`AgentContext::llm`] with streamed deltas sent to `sink` as they arrive (a `Reset`
    /// delta means the attempt is being retried and the text so far is void).
    #[tracing::instrument(name = "syscall.llm", skip_all, fields(pid = %self.pid(), model = %request.model))]
    pub async fn llm_streaming(
        &self,
        request: ChatRequest,
        sink: Option<UnboundedSender<StreamDelta>>,
    ) -> Result<ChatResponse, LlmError> {
        let pid = self.pid();
        let kernel = self.kernel();
        if let Err(denied) = self.policy().check_model(&request.model) {
            crate::security::report_denial(pid, &denied, kernel.events_bus(), kernel.audit());
            return Err(LlmError::Denied(denied));
        }
        if let Err(limit) = self.durability().may_call() {
            kernel
                .events_bus()
                .emit_with(|| crate::KernelEvent::RunawayStopped { pid, limit });
            return Err(LlmError::Runaway(limit));
        }
        let step = self.step_ctx();
        let slot = step.next(pid);
        let digest = if step.journaled {
            crate::agent::journal::digest_of("llm", &request)
        } else {
            String::new()
        };
        if step.journaled
            && let Some(done) = step.replayed::<ChatResponse>(&slot, &digest)
        {
            if let Some(sink) = &sink {
                let _ = sink.send(StreamDelta::Text(done.content.clone()));
            }
            // Billed by the run that crashed, whose checkpoint (and usage) never committed:
            // counted now, once.
            self.durability().llm_outcome(Some(usage_of(kernel, &done)));
            return Ok(done);
        }
        let model = request.model.clone();
        let args_digest = crate::agent::journal::digest_of("llm", &request);
        let mut request = request;
        if step.journaled && request.idempotency_key.is_none() {
            request.idempotency_key = Some(slot.key.clone());
        }
        let priority = self.priority();
        let log = AttemptLog::default();
        let slices = KernelSlices {
            kernel,
            ctx: Some(self),
            pid,
            priority,
            resume: false,
            exact: caps_tokens(&kernel.config().scheduler),
            log: &log,
        };
        let started = std::time::Instant::now();
        let result = run(slices, request, sink).await;
        let (attempts, quota_waits) = log.take();
        let used = result.as_ref().ok().map(|r| usage_of(kernel, r));
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.trace_with(|t| {
            t.llm_calls.push(match &result {
                Ok(r) => crate::trajectory::LlmCallTrace {
                    backend: r.backend.clone(),
                    model: model.clone(),
                    prompt_tokens: r.usage.prompt_tokens,
                    completion_tokens: r.usage.completion_tokens,
                    latency_ms,
                    cost_usd: used.map_or(0.0, |u| u.2),
                    error: None,
                    priority,
                    quota_waits,
                    attempts,
                },
                Err(e) => crate::trajectory::LlmCallTrace {
                    backend: String::new(),
                    model: model.clone(),
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    latency_ms,
                    cost_usd: 0.0,
                    error: Some(e.to_string()),
                    priority,
                    quota_waits,
                    attempts,
                },
            });
        });
        self.durability().llm_outcome(used);
        let mut record = crate::security::audit::AuditRecord::new("llm.call")
            .pid(pid)
            .target(model)
            .allowed(true)
            .args_digest(args_digest);
        record = match &result {
            Ok(r) => record.result_digest(crate::digest::sha256_hex(r.content.as_bytes())),
            Err(e) => record.reason(format!("failed: {e}")),
        };
        kernel.audit().record(record);
        if let Ok(r) = &result {
            step.record(kernel.storage(), pid, &slot, "llm", digest, r)
                .await;
        }
        result
    }
}

impl crate::Kernel {
    /// An LLM call on behalf of `pid` made by the kernel itself (the pager's summaries):
    /// the same path as [`AgentContext::llm`], with slices requested for `pid`.
    pub(crate) async fn llm_for(
        &self,
        pid: crate::Pid,
        priority: u8,
        request: ChatRequest,
    ) -> Result<ChatResponse, LlmError> {
        let log = AttemptLog::default();
        let slices = KernelSlices {
            kernel: self,
            ctx: None,
            pid,
            priority,
            resume: false,
            exact: caps_tokens(&self.config().scheduler),
            log: &log,
        };
        run(slices, request, None).await
    }
}

/// (input tokens, output tokens, cost in USD) of a response.
fn usage_of(kernel: &crate::Kernel, r: &ChatResponse) -> (u64, u64, f64) {
    let cost = kernel.providers().ledger.cost_nano(&r.model, &r.usage) as f64 / 1e9;
    (r.usage.prompt_tokens, r.usage.completion_tokens, cost)
}

/// Walks the router, continuing a preempted generation from its partial output.
async fn run(
    mut slices: KernelSlices<'_>,
    mut request: ChatRequest,
    sink: Option<UnboundedSender<StreamDelta>>,
) -> Result<ChatResponse, LlmError> {
    let providers = slices.kernel.providers();
    if !providers.router.has_backends() {
        return Err(LlmError::NotConfigured);
    }
    if sink.is_some() {
        request.stream = true;
    }
    let original = Arc::new(request);
    let mut attempt = Arc::clone(&original);
    let mut partial: Option<ChatResponse> = None;
    loop {
        let response = providers
            .router
            .chat(attempt, &slices, sink.clone())
            .await
            .map_err(|e| match e {
                ProviderError::Slice(e) => LlmError::Slice(e),
                ProviderError::NoRoute(model) => LlmError::NoBackend(model),
                e => LlmError::Provider(e),
            })?;
        let whole = match partial.take() {
            Some(p) => p.continue_with(response),
            None => response,
        };
        if !whole.is_preempted() {
            return Ok(whole);
        }
        if let Some(ctx) = slices.ctx {
            ctx.trace_with(|t| t.preemptions = t.preemptions.saturating_add(1));
        }
        let mut next = (*original).clone();
        next.continuation = Some(whole.content.clone());
        attempt = Arc::new(next);
        partial = Some(whole);
        slices.resume = true;
    }
}

/// Whether the configuration caps tokens anywhere (then slice requests carry the exact token
/// count; otherwise the byte bound, and nothing is tokenized for the scheduler).
fn caps_tokens(cfg: &SchedulerConfig) -> bool {
    let caps = |q: &Quota| q.max_tokens.is_some() || q.max_tokens_per_request.is_some();
    caps(&cfg.agent_quota) || caps(&cfg.global_quota) || cfg.agent_overrides.values().any(caps)
}

/// The scheduler as the slice source of one LLM call: a slice per attempt, named for the
/// backend the attempt runs on, released with its usage when the attempt ends. From an agent
/// (`ctx`), its state follows the request; from the kernel, only `pid` and `priority` count.
struct KernelSlices<'a> {
    kernel: &'a crate::Kernel,
    ctx: Option<&'a AgentContext>,
    pid: crate::Pid,
    priority: u8,
    /// The call continues a preempted generation (it re-queues at the head of its class).
    resume: bool,
    exact: bool,
    /// The call's attempts, for its trajectory record.
    log: &'a AttemptLog,
}

/// What a call's attempts did: each attempt's backend, outcome and time at the backend (from
/// its slice's grant to its release), and the quota waits of its slice requests.
#[derive(Default)]
struct AttemptLog {
    attempts: parking_lot::Mutex<Vec<crate::trajectory::AttemptTrace>>,
    granted: parking_lot::Mutex<Option<std::time::Instant>>,
    quota_waits: Arc<std::sync::atomic::AtomicU32>,
}

impl AttemptLog {
    fn granted(&self) {
        *self.granted.lock() = Some(std::time::Instant::now());
    }

    fn ended(&self, backend: &str, ok: bool) {
        let latency_ms = self.granted.lock().take().map_or(0, |t| {
            u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
        });
        self.attempts.lock().push(crate::trajectory::AttemptTrace {
            backend: backend.to_owned(),
            ok,
            latency_ms,
        });
    }

    fn take(&self) -> (Vec<crate::trajectory::AttemptTrace>, u32) {
        (
            std::mem::take(&mut *self.attempts.lock()),
            self.quota_waits.load(std::sync::atomic::Ordering::Relaxed),
        )
    }
}

impl SliceSource for KernelSlices<'_> {
    fn priority(&self) -> u8 {
        self.priority
    }

    fn exact_estimate(&self) -> bool {
        self.exact
    }

    async fn acquire(&self, backend: &str, tokens: u64) -> Result<SliceToken, ProviderError> {
        let granted = match self.ctx {
            Some(ctx) => {
                let request = ctx
                    .slice_request_counting(Some(Arc::clone(&self.log.quota_waits)))
                    .estimated_tokens(tokens)
                    .provider(backend)
                    .resume(self.resume);
                ctx.acquire_slice(request).await
            }
            None => {
                let request = crate::scheduler::SliceRequest::new(self.pid)
                    .priority(self.priority)
                    .estimated_tokens(tokens)
                    .provider(backend)
                    .resume(self.resume);
                self.kernel.scheduler().acquire(request).await
            }
        };
        if granted.is_ok() {
            self.log.granted();
        }
        granted.map_err(ProviderError::Slice)
    }

    fn release(&self, slice: SliceToken, used: Option<(&str, &provider::Usage)>) {
        self.log
            .ended(slice.provider().unwrap_or_default(), used.is_some());
        let usage = used.map_or_else(Usage::default, |(model, u)| Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
            cost_usd: self.kernel.providers().ledger.cost_nano(model, u) as f64 / 1e9,
        });
        // Applied before it returns (under the scheduler's lock), so this agent's next acquire
        // sees the usage charged. It fails only once the scheduler stopped, which the next
        // acquire reports.
        if let Err(e) = self.kernel.scheduler().release_nowait(slice, usage) {
            tracing::debug!(pid = %self.pid, error = %e, "slice release after the scheduler stopped");
        }
    }
}
