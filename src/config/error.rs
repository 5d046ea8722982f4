//! Configuration errors. Each names the key and where its value came from.

/// The configuration could not be loaded or is invalid.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A config file could not be read or parsed.
    #[error("cannot read config file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The file extension is not one we read.
    #[error("config file {path} has an unsupported extension: use .toml, .yaml or .yml")]
    UnsupportedFormat {
        /// The file.
        path: String,
    },
    /// A key that the kernel does not know.
    #[error("unknown config key `{key}` (from {origin}){hint}")]
    UnknownKey {
        /// The dotted key path.
        key: String,
        /// Where it was set.
        origin: String,
        /// ", did you mean `…`?" or empty.
        hint: String,
    },
    /// A value of the wrong type or out of range.
    #[error("invalid value for config key `{key}` (from {origin}): {reason}")]
    Invalid {
        /// The dotted key path.
        key: String,
        /// Where it was set.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// Several problems at once (all are reported, not just the first).
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Many(Vec<ConfigError>),
}
