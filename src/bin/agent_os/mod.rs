//! The commands of `agent-os`: the clap definitions here, one module per command (or group):
//! the server side (`serve`, `migrate`, `config`, `mcp`) and the client commands that talk to
//! a running server (`agents`, `checkpoints`, `events`, `audit`, `top`, sharing `client` and
//! `output`).

pub(crate) mod agents;
pub(crate) mod audit;
pub(crate) mod checkpoints;
pub(crate) mod client;
pub(crate) mod config_cmd;
pub(crate) mod events;
pub(crate) mod logging;
pub(crate) mod mcp;
pub(crate) mod migrate;
pub(crate) mod optimize;
pub(crate) mod output;
pub(crate) mod serve;
pub(crate) mod top;
pub(crate) mod types;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Exit code for an invalid configuration or command line.
pub(crate) const EXIT_CONFIG: u8 = 2;
/// Exit code for a failure at run time (storage unreachable, address in use, …), and for a
/// client command the server answered with an error.
pub(crate) const EXIT_RUNTIME: u8 = 1;

/// The exit codes, shown by `agent-os --help` (and docs/api.md).
const EXIT_CODES: &str = "\
Client commands (ps, spawn, tell, ask, stop, kill, checkpoint, checkpoints, restore, events,
audit, top) reach the server at --url or AOK_URL (default http://127.0.0.1:7878) with the
bearer token --token or AOK_TOKEN; --json prints the server's JSON as-is.

Exit codes:
  0  success
  1  the server answered with an error (its problem's title, detail and field on stderr), its
     answer was malformed, `audit verify` found the chain broken; for serve/migrate: a
     run-time failure
  2  bad usage or configuration (unknown flag, invalid JSON argument, pid or URL)
  3  the server could not be reached (refused, DNS, timeout, connection lost)
  4  not found: the server answered 404 (unknown agent or checkpoint)
  5  unauthorized or forbidden: the server answered 401 or 403";

#[derive(Parser)]
#[command(
    name = "agent-os",
    version,
    about = "agent-os-kernel command line",
    after_help = EXIT_CODES
)]
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
    /// Runs the kernel with its HTTP API (docs/api.md) and the agent types `echo` and `chat`
    /// until SIGINT or SIGTERM.
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
    /// Lists the live agents of a server.
    Ps(agents::PsArgs),
    /// Spawns an agent of a registered type; prints its pid.
    Spawn(agents::SpawnArgs),
    /// Queues a JSON message for an agent.
    Tell(agents::TellArgs),
    /// Sends a JSON message and prints the agent's reply.
    Ask(agents::AskArgs),
    /// Stops an agent gracefully and waits for its exit.
    Stop(agents::StopArgs),
    /// Kills an agent (admin).
    Kill(agents::KillArgs),
    /// Checkpoints an agent now (prints the checkpoint id), or `checkpoint list PID`.
    Checkpoint(checkpoints::CheckpointArgs),
    /// Lists an agent's checkpoints (= `checkpoint list PID`).
    Checkpoints(checkpoints::ListArgs),
    /// Restores a checkpoint into its agent (admin); prints the agent's pid.
    Restore(checkpoints::RestoreArgs),
    /// Prints the server's events (SSE); `--follow` streams live ones until Ctrl-C.
    Events(events::EventsArgs),
    /// The audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Agents and scheduler, refreshed every few seconds until Ctrl-C.
    Top(top::TopArgs),
    /// The optimizer's report and suggestions from recorded trajectories; `--apply` makes the
    /// suggested changes (operator).
    Optimize(optimize::OptimizeArgs),
}

#[derive(Subcommand)]
pub(crate) enum AuditAction {
    /// Verifies the whole hash chain (admin); exit 1 when it is broken.
    Verify(audit::VerifyArgs),
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
