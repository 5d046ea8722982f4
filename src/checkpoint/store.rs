//! Writing checkpoints (full or delta, checksummed, with the step's acknowledgements) and
//! reading them back (verifying every body of the chain).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::checkpoint::error::CheckpointError;
use crate::checkpoint::image::{Body, FORMAT_VERSION, Image, checksum};
use crate::pid::Pid;
use crate::storage::Storage;
use crate::storage::durable::checkpoints::{
    self as rows, CheckpointMeta, CheckpointRow, NewCheckpoint,
};

/// A stored checkpoint, as [`crate::Kernel::checkpoints`] lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckpointInfo {
    /// Its id (a UUIDv7 string).
    pub id: String,
    /// The agent it was taken of.
    pub pid: Pid,
    /// Per-agent sequence number (1, 2, …).
    pub sequence: u64,
    /// Steps the agent had handled when it was taken.
    pub step: u64,
    /// `full`, or `delta` over `parent`.
    pub kind: String,
    /// The checkpoint this one is a delta of (also set on a full one taken after a restore).
    pub parent: Option<String>,
    /// Size of its stored body in bytes.
    pub bytes: u64,
    /// The registered agent type, for durable agents.
    pub agent_type: Option<String>,
    /// When it was taken.
    pub created_at: DateTime<Utc>,
}

impl CheckpointInfo {
    pub(crate) fn of(meta: &CheckpointMeta) -> Result<Self, CheckpointError> {
        let pid = meta.pid.parse().map_err(|e| CheckpointError::Invalid {
            id: meta.id.clone(),
            reason: format!("its pid `{}`: {e}", meta.pid),
        })?;
        Ok(CheckpointInfo {
            id: meta.id.clone(),
            pid,
            sequence: meta.sequence,
            step: meta.step,
            kind: meta.kind.clone(),
            parent: meta.parent_id.clone(),
            bytes: meta.bytes,
            agent_type: meta.agent_type.clone(),
            created_at: meta.created_at,
        })
    }
}

/// Where the next checkpoint of an agent goes: its parent (the last one written or restored)
/// and the numbering.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lineage {
    /// The last checkpoint written or restored, materialised.
    pub(crate) last: Option<Box<Image>>,
    pub(crate) last_id: Option<String>,
    pub(crate) base_sequence: u64,
    /// Deltas written since the last full checkpoint.
    pub(crate) since_full: u32,
    /// Size of the last full checkpoint's body.
    pub(crate) base_bytes: u64,
    /// Sizes of the deltas written since, added up.
    pub(crate) delta_bytes: u64,
    /// The next sequence number (one above the highest stored).
    pub(crate) next_sequence: u64,
}

/// A checkpoint ready to be committed.
pub(crate) struct Prepared {
    pub(crate) row: NewCheckpoint,
    pub(crate) acks: Vec<i64>,
}

/// Encodes `image` as the next checkpoint of `pid` (a delta over `lineage.last` unless a full
/// one is due) and advances the lineage as if it were committed.
pub(crate) fn prepare(
    pid: Pid,
    lineage: &mut Lineage,
    image: Image,
    full_every: u32,
    agent_type: Option<&str>,
    acks: Vec<i64>,
) -> Prepared {
    // A full checkpoint when none precedes it, when `full_every` deltas were written since
    // the last one (bounds the chain a restore reads), or as soon as the deltas since the last
    // one weigh as much as it: what the chain costs never exceeds one base, so the bytes
    // written per step stay flat however large the state and the page table grow.
    let mut body = image.encode(lineage.last.as_deref());
    let mut bytes = serde_json::to_vec(&body).unwrap_or_default();
    let delta_len = bytes.len() as u64;
    let full = lineage.last.is_none()
        || lineage.since_full.saturating_add(1) >= full_every
        || lineage.delta_bytes.saturating_add(delta_len) >= lineage.base_bytes;
    if full && lineage.last.is_some() {
        body = image.encode(None);
        bytes = serde_json::to_vec(&body).unwrap_or_default();
    }
    if !acks.is_empty() {
        body.acked = acks.clone();
        bytes = serde_json::to_vec(&body).unwrap_or_default();
    }
    let kind = body.content.kind();
    let sequence = lineage.next_sequence.max(1);
    let id = uuid::Uuid::now_v7().to_string();
    if full {
        lineage.base_sequence = sequence;
        lineage.since_full = 0;
        lineage.base_bytes = bytes.len() as u64;
        lineage.delta_bytes = 0;
    } else {
        lineage.since_full = lineage.since_full.saturating_add(1);
        lineage.delta_bytes = lineage.delta_bytes.saturating_add(bytes.len() as u64);
    }
    let row = NewCheckpoint {
        id: id.clone(),
        pid: pid.to_string(),
        sequence,
        parent_id: lineage.last_id.clone(),
        format_version: FORMAT_VERSION,
        kind,
        step: image.step,
        base_sequence: lineage.base_sequence,
        checksum: checksum(&bytes),
        body: bytes,
        agent_type: agent_type.map(str::to_string),
        summary: serde_json::json!({ "kind": kind, "step": image.step }),
        created_at: Utc::now(),
    };
    lineage.last = Some(Box::new(image));
    lineage.last_id = Some(id);
    lineage.next_sequence = sequence.saturating_add(1);
    Prepared { row, acks }
}

