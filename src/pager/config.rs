//! `[pager]`: page size, budgets, replacement weights, pressure, recall and summaries.

use serde::{Deserialize, Serialize};

use crate::embed::EmbedderConfig;

/// The pager's configuration (`[pager]` in `config/default.toml`, where every key is
/// explained).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerConfig {
    /// Largest page, in tokens (`cl100k_base`); longer content is split at token boundaries.
    pub page_tokens: u32,
    /// The model's context window an agent works with, in tokens.
    pub window_tokens: u64,
    /// Tokens kept free for the model's answer; the resident budget is
    /// `window_tokens - reserve_output_tokens` unless an agent has its own.
    pub reserve_output_tokens: u64,
    /// Over budget, evict down to this share of the budget (one batch, so the prompt prefix
    /// changes rarely).
    pub low_water: f64,
    /// Share of the budget at which the agent is told about memory pressure (once per
    /// upward crossing).
    pub pressure_threshold: f64,
    /// Replacement policy: `weighted` or `lru`.
    pub policy: ReplacementKind,
    /// Weights of the `weighted` policy.
    pub weights: ScoreWeights,
    /// Smallest similarity (cosine, −1…1) at which `context(query)` faults a swapped page in.
    pub recall_threshold: f32,
    /// Most swapped entries `context(query)` faults in per call.
    pub context_recall: usize,
    /// Turn evicted conversation pages into a `summary` page through the LLM.
    pub summarize: bool,
    /// Model (or route) the summaries are asked of.
    pub summary_model: String,
    /// Largest summary, in tokens (also the room compaction keeps free for it).
    pub summary_max_tokens: u32,
    /// How pages and queries are embedded.
    pub embedder: EmbedderConfig,
}

/// Which replacement policy a pager uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReplacementKind {
    /// Recency, importance, similarity to the current query and frequency, weighted.
    Weighted,
    /// Least recently used.
    Lru,
}

/// Weights of the default replacement score (each ≥ 0; they need not sum to 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreWeights {
    /// Recency of the last access.
    pub recency: f32,
    /// The page's importance.
    pub importance: f32,
    /// Similarity to the current query.
    pub similarity: f32,
    /// How often it was accessed.
    pub frequency: f32,
}

impl Default for ScoreWeights {
    fn default() -> Self {
        ScoreWeights {
            recency: 0.4,
            importance: 0.3,
            similarity: 0.2,
            frequency: 0.1,
        }
    }
}

impl PagerConfig {
    /// The default resident budget: the window minus the reserved output.
    pub fn default_budget(&self) -> u64 {
        self.window_tokens
            .saturating_sub(self.reserve_output_tokens)
    }

    /// Problems as (`pager.key`, reason) pairs; empty when valid.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut check = |ok: bool, key: &'static str, reason: &str| {
            if !ok {
                out.push((key, reason.to_string()));
            }
        };
        check(
            (16..=1_000_000).contains(&self.page_tokens),
            "pager.page_tokens",
            "must be 16 to 1000000",
        );
        check(
            self.window_tokens > self.reserve_output_tokens,
            "pager.reserve_output_tokens",
            "must be below pager.window_tokens",
        );
        check(
            self.low_water > 0.0 && self.low_water <= 1.0,
            "pager.low_water",
            "must be above 0 and at most 1",
        );
        check(
            self.pressure_threshold > 0.0 && self.pressure_threshold <= 1.0,
            "pager.pressure_threshold",
            "must be above 0 and at most 1",
        );
        let w = self.weights;
        check(
            [w.recency, w.importance, w.similarity, w.frequency]
                .iter()
                .all(|x| x.is_finite() && *x >= 0.0),
            "pager.weights",
            "every weight must be a finite number ≥ 0",
        );
        check(
            (-1.0..=1.0).contains(&self.recall_threshold),
            "pager.recall_threshold",
            "must be -1 to 1",
        );
        check(
            !self.summarize || !self.summary_model.is_empty(),
            "pager.summary_model",
            "must name a model or route when pager.summarize = true",
        );
        check(
            self.summary_max_tokens >= 1,
            "pager.summary_max_tokens",
            "must be at least 1",
        );
        out
    }
}
