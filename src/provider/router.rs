//! The router: resolves a model name or group to an ordered chain of (backend, model) and
//! falls back along it — on an open breaker, on exhausted retries, on quota errors, and on a
//! context-length error to the next target with a larger window — all under one attempt
//! budget per call, so a fallback never restarts the retry cycle from zero. Each backend of
//! the chain runs the call under its own gate and with slices named for it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::RwLock;
use tracing::info;

use super::call::Lane;
use super::config::RouteTarget;
use super::error::ProviderError;
use super::job::{Done, Estimate, Job, Sink};
use super::model::{ChatRequest, ChatResponse, EmbedRequest, EmbedResponse};
use super::retry::AttemptBudget;
use super::slices::SliceSource;
use super::stats::ProviderStats;

/// Routes calls to backends.
#[derive(Clone, Debug)]
pub struct Router {
    lanes: BTreeMap<String, Lane>,
    /// Model or group → its chain (every route, every listed model); shared by every clone
    /// and changed at run time by [`Router::set_route`].
    chains: Arc<RwLock<HashMap<String, Arc<[RouteTarget]>>>>,
    max_attempts: u32,
}

/// A chain element naming just a backend (the requested model, no window).
fn target(backend: &str) -> RouteTarget {
    RouteTarget {
        backend: backend.to_owned(),
        model: None,
        context_window: None,
    }
}

impl Router {
    /// A router over started backends. `models` lists, per backend, the models it serves.
    pub(crate) fn new(
        lanes: BTreeMap<String, Lane>,
        routes: &BTreeMap<String, Vec<RouteTarget>>,
        models: &[(String, Vec<String>)],
        max_attempts: u32,
    ) -> Self {
        let mut chains: HashMap<String, Arc<[RouteTarget]>> = routes
            .iter()
            .map(|(model, route)| (model.clone(), route.as_slice().into()))
            .collect();
        for (_, served) in models {
            for m in served {
                if !chains.contains_key(m) {
                    let listed: Arc<[RouteTarget]> = models
                        .iter()
                        .filter(|(_, ms)| ms.contains(m))
                        .map(|(b, _)| target(b))
                        .collect();
                    chains.insert(m.clone(), listed);
                }
            }
        }
        Router {
            lanes,
            chains: Arc::new(RwLock::new(chains)),
            max_attempts,
        }
    }

    /// Replaces the chain of a model or group (every clone of this router sees it at its next
    /// call); returns the chain it had. Refused, changing nothing, when the chain is empty or
    /// names a backend that is not configured.
    pub fn set_route(
        &self,
        model: &str,
        chain: Vec<RouteTarget>,
    ) -> Result<Vec<RouteTarget>, ProviderError> {
        if chain.is_empty() {
            return Err(ProviderError::Config(format!(
                "route `{model}`: a chain needs at least one backend"
            )));
        }
        if let Some(t) = chain.iter().find(|t| !self.lanes.contains_key(&t.backend)) {
            return Err(ProviderError::Config(format!(
                "route `{model}` names unknown backend `{}`",
                t.backend
            )));
        }
        let before = self.chain(model, None).to_vec();
        self.chains.write().insert(model.to_owned(), chain.into());
        info!(model, "route changed");
        Ok(before)
    }

    /// Every model or group with a chain, sorted by name.
    pub fn routes(&self) -> BTreeMap<String, Vec<RouteTarget>> {
        self.chains
            .read()
            .iter()
            .map(|(m, c)| (m.clone(), c.to_vec()))
            .collect()
    }

    /// The chain for `model`: its route, else every backend listing it, else the backend
    /// `hint` names, else the first backend by name (none without backends).
    pub fn chain(&self, model: &str, hint: Option<&str>) -> Arc<[RouteTarget]> {
        if let Some(c) = self.chains.read().get(model) {
            return Arc::clone(c);
        }
        hint.filter(|b| self.lanes.contains_key(*b))
            .or_else(|| self.lanes.keys().next().map(String::as_str))
            .map(target)
            .into_iter()
            .collect()
    }

    /// Whether any backend is configured.
    pub fn has_backends(&self) -> bool {
        !self.lanes.is_empty()
    }

    /// Names of the configured backends, sorted.
    pub fn backends(&self) -> Vec<String> {
        self.lanes.keys().cloned().collect()
    }

    /// Runs a chat call along the model's chain, each attempt under a slice from `slices`.
    /// Stream deltas (if `sink`) carry a `Reset` whenever an attempt is retried or falls back.
    pub async fn chat(
        &self,
        req: impl Into<Arc<ChatRequest>>,
        slices: &impl SliceSource,
        sink: Option<Sink>,
    ) -> Result<ChatResponse, ProviderError> {
        let req = req.into();
        let model = req.model.clone();
        let job = Job::Chat { req, sink };
        self.walk(&model, job, slices).await?.into_chat()
    }

    /// Runs an embeddings call along the model's chain.
    pub async fn embed(
        &self,
        req: EmbedRequest,
        slices: &impl SliceSource,
    ) -> Result<EmbedResponse, ProviderError> {
        let model = req.model.clone();
        let job = Job::Embed { req: Arc::new(req) };
        self.walk(&model, job, slices).await?.into_embed()
    }

    async fn walk(
        &self,
        requested: &str,
        job: Job,
        slices: &impl SliceSource,
    ) -> Result<Done, ProviderError> {
        slices.check()?;
        let estimate = Estimate::of(&job);
        let attempts = AttemptBudget::new(self.max_attempts);
        let chain = self.chain(requested, slices.backend_hint());
        let mut last = None;
        let mut need_window: Option<u64> = None;
        for target in chain.iter() {
            if need_window.is_some_and(|w| target.context_window.is_none_or(|cw| cw <= w)) {
                continue;
            }
            let Some(lane) = self.lanes.get(&target.backend) else {
                continue;
            };
            if attempts.remaining() == 0 {
                break;
            }
            if last.is_some() {
                job.reset_stream();
            }
            let model = target.model.as_deref().unwrap_or(requested);
            match lane
                .call(&job.for_model(model), &estimate, slices, &attempts)
                .await
            {
                Ok(r) => return Ok(r),
                Err(e) if !e.allows_fallback() => return Err(e),
                Err(e) => {
                    if matches!(e, ProviderError::ContextLength { .. }) {
                        need_window = Some(target.context_window.unwrap_or(0));
                    }
                    info!(backend = lane.name(), error = %e, left = attempts.remaining(), "falling back");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| ProviderError::NoRoute(requested.to_owned())))
    }

    /// Counters of every backend, sorted by name.
    pub fn stats(&self) -> Vec<ProviderStats> {
        self.lanes.values().map(Lane::stats).collect()
    }

    /// Counters of one backend.
    pub fn backend_stats(&self, backend: &str) -> Option<ProviderStats> {
        self.lanes.get(backend).map(Lane::stats)
    }
}
