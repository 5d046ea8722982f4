//! Vector search over embeddings: the pager's semantic recall.
//!
//! Two layers:
//!
//! * **In process** — [`VectorIndex`], what the pager holds per agent: an exact scan
//!   ([`ExactIndex`], [`exact_top_k`]) while it holds fewer than
//!   [`DEFAULT_HNSW_THRESHOLD`] vectors, an [`HnswIndex`] (written here, no crate) above.
//!   Vectors are L2-normalised `f32`, similarity is the dot product (= cosine), keys are `u64`.
//! * **In the database** — [`nearest`]: pgvector's HNSW indexes on PostgreSQL (an exact scan
//!   for dimensions without an index), an exact scan in process on SQLite; and
//!   [`load_embeddings`], from which the pager rebuilds its in-process index after a restart.
//!
//! `docs/storage.md` ("Vector search") describes the indexes, the query and how filters affect
//! recall; `docs/benchmarks.md` ("Vector recall") has the measurements.

mod error;
mod exact;
mod hnsw;
mod index;
mod nearest;

pub use error::VectorError;
pub use exact::{ExactIndex, dot, exact_top_k, normalize};
pub use hnsw::{HnswIndex, HnswParams};
pub use index::{DEFAULT_HNSW_THRESHOLD, VectorIndex};
pub use nearest::{NearestQuery, Neighbour, explain_nearest, load_embeddings, nearest};

#[cfg(test)]
mod tests;
