//! The pager: context pages, page tables, faults, replacement, memory pressure and recall.
//!
//! The context window is RAM and storage is the disk. Each agent owns a page table: content
//! is split into pages of at most `page_tokens` tokens (`cl100k_base`), each with a kind,
//! an importance, a pinned flag, access counts, a content hash and an embedding. Every page
//! is written to storage when it is allocated (its body once per distinct content, in
//! `page_blobs`), so a page is always either resident or swapped out — never lost.
//!
//! * [`Pager::context`] gives the messages of the next LLM call: pinned pages first, in a
//!   byte-identical order, then the rest in conversation order; with a query, the most similar
//!   swapped entries are faulted back in first.
//! * Over budget, the [`ReplacementPolicy`] (default [`WeightedPolicy`]: recency,
//!   importance, similarity to the query, frequency) picks what leaves, in one batch down to
//!   the low-water mark, so the prompt prefix changes rarely. Only pinned pages left and still
//!   over budget is a typed [`PagerError::ContextOverflow`].
//! * At the pressure threshold the agent is told once per crossing ([`MemoryPressure`]);
//!   with `summarize` on, evicted conversation pages become one `summary` page, which must
//!   be shorter than what it replaces.
//! * An agent reads another agent's page only if it was [`Pager::share`]d with it.
//!
//! The rules, each with its test, are in `docs/semantics.md` (P1–P12).

mod access;
mod assemble;
mod compact;
mod config;
mod error;
mod evict;
mod grow;
mod handle;
mod load;
pub(crate) mod manifest;
mod page;
mod policy;
mod pressure;
mod residency;
mod split;
mod stats;
mod table;

pub use access::Recalled;
pub use assemble::Context;
pub use config::{PagerConfig, ReplacementKind, ScoreWeights};
pub use error::PagerError;
pub use handle::Pager;
pub use page::{NewPage, Page, PageId, PageInfo, PageKind};
pub use policy::{Candidate, LruPolicy, ReplacementPolicy, WeightedPolicy};
pub use pressure::MemoryPressure;
pub use stats::PagerStats;

pub(crate) use compact::{Summarize, SummaryError};
pub(crate) use pressure::Notifier;
