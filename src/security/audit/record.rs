//! [`AuditRecord`]: one thing that happened, who did it and whether it was allowed.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::pid::Pid;

/// One auditable event. Built with [`AuditRecord::new`] and the builder methods, handed to
/// [`AuditLog::record`](super::AuditLog::record).
///
/// Stored as the `pid` and `action` columns of `audit_log`, everything else in its `detail`
/// JSON. The timestamp is kept to the microsecond (what both backends store).
///
/// ```
/// use agent_os_kernel::AuditRecord;
/// let r = AuditRecord::new("tool.call").target("web.search").denied("no network");
/// assert!(!r.allowed);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The acting agent; `None` for the kernel itself or an outside caller.
    pub pid: Option<Pid>,
    /// An outside caller's name (e.g. the name of an API token).
    pub actor: Option<String>,
    /// What was done: `tool.call`, `ipc.send`, `llm.call`, `page.share`, `policy.decide`, …
    pub action: String,
    /// What it was done to (a tool, a pid, a model, a page), if anything.
    pub target: Option<String>,
    /// Whether it was allowed.
    pub allowed: bool,
    /// Why (typically given when refused).
    pub reason: Option<String>,
    /// Digest of the arguments (e.g. hex SHA-256 of the request), not the arguments.
    pub args_digest: Option<String>,
    /// Digest of the result.
    pub result_digest: Option<String>,
    /// When it happened (UTC, microseconds).
    pub ts: DateTime<Utc>,
}

impl AuditRecord {
    /// An allowed `action` by the kernel, now.
    pub fn new(action: impl Into<String>) -> Self {
        AuditRecord {
            pid: None,
            actor: None,
            action: action.into(),
            target: None,
            allowed: true,
            reason: None,
            args_digest: None,
            result_digest: None,
            ts: Utc::now().trunc_subsecs(6),
        }
    }

    /// Done by agent `pid`.
    pub fn pid(mut self, pid: Pid) -> Self {
        self.pid = Some(pid);
        self
    }

    /// Done by an outside caller named `actor`.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Done to `target`.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Whether it was allowed.
    pub fn allowed(mut self, allowed: bool) -> Self {
        self.allowed = allowed;
        self
    }

    /// Refused, because of `reason`.
    pub fn denied(mut self, reason: impl Into<String>) -> Self {
        self.allowed = false;
        self.reason = Some(reason.into());
        self
    }

    /// Why (allowed or not).
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The digest of the arguments.
    pub fn args_digest(mut self, digest: impl Into<String>) -> Self {
        self.args_digest = Some(digest.into());
        self
    }

    /// The digest of the result.
    pub fn result_digest(mut self, digest: impl Into<String>) -> Self {
        self.result_digest = Some(digest.into());
        self
    }

    /// At `ts` instead of now (kept to the microsecond).
    pub fn at(mut self, ts: DateTime<Utc>) -> Self {
        self.ts = ts.trunc_subsecs(6);
        self
    }

    /// The form that is stored and hashed: microsecond timestamp, no NUL characters
    /// (PostgreSQL refuses them in `text` and `jsonb`; each becomes U+FFFD).
    pub(crate) fn normalized(mut self) -> Self {
        fn clean(s: &mut String) {
            if s.contains('\0') {
                *s = s.replace('\0', "\u{FFFD}");
            }
        }
        self.ts = self.ts.trunc_subsecs(6);
        clean(&mut self.action);
        for s in [
            &mut self.actor,
            &mut self.target,
            &mut self.reason,
            &mut self.args_digest,
            &mut self.result_digest,
        ]
        .into_iter()
        .flatten()
        {
            clean(s);
        }
        self
    }

    /// The `detail` column's content.
    pub(crate) fn detail(&self) -> Detail {
        Detail {
            actor: self.actor.clone(),
            target: self.target.clone(),
            allowed: self.allowed,
            reason: self.reason.clone(),
            args_digest: self.args_digest.clone(),
            result_digest: self.result_digest.clone(),
        }
    }

    /// A record from its columns.
    pub(crate) fn from_parts(
        ts: DateTime<Utc>,
        pid: Option<Pid>,
        action: String,
        detail: Detail,
    ) -> Self {
        AuditRecord {
            pid,
            actor: detail.actor,
            action,
            target: detail.target,
            allowed: detail.allowed,
            reason: detail.reason,
            args_digest: detail.args_digest,
            result_digest: detail.result_digest,
            ts,
        }
    }
}

/// What the `detail` JSON column holds, in a fixed field order (the order the hash uses).
/// Unknown keys are refused, so a key added to a stored detail fails verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Detail {
    pub(crate) actor: Option<String>,
    pub(crate) target: Option<String>,
    pub(crate) allowed: bool,
    pub(crate) reason: Option<String>,
    pub(crate) args_digest: Option<String>,
    pub(crate) result_digest: Option<String>,
}
