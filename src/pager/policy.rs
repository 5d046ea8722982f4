//! Replacement policies: which resident pages leave first when an agent is over budget.

use std::fmt;

use crate::pager::config::ScoreWeights;

/// One eviction candidate: a group of unpinned resident pages that leave and come back
/// together (a message's pages; an assistant turn with its tool calls and their results).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Candidate {
    /// Tokens the group holds.
    pub tokens: u64,
    /// Highest importance among its pages (0–1).
    pub importance: f32,
    /// Logical time of its last access (allocation, read, touch, recall, fault); larger is
    /// more recent. The clock is per agent and ticks once per access.
    pub last_access: u64,
    /// Accesses of its most accessed page.
    pub access_count: u32,
    /// Highest cosine similarity of its pages to the current query (`None` without a query
    /// or without embeddings).
    pub similarity: Option<f32>,
    /// Conversation position of its first page.
    pub seq: u64,
}

/// Orders eviction candidates. The pager evicts in the returned order until the resident
/// set is down to its low-water mark, so a policy decides *which* pages go, never *how
/// many*.
///
/// ```
/// use agent_os_kernel::pager::{Candidate, ReplacementPolicy};
/// /// Evicts the largest groups first.
/// #[derive(Debug)]
/// struct LargestFirst;
/// impl ReplacementPolicy for LargestFirst {
///     fn name(&self) -> &str { "largest_first" }
///     fn eviction_order(&self, c: &[Candidate]) -> Vec<usize> {
///         let mut order: Vec<usize> = (0..c.len()).collect();
///         order.sort_by_key(|&i| std::cmp::Reverse(c[i].tokens));
///         order
///     }
/// }
/// ```
pub trait ReplacementPolicy: Send + Sync + fmt::Debug + 'static {
    /// The policy's name (stats, logs).
    fn name(&self) -> &str;
    /// Indexes into `candidates`, first to be evicted first. Indexes left out are not
    /// evicted in this pass (the pager then reports a `ContextOverflow` if it is still over
    /// budget); out-of-range or repeated indexes are ignored.
    fn eviction_order(&self, candidates: &[Candidate]) -> Vec<usize>;
}

/// The default policy: a weighted sum of recency, importance, similarity to the current
/// query and frequency, each normalised to 0–1 over the candidates; the lowest score is
/// evicted first, ties go to the older page.
#[derive(Debug, Clone, Copy)]
pub struct WeightedPolicy {
    weights: ScoreWeights,
}

impl WeightedPolicy {
    /// A weighted policy with these weights.
    pub fn new(weights: ScoreWeights) -> Self {
        WeightedPolicy { weights }
    }

    /// The score of each candidate (higher is kept longer).
    pub fn scores(&self, candidates: &[Candidate]) -> Vec<f64> {
        let (lo, hi) = candidates.iter().fold((u64::MAX, 0u64), |(lo, hi), c| {
            (lo.min(c.last_access), hi.max(c.last_access))
        });
        let span = hi.saturating_sub(lo);
        let max_count = candidates.iter().map(|c| c.access_count).max().unwrap_or(0);
        let log_max = f64::from(max_count).ln_1p();
        let w = self.weights;
        candidates
            .iter()
            .map(|c| {
                let recency = if span == 0 {
                    1.0
                } else {
                    (c.last_access - lo) as f64 / span as f64
                };
                let frequency = if log_max > 0.0 {
                    f64::from(c.access_count).ln_1p() / log_max
                } else {
                    0.0
                };
                let similarity = f64::from(c.similarity.unwrap_or(0.0).clamp(0.0, 1.0));
                let importance = f64::from(c.importance.clamp(0.0, 1.0));
                f64::from(w.recency) * recency
                    + f64::from(w.importance) * importance
                    + f64::from(w.similarity) * similarity
                    + f64::from(w.frequency) * frequency
            })
            .collect()
    }
}

impl ReplacementPolicy for WeightedPolicy {
    fn name(&self) -> &str {
        "weighted"
    }

    fn eviction_order(&self, candidates: &[Candidate]) -> Vec<usize> {
        let scores = self.scores(candidates);
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        order.sort_by(|&a, &b| {
            scores[a]
                .total_cmp(&scores[b])
                .then(candidates[a].seq.cmp(&candidates[b].seq))
        });
        order
    }
}

/// Least recently used first (ties: the older page).
#[derive(Debug, Clone, Copy, Default)]
pub struct LruPolicy;

impl ReplacementPolicy for LruPolicy {
    fn name(&self) -> &str {
        "lru"
    }

    fn eviction_order(&self, candidates: &[Candidate]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        order.sort_by_key(|&i| (candidates[i].last_access, candidates[i].seq));
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(seq: u64, importance: f32, last_access: u64, count: u32) -> Candidate {
        Candidate {
            tokens: 10,
            importance,
            last_access,
            access_count: count,
            similarity: None,
            seq,
        }
    }

    #[test]
    fn weighted_keeps_important_and_recent_pages() {
        let c = [
            cand(0, 0.9, 1, 1), // old but important
            cand(1, 0.1, 2, 1), // old, unimportant: first out
            cand(2, 0.1, 9, 1), // recent
        ];
        let order = WeightedPolicy::new(ScoreWeights::default()).eviction_order(&c);
        assert_eq!(order[0], 1);
    }

    #[test]
    fn similarity_protects_a_page() {
        let mut c = [cand(0, 0.5, 1, 1), cand(1, 0.5, 1, 1)];
        c[0].similarity = Some(0.9);
        let order = WeightedPolicy::new(ScoreWeights::default()).eviction_order(&c);
        assert_eq!(order, vec![1, 0]);
    }

    #[test]
    fn lru_is_by_last_access() {
        let c = [cand(0, 1.0, 5, 9), cand(1, 0.0, 3, 0), cand(2, 0.0, 4, 0)];
        assert_eq!(LruPolicy.eviction_order(&c), vec![1, 2, 0]);
    }
}
