//! `ProvidersConfig`: the `[providers]` section of the kernel configuration.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::breaker::BreakerConfig;
use super::presets::Preset;
use super::retry::RetryPolicy;
use super::script::ScriptEntry;
use crate::scheduler::SchedulerConfig;

/// The whole provider layer's configuration.
#[derive(Clone, Debug, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProvidersConfig {
    /// When `backends` is empty, detect them at kernel start from the API-key environment
    /// variables (no network access).
    pub detect: bool,
    /// With `detect`, also probe a local Ollama (a TCP connect to 127.0.0.1:11434, 200 ms).
    /// Off by default: a library does not touch the network unless asked; the quickstart, the
    /// CLI and the server turn it on.
    pub probe_ollama: bool,
    /// When no backend is configured or detected, start the offline, deterministic `scripted`
    /// backend (it echoes; it does not generate). Off by default: without a backend the kernel
    /// starts and `ctx.llm` answers `LlmError::NotConfigured`.
    pub offline_fallback: bool,
    /// Backends by name; one provider actor each.
    pub backends: BTreeMap<String, BackendConfig>,
    /// Model name or group → ordered fallback chain. A model not listed here is served by the
    /// first backend whose `models` contains it.
    pub routes: BTreeMap<String, Vec<RouteTarget>>,
    /// Prices by model name.
    pub prices: BTreeMap<String, Price>,
    /// Attempts per logical call across the whole fallback chain (default 6).
    pub max_attempts_per_call: Option<u32>,
}

impl Default for ProvidersConfig {
    fn default() -> Self {
        ProvidersConfig {
            detect: true,
            probe_ollama: false,
            offline_fallback: false,
            backends: BTreeMap::new(),
            routes: BTreeMap::new(),
            prices: BTreeMap::new(),
            max_attempts_per_call: None,
        }
    }
}

/// Which protocol a backend speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BackendKind {
    /// OpenAI chat-completions protocol (with a [`Preset`] for known providers).
    OpenaiCompatible,
    /// Anthropic Messages API.
    Anthropic,
    /// The offline, deterministic scripted backend (no network).
    Scripted,
}

/// One backend.
#[derive(Clone, Debug, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// Protocol.
    pub kind: BackendKind,
    /// Preset for `openai_compatible` (fills `base_url` and `api_key_env`).
    #[serde(default)]
    pub preset: Option<Preset>,
    /// Base URL (before `/chat/completions` or `/messages`); overrides the preset's.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Environment variable with the API key; overrides the preset's.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Models this backend serves (used for routing when no route names the model).
    #[serde(default)]
    pub models: Vec<String>,
    /// Requests per window.
    #[serde(default)]
    pub rpm: Option<u64>,
    /// Tokens (prompt + max output, reconciled with usage) per window.
    #[serde(default)]
    pub tpm: Option<u64>,
    /// Window of `rpm`/`tpm` in milliseconds (default 60 000).
    #[serde(default = "default_window_ms")]
    pub window_ms: u64,
    /// Requests in flight at once (default 32).
    #[serde(default = "default_concurrency")]
    pub max_concurrency: usize,
    /// Milliseconds to wait for response headers / a JSON body (default 120 000).
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Milliseconds without a stream chunk after which the stream counts as stalled
    /// (default 30 000).
    #[serde(default = "default_stall_ms")]
    pub stall_timeout_ms: u64,
    /// Retries.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Circuit breaker.
    #[serde(default)]
    pub breaker: BreakerConfig,
    /// Longest pause a server can impose through `retry-after(-ms)` or a rate-limit reset
    /// header, in milliseconds (default 3 600 000: one hour); longer values are clamped to it.
    #[serde(default = "default_max_pause_ms")]
    pub max_pause_ms: u64,
    /// Largest complete response body, and largest whole stream, in bytes (default 64 MiB);
    /// beyond it the attempt fails with `ResponseTooLarge`.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: u64,
    /// Largest single SSE event, in bytes (default 8 MiB); beyond it the attempt fails with
    /// `ResponseTooLarge`.
    #[serde(default = "default_max_event_bytes")]
    pub max_event_bytes: u64,
    /// Anthropic `anthropic-version` header (default `2023-06-01`).
    #[serde(default)]
    pub anthropic_version: Option<String>,
    /// `scripted` only: the replies it plays, with their tool calls (see [`ScriptEntry`]);
    /// empty, it echoes the prompt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub script: Vec<ScriptEntry>,
}

fn default_window_ms() -> u64 {
    60_000
}
fn default_concurrency() -> usize {
    32
}
fn default_request_timeout_ms() -> u64 {
    120_000
}
fn default_stall_ms() -> u64 {
    30_000
}
fn default_max_pause_ms() -> u64 {
    3_600_000
}
fn default_max_response_bytes() -> u64 {
    64 << 20
}
fn default_max_event_bytes() -> u64 {
    8 << 20
}

