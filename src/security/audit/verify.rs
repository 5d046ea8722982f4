//! Verification: walks the whole chain in seq order, a page at a time, and names the first
//! row that is not what the writer wrote.

use tracing::Instrument;

use super::error::AuditError;
use super::store::{StoredRow, page_after};
use crate::storage::Storage;

/// Rows read per query while verifying (the chain is never held in memory).
pub(crate) const PAGE: u64 = 10_000;

/// What [`AuditLog::verify`](super::AuditLog::verify) found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Rows read (up to and including the first bad one).
    pub rows: u64,
    /// The first row that breaks the chain, if any.
    pub first_bad: Option<BadRow>,
}

impl VerifyReport {
    /// Whether the whole chain is intact.
    pub fn is_ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// A row that breaks the chain and why: `hash mismatch` (its content was edited), `gap: seq
/// N missing` (a row was deleted), `broken link` (its `prev_hash` is not the previous row's
/// hash), `undecodable` (a column cannot be read back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    /// The row's seq (for a gap, the missing seq).
    pub seq: u64,
    /// What is wrong.
    pub reason: String,
}

/// Verifies the chain; `committed` is the highest seq the writer knows it committed, so a
/// chain cut short at its end is reported too.
pub(crate) async fn verify(storage: &Storage, committed: u64) -> Result<VerifyReport, AuditError> {
    walk(storage, committed)
        .instrument(tracing::info_span!("audit_verify"))
        .await
}

async fn walk(storage: &Storage, committed: u64) -> Result<VerifyReport, AuditError> {
    let mut rows = 0u64;
    let mut expected = 1u64;
    let mut prev = String::new();
    let bad = |rows, seq, reason: String| {
        tracing::warn!(seq, %reason, "audit chain broken");
        Ok(VerifyReport {
            rows,
            first_bad: Some(BadRow { seq, reason }),
        })
    };
    loop {
        let page = page_after(storage, expected - 1, PAGE).await?;
        let n = page.len();
        for r in &page {
            rows += 1;
            let row = match StoredRow::read(storage, r) {
                Ok(row) => row,
                Err(AuditError::Corrupt { seq, reason }) => {
                    let seq = u64::try_from(seq).unwrap_or(expected);
                    return bad(rows, seq, format!("undecodable: {reason}"));
                }
                Err(e) => return Err(e),
            };
            let seq = u64::try_from(row.seq).unwrap_or(0);
            if seq != expected {
                return bad(rows, expected, format!("gap: seq {expected} missing"));
            }
            if row.prev_hash != prev {
                return bad(
                    rows,
                    seq,
                    format!(
                        "broken link: prev_hash is not the hash of seq {}",
                        expected - 1
                    ),
                );
            }
            match row.expected_hash() {
                Ok(h) if h == row.hash => {}
                Ok(_) => return bad(rows, seq, "hash mismatch".into()),
                Err(e) => return bad(rows, seq, format!("undecodable: {e}")),
            }
            prev = row.hash;
            expected += 1;
        }
        if (n as u64) < PAGE {
            break;
        }
    }
    if expected <= committed {
        return bad(
            rows,
            expected,
            format!(
                "gap: seq {expected} missing (the chain ends before seq {committed}, which was written)"
            ),
        );
    }
    tracing::info!(rows, "audit chain verified");
    Ok(VerifyReport {
        rows,
        first_bad: None,
    })
}
