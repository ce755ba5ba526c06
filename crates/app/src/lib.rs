//! minyi-app: the use cases of minyi, composed from the pure crates and the store —
//! opening a data directory, loading the demo city, and the overview the home page shows.
//! Intake, triage, callbacks, surveys, assessments and briefings grow here.
//!
//! It must not speak HTTP or parse command lines (that is `web` and `cli`), and a rule
//! that can be stated without IO belongs in `core`, `stats`, `text` or `assess`.

pub mod analysis;
pub mod assess;
pub mod audit;
pub mod auth;
pub mod briefings;
pub mod callbacks;
pub mod cards;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod geo;
pub mod handling;
pub mod import;
pub mod indicators;
pub mod intake;
pub mod keys;
pub mod kiosk;
pub mod merge;
pub mod notify;
pub mod overview;
pub mod privacy;
pub mod records;
pub mod scoped;
pub mod surveys;
pub mod triage;
pub mod watch;

use std::path::Path;

use minyi_core::calendar::{Calendar, CalendarError};
use minyi_store::{Store, StoreError};

pub use config::{Config, ConfigError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("data directory {path}: {why}")]
    DataDir { path: String, why: String },
    #[error("calendar file {path}: {source}")]
    Calendar {
        path: String,
        #[source]
        source: CalendarError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Refused(String),
    /// The input was wrong; the message says what and where.
    #[error("{0}")]
    Invalid(String),
    /// The principal's role does not allow this.
    #[error("forbidden")]
    Forbidden,
    /// Absent, or outside the principal's scope: the two are indistinguishable on purpose.
    #[error("not found")]
    NotFound,
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// An open minyi: configuration, store and calendar.
#[derive(Clone)]
pub struct App {
    pub config: Config,
    pub store: Store,
    pub calendar: std::sync::Arc<Calendar>,
    /// The data key (see `keys`): encrypts residents' identities, seals the audit chain.
    pub key: std::sync::Arc<minyi_vault::DataKey>,
    /// The triage classifier (keyword rules, or the configured model), loaded once.
    pub triage: std::sync::Arc<triage::Classifier>,
    /// Intake's group-commit writer (see `intake::Committer`).
    pub intake: intake::Committer,
}

impl App {
    /// Prepares the data directory, loads the calendar and opens (and migrates) the store.
    pub async fn open(config: Config) -> Result<App> {
        prepare_data_dir(&config.data_dir)?;
        let calendar = load_calendar(config.calendar_file.as_deref())?;
        let classifier = triage::Classifier::load(&config.triage)?;
        let store = Store::open(&config.effective_database_url()).await?;
        let key = keys::load_or_create(&config, &store).await?;
        let key = std::sync::Arc::new(key);
        Ok(App {
            intake: intake::Committer::start(store.clone(), key.clone()),
            triage: std::sync::Arc::new(classifier),
            config,
            store,
            calendar: std::sync::Arc::new(calendar),
            key,
        })
    }
}

/// For commands that only read: a default (SQLite) store must already exist, so a
/// mistyped `--data-dir` is an error instead of a new empty database.
pub fn require_existing_store(config: &Config) -> Result<()> {
    if config.database_url.is_none() && !config.data_dir.join("minyi.db").exists() {
        return Err(AppError::Refused(format!(
            "no minyi database in {}: give the --data-dir that `minyi serve` or `minyi demo` used, or --database-url",
            config.data_dir.display()
        )));
    }
    Ok(())
}

/// The data directory holds the SQLite file, keys and logs: create it if missing, and
/// fail clearly if it is a file or cannot be written.
pub fn prepare_data_dir(dir: &Path) -> Result<()> {
    let shown = dir.display().to_string();
    let err = |why: String| AppError::DataDir {
        path: shown.clone(),
        why,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(err("exists but is not a directory".into()));
    }
    std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create it: {e}")))?;
    // Permission bits do not tell the whole story (read-only mounts, root): try it.
    let probe = dir.join(".minyi-write-test");
    std::fs::write(&probe, b"ok").map_err(|e| {
        err(format!(
            "cannot write to it: {e}; choose another --data-dir or fix its permissions"
        ))
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The built-in mainland China calendar, or a bureau's own file.
pub fn load_calendar(file: Option<&Path>) -> Result<Calendar> {
    match file {
        None => Calendar::cn_mainland().map_err(|source| AppError::Calendar {
            path: "(built-in)".into(),
            source,
        }),
        Some(path) => {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| AppError::Refused(format!("calendar file {shown}: {e}")))?;
            Calendar::from_toml(&text).map_err(|source| AppError::Calendar {
                path: shown,
                source,
            })
        }
    }
}
