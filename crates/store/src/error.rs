//! Store errors. Messages name the database (never its password) and say what to do.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error(
        "{path} is not a SQLite database (wrong file header); point --database-url or --data-dir elsewhere"
    )]
    NotSqlite { path: String },
    #[error("cannot create the database at {path}: {why}")]
    CannotCreate { path: String, why: String },
    // The cause is in the message, not a `source`, so a one-line report says it once.
    #[error("cannot open the database {url}: {cause}; {hint}")]
    Open {
        url: String,
        hint: &'static str,
        cause: sqlx::Error,
    },
    #[error(
        "the database {url} holds tables that are not minyi's ({tables}); refusing to use it — give minyi an empty database of its own"
    )]
    Foreign { url: String, tables: String },
    #[error(
        "the database {url} has schema version {found}, newer than this minyi knows ({known}); upgrade minyi"
    )]
    TooNew { url: String, found: i64, known: i64 },
    #[error("migration {version} ({name}) failed on {url}: {cause}")]
    Migration {
        url: String,
        version: i64,
        name: &'static str,
        cause: sqlx::Error,
    },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{0}")]
    Invalid(#[from] minyi_core::ParseError),
    #[error(transparent)]
    Transition(#[from] minyi_core::opinion::TransitionError),
    /// A write that lost to another: a concurrent change, or a unique name already taken.
    /// One variant for both so callers answer "conflict" (HTTP 409) without listing causes.
    #[error("{0}")]
    Conflict(String),
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Db(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Db(e)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
