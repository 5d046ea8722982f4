//! [`PagerError`]: why a pager syscall failed.

use crate::embed::EmbedError;
use crate::pager::PageId;
use crate::pid::Pid;
use crate::storage::StorageError;

/// A pager syscall that did not complete. Nothing is lost when one is returned: pages already
/// stored stay stored, and the resident set is as it was before the call (or smaller).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PagerError {
    /// Only pinned pages are left resident and they alone exceed the agent's budget. The
    /// pager never truncates silently: unpin, free or shrink pages, or raise the budget.
    #[error(
        "context overflow for agent {pid}: {pinned_tokens} pinned tokens exceed the resident budget of {budget} tokens and pinned pages are never evicted"
    )]
    ContextOverflow {
        /// The agent.
        pid: Pid,
        /// Tokens held by pinned pages (including the refused allocation, if any).
        pinned_tokens: u64,
        /// The agent's resident budget.
        budget: u64,
    },
    /// The page does not exist (never allocated, or freed).
    #[error("no page {0}")]
    NoSuchPage(PageId),
    /// The page belongs to another agent and was not shared with the reader (or the caller
    /// tried to change a page it does not own).
    #[error("agent {reader} may not {action} page {page} of agent {owner}")]
    AccessDenied {
        /// The agent that tried.
        reader: Pid,
        /// The page's owner.
        owner: Pid,
        /// The page.
        page: PageId,
        /// What it tried (`read`, `free`, `share`, …).
        action: &'static str,
    },
    /// The agent's security policy does not let it share with this agent.
    #[error("{reason}")]
    PolicyDenied {
        /// The refusal, as the policy words it.
        reason: String,
    },
    /// An argument was out of range (importance outside 0–1, empty content, budget 0, …).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The embedder failed (the page was not stored).
    #[error("embedding failed: {0}")]
    Embed(#[from] EmbedError),
    /// The embedder returned a vector of another dimension than the pages already have.
    #[error("the embedder `{embedder}` returned {got} dimensions where {expected} were expected")]
    EmbeddingDimension {
        /// The embedder's id.
        embedder: String,
        /// Expected dimension.
        expected: usize,
        /// Returned dimension.
        got: usize,
    },
    /// Storage failed (swap in or out, page rows, blobs).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored page is damaged (its content does not match its hash, its blob is missing,
    /// its metadata does not parse).
    #[error("page {page} is damaged in storage: {reason}")]
    Corrupt {
        /// The page.
        page: PageId,
        /// What is wrong.
        reason: String,
    },
}
