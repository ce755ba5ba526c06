//! The notification outbox: messages to residents (SMS today), written durably next to
//! the change they report and sent later by a worker, at least once.
//!
//! Several workers (several `minyi serve` processes on one PostgreSQL) may claim at once:
//! a claim moves `next_attempt_at` forward by a lease in the same statement that selects
//! the rows, and re-checks the due condition on the row it updates, so two claimers never
//! hold the same message. A worker that dies mid-send lets its lease run out and the
//! message is claimed again — hence "at least once".
//!
//! This module stores ciphertext and keyed hashes handed to it; it never sees a phone
//! number in the clear, and it decides nothing about what to send or when to give up
//! beyond the policy the caller passes in.

use chrono::{DateTime, Duration, Utc};
use minyi_core::event::SubjectKind;
use minyi_core::taxonomy::Verdict;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError};
use crate::{Backend, Store, from_ms, ms};

/// Where a message is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum OutboxState {
    /// Waiting for its first attempt.
    Pending,
    /// Delivered to the provider.
    Sent,
    /// An attempt failed; another is due at `next_attempt_at`.
    Failed,
    /// Given up after the last allowed attempt.
    Dead,
}

impl OutboxState {
    pub const ALL: &[OutboxState] = &[Self::Pending, Self::Sent, Self::Failed, Self::Dead];

    pub fn code(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Result<OutboxState> {
        Self::ALL
            .iter()
            .copied()
            .find(|x| x.code() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("outbox state `{s}`")))
    }
}

/// A message to queue. The caller encrypts and hashes the recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutbox {
    /// The channel: `sms`.
    pub kind: String,
    pub recipient_enc: String,
    pub recipient_hash: String,
    /// The template code (`received`, `answered`).
    pub template: String,
    /// The rendered text: tracking code and public wording only.
    pub body: String,
    /// What the message is about, `opinion:CODE`.
    pub subject: Option<String>,
    /// Queue at most one message per key (`received:CODE`); `None` never deduplicates.
    pub dedup_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub kind: String,
    #[serde(skip)]
    pub recipient_enc: String,
    #[serde(skip)]
    pub recipient_hash: String,
    pub template: String,
    pub body: String,
    pub subject: Option<String>,
    pub dedup_key: Option<String>,
    pub state: OutboxState,
    /// Attempts started so far, the current one included once claimed.
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// When to try again and when to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure; it doubles after each further one.
    pub base: Duration,
    /// The longest wait between attempts.
    pub max: Duration,
    /// After this many failed attempts the message is dead.
    pub max_attempts: i64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::seconds(30),
            max: Duration::hours(1),
            max_attempts: 8,
        }
    }
}

impl Backoff {
    /// The wait after the `attempts`-th failed attempt (1-based): base·2^(attempts−1), capped.
    pub fn delay(&self, attempts: i64) -> Duration {
        let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
        let ms = self
            .base
            .num_milliseconds()
            .saturating_mul(1i64 << doublings);
        Duration::milliseconds(ms.min(self.max.num_milliseconds()))
    }
}

const SELECT_COLS: &str = "id, created_at, kind, recipient_enc, recipient_hash, template, body, subject, \
     dedup_key, state, attempts, next_attempt_at, last_error, sent_at";

fn row(r: &AnyRow) -> Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.try_get("id")?,
        created_at: from_ms(r.try_get("created_at")?)?,
        kind: r.try_get("kind")?,
        recipient_enc: r.try_get("recipient_enc")?,
        recipient_hash: r.try_get("recipient_hash")?,
        template: r.try_get("template")?,
        body: r.try_get("body")?,
        subject: r.try_get("subject")?,
        dedup_key: r.try_get("dedup_key")?,
        state: OutboxState::parse(&r.try_get::<String, _>("state")?)?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: from_ms(r.try_get("next_attempt_at")?)?,
        last_error: r.try_get("last_error")?,
        sent_at: r
            .try_get::<Option<i64>, _>("sent_at")?
            .map(from_ms)
            .transpose()?,
    })
}

/// Queues a message inside the caller's transaction, so the change and its notice commit
/// together. Returns the new id, or `None` when the dedup key was queued before.
pub(crate) async fn enqueue_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    m: &NewOutbox,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    let r = sqlx::query(
        "INSERT INTO outbox (created_at, kind, recipient_enc, recipient_hash, template, body, subject, \
         dedup_key, state, attempts, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $1) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(ms(now))
    .bind(m.kind.clone())
    .bind(m.recipient_enc.clone())
    .bind(m.recipient_hash.clone())
    .bind(m.template.clone())
    .bind(m.body.clone())
    .bind(m.subject.clone())
    .bind(m.dedup_key.clone())
    .bind(OutboxState::Pending.code())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(r.map(|r| r.try_get::<i64, _>(0)).transpose()?)
}

