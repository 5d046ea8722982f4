//! [`Pager`]: the handle over every agent's page table.

use std::sync::{Arc, OnceLock};

use dashmap::DashMap;
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

use crate::embed::Embedder;
use crate::pager::compact::Summarize;
use crate::pager::config::{PagerConfig, ReplacementKind};
use crate::pager::error::PagerError;
use crate::pager::load::{Memory, load_table};
use crate::pager::page::{NewPage, PageId, PageInfo};
use crate::pager::policy::{LruPolicy, ReplacementPolicy, WeightedPolicy};
use crate::pager::pressure::{MemoryPressure, Notifier};
use crate::pager::residency::ResidencyWriter;
use crate::pager::stats::PagerStats;
use crate::pager::table::PageTable;
use crate::pid::Pid;
use crate::storage::vector::VectorIndex;
use crate::storage::{Backend, Storage};

/// The pager: owns every agent's page table (the context window is RAM, storage is the
/// disk). Cheap to clone. Operations on one agent's table run one at a time (each table has
/// its own lock); different agents' run in parallel. A table is loaded from storage on first
/// use, so pages outlive the process: after a kernel restart the same pid finds its pages,
/// resident or swapped, and faults work.
///
/// Agents reach it through their context (`ctx.context(query)`, `ctx.remember`,
/// `ctx.recall`, …); outside code through [`crate::Kernel::pager`].
#[derive(Clone)]
pub struct Pager {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: PagerConfig,
    pub(crate) storage: Storage,
    pub(crate) embedder: Arc<dyn Embedder>,
    pub(crate) policy: Arc<dyn ReplacementPolicy>,
    slots: DashMap<Pid, Arc<Mutex<Option<State>>>>,
    budgets: DashMap<Pid, u64>,
    pub(crate) owners: DashMap<PageId, Pid>,
    pub(crate) notifier: OnceLock<Notifier>,
    pub(crate) summarize: OnceLock<Summarize>,
    pub(crate) residency: Option<ResidencyWriter>,
}

/// One agent's pager state.
pub(crate) struct State {
    pub(crate) table: PageTable,
    pub(crate) memories: Vec<Memory>,
    pub(crate) last_query: Option<Arc<[f32]>>,
    /// SQLite: the in-process index of every page and memory embedding (pages keyed by seq,
    /// memories by [`MEMORY_KEY`] | position). PostgreSQL: `None`, recall asks pgvector.
    pub(crate) index: Option<VectorIndex>,
}

/// The key bit of memories in [`State::index`].
pub(crate) const MEMORY_KEY: u64 = 1 << 63;

impl std::fmt::Debug for Pager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pager")
            .field("tables", &self.inner.slots.len())
            .field("embedder", &self.inner.embedder.id())
            .field("policy", &self.inner.policy.name())
            .finish_non_exhaustive()
    }
}

impl Pager {
    /// A pager over `storage`, embedding with `embedder`, replacing with the configured
    /// policy.
    pub fn new(config: PagerConfig, storage: Storage, embedder: Arc<dyn Embedder>) -> Self {
        let policy: Arc<dyn ReplacementPolicy> = match config.policy {
            ReplacementKind::Lru => Arc::new(LruPolicy),
            _ => Arc::new(WeightedPolicy::new(config.weights)),
        };
        Pager::with_policy(config, storage, embedder, policy)
    }

    /// [`Pager::new`] with a replacement policy of your own. Call it inside a tokio runtime
    /// (the residency writer runs there; outside one, flags are written in place).
    pub fn with_policy(
        config: PagerConfig,
        storage: Storage,
        embedder: Arc<dyn Embedder>,
        policy: Arc<dyn ReplacementPolicy>,
    ) -> Self {
        let residency = ResidencyWriter::spawn(storage.clone());
        Pager {
            inner: Arc::new(Inner {
                residency,
                config,
                storage,
                embedder,
                policy,
                slots: DashMap::new(),
                budgets: DashMap::new(),
                owners: DashMap::new(),
                notifier: OnceLock::new(),
                summarize: OnceLock::new(),
            }),
        }
    }

