//! Allow and block lists of names (tools, agents, models, hosts): exact names, a trailing `*`
//! for a prefix (`fs.*`, `mcp.github.*`), or `*` for every name.

use serde::{Deserialize, Serialize};

/// Names allowed and blocked. A name is allowed when it matches `allow` (an empty `allow`
/// allows every name) and matches nothing in `block`; `block` wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AllowBlock {
    /// Patterns of allowed names; empty: all.
    pub allow: Vec<String>,
    /// Patterns of blocked names.
    pub block: Vec<String>,
}

/// Whether `name` matches `pattern` (exact, `prefix*`, or `*`).
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

impl AllowBlock {
    /// Everything allowed.
    pub fn all() -> Self {
        AllowBlock::default()
    }

    /// Only these patterns.
    pub fn only<I, S>(patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        AllowBlock {
            allow: patterns.into_iter().map(Into::into).collect(),
            block: Vec::new(),
        }
    }

    /// Adds blocked patterns.
    pub fn blocking<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.block.extend(patterns.into_iter().map(Into::into));
        self
    }

    /// Whether it allows every name (no check needed).
    pub fn is_open(&self) -> bool {
        self.allow.is_empty() && self.block.is_empty()
    }

    /// `Ok` or why `name` is refused.
    pub fn check(&self, name: &str) -> Result<(), String> {
        if let Some(p) = self.block.iter().find(|p| matches(p, name)) {
            return Err(format!("`{name}` is blocked (`{p}`)"));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|p| matches(p, name)) {
            return Err(format!("`{name}` is not in the allow list"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_wins_and_prefixes_match() {
        let rules = AllowBlock::only(["fs.*", "http.fetch"]).blocking(["fs.write"]);
        assert!(rules.check("fs.read").is_ok());
        assert!(rules.check("http.fetch").is_ok());
        assert!(rules.check("fs.write").unwrap_err().contains("blocked"));
        assert!(rules.check("shell.run").unwrap_err().contains("allow list"));
        assert!(AllowBlock::all().check("anything").is_ok());
        assert!(matches("*", "x"));
        assert!(!matches("fs", "fs.read"));
    }
}
