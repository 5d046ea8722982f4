//! # agent-os-kernel
//!
//! An operating-system kernel for AI agents, as an actor-model runtime on actix. Every agent
//! is a supervised actor with a bounded mailbox (IPC); supervisors restart crashed agents
//! under the same [`Pid`] with their queued messages kept; the scheduler grants time-slice
//! tokens for LLM work (the LLM is the CPU); storage (SQLite by default, PostgreSQL +
//! pgvector in production) holds the registry, checkpoints, memories, coordination and the
//! audit log.
//!
//! Start with [`Kernel::builder`], implement [`Agent`], [`Kernel::spawn`] it, and talk to it
//! through the typed [`AgentRef`] the spawn returns: [`AgentRef::tell`], [`AgentRef::ask`]
//! (the reply type comes from the agent), [`AgentRef::call`] (a reply type per message,
//! through a [`ReplyPort`]). A [`Pid`] and the JSON [`MessageEnvelope`] remain for dynamic
//! use (agents spawned with [`Spawn::json`]). The runtime contract is in `docs/semantics.md`.
//!
//! ```no_run
//! use agent_os_kernel::prelude::*;
//!
//! struct Greeter;
//!
//! impl Agent for Greeter {
//!     type Msg = String;
//!     type Reply = String;
//!     async fn handle(&mut self, name: String, _ctx: &mut AgentContext) -> Result<String, AgentError> {
//!         Ok(format!("hello, {name}"))
//!     }
//! }
//!
//! #[actix::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let kernel = Kernel::builder().build().await?;
//!     let greeter = kernel.spawn(|| Greeter, SpawnOptions::new("greeter")).await?;
//!     let reply = greeter.ask("ada".to_string()).await?;
//!     println!("{reply}");
//!     kernel.shutdown().await;
//!     Ok(())
//! }
//! ```
//!
//! Embedding in an actix-web application: `examples/actix_web.rs`; the kernel over HTTP
//! (REST, OpenAPI, server-sent events, bearer roles) is [`api`], mountable in any `App`.

pub mod agent;
pub mod api;
pub mod checkpoint;
pub mod config;
mod digest;
pub mod embed;
pub mod error;
pub mod events;
pub mod ipc;
mod kernel;
pub mod optimizer;
pub mod pager;
mod pid;
pub mod provider;
pub mod scheduler;
pub mod security;
pub mod storage;
pub mod supervisor;
pub mod telemetry;
pub mod tools;
pub mod trajectory;
pub mod tuning;

pub use agent::{
    Agent, AgentContext, AgentState, Deliver, OverflowPolicy, SpawnOptions, WaitReason,
};
pub use checkpoint::{
    CheckpointError, CheckpointInfo, CheckpointPolicy, GcReport, RunawayLimit, RunawayLimits,
    WriteMode,
};
pub use config::{ConfigError, KernelConfig};
pub use error::{AgentError, ErrorView, IpcError, KernelError, SpawnError};
pub use events::{EventStream, KernelEvent};
pub use ipc::{AgentRef, Ask, Call, MessageEnvelope, ReplyPort};
pub use kernel::{AgentInfo, Kernel, KernelBuilder, LlmError, PagedLlmError, Spawn};
pub use pager::{MemoryPressure, PagerError};
pub use pid::{ParsePidError, Pid};
pub use scheduler::{
    PolicyKind, Scheduler, SchedulerConfig, SchedulerError, SliceRequest, SliceToken, Usage,
};
pub use security::audit::{AuditLog, AuditQuery, AuditRecord, VerifyReport};
pub use security::policy::{Denied, PermissionLevel, SecurityPolicy};
pub use supervisor::{
    ExitReason, RestartType, Strategy, SupervisorError, SupervisorId, SupervisorSpec,
};

/// Everything a typical agent or embedding application needs.
pub mod prelude {
    pub use crate::{
        Agent, AgentContext, AgentError, AgentInfo, AgentRef, AgentState, CheckpointError,
        CheckpointInfo, CheckpointPolicy, Deliver, ExitReason, IpcError, Kernel, KernelError,
        KernelEvent, LlmError, MemoryPressure, OverflowPolicy, PagerError, Pid, ReplyPort,
        RestartType, RunawayLimit, RunawayLimits, SpawnError, SpawnOptions, Strategy,
        SupervisorError, SupervisorId, SupervisorSpec, WaitReason,
    };
}

// The kernel handle is shared across threads and tasks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Kernel>();
    assert_send_sync::<KernelBuilder>();
    assert_send_sync::<AgentContext>();
};

/// Installs the process-wide rustls crypto provider once. Two backends get linked (ring via
/// sqlx, aws-lc via reqwest); without an explicit choice rustls can panic on first use.
pub(crate) fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
