//! One agent's page table: every page it owns, resident or swapped, in conversation order,
//! with the accounting the budget, the policy and the stats read.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::pager::page::{PageId, PageInfo, PageKind};
use crate::pager::policy::Candidate;
use crate::pager::stats::Counters;
use crate::pid::Pid;
use crate::provider::{Role, ToolCall};

/// A page as the table holds it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) id: PageId,
    pub(crate) seq: u64,
    /// Pages of one allocation (one message) share it; they are joined into one message.
    pub(crate) msg: u64,
    /// The eviction unit: a message, or an assistant turn with its tool results.
    pub(crate) group: u64,
    pub(crate) kind: PageKind,
    pub(crate) role: Role,
    /// On the first page of an assistant turn that called tools.
    pub(crate) tool_calls: Vec<ToolCall>,
    pub(crate) tool_call_id: Option<String>,
    pub(crate) importance: f32,
    pub(crate) pinned: bool,
    pub(crate) tokens: u32,
    pub(crate) hash: String,
    /// `Some` while resident.
    pub(crate) content: Option<Arc<str>>,
    pub(crate) embedding: Option<Arc<[f32]>>,
    pub(crate) access_count: u32,
    pub(crate) last_access: u64,
    pub(crate) shared_with: Vec<Pid>,
    /// The long-term memory this page was recalled from.
    pub(crate) memory_id: Option<String>,
}

impl Entry {
    pub(crate) fn resident(&self) -> bool {
        self.content.is_some()
    }

    pub(crate) fn info(&self, owner: Pid) -> PageInfo {
        PageInfo {
            id: self.id,
            owner,
            kind: self.kind,
            role: self.role,
            seq: self.seq,
            tokens: self.tokens,
            importance: self.importance,
            pinned: self.pinned,
            resident: self.resident(),
            access_count: self.access_count,
            hash: self.hash.clone(),
            shared_with: self.shared_with.clone(),
        }
    }
}

/// One agent's pages.
#[derive(Debug)]
pub(crate) struct PageTable {
    pub(crate) owner: Pid,
    pub(crate) budget: u64,
    pub(crate) entries: BTreeMap<u64, Entry>,
    pub(crate) by_id: HashMap<PageId, u64>,
    pub(crate) resident_tokens: u64,
    pub(crate) pinned_tokens: u64,
    pub(crate) clock: u64,
    pub(crate) next_seq: u64,
    pub(crate) next_msg: u64,
    /// Tool-call id → the group of the assistant turn that made the call.
    pub(crate) tool_groups: HashMap<String, u64>,
    /// Above the pressure threshold since the last notice (re-armed below it).
    pub(crate) above_pressure: bool,
    /// The pages of the previous `context()` prompt, in order (for prefix stability).
    pub(crate) last_prompt: Vec<PageId>,
    pub(crate) counters: Counters,
}

impl PageTable {
    pub(crate) fn new(owner: Pid, budget: u64) -> Self {
        PageTable {
            owner,
            budget,
            entries: BTreeMap::new(),
            by_id: HashMap::new(),
            resident_tokens: 0,
            pinned_tokens: 0,
            clock: 0,
            next_seq: 0,
            next_msg: 0,
            tool_groups: HashMap::new(),
            above_pressure: false,
            last_prompt: Vec::new(),
            counters: Counters::default(),
        }
    }

    pub(crate) fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    pub(crate) fn get(&self, id: PageId) -> Option<&Entry> {
        self.by_id.get(&id).and_then(|s| self.entries.get(s))
    }

    pub(crate) fn get_mut(&mut self, id: PageId) -> Option<&mut Entry> {
        let seq = *self.by_id.get(&id)?;
        self.entries.get_mut(&seq)
    }

