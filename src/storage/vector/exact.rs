//! Exact (brute-force) top-k by cosine similarity: the baseline, and the index used while a set
//! of vectors is small.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;

use crate::storage::vector::error::{VectorError, check_vector};

/// The dot product of two vectors of the same length (cosine similarity for normalised
/// vectors). Written in eight independent lanes so the compiler vectorises it.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [0.0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    let mut sum: f32 = lanes.iter().sum();
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        sum += x * y;
    }
    sum
}

/// Scales `v` to unit length in place (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 && norm.is_finite() {
        for x in v.iter_mut() {
            *x /= norm;
        }
    }
}

/// A similarity with the key it belongs to, ordered by similarity, then by key (so results are
/// deterministic when similarities tie: the smaller key wins).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Hit {
    pub(crate) similarity: f32,
    pub(crate) key: u64,
}

impl Eq for Hit {}

impl Ord for Hit {
    fn cmp(&self, other: &Self) -> Ordering {
        self.similarity
            .total_cmp(&other.similarity)
            .then_with(|| other.key.cmp(&self.key))
    }
}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The `k` candidates most similar to `query` (dot product, i.e. cosine for normalised
/// vectors), best first. Candidates whose length differs from the query's are skipped.
pub fn exact_top_k<'a>(
    candidates: impl Iterator<Item = (u64, &'a [f32])>,
    query: &[f32],
    k: usize,
) -> Vec<(u64, f32)> {
    if k == 0 {
        return Vec::new();
    }
    // Grown as needed: `k` comes from callers and may be far above the candidates.
    let mut heap: BinaryHeap<Reverse<Hit>> = BinaryHeap::new();
    for (key, vector) in candidates {
        if vector.len() != query.len() {
            continue;
        }
        let hit = Hit {
            similarity: dot(vector, query),
            key,
        };
        if heap.len() < k {
            heap.push(Reverse(hit));
        } else if heap.peek().is_some_and(|Reverse(worst)| hit > *worst) {
            heap.pop();
            heap.push(Reverse(hit));
        }
    }
    let mut hits: Vec<Hit> = heap.into_iter().map(|Reverse(h)| h).collect();
    hits.sort_unstable_by(|a, b| b.cmp(a));
    hits.into_iter().map(|h| (h.key, h.similarity)).collect()
}

/// A flat set of vectors searched exhaustively: exact, and fastest for a few thousand vectors.
#[derive(Clone, Default)]
pub struct ExactIndex {
    dim: usize,
    keys: Vec<u64>,
    vectors: Vec<f32>,
    slots: FxHashMap<u64, usize>,
}

impl std::fmt::Debug for ExactIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExactIndex")
            .field("dim", &self.dim)
            .field("len", &self.keys.len())
            .finish()
    }
}

impl ExactIndex {
    /// An empty index of `dim`-dimensional vectors.
    pub fn new(dim: usize) -> ExactIndex {
        ExactIndex {
            dim,
            ..ExactIndex::default()
        }
    }

    /// The dimension of the vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Adds `vector` under `key`, replacing what `key` had.
    pub fn insert(&mut self, key: u64, vector: Vec<f32>) -> Result<(), VectorError> {
        check_vector(self.dim, &vector)?;
        match self.slots.get(&key) {
            Some(&slot) => {
                self.vectors[slot * self.dim..(slot + 1) * self.dim].copy_from_slice(&vector);
            }
            None => {
                self.slots.insert(key, self.keys.len());
                self.keys.push(key);
                self.vectors.extend_from_slice(&vector);
            }
        }
        Ok(())
    }

    /// Removes `key`; whether it was there.
    pub fn remove(&mut self, key: u64) -> bool {
        let Some(slot) = self.slots.remove(&key) else {
            return false;
        };
        let last = self.keys.len() - 1;
        if slot != last {
            let moved = self.keys[last];
            self.keys.swap(slot, last);
            let (head, tail) = self.vectors.split_at_mut(last * self.dim);
            head[slot * self.dim..(slot + 1) * self.dim].copy_from_slice(&tail[..self.dim]);
            self.slots.insert(moved, slot);
        }
        self.keys.pop();
        self.vectors.truncate(last * self.dim);
        true
    }

    /// The `k` vectors most similar to `query` among those whose key passes `filter`, best
    /// first. Empty if `query` has the wrong dimension.
    pub fn search(&self, query: &[f32], k: usize, filter: impl Fn(u64) -> bool) -> Vec<(u64, f32)> {
        if query.len() != self.dim {
            return Vec::new();
        }
        exact_top_k(self.iter().filter(|(key, _)| filter(*key)), query, k)
    }

    /// Every `(key, vector)`, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[f32])> {
        self.keys
            .iter()
            .copied()
            .zip(self.vectors.chunks_exact(self.dim.max(1)))
    }

    /// How many vectors it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds no vector.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `key` is in it.
    pub fn contains(&self, key: u64) -> bool {
        self.slots.contains_key(&key)
    }
}
