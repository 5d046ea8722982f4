//! The provider embedder: a backend's embeddings endpoint through the kernel's router, each
//! attempt under a slice from the kernel's scheduler.

use crate::Kernel;
use crate::pid::Pid;
use crate::provider::{
    EmbedRequest, ProviderError, Providers, SliceSource, Usage as ProviderUsage,
};
use crate::scheduler::{Scheduler, SliceRequest, SliceToken, Usage};

use super::{EmbedError, EmbedFuture, Embedder, EmbedderKind, l2_normalize};

/// Embeddings from a configured backend (id `provider:<model>`), e.g. an `openai_compatible`
/// backend's `/v1/embeddings`.
///
/// The call goes through [`crate::provider::Router::embed`], so routes, fallbacks, rate
/// limits, retries and the usage ledger apply as to chat calls. Every attempt holds a slice
/// token from the kernel's scheduler (the LLM is the CPU; embeddings run on the same
/// backends), acquired per attempt for the backend it runs on and released with its token
/// usage and cost as soon as it ends.
///
/// **Whose slices.** The scheduler accepts a request on behalf of any [`Pid`]; its quotas
/// and usage are kept per pid. The embedder asks for every slice on behalf of one pid, given
/// at construction: [`ProviderEmbedder::new`] mints its own (an "embedder process", so
/// embeddings have their own quota ledger and show up as one line in the usage per agent);
/// [`ProviderEmbedder::for_pid`] charges an agent instead. The priority is the one given
/// (default 50, the agents' default).
///
/// **Dimension.** Fixed at construction: the configured one, or else the length of the first
/// answer ([`ProviderEmbedder::connect`] embeds a probe text). Every later answer is checked
/// against it ([`EmbedError::Dimension`]) and L2-normalised (providers differ on whether they
/// normalise).
#[derive(Debug, Clone)]
pub struct ProviderEmbedder {
    providers: Providers,
    scheduler: Scheduler,
    model: String,
    id: String,
    pid: Pid,
    priority: u8,
    dimensions: usize,
    batch_size: usize,
}

impl ProviderEmbedder {
    /// Texts per request when not configured.
    pub const DEFAULT_BATCH: usize = 64;

    /// An embedder for `model` (an embedding model or route name) whose vectors have
    /// `dimensions` coordinates, with slices on behalf of a pid of its own.
    ///
    /// Holds the kernel's provider layer and scheduler handles, not the [`Kernel`] itself, so
    /// a kernel-owned component (the pager) can keep it without a reference cycle.
    pub fn new(kernel: &Kernel, model: impl Into<String>, dimensions: usize) -> Self {
        let model = model.into();
        ProviderEmbedder {
            providers: kernel.providers().clone(),
            scheduler: kernel.scheduler().clone(),
            id: format!("provider:{model}"),
            model,
            pid: Pid::new(),
            priority: 50,
            dimensions,
            batch_size: Self::DEFAULT_BATCH,
        }
    }

    /// [`ProviderEmbedder::new`] with the dimension taken from the backend's first answer: one
    /// probe text is embedded now (under a slice like every call). Fails as a call would (no
    /// backend, rejected, …), or with [`EmbedError::Dimension`] on an empty vector.
    pub async fn connect(kernel: &Kernel, model: impl Into<String>) -> Result<Self, EmbedError> {
        let mut this = ProviderEmbedder::new(kernel, model, 0);
        let probe = this.request(&["dimension probe"]).await?;
        let got = probe.first().map_or(0, Vec::len);
        if got == 0 {
            return Err(EmbedError::Dimension {
                model: this.model.clone(),
                expected: 1,
                got,
            });
        }
        this.dimensions = got;
        Ok(this)
    }

    /// Charges the slices of its calls to `pid` (an agent's quota and usage) instead of the
    /// embedder's own pid.
    pub fn for_pid(mut self, pid: Pid) -> Self {
        self.pid = pid;
        self
    }

    /// Priority of its slice requests and in the backends' queues (0 most urgent … 100).
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    /// Texts per request (at least 1; default [`Self::DEFAULT_BATCH`]); more texts are sent in
    /// several requests, in order.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The pid its slices are requested for.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The embedding model (or route) asked.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// One request (all of `texts`), vectors checked for count, unchecked for length.
    async fn request(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let req = EmbedRequest {
            model: self.model.clone(),
            inputs: texts.iter().map(|t| (*t).to_owned()).collect(),
        };
        let slices = EmbedSlices { embedder: self };
        let response = self.providers.router.embed(req, &slices).await?;
        if response.vectors.len() != texts.len() {
            return Err(EmbedError::Count {
                model: self.model.clone(),
                expected: texts.len(),
                got: response.vectors.len(),
            });
        }
        Ok(response.vectors)
    }

    async fn embed_all(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.batch_size) {
            for mut v in self.request(batch).await? {
                if v.len() != self.dimensions {
                    return Err(EmbedError::Dimension {
                        model: self.model.clone(),
                        expected: self.dimensions,
                        got: v.len(),
                    });
                }
                l2_normalize(&mut v);
                out.push(v);
            }
        }
        Ok(out)
    }
}

impl Embedder for ProviderEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> EmbedderKind {
        EmbedderKind::Provider
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn embed<'a>(&'a self, texts: &'a [&'a str]) -> EmbedFuture<'a> {
        Box::pin(self.embed_all(texts))
    }
}

/// The scheduler as the slice source of one embeddings call: a slice per attempt on behalf of
/// the embedder's pid, named for the attempt's backend, released with its usage.
struct EmbedSlices<'a> {
    embedder: &'a ProviderEmbedder,
}

impl SliceSource for EmbedSlices<'_> {
    fn priority(&self) -> u8 {
        self.embedder.priority
    }

    async fn acquire(&self, backend: &str, tokens: u64) -> Result<SliceToken, ProviderError> {
        let request = SliceRequest::new(self.embedder.pid)
            .priority(self.embedder.priority)
            .estimated_tokens(tokens)
            .provider(backend);
        self.embedder
            .scheduler
            .acquire(request)
            .await
            .map_err(ProviderError::Slice)
    }

    fn release(&self, slice: SliceToken, used: Option<(&str, &ProviderUsage)>) {
        let usage = used.map_or_else(Usage::default, |(model, u)| Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
            cost_usd: self.embedder.providers.ledger.cost_nano(model, u) as f64 / 1e9,
        });
        if let Err(e) = self.embedder.scheduler.release_nowait(slice, usage) {
            tracing::debug!(pid = %self.embedder.pid, error = %e, "embedding slice release after the scheduler stopped");
        }
    }
}
