//! Database URLs: which backend, where the SQLite file is, and a form safe to print.

use crate::error::{Result, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A parsed database URL.
#[derive(Debug, Clone)]
pub struct DbUrl {
    pub backend: Backend,
    raw: String,
    /// The SQLite file (None for PostgreSQL and in-memory SQLite).
    pub sqlite_path: Option<std::path::PathBuf>,
}

impl DbUrl {
    pub fn parse(url: &str) -> Result<DbUrl> {
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let path = rest.split('?').next().unwrap_or("");
            if path.is_empty() {
                return Err(StoreError::UnsupportedUrl(url.to_owned()));
            }
            let sqlite_path = (path != ":memory:").then(|| std::path::PathBuf::from(path));
            Ok(DbUrl {
                backend: Backend::Sqlite,
                raw: url.to_owned(),
                sqlite_path,
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbUrl {
                backend: Backend::Postgres,
                raw: url.to_owned(),
                sqlite_path: None,
            })
        } else {
            Err(StoreError::UnsupportedUrl(redact(url)))
        }
    }

    /// The URL to hand to the driver.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The URL with any password replaced, for messages and logs.
    pub fn redacted(&self) -> String {
        redact(&self.raw)
    }

    /// A SQLite URL for a file path.
    pub fn sqlite_file(path: &std::path::Path) -> DbUrl {
        DbUrl {
            backend: Backend::Sqlite,
            raw: format!("sqlite://{}", path.display()),
            sqlite_path: Some(path.to_owned()),
        }
    }
}

fn redact(url: &str) -> String {
    // scheme://user:password@host → scheme://user:***@host
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_redacts() {
        let u = DbUrl::parse("postgres://minyi:s3cret@db:5432/minyi").unwrap();
        assert_eq!(u.backend, Backend::Postgres);
        assert_eq!(u.redacted(), "postgres://minyi:***@db:5432/minyi");
        let s = DbUrl::parse("sqlite:///var/lib/minyi/minyi.db?mode=rwc").unwrap();
        assert_eq!(
            s.sqlite_path.unwrap().to_str(),
            Some("/var/lib/minyi/minyi.db")
        );
        assert!(
            DbUrl::parse("sqlite::memory:")
                .unwrap()
                .sqlite_path
                .is_none()
        );
        assert!(DbUrl::parse("mysql://x").is_err());
        assert!(DbUrl::parse("sqlite://").is_err());
    }
}
