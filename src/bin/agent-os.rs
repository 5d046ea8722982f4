//! `agent-os`: the kernel's command line. Each command lives in its own module under
//! `src/bin/agent_os/`; this file only parses and dispatches.

mod agent_os;

use std::process::ExitCode;

use clap::Parser;

use agent_os::{Cli, Command, ConfigAction, McpAction};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Config {
            action: ConfigAction::Defaults,
        } => agent_os::config_cmd::defaults(),
        Command::Config {
            action: ConfigAction::Check { file },
        } => agent_os::config_cmd::check(file.as_deref()),
        Command::Serve(args) => agent_os::serve::run(args),
        Command::Migrate { config } => agent_os::migrate::run(config.as_deref()),
        Command::Mcp {
            action: McpAction::Probe(args),
        } => agent_os::mcp::probe(args),
    }
}
