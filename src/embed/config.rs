//! `[pager.embedder]`: which embedder the pager uses, and [`build`] to start it.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{EmbedError, Embedder, EmbedderKind, LexicalEmbedder, ProviderEmbedder};

/// Width of the lexical embedder's vectors when `dimensions` is not set (the width of the
/// neural model and of the pgvector HNSW indexes).
pub const DEFAULT_LEXICAL_DIMENSIONS: usize = 384;

/// The embedder configuration (TOML section `[pager.embedder]`; every key optional):
///
/// ```toml
/// [pager.embedder]
/// # "lexical" (default: offline feature hashing, zero setup, matches words not meaning),
/// # "neural" (all-MiniLM-L6-v2 in-process; needs the `neural` cargo feature and
/// #           `bash scripts/setup-minilm.sh`), or
/// # "provider" (a backend's embeddings endpoint through the router, under scheduler slices).
/// kind = "lexical"
/// # lexical: vector width (default 384). provider: the model's width — checked on every
/// # answer; unset, it is learnt from one probe call when the kernel starts. neural: 384 or unset.
/// # dimensions = 384
/// # provider: the embedding model (or route) name the router resolves to a backend.
/// model = "text-embedding-3-small"
/// # neural: directory holding config.json, tokenizer.json and model.safetensors.
/// # Unset: $AOK_MINILM_DIR, else $HOME/.cache/agent-os/models/all-minilm-l6-v2.
/// # model_dir = "/var/lib/agent-os/models/all-minilm-l6-v2"
/// # neural: texts per forward pass; provider: texts per request.
/// batch_size = 32
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedderConfig {
    /// `lexical` | `neural` | `provider`.
    pub kind: EmbedderKind,
    /// Vector width: lexical (default 384); provider (checked; unset = probed); neural (384).
    pub dimensions: Option<usize>,
    /// Provider: embedding model or route name.
    pub model: String,
    /// Neural: model directory (unset: `$AOK_MINILM_DIR`, else
    /// `$HOME/.cache/agent-os/models/all-minilm-l6-v2`).
    pub model_dir: Option<PathBuf>,
    /// Neural: texts per forward pass; provider: texts per request.
    pub batch_size: usize,
}

impl Default for EmbedderConfig {
    fn default() -> Self {
        EmbedderConfig {
            kind: EmbedderKind::Lexical,
            dimensions: None,
            model: "text-embedding-3-small".to_owned(),
            model_dir: None,
            batch_size: 32,
        }
    }
}

