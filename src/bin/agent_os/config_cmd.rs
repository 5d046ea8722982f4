//! `agent-os config check|defaults`.

use std::path::Path;
use std::process::ExitCode;

use agent_os_kernel::KernelConfig;

use super::EXIT_CONFIG;

/// Prints the built-in defaults.
pub(crate) fn defaults() -> ExitCode {
    print!("{}", agent_os_kernel::config::DEFAULT_CONFIG_TOML);
    ExitCode::SUCCESS
}

/// Prints the effective configuration, or every error.
pub(crate) fn check(file: Option<&Path>) -> ExitCode {
    match KernelConfig::load(file) {
        Ok(cfg) => {
            for w in cfg.providers.capacity_warnings(&cfg.scheduler) {
                eprintln!("warning: {w}");
            }
            print!("{}", cfg.to_toml());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("configuration is invalid:\n{e}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// Loads the configuration or reports it invalid (exit code 2).
pub(crate) fn load(file: Option<&Path>) -> Result<KernelConfig, ExitCode> {
    KernelConfig::load(file).map_err(|e| {
        eprintln!("configuration is invalid:\n{e}");
        ExitCode::from(EXIT_CONFIG)
    })
}
