//! [`VectorIndex`]: exact while small, HNSW once large — what the pager holds per agent.

use crate::storage::vector::error::VectorError;
use crate::storage::vector::exact::ExactIndex;
use crate::storage::vector::hnsw::{HnswIndex, HnswParams};

/// Below this many vectors a [`VectorIndex`] scans exactly (default of
/// [`VectorIndex::with_threshold`]).
pub const DEFAULT_HNSW_THRESHOLD: usize = 2_000;

/// A set of vectors that is searched exactly while it is small and through an [`HnswIndex`]
/// once it grows past a threshold.
///
/// * It switches to HNSW when an insert takes it to `threshold` vectors, and back to the exact
///   scan when removals take it below `threshold / 2` (the gap keeps it from flapping).
/// * Below the threshold an exact scan is both exact and fast (2 000 × 384 dimensions is about
///   0.8 M multiply-adds, well under a millisecond); above it HNSW keeps queries sub-linear.
/// * The API is the same in both modes; [`VectorIndex::is_hnsw`] tells which one is active.
#[derive(Clone, Debug)]
pub struct VectorIndex {
    threshold: usize,
    params: HnswParams,
    inner: Inner,
}

#[derive(Clone, Debug)]
enum Inner {
    Exact(ExactIndex),
    Hnsw(Box<HnswIndex>),
}

impl VectorIndex {
    /// An empty index of `dim`-dimensional vectors with the default threshold and HNSW
    /// parameters.
    pub fn new(dim: usize) -> VectorIndex {
        VectorIndex::with_threshold(dim, DEFAULT_HNSW_THRESHOLD, HnswParams::default())
    }

    /// An empty index that switches to HNSW (with `params`) at `threshold` vectors.
    pub fn with_threshold(dim: usize, threshold: usize, params: HnswParams) -> VectorIndex {
        VectorIndex {
            threshold: threshold.max(1),
            params,
            inner: Inner::Exact(ExactIndex::new(dim)),
        }
    }

    /// The dimension of the vectors.
    pub fn dim(&self) -> usize {
        match &self.inner {
            Inner::Exact(e) => e.dim(),
            Inner::Hnsw(h) => h.dim(),
        }
    }

    /// Whether searches currently go through the HNSW graph.
    pub fn is_hnsw(&self) -> bool {
        matches!(self.inner, Inner::Hnsw(_))
    }

    /// Adds `vector` (L2-normalised) under `key`, replacing what `key` had. A vector of the
    /// wrong dimension or with a non-finite component is refused.
    pub fn insert(&mut self, key: u64, vector: Vec<f32>) -> Result<(), VectorError> {
        match &mut self.inner {
            Inner::Exact(e) => {
                e.insert(key, vector)?;
                if e.len() >= self.threshold {
                    let mut h = HnswIndex::new(e.dim(), self.params);
                    for (k, v) in e.iter() {
                        h.insert(k, v.to_vec())?;
                    }
                    self.inner = Inner::Hnsw(Box::new(h));
                }
                Ok(())
            }
            Inner::Hnsw(h) => h.insert(key, vector),
        }
    }

    /// Removes `key`; whether it was there.
    pub fn remove(&mut self, key: u64) -> bool {
        match &mut self.inner {
            Inner::Exact(e) => e.remove(key),
            Inner::Hnsw(h) => {
                let removed = h.remove(key);
                if h.len() < self.threshold / 2 {
                    let mut e = ExactIndex::new(h.dim());
                    for (k, v) in h.iter() {
                        // Same dimension, already checked.
                        let _ = e.insert(k, v.to_vec());
                    }
                    self.inner = Inner::Exact(e);
                }
                removed
            }
        }
    }

    /// The `k` vectors most similar to `query` among those whose key passes `filter`, best
    /// first, as `(key, cosine similarity)`. Empty if `query` has the wrong dimension.
    pub fn search(&self, query: &[f32], k: usize, filter: impl Fn(u64) -> bool) -> Vec<(u64, f32)> {
        match &self.inner {
            Inner::Exact(e) => e.search(query, k, filter),
            Inner::Hnsw(h) => h.search(query, k, filter),
        }
    }

    /// How many vectors it holds.
    pub fn len(&self) -> usize {
        match &self.inner {
            Inner::Exact(e) => e.len(),
            Inner::Hnsw(h) => h.len(),
        }
    }

    /// Whether it holds no vector.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `key` is in it.
    pub fn contains(&self, key: u64) -> bool {
        match &self.inner {
            Inner::Exact(e) => e.contains(key),
            Inner::Hnsw(h) => h.contains(key),
        }
    }
}
