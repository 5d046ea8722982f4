//! An in-process HNSW graph (Malkov & Yashunin, "Efficient and robust approximate nearest
//! neighbor search using Hierarchical Navigable Small World graphs", 2016) for cosine
//! similarity over L2-normalised `f32` vectors with `u64` keys.
//!
//! * Levels are drawn from a seeded RNG, so the same inserts in the same order build the same
//!   graph.
//! * Neighbours are chosen with the paper's heuristic (Algorithm 4 without extension): a
//!   candidate is linked only if it is closer to the new node than to every neighbour already
//!   chosen, which keeps links spread across clusters.
//! * Removal tombstones a node: it still routes searches but never appears in results. When
//!   tombstones outnumber live nodes the graph is rebuilt from the live vectors.
//! * A search filter is applied during the layer-0 search: rejected nodes are walked through but
//!   not returned, and the walk continues until `ef` accepted nodes are found — in effect a
//!   wider `ef` (`ef / s` for a filter passing a share `s`). A very selective filter would make
//!   that walk visit much of the graph, so past a budget (1/64 of the nodes, at least `8·ef`)
//!   it estimates the filter's share from what it saw and, if an exact scan of the passing
//!   nodes is cheaper than finishing the walk, does that instead. A filter never silently
//!   shortens the answer.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rustc_hash::FxHashMap;

use crate::storage::vector::error::{VectorError, check_vector};
use crate::storage::vector::exact::{Hit, dot, exact_top_k};

/// The seed of the level RNG: fixed, so graphs are reproducible.
const LEVEL_SEED: u64 = 0x5eed_a0c0_4e57_0001;
/// Levels are capped here (a graph of 2^32 nodes with M = 2 would need ~32).
const MAX_LEVEL: usize = 24;

/// Parameters of an [`HnswIndex`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HnswParams {
    /// Links per node on the upper layers (twice as many on layer 0). At least 2.
    pub m: usize,
    /// Candidate list size while inserting (higher: better graph, slower inserts).
    pub ef_construction: usize,
    /// Candidate list size while searching (raised to `k` if smaller; higher: better
    /// recall, slower queries).
    pub ef_search: usize,
}

impl Default for HnswParams {
    /// `m` = 16, `ef_construction` = 100, `ef_search` = 64: recall@10 = 1.000, p95 4.8 ms on
    /// the 100 000 × 384 synthetic benchmark (`docs/benchmarks.md`).
    fn default() -> HnswParams {
        HnswParams {
            m: 16,
            ef_construction: 100,
            ef_search: 64,
        }
    }
}

/// An in-process HNSW index; see the [module docs](crate::storage::vector).
#[derive(Clone)]
pub struct HnswIndex {
    dim: usize,
    params: HnswParams,
    /// Node `i`'s vector is `vectors[i * dim..(i + 1) * dim]`.
    vectors: Vec<f32>,
    keys: Vec<u64>,
    deleted: Vec<bool>,
    /// `links[node][layer]`: the node's neighbours on each of its layers.
    links: Vec<Vec<Vec<u32>>>,
    by_key: FxHashMap<u64, u32>,
    entry: Option<u32>,
    top_level: usize,
    tombstones: usize,
    rng: StdRng,
}

impl std::fmt::Debug for HnswIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HnswIndex")
            .field("dim", &self.dim)
            .field("params", &self.params)
            .field("len", &self.len())
            .field("tombstones", &self.tombstones)
            .field("top_level", &self.top_level)
            .finish()
    }
}

impl HnswIndex {
    /// An empty graph of `dim`-dimensional vectors. `m` is raised to at least 2 and
    /// `ef_construction` to at least `m`.
    pub fn new(dim: usize, params: HnswParams) -> HnswIndex {
        let m = params.m.max(2);
        HnswIndex {
            dim,
            params: HnswParams {
                m,
                ef_construction: params.ef_construction.max(m),
                ef_search: params.ef_search.max(1),
            },
            vectors: Vec::new(),
            keys: Vec::new(),
            deleted: Vec::new(),
            links: Vec::new(),
            by_key: FxHashMap::default(),
            entry: None,
            top_level: 0,
            tombstones: 0,
            rng: StdRng::seed_from_u64(LEVEL_SEED),
        }
    }

