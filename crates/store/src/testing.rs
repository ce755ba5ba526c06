//! Throw-away databases for tests of this and other crates: a fresh SQLite file, or a
//! freshly created PostgreSQL database (from `MINYI_TEST_DATABASE_URL`) that is dropped
//! afterwards. Under `CI=true` a missing or unreachable PostgreSQL is a failure.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

use crate::Backend;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A database that exists for one test.
pub struct TestDb {
    pub backend: Backend,
    /// The URL to open it with.
    pub url: String,
    admin_url: Option<String>,
    name: String,
    dir: Option<std::path::PathBuf>,
}

/// Whether a PostgreSQL test URL is configured. Under `CI=true` its absence panics so a
/// CI run can never pass without the PostgreSQL half of a suite.
pub fn postgres_url() -> Option<String> {
    match std::env::var("MINYI_TEST_DATABASE_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "CI=true but MINYI_TEST_DATABASE_URL is not set: the PostgreSQL suite must run in CI"
            )
        }
        _ => {
            eprintln!(
                "NOTE: MINYI_TEST_DATABASE_URL is not set, so this PostgreSQL test ran nothing. \
                 Set it (e.g. postgres://postgres@127.0.0.1:5432/postgres) to run it."
            );
            None
        }
    }
}

impl TestDb {
    /// A new, empty SQLite file in a fresh temporary directory.
    pub fn sqlite() -> TestDb {
        let name = unique("minyi_test");
        let dir = std::env::temp_dir().join(&name);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("cannot create test directory {}: {e}", dir.display());
        }
        let url = format!("sqlite://{}", dir.join("minyi.db").display());
        TestDb {
            backend: Backend::Sqlite,
            url,
            admin_url: None,
            name,
            dir: Some(dir),
        }
    }

    /// A new, empty PostgreSQL database next to the one `MINYI_TEST_DATABASE_URL` names,
    /// or None when that is not set (outside CI).
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = postgres_url()?;
        let name = unique("minyi_test");
        let mut conn = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) => panic!("MINYI_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}"),
        };
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
        {
            panic!("cannot create test database {name}: {e}");
        }
        let _ = conn.close().await;
        let url = replace_database(&admin_url, &name);
        Some(TestDb {
            backend: Backend::Postgres,
            url,
            admin_url: Some(admin_url),
            name,
            dir: None,
        })
    }

    /// The directory of a SQLite test database.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_deref()
    }

    /// Removes the database. Call it at the end of a test (a failing test leaves it
    /// behind for inspection).
    pub async fn drop_db(self) {
        if let Some(admin) = &self.admin_url
            && let Ok(mut conn) = sqlx::PgConnection::connect(admin).await
        {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(&mut conn)
            .await;
            let _ = conn.close().await;
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Replaces the database name in a PostgreSQL URL, keeping its query string.
pub fn replace_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_and_path = &base[scheme_end..];
    let host = host_and_path.split('/').next().unwrap_or(host_and_path);
    let mut out = format!("{}{}/{}", &base[..scheme_end], host, db);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_database_name() {
        assert_eq!(
            super::replace_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::replace_database("postgres://u:p@h/db?sslmode=disable", "y"),
            "postgres://u:p@h/y?sslmode=disable"
        );
        assert_eq!(
            super::replace_database("postgres://h", "z"),
            "postgres://h/z"
        );
    }
}
