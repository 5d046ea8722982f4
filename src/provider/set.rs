//! Starting the provider layer from configuration, and detecting backends from the
//! environment (falling back, when asked and plainly announced, to the offline `scripted`
//! backend).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::actor::ProviderSettings;
use super::anthropic::Anthropic;
use super::backend::{Backend, Timeouts};
use super::budget::BudgetLimits;
use super::config::{BackendConfig, BackendKind, ProvidersConfig};
use super::error::ProviderError;
use super::handle::ProviderHandle;
use super::openai::OpenAiCompatible;
use super::presets::Preset;
use super::router::Router;
use super::scripted::Scripted;
use super::usage::UsageLedger;

/// The running provider layer: one actor per backend, the router, the usage ledger.
#[derive(Clone, Debug)]
pub struct Providers {
    /// Routes calls.
    pub router: Router,
    /// Usage and cost per agent/backend/model.
    pub ledger: UsageLedger,
}

fn backend_of(
    name: &str,
    cfg: &BackendConfig,
    http: &reqwest::Client,
) -> Result<Arc<dyn Backend>, ProviderError> {
    let key = match cfg.effective_key_env() {
        Some(var) => match std::env::var(&var) {
            Ok(k) if !k.is_empty() => Some(k),
            _ => {
                warn!(
                    backend = name,
                    var, "API key variable is not set; calling without a key"
                );
                None
            }
        },
        None => None,
    };
    let url = || {
        cfg.effective_base_url().ok_or_else(|| {
            ProviderError::Config(format!("backend `{name}` needs `base_url` or a `preset`"))
        })
    };
    Ok(match cfg.kind {
        BackendKind::OpenaiCompatible => Arc::new(OpenAiCompatible::new(
            name,
            url()?,
            key,
            cfg.preset,
            http.clone(),
        )?),
        BackendKind::Anthropic => Arc::new(Anthropic::new(
            name,
            url()?,
            key,
            cfg.anthropic_version.clone(),
            http.clone(),
        )),
        BackendKind::Scripted => Arc::new(Scripted::default()),
    })
}

/// Settings of one actor from its config.
pub fn settings_of(name: &str, cfg: &BackendConfig) -> ProviderSettings {
    ProviderSettings {
        name: name.to_string(),
        limits: BudgetLimits {
            requests: cfg.rpm,
            tokens: cfg.tpm,
            window: Duration::from_millis(cfg.window_ms.max(1)),
            max_concurrency: cfg.max_concurrency.max(1),
        },
        retry: cfg.retry.clone(),
        breaker: cfg.breaker.clone(),
        timeouts: Timeouts {
            request: Duration::from_millis(cfg.request_timeout_ms.max(1)),
            stall: Duration::from_millis(cfg.stall_timeout_ms.max(1)),
        },
    }
}

impl Providers {
    /// Starts one actor per backend on the current actix system.
    ///
    /// With no backends the layer is empty: the router has no chain and every call through the
    /// kernel answers a typed "not configured" error.
    pub fn start(cfg: &ProvidersConfig) -> Result<Providers, ProviderError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|e| ProviderError::Config(format!("HTTP client: {e}")))?;
        Self::start_with(cfg, |name, bc| backend_of(name, bc, &http))
    }

    /// Starts actors with backends built by `make` (lets callers plug a configured
    /// [`Scripted`] backend).
    pub fn start_with(
        cfg: &ProvidersConfig,
        mut make: impl FnMut(&str, &BackendConfig) -> Result<Arc<dyn Backend>, ProviderError>,
    ) -> Result<Providers, ProviderError> {
        for (group, chain) in &cfg.routes {
            if let Some(t) = chain
                .iter()
                .find(|t| !cfg.backends.contains_key(&t.backend))
            {
                return Err(ProviderError::Config(format!(
                    "route `{group}` names unknown backend `{}`",
                    t.backend
                )));
            }
        }
        for (name, bc) in &cfg.backends {
            if bc.rpm == Some(0) || bc.tpm == Some(0) {
                return Err(ProviderError::Config(format!(
                    "backend `{name}`: rpm and tpm must be at least 1 (omit them for no limit)"
                )));
            }
        }
        let ledger = UsageLedger::new(cfg.prices.clone());
        let mut actors: HashMap<String, ProviderHandle> = HashMap::new();
        let mut models = Vec::new();
        for (name, bc) in &cfg.backends {
            let backend = make(name, bc)?;
            let actor = ProviderHandle::start(settings_of(name, bc), backend, ledger.clone());
            actors.insert(name.clone(), actor);
            models.push((name.clone(), bc.models.clone()));
        }
        let router = Router::new(
            actors,
            cfg.routes.clone(),
            models,
            cfg.max_attempts_per_call.unwrap_or(6).max(1),
        );
        Ok(Providers { router, ledger })
    }
}

impl ProvidersConfig {
    /// The backends the kernel starts with: `backends` when any are listed; otherwise, with
    /// `detect`, those found from `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `DEEPSEEK_API_KEY`,
    /// `MOONSHOT_API_KEY`, `DASHSCOPE_API_KEY`, `MINIMAX_API_KEY` (and an Ollama when
    /// `ollama_up`, which the caller probes only under `probe_ollama`); with none found and
    /// `offline_fallback`, a single `scripted` backend, announced plainly in the log. With none
    /// found and no fallback the result has no backend. Routes, prices and limits are kept.
    pub fn resolved(&self, ollama_up: bool) -> ProvidersConfig {
        let mut cfg = self.clone();
        if !cfg.backends.is_empty() {
            return cfg;
        }
        let set = |v: &str| std::env::var(v).is_ok_and(|k| !k.is_empty());
        if self.detect {
            for p in Preset::ALL {
                let found = match p.info().api_key_env {
                    Some(var) => set(var),
                    None => p == Preset::Ollama && ollama_up,
                };
                if found {
                    let mut b = BackendConfig::new(BackendKind::OpenaiCompatible);
                    b.preset = Some(p);
                    cfg.backends.insert(format!("{p:?}").to_lowercase(), b);
                }
            }
            if set("ANTHROPIC_API_KEY") {
                cfg.backends.insert(
                    "anthropic".into(),
                    BackendConfig::new(BackendKind::Anthropic),
                );
            }
        }
        if cfg.backends.is_empty() && self.offline_fallback {
            info!(
                "no LLM backend configured or detected: using the offline, deterministic `scripted` backend (providers.offline_fallback)"
            );
            cfg.backends
                .insert("scripted".into(), BackendConfig::new(BackendKind::Scripted));
        } else if cfg.backends.is_empty() {
            info!(
                "no LLM backend configured or detected: the kernel runs agents, and `ctx.llm` answers `NotConfigured`"
            );
        }
        cfg
    }
}
