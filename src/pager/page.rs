//! Pages: the unit of context the pager moves between the resident set and storage.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::pid::Pid;
use crate::provider::{Role, ToolCall};

/// A page's id (a UUIDv7, so ids sort by allocation time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PageId(Uuid);

impl PageId {
    pub(crate) fn new() -> Self {
        PageId(Uuid::now_v7())
    }
}

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for PageId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(PageId)
    }
}

/// What a page holds. Kinds decide the default role a page takes in the prompt and whether
/// it is pinned by default (`system`, `tools`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PageKind {
    /// System instructions (pinned by default).
    System,
    /// Tool descriptions (pinned by default).
    Tools,
    /// The agent's task.
    Task,
    /// A conversation turn.
    Message,
    /// The result of a tool call (kept with the call that asked for it).
    ToolResult,
    /// A long-term memory brought into context.
    Memory,
    /// A summary of evicted pages.
    Summary,
}

impl PageKind {
    /// The stored name (`system`, `tools`, `task`, `message`, `tool_result`, `memory`,
    /// `summary`).
    pub fn as_str(self) -> &'static str {
        match self {
            PageKind::System => "system",
            PageKind::Tools => "tools",
            PageKind::Task => "task",
            PageKind::Message => "message",
            PageKind::ToolResult => "tool_result",
            PageKind::Memory => "memory",
            PageKind::Summary => "summary",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "system" => PageKind::System,
            "tools" => PageKind::Tools,
            "task" => PageKind::Task,
            "message" => PageKind::Message,
            "tool_result" => PageKind::ToolResult,
            "memory" => PageKind::Memory,
            "summary" => PageKind::Summary,
            _ => return None,
        })
    }

    /// The role a page of this kind takes in the prompt unless told otherwise.
    pub fn default_role(self) -> Role {
        match self {
            PageKind::System | PageKind::Tools | PageKind::Memory | PageKind::Summary => {
                Role::System
            }
            PageKind::Task | PageKind::Message => Role::User,
            PageKind::ToolResult => Role::Tool,
        }
    }

    /// Whether pages of this kind are pinned unless told otherwise.
    pub fn pinned_by_default(self) -> bool {
        matches!(self, PageKind::System | PageKind::Tools)
    }
}

impl fmt::Display for PageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Content to allocate: one logical entry (a message, a memory, the system prompt …) that
/// the pager splits into pages of at most `page_tokens` tokens.
///
/// ```
/// use agent_os_kernel::pager::{NewPage, PageKind};
/// let p = NewPage::new(PageKind::Message, "the user said this").importance(0.8);
/// assert_eq!(p.kind_value(), PageKind::Message);
/// ```
#[derive(Clone, Debug)]
pub struct NewPage {
    pub(crate) kind: PageKind,
    pub(crate) content: String,
    pub(crate) importance: f32,
    pub(crate) pinned: bool,
    pub(crate) role: Role,
    pub(crate) tool_calls: Vec<ToolCall>,
    pub(crate) tool_call_id: Option<String>,
}

impl NewPage {
    /// Content of a kind, importance 0.5, pinned and role as the kind's defaults.
    pub fn new(kind: PageKind, content: impl Into<String>) -> Self {
        NewPage {
            kind,
            content: content.into(),
            importance: 0.5,
            pinned: kind.pinned_by_default(),
            role: kind.default_role(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// A conversation message as pages (`tool_result` kind for a tool's answer; tool calls of
    /// an assistant turn are kept with it).
    pub fn message(message: &crate::provider::Message) -> Self {
        let kind = if message.role == Role::Tool {
            PageKind::ToolResult
        } else if message.role == Role::System {
            PageKind::System
        } else {
            PageKind::Message
        };
        let mut page = NewPage::new(kind, message.content.clone()).role(message.role);
        page.tool_calls = message.tool_calls.clone();
        page.tool_call_id = message.tool_call_id.clone();
        page
    }

    /// Importance 0–1 (higher is kept longer by the weighted policy).
    pub fn importance(mut self, importance: f32) -> Self {
        self.importance = importance;
        self
    }

    /// Pins (never evicted, placed first in the prompt) or unpins.
    pub fn pinned(mut self, pinned: bool) -> Self {
        self.pinned = pinned;
        self
    }

    /// The role the content takes in the prompt.
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// The kind.
    pub fn kind_value(&self) -> PageKind {
        self.kind
    }
}

/// What the page table knows about a page (no content).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PageInfo {
    /// Id.
    pub id: PageId,
    /// Owner.
    pub owner: Pid,
    /// Kind.
    pub kind: PageKind,
    /// Role in the prompt.
    pub role: Role,
    /// Position in the owner's conversation.
    pub seq: u64,
    /// Tokens.
    pub tokens: u32,
    /// Importance 0–1.
    pub importance: f32,
    /// Never evicted.
    pub pinned: bool,
    /// In the resident set (`false`: swapped out to storage).
    pub resident: bool,
    /// Times read, touched, recalled or faulted in.
    pub access_count: u32,
    /// Hex SHA-256 of the content.
    pub hash: String,
    /// Agents it is shared with (read-only).
    pub shared_with: Vec<Pid>,
}

/// A page with its content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page {
    /// What the page table knows.
    pub info: PageInfo,
    /// The text, byte-identical to what was allocated.
    pub content: Arc<str>,
}
