//! The append-only, hash-chained audit log: each entry's hash seals its content and the
//! previous entry's hash, so a deleted or edited entry breaks the chain.
//!
//! The store only orders and keeps entries; the sealing function (a keyed MAC) is the
//! caller's, so this module never holds the audit key. Nothing here updates or deletes.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError};
use crate::{Backend, Store, from_ms, ms};

/// The `prev_hash` of the first entry.
pub const AUDIT_GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The PostgreSQL advisory lock that serialises appends across processes (the migration
/// lock is 7366960; this one must differ).
const AUDIT_LOCK: i64 = 7_366_961;

/// The meta key holding "{seq}:{hash}" of the last entry, written with it, so a
/// truncated log (its newest entries dropped) is told apart from a short one.
const HEAD_KEY: &str = "audit_head";

#[derive(Debug, Clone)]
pub struct NewAudit {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

const AUDIT_COLS: &str = "seq, at, actor, action, subject, detail, prev_hash, hash";

fn audit_row(r: &AnyRow) -> Result<AuditRow> {
    Ok(AuditRow {
        seq: r.try_get("seq")?,
        at: from_ms(r.try_get("at")?)?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        subject: r.try_get("subject")?,
        detail: r.try_get("detail")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// Appends one entry inside a transaction opened by [`Store::begin_audited`] (which holds
/// the lock that keeps seq contiguous).
pub(crate) async fn append_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    e: &NewAudit,
    seal: &(dyn Fn(i64, &str) -> String + Send + Sync),
) -> Result<AuditRow> {
    let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    let (last_seq, prev_hash) = match last {
        Some(r) => (r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?),
        None => (0, AUDIT_GENESIS.to_owned()),
    };
    let seq = last_seq + 1;
    let hash = seal(seq, &prev_hash);
    let at = ms(e.at);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(seq)
    .bind(at)
    .bind(e.actor.clone())
    .bind(e.action.clone())
    .bind(e.subject.clone())
    .bind(e.detail.clone())
    .bind(prev_hash.clone())
    .bind(hash.clone())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(HEAD_KEY)
    .bind(format!("{seq}:{hash}"))
    .execute(&mut **tx)
    .await?;
    Ok(AuditRow {
        seq,
        at: from_ms(at)?,
        actor: e.actor.clone(),
        action: e.action.clone(),
        subject: e.subject.clone(),
        detail: e.detail.clone(),
        prev_hash,
        hash,
    })
}

impl Store {
    /// Appends one entry: seq is the last seq + 1 and `hash = seal(seq, prev_hash)`.
    /// Appends are serialised across connections and processes (SQLite's write lock
    /// taken up front; a PostgreSQL advisory lock), so seq stays contiguous and every
    /// entry chains to the one before. The head in meta is updated in the same transaction.
    pub async fn append_audit(
        &self,
        e: &NewAudit,
        seal: &(dyn Fn(i64, &str) -> String + Send + Sync),
    ) -> Result<AuditRow> {
        let mut tx = self.begin_audited().await?;
        let row = append_in(&mut tx, e, seal).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// A write transaction that may append to the audit log: on SQLite the write lock is
    /// taken at BEGIN (a deferred transaction that reads the head first could deadlock
    /// with another writer), on PostgreSQL the audit advisory lock is held until commit.
    pub(crate) async fn begin_audited(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend() {
            Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => {
                let mut tx = self.pool().begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(AUDIT_LOCK)
                    .execute(&mut *tx)
                    .await?;
                tx
            }
        })
    }

    /// Entries after `after_seq`, oldest first: the verifier walks the log page by page.
    pub async fn audit_page(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {AUDIT_COLS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        ));
        sqlx::query(sql)
            .bind(after_seq)
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(audit_row)
            .collect()
    }

    /// The newest entries, newest first.
    pub async fn audit_recent(&self, limit: i64) -> Result<Vec<AuditRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {AUDIT_COLS} FROM audit_log ORDER BY seq DESC LIMIT $1"
        ));
        sqlx::query(sql)
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(audit_row)
            .collect()
    }

    /// The recorded head (seq, hash) of the log, or None before the first entry.
    pub async fn audit_head(&self) -> Result<Option<(i64, String)>> {
        let Some(v) = self.meta_get(HEAD_KEY).await? else {
            return Ok(None);
        };
        let parsed = v
            .split_once(':')
            .and_then(|(seq, hash)| Some((seq.parse::<i64>().ok()?, hash)))
            .filter(|(seq, hash)| *seq > 0 && !hash.is_empty());
        match parsed {
            Some((seq, hash)) => Ok(Some((seq, hash.to_owned()))),
            None => Err(StoreError::Corrupt(format!(
                "meta `{HEAD_KEY}` should be \"SEQ:HASH\" but is {:?}",
                v.chars().take(80).collect::<String>()
            ))),
        }
    }
}
