//! Durability's storage: checkpoint rows (with their mailbox acknowledgements), the journal of
//! completed calls, durable mailbox rows and the durable-agents table the kernel resumes from.
//!
//! Plain repositories over raw SQL (one spelling for SQLite and PostgreSQL); the checkpoint
//! format, deltas and policies live in `crate::checkpoint`.

// The durability runtime that calls these repositories lands separately; until then only the
// tests use them.
#![cfg_attr(not(test), allow(dead_code))]

pub(crate) mod agents;
pub(crate) mod checkpoints;
pub(crate) mod journal;
pub(crate) mod mailbox;

#[cfg(test)]
mod tests;
