//! Retention (last N and/or max age per agent, never breaking a kept checkpoint's delta
//! chain) and the collection of page blobs nothing refers to any more.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use crate::checkpoint::error::CheckpointError;
use crate::checkpoint::image::Body;
use crate::pid::Pid;
use crate::storage::Storage;
use crate::storage::durable::checkpoints::{self as rows, CheckpointMeta};
use crate::storage::durable::{journal, mailbox};

/// What a retention pass or a collection freed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Checkpoints deleted.
    pub checkpoints_deleted: u64,
    /// Bytes of checkpoint bodies deleted.
    pub checkpoint_bytes_freed: u64,
    /// Journal entries deleted (steps already covered by a checkpoint).
    pub journal_entries_deleted: u64,
    /// Page blobs deleted (referenced by no page and no checkpoint).
    pub blobs_deleted: u64,
    /// Bytes of page blobs deleted.
    pub blob_bytes_freed: u64,
    /// Acknowledged durable messages deleted (older than `acked_retention_secs`).
    pub acked_messages_deleted: u64,
}

impl GcReport {
    pub(crate) fn merge(&mut self, o: GcReport) {
        self.checkpoints_deleted += o.checkpoints_deleted;
        self.checkpoint_bytes_freed += o.checkpoint_bytes_freed;
        self.journal_entries_deleted += o.journal_entries_deleted;
        self.blobs_deleted += o.blobs_deleted;
        self.blob_bytes_freed += o.blob_bytes_freed;
        self.acked_messages_deleted += o.acked_messages_deleted;
    }
}

/// Which of `metas` (one agent's checkpoints) to delete: everything that is neither among the
/// `keep_last` newest, nor younger than `max_age`, nor an ancestor (up to its full base) of
/// one kept. The newest checkpoint is always kept.
pub(crate) fn doomed(
    metas: &[CheckpointMeta],
    keep_last: u32,
    max_age: Option<Duration>,
) -> Vec<String> {
    let Some(newest) = metas.iter().max_by_key(|m| m.sequence) else {
        return Vec::new();
    };
    if keep_last == 0 && max_age.is_none() {
        return Vec::new();
    }
    let mut by_seq: Vec<&CheckpointMeta> = metas.iter().collect();
    by_seq.sort_by_key(|m| std::cmp::Reverse(m.sequence));
    let now = Utc::now();
    let mut keep: HashSet<&str> = HashSet::new();
    keep.insert(&newest.id);
    for (i, m) in by_seq.iter().enumerate() {
        let by_count = keep_last == 0 || i < keep_last as usize;
        let by_age = match max_age {
            None => true,
            Some(age) => (now - m.created_at).to_std().map_or(true, |d| d <= age),
        };
        if by_count && by_age {
            keep.insert(&m.id);
        }
    }
    // Everything a kept delta needs, back to its full base.
    let by_id: HashMap<&str, &CheckpointMeta> = metas.iter().map(|m| (m.id.as_str(), m)).collect();
    let roots: Vec<&str> = keep.iter().copied().collect();
    for id in roots {
        let mut cur = by_id.get(id).copied();
        while let Some(m) = cur {
            keep.insert(&m.id);
            if m.kind == "full" {
                break;
            }
            cur = m.parent_id.as_deref().and_then(|p| by_id.get(p).copied());
        }
    }
    metas
        .iter()
        .filter(|m| !keep.contains(m.id.as_str()))
        .map(|m| m.id.clone())
        .collect()
}

