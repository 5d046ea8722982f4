//! Storage: the kernel's "disk".
//!
//! One [`Storage`] handle (clone it freely) over sea-orm serves the five storage roles:
//!
//! * **agents registry** — [`AgentRegistry`] / [`AgentRecord`], and the write-behind
//!   [`RegistryWriter`] that lets the kernel record spawns and exits without awaiting the
//!   database;
//! * **durable mailboxes**, **checkpoints** (deltas + content-addressed blobs), **pages and
//!   long-term memories** (with embeddings, see [`embedding`]), **coordination** (leases, locks,
//!   jobs) and the **audit log** — tables and [`entities`] exist; their repositories come with
//!   the features that use them.
//!
//! Backends: a SQLite file (default; `sqlite://data/kernel.db`) or PostgreSQL 15+ with pgvector
//! (`postgres://…`). [`Storage::connect`] runs the migrations of the `migrations` crate, so a
//! connected storage always has the current schema. The schema and the contracts are described
//! in `docs/storage.md`.

mod backend;
pub(crate) mod durable;
pub mod embedding;
pub mod entities;
mod error;
mod handle;
pub(crate) mod pages;
mod registry;
pub(crate) mod sql;
mod url;
pub mod vector;
mod writer;

pub use backend::Backend;
pub use error::StorageError;
pub use handle::Storage;
pub use registry::{AgentRecord, AgentRegistry, UPSERT_CHUNK_ROWS};
pub use url::redact_url;
pub use writer::{RegistryWriter, WriterStats};
