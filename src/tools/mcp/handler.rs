//! The kernel's side of an MCP session: who we say we are at `initialize`, and what we answer
//! when a server asks for input (elicitation) — nobody is at the keyboard of an agent, so the
//! answer is a configured rule, not a prompt.

use rmcp::ClientHandler;
use rmcp::model::{
    ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
    ErrorData, Implementation, ProtocolVersion,
};
use rmcp::service::{RequestContext, RoleClient};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// What the kernel answers a server's `elicitation/create` (`[mcp.servers.<name>] elicitation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElicitationMode {
    /// Decline every request; the capability is not announced (the default).
    #[default]
    Decline,
    /// Accept a form whose every required field has a default, answering with the schema's
    /// defaults; decline any other request (URL elicitation, a required field without one).
    AcceptDefaults,
}

/// The `ClientHandler` given to rmcp for every server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KernelClient {
    pub(crate) elicitation: ElicitationMode,
}

impl ClientHandler for KernelClient {
    fn get_info(&self) -> ClientConfig {
        let capabilities = match self.elicitation {
            ElicitationMode::Decline => ClientCapabilities::default(),
            ElicitationMode::AcceptDefaults => {
                serde_json::from_value(json!({ "elicitation": { "form": {} } })).unwrap_or_default()
            }
        };
        let mut info = ClientConfig::new(
            capabilities,
            Implementation::new("agent-os-kernel", env!("CARGO_PKG_VERSION")),
        );
        // The newest revision with the `initialize` handshake (2025-11-25): what servers and
        // the official conformance suite speak today; a server may answer with an older one.
        info.protocol_version = ProtocolVersion::LATEST_WITH_INITIALIZE;
        info
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let decline = ElicitResult::new(ElicitationAction::Decline);
        if self.elicitation == ElicitationMode::Decline {
            return Ok(decline);
        }
        let ElicitRequestParams::FormElicitationParams {
            requested_schema, ..
        } = request
        else {
            return Ok(decline);
        };
        let schema = serde_json::to_value(&requested_schema).unwrap_or(Value::Null);
        Ok(match defaults_of(&schema) {
            Some(content) => {
                ElicitResult::new(ElicitationAction::Accept).with_content(Value::Object(content))
            }
            None => decline,
        })
    }
}

/// The form's answer made of its defaults, or `None` when a required field has none.
fn defaults_of(schema: &Value) -> Option<Map<String, Value>> {
    let properties = schema.get("properties").and_then(Value::as_object);
    let mut content = Map::new();
    for (name, property) in properties.into_iter().flatten() {
        if let Some(default) = property.get("default") {
            content.insert(name.clone(), default.clone());
        }
    }
    let required = schema.get("required").and_then(Value::as_array);
    let complete = required
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .all(|field| content.contains_key(field));
    complete.then_some(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_the_form() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": { "type": "string", "default": "Ada" },
                "age": { "type": "integer", "default": 36 },
                "note": { "type": "string" }
            },
            "required": ["name"]
        });
        let content = defaults_of(&schema).expect("accepted");
        assert_eq!(Value::Object(content), json!({ "name": "Ada", "age": 36 }));
    }

    #[test]
    fn a_required_field_without_default_declines() {
        let schema = json!({
            "type": "object",
            "properties": { "token": { "type": "string" } },
            "required": ["token"]
        });
        assert_eq!(defaults_of(&schema), None);
    }
}
