//! Rebuilding a page table from storage (first use after a start or a restart).

use std::sync::Arc;

use crate::pager::error::PagerError;
use crate::pager::page::{PageId, PageKind};
use crate::pager::split::hash;
use crate::pager::table::{Entry, PageTable};
use crate::pid::Pid;
use crate::provider::{Role, ToolCall};
use crate::storage::Storage;
use crate::storage::pages::{PageRow, load_memories, load_pages};

/// A long-term memory held for recall.
#[derive(Debug, Clone)]
pub(crate) struct Memory {
    pub(crate) id: String,
    pub(crate) content: Arc<str>,
    pub(crate) importance: f32,
    pub(crate) embedding: Option<Arc<[f32]>>,
}

/// The page metadata kept in the row's JSON.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Meta {
    pub(crate) msg: u64,
    pub(crate) group: u64,
    pub(crate) role: Option<Role>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) shared_with: Vec<Pid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) memory_id: Option<String>,
}

impl Meta {
    pub(crate) fn of(e: &Entry) -> Self {
        Meta {
            msg: e.msg,
            group: e.group,
            role: Some(e.role),
            tool_calls: e.tool_calls.clone(),
            tool_call_id: e.tool_call_id.clone(),
            shared_with: e.shared_with.clone(),
            memory_id: e.memory_id.clone(),
        }
    }

    pub(crate) fn json(e: &Entry) -> serde_json::Value {
        serde_json::to_value(Meta::of(e)).unwrap_or_default()
    }
}

/// Loads `pid`'s page table and memories from storage.
pub(crate) async fn load_table(
    storage: &Storage,
    pid: Pid,
    budget: u64,
) -> Result<(PageTable, Vec<Memory>), PagerError> {
    let key = pid.to_string();
    let rows = load_pages(storage, &key).await?;
    let mut table = PageTable::new(pid, budget);
    for row in rows {
        let mut entry = entry_of(row)?;
        // Recency restarts as conversation order (the clock is not persisted).
        entry.last_access = table.tick();
        table.insert(entry);
    }
    let memories = load_memories(storage, &key)
        .await?
        .into_iter()
        .map(|m| Memory {
            id: m.id,
            content: Arc::from(m.content),
            importance: m.importance,
            embedding: m.embedding.map(Arc::from),
        })
        .collect();
    Ok((table, memories))
}

fn entry_of(row: PageRow) -> Result<Entry, PagerError> {
    let id: PageId = row.id.parse().map_err(|e| PagerError::Invalid {
        what: "stored page id",
        reason: format!("`{}`: {e}", row.id),
    })?;
    let corrupt = |reason: String| PagerError::Corrupt { page: id, reason };
    let kind = PageKind::parse(&row.kind)
        .ok_or_else(|| corrupt(format!("unknown kind `{}`", row.kind)))?;
    let meta: Meta =
        serde_json::from_value(row.metadata).map_err(|e| corrupt(format!("metadata: {e}")))?;
    let (hash_hex, content) = match (&row.hash, row.resident) {
        (Some(h), true) => {
            let blob = row
                .blob
                .ok_or_else(|| corrupt(format!("its blob {h} is missing")))?;
            let text = String::from_utf8(blob).map_err(|e| corrupt(e.to_string()))?;
            if hash(&text) != *h {
                return Err(corrupt("its blob does not match its hash".into()));
            }
            (h.clone(), Some(Arc::<str>::from(text)))
        }
        (Some(h), false) => (h.clone(), None),
        (None, resident) => {
            let h = hash(&row.inline);
            (h, resident.then(|| Arc::<str>::from(row.inline)))
        }
    };
    Ok(Entry {
        id,
        seq: row.seq,
        msg: meta.msg,
        group: meta.group,
        kind,
        role: meta.role.unwrap_or_else(|| kind.default_role()),
        tool_calls: meta.tool_calls,
        tool_call_id: meta.tool_call_id,
        importance: row.importance,
        pinned: row.pinned,
        tokens: row.tokens,
        hash: hash_hex,
        content,
        embedding: row.embedding.map(Arc::from),
        access_count: row.access_count,
        last_access: 0,
        shared_with: meta.shared_with,
        memory_id: meta.memory_id,
    })
}
