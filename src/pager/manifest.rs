//! An agent's page table by reference — what a checkpoint stores — and putting a table back
//! to such a manifest (restore) or copying it to another agent (fork).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::pager::error::PagerError;
use crate::pager::handle::Pager;
use crate::pager::load::Meta;
use crate::pager::page::{PageId, PageKind};
use crate::pager::split::hash;
use crate::pid::Pid;
use crate::storage::pages::{
    NewPageRow, delete_page_rows, insert_pages, load_blobs, load_pages, update_page,
};

/// One page by reference: its body is the content-addressed blob `hash`, written once when
/// the page was allocated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PageRef {
    pub(crate) id: String,
    pub(crate) hash: String,
    pub(crate) seq: u64,
    pub(crate) tokens: u32,
    pub(crate) importance: f32,
    pub(crate) pinned: bool,
    pub(crate) kind: String,
    pub(crate) meta: serde_json::Value,
}

/// Page references by page id.
pub(crate) type Manifest = BTreeMap<String, PageRef>;

impl Pager {
    /// `pid`'s page table by reference, if it is in memory (`None`: it was not used since it
    /// was loaded or restored, so it did not change).
    pub(crate) async fn manifest(&self, pid: Pid) -> Option<Manifest> {
        if !self.has_table(pid) {
            return None;
        }
        let st = self.lock(pid).await.ok()?;
        Some(
            st.table
                .entries
                .values()
                .map(|e| {
                    let r = PageRef {
                        id: e.id.to_string(),
                        hash: e.hash.clone(),
                        seq: e.seq,
                        tokens: e.tokens,
                        importance: e.importance,
                        pinned: e.pinned,
                        kind: e.kind.as_str().to_string(),
                        meta: Meta::json(e),
                    };
                    (r.id.clone(), r)
                })
                .collect(),
        )
    }

    /// Puts `pid`'s stored pages back to `pages`: rows that are not in it are deleted (their
    /// blobs stay for other checkpoints), missing ones are re-created from their blobs
    /// (swapped out, embedded again), changed ones updated. The in-memory table is dropped
    /// and loaded again on next use.
    pub(crate) async fn reset_to(&self, pid: Pid, pages: &Manifest) -> Result<(), PagerError> {
        let storage = &self.inner.storage;
        let key = pid.to_string();
        let stored = load_pages(storage, &key).await?;
        let doomed: Vec<String> = stored
            .iter()
            .filter(|r| !pages.contains_key(&r.id))
            .map(|r| r.id.clone())
            .collect();
        delete_page_rows(storage, &doomed).await?;
        for r in &stored {
            if let Some(p) = pages.get(&r.id)
                && (r.pinned != p.pinned || r.importance != p.importance || r.metadata != p.meta)
            {
                update_page(storage, &r.id, &p.meta, p.pinned, p.importance).await?;
            }
        }
        let missing: Vec<&PageRef> = pages
            .values()
            .filter(|p| !stored.iter().any(|r| r.id == p.id))
            .collect();
        self.insert_refs(pid, &missing, |p| p.id.clone()).await?;
        self.forget(pid);
        Ok(())
    }

    /// Copies `pages` to `to` under new page ids (a fork): same content, order and metadata.
    pub(crate) async fn copy_to(&self, to: Pid, pages: &Manifest) -> Result<(), PagerError> {
        let all: Vec<&PageRef> = pages.values().collect();
        self.insert_refs(to, &all, |_| PageId::new().to_string())
            .await?;
        self.forget(to);
        Ok(())
    }

    /// Inserts page rows for references whose blobs are stored (swapped out).
    async fn insert_refs(
        &self,
        pid: Pid,
        refs: &[&PageRef],
        id_of: impl Fn(&PageRef) -> String,
    ) -> Result<(), PagerError> {
        if refs.is_empty() {
            return Ok(());
        }
        let storage = &self.inner.storage;
        let hashes: Vec<&str> = refs.iter().map(|p| p.hash.as_str()).collect();
        let blobs: BTreeMap<String, Vec<u8>> =
            load_blobs(storage, &hashes).await?.into_iter().collect();
        let mut texts = Vec::with_capacity(refs.len());
        for p in refs {
            let bad = |reason: String| PagerError::Invalid {
                what: "checkpointed page",
                reason: format!("page {} ({}): {reason}", p.id, p.hash),
            };
            let blob = blobs
                .get(&p.hash)
                .ok_or_else(|| bad("its content is no longer stored".into()))?;
            let text = std::str::from_utf8(blob).map_err(|e| bad(e.to_string()))?;
            if hash(text) != p.hash {
                return Err(bad("its stored content does not match its hash".into()));
            }
            texts.push(text);
        }
        let vectors = self.embed(&texts).await?;
        let key = pid.to_string();
        let ids: Vec<String> = refs.iter().map(|p| id_of(p)).collect();
        let rows: Vec<NewPageRow<'_>> = refs
            .iter()
            .zip(&texts)
            .zip(&vectors)
            .zip(&ids)
            .map(|(((p, text), v), id)| NewPageRow {
                id: id.clone(),
                pid: key.clone(),
                hash: &p.hash,
                content: text,
                tokens: p.tokens,
                importance: p.importance,
                pinned: p.pinned,
                kind: PageKind::parse(&p.kind).map_or("message", PageKind::as_str),
                metadata: p.meta.clone(),
                embedding: Some(v),
                seq: p.seq,
                resident: false,
            })
            .collect();
        insert_pages(storage, &rows).await?;
        Ok(())
    }
}
