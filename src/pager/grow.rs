//! Adding pages and keeping the budget: allocation, eviction to the low-water mark,
//! compaction into a summary page, pressure notices.

use std::sync::Arc;

use crate::pager::compact;
use crate::pager::error::PagerError;
use crate::pager::evict::enforce_budget;
use crate::pager::handle::{Pager, State};
use crate::pager::load::Meta;
use crate::pager::page::{NewPage, PageId, PageKind};
use crate::pager::split::{Piece, count_tokens, hash};
use crate::pager::table::Entry;
use crate::storage::pages::{NewPageRow, insert_pages};

/// Allocations start at multiples of this, so a summary can be placed between two of them.
const SEQ_STRIDE: u64 = 1024;

impl Pager {
    /// Stores pieces as entries of one new allocation and adds them to the table (resident
    /// unless the entry alone is larger than the room the pinned pages leave).
    pub(crate) async fn add(
        &self,
        st: &mut State,
        page: NewPage,
        pieces: Vec<Piece>,
        vectors: Vec<Arc<[f32]>>,
        memory_id: Option<String>,
    ) -> Result<Vec<PageId>, PagerError> {
        let seq = st.table.next_seq.div_ceil(SEQ_STRIDE) * SEQ_STRIDE;
        self.add_at(st, page, pieces, vectors, memory_id, seq).await
    }

    pub(crate) async fn add_at(
        &self,
        st: &mut State,
        page: NewPage,
        pieces: Vec<Piece>,
        vectors: Vec<Arc<[f32]>>,
        memory_id: Option<String>,
        first_seq: u64,
    ) -> Result<Vec<PageId>, PagerError> {
        let table = &mut st.table;
        let total: u64 = pieces.iter().map(|p| u64::from(p.tokens)).sum();
        if page.pinned && table.pinned_tokens + total > table.budget {
            return Err(PagerError::ContextOverflow {
                pid: table.owner,
                pinned_tokens: table.pinned_tokens + total,
                budget: table.budget,
            });
        }
        let room = table.budget.saturating_sub(table.pinned_tokens);
        let resident = page.pinned || total <= room;
        let msg = table.next_msg;
        let group = table.group_for(page.tool_call_id.as_deref(), msg);
        let now = table.tick();
        let entries: Vec<Entry> = pieces
            .into_iter()
            .zip(vectors)
            .enumerate()
            .map(|(i, (piece, vector))| Entry {
                id: PageId::new(),
                seq: first_seq + i as u64,
                msg,
                group,
                kind: page.kind,
                role: page.role,
                tool_calls: if i == 0 {
                    page.tool_calls.clone()
                } else {
                    Vec::new()
                },
                tool_call_id: page.tool_call_id.clone(),
                importance: page.importance,
                pinned: page.pinned,
                tokens: piece.tokens,
                hash: hash(&piece.text),
                content: Some(Arc::from(piece.text)),
                embedding: Some(vector),
                access_count: 0,
                last_access: now,
                shared_with: Vec::new(),
                memory_id: memory_id.clone(),
            })
            .collect();
        let pid = table.owner.to_string();
        let rows: Vec<NewPageRow<'_>> = entries
            .iter()
            .map(|e| NewPageRow {
                id: e.id.to_string(),
                pid: pid.clone(),
                hash: &e.hash,
                content: e.content.as_deref().unwrap_or_default(),
                tokens: e.tokens,
                importance: e.importance,
                pinned: e.pinned,
                kind: e.kind.as_str(),
                metadata: Meta::json(e),
                embedding: e.embedding.as_deref(),
                seq: e.seq,
                resident,
            })
            .collect();
        insert_pages(&self.inner.storage, &rows).await?;
        drop(rows);
        let ids: Vec<PageId> = entries.iter().map(|e| e.id).collect();
        for mut e in entries {
            if !resident {
                e.content = None;
            }
            if let (Some(index), Some(v)) = (st.index.as_mut(), &e.embedding) {
                let _ = index.insert(e.seq, v.to_vec());
            }
            self.inner.owners.insert(e.id, table.owner);
            table.insert(e);
        }
        // Keep the next allocation's seq above this one (with a gap).
        table.next_seq = table.next_seq.max(first_seq + ids.len() as u64 + 1);
        table.next_msg = table.next_msg.max(msg + 1);
        Ok(ids)
    }

