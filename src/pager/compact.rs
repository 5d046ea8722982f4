//! Compaction: evicted conversation pages summarised into one `summary` page through the LLM
//! (MemGPT's recursive summary). It must shrink and can never loop: one pass per eviction,
//! the room for the summary is kept below the low-water mark, and a summary that is not
//! shorter than what it replaces (or longer than `summary_max_tokens`) is refused.

use std::future::Future;
use std::pin::Pin;

use crate::pager::page::PageKind;
use crate::pager::table::PageTable;
use crate::pid::Pid;
use crate::provider::{ChatRequest, Message};

/// Why a summary could not be had (the kernel's LLM error; the pager only logs it).
pub(crate) type SummaryError = Box<dyn std::error::Error + Send + Sync>;

/// Asks the LLM on behalf of an agent (set by the kernel: slices from the scheduler).
pub(crate) type Summarize = Box<
    dyn Fn(Pid, ChatRequest) -> Pin<Box<dyn Future<Output = Result<String, SummaryError>> + Send>>
        + Send
        + Sync,
>;

/// The instruction the summary is asked with.
pub(crate) const SUMMARY_PROMPT: &str = "Summarise the following earlier part of a conversation \
for your own later reference. Keep names, numbers, decisions and open questions; drop \
pleasantries. Answer with the summary only.";

/// The transcript of the evicted pages worth summarising (conversation and earlier summaries),
/// and the tokens it held.
pub(crate) fn transcript(
    table: &PageTable,
    evicted: &[(u64, std::sync::Arc<str>)],
) -> (String, u64) {
    let mut text = String::new();
    let mut tokens = 0u64;
    for (seq, content) in evicted {
        let Some(e) = table.entries.get(seq) else {
            continue;
        };
        if !matches!(
            e.kind,
            PageKind::Message | PageKind::ToolResult | PageKind::Summary
        ) {
            continue;
        }
        let role = match e.kind {
            PageKind::Summary => "earlier summary",
            _ => match e.role {
                crate::provider::Role::User => "user",
                crate::provider::Role::Assistant => "assistant",
                crate::provider::Role::Tool => "tool",
                crate::provider::Role::System => "system",
            },
        };
        text.push_str(role);
        text.push_str(": ");
        text.push_str(content);
        text.push('\n');
        tokens += u64::from(e.tokens);
    }
    (text, tokens)
}

/// The request for a summary of `transcript`.
pub(crate) fn request(model: &str, transcript: &str, max_tokens: u32) -> ChatRequest {
    let mut req = ChatRequest::new(
        model,
        vec![
            Message::system(SUMMARY_PROMPT),
            Message::user(transcript.to_string()),
        ],
    );
    req.max_tokens = max_tokens;
    req
}
