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
    // scheme://user:password@host/db?password=… → scheme://user:***@host/db?password=***
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => {
            // Passwords may contain '@' and '/', so the host starts after the last '@'.
            let (authority, path) = match rest.rfind('@') {
                Some(at) => (&rest[..at], &rest[at..]),
                None => ("", rest),
            };
            match authority.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***{path}"),
                None => format!("{scheme}://{authority}{path}"),
            }
        }
        None => base.to_owned(),
    };
    if let Some(q) = query {
        let params: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_redacts() {
        let u = DbUrl::parse("postgres://minyi:s3cret@db:5432/minyi").unwrap();
        assert_eq!(u.backend, Backend::Postgres);
        assert_eq!(u.redacted(), "postgres://minyi:***@db:5432/minyi");
        let tricky =
            DbUrl::parse("postgres://u:p@ss/w@h:5432/db?sslmode=disable&password=x").unwrap();
        assert_eq!(
            tricky.redacted(),
            "postgres://u:***@h:5432/db?sslmode=disable&password=***"
        );
        assert_eq!(
            DbUrl::parse("postgres://h/db").unwrap().redacted(),
            "postgres://h/db"
        );
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
