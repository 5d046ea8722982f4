//! The scheduler: grants time-slice tokens for LLM work (the LLM is the CPU).
//!
//! The wait queues, the slots (global and per-provider capacity), the quotas and the statistics
//! form one state machine shared, under one lock, by every cheap [`Scheduler`] handle and the
//! [`SchedulerActor`], which drives time (expiry, quota windows, preemption retries). An agent
//! asks for a slice with a [`SliceRequest`], receives a [`SliceToken`] when the [`PolicyKind`]
//! in force picks it and capacity allows — at once, on its own thread, when a slot is free —
//! runs its LLM call while [`SliceToken::is_valid`], and gives the slice back with its
//! [`Usage`]. The runtime contract is in `docs/semantics.md` (section Scheduler).

mod actor;
mod config;
mod core;
mod error;
mod event;
mod handle;
mod messages;
mod policy;
mod queue;
mod quota;
mod request;
mod revoked;
mod shared;
mod slots;
mod stats;
mod token;

pub use actor::SchedulerActor;
pub use config::{PolicyKind, SchedulerConfig};
pub use error::SchedulerError;
pub use event::{QuotaScope, SchedulerEvent};
pub use handle::Scheduler;
pub use messages::SlicePreempted;
pub use policy::weight_of;
pub use quota::{Quota, Usage, WindowUsage};
pub use request::{DEFAULT_PRIORITY, SliceObserver, SliceProgress, SliceRequest};
pub use revoked::Revoked;
pub use stats::{AgentStats, SchedulerStats};
pub use token::{SliceToken, TokenId};
