//! One MCP server behind our own types: started as a child process over stdio through rmcp,
//! its tools listed, calls forwarded; a server that died is started again on the next call.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ContentBlock};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::security::policy::PermissionLevel;
use crate::tools::mcp::config::McpServerConfig;
use crate::tools::mcp::handler::KernelClient;
use crate::tools::tool::{Tool, ToolContext, ToolError};

type Client = RunningService<RoleClient, KernelClient>;

/// A running (or restartable) MCP server.
pub(crate) struct McpServer {
    pub(crate) name: String,
    config: McpServerConfig,
    client: Mutex<Option<Client>>,
}

/// A tool of an MCP server as one of ours.
#[derive(Debug, Clone)]
pub(crate) struct RemoteTool {
    pub(crate) remote: String,
    pub(crate) description: String,
    pub(crate) schema: Value,
}

impl McpServer {
    pub(crate) fn new(name: &str, config: McpServerConfig) -> Arc<Self> {
        Arc::new(McpServer {
            name: name.to_string(),
            config,
            client: Mutex::new(None),
        })
    }

    async fn connect(&self) -> Result<Client, String> {
        let handler = KernelClient {
            elicitation: self.config.elicitation,
        };
        if let Some(url) = &self.config.url {
            let transport = StreamableHttpClientTransport::from_uri(url.as_str());
            return handler.serve(transport).await.map_err(|e| {
                format!(
                    "MCP server `{}` at {url} did not initialise: {e}",
                    self.name
                )
            });
        }
        if self.config.command.is_empty() {
            return Err(format!(
                "MCP server `{}` has neither `command` nor `url`",
                self.name
            ));
        }
        let mut cmd = tokio::process::Command::new(&self.config.command);
        cmd.args(&self.config.args).envs(&self.config.env);
        let transport = TokioChildProcess::new(cmd)
            .map_err(|e| format!("MCP server `{}` could not start: {e}", self.name))?;
        handler
            .serve(transport)
            .await
            .map_err(|e| format!("MCP server `{}` did not initialise: {e}", self.name))
    }

    /// The server's tools (starting it if needed).
    pub(crate) async fn tools(&self) -> Result<Vec<RemoteTool>, String> {
        let mut guard = self.client.lock().await;
        if guard.is_none() {
            *guard = Some(self.connect().await?);
        }
        let client = guard.as_ref().ok_or("no client")?;
        let tools = client
            .list_all_tools()
            .await
            .map_err(|e| format!("MCP server `{}`: listing tools: {e}", self.name))?;
        Ok(tools
            .into_iter()
            .map(|t| RemoteTool {
                remote: t.name.to_string(),
                description: t.description.map(|d| d.to_string()).unwrap_or_default(),
                schema: Value::Object((*t.input_schema).clone()),
            })
            .collect())
    }

    /// Calls a tool; a transport failure (the server died) restarts it and tries once more.
    pub(crate) async fn call(&self, tool: &str, args: Value) -> Result<Value, String> {
        let arguments = match args {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => return Err(format!("arguments must be an object, got {other}")),
        };
        for attempt in 0..2 {
            let mut guard = self.client.lock().await;
            if guard.is_none() {
                *guard = Some(self.connect().await?);
            }
            let client = guard.as_ref().ok_or("no client")?;
            let mut params = CallToolRequestParams::new(tool.to_string());
            params.arguments = arguments.clone();
            let limit = match self.config.timeout_ms {
                0 => std::time::Duration::from_secs(60),
                ms => std::time::Duration::from_millis(ms),
            };
            let answer = tokio::time::timeout(limit, client.call_tool(params))
                .await
                .unwrap_or_else(|_| Err(rmcp::service::ServiceError::Timeout { timeout: limit }));
            match answer {
                Ok(result) => {
                    let text: Vec<String> = result
                        .content
                        .iter()
                        .filter_map(|c| match c {
                            ContentBlock::Text(t) => Some(t.text.clone()),
                            _ => None,
                        })
                        .collect();
                    return Ok(json!({
                        "text": text.join("\n"),
                        "structured": result.structured_content,
                        "is_error": result.is_error.unwrap_or(false),
                    }));
                }
                Err(e) if attempt == 0 => {
                    tracing::warn!(server = %self.name, error = %e, "MCP call failed; restarting the server");
                    if let Some(old) = guard.take() {
                        let _ = old.cancel().await;
                    }
                }
                Err(e) => return Err(format!("MCP server `{}`: {e}", self.name)),
            }
        }
        Err(format!("MCP server `{}`: unreachable", self.name))
    }
}

/// `<server>.<tool>` as a kernel tool.
pub(crate) struct McpTool {
    pub(crate) name: String,
    pub(crate) server: Arc<McpServer>,
    pub(crate) remote: RemoteTool,
}

impl Tool for McpTool {
    fn name(&self) -> &str {
        &self.name
    }
    fn description(&self) -> &str {
        &self.remote.description
    }
    fn schema(&self) -> Value {
        self.remote.schema.clone()
    }
    fn level(&self) -> PermissionLevel {
        PermissionLevel::Standard
    }
    fn call(&self, args: Value, _cx: ToolContext) -> BoxFuture<'static, Result<Value, ToolError>> {
        let (server, remote, name) = (
            self.server.clone(),
            self.remote.remote.clone(),
            self.name.clone(),
        );
        async move {
            server
                .call(&remote, args)
                .await
                .map_err(|reason| ToolError::Failed { tool: name, reason })
        }
        .boxed()
    }
}
