//! Database URL parsing: backend detection, password redaction, SQLite paths.

use std::path::PathBuf;

use crate::storage::{Backend, StorageError};

/// Replaces the password of a database URL (userinfo `user:pass@` and any `password=` query
/// parameter) by `***`, so URLs can go into errors and logs.
pub fn redact_url(url: &str) -> String {
    let mut out = match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
                    None => url.to_string(),
                },
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    };
    if let Some(start) = out.find("password=") {
        let value_start = start + "password=".len();
        let value_end = out[value_start..]
            .find('&')
            .map_or(out.len(), |i| value_start + i);
        out.replace_range(value_start..value_end, "***");
    }
    out
}

/// The backend a URL selects, or [`StorageError::UnsupportedScheme`].
pub(super) fn backend_of(url: &str) -> Result<Backend, StorageError> {
    let scheme = url.split_once(':').map_or("", |(s, _)| s);
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        _ => Err(StorageError::UnsupportedScheme {
            scheme: scheme.to_string(),
            url: redact_url(url),
        }),
    }
}

/// The file path of a SQLite URL (`sqlite://PATH`, `sqlite:PATH`), or `None` for in-memory
/// databases.
pub(super) fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        None
    } else {
        Some(PathBuf::from(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_password() {
        assert_eq!(
            redact_url("postgres://bob:s3cret@db:5432/x?sslmode=disable"),
            "postgres://bob:***@db:5432/x?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgres://bob@db/x"),
            "postgres://bob@db/x",
            "no password, nothing to hide"
        );
        assert_eq!(
            redact_url("postgres://db/x?user=a&password=p&x=1"),
            "postgres://db/x?user=a&password=***&x=1"
        );
    }

    #[test]
    fn detects_backend_and_rejects_unknown_scheme() {
        assert_eq!(backend_of("sqlite://a.db").ok(), Some(Backend::Sqlite));
        assert_eq!(backend_of("postgresql://h/d").ok(), Some(Backend::Postgres));
        match backend_of("mysql://u:pw@h/d") {
            Err(StorageError::UnsupportedScheme { scheme, url }) => {
                assert_eq!(scheme, "mysql");
                assert_eq!(url, "mysql://u:***@h/d");
            }
            other => panic!("expected UnsupportedScheme, got {other:?}"),
        }
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://data/k.db?mode=rwc"),
            Some(PathBuf::from("data/k.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///tmp/k.db"),
            Some(PathBuf::from("/tmp/k.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
