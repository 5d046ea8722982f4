//! `agent-os`: the kernel's command line. Each command lives in its own module under
//! `src/bin/agent_os/`; this file only parses and dispatches.

mod agent_os;

use std::process::ExitCode;

use clap::Parser;

use agent_os::{AuditAction, Cli, Command, ConfigAction, McpAction};

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
        Command::Ps(args) => agent_os::agents::ps(args),
        Command::Spawn(args) => agent_os::agents::spawn(args),
        Command::Tell(args) => agent_os::agents::tell(args),
        Command::Ask(args) => agent_os::agents::ask(args),
        Command::Stop(args) => agent_os::agents::stop(args),
        Command::Kill(args) => agent_os::agents::kill(args),
        Command::Checkpoint(args) => agent_os::checkpoints::checkpoint(args),
        Command::Checkpoints(args) => agent_os::checkpoints::list(args),
        Command::Restore(args) => agent_os::checkpoints::restore(args),
        Command::Events(args) => agent_os::events::events(args),
        Command::Audit {
            action: AuditAction::Verify(args),
        } => agent_os::audit::verify(args),
        Command::Top(args) => agent_os::top::top(args),
        Command::Optimize(args) => agent_os::optimize::optimize(args),
    }
}
