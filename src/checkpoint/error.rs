//! [`CheckpointError`].

use crate::pid::Pid;

/// A checkpoint operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// No checkpoint has this id.
    #[error("no checkpoint `{0}`")]
    NotFound(String),
    /// The stored checkpoint does not match its checksum: it was altered or damaged. Nothing
    /// was restored from it.
    #[error(
        "checkpoint `{id}` is corrupt: its body hashes to {actual}, but its checksum says {expected}; it was not restored"
    )]
    Corrupt {
        /// The damaged checkpoint (may be an ancestor of the one asked for).
        id: String,
        /// The stored checksum.
        expected: String,
        /// The body's actual hash.
        actual: String,
    },
    /// The checkpoint could not be decoded or its delta chain does not fit together.
    #[error("checkpoint `{id}` cannot be read: {reason}")]
    Invalid {
        /// The checkpoint.
        id: String,
        /// Why.
        reason: String,
    },
    /// A page body a checkpoint refers to is missing from `page_blobs`.
    #[error("checkpoint `{id}` refers to page content {hash} that is no longer stored")]
    MissingBlob {
        /// The checkpoint.
        id: String,
        /// The content hash.
        hash: String,
    },
    /// Other checkpoints are deltas over this one.
    #[error("checkpoint `{id}` cannot be deleted: {} checkpoint(s) depend on it ({})", dependents.len(), dependents.join(", "))]
    HasDependents {
        /// The checkpoint.
        id: String,
        /// The checkpoints whose parent it is.
        dependents: Vec<String>,
    },
    /// The agent is not running (checkpoint, in-place restore).
    #[error("agent {0} is not running")]
    NotRunning(Pid),
    /// The agent's state could not be taken or restored.
    #[error("agent {pid}: {reason}")]
    Agent {
        /// The agent.
        pid: Pid,
        /// What its `snapshot`/`restore` said.
        reason: String,
    },
    /// Restoring a checkpoint whose agent is gone, or forking it, needs a factory: its agent
    /// type must be registered ([`crate::KernelBuilder::agent_type`]) or the agent must run.
    #[error(
        "no factory for checkpoint `{id}`: its agent is not running and its type ({type_name}) is not registered with KernelBuilder::agent_type"
    )]
    NoFactory {
        /// The checkpoint.
        id: String,
        /// The type it names, if any.
        type_name: String,
    },
    /// Spawning the restored or forked agent failed.
    #[error(transparent)]
    Spawn(#[from] crate::error::SpawnError),
    /// The pager could not save or restore the agent's pages.
    #[error(transparent)]
    Pager(#[from] crate::pager::PagerError),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}
