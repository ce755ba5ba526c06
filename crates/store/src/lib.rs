//! minyi-store: persistence for SQLite (embedded default) and PostgreSQL (production)
//! behind one API, with the migrations of each dialect applied at start.
//!
//! The backend is chosen at run time from the URL. SQL here is portable: `$1` placeholders,
//! BIGINT ids and epoch-millisecond times, TEXT codes. This crate must not hold business
//! rules (the lifecycle lives in `minyi-core`); it stores and fetches, transactionally.

mod accounts;
mod analysis;
mod assess;
mod audit;
pub mod baseline;
mod briefings;
mod bulk;
mod callbacks;
mod cards;
mod contacts;
pub mod dashboard;
mod error;
pub mod geometry;
mod import;
mod kiosk;
pub mod lists;
mod merges;
mod migrate;
mod opinions;
mod org;
mod outbox;
mod records;
mod surveys;
pub mod testing;
mod url;
mod watch;

pub use accounts::{AccountRow, ApiKeyRow, NewAccount, NewApiKey, SessionRow};
pub use analysis::{CaseRow, CorrectionRow, EscalationRow, JointRow, LabelRow, Labels, NewLabels};
pub use assess::{
    AppealQuery, AppealResolution, AppealRow, MetricImportOutcome, MetricValue, NewAppeal,
    NewMetricBatch, NewRun, RunRow, RunSummary,
};
pub use audit::{AUDIT_GENESIS, AuditRow, NewAudit};
pub use briefings::{
    BriefingChange, BriefingRow, BriefingState, DepartmentCount, NewBriefing, NewSection,
    SectionRow,
};
pub use callbacks::{
    AttemptChange, AttemptRow, CallbackQuery, CallbackRow, NewCallback, PlanRecord,
};
pub use cards::{ScanCount, ScanTarget, StationScans};
pub use contacts::{ANONYMISED, ContactRow, NewContact};
pub use error::{Result, StoreError};
pub use import::ImportItem;
pub use merges::{MERGEABLE, MergeOutcome, ProposalRow, ProposalState, TriageRecord};
pub use migrate::{LATEST as SCHEMA_VERSION, schema_columns};
pub use opinions::{AuditSeal, Changes, InsertOutcome, IntakeWrite, OpinionRow, Step};
pub use org::{AreaRow, OfficerRow, UnitRow};
pub use outbox::{Backoff, NewOutbox, OutboxRow, OutboxState};
pub use records::{
    AppliedBatch, Counts, EventRow, ImportRecord, IndicatorCount, IndicatorRecord, IndicatorWindow,
    RecordWrite, StoredRecord, UnitActivity, bare_sqlite_insert_incidents,
};
pub use surveys::{AllocationRow, NewResponse, NewWave, ResponseRow, WaveRow};
pub use url::{Backend, DbUrl};
pub use watch::DueMatter;

use sqlx::AnyPool;
use sqlx::ConnectOptions;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// What every SQLite connection is set to, the store's and the benchmarks' bare loops'
/// alike. WAL lets readers run beside the writer; FULL sync makes an acknowledged write
/// survive power loss, not only a crash; a 64 MiB page cache (SQLite's default is 2 MiB)
/// keeps the indexes a bulk import writes into — the phone hashes land at random places —
/// in memory instead of reading their pages back from the file for every batch. The cache
/// grows only as pages are used.
pub(crate) const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536;";

/// The one handle to the database. Cheap to clone; share it.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    url: DbUrl,
}

impl Store {
    /// Opens (creating a SQLite file if none exists) and migrates the database.
    ///
    /// Refuses a file that is not SQLite, a database holding someone else's tables, and
    /// a schema newer than this build knows, so existing data is never written over.
    pub async fn open(url: &str) -> Result<Store> {
        let url = DbUrl::parse(url)?;
        Self::open_url(url).await
    }

