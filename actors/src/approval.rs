//! [`ApprovalGate`]: holds sensitive tool calls until an operator approves or rejects them.

use std::collections::{BTreeMap, BTreeSet};

use agent_os_kernel::{Agent, AgentContext, AgentError, Pid, ReplyPort};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The topic a notice of each held call is published on (`{"id", "tool", "args", "from"}`).
pub const APPROVAL_TOPIC: &str = "approvals";

/// What a tool call through the gate answers: the tool's result, or why it did not run.
pub type GateResult = Result<Value, String>;

/// Messages an [`ApprovalGate`] understands. `Call` comes from agents (through
/// `AgentRef::call`); the others are JSON too, so an operator sends them through the HTTP API
/// (`POST /v1/agents/{pid}/ask` with `{"message": {"Approve": {"id": 1}}}`) or the CLI
/// (`agent-os ask <pid> '{"Approve":{"id":1}}'`) when the gate is spawned with `Spawn::json`.
#[derive(Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum GateMsg {
    /// Run `tool` with `args`: at once when it is not sensitive, else once approved.
    #[serde(skip)]
    Call {
        /// The tool (`fs.write`).
        tool: String,
        /// Its arguments.
        args: Value,
        /// Where the result goes.
        reply: ReplyPort<GateResult>,
    },
    /// Reply with the held calls: `[{"id", "tool", "args", "from"}]`.
    Pending,
    /// Run held call `id`; replies `{"id", "result"}` or `{"id", "error"}`.
    Approve {
        /// The held call.
        id: u64,
    },
    /// Refuse held call `id`; its caller gets `Err("rejected: <reason>")`.
    Reject {
        /// The held call.
        id: u64,
        /// Why (told to the caller).
        reason: String,
    },
}

struct Held {
    tool: String,
    args: Value,
    from: Option<Pid>,
    reply: ReplyPort<GateResult>,
}

/// Runs tool calls for other agents (`ctx.tool`: policy, schema check, audit — as the gate
/// itself, in its workspace), holding those of a sensitive tool until an operator approves or
/// rejects them. Each held call is published on [`APPROVAL_TOPIC`]. Held calls live in
/// memory: a crash of the gate drops them and their callers get the crash as their answer.
#[derive(Default)]
pub struct ApprovalGate {
    sensitive: BTreeSet<String>,
    held: BTreeMap<u64, Held>,
    next: u64,
}

impl std::fmt::Debug for ApprovalGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalGate")
            .field("sensitive", &self.sensitive)
            .field("held", &self.held.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ApprovalGate {
    /// A gate holding calls of the named tools (`fs.write`, `shell.run`, …).
    pub fn new<S: Into<String>>(sensitive: impl IntoIterator<Item = S>) -> Self {
        ApprovalGate {
            sensitive: sensitive.into_iter().map(Into::into).collect(),
            held: BTreeMap::new(),
            next: 1,
        }
    }

    /// A factory for `Kernel::spawn` (every incarnation starts with nothing held).
    pub fn factory(&self) -> impl Fn() -> ApprovalGate + Send + Sync + 'static + use<> {
        let sensitive = self.sensitive.clone();
        move || ApprovalGate::new(sensitive.clone())
    }

    async fn run(tool: &str, args: Value, ctx: &AgentContext) -> GateResult {
        ctx.tool(tool, args).await.map_err(|e| e.to_string())
    }
}

impl Agent for ApprovalGate {
    type Msg = GateMsg;
    type Reply = Value;

    async fn handle(&mut self, msg: GateMsg, ctx: &mut AgentContext) -> Result<Value, AgentError> {
        match msg {
            GateMsg::Call { tool, args, reply } => {
                if !self.sensitive.contains(&tool) {
                    reply.send(Self::run(&tool, args, ctx).await);
                    return Ok(Value::Null);
                }
                let id = self.next;
                self.next += 1;
                let from = ctx.sender();
                let notice = json!({"id": id, "tool": tool, "args": args, "from": from});
                self.held.insert(
                    id,
                    Held {
                        tool,
                        args,
                        from,
                        reply,
                    },
                );
                ctx.publish(APPROVAL_TOPIC, notice.clone()).await;
                Ok(notice)
            }
            GateMsg::Pending => Ok(self
                .held
                .iter()
                .map(|(id, h)| json!({"id": id, "tool": h.tool, "args": h.args, "from": h.from}))
                .collect()),
            GateMsg::Approve { id } => {
                let held = self
                    .held
                    .remove(&id)
                    .ok_or_else(|| AgentError::invalid(format!("no held call {id}")))?;
                let result = Self::run(&held.tool, held.args, ctx).await;
                let answer = match &result {
                    Ok(v) => json!({"id": id, "result": v}),
                    Err(e) => json!({"id": id, "error": e}),
                };
                held.reply.send(result);
                Ok(answer)
            }
            GateMsg::Reject { id, reason } => {
                let held = self
                    .held
                    .remove(&id)
                    .ok_or_else(|| AgentError::invalid(format!("no held call {id}")))?;
                held.reply.send(Err(format!("rejected: {reason}")));
                Ok(json!({"id": id, "rejected": reason}))
            }
        }
    }
}