/// Commits a prepared checkpoint (and its acknowledgements) in one transaction.
pub(crate) async fn commit(
    storage: &Storage,
    pid: Pid,
    p: &Prepared,
) -> Result<CheckpointInfo, CheckpointError> {
    rows::commit(storage, &p.row, &p.acks).await?;
    Ok(info_of_new(pid, &p.row))
}

/// The listing entry of a checkpoint just written.
pub(crate) fn info_of_new(pid: Pid, row: &NewCheckpoint) -> CheckpointInfo {
    CheckpointInfo {
        id: row.id.clone(),
        pid,
        sequence: row.sequence,
        step: row.step,
        kind: row.kind.to_string(),
        parent: row.parent_id.clone(),
        bytes: row.body.len() as u64,
        agent_type: row.agent_type.clone(),
        created_at: row.created_at,
    }
}

/// Verifies and decodes one body.
fn body_of(row: &CheckpointRow) -> Result<Body, CheckpointError> {
    let id = &row.meta.id;
    let bytes = row
        .body
        .as_deref()
        .ok_or_else(|| CheckpointError::Invalid {
            id: id.clone(),
            reason: "it has no body (written by an older kernel)".into(),
        })?;
    let actual = checksum(bytes);
    let expected = row.meta.checksum.clone().unwrap_or_default();
    if actual != expected {
        return Err(CheckpointError::Corrupt {
            id: id.clone(),
            expected,
            actual,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| CheckpointError::Invalid {
        id: id.clone(),
        reason: e.to_string(),
    })
}

/// Materialises a checkpoint: its chain from the last full checkpoint is read in one query,
/// every body is verified against its checksum, the deltas are applied in order. Returns the
/// image and the lineage that continues from it.
pub(crate) async fn load(
    storage: &Storage,
    row: CheckpointRow,
) -> Result<(Image, Lineage), CheckpointError> {
    let meta = row.meta.clone();
    let chain = if meta.kind == "full" {
        vec![row]
    } else {
        let mut by_id: HashMap<String, CheckpointRow> =
            rows::range(storage, &meta.pid, meta.base_sequence, meta.sequence)
                .await?
                .into_iter()
                .map(|r| (r.meta.id.clone(), r))
                .collect();
        let mut chain = Vec::new();
        let mut next = Some(meta.id.clone());
        while let Some(id) = next {
            let r = by_id.remove(&id).ok_or_else(|| CheckpointError::Invalid {
                id: meta.id.clone(),
                reason: format!("its chain is broken: ancestor `{id}` is missing"),
            })?;
            next = if r.meta.kind == "full" {
                None
            } else {
                r.meta.parent_id.clone()
            };
            chain.push(r);
        }
        chain.reverse();
        chain
    };
    let mut image: Option<Image> = None;
    let since_full = chain.len().saturating_sub(1);
    for r in &chain {
        let body = body_of(r)?;
        image = Some(
            Image::decode(body, image).map_err(|reason| CheckpointError::Invalid {
                id: r.meta.id.clone(),
                reason,
            })?,
        );
    }
    let image = image.ok_or_else(|| CheckpointError::NotFound(meta.id.clone()))?;
    let sizes: Vec<u64> = chain.iter().map(|r| r.meta.bytes).collect();
    let lineage = Lineage {
        last: Some(Box::new(image.clone())),
        last_id: Some(meta.id.clone()),
        base_sequence: meta.base_sequence,
        since_full: u32::try_from(since_full).unwrap_or(u32::MAX),
        base_bytes: sizes.first().copied().unwrap_or(0),
        delta_bytes: sizes.iter().skip(1).sum(),
        next_sequence: 0,
    };
    Ok((image, lineage))
}

/// The newest checkpoint of `pid`, materialised, with the lineage that continues it; `None`
/// when it has none.
pub(crate) async fn load_latest(
    storage: &Storage,
    pid: Pid,
) -> Result<Option<(Image, Lineage)>, CheckpointError> {
    let Some(row) = rows::latest(storage, &pid.to_string()).await? else {
        return Ok(None);
    };
    let next = row.meta.sequence.saturating_add(1);
    let (image, mut lineage) = load(storage, row).await?;
    lineage.next_sequence = next;
    Ok(Some((image, lineage)))
}

/// One checkpoint by id, materialised; the lineage continues from it, numbered after the
/// highest sequence its agent has.
pub(crate) async fn load_by_id(
    storage: &Storage,
    id: &str,
) -> Result<(CheckpointMeta, Image, Lineage), CheckpointError> {
    let row = rows::get(storage, id)
        .await?
        .ok_or_else(|| CheckpointError::NotFound(id.to_string()))?;
    let meta = row.meta.clone();
    let highest = rows::latest(storage, &meta.pid)
        .await?
        .map_or(meta.sequence, |r| r.meta.sequence);
    let (image, mut lineage) = load(storage, row).await?;
    lineage.next_sequence = highest.saturating_add(1);
    Ok((meta, image, lineage))
}