    pub async fn open_url(url: DbUrl) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let mut connect_url = url.as_str().to_owned();
        if let Some(path) = &url.sqlite_path {
            prepare_sqlite_file(path)?;
            if !connect_url.contains("mode=") {
                connect_url.push_str(if connect_url.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
        }
        let backend = url.backend;
        // An in-memory SQLite database exists per connection: keep exactly one.
        let max = match (backend, url.sqlite_path.is_some()) {
            (Backend::Sqlite, false) => 1,
            (Backend::Sqlite, true) => 4,
            (Backend::Postgres, _) => 16,
        };
        let options = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlx::raw_sql(SQLITE_PRAGMAS).execute(conn).await?;
                    }
                    Ok(())
                })
            });
        // Statement logging is off: bulk statements are megabytes long, and SQL text with
        // bound values never belongs in a log that may be read by others.
        let connect_options = AnyConnectOptions::from_str(&connect_url)
            .map_err(|cause| StoreError::Open {
                url: url.redacted(),
                hint: "check the URL",
                cause,
            })?
            .log_statements(log::LevelFilter::Off)
            .log_slow_statements(log::LevelFilter::Off, Duration::default());
        let open_error = |cause| StoreError::Open {
            url: url.redacted(),
            hint: match backend {
                Backend::Sqlite => {
                    "check that the file is a minyi database and the directory is writable"
                }
                Backend::Postgres => {
                    "check that PostgreSQL is running and reachable, and that the database exists and the user may use it"
                }
            },
            cause,
        };
        // One direct connection first: a pool would retry a refused connection until its
        // timeout and then report only "timed out", losing the cause.
        {
            use sqlx::Connection;
            let probe = sqlx::AnyConnection::connect_with(&connect_options)
                .await
                .map_err(open_error)?;
            let _ = probe.close().await;
        }
        let pool = options.connect_with(connect_options).await.map_err(|cause| StoreError::Open {
            url: url.redacted(),
            hint: match backend {
                Backend::Sqlite => "check that the file is a minyi database and the directory is writable",
                Backend::Postgres => {
                    "check that PostgreSQL is running and reachable, and that the database exists and the user may use it"
                }
            },
            cause,
        })?;
        let store = Store { pool, url };
        migrate::run(&store).await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.url.backend
    }

    /// The URL, password redacted.
    pub fn url(&self) -> String {
        self.url.redacted()
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Answers whether the database responds (for /readyz).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn meta_get(&self, key: &str) -> Result<Option<String>> {
        use sqlx::Row;
        let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(key.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
    }

    pub async fn meta_set(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key.to_owned())
        .bind(value.to_owned())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// A SQLite file must be SQLite if it exists, and its directory must exist and be
/// writable if it does not: the store never conjures a directory tree from a typo.
fn prepare_sqlite_file(path: &std::path::Path) -> Result<()> {
    use std::io::Read;
    let shown = path.display().to_string();
    match std::fs::File::open(path) {
        Ok(mut f) => {
            let mut header = [0u8; 16];
            let n = f.read(&mut header).map_err(|e| StoreError::CannotCreate {
                path: shown.clone(),
                why: e.to_string(),
            })?;
            // An empty file is what some tools leave behind; SQLite treats it as a new database.
            if n > 0 && header != *b"SQLite format 3\0" {
                return Err(StoreError::NotSqlite { path: shown });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => std::path::Path::new("."),
            };
            let meta = std::fs::metadata(dir).map_err(|e| StoreError::CannotCreate {
                path: shown.clone(),
                why: format!("directory {} is not usable: {e}", dir.display()),
            })?;
            if !meta.is_dir() {
                return Err(StoreError::CannotCreate {
                    path: shown,
                    why: format!("{} is not a directory", dir.display()),
                });
            }
            if meta.permissions().readonly() {
                return Err(StoreError::CannotCreate {
                    path: shown,
                    why: format!("directory {} is read-only", dir.display()),
                });
            }
            tracing::info!(path = %shown, "creating a new SQLite database");
            Ok(())
        }
        Err(e) => Err(StoreError::CannotCreate {
            path: shown,
            why: e.to_string(),
        }),
    }
}

/// Epoch milliseconds, the stored form of every instant.
pub(crate) fn ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(v: i64) -> Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(v)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {v} out of range")))
}
