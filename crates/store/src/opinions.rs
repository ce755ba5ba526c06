//! Opinions: idempotent intake (single and bulk), reads, and lifecycle transitions that
//! write the state and its event in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use minyi_core::event::{NewEvent, SubjectKind};
use minyi_core::opinion::{
    Escalation, NewOpinion, OpinionAction, OpinionState, TrackingCode, transition,
};
use minyi_core::taxonomy::{Category, Channel, DepartmentKind, Sentiment, Urgency, Verdict};
use sqlx::Row;
use sqlx::any::{AnyArguments, AnyRow};

use crate::audit::NewAudit;
use crate::bulk::{add, args_for, chunk_rows, insert_sql};
use crate::contacts::NewContact;
use crate::error::{Result, StoreError};
use crate::outbox::NewOutbox;
use crate::{Store, from_ms, ms};

/// What happened to one submitted opinion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored now, with this id.
    Created(i64),
    /// Its client key was seen before: this is the id stored then, and nothing changed.
    Existing(i64),
    /// Its tracking code collided with another opinion's; retry with a fresh code.
    CodeTaken,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OpinionRow {
    pub id: i64,
    pub tracking_code: TrackingCode,
    pub channel: Channel,
    pub text: String,
    pub category: Category,
    pub sentiment: Sentiment,
    pub urgency: Urgency,
    pub department: Option<DepartmentKind>,
    pub area_id: Option<i64>,
    pub unit_id: Option<i64>,
    pub department_id: Option<i64>,
    pub state: OpinionState,
    pub escalation: Escalation,
    pub key_opinion: bool,
    pub received_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub verdict: Option<Verdict>,
    pub merged_into: Option<i64>,
    pub synthetic: bool,
    /// The resident's contact row, if they left one (see `contacts`).
    pub contact_id: Option<i64>,
}

pub(crate) const COLS: &[&str] = &[
    "tracking_code",
    "client_key",
    "channel",
    "text",
    "category",
    "sentiment",
    "urgency",
    "department",
    "area_id",
    "unit_id",
    "department_id",
    "state",
    "escalation",
    "key_opinion",
    "received_at",
    "due_at",
    "closed_at",
    "verdict",
    "synthetic",
];

pub(crate) const SELECT: &str = "SELECT id, tracking_code, channel, text, category, sentiment, urgency, department, area_id, \
     unit_id, department_id, state, escalation, key_opinion, received_at, due_at, closed_at, verdict, merged_into, \
     synthetic, contact_id FROM opinions";

pub(crate) fn bind(
    o: &NewOpinion,
    a: &mut AnyArguments,
) -> std::result::Result<(), sqlx::error::BoxDynError> {
    add(a, o.tracking_code.as_str().to_owned())?;
    add(a, o.client_key.clone())?;
    add(a, o.channel.code())?;
    add(a, o.text.as_str().to_owned())?;
    add(a, o.category.code())?;
    add(a, o.sentiment.code())?;
    add(a, o.urgency.code())?;
    add(a, o.department.map(|d| d.code()))?;
    add(a, o.area_id)?;
    add(a, o.unit_id)?;
    add(a, o.department_id)?;
    add(a, o.state.code())?;
    add(a, o.escalation.code())?;
    add(a, o.key_opinion as i64)?;
    add(a, ms(o.received_at))?;
    add(a, o.due_at.map(ms))?;
    add(a, o.closed_at.map(ms))?;
    add(a, o.verdict.map(|v| v.code()))?;
    add(a, o.synthetic as i64)
}

/// The `received` event every stored opinion starts its history with.
fn receipt(id: i64, at: DateTime<Utc>, state: OpinionState, actor: &str) -> NewEvent {
    NewEvent {
        subject: SubjectKind::Opinion,
        subject_id: id,
        at,
        actor: actor.to_owned(),
        action: "receive".into(),
        from_state: None,
        to_state: Some(state.code().into()),
        detail: None,
    }
}

/// One opinion as intake writes it: the matter, the sealed identity, the audit entry and
/// the resident's "received" notice, committed together or not at all.
/// Not `Debug`: the contact is personal data, even sealed.
#[derive(Clone)]
pub struct IntakeWrite {
    pub opinion: NewOpinion,
    pub contact: Option<NewContact>,
    pub audit: NewAudit,
    pub notice: Option<NewOutbox>,
    /// What the classifier said; its `opinion_id` is filled in once the opinion has one.
    pub triage: Option<crate::merges::TriageRecord>,
}

/// Computes an audit entry's hash from the entry, its seq and the previous entry's hash.
pub type AuditSeal = dyn Fn(&NewAudit, i64, &str) -> String + Send + Sync;

