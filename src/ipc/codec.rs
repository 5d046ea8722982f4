//! JSON access for one agent type: present only for agents spawned with `.json()`, whose
//! message type deserializes and whose reply type serializes.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::agent::Agent;

/// Decodes JSON into the agent's message type and encodes its replies.
pub(crate) struct JsonCodec<A: Agent> {
    pub(crate) decode: fn(serde_json::Value) -> Result<A::Msg, String>,
    pub(crate) encode: fn(A::Reply) -> Result<serde_json::Value, String>,
}

impl<A: Agent> Clone for JsonCodec<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A: Agent> Copy for JsonCodec<A> {}

fn decode<A: Agent>(v: serde_json::Value) -> Result<A::Msg, String>
where
    A::Msg: DeserializeOwned,
{
    serde_json::from_value(v).map_err(|e| e.to_string())
}

fn encode<A: Agent>(r: A::Reply) -> Result<serde_json::Value, String>
where
    A::Reply: Serialize,
{
    serde_json::to_value(&r).map_err(|e| e.to_string())
}

impl<A: Agent> JsonCodec<A> {
    pub(crate) fn of() -> Self
    where
        A::Msg: DeserializeOwned,
        A::Reply: Serialize,
    {
        JsonCodec {
            decode: decode::<A>,
            encode: encode::<A>,
        }
    }
}
