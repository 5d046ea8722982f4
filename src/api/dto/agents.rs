//! Request and response bodies about agents: spawn, status, messages, checkpoints, pages.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::checkpoint::CheckpointInfo;
use crate::kernel::AgentInfo;
use crate::pager::{PageInfo, PagerStats};

/// `POST /v1/agents`: spawn an agent of a registered type, with JSON access.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpawnRequest {
    /// The registered agent type (`GET /v1/agent-types`).
    #[serde(rename = "type")]
    pub agent_type: String,
    /// The agent's name.
    pub name: String,
    /// Priority, 0 (most urgent) to 100; default 50.
    #[serde(default)]
    pub priority: Option<u8>,
    /// Mailbox capacity (default `kernel.mailbox_capacity`), 1 to 1 000 000.
    #[serde(default)]
    pub mailbox: Option<usize>,
    /// `permanent`, `transient` (default) or `temporary`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub restart: Option<crate::supervisor::RestartType>,
    /// A durable mailbox, a checkpoint every step, resumed after a crash of the kernel.
    #[serde(default)]
    pub durable: bool,
    /// Resident context budget in tokens (default from `[pager]`), 1 to 100 000 000.
    #[serde(default)]
    pub context_budget: Option<u64>,
    /// Graceful-stop deadline in milliseconds (default `kernel.stop_timeout_ms`), at most one
    /// hour.
    #[serde(default)]
    pub stop_timeout_ms: Option<u64>,
}

/// A live agent.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentView {
    /// Its pid (a UUID).
    pub pid: String,
    /// Its name.
    pub name: String,
    /// `created`, `ready`, `running`, `waiting(…)`, `suspended`, `terminated`.
    pub state: String,
    /// Priority, 0 (most urgent) to 100.
    pub priority: u8,
    /// Restarts so far.
    pub restarts: u32,
    /// Messages handled so far.
    pub handled: u64,
    /// Messages queued now.
    pub mailbox_len: usize,
    /// Mailbox capacity.
    pub mailbox_capacity: usize,
    /// Its supervisor's id.
    pub supervisor: String,
    /// The agent that spawned it, if any.
    pub parent: Option<String>,
    /// `permanent`, `transient` or `temporary`.
    pub restart: String,
    /// Its Rust type.
    pub agent_type: String,
    /// Whether it accepts JSON messages (tell and ask through the API).
    pub json: bool,
    /// When it was spawned (RFC 3339).
    pub created_at: String,
}

impl From<AgentInfo> for AgentView {
    fn from(i: AgentInfo) -> Self {
        AgentView {
            pid: i.pid.to_string(),
            name: i.name,
            state: i.state.as_str().to_string(),
            priority: i.priority,
            restarts: i.restarts,
            handled: i.handled,
            mailbox_len: i.mailbox_len,
            mailbox_capacity: i.mailbox_capacity,
            supervisor: i.supervisor.to_string(),
            parent: i.parent.map(|p| p.to_string()),
            restart: i.restart.as_str().to_string(),
            agent_type: i.agent_type.to_string(),
            json: i.json,
            created_at: i.created_at.to_rfc3339(),
        }
    }
}

/// `POST /v1/agents/{pid}/stop`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopRequest {
    /// Deadline in milliseconds (default: the agent's stop deadline), at most one hour.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// How an agent ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExitView {
    /// The agent.
    pub pid: String,
    /// Why it exited (`normal`, `shutdown`, `killed`, …).
    pub reason: String,
}

/// `POST /v1/agents/{pid}/tell`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TellRequest {
    /// The message, as JSON of the agent's message type.
    #[schema(value_type = Object)]
    pub message: serde_json::Value,
    /// For agents with a durable mailbox: the producer's delivery id; a message sent again
    /// with the same id is handled once.
    #[serde(default)]
    pub delivery_id: Option<String>,
}

/// A tell was accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct TellAccepted {
    /// The agent.
    pub pid: String,
    /// `false` when a message with this `delivery_id` was already received (nothing done).
    pub queued: bool,
}

/// `POST /v1/agents/{pid}/ask`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    /// The message, as JSON of the agent's message type.
    #[schema(value_type = Object)]
    pub message: serde_json::Value,
    /// Reply timeout in milliseconds (default `kernel.ask_timeout_ms`, at most
    /// `api.max_ask_timeout_ms`).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// The reply of an ask.
#[derive(Debug, Serialize, ToSchema)]
pub struct AskReply {
    /// The agent.
    pub pid: String,
    /// Its reply, as JSON of its reply type.
    #[schema(value_type = Object)]
    pub reply: serde_json::Value,
}

