//! Reading context: `context`, `recall`, `read`, plus sharing, freeing and long-term
//! memories.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::pager::assemble::{Context, messages, prefix_share, prompt_order};
use crate::pager::error::PagerError;
use crate::pager::evict::fault_in;
use crate::pager::handle::{MEMORY_KEY, Pager, State};
use crate::pager::load::{Memory, Meta};
use crate::pager::page::{NewPage, Page, PageId, PageInfo, PageKind};
use crate::pager::split::{count_tokens, split};
use crate::pid::Pid;
use crate::storage::embedding::EmbeddingTable;
use crate::storage::pages::{MemoryRow, delete_pages, insert_memory, page_owner, update_page};
use crate::storage::vector::{NearestQuery, nearest};

/// One answer of [`Pager::recall`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Recalled {
    /// The entry's first page (for a long-term memory: the page it was brought in as, if it
    /// fitted).
    pub page: Option<PageInfo>,
    /// The long-term memory it came from, if any.
    pub memory_id: Option<String>,
    /// The text.
    pub content: String,
    /// Cosine similarity to the query.
    pub similarity: f32,
    /// Resident after the call (false: it did not fit the budget; its content is here all the
    /// same).
    pub resident: bool,
}

/// A page hit: its seq and similarity.
type SeqHit = (u64, f32);
/// A memory hit: its position and similarity.
type MemoryHit = (usize, f32);

/// A hit of a similarity search.
enum Hit {
    Group(u64, f32),
    Memory(usize, f32),
}

impl Hit {
    fn similarity(&self) -> f32 {
        match self {
            Hit::Group(_, s) | Hit::Memory(_, s) => *s,
        }
    }
}

impl Pager {
    /// The messages for the agent's next LLM call: pinned pages first in a byte-identical
    /// order, then the other resident pages in conversation order. With a query, the swapped
    /// entries most similar to it (above `recall_threshold`, at most `context_recall`) are
    /// faulted in first if they fit; the resident set is then kept within the budget (evicting
    /// down to the low-water mark, never the pages just faulted in unless nothing else is
    /// left). Only pinned pages over the budget: `ContextOverflow`.
    pub async fn context(&self, pid: Pid, query: Option<&str>) -> Result<Context, PagerError> {
        let qv = match query {
            Some(q) if !q.is_empty() => Some(self.embed(&[q]).await?.remove(0)),
            _ => None,
        };
        let mut guard = self.lock(pid).await?;
        let st = &mut *guard;
        if st.table.pinned_tokens > st.table.budget {
            return Err(PagerError::ContextOverflow {
                pid,
                pinned_tokens: st.table.pinned_tokens,
                budget: st.table.budget,
            });
        }
        let mut faulted = Vec::new();
        let mut protect = Vec::new();
        if let Some(q) = &qv {
            st.last_query = Some(q.clone());
            let cfg = &self.inner.config;
            let hits = self
                .search(st, q, cfg.context_recall, cfg.recall_threshold)
                .await?;
            let (f, p) = self.bring_in(st, &hits, true).await?;
            faulted = f;
            protect = p;
        }
        let evicted = self.after_growth(st, &protect).await?;
        let t = &mut st.table;
        let order = prompt_order(t);
        let (same, total) = prefix_share(&t.last_prompt, &order);
        let out = Context {
            messages: messages(&order),
            pages: order.iter().map(|e| e.id).collect(),
            tokens: t.resident_tokens,
            faulted: faulted
                .into_iter()
                .filter(|id| t.get(*id).is_some_and(|e| e.resident()))
                .collect(),
            evicted,
            prefix_stability: if total == 0 {
                1.0
            } else {
                same as f64 / total as f64
            },
        };
        t.last_prompt.clone_from(&out.pages);
        t.counters.context_calls += 1;
        t.counters.prompt_tokens += total;
        t.counters.stable_prefix_tokens += same;
        t.counters.last_prefix_stability = out.prefix_stability;
        Ok(out)
    }

