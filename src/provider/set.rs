//! Starting the provider layer from configuration, and detecting backends from the
//! environment (falling back, when asked and plainly announced, to the offline `scripted`
//! backend).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::anthropic::Anthropic;
use super::backend::{Backend, Limits};
use super::call::Lane;
use super::config::{BackendConfig, BackendKind, ProvidersConfig};
use super::error::ProviderError;
use super::openai::OpenAiCompatible;
use super::presets::Preset;
use super::router::Router;
use super::scripted::Scripted;
use super::usage::UsageLedger;

/// The running provider layer: one provider actor per backend, the router, the usage ledger.
#[derive(Clone, Debug)]
#[non_exhaustive]
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
    let limits = Limits::of(cfg);
    Ok(match cfg.kind {
        BackendKind::OpenaiCompatible => Arc::new(OpenAiCompatible::new(
            name,
            &url()?,
            key.as_deref(),
            cfg.preset,
            http.clone(),
            limits,
        )?),
        BackendKind::Anthropic => Arc::new(Anthropic::new(
            name,
            &url()?,
            key,
            cfg.anthropic_version.clone(),
            http.clone(),
            limits,
        )),
        BackendKind::Scripted => Arc::new(Scripted::new(cfg.script.clone())),
    })
}

impl Providers {
    /// Starts one provider actor per backend on the current actix system (and, off every
    /// arbiter, the tokenizer's tables, which only calls near a TPM limit or under a token
    /// quota use).
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

    /// Starts provider actors with backends built by `make`.
    pub(crate) fn start_with(
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
        if let Some((key, reason)) = cfg.problems().into_iter().next() {
            return Err(ProviderError::InvalidConfig { key, reason });
        }
        for (name, bc) in &cfg.backends {
            if bc.rpm == Some(0) || bc.tpm == Some(0) {
                return Err(ProviderError::Config(format!(
                    "backend `{name}`: rpm and tpm must be at least 1 (omit them for no limit)"
                )));
            }
        }
        let ledger = UsageLedger::new(cfg.prices.clone());
        let mut lanes = BTreeMap::new();
        let mut models = Vec::new();
        for (name, bc) in &cfg.backends {
            let backend = make(name, bc)?;
            lanes.insert(name.clone(), Lane::start(name, bc, backend, ledger.clone()));
            models.push((name.clone(), bc.models.clone()));
        }
        let attempts = cfg.max_attempts_per_call.unwrap_or(6).max(1);
        let router = Router::new(lanes, &cfg.routes, &models, attempts);
        Ok(Providers { router, ledger })
    }
}

impl ProvidersConfig {
    /// The backends the kernel starts with: `backends` when any are listed; otherwise, with
    /// `detect`, those found from `OPENAI_API_KEY` (or `OPENAI_BASE_URL`: the `openai` backend
    /// at that URL, key optional), `ANTHROPIC_API_KEY`, `DEEPSEEK_API_KEY`,
    /// `MOONSHOT_API_KEY`, `DASHSCOPE_API_KEY`, `MINIMAX_API_KEY` (and an Ollama when
    /// `ollama_up`, which the caller probes only under `probe_ollama`); with none found and
    /// `offline_fallback`, a single `scripted` backend, announced plainly in the log. With none
    /// found and no fallback the result has no backend. Routes, prices and limits are kept.
    pub fn resolved(&self, ollama_up: bool) -> ProvidersConfig {
        self.resolved_with(ollama_up, |var| std::env::var(var).ok())
    }

    /// [`ProvidersConfig::resolved`] reading variables through `env`.
    pub(crate) fn resolved_with(
        &self,
        ollama_up: bool,
        env: impl Fn(&str) -> Option<String>,
    ) -> ProvidersConfig {
        let mut cfg = self.clone();
        if !cfg.backends.is_empty() {
            return cfg;
        }
        let set = |v: &str| env(v).is_some_and(|k| !k.is_empty());
        if self.detect {
            // The OpenAI SDKs' convention: `OPENAI_BASE_URL` points the `openai` backend at
            // any OpenAI-compatible server (llama.cpp, vLLM, LM Studio); no key is needed then.
            let openai_base = env("OPENAI_BASE_URL").filter(|u| !u.trim().is_empty());
            for p in Preset::ALL {
                let redirected = p == Preset::Openai && openai_base.is_some();
                let found = redirected
                    || match p.info().api_key_env {
                        Some(var) => set(var),
                        None => p == Preset::Ollama && ollama_up,
                    };
                if found {
                    let mut b = BackendConfig::new(BackendKind::OpenaiCompatible);
                    b.preset = Some(p);
                    if redirected {
                        b.base_url.clone_from(&openai_base);
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_string())
        }
    }

    #[test]
    fn openai_base_url_points_the_openai_backend_at_a_local_server_without_a_key() {
        let cfg = ProvidersConfig::default();
        let found = cfg.resolved_with(
            false,
            env_of(&[("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1")]),
        );
        let openai = &found.backends["openai"];
        assert_eq!(
            openai.effective_base_url().as_deref(),
            Some("http://127.0.0.1:8080/v1")
        );
        assert_eq!(found.backends.len(), 1, "{:?}", found.backends.keys());
    }

    #[test]
    fn without_it_the_key_alone_keeps_the_public_endpoint() {
        let cfg = ProvidersConfig::default();
        let found = cfg.resolved_with(false, env_of(&[("OPENAI_API_KEY", "sk-test")]));
        let openai = &found.backends["openai"];
        assert!(
            openai
                .effective_base_url()
                .unwrap()
                .contains("api.openai.com")
        );
        let none = cfg.resolved_with(false, env_of(&[]));
        assert!(!none.backends.contains_key("openai"));
    }
}