    /// Adds an entry (resident or not) and keeps the accounting.
    pub(crate) fn insert(&mut self, entry: Entry) {
        self.next_seq = self.next_seq.max(entry.seq + 1);
        self.next_msg = self.next_msg.max(entry.msg + 1);
        if entry.resident() {
            self.resident_tokens += u64::from(entry.tokens);
        }
        if entry.pinned && entry.resident() {
            self.pinned_tokens += u64::from(entry.tokens);
        }
        for call in &entry.tool_calls {
            self.tool_groups.insert(call.id.clone(), entry.group);
        }
        self.by_id.insert(entry.id, entry.seq);
        self.entries.insert(entry.seq, entry);
    }

    /// Removes an entry and keeps the accounting.
    pub(crate) fn remove(&mut self, id: PageId) -> Option<Entry> {
        let seq = self.by_id.remove(&id)?;
        let entry = self.entries.remove(&seq)?;
        if entry.resident() {
            self.resident_tokens -= u64::from(entry.tokens);
            if entry.pinned {
                self.pinned_tokens -= u64::from(entry.tokens);
            }
        }
        Some(entry)
    }

    /// Marks a page swapped (its content dropped from memory).
    pub(crate) fn swap_out(&mut self, seq: u64) -> Option<Arc<str>> {
        let e = self.entries.get_mut(&seq)?;
        let content = e.content.take()?;
        self.resident_tokens -= u64::from(e.tokens);
        if e.pinned {
            self.pinned_tokens -= u64::from(e.tokens);
        }
        Some(content)
    }

    /// Marks a page resident with its (verified) content.
    pub(crate) fn swap_in(&mut self, seq: u64, content: Arc<str>) {
        let now = self.tick();
        if let Some(e) = self.entries.get_mut(&seq)
            && e.content.is_none()
        {
            e.content = Some(content);
            e.access_count = e.access_count.saturating_add(1);
            e.last_access = now;
            self.resident_tokens += u64::from(e.tokens);
            if e.pinned {
                self.pinned_tokens += u64::from(e.tokens);
            }
        }
    }

    /// Records an access to a page (read, touch, recall hit).
    pub(crate) fn touch(&mut self, seq: u64) {
        let now = self.tick();
        if let Some(e) = self.entries.get_mut(&seq) {
            e.access_count = e.access_count.saturating_add(1);
            e.last_access = now;
        }
    }

    /// The group a new allocation joins: a tool result joins the turn that called it.
    pub(crate) fn group_for(&self, tool_call_id: Option<&str>, msg: u64) -> u64 {
        tool_call_id
            .and_then(|id| self.tool_groups.get(id).copied())
            .unwrap_or(msg)
    }

    /// The seqs of every page of `group`.
    pub(crate) fn group_seqs(&self, group: u64) -> Vec<u64> {
        self.entries
            .values()
            .filter(|e| e.group == group)
            .map(|e| e.seq)
            .collect()
    }

    /// Resident unpinned groups as eviction candidates (seqs of each group alongside).
    pub(crate) fn candidates(
        &self,
        query: Option<&[f32]>,
        protect: &[u64],
    ) -> (Vec<Candidate>, Vec<Vec<u64>>) {
        let mut by_group: BTreeMap<u64, (Candidate, Vec<u64>)> = BTreeMap::new();
        for e in self.entries.values() {
            if !e.resident() || e.pinned || protect.contains(&e.group) {
                continue;
            }
            let similarity = match (query, &e.embedding) {
                (Some(q), Some(v)) if q.len() == v.len() => Some(crate::embed::cosine(q, v)),
                _ => None,
            };
            let slot = by_group.entry(e.group).or_insert_with(|| {
                (
                    Candidate {
                        tokens: 0,
                        importance: 0.0,
                        last_access: 0,
                        access_count: 0,
                        similarity: None,
                        seq: e.seq,
                    },
                    Vec::new(),
                )
            });
            let c = &mut slot.0;
            c.tokens += u64::from(e.tokens);
            c.importance = c.importance.max(e.importance);
            c.last_access = c.last_access.max(e.last_access);
            c.access_count = c.access_count.max(e.access_count);
            c.similarity = match (c.similarity, similarity) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            c.seq = c.seq.min(e.seq);
            slot.1.push(e.seq);
        }
        by_group.into_values().unzip()
    }
}