impl Store {
    /// Queues one message on its own. See [`enqueue_in`] for the meaning of `None`.
    pub async fn enqueue_outbox(&self, m: &NewOutbox, now: DateTime<Utc>) -> Result<Option<i64>> {
        let mut tx = self.pool().begin().await?;
        let id = enqueue_in(&mut tx, m, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claims up to `limit` due messages (pending or failed, `next_attempt_at <= now`) for
    /// one worker: their next attempt moves to `now + lease` and their attempt count goes
    /// up, in one statement. The returned rows show the count after the claim.
    pub async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<OutboxRow>> {
        // The outer WHERE repeats the due test: PostgreSQL re-evaluates it on a row another
        // claimer updated meanwhile (whose lease now lies in the future), so the loser skips
        // it; SKIP LOCKED lets it take other rows instead of waiting. SQLite runs the whole
        // statement under its single write lock.
        let skip = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE outbox SET next_attempt_at = $1, attempts = attempts + 1 \
             WHERE state IN ('pending', 'failed') AND next_attempt_at <= $2 AND id IN ( \
               SELECT id FROM outbox WHERE state IN ('pending', 'failed') AND next_attempt_at <= $2 \
               ORDER BY next_attempt_at, id LIMIT $3{skip}) \
             RETURNING {SELECT_COLS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ms(now + lease))
            .bind(ms(now))
            .bind(limit.max(0))
            .fetch_all(self.pool())
            .await?;
        let mut out = rows.iter().map(row).collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|m| m.id);
        Ok(out)
    }

    /// Records a delivery.
    pub async fn mark_outbox_sent(&self, id: i64, at: DateTime<Utc>) -> Result<()> {
        let n = sqlx::query(
            "UPDATE outbox SET state = $1, sent_at = $2, last_error = NULL WHERE id = $3",
        )
        .bind(OutboxState::Sent.code())
        .bind(ms(at))
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        if n != 1 {
            return Err(StoreError::NotFound {
                what: format!("outbox message {id}"),
            });
        }
        Ok(())
    }

    /// Records a failed attempt: `failed` with the next attempt after the back-off, or
    /// `dead` once `attempts` (as returned by the claim) reaches the policy's maximum.
    /// `error` must say what the provider answered, never who the message was for.
    pub async fn mark_outbox_failed(
        &self,
        id: i64,
        attempts: i64,
        error: &str,
        at: DateTime<Utc>,
        policy: &Backoff,
    ) -> Result<OutboxState> {
        let state = if attempts >= policy.max_attempts {
            OutboxState::Dead
        } else {
            OutboxState::Failed
        };
        let next = at + policy.delay(attempts);
        let error: String = error.chars().take(500).collect();
        let n = sqlx::query(
            "UPDATE outbox SET state = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4",
        )
        .bind(state.code())
        .bind(ms(next))
        .bind(error)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        if n != 1 {
            return Err(StoreError::NotFound {
                what: format!("outbox message {id}"),
            });
        }
        Ok(state)
    }

    pub async fn outbox_message(&self, id: i64) -> Result<Option<OutboxRow>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SELECT_COLS} FROM outbox WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        r.as_ref().map(row).transpose()
    }

    /// The newest messages first, for operators and tests.
    pub async fn outbox_recent(&self, limit: i64) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SELECT_COLS} FROM outbox ORDER BY id DESC LIMIT $1"
        )))
        .bind(limit.max(0))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row).collect()
    }

    /// The latest message of `template` delivered to a recipient hash at or after `since`:
    /// the invitation a reply answers.
    pub async fn last_sent_to(
        &self,
        recipient_hash: &str,
        template: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<OutboxRow>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SELECT_COLS} FROM outbox WHERE recipient_hash = $1 AND template = $2 \
             AND state = $3 AND sent_at >= $4 ORDER BY sent_at DESC, id DESC LIMIT 1"
        )))
        .bind(recipient_hash.to_owned())
        .bind(template.to_owned())
        .bind(OutboxState::Sent.code())
        .bind(ms(since))
        .fetch_optional(self.pool())
        .await?;
        r.as_ref().map(row).transpose()
    }

    /// Sets the resident's verdict on an opinion and appends a `verdict` event (to_state
    /// empty, `detail` as given: JSON text) in one transaction. The state is left alone: what a
    /// verdict does to the lifecycle is the handling rules' decision.
    pub async fn record_verdict(
        &self,
        opinion_id: i64,
        verdict: Verdict,
        actor: &str,
        at: DateTime<Utc>,
        detail: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        let n = sqlx::query("UPDATE opinions SET verdict = $1 WHERE id = $2")
            .bind(verdict.code())
            .bind(opinion_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            return Err(StoreError::NotFound {
                what: format!("opinion {opinion_id}"),
            });
        }
        sqlx::query(
            "INSERT INTO events (subject, subject_id, at, actor, action, from_state, to_state, detail) \
             VALUES ($1, $2, $3, $4, 'verdict', NULL, NULL, $5)",
        )
        .bind(SubjectKind::Opinion.code())
        .bind(opinion_id)
        .bind(ms(at))
        .bind(actor.to_owned())
        .bind(detail.map(str::to_owned))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
