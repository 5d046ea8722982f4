//! The pager syscalls: [`Kernel::pager`] for outside use, and the agent's own on its context
//! (`ctx.context`, `ctx.remember`, `ctx.recall`, …), plus how the kernel wires the pager's
//! pressure notices and summaries.

use std::sync::{Arc, Weak};

use crate::agent::AgentContext;
use crate::agent::messages::ProcessCommand;
use crate::events::KernelEvent;
use crate::kernel::{Kernel, KernelInner, LlmError};
use crate::pager::{
    Context, MemoryPressure, NewPage, Page, PageId, PageKind, Pager, PagerError, PagerStats,
    Recalled,
};
use crate::provider::{ChatRequest, ChatResponse, Message};

impl Kernel {
    /// The pager: every agent's page table (outside use: any pid, also of an agent that is
    /// not running; its pages are loaded from storage).
    pub fn pager(&self) -> &Pager {
        // The builder sets it before the kernel is returned to anyone.
        self.inner
            .pager
            .get()
            .expect("the kernel builder starts the pager")
    }
}

/// Pressure notices go to the agent (between two messages) and to the event bus.
pub(crate) fn notifier(kernel: Weak<KernelInner>) -> crate::pager::Notifier {
    Box::new(move |pressure: MemoryPressure| {
        let Some(inner) = kernel.upgrade() else {
            return;
        };
        inner
            .events
            .emit_with(|| KernelEvent::MemoryPressure(pressure));
        if let Ok(entry) = inner.registry.entry(pressure.pid) {
            entry.control.do_send(ProcessCommand::Pressure(pressure));
        }
    })
}

/// Summaries are asked on behalf of the agent whose pages they replace (its slices, its
/// quota, its priority).
pub(crate) fn summarizer(kernel: Weak<KernelInner>) -> crate::pager::Summarize {
    Box::new(move |pid, request: ChatRequest| {
        let kernel = kernel.clone();
        Box::pin(async move {
            let inner = kernel.upgrade().ok_or(LlmError::NotConfigured)?;
            let kernel = Kernel { inner };
            let priority = kernel.inner.registry.entry(pid).map_or(50, |e| e.priority);
            let answer = kernel.llm_for(pid, priority, request).await?;
            Ok::<_, crate::pager::SummaryError>(answer.content)
        })
    })
}

impl AgentContext {
    /// Allocates content as pages of this agent (see [`Pager::allocate`]).
    #[tracing::instrument(name = "syscall.allocate", skip_all, fields(pid = %self.pid()))]
    pub async fn allocate(&self, page: NewPage) -> Result<Vec<PageId>, PagerError> {
        self.kernel().pager().allocate(self.pid(), page).await
    }

    /// Appends a conversation message to this agent's pages.
    pub async fn add_message(&self, message: &Message) -> Result<Vec<PageId>, PagerError> {
        self.kernel().pager().append(self.pid(), message).await
    }

    /// The messages for this agent's next LLM call, faulting in what is similar to `query`
    /// (see [`Pager::context`]).
    #[tracing::instrument(name = "syscall.context", skip_all, fields(pid = %self.pid()))]
    pub async fn context(&self, query: Option<&str>) -> Result<Context, PagerError> {
        let context = self.kernel().pager().context(self.pid(), query).await?;
        let faulted = context.faulted.len() as u64;
        if faulted > 0 {
            self.trace_with(|t| t.faults = t.faults.saturating_add(faulted));
        }
        Ok(context)
    }

    /// Stores a long-term memory of this agent (see [`Pager::remember`]).
    #[tracing::instrument(name = "syscall.remember", skip_all, fields(pid = %self.pid()))]
    pub async fn remember(&self, text: &str, importance: f32) -> Result<String, PagerError> {
        self.kernel()
            .pager()
            .remember(self.pid(), text, importance)
            .await
    }

