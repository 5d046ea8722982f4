//! Loading and validating the configuration, keeping track of where each value came from.

use std::collections::BTreeMap;
use std::path::Path;

use config::{Config, Environment, File, FileFormat, Map, Value, ValueKind};

use super::{ConfigError, DEFAULT_CONFIG_TOML, KernelConfig};

/// Environment variables with this prefix (then `SECTION__KEY`) override the files.
const ENV_PREFIX: &str = "AOK";

/// Sections whose sub-keys are free-form maps (names chosen by the user), so the unknown-key
/// check does not look inside them.
const FREE_FORM: &[&str] = &[
    "scheduler.per_provider_slots",
    "scheduler.agent_overrides",
    // Quota limits are optional (absent = unlimited); serde rejects unknown fields there.
    "scheduler.agent_quota",
    "scheduler.global_quota",
    "providers.backends",
    "providers.routes",
    "providers.prices",
];

impl KernelConfig {
    /// Loads the defaults, then `file` (TOML or YAML by extension) if given, then the
    /// process's `AOK__SECTION__KEY` environment variables; validates the result.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_sources(file, std::env::vars())
    }

    /// Like [`KernelConfig::load`] with an explicit set of environment variables (only those
    /// starting with `AOK__` are read).
    pub fn from_sources<K, V>(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut env: Map<String, String> = env
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| k.starts_with("AOK__"))
            .collect();
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_CONFIG_TOML, FileFormat::Toml));
        if let Some(path) = file {
            builder = builder.add_source(user_file(path)?);
        }
        let lists = super::env_lists::take_lists(&mut env)?;
        builder = builder.add_source(
            Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(env)),
        );
        for (key, value) in lists {
            builder = builder
                .set_override(key, value)
                .map_err(|e| ConfigError::File {
                    path: String::new(),
                    reason: e.to_string(),
                })?;
        }
        let cfg = builder.build().map_err(|e| ConfigError::File {
            path: file.map(|p| p.display().to_string()).unwrap_or_default(),
            reason: e.to_string(),
        })?;

        let mut errors = unknown_keys(&cfg)?;
        if !errors.is_empty() {
            // Typos first: deserialising would only repeat them less precisely.
            return Err(if errors.len() == 1 {
                errors.remove(0)
            } else {
                ConfigError::Many(errors)
            });
        }
        let parsed = match cfg.clone().try_deserialize::<KernelConfig>() {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                errors.push(from_config_error(&cfg, e));
                None
            }
        };
        if let Some(parsed) = &parsed {
            errors.extend(validate(parsed, &cfg));
        }
        match (parsed, errors.len()) {
            (Some(parsed), 0) => Ok(parsed),
            (_, 1) => Err(errors.remove(0)),
            _ => Err(ConfigError::Many(errors)),
        }
    }
}

fn user_file(path: &Path) -> Result<File<config::FileSourceFile, FileFormat>, ConfigError> {
    let shown = path.display().to_string();
    let format = match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => FileFormat::Toml,
        Some("yaml" | "yml") => FileFormat::Yaml,
        _ => return Err(ConfigError::UnsupportedFormat { path: shown }),
    };
    if !path.is_file() {
        return Err(ConfigError::File {
            path: shown,
            reason: "no such file".into(),
        });
    }
    Ok(File::from(path).format(format).required(true))
}

/// Describes where a key's value came from, for error messages.
fn describe_origin(origin: Option<&str>, key: &str) -> String {
    match origin {
        None => "the built-in defaults (config/default.toml)".into(),
        Some("the environment") => format!(
            "environment variable {ENV_PREFIX}__{}",
            key.replace('.', "__").to_uppercase()
        ),
        // config-rs reports files relative to the working directory (`../x.toml`); name the
        // file by its absolute path so the message means the same wherever it is read.
        Some(path) => {
            let absolute = std::env::current_dir()
                .and_then(|cwd| std::fs::canonicalize(cwd.join(path)))
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| path.to_string());
            format!("file {absolute}")
        }
    }
}

/// The raw value at a dotted key, origin intact (`Config::get::<Value>` re-deserialises and
/// loses it; `get_table` does not).
fn raw_value(cfg: &Config, key: &str) -> Option<Value> {
    match key.rsplit_once('.') {
        Some((parent, leaf)) => cfg.get_table(parent).ok()?.remove(leaf),
        None => cfg.get::<Value>(key).ok(),
    }
}

fn origin_of(cfg: &Config, key: &str) -> String {
    let value = raw_value(cfg, key);
    describe_origin(value.as_ref().and_then(|v| v.origin()), key)
}

/// Flattens a table into dotted key paths with their values.
fn flatten(prefix: &str, table: &Map<String, Value>, out: &mut BTreeMap<String, Value>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match &v.kind {
            ValueKind::Table(t) if !FREE_FORM.contains(&key.as_str()) => flatten(&key, t, out),
            _ => {
                out.insert(key, v.clone());
            }
        }
    }
}

/// Every leaf key of a config with its value (origins kept).
fn all_keys(cfg: &Config) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    // Top-level names only (deserialising the root loses origins); values are then read
    // through `get`, which keeps them.
    let top = cfg
        .clone()
        .try_deserialize::<Map<String, Value>>()
        .unwrap_or_default();
    let mut root = Map::new();
    for (key, value) in top {
        let value = match cfg.get_table(&key) {
            Ok(table) => Value::new(None, ValueKind::Table(table)),
            Err(_) => value,
        };
        root.insert(key, value);
    }
    flatten("", &root, &mut out);
    out
}

