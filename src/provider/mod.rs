//! Provider actors: one per configured LLM backend, behind a rate-limit mailbox.
//!
//! A call enters through [`Router::chat`] (or a [`Chat`] message to one actor) with the
//! caller's [`SliceToken`](crate::scheduler::SliceToken). The actor refuses invalid tokens,
//! queues by token priority until RPM/TPM/concurrency budget is available, retries transient
//! failures with jittered backoff, trips a per-backend circuit breaker, and stops a stream at
//! the next chunk when the slice is revoked (returning the partial output, which a continuation
//! call completes). The contract is in `docs/providers.md`.

pub mod actor;
pub mod anthropic;
pub mod backend;
pub mod breaker;
pub mod budget;
mod call;
pub mod config;
pub mod error;
pub mod estimate;
mod gate;
pub mod handle;
pub mod headers;
pub mod http;
pub mod messages;
pub mod model;
pub mod openai;
mod openai_body;
pub mod openai_parse;
pub mod openai_stream;
pub mod openai_transport;
pub mod presets;
mod queued;
pub mod retry;
pub mod router;
pub mod scripted;
pub mod set;
pub mod sse;
pub mod think;
mod tokens;
pub mod usage;

#[cfg(test)]
mod tests;

pub use actor::{ProviderActor, ProviderSettings};
pub use config::{BackendConfig, BackendKind, Price, ProvidersConfig, RouteTarget};
pub use error::ProviderError;
pub use handle::ProviderHandle;
pub use messages::{Chat, Embed, GetStats, ProviderStats, Reply};
pub use model::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, FinishReason, Message, Role,
    StreamDelta, ToolCall, ToolSpec, Usage,
};
pub use router::Router;
pub use set::Providers;
pub use usage::{UsageLedger, UsageTotals};
