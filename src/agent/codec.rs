//! Type information and JSON conversion for an agent's message and reply types, kept in the
//! registry so typed and JSON senders are checked before anything is enqueued.

use std::any::{Any, TypeId, type_name};

use crate::agent::Agent;

/// Type-erased codec for one agent type.
#[derive(Clone, Copy)]
pub(crate) struct Codec {
    pub(crate) msg_type: TypeId,
    pub(crate) msg_name: &'static str,
    pub(crate) reply_type: TypeId,
    pub(crate) reply_name: &'static str,
    pub(crate) decode: fn(serde_json::Value) -> Result<Box<dyn Any + Send>, String>,
    pub(crate) encode_reply: fn(Box<dyn Any + Send>) -> Result<serde_json::Value, String>,
}

fn decode<A: Agent>(v: serde_json::Value) -> Result<Box<dyn Any + Send>, String> {
    serde_json::from_value::<A::Msg>(v)
        .map(|m| Box::new(m) as Box<dyn Any + Send>)
        .map_err(|e| e.to_string())
}

fn encode_reply<A: Agent>(b: Box<dyn Any + Send>) -> Result<serde_json::Value, String> {
    match b.downcast::<A::Reply>() {
        Ok(r) => serde_json::to_value(&*r).map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "internal: reply is not a `{}`",
            type_name::<A::Reply>()
        )),
    }
}

impl Codec {
    pub(crate) fn of<A: Agent>() -> Self {
        Codec {
            msg_type: TypeId::of::<A::Msg>(),
            msg_name: type_name::<A::Msg>(),
            reply_type: TypeId::of::<A::Reply>(),
            reply_name: type_name::<A::Reply>(),
            decode: decode::<A>,
            encode_reply: encode_reply::<A>,
        }
    }
}