    /// The `k` entries of this agent most similar to `query`, swapped ones faulted back in as
    /// far as they fit (see [`Pager::recall`]).
    #[tracing::instrument(name = "syscall.recall", skip_all, fields(pid = %self.pid()))]
    pub async fn recall(&self, query: &str, k: usize) -> Result<Vec<Recalled>, PagerError> {
        self.kernel().pager().recall(self.pid(), query, k).await
    }

    /// Reads a page: this agent's own, or one shared with it.
    #[tracing::instrument(name = "syscall.read_page", skip_all, fields(pid = %self.pid()))]
    pub async fn read_page(&self, page: PageId) -> Result<Page, PagerError> {
        self.kernel().pager().read(self.pid(), page).await
    }

    /// Shares one of this agent's pages read-only with another agent.
    #[tracing::instrument(name = "syscall.share_page", skip_all, fields(pid = %self.pid()))]
    pub async fn share_page(&self, page: PageId, with: crate::Pid) -> Result<(), PagerError> {
        let kernel = self.kernel();
        let target = kernel
            .inner
            .registry
            .entry(with)
            .map_or_else(|_| with.to_string(), |e| e.name.to_string());
        if let Err(mut denied) = self.policy().check_message(&target) {
            denied.action = "page.share";
            crate::security::report_denial(
                self.pid(),
                &denied,
                kernel.events_bus(),
                kernel.audit(),
            );
            return Err(PagerError::PolicyDenied {
                reason: denied.to_string(),
            });
        }
        kernel.pager().share(self.pid(), page, with).await
    }

    /// Frees one of this agent's pages.
    #[tracing::instrument(name = "syscall.free_page", skip_all, fields(pid = %self.pid()))]
    pub async fn free_page(&self, page: PageId) -> Result<(), PagerError> {
        self.kernel().pager().free(self.pid(), page).await
    }

    /// This agent's pager statistics.
    pub async fn pager_stats(&self) -> Result<PagerStats, PagerError> {
        self.kernel().pager().stats(self.pid()).await
    }

    /// An LLM call whose messages come from the pager: the request's own messages are
    /// appended to this agent's pages first (a system message as a pinned `system` page, once:
    /// the same system prompt sent again is not stored again),
    /// then the call gets [`AgentContext::context`] for `query` (the last user message when
    /// `None`) and the answer is appended as an assistant turn.
    pub async fn llm_paged(
        &self,
        mut request: ChatRequest,
        query: Option<&str>,
    ) -> Result<ChatResponse, PagedLlmError> {
        let query = query.map(str::to_string).or_else(|| {
            request
                .messages
                .iter()
                .rev()
                .find(|m| m.role == crate::provider::Role::User)
                .map(|m| m.content.clone())
        });
        let pager = self.kernel().pager();
        for m in std::mem::take(&mut request.messages) {
            match m.role {
                // Re-sent with every request: stored (and pinned) once.
                crate::provider::Role::System => {
                    pager
                        .allocate_once(self.pid(), NewPage::new(PageKind::System, m.content))
                        .await?;
                }
                _ => {
                    pager.append(self.pid(), &m).await?;
                }
            }
        }
        request.messages = self.context(query.as_deref()).await?.messages;
        let answer = self.llm(request).await?;
        let mut turn = Message::assistant(answer.content.clone());
        turn.tool_calls.clone_from(&answer.tool_calls);
        self.add_message(&turn).await?;
        Ok(answer)
    }
}

/// Why [`AgentContext::llm_paged`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PagedLlmError {
    /// The pager refused (overflow, storage, embedding).
    #[error(transparent)]
    Pager(#[from] PagerError),
    /// The LLM call failed.
    #[error(transparent)]
    Llm(#[from] LlmError),
}

/// The pager a kernel starts with: the configured embedder, its notices and summaries wired
/// to `inner`.
pub(crate) fn wire(pager: &Pager, inner: &Arc<KernelInner>) {
    pager.set_notifier(notifier(Arc::downgrade(inner)));
    pager.set_summarizer(summarizer(Arc::downgrade(inner)));
}