/// Applies retention to one agent's checkpoints and drops journal entries of steps its
/// newest checkpoint covers.
pub(crate) async fn retain(
    storage: &Storage,
    pid: Pid,
    keep_last: u32,
    max_age: Option<Duration>,
    acked_retention: Duration,
) -> Result<GcReport, CheckpointError> {
    let key = pid.to_string();
    let metas = rows::list(storage, &key).await?;
    let ids = doomed(&metas, keep_last, max_age);
    let bytes: u64 = metas
        .iter()
        .filter(|m| ids.contains(&m.id))
        .map(|m| m.bytes)
        .sum();
    let mut report = GcReport::default();
    if !ids.is_empty() {
        report.checkpoints_deleted = rows::delete(storage, &ids).await?;
        report.checkpoint_bytes_freed = bytes;
    }
    if let Some(newest) = metas.iter().max_by_key(|m| m.sequence) {
        report.journal_entries_deleted =
            journal::prune(storage, &key, newest.step.saturating_add(1)).await?;
    }
    let before =
        Utc::now() - chrono::Duration::from_std(acked_retention).unwrap_or(chrono::Duration::MAX);
    report.acked_messages_deleted = mailbox::prune_acked(storage, before).await?;
    Ok(report)
}

/// Deletes every page blob that no page row and no checkpoint refers to. It reads every
/// checkpoint body (in batches), so it runs after retention deleted something, not per step.
pub(crate) async fn collect_blobs(storage: &Storage) -> Result<GcReport, CheckpointError> {
    // Candidates first: a blob stored after this listing is never one. A page stored with an
    // existing blob in the meantime is caught by the delete's own check on `pages`; a
    // checkpoint only ever names pages that exist.
    let candidates = rows::blobs(storage).await?;
    let mut used = rows::page_hashes_in_use(storage).await?;
    let mut after: Option<String> = None;
    loop {
        let batch = rows::bodies_after(storage, after.as_deref(), 500).await?;
        let Some((last, _)) = batch.last() else { break };
        after = Some(last.clone());
        for (_, bytes) in &batch {
            // An unreadable body is kept out of the decision conservatively: its blobs cannot
            // be known, so nothing is collected this round.
            let Ok(body) = serde_json::from_slice::<Body>(bytes) else {
                tracing::warn!(
                    "a checkpoint body could not be read; page blobs are not collected this round"
                );
                return Ok(GcReport::default());
            };
            used.extend(body.content.hashes().map(str::to_string));
        }
    }
    let doomed: Vec<String> = candidates
        .into_iter()
        .filter(|(h, _)| !used.contains(h))
        .map(|(h, _)| h)
        .collect();
    let (n, bytes) = rows::delete_blobs(storage, &doomed).await?;
    Ok(GcReport {
        blobs_deleted: n,
        blob_bytes_freed: bytes,
        ..GcReport::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(seq: u64, kind: &str, parent: Option<u64>, age_secs: i64) -> CheckpointMeta {
        CheckpointMeta {
            id: format!("c{seq}"),
            pid: "p".into(),
            sequence: seq,
            parent_id: parent.map(|p| format!("c{p}")),
            format_version: 1,
            kind: kind.into(),
            step: seq,
            base_sequence: 0,
            checksum: None,
            bytes: 10,
            agent_type: None,
            created_at: Utc::now() - chrono::Duration::seconds(age_secs),
        }
    }

    #[test]
    fn kept_deltas_keep_their_chain() {
        // full 1, deltas 2, 3; full 4, delta 5.
        let metas = vec![
            meta(1, "full", None, 0),
            meta(2, "delta", Some(1), 0),
            meta(3, "delta", Some(2), 0),
            meta(4, "full", Some(3), 0),
            meta(5, "delta", Some(4), 0),
        ];
        let mut d = doomed(&metas, 2, None);
        d.sort();
        assert_eq!(d, vec!["c1", "c2", "c3"]);
        let mut d = doomed(&metas, 3, None);
        d.sort();
        assert!(d.is_empty(), "c3 kept needs c2 and c1: {d:?}");
    }

    #[test]
    fn max_age_keeps_the_newest_and_unlimited_keeps_all() {
        let metas = vec![meta(1, "full", None, 100), meta(2, "full", Some(1), 100)];
        assert_eq!(doomed(&metas, 0, Some(Duration::from_secs(10))), vec!["c1"]);
        assert!(doomed(&metas, 0, None).is_empty());
    }
}
