//! The agent types `agent-os serve` registers, so that a standalone server is useful without
//! any Rust code: `echo` (replies with the message it got) and `chat` (one LLM turn per
//! message, the conversation kept in the agent's pager pages).

use std::sync::{Arc, OnceLock};

use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{ChatRequest, Message};
use agent_os_kernel::{KernelBuilder, KernelConfig};
use serde::{Deserialize, Serialize};

/// Replies with the message it got (any JSON). It counts what it received, so that its
/// checkpoints carry some state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Echo {
    /// Messages received over its life (restored from checkpoints).
    received: u64,
}

impl Agent for Echo {
    type Msg = serde_json::Value;
    type Reply = serde_json::Value;

    async fn handle(
        &mut self,
        msg: serde_json::Value,
        _ctx: &mut AgentContext,
    ) -> Result<serde_json::Value, AgentError> {
        self.received += 1;
        Ok(msg)
    }

    fn snapshot(&self) -> Result<Option<serde_json::Value>, AgentError> {
        AgentContext::to_state(self).map(Some)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), AgentError> {
        *self = serde_json::from_value(state).map_err(AgentError::other)?;
        Ok(())
    }
}

/// A message to `chat`: its text, as a JSON string or `{"text": "…"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum ChatMsg {
    /// `"hello"`.
    Text(String),
    /// `{"text": "hello"}`.
    Object {
        /// The user's turn.
        text: String,
    },
}

impl ChatMsg {
    fn text(self) -> String {
        match self {
            ChatMsg::Text(t) | ChatMsg::Object { text: t } => t,
        }
    }
}

/// The system prompt of `chat` (a pinned page, stored once per agent).
const CHAT_SYSTEM: &str = "You are a helpful assistant. Answer briefly.";

/// Sends each message's text to the LLM (`ctx.llm_paged`: the turn and the answer are
/// appended to its pages, the prompt is its paged context); the reply is the answer's text.
#[derive(Debug)]
pub(crate) struct Chat {
    model: Arc<str>,
}

impl Agent for Chat {
    type Msg = ChatMsg;
    type Reply = String;

    async fn handle(&mut self, msg: ChatMsg, ctx: &mut AgentContext) -> Result<String, AgentError> {
        let request = ChatRequest::new(
            self.model.to_string(),
            vec![Message::system(CHAT_SYSTEM), Message::user(msg.text())],
        );
        let answer = ctx.llm_paged(request, None).await?;
        Ok(answer.content)
    }
}

/// The model `chat` asks for, decided once the kernel knows its backends.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChatModel(Arc<OnceLock<Arc<str>>>);

impl ChatModel {
    /// The explicit choice (`--chat-model`, `AOK_CHAT_MODEL`), else the first model a
    /// configured backend lists, else the first configured route; `None`: decided from the
    /// detected backends after the kernel started ([`ChatModel::settle`]).
    pub(crate) fn configured(explicit: Option<String>, cfg: &KernelConfig) -> Self {
        let model = ChatModel::default();
        let chosen = explicit
            .filter(|m| !m.trim().is_empty())
            .or_else(|| {
                cfg.providers
                    .backends
                    .values()
                    .find_map(|b| b.models.first().cloned())
            })
            .or_else(|| cfg.providers.routes.keys().next().cloned());
        if let Some(m) = chosen {
            let _ = model.0.set(Arc::from(m));
        }
        model
    }

    /// Settles the model from the kernel's backends if nothing was configured: a small model
    /// of the first detected provider, or `scripted` (the offline backend).
    pub(crate) fn settle(&self, kernel: &Kernel) {
        let first = kernel.providers().router.backends().into_iter().next();
        let _ = self.0.set(Arc::from(default_model(first.as_deref())));
    }

    /// The model now (`scripted` until settled).
    pub(crate) fn get(&self) -> Arc<str> {
        self.0
            .get()
            .cloned()
            .unwrap_or_else(|| Arc::from("scripted"))
    }
}

/// A reasonable small model for a detected backend.
fn default_model(backend: Option<&str>) -> &'static str {
    match backend.unwrap_or_default() {
        "openai" => "gpt-4o-mini",
        "anthropic" => "claude-3-5-haiku-latest",
        "deepseek" => "deepseek-chat",
        "kimi" | "moonshot" => "moonshot-v1-8k",
        "qwen" => "qwen-turbo",
        "minimax" => "abab6.5s-chat",
        "ollama" => "qwen2.5:7b",
        _ => "scripted",
    }
}

/// Registers `echo` and `chat`.
pub(crate) fn register(builder: KernelBuilder, model: &ChatModel) -> KernelBuilder {
    let model = model.clone();
    builder
        .agent_type("echo", Echo::default)
        .agent_type("chat", move || Chat { model: model.get() })
}
