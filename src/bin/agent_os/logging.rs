//! Logging of the long-running commands: `RUST_LOG` if set, else `log.filter`, to stderr.

use tracing_subscriber::EnvFilter;

/// Installs the subscriber once.
pub(crate) fn init(filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
