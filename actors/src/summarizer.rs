//! [`Summarizer`]: answers memory pressure by summarising evicted pages into a summary page.

use agent_os_kernel::pager::{NewPage, PageId, PageInfo, PageKind};
use agent_os_kernel::provider::{ChatRequest, Message, Role};
use agent_os_kernel::{Agent, AgentContext, AgentError, MemoryPressure};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The instruction a summary is asked with.
pub const SUMMARY_INSTRUCTION: &str = "Summarise the following earlier part of a conversation \
for your own later reference. Keep names, numbers, decisions and open questions. Answer with \
the summary only.";

/// Summarises this agent's evicted conversation pages (messages, tool results, earlier
/// summaries) into one `summary` page through the LLM (`model`, at most `max_tokens`), then
/// frees the pages it replaces. Pressure is told before the pager evicts anything (eviction
/// starts at the budget), so when nothing is evicted yet the oldest half of the resident,
/// unpinned conversation is summarised instead — which is what brings the agent back under
/// the threshold. Returns the summary's pages (`None`: nothing to summarise).
///
/// Any agent can call this from its own `on_memory_pressure`; [`Summarizer`] is one that does.
pub async fn summarize_evicted(
    ctx: &AgentContext,
    model: &str,
    max_tokens: u32,
) -> Result<Option<Vec<PageId>>, AgentError> {
    let pages = ctx.kernel().pager().pages(ctx.pid()).await?;
    let conversation = |p: &&PageInfo| {
        !p.pinned
            && matches!(
                p.kind,
                PageKind::Message | PageKind::ToolResult | PageKind::Summary
            )
    };
    let mut chosen: Vec<&PageInfo> = pages
        .iter()
        .filter(conversation)
        .filter(|p| !p.resident)
        .collect();
    if chosen.is_empty() {
        let resident: Vec<&PageInfo> = pages
            .iter()
            .filter(conversation)
            .filter(|p| p.resident && p.kind != PageKind::Summary)
            .collect();
        chosen = resident[..resident.len() / 2].to_vec();
    }
    if chosen.is_empty() {
        return Ok(None);
    }
    let mut transcript = String::new();
    for info in &chosen {
        let page = ctx.read_page(info.id).await?;
        let who = match (info.kind, info.role) {
            (PageKind::Summary, _) => "earlier summary",
            (_, Role::User) => "user",
            (_, Role::Assistant) => "assistant",
            (_, Role::Tool) => "tool",
            (_, _) => "system",
        };
        transcript.push_str(&format!("{who}: {}\n", page.content));
    }
    let mut request = ChatRequest::new(
        model,
        vec![
            Message::system(SUMMARY_INSTRUCTION),
            Message::user(transcript),
        ],
    );
    request.max_tokens = max_tokens;
    let summary = ctx.llm(request).await?.content;
    if summary.trim().is_empty() {
        return Ok(None);
    }
    let ids = ctx
        .allocate(NewPage::new(PageKind::Summary, summary).importance(0.8))
        .await?;
    for info in chosen {
        ctx.free_page(info.id).await?;
    }
    Ok(Some(ids))
}

/// Messages a [`Summarizer`] understands.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SummarizerMsg {
    /// Append a message to its conversation (its pages). Replies with the resident tokens.
    Note {
        /// `user` or `assistant`.
        role: Role,
        /// The text.
        text: String,
    },
    /// Reply with the text of its summary pages, oldest first.
    Summaries,
}

/// An agent keeping a conversation in its pages that answers memory pressure by summarising
/// its evicted pages into a summary page ([`summarize_evicted`]). Pair it with a context
/// budget (`SpawnOptions::context_budget`); the pager's own compaction (`pager.summarize`)
/// can stay off.
#[derive(Debug, Clone)]
pub struct Summarizer {
    model: String,
    max_tokens: u32,
}

impl Summarizer {
    /// Summaries from `model`, at most 256 tokens each.
    pub fn new(model: impl Into<String>) -> Self {
        Summarizer {
            model: model.into(),
            max_tokens: 256,
        }
    }

    /// The most tokens one summary may have.
    pub fn max_tokens(mut self, tokens: u32) -> Self {
        self.max_tokens = tokens;
        self
    }

    /// A factory for `Kernel::spawn`.
    pub fn factory(&self) -> impl Fn() -> Summarizer + Send + Sync + 'static + use<> {
        let me = self.clone();
        move || me.clone()
    }
}

impl Agent for Summarizer {
    type Msg = SummarizerMsg;
    type Reply = Value;

    async fn handle(
        &mut self,
        msg: SummarizerMsg,
        ctx: &mut AgentContext,
    ) -> Result<Value, AgentError> {
        match msg {
            SummarizerMsg::Note { role, text } => {
                ctx.add_message(&Message::new(role, text)).await?;
                Ok(Value::from(ctx.pager_stats().await?.resident_tokens))
            }
            SummarizerMsg::Summaries => {
                let mut out = Vec::new();
                for info in ctx.kernel().pager().pages(ctx.pid()).await? {
                    if info.kind == PageKind::Summary {
                        out.push(Value::from(&*ctx.read_page(info.id).await?.content));
                    }
                }
                Ok(Value::Array(out))
            }
        }
    }

    async fn on_memory_pressure(
        &mut self,
        pressure: MemoryPressure,
        ctx: &mut AgentContext,
    ) -> Result<(), AgentError> {
        tracing::debug!(pid = %pressure.pid, resident = pressure.resident_tokens, "summarising under pressure");
        summarize_evicted(ctx, &self.model, self.max_tokens).await?;
        Ok(())
    }
}