    /// Waits until every residency change so far (evictions, faults) is written. Page bodies
    /// are written when they are allocated; the residency flags behind them, so a fault costs
    /// one read, not a commit. The kernel flushes at shutdown.
    pub async fn flush(&self) {
        if let Some(w) = &self.inner.residency {
            w.flush().await;
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PagerConfig {
        &self.inner.config
    }

    /// The embedder pages and queries go through.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.inner.embedder
    }

    /// The replacement policy.
    pub fn policy(&self) -> &Arc<dyn ReplacementPolicy> {
        &self.inner.policy
    }

    pub(crate) fn set_notifier(&self, notifier: Notifier) {
        let _ = self.inner.notifier.set(notifier);
    }

    pub(crate) fn set_summarizer(&self, summarize: Summarize) {
        let _ = self.inner.summarize.set(summarize);
    }

    /// The agent's resident budget in tokens.
    pub fn budget(&self, pid: Pid) -> u64 {
        self.inner
            .budgets
            .get(&pid)
            .map_or_else(|| self.inner.config.default_budget(), |b| *b)
    }

    /// Sets the agent's resident budget. Pages are evicted at once if it is now over it; if
    /// its pinned pages alone exceed `tokens`, the change is refused with `ContextOverflow`.
    pub async fn set_budget(&self, pid: Pid, tokens: u64) -> Result<(), PagerError> {
        if tokens == 0 {
            return Err(PagerError::Invalid {
                what: "budget",
                reason: "must be at least 1 token".into(),
            });
        }
        let mut st = self.lock(pid).await?;
        if st.table.pinned_tokens > tokens {
            return Err(PagerError::ContextOverflow {
                pid,
                pinned_tokens: st.table.pinned_tokens,
                budget: tokens,
            });
        }
        let old = st.table.budget;
        st.table.budget = tokens;
        if let Err(e) = self.make_room(&mut st, &[]).await {
            st.table.budget = old;
            return Err(e);
        }
        self.inner.budgets.insert(pid, tokens);
        Ok(())
    }

    /// Records a budget before the agent's table exists (spawn options).
    pub(crate) fn preset_budget(&self, pid: Pid, tokens: u64) {
        self.inner.budgets.insert(pid, tokens);
    }

    /// The agent's state, locked, loaded from storage on first use.
    pub(crate) async fn lock(
        &self,
        pid: Pid,
    ) -> Result<OwnedMappedMutexGuard<Option<State>, State>, PagerError> {
        let slot = self
            .inner
            .slots
            .entry(pid)
            .or_insert_with(|| Arc::new(Mutex::new(None)))
            .clone();
        let mut guard = slot.lock_owned().await;
        if guard.is_none() {
            let (table, memories) = load_table(&self.inner.storage, pid, self.budget(pid)).await?;
            for id in table.by_id.keys() {
                self.inner.owners.insert(*id, pid);
            }
            let index = match self.inner.storage.backend() {
                Backend::Postgres => None,
                Backend::Sqlite => Some(self.index_of(&table, &memories)),
            };
            *guard = Some(State {
                table,
                memories,
                last_query: None,
                index,
            });
        }
        OwnedMutexGuard::try_map(guard, Option::as_mut).map_err(|_| PagerError::Invalid {
            what: "page table",
            reason: format!("the table of {pid} could not be loaded"),
        })
    }

    /// The in-process index of a table's pages and memories.
    fn index_of(&self, table: &PageTable, memories: &[Memory]) -> VectorIndex {
        let mut index = VectorIndex::new(self.inner.embedder.dimensions());
        let pages = table
            .entries
            .values()
            .filter_map(|e| e.embedding.as_ref().map(|v| (e.seq, v)));
        let mems = memories
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.embedding.as_ref().map(|v| (MEMORY_KEY | i as u64, v)));
        for (key, v) in pages.chain(mems) {
            // A vector of another width (the embedder changed) is left out of recall.
            let _ = index.insert(key, v.to_vec());
        }
        index
    }

    /// Whether `pid`'s table is in memory.
    pub(crate) fn has_table(&self, pid: Pid) -> bool {
        self.inner.slots.contains_key(&pid)
    }

    /// Drops the agent's table from memory (its pages stay in storage and are loaded again on
    /// the next use). The kernel calls it when an agent terminates for good.
    pub fn forget(&self, pid: Pid) {
        if let Some((_, slot)) = self.inner.slots.remove(&pid)
            && let Ok(st) = slot.try_lock()
            && let Some(st) = st.as_ref()
        {
            for id in st.table.by_id.keys() {
                self.inner.owners.remove(id);
            }
        }
    }

    /// Allocates content as pages owned by `pid` (split at token boundaries into pages of at
    /// most `page_tokens`), stores them, and makes them resident, evicting others if the
    /// budget requires it. Returns the new pages' ids in order. Pinned content that would
    /// make the pinned pages alone exceed the budget is refused (`ContextOverflow`) and not
    /// stored; unpinned content larger than the whole budget is stored swapped out.
    pub async fn allocate(&self, pid: Pid, page: NewPage) -> Result<Vec<PageId>, PagerError> {
        if !(0.0..=1.0).contains(&page.importance) {
            return Err(PagerError::Invalid {
                what: "importance",
                reason: format!("{} is outside 0–1", page.importance),
            });
        }
        let pieces = crate::pager::split::split(&page.content, self.inner.config.page_tokens);
        let texts: Vec<&str> = pieces.iter().map(|p| p.text.as_str()).collect();
        let vectors = self.embed(&texts).await?;
        let mut st = self.lock(pid).await?;
        let ids = self.add(&mut st, page, pieces, vectors, None).await?;
        self.after_growth(&mut st, &[]).await?;
        Ok(ids)
    }