    /// The dimension of the vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The parameters in use.
    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// Changes the search candidate list size (at least 1); the graph is unchanged.
    pub fn set_ef_search(&mut self, ef_search: usize) {
        self.params.ef_search = ef_search.max(1);
    }

    /// How many live (not removed) vectors it holds.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether it holds no live vector.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Whether `key` is live in it.
    pub fn contains(&self, key: u64) -> bool {
        self.by_key.contains_key(&key)
    }

    /// Every live `(key, vector)`, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[f32])> {
        (0..self.keys.len())
            .filter(|&i| !self.deleted[i])
            .map(|i| (self.keys[i], self.vector(i as u32)))
    }

    /// Adds `vector` under `key`; an existing `key` is replaced. The vector should be
    /// L2-normalised (similarity is the dot product).
    pub fn insert(&mut self, key: u64, vector: Vec<f32>) -> Result<(), VectorError> {
        check_vector(self.dim, &vector)?;
        self.remove(key);
        let Ok(id) = u32::try_from(self.keys.len()) else {
            return Err(VectorError::Full);
        };
        let level = self.random_level();
        self.vectors.extend_from_slice(&vector);
        self.keys.push(key);
        self.deleted.push(false);
        self.links.push(vec![Vec::new(); level + 1]);
        self.by_key.insert(key, id);

        let Some(mut ep) = self.entry else {
            self.entry = Some(id);
            self.top_level = level;
            return Ok(());
        };
        let query = &vector[..];
        for layer in (level + 1..=self.top_level).rev() {
            ep = self.greedy_closest(query, ep, layer);
        }
        let mut entry = vec![self.hit(query, ep)];
        for layer in (0..=level.min(self.top_level)).rev() {
            let candidates = self.search_layer(query, &entry, self.params.ef_construction, layer);
            let chosen = self.select_neighbours(&candidates, self.params.m);
            for &n in &chosen {
                self.links[n as usize][layer].push(id);
                if self.links[n as usize][layer].len() > self.max_links(layer) {
                    self.prune(n, layer);
                }
            }
            self.links[id as usize][layer] = chosen;
            entry = candidates;
        }
        if level > self.top_level {
            self.top_level = level;
            self.entry = Some(id);
        }
        Ok(())
    }

    /// Removes `key` (a tombstone: the node keeps routing searches until the next rebuild).
    /// Returns whether it was there.
    pub fn remove(&mut self, key: u64) -> bool {
        let Some(id) = self.by_key.remove(&key) else {
            return false;
        };
        self.deleted[id as usize] = true;
        self.tombstones += 1;
        if self.tombstones > self.by_key.len() {
            self.rebuild();
        }
        true
    }

    /// The `k` live vectors most similar to `query` whose key passes `filter`, best first, as
    /// `(key, similarity)`. Empty if `query` has the wrong dimension.
    pub fn search(&self, query: &[f32], k: usize, filter: impl Fn(u64) -> bool) -> Vec<(u64, f32)> {
        let Some(mut ep) = self.entry else {
            return Vec::new();
        };
        if k == 0 || query.len() != self.dim {
            return Vec::new();
        }
        // No more answers than nodes (`k` comes from callers and sizes the candidate lists).
        let k = k.min(self.keys.len());
        for layer in (1..=self.top_level).rev() {
            ep = self.greedy_closest(query, ep, layer);
        }
        let entry = [self.hit(query, ep)];
        let accept = |id: u32| !self.deleted[id as usize] && filter(self.keys[id as usize]);
        let ef = self.params.ef_search.max(k);
        // Past this many visited nodes an exact scan of the accepted ones is cheaper.
        let budget = (self.keys.len() / 64).max(ef.saturating_mul(8));
        let (found, complete) = self.search_filtered(query, &entry, ef, budget, &accept);
        if complete {
            return found
                .into_iter()
                .take(k)
                .map(|h| (self.keys[h.key as usize], h.similarity))
                .collect();
        }
        // A very selective filter: few nodes pass, so scanning them is exact and cheap.
        exact_top_k(
            (0..self.keys.len() as u32)
                .filter(|&id| accept(id))
                .map(|id| (self.keys[id as usize], self.vector(id))),
            query,
            k,
        )
    }

    fn vector(&self, id: u32) -> &[f32] {
        let start = id as usize * self.dim;
        &self.vectors[start..start + self.dim]
    }

    /// A hit whose `key` is the node id.
    fn hit(&self, query: &[f32], id: u32) -> Hit {
        Hit {
            similarity: dot(query, self.vector(id)),
            key: u64::from(id),
        }
    }

    fn max_links(&self, layer: usize) -> usize {
        if layer == 0 {
            self.params.m * 2
        } else {
            self.params.m
        }
    }

    fn random_level(&mut self) -> usize {
        let ml = 1.0 / (self.params.m as f64).ln();
        let u: f64 = self.rng.random_range(f64::MIN_POSITIVE..1.0);
        ((-u.ln() * ml).floor() as usize).min(MAX_LEVEL)
    }

    /// Greedy walk on `layer` from `ep` to a local maximum of similarity.
    fn greedy_closest(&self, query: &[f32], mut ep: u32, layer: usize) -> u32 {
        let mut best = dot(query, self.vector(ep));
        loop {
            let mut moved = false;
            for &n in &self.links[ep as usize][layer] {
                let s = dot(query, self.vector(n));
                if s > best {
                    best = s;
                    ep = n;
                    moved = true;
                }
            }
            if !moved {
                return ep;
            }
        }
    }

    /// Best-first search of `layer` from `entry` with a candidate list of `ef` (Algorithm 2):
    /// the `ef` nearest nodes, best first (the hits' keys are node ids).
    fn search_layer(&self, query: &[f32], entry: &[Hit], ef: usize, layer: usize) -> Vec<Hit> {
        let mut visited = Visited::new(self.keys.len());
        let mut candidates: BinaryHeap<Hit> = BinaryHeap::new();
        let mut nearest: BinaryHeap<Reverse<Hit>> = BinaryHeap::new();
        for &hit in entry {
            if visited.insert(hit.key as u32) {
                candidates.push(hit);
                push_bounded(&mut nearest, hit, ef);
            }
        }
        while let Some(current) = candidates.pop() {
            if nearest.len() >= ef && worse_than_all(&nearest, current) {
                break;
            }
            for &n in &self.links[current.key as usize][layer] {
                if !visited.insert(n) {
                    continue;
                }
                let hit = self.hit(query, n);
                if nearest.len() < ef || !worse_than_all(&nearest, hit) {
                    candidates.push(hit);
                    push_bounded(&mut nearest, hit, ef);
                }
            }
        }
        into_sorted(nearest)
    }

    /// Layer-0 search that returns only nodes passing `accept`. Rejected nodes are walked
    /// through, and the walk goes on until `ef` accepted nodes are found and no candidate can
    /// improve them — for a filter passing a share `s` of the nodes, that is like an unfiltered
    /// search with `ef / s`. After `budget` visited nodes it estimates `s` and gives up if an
    /// exact scan of the passing nodes is cheaper than finishing; the flag says whether the
    /// walk completed (if not, the caller must not use the partial answer).
    fn search_filtered(
        &self,
        query: &[f32],
        entry: &[Hit],
        ef: usize,
        mut budget: usize,
        accept: &dyn Fn(u32) -> bool,
    ) -> (Vec<Hit>, bool) {
        let mut visited = Visited::new(self.keys.len());
        let mut candidates: BinaryHeap<Hit> = BinaryHeap::new();
        let mut accepted: BinaryHeap<Reverse<Hit>> = BinaryHeap::new();
        let (mut seen, mut passed) = (0usize, 0usize);
        for &hit in entry {
            if visited.insert(hit.key as u32) {
                seen += 1;
                candidates.push(hit);
                if accept(hit.key as u32) {
                    passed += 1;
                    push_bounded(&mut accepted, hit, ef);
                }
            }
        }
        while let Some(current) = candidates.pop() {
            if accepted.len() >= ef && worse_than_all(&accepted, current) {
                break;
            }
            if seen > budget {
                // Estimate the share passing the filter: an exact scan costs about
                // `n · passed / seen` dot products, finishing the walk about
                // `ef · seen / passed`. Give up on the walk only if the scan is cheaper.
                let n = self.keys.len() as f64;
                let (p, v) = (passed.max(1) as f64, seen as f64);
                if n * p / v < ef as f64 * v / p {
                    return (into_sorted(accepted), false);
                }
                budget = usize::MAX;
            }
            for &n in &self.links[current.key as usize][0] {
                if !visited.insert(n) {
                    continue;
                }
                seen += 1;
                let hit = self.hit(query, n);
                let passes = accept(n);
                passed += usize::from(passes);
                if accepted.len() < ef || !worse_than_all(&accepted, hit) {
                    candidates.push(hit);
                    if passes {
                        push_bounded(&mut accepted, hit, ef);
                    }
                }
            }
        }
        (into_sorted(accepted), true)
    }

    /// The heuristic of Algorithm 4: from `candidates` (best first, similarity to the base
    /// node), keep one only if it is closer to the base than to every one already kept.
    fn select_neighbours(&self, candidates: &[Hit], m: usize) -> Vec<u32> {
        let mut chosen: Vec<u32> = Vec::with_capacity(m);
        for c in candidates {
            if chosen.len() >= m {
                break;
            }
            let v = self.vector(c.key as u32);
            if chosen
                .iter()
                .all(|&s| dot(v, self.vector(s)) < c.similarity)
            {
                chosen.push(c.key as u32);
            }
        }
        chosen
    }

    /// Shrinks `node`'s links on `layer` back to the maximum with the heuristic.
    fn prune(&mut self, node: u32, layer: usize) {
        let base = self.vector(node);
        let mut candidates: Vec<Hit> = self.links[node as usize][layer]
            .iter()
            .map(|&n| Hit {
                similarity: dot(base, self.vector(n)),
                key: u64::from(n),
            })
            .collect();
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        let kept = self.select_neighbours(&candidates, self.max_links(layer));
        self.links[node as usize][layer] = kept;
    }

    /// Rebuilds the graph from the live vectors (drops tombstones), in insertion order.
    fn rebuild(&mut self) {
        let live: Vec<(u64, Vec<f32>)> = self.iter().map(|(k, v)| (k, v.to_vec())).collect();
        *self = HnswIndex::new(self.dim, self.params);
        for (key, vector) in live {
            // Every vector was checked when it was first inserted.
            let _ = self.insert(key, vector);
        }
    }
}

