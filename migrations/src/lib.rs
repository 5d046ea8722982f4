//! Schema migrations for agent-os-kernel: one schema for SQLite and PostgreSQL.
//!
//! [`Migrator`] creates the tables of the five storage roles:
//!
//! | migration | tables | role |
//! |---|---|---|
//! | `m20261124_000001_agents` | `agents` | agents registry |
//! | `m20261124_000002_mailbox` | `mailbox_messages` | durable mailboxes |
//! | `m20261124_000003_checkpoints` | `checkpoints`, `page_blobs` | checkpoints (deltas + content-addressed blobs) |
//! | `m20261124_000004_memory` | `pages`, `memories` | pager pages and long-term memory (vectors) |
//! | `m20261124_000005_coordination` | `leases`, `locks`, `jobs` | coordination |
//! | `m20261124_000006_audit` | `audit_log` | append-only hash-chained audit log |
//! | `m20261130_000007_pager` | `pages` (+`content_hash`, `seq`, `resident`) | the pager's swap: content-addressed page bodies, conversation order, residency; 384-dim HNSW |
//! | `m20261130_000008_durability` | `checkpoints` (+`kind`, `step`, `base_sequence`, `checksum`, `body`, `bytes`, `agent_type`), `journal`, `durable_agents` | durability: checkpoint bodies and delta chains, the journal of completed calls, durable agents to resume; `idx_pages_content_hash` for the blob collector |
//! | `m20261130_000009_trajectories` | `trajectories` | one row per recorded agent step: message, LLM and tool calls, preemptions, faults, outcome |
//!
//! On PostgreSQL the memory migration needs the pgvector extension (`vector`); it is created
//! with `CREATE EXTENSION IF NOT EXISTS vector SCHEMA public`. If the server has no pgvector,
//! the migration error says so and how to get it ([`PGVECTOR_MISSING`]); if it has pgvector but
//! the role may not create extensions, the error says that instead ([`PGVECTOR_NOT_CREATED`]).
//!
//! Every migration is idempotent (`IF NOT EXISTS` everywhere), so running the migrator on an
//! already migrated database is a no-op.

// `MigrationTrait`'s `up`/`down` take `&SchemaManager` through `async_trait`, whose lifetimes
// do not allow spelling `SchemaManager<'_>` in the impls.
#![allow(elided_lifetimes_in_paths)]

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261124_000001_agents;
mod m20261124_000002_mailbox;
mod m20261124_000003_checkpoints;
mod m20261124_000004_memory;
mod m20261124_000005_coordination;
mod m20261124_000006_audit;
mod m20261130_000007_pager;
mod m20261130_000008_durability;
mod m20261130_000009_trajectories;

pub use m20261124_000004_memory::{PGVECTOR_MISSING, PGVECTOR_NOT_CREATED};

/// Dimensions that get a dedicated HNSW partial index on PostgreSQL.
pub const INDEXED_EMBEDDING_DIMS: [u32; 4] = [384, 768, 1024, 1536];

/// The schema migrator of agent-os-kernel.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_agents::Migration),
            Box::new(m20261124_000002_mailbox::Migration),
            Box::new(m20261124_000003_checkpoints::Migration),
            Box::new(m20261124_000004_memory::Migration),
            Box::new(m20261124_000005_coordination::Migration),
            Box::new(m20261124_000006_audit::Migration),
            Box::new(m20261130_000007_pager::Migration),
            Box::new(m20261130_000008_durability::Migration),
            Box::new(m20261130_000009_trajectories::Migration),
        ]
    }
}