    /// The `k` entries (own pages, resident or swapped, and long-term memories) most similar
    /// to `query`, most similar first. Swapped ones are faulted in and memories brought in as
    /// `memory` pages, as far as they fit the budget.
    pub async fn recall(
        &self,
        pid: Pid,
        query: &str,
        k: usize,
    ) -> Result<Vec<Recalled>, PagerError> {
        let q = self.embed(&[query]).await?.remove(0);
        let mut guard = self.lock(pid).await?;
        let st = &mut *guard;
        st.last_query = Some(q.clone());
        let hits = self.search(st, &q, k, -1.0).await?;
        let (_, protect) = self.bring_in(st, &hits, false).await?;
        let mut out = Vec::with_capacity(hits.len());
        for hit in &hits {
            let (group, memory_id) = match hit {
                Hit::Group(g, _) => (Some(*g), None),
                Hit::Memory(i, _) => {
                    let id = st.memories[*i].id.clone();
                    let g = st
                        .table
                        .entries
                        .values()
                        .find(|e| e.memory_id.as_deref() == Some(id.as_str()))
                        .map(|e| e.group);
                    (g, Some(id))
                }
            };
            let (page, content, resident) = match group {
                Some(g) => {
                    let seqs = st.table.group_seqs(g);
                    let resident = seqs.iter().all(|s| st.table.entries[s].resident());
                    let content = if resident {
                        seqs.iter()
                            .filter_map(|s| st.table.entries[s].content.clone())
                            .map(|c| c.to_string())
                            .collect::<String>()
                    } else {
                        fault_in(
                            &self.inner.storage,
                            self.inner.residency.as_ref(),
                            &mut st.table,
                            &seqs,
                            false,
                        )
                        .await?
                        .concat()
                    };
                    (
                        seqs.first().map(|s| st.table.entries[s].info(pid)),
                        content,
                        resident,
                    )
                }
                None => {
                    let Hit::Memory(i, _) = hit else { continue };
                    (None, st.memories[*i].content.to_string(), false)
                }
            };
            out.push(Recalled {
                page,
                memory_id,
                content,
                similarity: hit.similarity(),
                resident,
            });
        }
        self.after_growth(st, &protect).await?;
        for r in &mut out {
            if let Some(p) = &mut r.page {
                r.resident = st.table.get(p.id).is_some_and(|e| e.resident());
                p.resident = r.resident;
            }
        }
        Ok(out)
    }

    /// Groups and memories most similar to `q`, best first: pgvector's HNSW index on
    /// PostgreSQL, the in-process index on SQLite.
    async fn search(
        &self,
        st: &State,
        q: &[f32],
        k: usize,
        threshold: f32,
    ) -> Result<Vec<Hit>, PagerError> {
        // No more answers than entries (a caller's k is not trusted for allocations).
        let k = k.min(st.table.entries.len() + st.memories.len());
        if k == 0 {
            return Ok(Vec::new());
        }
        // Pages of one entry, pinned pages and memory pages compete for the same slots.
        let want = k.saturating_mul(4).max(16);
        let (pages, memories): (Vec<SeqHit>, Vec<MemoryHit>) = match &st.index {
            Some(index) => {
                let (mut pages, mut mems) = (Vec::new(), Vec::new());
                for (key, sim) in index.search(q, want, |_| true) {
                    if key & MEMORY_KEY == 0 {
                        pages.push((key, sim));
                    } else if let Ok(i) = usize::try_from(key & !MEMORY_KEY) {
                        mems.push((i, sim));
                    }
                }
                (pages, mems)
            }
            None => {
                let pid = st.table.owner.to_string();
                let ask = |table, k| NearestQuery {
                    table,
                    pid: Some(pid.as_str()),
                    swapped_only: false,
                    vector: q,
                    k,
                };
                let storage = &self.inner.storage;
                let pages = nearest(storage, ask(EmbeddingTable::Pages, want))
                    .await?
                    .into_iter()
                    .filter_map(|n| {
                        let id: PageId = n.id.parse().ok()?;
                        Some((*st.table.by_id.get(&id)?, n.similarity))
                    })
                    .collect();
                let mems = if st.memories.is_empty() {
                    Vec::new()
                } else {
                    nearest(storage, ask(EmbeddingTable::Memories, k))
                        .await?
                        .into_iter()
                        .filter_map(|n| {
                            let i = st.memories.iter().position(|m| m.id == n.id)?;
                            Some((i, n.similarity))
                        })
                        .collect()
                };
                (pages, mems)
            }
        };
        let mut best: std::collections::HashMap<u64, f32> = std::collections::HashMap::new();
        for (seq, sim) in pages {
            let Some(e) = st.table.entries.get(&seq) else {
                continue;
            };
            if e.pinned || e.memory_id.is_some() {
                continue;
            }
            let slot = best.entry(e.group).or_insert(f32::MIN);
            *slot = slot.max(sim);
        }
        let mut hits: Vec<Hit> = best
            .into_iter()
            .map(|(g, s)| Hit::Group(g, s))
            .chain(memories.into_iter().map(|(i, s)| Hit::Memory(i, s)))
            .filter(|h| h.similarity() >= threshold)
            .collect();
        hits.sort_by(|a, b| b.similarity().total_cmp(&a.similarity()));
        hits.truncate(k);
        Ok(hits)
    }