/// A bitset of visited node ids.
struct Visited(Vec<u64>);

impl Visited {
    fn new(nodes: usize) -> Visited {
        Visited(vec![0; nodes.div_ceil(64)])
    }

    /// Marks `id`; whether it was unmarked.
    fn insert(&mut self, id: u32) -> bool {
        let (word, bit) = (id as usize / 64, 1u64 << (id % 64));
        let fresh = self.0[word] & bit == 0;
        self.0[word] |= bit;
        fresh
    }
}

/// Whether `hit` is less similar than the worst of the full `heap`.
fn worse_than_all(heap: &BinaryHeap<Reverse<Hit>>, hit: Hit) -> bool {
    heap.peek()
        .is_some_and(|Reverse(worst)| hit.similarity < worst.similarity)
}

/// Pushes `hit`, dropping the worst beyond `ef`.
fn push_bounded(heap: &mut BinaryHeap<Reverse<Hit>>, hit: Hit, ef: usize) {
    heap.push(Reverse(hit));
    if heap.len() > ef {
        heap.pop();
    }
}

/// The heap's hits, best first.
fn into_sorted(heap: BinaryHeap<Reverse<Hit>>) -> Vec<Hit> {
    let mut hits: Vec<Hit> = heap.into_iter().map(|Reverse(h)| h).collect();
    hits.sort_unstable_by(|a, b| b.cmp(a));
    hits
}
