//! The security policy of an agent: its permission level, which tools, paths, hosts, agents
//! and models it may use, and the limits of what its tools run. Defaults come from
//! `[security]` in the configuration; [`crate::SpawnOptions::policy`] replaces them for one
//! agent. The kernel checks it on every LLM call and every message an agent sends (tools,
//! the sandbox and page sharing come with the tool host).

mod level;
mod limits;
mod paths;
mod pattern;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use level::PermissionLevel;
pub use limits::{CallRate, ResourceLimits};
pub use paths::PathRules;
pub use pattern::AllowBlock;

/// Network access of an agent's tools: denied unless enabled, then only to the allowed hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkPolicy {
    /// Any network at all (default: none).
    pub enabled: bool,
    /// Hosts it may reach (exact names, case-insensitive; a trailing `*` matches a prefix).
    /// Empty with `enabled`: every host.
    pub allowed_hosts: Vec<String>,
}

/// One agent's security policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityPolicy {
    /// What kinds of device it may use at all.
    pub level: PermissionLevel,
    /// Tools it may call (`fs.*`, `mcp.github.*`, …).
    pub tools: AllowBlock,
    /// Files beyond its workspace, blocked directories, read-only.
    pub paths: PathRules,
    /// Network access of its tools.
    pub network: NetworkPolicy,
    /// Limits of each sandboxed run.
    pub limits: ResourceLimits,
    /// Tool calls per window.
    pub tool_rate: CallRate,
    /// Agents (by name) it may message.
    pub agents: AllowBlock,
    /// Models (or routes) it may call.
    pub models: AllowBlock,
    /// Run code without the sandbox when bubblewrap is missing (admin level only).
    pub allow_unsandboxed: bool,
}

/// A refused action: what, on what, why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("denied by policy: {action} `{target}`: {reason}")]
pub struct Denied {
    /// The action (`tool.call`, `file.read`, `file.write`, `net.connect`, `ipc.send`,
    /// `llm.call`).
    pub action: &'static str,
    /// What it was aimed at.
    pub target: String,
    /// Why it was refused.
    pub reason: String,
}

impl Denied {
    fn new(action: &'static str, target: &str, reason: String) -> Self {
        Denied {
            action,
            target: target.to_string(),
            reason,
        }
    }
}

impl SecurityPolicy {
    /// Whether a tool that needs `needs` may be called.
    pub fn check_tool(&self, name: &str, needs: PermissionLevel) -> Result<(), Denied> {
        if self.level < needs {
            return Err(Denied::new(
                "tool.call",
                name,
                format!("it needs level `{needs}`, the agent has `{}`", self.level),
            ));
        }
        self.tools
            .check(name)
            .map_err(|reason| Denied::new("tool.call", name, reason))
    }

    /// Resolves a file path for reading or writing: relative to `workspace` (or absolute),
    /// canonicalised, checked against the workspace, the allowed and blocked directories and
    /// read-only. The canonical path to use, or why not.
    pub fn check_path(
        &self,
        workspace: &Path,
        requested: &str,
        write: bool,
    ) -> Result<PathBuf, Denied> {
        let action = if write { "file.write" } else { "file.read" };
        if write && self.level < PermissionLevel::Standard {
            return Err(Denied::new(
                action,
                requested,
                "writing needs level `standard`".into(),
            ));
        }
        paths::resolve(workspace, requested, write, &self.paths)
            .map_err(|reason| Denied::new(action, requested, reason))
    }

    /// Whether its tools may connect to `host`.
    pub fn check_host(&self, host: &str) -> Result<(), Denied> {
        if !self.network.enabled || self.level < PermissionLevel::Elevated {
            return Err(Denied::new(
                "net.connect",
                host,
                "the network is off for this agent (security.network.enabled, level `elevated`)"
                    .into(),
            ));
        }
        let host = host.to_ascii_lowercase();
        if !self.network.allowed_hosts.is_empty()
            && !self
                .network
                .allowed_hosts
                .iter()
                .any(|p| pattern::matches(&p.to_ascii_lowercase(), &host))
        {
            return Err(Denied::new(
                "net.connect",
                &host,
                "not in security.network.allowed_hosts".into(),
            ));
        }
        Ok(())
    }

    /// Whether it may message the agent named `to`.
    pub fn check_message(&self, to: &str) -> Result<(), Denied> {
        self.agents
            .check(to)
            .map_err(|reason| Denied::new("ipc.send", to, reason))
    }

    /// Whether it may call `model` (a model or a route name).
    pub fn check_model(&self, model: &str) -> Result<(), Denied> {
        self.models
            .check(model)
            .map_err(|reason| Denied::new("llm.call", model, reason))
    }

    /// `(key, reason)` for every invalid value (`at` prefixes the keys).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.tool_rate.calls > 0 && self.tool_rate.window_ms == 0 {
            out.push((
                "security.tool_rate.window_ms".into(),
                "must be at least 1 when calls is set".into(),
            ));
        }
        if self.allow_unsandboxed && self.level < PermissionLevel::Admin {
            out.push((
                "security.allow_unsandboxed".into(),
                "needs level `admin`".into(),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_lists_gate_tools() {
        let p = SecurityPolicy {
            level: PermissionLevel::Standard,
            tools: AllowBlock::all().blocking(["shell.*"]),
            ..SecurityPolicy::default()
        };
        assert!(p.check_tool("fs.read", PermissionLevel::Restricted).is_ok());
        let e = p
            .check_tool("net.fetch", PermissionLevel::Elevated)
            .unwrap_err();
        assert!(e.reason.contains("elevated"), "{e}");
        assert!(
            p.check_tool("shell.run", PermissionLevel::Standard)
                .is_err()
        );
    }

    #[test]
    fn network_is_off_by_default_and_host_listed_when_on() {
        let p = SecurityPolicy::default();
        assert!(p.check_host("example.com").is_err());
        let p = SecurityPolicy {
            level: PermissionLevel::Elevated,
            network: NetworkPolicy {
                enabled: true,
                allowed_hosts: vec!["API.example.com".into()],
            },
            ..SecurityPolicy::default()
        };
        assert!(p.check_host("api.example.com").is_ok());
        assert!(p.check_host("evil.com").is_err());
    }

    #[test]
    fn agents_and_models() {
        let p = SecurityPolicy {
            agents: AllowBlock::only(["worker-*"]),
            models: AllowBlock::all().blocking(["gpt-4o"]),
            ..SecurityPolicy::default()
        };
        assert!(p.check_message("worker-1").is_ok());
        assert_eq!(p.check_message("admin").unwrap_err().action, "ipc.send");
        assert!(p.check_model("gpt-4o").is_err());
        assert!(p.check_model("small").is_ok());
    }
}