/// Inserts one opinion, its contact and its "received" event in the caller's transaction.
/// When nothing was inserted the caller must roll back, so a retried submission never
/// leaves a second copy of someone's identity.
async fn insert_opinion_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: crate::Backend,
    o: &NewOpinion,
    contact: Option<&NewContact>,
    now: DateTime<Utc>,
) -> Result<InsertOutcome> {
    let contact_id = match contact {
        Some(c) => Some(crate::contacts::insert_contact_in(tx, c, now).await?),
        None => None,
    };
    let mut cols = COLS.to_vec();
    cols.push("contact_id");
    let sql = insert_sql(
        backend,
        "opinions",
        &cols,
        1,
        "ON CONFLICT DO NOTHING RETURNING id",
    );
    let args = args_for(&[(o, contact_id)], &|(o, contact_id), a| {
        bind(o, a)?;
        add(a, *contact_id)
    })?;
    let created = sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(created) = created else {
        let existing = match &o.client_key {
            Some(key) => sqlx::query("SELECT id FROM opinions WHERE client_key = $1")
                .bind(key.clone())
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| r.try_get::<i64, _>(0))
                .transpose()?,
            None => None,
        };
        return Ok(existing.map_or(InsertOutcome::CodeTaken, InsertOutcome::Existing));
    };
    let id: i64 = created.try_get(0)?;
    // No staff member acted: the event names the channel the resident used.
    let actor = o.channel.code();
    crate::records::insert_events_in(
        tx,
        backend,
        &[receipt(id, o.received_at, OpinionState::Received, actor)],
    )
    .await?;
    Ok(InsertOutcome::Created(id))
}

pub(crate) fn row(r: &AnyRow) -> Result<OpinionRow> {
    let s = |c: &str| r.try_get::<String, _>(c);
    let os = |c: &str| r.try_get::<Option<String>, _>(c);
    Ok(OpinionRow {
        id: r.try_get("id")?,
        tracking_code: TrackingCode::parse(&s("tracking_code")?)?,
        channel: Channel::parse(&s("channel")?)?,
        text: s("text")?,
        category: Category::parse(&s("category")?)?,
        sentiment: Sentiment::parse(&s("sentiment")?)?,
        urgency: Urgency::parse(&s("urgency")?)?,
        department: os("department")?
            .map(|d| DepartmentKind::parse(&d))
            .transpose()?,
        area_id: r.try_get("area_id")?,
        unit_id: r.try_get("unit_id")?,
        department_id: r.try_get("department_id")?,
        state: OpinionState::parse(&s("state")?)?,
        escalation: Escalation::parse(&s("escalation")?)?,
        key_opinion: r.try_get::<i64, _>("key_opinion")? != 0,
        received_at: from_ms(r.try_get("received_at")?)?,
        due_at: r
            .try_get::<Option<i64>, _>("due_at")?
            .map(from_ms)
            .transpose()?,
        closed_at: r
            .try_get::<Option<i64>, _>("closed_at")?
            .map(from_ms)
            .transpose()?,
        verdict: os("verdict")?.map(|v| Verdict::parse(&v)).transpose()?,
        merged_into: r.try_get("merged_into")?,
        synthetic: r.try_get::<i64, _>("synthetic")? != 0,
        contact_id: r.try_get("contact_id")?,
    })
}