impl EmbedderConfig {
    /// The neural model directory: `model_dir`, else `$AOK_MINILM_DIR`, else
    /// `$HOME/.cache/agent-os/models/all-minilm-l6-v2` (the setup script's default), else
    /// (no `HOME`) that path relative to the working directory.
    pub fn resolved_model_dir(&self) -> PathBuf {
        if let Some(dir) = &self.model_dir {
            return dir.clone();
        }
        if let Some(dir) = std::env::var_os("AOK_MINILM_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        home.join(".cache/agent-os/models/all-minilm-l6-v2")
    }

    /// Checks the keys against each other (before anything is loaded or called).
    pub fn validate(&self) -> Result<(), EmbedError> {
        if self.batch_size == 0 {
            return Err(EmbedError::InvalidConfig {
                key: "batch_size",
                reason: "must be at least 1".into(),
            });
        }
        if self.dimensions == Some(0) {
            return Err(EmbedError::InvalidConfig {
                key: "dimensions",
                reason: "must be at least 1".into(),
            });
        }
        match self.kind {
            EmbedderKind::Neural => {
                if let Some(d) = self.dimensions.filter(|d| *d != 384) {
                    return Err(EmbedError::InvalidConfig {
                        key: "dimensions",
                        reason: format!(
                            "all-MiniLM-L6-v2 has 384 dimensions, not {d} (leave it unset)"
                        ),
                    });
                }
            }
            EmbedderKind::Provider if self.model.trim().is_empty() => {
                return Err(EmbedError::InvalidConfig {
                    key: "model",
                    reason: "the provider embedder needs an embedding model or route name".into(),
                });
            }
            EmbedderKind::Provider | EmbedderKind::Lexical => {}
        }
        Ok(())
    }
}

/// Starts the configured embedder for `kernel`.
///
/// - `lexical`: at once, no I/O.
/// - `neural`: loads the model from [`EmbedderConfig::resolved_model_dir`] on the blocking
///   pool (~90 MB read; see `docs/benchmarks.md` for the load time). Without the `neural`
///   feature: [`EmbedError::NeuralNotCompiled`]; without the files:
///   [`EmbedError::ModelFile`] naming the path and `scripts/setup-minilm.sh`.
/// - `provider`: holds the kernel's router and scheduler (not the kernel: no reference cycle
///   when the pager keeps it); slices are requested on behalf of a pid of the embedder's own
///   (see [`ProviderEmbedder`]). With `dimensions` unset, one probe text is embedded now to
///   learn the width, so a backend that is down fails here.
pub async fn build(
    cfg: &EmbedderConfig,
    kernel: &crate::Kernel,
) -> Result<Arc<dyn Embedder>, EmbedError> {
    cfg.validate()?;
    match cfg.kind {
        EmbedderKind::Lexical => Ok(Arc::new(LexicalEmbedder::new(
            cfg.dimensions.unwrap_or(DEFAULT_LEXICAL_DIMENSIONS),
        ))),
        EmbedderKind::Provider => {
            let embedder = match cfg.dimensions {
                Some(d) => ProviderEmbedder::new(kernel, cfg.model.clone(), d),
                None => ProviderEmbedder::connect(kernel, cfg.model.clone()).await?,
            };
            Ok(Arc::new(embedder.with_batch_size(cfg.batch_size)))
        }
        EmbedderKind::Neural => build_neural(cfg).await,
    }
}

#[cfg(feature = "neural")]
async fn build_neural(cfg: &EmbedderConfig) -> Result<Arc<dyn Embedder>, EmbedError> {
    let dir = cfg.resolved_model_dir();
    let batch = cfg.batch_size;
    let loaded = tokio::task::spawn_blocking(move || super::MiniLmEmbedder::load(dir))
        .await
        .map_err(|e| EmbedError::Inference(Box::new(e)))??;
    Ok(Arc::new(loaded.with_batch_size(batch)))
}

#[cfg(not(feature = "neural"))]
#[allow(
    clippy::unused_async,
    reason = "the same signature as with the feature"
)]
async fn build_neural(_: &EmbedderConfig) -> Result<Arc<dyn Embedder>, EmbedError> {
    Err(EmbedError::NeuralNotCompiled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_keys_parse_from_toml() {
        let cfg: EmbedderConfig = toml::from_str("").unwrap();
        assert_eq!(cfg, EmbedderConfig::default());
        assert_eq!(cfg.kind, EmbedderKind::Lexical);
        let cfg: EmbedderConfig = toml::from_str(
            "kind = \"neural\"\nmodel_dir = \"/m\"\nbatch_size = 8\ndimensions = 384\nmodel = \"x\"",
        )
        .unwrap();
        assert_eq!(cfg.kind, EmbedderKind::Neural);
        assert_eq!(cfg.resolved_model_dir(), PathBuf::from("/m"));
        assert!(cfg.validate().is_ok());
        let cfg: EmbedderConfig = toml::from_str("kind = \"provider\"").unwrap();
        assert_eq!(cfg.kind, EmbedderKind::Provider);
    }

    #[test]
    fn unknown_keys_and_kinds_are_refused() {
        assert!(toml::from_str::<EmbedderConfig>("dimension = 3").is_err());
        assert!(toml::from_str::<EmbedderConfig>("kind = \"Lexical\"").is_err());
        assert!(toml::from_str::<EmbedderConfig>("kind = \"random\"").is_err());
    }

    #[test]
    fn invalid_combinations_name_the_key() {
        let bad = |cfg: EmbedderConfig| match cfg.validate() {
            Err(EmbedError::InvalidConfig { key, .. }) => key,
            other => panic!("expected InvalidConfig, got {other:?}"),
        };
        let mut cfg = EmbedderConfig {
            batch_size: 0,
            ..EmbedderConfig::default()
        };
        assert_eq!(bad(cfg.clone()), "batch_size");
        cfg.batch_size = 1;
        cfg.dimensions = Some(0);
        assert_eq!(bad(cfg.clone()), "dimensions");
        cfg.kind = EmbedderKind::Neural;
        cfg.dimensions = Some(768);
        assert_eq!(bad(cfg.clone()), "dimensions");
        cfg.kind = EmbedderKind::Provider;
        cfg.dimensions = None;
        cfg.model = " ".into();
        assert_eq!(bad(cfg), "model");
    }
}