    /// After the resident set grew: the pressure notice (before any eviction), then the
    /// budget kept.
    pub(crate) async fn after_growth(
        &self,
        st: &mut State,
        protect: &[u64],
    ) -> Result<usize, PagerError> {
        self.check_pressure(&mut st.table);
        let evicted = self.make_room(st, protect).await?;
        self.check_pressure(&mut st.table);
        Ok(evicted)
    }

    /// Evicts down to the low-water mark if over budget, then compacts what left if
    /// summaries are on. Returns how many pages were evicted.
    pub(crate) async fn make_room(
        &self,
        st: &mut State,
        protect: &[u64],
    ) -> Result<usize, PagerError> {
        let cfg = &self.inner.config;
        let mut target = (st.table.budget as f64 * cfg.low_water).floor() as u64;
        if cfg.summarize {
            target = target.saturating_sub(u64::from(cfg.summary_max_tokens));
        }
        let query = st.last_query.clone();
        let evicted = enforce_budget(
            &self.inner.storage,
            self.inner.residency.as_ref(),
            &mut st.table,
            &*self.inner.policy,
            query.as_deref(),
            target,
            protect,
        )
        .await?;
        if cfg.summarize && !evicted.is_empty() {
            self.compact(st, &evicted).await?;
        }
        Ok(evicted.len())
    }

    /// One compaction pass over what was just evicted (never recursive within a call).
    async fn compact(&self, st: &mut State, evicted: &[(u64, Arc<str>)]) -> Result<(), PagerError> {
        let Some(summarize) = self.inner.summarize.get() else {
            return Ok(());
        };
        let cfg = &self.inner.config;
        let (transcript, replaced) = compact::transcript(&st.table, evicted);
        if transcript.is_empty() {
            return Ok(());
        }
        let req = compact::request(&cfg.summary_model, &transcript, cfg.summary_max_tokens);
        let summary = match summarize(st.table.owner, req).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(pid = %st.table.owner, error = %e, "summary of evicted pages failed; the pages stay swapped, unsummarised");
                return Ok(());
            }
        };
        let tokens = u64::from(count_tokens(&summary));
        let room = (st.table.budget as f64 * cfg.low_water).floor() as u64;
        if summary.trim().is_empty()
            || tokens >= replaced
            || tokens > u64::from(cfg.summary_max_tokens)
            || st.table.resident_tokens + tokens > room
        {
            st.table.counters.summaries_refused += 1;
            tracing::info!(pid = %st.table.owner, summary_tokens = tokens, replaced_tokens = replaced, "summary refused: it would not shrink the context");
            return Ok(());
        }
        // Place it where the earliest evicted entry was.
        let first = evicted.iter().map(|(s, _)| *s).min().unwrap_or(0);
        let mut seq = first + 1;
        while st.table.entries.contains_key(&seq) && seq % SEQ_STRIDE != 0 {
            seq += 1;
        }
        if st.table.entries.contains_key(&seq) || seq % SEQ_STRIDE == 0 {
            seq = st.table.next_seq.div_ceil(SEQ_STRIDE) * SEQ_STRIDE;
        }
        let vectors = self.embed(&[summary.as_str()]).await?;
        let pieces = vec![Piece {
            text: summary.clone(),
            tokens: u32::try_from(tokens).unwrap_or(u32::MAX),
        }];
        let page = NewPage::new(PageKind::Summary, summary).importance(0.8);
        self.add_at(st, page, pieces, vectors, None, seq).await?;
        st.table.counters.summaries += 1;
        Ok(())
    }
}
