//! [`ErrorView`]: a serialisable view of an error and its causes, for JSON (the envelope's
//! replies, later the HTTP API and the CLI).

use serde::{Deserialize, Serialize};

use crate::error::{AgentError, IpcError};
use crate::pid::Pid;

/// An error as JSON: a stable `kind`, the human-readable `message`, the agent it concerns (if
/// any) and the `cause` it wraps, down to the root.
///
/// ```
/// use std::time::Duration;
/// use agent_os_kernel::{AgentError, ErrorView, IpcError, Pid};
///
/// let pid = Pid::new();
/// let err = AgentError::from(IpcError::Timeout { pid, after: Duration::from_millis(5) });
/// let view = ErrorView::from(&err);
/// assert_eq!(view.kind, "ipc");
/// assert_eq!(view.cause.as_ref().map(|c| c.kind.as_str()), Some("timeout"));
/// let json = serde_json::to_value(&view).unwrap();
/// assert_eq!(json["cause"]["pid"], serde_json::json!(pid));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorView {
    /// A short, stable name of the error (`timeout`, `crashed`, `handler`, `ipc`, `failed`, …).
    pub kind: String,
    /// The error's message.
    pub message: String,
    /// The agent the error concerns, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<Pid>,
    /// The error this one wraps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Box<ErrorView>>,
}

impl ErrorView {
    /// A view of any error, its `source()` chain as causes (kind `error`).
    pub fn of(error: &(dyn std::error::Error + 'static)) -> Self {
        if let Some(e) = error.downcast_ref::<AgentError>() {
            return ErrorView::from(e);
        }
        if let Some(e) = error.downcast_ref::<IpcError>() {
            return ErrorView::from(e);
        }
        ErrorView {
            kind: "error".to_string(),
            message: error.to_string(),
            pid: None,
            cause: error.source().map(|s| Box::new(ErrorView::of(s))),
        }
    }
}

impl From<&IpcError> for ErrorView {
    fn from(e: &IpcError) -> Self {
        ErrorView {
            kind: e.kind().to_string(),
            message: e.to_string(),
            pid: e.pid(),
            cause: match e {
                IpcError::Handler { error, .. } => Some(Box::new(ErrorView::from(&**error))),
                _ => None,
            },
        }
    }
}

impl From<&AgentError> for ErrorView {
    fn from(e: &AgentError) -> Self {
        let cause = match e {
            AgentError::Ipc(inner) => Some(Box::new(ErrorView::from(inner))),
            other => std::error::Error::source(other).map(|s| Box::new(ErrorView::of(s))),
        };
        ErrorView {
            kind: e.kind().to_string(),
            message: e.to_string(),
            pid: None,
            cause,
        }
    }
}
