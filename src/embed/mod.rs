//! Embedders: text → L2-normalised vectors, behind one [`Embedder`] trait, for the pager's
//! semantic recall (issue 12, item 6).
//!
//! Three kinds, chosen in configuration ([`EmbedderConfig`], mounted at `[pager.embedder]`):
//!
//! | kind | type | id | setup | what it captures |
//! |---|---|---|---|---|
//! | `lexical` (default) | [`LexicalEmbedder`] | `lexical-hash-v1-<dim>` | none | shared words, word pairs and spellings — not meaning |
//! | `neural` | `MiniLmEmbedder` (cargo feature `neural`) | `all-minilm-l6-v2` | `bash scripts/setup-minilm.sh` | meaning: paraphrases with no word in common |
//! | `provider` | [`ProviderEmbedder`] | `provider:<model>` | an `openai_compatible` backend | whatever the backend's model does |
//!
//! Every vector is L2-normalised, so cosine similarity is the dot product ([`cosine`]); the
//! embedder's [`Embedder::id`] is stored with every vector so vectors of different embedders
//! are never compared. Nothing downloads at run time: the neural model is read from a local
//! directory the project's own setup script fills from a PyPI wheel.
//!
//! ```
//! use agent_os_kernel::embed::{cosine, Embedder, LexicalEmbedder};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), agent_os_kernel::embed::EmbedError> {
//! let embedder = LexicalEmbedder::new(384);
//! let v = embedder.embed(&["the pager evicts pages", "pages are evicted by the pager"]).await?;
//! assert!(cosine(&v[0], &v[1]) > 0.3);
//! # Ok(())
//! # }
//! ```
//!
//! The paraphrase result and the setup of the neural model are in `docs/embeddings.md`.

mod config;
mod lexical;
#[cfg(feature = "neural")]
mod neural;
mod provider;

use std::path::PathBuf;

pub use config::{DEFAULT_LEXICAL_DIMENSIONS, EmbedderConfig, build};
pub use lexical::LexicalEmbedder;
#[cfg(feature = "neural")]
pub use neural::MiniLmEmbedder;
pub use provider::ProviderEmbedder;

use crate::provider::ProviderError;

/// The future an [`Embedder::embed`] returns.
pub type EmbedFuture<'a> =
    std::pin::Pin<Box<dyn Future<Output = Result<Vec<Vec<f32>>, EmbedError>> + Send + 'a>>;

/// Turns texts into L2-normalised vectors (cosine similarity = dot product).
pub trait Embedder: Send + Sync + std::fmt::Debug + 'static {
    /// Stable id stored with every vector, e.g. "lexical-hash-v1-384", "all-minilm-l6-v2",
    /// "provider:text-embedding-3-small".
    fn id(&self) -> &str;

    /// What kind of embedder this is.
    fn kind(&self) -> EmbedderKind;

    /// Length of every vector it returns.
    fn dimensions(&self) -> usize;

    /// One vector per text, in order, each of `dimensions()` length, L2-normalised (a zero
    /// vector for empty text is allowed).
    fn embed<'a>(&'a self, texts: &'a [&'a str]) -> EmbedFuture<'a>;
}

/// The kind of an [`Embedder`] (in configuration: `"lexical"`, `"neural"`, `"provider"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EmbedderKind {
    /// Offline feature hashing of words and spellings ([`LexicalEmbedder`]).
    Lexical,
    /// A neural model run in-process (`MiniLmEmbedder`, feature `neural`).
    Neural,
    /// A provider's embeddings endpoint ([`ProviderEmbedder`]).
    Provider,
}

/// How to install the neural model files (named by every error about them).
pub const MINILM_SETUP: &str = "bash scripts/setup-minilm.sh";

/// Everything an embedder can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// The provider layer failed (after its retries and fallbacks), or no slice could be had.
    #[error("embeddings provider call failed: {0}")]
    Provider(#[from] ProviderError),
    /// A model file is missing or unreadable.
    #[error(
        "model file {} is missing or unreadable ({source}); install the model with `{MINILM_SETUP}` (it fills $AOK_MINILM_DIR, default ~/.cache/agent-os/models/all-minilm-l6-v2) or point `model_dir` at a directory holding config.json, tokenizer.json and model.safetensors",
        path.display()
    )]
    ModelFile {
        /// The file (or directory) that could not be read.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A model file is there but is not what the model needs (bad JSON, tokenizer or weights).
    #[error(
        "model file {} is not valid: {reason}; reinstall it with `{MINILM_SETUP}`",
        path.display()
    )]
    ModelInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Running the model failed (tokenizing, a tensor operation, the blocking task).
    #[error("model inference failed: {0}")]
    Inference(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A provider answered with vectors of another length than the embedder's.
    #[error("embedding model `{model}` answered {got}-dimensional vectors, expected {expected}")]
    Dimension {
        /// The embedding model (or route) asked.
        model: String,
        /// The fixed dimension (configured, or from the first answer).
        expected: usize,
        /// The length received.
        got: usize,
    },
    /// A provider answered another number of vectors than texts were sent.
    #[error("embedding model `{model}` answered {got} vectors for {expected} texts")]
    Count {
        /// The embedding model (or route) asked.
        model: String,
        /// Texts sent.
        expected: usize,
        /// Vectors received.
        got: usize,
    },
    /// The `neural` kind was configured but the crate was built without the `neural` feature.
    #[error(
        "the neural embedder is not compiled in: build with `--features neural` (and install the model with `{MINILM_SETUP}`), or use kind = \"lexical\""
    )]
    NeuralNotCompiled,
    /// The embedder configuration is invalid.
    #[error("invalid embedder configuration `{key}`: {reason}")]
    InvalidConfig {
        /// The offending key of `[pager.embedder]`.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

/// Cosine similarity of two vectors (0 when either is zero or their lengths differ). For
/// vectors from an [`Embedder`] (L2-normalised) this is their dot product.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    dot / (na.sqrt() * nb.sqrt())
}

/// Scales `v` to unit L2 length in place (a zero or non-finite vector becomes all zeros).
pub(crate) fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut().for_each(|x| *x /= norm);
    } else {
        v.iter_mut().for_each(|x| *x = 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_parallel_orthogonal_and_mismatched_vectors() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 3.0]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 0.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn normalize_makes_unit_length_and_zeroes_degenerate_vectors() {
        let mut v = vec![3.0, 4.0];
        l2_normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        let mut z = vec![0.0, f32::NAN];
        l2_normalize(&mut z);
        assert_eq!(z, vec![0.0, 0.0]);
    }
}
