//! The LLM syscall: slice → provider (router, fallback) → release with usage; a preempted
//! generation re-queues and continues from its partial output.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use crate::agent::AgentContext;
use crate::provider::{ChatRequest, ChatResponse, ProviderError, Providers, StreamDelta, estimate};
use crate::scheduler::{SchedulerError, Usage};

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
    /// Calls the LLM: acquires a slice (priority = this agent's), sends the request through
    /// the router (rate-limit mailboxes, retries, breaker, fallback), releases the slice with
    /// the tokens and cost used. If the scheduler preempts the slice mid-stream, the partial
    /// output is kept, the agent re-queues (`resume`) and the generation continues from it; the
    /// reply is the whole output.
    pub async fn llm(&self, request: ChatRequest) -> Result<ChatResponse, LlmError> {
        self.llm_streaming(request, None).await
    }

    /// [`AgentContext::llm`] with streamed deltas sent to `sink` as they arrive (a `Reset`
    /// delta means the attempt is being retried and the text so far is void).
    pub async fn llm_streaming(
        &self,
        mut request: ChatRequest,
        sink: Option<UnboundedSender<StreamDelta>>,
    ) -> Result<ChatResponse, LlmError> {
        let providers = self.kernel().providers().clone();
        if !providers.router.has_backends() {
            return Err(LlmError::NotConfigured);
        }
        let backend = providers
            .router
            .default_backend(&request.model)
            .ok_or_else(|| LlmError::NoBackend(request.model.clone()))?;
        if sink.is_some() {
            request.stream = true;
        }
        let estimate = estimate::reservation(&request);
        // Shared with every attempt; only a continuation makes a copy (with the partial output).
        let request = Arc::new(request);
        let mut partial: Option<ChatResponse> = None;
        let mut resume = false;
        loop {
            let slice = self
                .acquire_slice(
                    self.slice_request()
                        .estimated_tokens(estimate)
                        .provider(backend.as_str())
                        .resume(resume),
                )
                .await?;
            let attempt = match &partial {
                Some(p) => {
                    let mut a = (*request).clone();
                    a.continuation = Some(p.content.clone());
                    Arc::new(a)
                }
                None => Arc::clone(&request),
            };
            let result = providers
                .router
                .chat_shared(attempt, &slice, sink.clone())
                .await;
            let usage = match &result {
                Ok(r) => Usage {
                    input_tokens: r.usage.prompt_tokens,
                    output_tokens: r.usage.completion_tokens,
                    cost_usd: providers.ledger.cost_nano(&r.model, &r.usage) as f64 / 1e9,
                },
                Err(_) => Usage::default(),
            };
            // Released in every case (also after an error or a revocation): usage is charged.
            // Applied before `release_nowait` returns (under the scheduler's lock), so this
            // agent's next acquire, and everything else from now on, sees the usage charged.
            self.kernel().scheduler().release_nowait(slice, usage)?;
            let response = result?;
            let whole = match partial.take() {
                Some(p) => p.continue_with(response),
                None => response,
            };
            if !whole.is_preempted() {
                return Ok(whole);
            }
            partial = Some(whole);
            resume = true;
        }
    }
}
