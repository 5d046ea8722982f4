//! The router: resolves a model name or group to an ordered chain of (backend, model) and
//! falls back along it — on an open breaker, on exhausted retries, on quota errors, and on a
//! context-length error to the next target with a larger window — all under one attempt
//! budget per call, so a fallback never restarts the retry cycle from zero.

use std::collections::{BTreeMap, HashMap};

use std::sync::Arc;

use actix::Addr;
use rustc_hash::FxHashMap;
use tokio::sync::mpsc;
use tracing::info;

use super::actor::ProviderActor;
use super::config::RouteTarget;
use super::error::ProviderError;
use super::handle::ProviderHandle;
use super::messages::ProviderStats;
use super::model::{ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, StreamDelta};
use super::retry::AttemptBudget;
use crate::scheduler::SliceToken;

/// Routes calls to provider actors.
#[derive(Clone, Debug)]
pub struct Router {
    actors: FxHashMap<String, ProviderHandle>,
    /// Model or group → its chain (every route, every listed model).
    chains: FxHashMap<String, Arc<[RouteTarget]>>,
    max_attempts: u32,
}

/// A chain element naming just a backend (the requested model, no window).
fn target(backend: &str) -> RouteTarget {
    RouteTarget {
        backend: backend.to_string(),
        model: None,
        context_window: None,
    }
}

impl Router {
    /// A router over started actors. `models` lists, per backend, the models it serves.
    pub fn new(
        actors: HashMap<String, ProviderHandle>,
        routes: BTreeMap<String, Vec<RouteTarget>>,
        models: Vec<(String, Vec<String>)>,
        max_attempts: u32,
    ) -> Self {
        let mut chains: FxHashMap<String, Arc<[RouteTarget]>> = FxHashMap::default();
        for (model, route) in &routes {
            chains.insert(model.clone(), route.as_slice().into());
        }
        for (_, served) in &models {
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
            actors: actors.into_iter().collect(),
            chains,
            max_attempts,
        }
    }

    /// The chain for `model`: its route, else every backend listing it, else the backend the
    /// slice was granted on. Routes and listed models are resolved once, at construction.
    pub fn chain(&self, model: &str, token: &SliceToken) -> Arc<[RouteTarget]> {
        if let Some(c) = self.chains.get(model) {
            return Arc::clone(c);
        }
        token
            .provider()
            .filter(|p| self.actors.contains_key(*p))
            .map(target)
            .into_iter()
            .collect()
    }

    /// The backend a slice for `model` should be requested on (the head of its chain): the
    /// first target of its route, else the first backend listing the model, else the only
    /// backend (or, with several, the first by name).
    pub fn default_backend(&self, model: &str) -> Option<String> {
        match self.chains.get(model).and_then(|c| c.first()) {
            Some(head) => Some(head.backend.clone()),
            None => self.actors.keys().min().cloned(),
        }
    }

    /// Whether any backend is configured.
    pub fn has_backends(&self) -> bool {
        !self.actors.is_empty()
    }

    /// Names of the configured backends, sorted.
    pub fn backends(&self) -> Vec<String> {
        let mut names: Vec<String> = self.actors.keys().cloned().collect();
        names.sort();
        names
    }

    /// Runs a chat call along the chain. Stream deltas (if `sink`) carry a `Reset` whenever an
    /// attempt is retried or falls back.
    pub fn chat<'a>(
        &'a self,
        req: ChatRequest,
        token: &'a SliceToken,
        sink: Option<mpsc::UnboundedSender<StreamDelta>>,
    ) -> impl Future<Output = Result<ChatResponse, ProviderError>> + 'a {
        // Not a layer of its own: the future is `chat_shared`'s.
        self.chat_shared(Arc::new(req), token, sink)
    }

    /// [`Router::chat`] on a shared request: it is copied only for a target that names the
    /// model differently.
    pub async fn chat_shared(
        &self,
        req: Arc<ChatRequest>,
        token: &SliceToken,
        sink: Option<mpsc::UnboundedSender<StreamDelta>>,
    ) -> Result<ChatResponse, ProviderError> {
        let attempts = AttemptBudget::new(self.max_attempts);
        let budget = &attempts;
        self.walk(&req.model, token, budget, |target, model| {
            let req = if req.model == model {
                Arc::clone(&req)
            } else {
                let mut r = (*req).clone();
                r.model = model.to_string();
                Arc::new(r)
            };
            // The handle's future itself, not one wrapping it.
            target.chat(req, token, budget, sink.clone())
        })
        .await
        .inspect_err(|_| {
            if let Some(s) = &sink {
                let _ = s.send(StreamDelta::Reset);
            }
        })
    }

    /// Runs an embeddings call along the chain.
    pub async fn embed(
        &self,
        req: EmbedRequest,
        token: &SliceToken,
    ) -> Result<EmbedResponse, ProviderError> {
        let attempts = AttemptBudget::new(self.max_attempts);
        let budget = &attempts;
        self.walk(&req.model, token, budget, |target, model| {
            let mut req = req.clone();
            req.model = model.to_string();
            target.embed(req, token, budget)
        })
        .await
    }

    async fn walk<'a, T, F, Fut>(
        &'a self,
        requested: &str,
        token: &SliceToken,
        attempts: &AttemptBudget,
        mut call: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut(&'a ProviderHandle, &str) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let chain = self.chain(requested, token);
        let mut last = None;
        let mut need_window: Option<u64> = None;
        for target in chain.iter() {
            if let Some(w) = need_window
                && target.context_window.is_none_or(|cw| cw <= w)
            {
                continue;
            }
            let Some(handle) = self.actors.get(&target.backend) else {
                last = Some(ProviderError::Config(format!(
                    "route names unknown backend `{}`",
                    target.backend
                )));
                continue;
            };
            if attempts.remaining() == 0 {
                break;
            }
            let model = target.model.as_deref().unwrap_or(requested);
            match call(handle, model).await {
                Ok(r) => return Ok(r),
                Err(e) if !e.allows_fallback() => return Err(e),
                Err(e) => {
                    if matches!(e, ProviderError::ContextLength { .. }) {
                        need_window = Some(target.context_window.unwrap_or(0));
                    }
                    info!(backend = %target.backend, error = %e, left = attempts.remaining(), "falling back");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| ProviderError::NoRoute(requested.to_string())))
    }

    /// Counters of every provider actor, sorted by backend.
    pub async fn stats(&self) -> Vec<ProviderStats> {
        let mut out: Vec<ProviderStats> = self.actors.values().map(|h| h.stats()).collect();
        out.sort_by(|a, b| a.backend.cmp(&b.backend));
        out
    }

    /// The actor of one backend.
    pub fn actor(&self, backend: &str) -> Option<&Addr<ProviderActor>> {
        self.actors.get(backend).map(ProviderHandle::addr)
    }

    /// The handle of one backend.
    pub fn backend(&self, backend: &str) -> Option<&ProviderHandle> {
        self.actors.get(backend)
    }
}
