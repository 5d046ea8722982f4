//! The commands of `agent-os`: the clap definitions here, one module per command.

pub(crate) mod config_cmd;
pub(crate) mod logging;
pub(crate) mod mcp;
pub(crate) mod migrate;
pub(crate) mod serve;
pub(crate) mod types;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Exit code for an invalid configuration or command line.
pub(crate) const EXIT_CONFIG: u8 = 2;
/// Exit code for a failure at run time (storage unreachable, address in use, …).
pub(crate) const EXIT_RUNTIME: u8 = 1;

#[derive(Parser)]
#[command(name = "agent-os", version, about = "agent-os-kernel command line")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Runs the kernel with its HTTP API (docs/api.md) until SIGINT or SIGTERM.
    Serve(serve::ServeArgs),
    /// Brings the configured storage's schema up to date, then exits.
    Migrate {
        /// A TOML or YAML configuration file (on top of the defaults and AOK__* variables).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// MCP servers.
    Mcp {
        #[command(subcommand)]
        action: McpAction,
    },
}

#[derive(Subcommand)]
pub(crate) enum McpAction {
    /// Connects to one MCP server as the kernel would, lists its tools and optionally calls
    /// each of them from an agent (one JSON line per call).
    Probe(mcp::ProbeArgs),
}

#[derive(Subcommand)]
pub(crate) enum ConfigAction {
    /// Loads FILE on top of the defaults and the AOK__* environment, then prints the
    /// effective configuration (TOML) or every error, each naming the key and its source.
    Check {
        /// A TOML or YAML file.
        file: Option<PathBuf>,
    },
    /// Prints the built-in defaults (config/default.toml, with comments).
    Defaults,
}
