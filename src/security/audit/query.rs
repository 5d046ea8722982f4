//! [`AuditQuery`]: filters over the audit log, newest first.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::Value;

use super::error::AuditError;
use super::store::{AuditEntry, COLUMNS, StoredRow};
use crate::pid::Pid;
use crate::storage::Storage;
use crate::storage::sql::{fetch_all, int};

/// Rows returned when no limit is given.
pub const DEFAULT_LIMIT: u64 = 100;
/// Most rows one query returns.
pub const MAX_LIMIT: u64 = 10_000;

/// Which audit entries to return (all filters combine), newest first.
///
/// ```
/// use agent_os_kernel::AuditQuery;
/// let q = AuditQuery::new().action("tool.*").limit(20);
/// assert_eq!(q.limit, Some(20));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only records of this agent.
    pub pid: Option<Pid>,
    /// Only this action (`tool.call`), or actions starting with a prefix (`tool.*`).
    pub action: Option<String>,
    /// Only records at or after this time (compared to the microsecond, the stored precision).
    pub from: Option<DateTime<Utc>>,
    /// Only records before this time (to the microsecond).
    pub to: Option<DateTime<Utc>>,
    /// At most this many entries ([`DEFAULT_LIMIT`] if unset, at most [`MAX_LIMIT`]).
    pub limit: Option<u64>,
}

impl AuditQuery {
    /// Every entry (up to the default limit).
    pub fn new() -> Self {
        Self::default()
    }

    /// Only records of agent `pid`.
    pub fn pid(mut self, pid: Pid) -> Self {
        self.pid = Some(pid);
        self
    }

    /// Only `action`: exact (`ipc.send`) or a prefix ending in `*` (`tool.*`).
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    /// Only records at or after `from`.
    pub fn from(mut self, from: DateTime<Utc>) -> Self {
        self.from = Some(from);
        self
    }

    /// Only records before `to`.
    pub fn to(mut self, to: DateTime<Utc>) -> Self {
        self.to = Some(to);
        self
    }

    /// At most `limit` entries (capped at [`MAX_LIMIT`]).
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// Runs `q`.
pub(crate) async fn query(
    storage: &Storage,
    q: &AuditQuery,
) -> Result<Vec<AuditEntry>, AuditError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    if limit == 0 {
        return Ok(Vec::new());
    }
    if let (Some(from), Some(to)) = (q.from, q.to)
        && from > to
    {
        return Err(AuditError::InvalidQuery(format!(
            "`from` ({from}) is after `to` ({to})"
        )));
    }
    let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE 1 = 1");
    let mut values: Vec<Value> = Vec::new();
    if let Some(pid) = q.pid {
        sql.push_str(" AND pid = ?");
        values.push(pid.to_string().into());
    }
    if let Some(action) = &q.action {
        match action.strip_suffix('*') {
            Some("") => {}
            Some(prefix) => {
                let n = i32::try_from(prefix.chars().count()).map_err(|_| {
                    AuditError::InvalidQuery("the action prefix is too long".into())
                })?;
                sql.push_str(" AND substr(action, 1, ?) = ?");
                values.push(Value::Int(Some(n)));
                values.push(prefix.to_string().into());
            }
            None => {
                sql.push_str(" AND action = ?");
                values.push(action.clone().into());
            }
        }
    }
    if let Some(from) = q.from {
        sql.push_str(" AND ts >= ?");
        values.push(Value::ChronoDateTimeUtc(Some(from.trunc_subsecs(6))));
    }
    if let Some(to) = q.to {
        sql.push_str(" AND ts < ?");
        values.push(Value::ChronoDateTimeUtc(Some(to.trunc_subsecs(6))));
    }
    sql.push_str(" ORDER BY seq DESC LIMIT ?");
    values.push(int(limit));
    let rows = fetch_all(storage, "querying the audit log", &sql, values).await?;
    rows.iter()
        .map(|r| StoredRow::read(storage, r)?.into_entry())
        .collect()
}
