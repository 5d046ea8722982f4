//! Context assembly: the messages of the next LLM call from the resident set.

use serde::{Deserialize, Serialize};

use crate::pager::page::PageId;
use crate::pager::table::{Entry, PageTable};
use crate::provider::Message;

/// What [`crate::pager::Pager::context`] returns: the messages for the next LLM call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Context {
    /// Pinned pages first (in allocation order, byte-identical from call to call), then the
    /// other resident pages in conversation order; the pages of one entry are one message.
    pub messages: Vec<Message>,
    /// The pages behind `messages`, in prompt order.
    pub pages: Vec<PageId>,
    /// Tokens of the resident set (never above the budget).
    pub tokens: u64,
    /// Pages faulted in for this call (similar to its query).
    pub faulted: Vec<PageId>,
    /// Pages evicted by this call.
    pub evicted: usize,
    /// Share of this prompt's tokens identical to the previous prompt's beginning (0–1).
    pub prefix_stability: f64,
}

/// The prompt order: pinned pages by seq, then the others by seq.
pub(crate) fn prompt_order(table: &PageTable) -> Vec<&Entry> {
    let resident = || table.entries.values().filter(|e| e.resident());
    resident()
        .filter(|e| e.pinned)
        .chain(resident().filter(|e| !e.pinned))
        .collect()
}

/// The messages of `pages` (consecutive pages of one entry joined).
pub(crate) fn messages(pages: &[&Entry]) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::with_capacity(pages.len());
    let mut last_msg = None;
    for e in pages {
        let text = e.content.as_deref().unwrap_or_default();
        if last_msg == Some((e.msg, e.pinned))
            && let Some(m) = out.last_mut()
        {
            m.content.push_str(text);
            continue;
        }
        let mut m = Message::new(e.role, text);
        m.tool_calls.clone_from(&e.tool_calls);
        m.tool_call_id.clone_from(&e.tool_call_id);
        out.push(m);
        last_msg = Some((e.msg, e.pinned));
    }
    out
}

/// Tokens of `now` that repeat the beginning of `before`, over all tokens of `now`.
pub(crate) fn prefix_share(before: &[PageId], now: &[&Entry]) -> (u64, u64) {
    let total: u64 = now.iter().map(|e| u64::from(e.tokens)).sum();
    let same: u64 = now
        .iter()
        .zip(before)
        .take_while(|(e, id)| e.id == **id)
        .map(|(e, _)| u64::from(e.tokens))
        .sum();
    (same, total)
}
