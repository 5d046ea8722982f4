//! Inter-process communication: envelopes, request/reply, topics, the JSON form.
//!
//! The user-facing operations live on [`crate::Kernel`] (`send`, `ask`, `send_json`,
//! `ask_json`, `deliver`, `publish`) and on [`crate::AgentContext`].

pub(crate) mod envelope;
mod json;
pub(crate) mod topics;

pub use json::MessageEnvelope;
