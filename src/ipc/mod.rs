//! Inter-process communication: typed handles, request/reply, reply ports, topics, and the
//! JSON form.
//!
//! Typed messaging goes through an [`AgentRef`] (`tell`, `ask`, `call`); dynamic messaging by
//! pid — topics and JSON — through [`crate::Kernel`] (`publish`, `send_json`, `ask_json`,
//! `deliver`).

mod agent_ref;
pub(crate) mod codec;
pub(crate) mod current;
pub(crate) mod endpoint;
pub(crate) mod envelope;
mod json;
pub(crate) mod mailbox;
pub(crate) mod queue;
mod reply;
mod request;
pub(crate) mod topics;

pub use agent_ref::AgentRef;
pub use json::MessageEnvelope;
pub use reply::ReplyPort;
pub use request::{Ask, Call};
