//! `agent-os`: the kernel's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use agent_os_kernel::KernelConfig;
use clap::{Parser, Subcommand};

#[path = "agent-os/mcp.rs"]
mod mcp;

#[derive(Parser)]
#[command(name = "agent-os", version, about = "agent-os-kernel command line")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// MCP servers.
    Mcp {
        #[command(subcommand)]
        action: McpAction,
    },
}

#[derive(Subcommand)]
enum McpAction {
    /// Connects to one MCP server as the kernel would, lists its tools and optionally calls
    /// each of them from an agent (one JSON line per call).
    Probe(mcp::ProbeArgs),
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Loads FILE on top of the defaults and the AOK__* environment, then prints the
    /// effective configuration (TOML) or every error, each naming the key and its source.
    Check {
        /// A TOML or YAML file.
        file: Option<PathBuf>,
    },
    /// Prints the built-in defaults (config/default.toml, with comments).
    Defaults,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Mcp {
            action: McpAction::Probe(args),
        } => mcp::probe(args),
        Command::Config {
            action: ConfigAction::Defaults,
        } => {
            print!("{}", agent_os_kernel::config::DEFAULT_CONFIG_TOML);
            ExitCode::SUCCESS
        }
        Command::Config {
            action: ConfigAction::Check { file },
        } => match KernelConfig::load(file.as_deref()) {
            Ok(cfg) => {
                for w in cfg.providers.capacity_warnings(&cfg.scheduler) {
                    eprintln!("warning: {w}");
                }
                print!("{}", cfg.to_toml());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("configuration is invalid:\n{e}");
                ExitCode::from(2)
            }
        },
    }
}
