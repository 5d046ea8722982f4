//! sea-orm entities, one per table (see `docs/storage.md` for the schema per role).
//!
//! The `embedding` / `embedding_dim` columns of [`page`] and [`memory`] are not part of their
//! models because the column type differs per backend (pgvector `vector` on Postgres, BLOB on
//! SQLite); read and write them with [`crate::storage::embedding`].

pub mod agent;
pub mod audit_entry;
pub mod checkpoint;
pub mod durable_agent;
pub mod job;
pub mod journal_entry;
pub mod lease;
pub mod lock;
pub mod mailbox_message;
pub mod memory;
pub mod page;
pub mod page_blob;