    /// Faults in the swapped groups among `hits` and brings memories in as pages, best first,
    /// as far as they fit next to the pinned pages. Resident hits count as hits. Returns the
    /// pages faulted in and the groups to protect from the eviction that follows.
    async fn bring_in(
        &self,
        st: &mut State,
        hits: &[Hit],
        count_hits: bool,
    ) -> Result<(Vec<PageId>, Vec<u64>), PagerError> {
        let mut room = st.table.budget.saturating_sub(st.table.pinned_tokens);
        let (mut faulted, mut protect) = (Vec::new(), Vec::new());
        for hit in hits {
            let group = match hit {
                Hit::Group(g, _) => *g,
                Hit::Memory(i, _) => {
                    let m = st.memories[*i].clone();
                    match st
                        .table
                        .entries
                        .values()
                        .find(|e| e.memory_id.as_deref() == Some(m.id.as_str()))
                    {
                        Some(e) => e.group,
                        None => {
                            if u64::from(count_tokens(&m.content)) > room {
                                continue;
                            }
                            let g = self.add_memory_page(st, &m).await?;
                            let tokens: u64 = st
                                .table
                                .group_seqs(g)
                                .iter()
                                .map(|s| u64::from(st.table.entries[s].tokens))
                                .sum();
                            room = room.saturating_sub(tokens);
                            protect.push(g);
                            continue;
                        }
                    }
                }
            };
            let seqs = st.table.group_seqs(group);
            let tokens: u64 = seqs
                .iter()
                .map(|s| u64::from(st.table.entries[s].tokens))
                .sum();
            let swapped: Vec<u64> = seqs
                .iter()
                .copied()
                .filter(|s| !st.table.entries[s].resident())
                .collect();
            if swapped.is_empty() {
                if count_hits {
                    st.table.counters.hits += 1;
                }
                for s in &seqs {
                    st.table.touch(*s);
                }
            } else if tokens <= room {
                fault_in(
                    &self.inner.storage,
                    self.inner.residency.as_ref(),
                    &mut st.table,
                    &swapped,
                    true,
                )
                .await?;
                faulted.extend(swapped.iter().map(|s| st.table.entries[s].id));
            } else {
                continue;
            }
            room = room.saturating_sub(tokens);
            protect.push(group);
        }
        Ok((faulted, protect))
    }

    async fn add_memory_page(&self, st: &mut State, m: &Memory) -> Result<u64, PagerError> {
        let pieces = split(&m.content, self.inner.config.page_tokens);
        let vectors = match &m.embedding {
            Some(v) => vec![v.clone(); pieces.len()],
            None => {
                let texts: Vec<&str> = pieces.iter().map(|p| p.text.as_str()).collect();
                self.embed(&texts).await?
            }
        };
        let page = NewPage::new(PageKind::Memory, m.content.to_string()).importance(m.importance);
        let ids = self
            .add(st, page, pieces, vectors, Some(m.id.clone()))
            .await?;
        let group = ids
            .first()
            .and_then(|id| st.table.get(*id))
            .map_or(0, |e| e.group);
        Ok(group)
    }

    /// Stores a long-term memory of `pid` (the `memories` table, with its embedding); it is
    /// found again by [`Pager::recall`] and by `context(query)`. Returns its id.
    pub async fn remember(
        &self,
        pid: Pid,
        text: &str,
        importance: f32,
    ) -> Result<String, PagerError> {
        if text.is_empty() {
            return Err(PagerError::Invalid {
                what: "memory",
                reason: "is empty".into(),
            });
        }
        if !(0.0..=1.0).contains(&importance) {
            return Err(PagerError::Invalid {
                what: "importance",
                reason: format!("{importance} is outside 0–1"),
            });
        }
        let v = self.embed(&[text]).await?.remove(0);
        let mut st = self.lock(pid).await?;
        let row = MemoryRow {
            id: uuid::Uuid::now_v7().to_string(),
            content: text.to_string(),
            tokens: count_tokens(text),
            importance,
            embedding: Some(v.to_vec()),
            created_at: chrono::Utc::now(),
        };
        insert_memory(&self.inner.storage, &pid.to_string(), &row).await?;
        let key = MEMORY_KEY | st.memories.len() as u64;
        if let Some(index) = st.index.as_mut() {
            let _ = index.insert(key, v.to_vec());
        }
        st.memories.push(Memory {
            id: row.id.clone(),
            content: Arc::from(text),
            importance,
            embedding: Some(v),
        });
        Ok(row.id)
    }

