//! `agent-os migrate`: connects to the configured storage, which brings its schema up to date.

use std::path::Path;
use std::process::ExitCode;

use agent_os_kernel::storage::Storage;

use super::{EXIT_RUNTIME, config_cmd};

/// Runs the migrations of `storage.url`.
pub(crate) fn run(config: Option<&Path>) -> ExitCode {
    let cfg = match config_cmd::load(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match rt.block_on(Storage::connect(&cfg.storage.url)) {
        Ok(storage) => {
            println!("storage {} is migrated", storage.url());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("migration failed: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}