    /// [`Pager::allocate`] unless the agent already holds an entry of the same kind with the
    /// same content (page for page), whose ids are then returned: for a system prompt or tool
    /// list re-sent with every request.
    pub async fn allocate_once(&self, pid: Pid, page: NewPage) -> Result<Vec<PageId>, PagerError> {
        let pieces = crate::pager::split::split(&page.content, self.inner.config.page_tokens);
        let hashes: Vec<String> = pieces
            .iter()
            .map(|p| crate::pager::split::hash(&p.text))
            .collect();
        {
            let st = self.lock(pid).await?;
            let mut by_msg: std::collections::BTreeMap<u64, Vec<(PageId, &str)>> =
                std::collections::BTreeMap::new();
            for e in st.table.entries.values().filter(|e| e.kind == page.kind) {
                by_msg
                    .entry(e.msg)
                    .or_default()
                    .push((e.id, e.hash.as_str()));
            }
            let same = by_msg.into_values().find(|pages| {
                pages.len() == hashes.len() && pages.iter().zip(&hashes).all(|((_, h), w)| h == w)
            });
            if let Some(pages) = same {
                return Ok(pages.into_iter().map(|(id, _)| id).collect());
            }
        }
        self.allocate(pid, page).await
    }

    /// Appends a conversation message (a tool result is kept with the assistant turn that
    /// called the tool).
    pub async fn append(
        &self,
        pid: Pid,
        message: &crate::provider::Message,
    ) -> Result<Vec<PageId>, PagerError> {
        self.allocate(pid, NewPage::message(message)).await
    }

    /// What the page table holds, in conversation order (no content).
    pub async fn pages(&self, pid: Pid) -> Result<Vec<PageInfo>, PagerError> {
        let st = self.lock(pid).await?;
        Ok(st.table.entries.values().map(|e| e.info(pid)).collect())
    }

    /// The agent's pager statistics.
    pub async fn stats(&self, pid: Pid) -> Result<PagerStats, PagerError> {
        let st = self.lock(pid).await?;
        let t = &st.table;
        let (mut rp, mut sp, mut st_tokens) = (0u64, 0u64, 0u64);
        for e in t.entries.values() {
            if e.resident() {
                rp += 1;
            } else {
                sp += 1;
                st_tokens += u64::from(e.tokens);
            }
        }
        Ok(PagerStats::from_counters(
            pid,
            t.budget,
            (rp, t.resident_tokens, t.pinned_tokens, sp, st_tokens),
            &t.counters,
        ))
    }

    /// Embeds texts, checking the dimension.
    pub(crate) async fn embed(&self, texts: &[&str]) -> Result<Vec<Arc<[f32]>>, PagerError> {
        let e = &self.inner.embedder;
        let vectors = e.embed(texts).await?;
        let expected = e.dimensions();
        if vectors.len() != texts.len() {
            return Err(PagerError::Invalid {
                what: "embedder answer",
                reason: format!("{} vectors for {} texts", vectors.len(), texts.len()),
            });
        }
        vectors
            .into_iter()
            .map(|v| {
                if v.len() == expected {
                    Ok(Arc::from(v))
                } else {
                    Err(PagerError::EmbeddingDimension {
                        embedder: e.id().to_string(),
                        expected,
                        got: v.len(),
                    })
                }
            })
            .collect()
    }

    /// Tells the agent (once per upward crossing) when its resident set is at or above the
    /// pressure threshold; re-arms below it.
    pub(crate) fn check_pressure(&self, table: &mut PageTable) {
        let threshold = self.inner.config.pressure_threshold;
        let limit = (table.budget as f64 * threshold).ceil() as u64;
        if table.resident_tokens >= limit.max(1) {
            if !table.above_pressure {
                table.above_pressure = true;
                table.counters.pressure_notices += 1;
                if let Some(notify) = self.inner.notifier.get() {
                    notify(MemoryPressure {
                        pid: table.owner,
                        resident_tokens: table.resident_tokens,
                        budget_tokens: table.budget,
                        threshold,
                    });
                }
            }
        } else {
            table.above_pressure = false;
        }
    }
}
