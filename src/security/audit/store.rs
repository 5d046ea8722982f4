//! SQL on `audit_log`: the chain tail, multi-row appends, and rows decoded for verification
//! and queries.

use chrono::{DateTime, Utc};
use sea_orm::{QueryResult, Value};

use super::chain::row_hash;
use super::error::AuditError;
use super::record::{AuditRecord, Detail};
use crate::pid::Pid;
use crate::storage::Storage;
use crate::storage::sql::{col, fetch_all, fetch_one, int, run, to_u64};

/// Columns of a [`StoredRow`], in `SELECT` order.
pub(crate) const COLUMNS: &str = "seq, ts, pid, action, detail, prev_hash, hash";

/// The last row of the chain: its seq and hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tail {
    pub(crate) seq: u64,
    pub(crate) hash: String,
}

/// A row about to be appended.
#[derive(Debug)]
pub(crate) struct NewRow<'a> {
    pub(crate) seq: u64,
    pub(crate) record: &'a AuditRecord,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

/// One row of the chain: its seq, the record and both hashes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// Position in the chain (1, 2, 3, … without gaps).
    pub seq: u64,
    /// What was recorded.
    pub record: AuditRecord,
    /// The previous row's hash (`""` for the first row).
    pub prev_hash: String,
    /// This row's hash.
    pub hash: String,
}

/// A row as read, before its columns are interpreted.
#[derive(Debug)]
pub(crate) struct StoredRow {
    pub(crate) seq: i64,
    pub(crate) ts: DateTime<Utc>,
    pub(crate) pid: Option<String>,
    pub(crate) action: String,
    pub(crate) detail: serde_json::Value,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

impl StoredRow {
    /// Reads the [`COLUMNS`] of a result row.
    pub(crate) fn read(storage: &Storage, r: &QueryResult) -> Result<Self, AuditError> {
        let seq: i64 = col(storage, r, "seq")?;
        let bad = |e: crate::storage::StorageError| AuditError::Corrupt {
            seq,
            reason: e.to_string(),
        };
        Ok(StoredRow {
            seq,
            ts: col(storage, r, "ts").map_err(bad)?,
            pid: col(storage, r, "pid").map_err(bad)?,
            action: col(storage, r, "action").map_err(bad)?,
            detail: col(storage, r, "detail").map_err(bad)?,
            prev_hash: col(storage, r, "prev_hash").map_err(bad)?,
            hash: col(storage, r, "hash").map_err(bad)?,
        })
    }

    fn corrupt(&self, reason: impl std::fmt::Display) -> AuditError {
        AuditError::Corrupt {
            seq: self.seq,
            reason: reason.to_string(),
        }
    }

    fn parsed_detail(&self) -> Result<Detail, AuditError> {
        serde_json::from_value(self.detail.clone())
            .map_err(|e| self.corrupt(format!("detail: {e}")))
    }

    fn seq_u64(&self) -> Result<u64, AuditError> {
        u64::try_from(self.seq).map_err(|_| self.corrupt("negative seq"))
    }

    /// The hash this row should carry, rebuilt from its decoded columns.
    pub(crate) fn expected_hash(&self) -> Result<String, AuditError> {
        let detail = self.parsed_detail()?;
        Ok(row_hash(
            &self.prev_hash,
            self.seq_u64()?,
            &self.ts,
            self.pid.as_deref(),
            &self.action,
            &detail,
        ))
    }

    /// The row as an [`AuditEntry`].
    pub(crate) fn into_entry(self) -> Result<AuditEntry, AuditError> {
        let detail = self.parsed_detail()?;
        let seq = self.seq_u64()?;
        let pid = match &self.pid {
            None => None,
            Some(p) => Some(
                p.parse::<Pid>()
                    .map_err(|e| self.corrupt(format!("pid: {e}")))?,
            ),
        };
        Ok(AuditEntry {
            seq,
            record: AuditRecord::from_parts(self.ts, pid, self.action, detail),
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// The last row of the chain, if any.
pub(crate) async fn load_tail(storage: &Storage) -> Result<Option<Tail>, AuditError> {
    let row = fetch_one(
        storage,
        "loading the audit chain tail",
        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
        vec![],
    )
    .await?;
    let Some(r) = row else { return Ok(None) };
    let seq: i64 = col(storage, &r, "seq")?;
    Ok(Some(Tail {
        seq: to_u64(storage, "audit_log.seq", seq)?,
        hash: col(storage, &r, "hash")?,
    }))
}

/// Appends `rows` with one multi-row `INSERT` (atomic: all or none).
pub(crate) async fn insert(storage: &Storage, rows: &[NewRow<'_>]) -> Result<(), AuditError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = String::with_capacity(100 + rows.len() * 24);
    sql.push_str("INSERT INTO audit_log (seq, ts, pid, action, detail, prev_hash, hash) VALUES ");
    let mut values = Vec::with_capacity(rows.len() * 7);
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, ?, ?, ?, ?, ?)");
        let detail = serde_json::to_value(row.record.detail()).unwrap_or_default();
        values.extend([
            int(row.seq),
            Value::ChronoDateTimeUtc(Some(row.record.ts)),
            row.record.pid.map(|p| p.to_string()).into(),
            row.record.action.clone().into(),
            Value::Json(Some(Box::new(detail))),
            row.prev_hash.clone().into(),
            row.hash.clone().into(),
        ]);
    }
    run(storage, "appending to the audit log", &sql, values).await?;
    Ok(())
}

/// Up to `limit` rows with `seq > after`, in seq order.
pub(crate) async fn page_after(
    storage: &Storage,
    after: u64,
    limit: u64,
) -> Result<Vec<QueryResult>, AuditError> {
    let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?");
    Ok(fetch_all(
        storage,
        "reading the audit chain",
        &sql,
        vec![int(after), int(limit)],
    )
    .await?)
}
