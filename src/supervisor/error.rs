//! Errors of supervisor operations.

use crate::supervisor::SupervisorId;

/// A supervisor operation that could not be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// No live supervisor has this id (never created, or already stopped).
    #[error("no supervisor with id {0}")]
    NoSuchSupervisor(SupervisorId),
    /// The root supervisor lives as long as the kernel: stop the kernel instead.
    #[error("the root supervisor cannot be stopped; it stops with the kernel (`Kernel::shutdown`)")]
    Root,
}