fn unknown_keys(cfg: &Config) -> Result<Vec<ConfigError>, ConfigError> {
    let defaults = Config::builder()
        .add_source(File::from_str(DEFAULT_CONFIG_TOML, FileFormat::Toml))
        .build()
        .map_err(|e| ConfigError::File {
            path: "config/default.toml (embedded)".into(),
            reason: e.to_string(),
        })?;
    let known = all_keys(&defaults);
    let present = all_keys(cfg);
    Ok(present
        .iter()
        .filter(|(k, _)| !known.contains_key(*k))
        .map(|(key, value)| ConfigError::UnknownKey {
            key: key.clone(),
            origin: describe_origin(value.origin(), key),
            hint: closest(key, known.keys())
                .map(|k| format!(", did you mean `{k}`?"))
                .unwrap_or_default(),
        })
        .collect())
}

/// The known key closest to `key` by edit distance, if it is close enough to be a typo.
fn closest<'a>(key: &str, known: impl Iterator<Item = &'a String>) -> Option<&'a String> {
    known
        .map(|k| (edit_distance(key, k), k))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn from_config_error(cfg: &Config, e: config::ConfigError) -> ConfigError {
    match e {
        config::ConfigError::Type {
            origin,
            unexpected,
            expected,
            key,
        } => {
            let key = key.unwrap_or_default();
            ConfigError::Invalid {
                origin: describe_origin(origin.as_deref(), &key),
                key,
                reason: format!("expected {expected}, found {unexpected}"),
            }
        }
        config::ConfigError::At { error, origin, key } => {
            let key = key.unwrap_or_default();
            let origin = origin.or_else(|| raw_value(cfg, &key)?.origin().map(String::from));
            ConfigError::Invalid {
                origin: describe_origin(origin.as_deref(), &key),
                key,
                reason: error.to_string(),
            }
        }
        config::ConfigError::NotFound(key) => ConfigError::Invalid {
            origin: origin_of(cfg, &key),
            reason: "missing".into(),
            key,
        },
        other => ConfigError::Invalid {
            key: String::new(),
            origin: "the merged configuration".into(),
            reason: other.to_string(),
        },
    }
}

fn validate(c: &KernelConfig, cfg: &Config) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut check = |ok: bool, key: &str, reason: &str| {
        if !ok {
            errors.push(ConfigError::Invalid {
                key: key.into(),
                origin: origin_of(cfg, key),
                reason: reason.into(),
            });
        }
    };
    check(
        c.kernel.arbiters <= 1024,
        "kernel.arbiters",
        "must be 0 (one per core) to 1024",
    );
    check(
        c.kernel.mailbox_capacity >= 1,
        "kernel.mailbox_capacity",
        "must be at least 1",
    );
    check(
        c.kernel.stop_timeout_ms >= 1,
        "kernel.stop_timeout_ms",
        "must be at least 1",
    );
    check(
        c.kernel.ask_timeout_ms >= 1,
        "kernel.ask_timeout_ms",
        "must be at least 1",
    );
    check(
        c.kernel.event_buffer >= 16,
        "kernel.event_buffer",
        "must be at least 16",
    );
    check(
        c.supervisor.period_ms >= 1,
        "supervisor.period_ms",
        "must be at least 1",
    );
    check(
        c.supervisor.backoff_max_ms >= c.supervisor.backoff_min_ms,
        "supervisor.backoff_max_ms",
        "must be at least supervisor.backoff_min_ms",
    );
    let url = c.storage.url.as_str();
    check(
        url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"),
        "storage.url",
        "must start with sqlite:, postgres:// or postgresql://",
    );
    for (key, reason) in c.pager.problems() {
        errors.push(ConfigError::Invalid {
            key: key.into(),
            origin: origin_of(cfg, key),
            reason,
        });
    }
    for (key, reason) in c.security.problems() {
        errors.push(ConfigError::Invalid {
            origin: origin_of(cfg, &key),
            key,
            reason,
        });
    }
    for (key, reason) in c.providers.problems() {
        // `…script[N]…` values come from the `script` array of that backend.
        let at = key.split('[').next().unwrap_or(&key).to_string();
        errors.push(ConfigError::Invalid {
            origin: origin_of(cfg, &at),
            key,
            reason,
        });
    }
    for (key, reason) in c.durability.problems() {
        errors.push(ConfigError::Invalid {
            key: key.into(),
            origin: origin_of(cfg, key),
            reason,
        });
    }
    for (key, reason) in c.api.problems() {
        // `api.tokens[N].x` values come from the `api.tokens` array.
        let at = if key.starts_with("api.tokens[") {
            "api.tokens"
        } else {
            key.as_str()
        };
        errors.push(ConfigError::Invalid {
            origin: origin_of(cfg, at),
            key,
            reason,
        });
    }
    if let Err(e) = c.pager.embedder.validate() {
        errors.push(ConfigError::Invalid {
            key: "pager.embedder".into(),
            origin: origin_of(cfg, "pager.embedder"),
            reason: e.to_string(),
        });
    }
    if let Err(e) = c.scheduler.validate() {
        errors.push(ConfigError::Invalid {
            key: "scheduler".into(),
            origin: "the merged configuration".into(),
            reason: e.to_string(),
        });
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_parse() {
        let c = KernelConfig::from_sources(None, std::iter::empty::<(String, String)>()).unwrap();
        assert_eq!(c.kernel.mailbox_capacity, 1024);
        assert_eq!(c.supervisor.max_restarts, 3);
    }

    #[test]
    fn edit_distance_finds_typos() {
        assert_eq!(edit_distance("kernel.arbitrs", "kernel.arbiters"), 1);
        assert_eq!(edit_distance("abc", "abc"), 0);
    }
}
