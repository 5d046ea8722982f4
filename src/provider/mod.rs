//! Provider layer: one provider actor per configured LLM backend, behind a rate-limit gate.
//!
//! A call enters through [`Router::chat`] or [`Router::embed`] with a [`SliceSource`] — the
//! kernel's scheduler in `AgentContext::llm`, or a [`SliceToken`](crate::scheduler::SliceToken)
//! lent to every attempt. Each backend of the model's fallback chain admits the call at its
//! gate (priority order, RPM/TPM/concurrency budget, circuit breaker), then the attempt takes a
//! slice named for that backend and holds it only while the request is at the backend;
//! transient failures are retried with jittered backoff, and a stream stops at the next chunk
//! when its slice is revoked (the partial output comes back for a continuation call). Whatever
//! a server sends becomes a value or a typed [`ProviderError`]. The contract is in
//! `docs/providers.md`.

mod actor;
mod anthropic;
mod backend;
mod breaker;
mod budget;
mod call;
mod config;
mod echo;
mod error;
mod estimate;
mod gate;
mod headers;
mod http;
mod job;
mod model;
mod openai;
mod openai_body;
mod openai_wire;
mod presets;
mod retry;
mod router;
mod script;
mod scripted;
mod set;
mod slices;
mod sse;
mod stats;
mod think;
pub(crate) mod tokens;
mod usage;

#[cfg(test)]
mod tests;

#[doc(hidden)]
pub mod fuzzing;

pub use breaker::{BreakerConfig, BreakerState};
pub use config::{BackendConfig, BackendKind, Price, ProvidersConfig, RouteTarget};
pub use error::ProviderError;
pub use model::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, FinishReason, Message, Role,
    StreamDelta, ToolCall, ToolSpec, Usage,
};
pub use presets::Preset;
pub use retry::RetryPolicy;
pub use router::Router;
pub use script::{ScriptEntry, ScriptTurn, ScriptedToolCall};
pub use set::Providers;
pub use slices::SliceSource;
pub use stats::{BudgetStats, ProviderStats};
pub use usage::{UsageKey, UsageLedger, UsageTotals};
