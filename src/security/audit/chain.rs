//! The hash chain: the canonical bytes of a row and the hash that links it to the previous one.
//!
//! `hash = sha256_hex(prev_hash ‖ 0x00 ‖ canonical)`, where `canonical` is the compact JSON of
//! `{"seq", "ts", "pid", "action", "detail"}` in that order, `ts` as RFC 3339 UTC with exactly
//! six fractional digits (`2026-11-30T18:00:00.123456Z`), `pid` as stored (a UUID string or
//! `null`) and `detail` with its fields in a fixed order. The canonical form is rebuilt from
//! the decoded row, never taken from the stored column text: PostgreSQL `jsonb` reorders keys
//! and SQLite keeps the text it was given, so only the rebuilt form is the same on both.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::record::Detail;
use crate::digest::sha256_hex;

/// The fields a row's hash covers, in hashing order.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: u64,
    ts: String,
    pid: Option<&'a str>,
    action: &'a str,
    detail: &'a Detail,
}

/// The timestamp as hashed: RFC 3339, UTC, microseconds.
pub(crate) fn ts_text(ts: &DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The hash of row `seq` whose predecessor's hash is `prev_hash` (`""` for the first row).
pub(crate) fn row_hash(
    prev_hash: &str,
    seq: u64,
    ts: &DateTime<Utc>,
    pid: Option<&str>,
    action: &str,
    detail: &Detail,
) -> String {
    let canonical = Canonical {
        seq,
        ts: ts_text(ts),
        pid,
        action,
        detail,
    };
    // Serializing strings, integers and booleans into a Vec cannot fail.
    let body = serde_json::to_vec(&canonical).unwrap_or_default();
    let mut bytes = Vec::with_capacity(prev_hash.len() + 1 + body.len());
    bytes.extend_from_slice(prev_hash.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(&body);
    sha256_hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::audit::AuditRecord;

    #[test]
    fn the_hash_covers_every_field_and_the_link() {
        let r = AuditRecord::new("tool.call").target("t").args_digest("a");
        let d = r.detail();
        let h = row_hash("", 1, &r.ts, None, &r.action, &d);
        assert_eq!(h.len(), 64);
        assert_eq!(h, row_hash("", 1, &r.ts, None, &r.action, &d));
        assert_ne!(h, row_hash("x", 1, &r.ts, None, &r.action, &d));
        assert_ne!(h, row_hash("", 2, &r.ts, None, &r.action, &d));
        assert_ne!(h, row_hash("", 1, &r.ts, Some("p"), &r.action, &d));
        assert_ne!(h, row_hash("", 1, &r.ts, None, "tool.calm", &d));
        let mut d2 = d.clone();
        d2.allowed = false;
        assert_ne!(h, row_hash("", 1, &r.ts, None, &r.action, &d2));
    }

    #[test]
    fn timestamps_have_six_fractional_digits() {
        let ts = DateTime::parse_from_rfc3339("2026-11-30T18:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(ts_text(&ts), "2026-11-30T18:00:00.000000Z");
    }
}