    /// Reads a page as `reader`: its own pages, or another agent's page shared with it
    /// (anything else is `AccessDenied`). A swapped page of the reader's own is faulted back
    /// into its resident set (with the rest of its entry) if it fits; the content is returned
    /// byte-identical either way.
    pub async fn read(&self, reader: Pid, page: PageId) -> Result<Page, PagerError> {
        let owner = self.owner_of(page).await?;
        let mut guard = self.lock(owner).await?;
        let st = &mut *guard;
        let entry = st.table.get(page).ok_or(PagerError::NoSuchPage(page))?;
        if owner != reader && !entry.shared_with.contains(&reader) {
            return Err(PagerError::AccessDenied {
                reader,
                owner,
                page,
                action: "read",
            });
        }
        let seq = entry.seq;
        let group = entry.group;
        let content = if let Some(c) = entry.content.clone() {
            st.table.counters.hits += 1;
            st.table.touch(seq);
            c
        } else {
            let seqs = st.table.group_seqs(group);
            let tokens: u64 = seqs
                .iter()
                .map(|s| u64::from(st.table.entries[s].tokens))
                .sum();
            let fits =
                owner == reader && tokens <= st.table.budget.saturating_sub(st.table.pinned_tokens);
            let contents = fault_in(
                &self.inner.storage,
                self.inner.residency.as_ref(),
                &mut st.table,
                &seqs,
                fits,
            )
            .await?;
            let i = seqs.iter().position(|s| *s == seq).unwrap_or(0);
            let c = contents.get(i).cloned().unwrap_or_else(|| Arc::from(""));
            if fits {
                self.after_growth(st, &[group]).await?;
            }
            c
        };
        let info = st
            .table
            .get(page)
            .ok_or(PagerError::NoSuchPage(page))?
            .info(owner);
        Ok(Page { info, content })
    }

    async fn owner_of(&self, page: PageId) -> Result<Pid, PagerError> {
        if let Some(o) = self.inner.owners.get(&page) {
            return Ok(*o);
        }
        let owner = page_owner(&self.inner.storage, &page.to_string())
            .await?
            .ok_or(PagerError::NoSuchPage(page))?;
        owner.parse().map_err(|_| PagerError::Corrupt {
            page,
            reason: format!("its owner `{owner}` is not a pid"),
        })
    }

    /// Shares `owner`'s page read-only with `with` (only the owner may).
    pub async fn share(&self, owner: Pid, page: PageId, with: Pid) -> Result<(), PagerError> {
        self.change(owner, page, "share", |e| {
            if !e.shared_with.contains(&with) {
                e.shared_with.push(with);
            }
        })
        .await
    }

    /// Withdraws a share.
    pub async fn unshare(&self, owner: Pid, page: PageId, with: Pid) -> Result<(), PagerError> {
        self.change(owner, page, "unshare", |e| {
            e.shared_with.retain(|p| *p != with)
        })
        .await
    }

    async fn change(
        &self,
        caller: Pid,
        page: PageId,
        action: &'static str,
        edit: impl FnOnce(&mut crate::pager::table::Entry),
    ) -> Result<(), PagerError> {
        let owner = self.owner_of(page).await?;
        if owner != caller {
            return Err(PagerError::AccessDenied {
                reader: caller,
                owner,
                page,
                action,
            });
        }
        let mut st = self.lock(owner).await?;
        let entry = st.table.get_mut(page).ok_or(PagerError::NoSuchPage(page))?;
        let mut edited = entry.clone();
        edit(&mut edited);
        update_page(
            &self.inner.storage,
            &page.to_string(),
            &Meta::json(&edited),
            edited.pinned,
            edited.importance,
        )
        .await?;
        *entry = edited;
        Ok(())
    }

    /// Frees one of `pid`'s pages: removed from the table and from storage (its blob too when
    /// no other page holds the same content).
    pub async fn free(&self, pid: Pid, page: PageId) -> Result<(), PagerError> {
        let owner = self.owner_of(page).await?;
        if owner != pid {
            return Err(PagerError::AccessDenied {
                reader: pid,
                owner,
                page,
                action: "free",
            });
        }
        let mut st = self.lock(owner).await?;
        let hash = st
            .table
            .get(page)
            .ok_or(PagerError::NoSuchPage(page))?
            .hash
            .clone();
        delete_pages(&self.inner.storage, &[(page.to_string(), hash)]).await?;
        if let Some(e) = st.table.remove(page)
            && let Some(index) = st.index.as_mut()
        {
            index.remove(e.seq);
        }
        self.inner.owners.remove(&page);
        self.check_pressure(&mut st.table);
        Ok(())
    }
}
