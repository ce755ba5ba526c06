//! Schema migrations, one numbered list per dialect, applied in order at start.
//!
//! Our own runner rather than sqlx's: it also refuses foreign databases and schemas
//! newer than the build, and it needs nothing but the two SQL folders.

use sqlx::Row;

use crate::error::{Result, StoreError};
use crate::{Backend, Store};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "security",
        sqlite: include_str!("../migrations/sqlite/0002_security.sql"),
        postgres: include_str!("../migrations/postgres/0002_security.sql"),
    },
    Migration {
        version: 3,
        name: "area_geometry",
        sqlite: include_str!("../migrations/sqlite/0003_area_geometry.sql"),
        postgres: include_str!("../migrations/postgres/0003_area_geometry.sql"),
    },
    Migration {
        version: 4,
        name: "dashboard",
        sqlite: include_str!("../migrations/sqlite/0004_dashboard.sql"),
        postgres: include_str!("../migrations/postgres/0004_dashboard.sql"),
    },
    Migration {
        version: 5,
        name: "outbox",
        sqlite: include_str!("../migrations/sqlite/0005_outbox.sql"),
        postgres: include_str!("../migrations/postgres/0005_outbox.sql"),
    },
    Migration {
        version: 6,
        name: "cards",
        sqlite: include_str!("../migrations/sqlite/0006_cards.sql"),
        postgres: include_str!("../migrations/postgres/0006_cards.sql"),
    },
    Migration {
        version: 7,
        name: "merge",
        sqlite: include_str!("../migrations/sqlite/0007_merge.sql"),
        postgres: include_str!("../migrations/postgres/0007_merge.sql"),
    },
    Migration {
        version: 8,
        name: "records",
        sqlite: include_str!("../migrations/sqlite/0008_records.sql"),
        postgres: include_str!("../migrations/postgres/0008_records.sql"),
    },
    Migration {
        version: 9,
        name: "callbacks",
        sqlite: include_str!("../migrations/sqlite/0009_callbacks.sql"),
        postgres: include_str!("../migrations/postgres/0009_callbacks.sql"),
    },
    Migration {
        version: 10,
        name: "surveys",
        sqlite: include_str!("../migrations/sqlite/0010_surveys.sql"),
        postgres: include_str!("../migrations/postgres/0010_surveys.sql"),
    },
    Migration {
        version: 11,
        name: "assessment",
        sqlite: include_str!("../migrations/sqlite/0011_assessment.sql"),
        postgres: include_str!("../migrations/postgres/0011_assessment.sql"),
    },
    Migration {
        version: 12,
        name: "analysis",
        sqlite: include_str!("../migrations/sqlite/0012_analysis.sql"),
        postgres: include_str!("../migrations/postgres/0012_analysis.sql"),
    },
    Migration {
        version: 13,
        name: "briefings",
        sqlite: include_str!("../migrations/sqlite/0013_briefings.sql"),
        postgres: include_str!("../migrations/postgres/0013_briefings.sql"),
    },
];

/// The schema version this build writes.
pub const LATEST: i64 = 13;

const LEDGER: &str = "minyi_migrations";

pub(crate) async fn run(store: &Store) -> Result<()> {
    let pool = store.pool();
    let mut conn = pool.acquire().await?;
    if store.backend() == Backend::Postgres {
        // Several `minyi serve` processes may start at once against one database.
        sqlx::query("SELECT pg_advisory_lock(7366960)")
            .execute(&mut *conn)
            .await?;
    }
    // Errors inside name the database, so a damaged file is reported by its path.
    let result = run_locked(store, &mut conn).await.map_err(|e| match e {
        StoreError::Db(cause) => StoreError::Open {
            url: store.url(),
            hint: "the database could not be read; it may be damaged or not a minyi database",
            cause,
        },
        other => other,
    });
    if store.backend() == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_unlock(7366960)")
            .execute(&mut *conn)
            .await?;
    }
    result
}

async fn run_locked(store: &Store, conn: &mut sqlx::AnyConnection) -> Result<()> {
    let tables = table_names(store, conn).await?;
    let ours = tables.iter().any(|t| t == LEDGER);
    if !ours && !tables.is_empty() {
        let mut shown: Vec<_> = tables.iter().take(5).cloned().collect();
        if tables.len() > 5 {
            shown.push("…".into());
        }
        return Err(StoreError::Foreign {
            url: store.url(),
            tables: shown.join(", "),
        });
    }
    if !ours {
        let sql = format!(
            "CREATE TABLE {LEDGER} (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await?;
    }
    let current: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COALESCE(MAX(version), 0) FROM {LEDGER}"
    )))
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?;
    if current > LATEST {
        return Err(StoreError::TooNew {
            url: store.url(),
            found: current,
            known: LATEST,
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let sql = match store.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        let fail = |cause| StoreError::Migration {
            url: store.url(),
            version: m.version,
            name: m.name,
            cause,
        };
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(fail)?;
        if m.version == 1 {
            // Marks the database as minyi's in the same transaction that made it.
            sqlx::query("INSERT INTO meta (key, value) VALUES ('app', 'minyi')")
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {LEDGER} (version, name, applied_at) VALUES ($1, $2, $3)"
        )))
        .bind(m.version)
        .bind(m.name)
        .bind(chrono::Utc::now().timestamp_millis())
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
    }
    Ok(())
}

async fn table_names(store: &Store, conn: &mut sqlx::AnyConnection) -> Result<Vec<String>> {
    let sql = match store.backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT table_name::TEXT FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name"
        }
    };
    let rows = sqlx::query(sql).fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
        .collect()
}

/// Tables and their columns as the live database reports them, for the test that both
/// dialects' migrations produce the same schema.
pub async fn schema_columns(store: &Store) -> Result<Vec<(String, String)>> {
    let mut conn = store.pool().acquire().await?;
    let mut out = Vec::new();
    for table in table_names(store, &mut conn).await? {
        let sql = match store.backend() {
            Backend::Sqlite => {
                format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid")
            }
            Backend::Postgres => format!(
                "SELECT column_name::TEXT FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '{table}' ORDER BY ordinal_position"
            ),
        };
        for r in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await?
        {
            out.push((table.clone(), r.try_get::<String, _>(0)?));
        }
    }
    Ok(out)
}