impl BackendConfig {
    /// A backend of `kind` with defaults.
    pub fn new(kind: BackendKind) -> Self {
        BackendConfig {
            kind,
            preset: None,
            base_url: None,
            api_key_env: None,
            models: Vec::new(),
            rpm: None,
            tpm: None,
            window_ms: default_window_ms(),
            max_concurrency: default_concurrency(),
            request_timeout_ms: default_request_timeout_ms(),
            stall_timeout_ms: default_stall_ms(),
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            max_pause_ms: default_max_pause_ms(),
            max_response_bytes: default_max_response_bytes(),
            max_event_bytes: default_max_event_bytes(),
            anthropic_version: None,
            script: Vec::new(),
        }
    }

    /// A `scripted` backend playing `script` (the offline stand-in for a model: its replies
    /// and tool calls are fixed, and it says `scripted` in every answer's `model`).
    pub fn scripted(script: Vec<ScriptEntry>) -> Self {
        BackendConfig {
            script,
            ..BackendConfig::new(BackendKind::Scripted)
        }
    }

    /// Effective base URL (explicit, else the preset's, else the kind's default).
    pub fn effective_base_url(&self) -> Option<String> {
        self.base_url
            .clone()
            .or_else(|| self.preset.map(|p| p.info().base_url.to_owned()))
            .or_else(|| match self.kind {
                BackendKind::Anthropic => Some("https://api.anthropic.com/v1".to_owned()),
                _ => None,
            })
            .map(|u| u.trim_end_matches('/').to_owned())
    }

    /// Effective API-key variable.
    pub fn effective_key_env(&self) -> Option<String> {
        self.api_key_env
            .clone()
            .or_else(|| {
                self.preset
                    .and_then(|p| p.info().api_key_env.map(str::to_owned))
            })
            .or_else(|| match self.kind {
                BackendKind::Anthropic => Some("ANTHROPIC_API_KEY".to_owned()),
                _ => None,
            })
    }
}

impl ProvidersConfig {
    /// Warnings about scheduler capacity that does not follow the configured backends: a slice
    /// is held only while a request is at its backend, so `global_slots` below the backends'
    /// combined `max_concurrency` leaves backend capacity unused (`agent-os config check`
    /// prints these; the kernel logs them at start).
    pub fn capacity_warnings(&self, scheduler: &SchedulerConfig) -> Vec<String> {
        let total = self
            .backends
            .values()
            .fold(0usize, |n, b| n.saturating_add(b.max_concurrency.max(1)));
        let mut out = Vec::new();
        if total > scheduler.global_slots {
            out.push(format!(
                "scheduler.global_slots = {} is below the backends' combined max_concurrency ({total}): at most {} LLM calls run at once",
                scheduler.global_slots, scheduler.global_slots
            ));
        }
        for (name, b) in &self.backends {
            if let Some(slots) = scheduler.per_provider_slots.get(name)
                && *slots < b.max_concurrency.max(1)
            {
                out.push(format!(
                    "scheduler.per_provider_slots.{name} = {slots} is below providers.backends.{name}.max_concurrency ({})",
                    b.max_concurrency
                ));
            }
        }
        out
    }
}

/// One step of a fallback chain.
#[derive(Clone, Debug, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTarget {
    /// Backend name.
    pub backend: String,
    /// Model to request there (default: the requested name).
    #[serde(default)]
    pub model: Option<String>,
    /// Context window of that model, in tokens: on a context-length error the router skips to
    /// the next target with a larger window.
    #[serde(default)]
    pub context_window: Option<u64>,
}

/// Price of a model in USD per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// USD per million input tokens.
    pub input_per_mtok: f64,
    /// USD per million output tokens.
    pub output_per_mtok: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_unknown_fields() {
        let json = serde_json::json!({
            "backends": {"ds": {"kind": "openai_compatible", "preset": "deepseek", "rpm": 60,
                                 "retry": {"max_attempts": 2}}},
            "routes": {"smart": [{"backend": "ds", "model": "deepseek-chat"}]},
            "prices": {"deepseek-chat": {"input_per_mtok": 0.27, "output_per_mtok": 1.1}}
        });
        let cfg: Result<ProvidersConfig, _> = serde_json::from_value(json);
        let cfg = cfg.map_err(|e| e.to_string());
        assert!(cfg.is_ok(), "{cfg:?}");
        if let Ok(cfg) = cfg {
            let ds = &cfg.backends["ds"];
            assert_eq!(ds.effective_key_env().as_deref(), Some("DEEPSEEK_API_KEY"));
            assert_eq!(ds.retry.max_attempts, 2);
            assert_eq!(ds.window_ms, 60_000);
        }
        let bad = serde_json::json!({"backends": {"x": {"kind": "anthropic", "rmp": 1}}});
        assert!(serde_json::from_value::<ProvidersConfig>(bad).is_err());
    }
}