impl Store {
    /// Stores opinions in one transaction, each with its `received` event. Idempotent on
    /// the client key: a key seen before yields `Existing` with the stored id. Outcomes
    /// come back in input order.
    pub async fn insert_opinions(
        &self,
        opinions: &[NewOpinion],
        actor: &str,
    ) -> Result<Vec<InsertOutcome>> {
        let mut outcomes = vec![InsertOutcome::CodeTaken; opinions.len()];
        let mut tx = self.pool().begin().await?;
        let mut events: Vec<(i64, DateTime<Utc>, OpinionState)> =
            Vec::with_capacity(opinions.len());
        let mut base = 0;
        for chunk in opinions.chunks(chunk_rows(COLS.len())) {
            let sql = insert_sql(
                self.backend(),
                "opinions",
                COLS,
                chunk.len(),
                "ON CONFLICT DO NOTHING RETURNING id, tracking_code",
            );
            let args = args_for(chunk, &bind)?;
            let returned = sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
                .fetch_all(&mut *tx)
                .await?;
            let mut by_code: HashMap<String, i64> = HashMap::with_capacity(returned.len());
            for r in &returned {
                by_code.insert(r.try_get("tracking_code")?, r.try_get("id")?);
            }
            for (i, o) in chunk.iter().enumerate() {
                // A code twice in one batch: only its first row was inserted; `remove`
                // makes every later row with it fall through to the client-key check.
                if let Some(id) = by_code.remove(o.tracking_code.as_str()) {
                    outcomes[base + i] = InsertOutcome::Created(id);
                    events.push((id, o.received_at, OpinionState::Received));
                } else if let Some(key) = &o.client_key {
                    let existing = sqlx::query("SELECT id FROM opinions WHERE client_key = $1")
                        .bind(key.clone())
                        .fetch_optional(&mut *tx)
                        .await?;
                    if let Some(r) = existing {
                        outcomes[base + i] = InsertOutcome::Existing(r.try_get(0)?);
                    }
                }
            }
            base += chunk.len();
        }
        let receipts: Vec<NewEvent> = events
            .into_iter()
            .map(|(id, at, state)| receipt(id, at, state, actor))
            .collect();
        crate::records::insert_events_in(&mut tx, self.backend(), &receipts).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Stores one opinion and the resident's contact (already encrypted, hashed and
    /// masked by the caller) in one transaction: the contact row, the opinion pointing at
    /// it, then its `received` event. Idempotent on the client key like
    /// [`Store::insert_opinions`]: a key seen before yields `Existing` and writes no
    /// contact; a tracking-code collision yields `CodeTaken` and writes nothing.
    /// Stores one opinion with its contact and "received" event (no audit entry, no
    /// notice): for tests and tools. Intake uses [`Store::submit_opinions`].
    pub async fn submit_opinion(
        &self,
        o: &NewOpinion,
        contact: Option<&NewContact>,
        now: DateTime<Utc>,
    ) -> Result<InsertOutcome> {
        let mut tx = self.pool().begin().await?;
        let outcome = insert_opinion_in(&mut tx, self.backend(), o, contact, now).await?;
        if matches!(outcome, InsertOutcome::Created(_)) {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(outcome)
    }

    /// Group commit for intake: stores a batch of opinions — each with its sealed contact,
    /// its "received" event, its audit entry and the resident's notice — in ONE
    /// transaction, so a burst of requests shares one fsync. Each item runs in its own
    /// savepoint: an item whose client key was seen or whose tracking code collided
    /// leaves nothing behind (not even its contact) while the others commit. `seal`
    /// computes an audit entry's hash from its seq and the previous hash.
    pub async fn submit_opinions(
        &self,
        items: &[IntakeWrite],
        seal: &AuditSeal,
    ) -> Result<Vec<InsertOutcome>> {
        let mut tx = self.begin_audited().await?;
        let mut out = Vec::with_capacity(items.len());
        for w in items {
            let mut sp = sqlx::Acquire::begin(&mut *tx).await?;
            let outcome = insert_opinion_in(
                &mut sp,
                self.backend(),
                &w.opinion,
                w.contact.as_ref(),
                w.audit.at,
            )
            .await?;
            if let InsertOutcome::Created(id) = outcome {
                if let Some(t) = &w.triage {
                    let t = crate::merges::TriageRecord {
                        opinion_id: id,
                        ..t.clone()
                    };
                    crate::merges::record_triage_in(&mut sp, &t).await?;
                }
                crate::audit::append_in(&mut sp, &w.audit, &|seq, prev| seal(&w.audit, seq, prev))
                    .await?;
                if let Some(m) = &w.notice {
                    crate::outbox::enqueue_in(&mut sp, m, w.audit.at).await?;
                }
                sp.commit().await?;
            } else {
                sp.rollback().await?;
            }
            out.push(outcome);
        }
        tx.commit().await?;
        Ok(out)
    }

    pub async fn opinion(&self, id: i64) -> Result<Option<OpinionRow>> {
        let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE id = $1"));
        sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(row)
            .transpose()
    }

    pub async fn opinion_by_tracking_code(
        &self,
        code: &TrackingCode,
    ) -> Result<Option<OpinionRow>> {
        let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE tracking_code = $1"));
        sqlx::query(sql)
            .bind(code.as_str().to_owned())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(row)
            .transpose()
    }

    /// A unit's opinions, most urgent deadline first (open ones before closed).
    pub async fn opinions_of_unit(&self, unit_id: i64, limit: i64) -> Result<Vec<OpinionRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE unit_id = $1 ORDER BY CASE WHEN closed_at IS NULL THEN 0 ELSE 1 END, due_at, id LIMIT $2"
        ));
        sqlx::query(sql)
            .bind(unit_id)
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(row)
            .collect()
    }

    /// Opinions whose handling unit is one of `unit_ids` (an account's scope), newest
    /// received first. An empty scope sees nothing and asks the database nothing.
    pub async fn opinions_in_units(&self, unit_ids: &[i64], limit: i64) -> Result<Vec<OpinionRow>> {
        if unit_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = unit_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE unit_id IN ({}) ORDER BY received_at DESC, id DESC LIMIT ${}",
            marks.join(", "),
            ids.len() + 1
        ));
        let mut q = sqlx::query(sql);
        for id in ids {
            q = q.bind(id);
        }
        q.bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(row)
            .collect()
    }

    /// Opinions routed to a linked department (what its liaison sees), newest received first.
    pub async fn opinions_of_department(
        &self,
        department_id: i64,
        limit: i64,
    ) -> Result<Vec<OpinionRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE department_id = $1 ORDER BY received_at DESC, id DESC LIMIT $2"
        ));
        sqlx::query(sql)
            .bind(department_id)
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(row)
            .collect()
    }

    /// Applies a lifecycle action: the core transition decides, the state and its event
    /// are written together, and a concurrent change is reported, not overwritten.
    pub async fn transition_opinion(
        &self,
        id: i64,
        action: OpinionAction,
        actor: &str,
        at: DateTime<Utc>,
        detail: Option<&str>,
    ) -> Result<OpinionState> {
        self.apply_to_opinion(
            id,
            Step::Transition(action),
            actor,
            at,
            detail,
            &Changes::default(),
        )
        .await
    }

    /// One step in a matter's life, written with its event in one transaction: a state
    /// transition (checked by `minyi_core::opinion::transition`) or an annotation that
    /// keeps the state (an escalation, a key-opinion mark, an extension, an overdue mark),
    /// with the column changes that go with it. Returns the state after the step.
    pub async fn apply_to_opinion(
        &self,
        id: i64,
        step: Step,
        actor: &str,
        at: DateTime<Utc>,
        detail: Option<&str>,
        changes: &Changes,
    ) -> Result<OpinionState> {
        // SQLite: take the write lock up front, so a concurrent transition waits
        // (busy_timeout) instead of failing its upgrade from a stale read snapshot.
        let mut tx = match self.backend() {
            crate::Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            crate::Backend::Postgres => self.pool().begin().await?,
        };
        let lock = match self.backend() {
            crate::Backend::Sqlite => "SELECT state FROM opinions WHERE id = $1",
            crate::Backend::Postgres => "SELECT state FROM opinions WHERE id = $1 FOR UPDATE",
        };
        let current = sqlx::query(lock)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("opinion {id}"),
            })?;
        let from = OpinionState::parse(&current.try_get::<String, _>(0)?)?;
        let (to, action_code) = match step {
            Step::Transition(action) => (transition(from, action)?, action.code()),
            Step::Annotate(code) => (from, code),
        };
        // A reopened matter is open again; a closed one records when.
        let closed_at = (!to.is_open()).then(|| ms(at));
        let changed = sqlx::query(
            "UPDATE opinions SET state = $1, \
               closed_at = CASE WHEN $13 = 1 THEN closed_at ELSE $2 END, \
               unit_id = COALESCE($5, unit_id), due_at = COALESCE($6, due_at), \
               verdict = COALESCE($7, verdict), escalation = COALESCE($8, escalation), \
               key_opinion = COALESCE($9, key_opinion), category = COALESCE($10, category), \
               urgency = COALESCE($11, urgency), department_id = COALESCE($12, department_id) \
             WHERE id = $3 AND state = $4",
        )
        .bind(to.code())
        .bind(closed_at)
        .bind(id)
        .bind(from.code())
        .bind(changes.unit_id)
        .bind(changes.due_at.map(ms))
        .bind(changes.verdict.map(|v| v.code()))
        .bind(changes.escalation.map(|e| e.code()))
        .bind(changes.key_opinion.map(i64::from))
        .bind(changes.category.map(|c| c.code()))
        .bind(changes.urgency.map(|u| u.code()))
        .bind(changes.department_id)
        .bind(i64::from(matches!(step, Step::Annotate(_))))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(StoreError::Conflict(format!(
                "opinion {id} changed while this action was applied; reload and try again"
            )));
        }
        sqlx::query(
            "INSERT INTO events (subject, subject_id, at, actor, action, from_state, to_state, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(SubjectKind::Opinion.code())
        .bind(id)
        .bind(ms(at))
        .bind(actor.to_owned())
        .bind(action_code)
        .bind(from.code())
        .bind(to.code())
        .bind(detail.map(str::to_owned))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(to)
    }
}

/// What a step does to the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Transition(OpinionAction),
    /// An event that keeps the state; the code names it (`escalate`, `mark_key`, `extend`,
    /// `overdue`, `remind`…).
    Annotate(&'static str),
}

/// Columns a step may set; `None` leaves a column as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub unit_id: Option<i64>,
    pub department_id: Option<i64>,
    pub due_at: Option<DateTime<Utc>>,
    pub verdict: Option<Verdict>,
    pub escalation: Option<Escalation>,
    pub key_opinion: Option<bool>,
    pub category: Option<Category>,
    pub urgency: Option<Urgency>,
}
