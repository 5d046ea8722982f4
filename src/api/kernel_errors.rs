//! The kernel's errors as API errors: which status each failure is.

use super::problem::ApiError;
use crate::checkpoint::CheckpointError;
use crate::error::{IpcError, SpawnError};
use crate::pager::PagerError;
use crate::scheduler::SchedulerError;
use crate::security::audit::AuditError;
use crate::storage::StorageError;

impl From<IpcError> for ApiError {
    fn from(e: IpcError) -> Self {
        let detail = e.to_string();
        match e {
            IpcError::NoSuchAgent(_) | IpcError::Terminated(_) => ApiError::NotFound(detail),
            IpcError::BadMessage { .. } => ApiError::field("message", detail),
            IpcError::NoJsonAccess { .. }
            | IpcError::WrongAgentType { .. }
            | IpcError::WrongMessageType { .. }
            | IpcError::Runaway { .. }
            | IpcError::Denied { .. } => ApiError::Conflict(detail),
            IpcError::MailboxFull { .. } => ApiError::TooManyRequests(detail),
            IpcError::Handler { .. } => ApiError::Unprocessable(detail),
            IpcError::Timeout { .. } => ApiError::Timeout(detail),
            IpcError::ShuttingDown | IpcError::Durable { .. } => ApiError::Unavailable(detail),
            IpcError::Crashed { .. }
            | IpcError::Interrupted { .. }
            | IpcError::NoReply(_)
            | IpcError::ReplyEncoding { .. } => ApiError::BadGateway(detail),
        }
    }
}

impl From<SpawnError> for ApiError {
    fn from(e: SpawnError) -> Self {
        let detail = e.to_string();
        match e {
            SpawnError::InvalidPriority(_) => ApiError::field("priority", detail),
            SpawnError::InvalidMailboxCapacity => ApiError::field("mailbox", detail),
            SpawnError::UnknownAgentType(_) => ApiError::field("type", detail),
            SpawnError::InvalidQuota(_) | SpawnError::InvalidRestartLimit(_) => {
                ApiError::BadRequest {
                    field: None,
                    detail,
                }
            }
            SpawnError::Durability(_) => ApiError::field("durable", detail),
            SpawnError::NoSuchSupervisor(_) => ApiError::NotFound(detail),
            SpawnError::ShuttingDown | SpawnError::Storage(_) => ApiError::Unavailable(detail),
            SpawnError::FactoryPanicked(_) => ApiError::Internal(detail),
        }
    }
}

impl From<CheckpointError> for ApiError {
    fn from(e: CheckpointError) -> Self {
        let detail = e.to_string();
        match e {
            CheckpointError::NotFound(_) | CheckpointError::NotRunning(_) => {
                ApiError::NotFound(detail)
            }
            CheckpointError::NoFactory { .. }
            | CheckpointError::HasDependents { .. }
            | CheckpointError::Agent { .. } => ApiError::Conflict(detail),
            CheckpointError::Spawn(s) => s.into(),
            CheckpointError::Storage(s) => s.into(),
            CheckpointError::Pager(p) => p.into(),
            _ => ApiError::Internal(detail),
        }
    }
}

impl From<PagerError> for ApiError {
    fn from(e: PagerError) -> Self {
        let detail = e.to_string();
        match e {
            PagerError::NoSuchPage(_) => ApiError::NotFound(detail),
            PagerError::Storage(s) => s.into(),
            _ => ApiError::Internal(detail),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        ApiError::Unavailable(format!("storage: {e}"))
    }
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        let detail = e.to_string();
        match e {
            AuditError::InvalidQuery(_) => ApiError::BadRequest {
                field: None,
                detail,
            },
            AuditError::Storage(s) => s.into(),
            AuditError::Stopped => ApiError::Unavailable(detail),
            AuditError::Corrupt { .. } => ApiError::Internal(detail),
        }
    }
}

impl From<SchedulerError> for ApiError {
    fn from(e: SchedulerError) -> Self {
        ApiError::Unavailable(format!("scheduler: {e}"))
    }
}
