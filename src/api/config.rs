//! `[api]`: where `agent-os serve` listens, request limits, the event history and the bearer
//! tokens (stored as SHA-256 digests, never in clear).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// What a token may do. Each role includes the ones below it: `viewer` reads (every `GET`),
/// `operator` also spawns, stops, messages and checkpoints agents, `admin` also kills them,
/// restores and forks checkpoints and verifies the audit chain.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads only.
    Viewer,
    /// Reads, spawns, stops, tells, asks, checkpoints.
    Operator,
    /// Everything.
    Admin,
}

impl Role {
    /// The lowercase name (`viewer`, `operator`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[api.tokens]]` entry: a named bearer token with a role, stored as the hex SHA-256 of
/// the token (`printf %s "$TOKEN" | sha256sum`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    /// Who holds it: the name written to the audit log for its requests.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Hex SHA-256 digest of the token (64 hex digits).
    pub sha256: String,
}

/// `[api]`: see `config/default.toml` for each key's meaning.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Address `agent-os serve` listens on (`--bind` overrides it).
    pub bind: String,
    /// Largest JSON request body, in bytes; a larger one is answered 413.
    pub max_body_bytes: usize,
    /// Kernel events kept for `/v1/events` clients that reconnect with `Last-Event-ID`.
    pub event_history: usize,
    /// Seconds between keepalive comments on `/v1/events`.
    pub keepalive_secs: u64,
    /// Longest `timeout_ms` an ask may request, in milliseconds.
    pub max_ask_timeout_ms: u64,
    /// With no tokens configured, let `agent-os serve` listen on a non-loopback address
    /// anyway (every caller is then an anonymous admin).
    pub allow_anonymous: bool,
    /// The bearer tokens. None: every request is an anonymous admin (see `allow_anonymous`).
    pub tokens: Vec<ApiToken>,
}

impl Default for ApiConfig {
    /// The values of `config/default.toml`.
    fn default() -> Self {
        crate::KernelConfig::default().api
    }
}

/// Decodes a 64-digit hex SHA-256 digest.
pub(crate) fn decode_digest(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

impl ApiConfig {
    /// The bind address, parsed.
    pub fn bind_addr(&self) -> Result<SocketAddr, String> {
        self.bind.parse().map_err(|e| {
            format!(
                "`{}` is not an address such as 127.0.0.1:7878: {e}",
                self.bind
            )
        })
    }

    /// Why serving on `addr` would be unsafe: no tokens are configured, `addr` is not a
    /// loopback address and `allow_anonymous` is not set. `None` when it is safe.
    pub fn exposure_problem(&self, addr: SocketAddr) -> Option<String> {
        if self.tokens.is_empty() && !addr.ip().is_loopback() && !self.allow_anonymous {
            Some(format!(
                "refusing to serve on {addr} without authentication: add [[api.tokens]] (name, role, sha256) to the configuration, bind a loopback address, or set api.allow_anonymous = true to accept anonymous admins from the network"
            ))
        } else {
            None
        }
    }

    /// Invalid values, as (dotted key, reason).
    pub(crate) fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Err(e) = self.bind_addr() {
            out.push(("api.bind".to_string(), e));
        }
        if self.max_body_bytes == 0 {
            out.push(("api.max_body_bytes".into(), "must be at least 1".into()));
        }
        if !(1..=65_536).contains(&self.event_history) {
            out.push(("api.event_history".into(), "must be 1 to 65536".into()));
        }
        if self.keepalive_secs == 0 {
            out.push(("api.keepalive_secs".into(), "must be at least 1".into()));
        }
        if self.max_ask_timeout_ms == 0 {
            out.push(("api.max_ask_timeout_ms".into(), "must be at least 1".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, t) in self.tokens.iter().enumerate() {
            if t.name.trim().is_empty() {
                out.push((format!("api.tokens[{i}].name"), "must not be empty".into()));
            } else if !seen.insert(t.name.as_str()) {
                out.push((
                    format!("api.tokens[{i}].name"),
                    format!("`{}` is used by another token", t.name),
                ));
            }
            if decode_digest(&t.sha256).is_none() {
                out.push((
                    format!("api.tokens[{i}].sha256"),
                    "must be the 64 hex digits of the token's SHA-256 digest (printf %s \"$TOKEN\" | sha256sum), not the token".into(),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_decode_only_when_well_formed() {
        let d = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(decode_digest(d).map(|b| b[0]), Some(0xe3));
        assert!(decode_digest(&d[1..]).is_none());
        assert!(decode_digest(&d.replace('e', "g")).is_none());
    }

    #[test]
    fn anonymous_exposure_needs_consent() {
        let mut c = ApiConfig::default();
        assert!(c.exposure_problem("127.0.0.1:1".parse().unwrap()).is_none());
        assert!(c.exposure_problem("[::1]:1".parse().unwrap()).is_none());
        assert!(c.exposure_problem("0.0.0.0:1".parse().unwrap()).is_some());
        c.allow_anonymous = true;
        assert!(c.exposure_problem("0.0.0.0:1".parse().unwrap()).is_none());
    }
}