/// A stored checkpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointView {
    /// Its id.
    pub id: String,
    /// The agent it was taken of.
    pub pid: String,
    /// Per-agent sequence number.
    pub sequence: u64,
    /// Steps handled when it was taken.
    pub step: u64,
    /// `full` or `delta`.
    pub kind: String,
    /// The checkpoint it is a delta of.
    pub parent: Option<String>,
    /// Stored body size in bytes.
    pub bytes: u64,
    /// The registered agent type, if any.
    pub agent_type: Option<String>,
    /// When it was taken (RFC 3339).
    pub created_at: String,
}

impl From<CheckpointInfo> for CheckpointView {
    fn from(c: CheckpointInfo) -> Self {
        CheckpointView {
            id: c.id,
            pid: c.pid.to_string(),
            sequence: c.sequence,
            step: c.step,
            kind: c.kind,
            parent: c.parent,
            bytes: c.bytes,
            agent_type: c.agent_type,
            created_at: c.created_at.to_rfc3339(),
        }
    }
}

/// `POST /v1/checkpoints/{id}/fork`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForkRequest {
    /// The new agent's name (default: the original's name + `-fork`).
    #[serde(default)]
    pub name: Option<String>,
}

/// The agent a restore or fork runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct PidView {
    /// Its pid.
    pub pid: String,
}

/// An agent's context: its pager statistics.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContextView {
    /// The agent.
    pub pid: String,
    /// Resident budget in tokens.
    pub budget_tokens: u64,
    /// Pages in the resident set.
    pub resident_pages: u64,
    /// Tokens in the resident set (never above the budget).
    pub resident_tokens: u64,
    /// Pinned tokens.
    pub pinned_tokens: u64,
    /// Pages swapped out to storage.
    pub swapped_pages: u64,
    /// Tokens swapped out.
    pub swapped_tokens: u64,
    /// Page faults.
    pub faults: u64,
    /// Pages evicted.
    pub evictions: u64,
    /// Accesses served from the resident set.
    pub hits: u64,
    /// `hits / (hits + faults)`.
    pub hit_rate: f64,
    /// `context()` calls.
    pub context_calls: u64,
    /// Share of the last prompt identical to the previous one's beginning.
    pub prefix_stability: f64,
    /// Memory-pressure notices sent.
    pub pressure_notices: u64,
    /// Summary pages made by compaction.
    pub summaries: u64,
}

impl From<PagerStats> for ContextView {
    fn from(s: PagerStats) -> Self {
        ContextView {
            pid: s.pid.to_string(),
            budget_tokens: s.budget_tokens,
            resident_pages: s.resident_pages,
            resident_tokens: s.resident_tokens,
            pinned_tokens: s.pinned_tokens,
            swapped_pages: s.swapped_pages,
            swapped_tokens: s.swapped_tokens,
            faults: s.faults,
            evictions: s.evictions,
            hits: s.hits,
            hit_rate: s.hit_rate,
            context_calls: s.context_calls,
            prefix_stability: s.prefix_stability,
            pressure_notices: s.pressure_notices,
            summaries: s.summaries,
        }
    }
}

/// One page of an agent's page table (no content).
#[derive(Debug, Serialize, ToSchema)]
pub struct PageView {
    /// Page id.
    pub id: String,
    /// `system`, `tools`, `task`, `message`, `tool_result`, `memory`, `summary`.
    pub kind: String,
    /// Position in the conversation.
    pub seq: u64,
    /// Tokens.
    pub tokens: u32,
    /// Importance 0–1.
    pub importance: f32,
    /// Never evicted.
    pub pinned: bool,
    /// In the resident set (`false`: swapped out to storage).
    pub resident: bool,
    /// Times accessed.
    pub access_count: u32,
    /// Hex SHA-256 of the content.
    pub hash: String,
    /// Agents it is shared with.
    pub shared_with: Vec<String>,
}

impl From<PageInfo> for PageView {
    fn from(p: PageInfo) -> Self {
        PageView {
            id: p.id.to_string(),
            kind: p.kind.as_str().to_string(),
            seq: p.seq,
            tokens: p.tokens,
            importance: p.importance,
            pinned: p.pinned,
            resident: p.resident,
            access_count: p.access_count,
            hash: p.hash,
            shared_with: p.shared_with.iter().map(ToString::to_string).collect(),
        }
    }
}

/// An agent's LLM usage over its life (carried across restarts by its checkpoints).
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentUsageView {
    /// The agent.
    pub pid: String,
    /// Completed LLM calls.
    pub calls: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// Cost in US dollars.
    pub cost_usd: f64,
}
