//! Callback tasks (回访), their attempts, and what the callback planner reads: records
//! changed since its cursor, with their contacts' presence and their milestone events.
//! The rules that decide what to plan live in `minyi_core::callback`; this module only
//! stores and fetches, each change with its history in one transaction.

use chrono::{DateTime, Utc};
use minyi_core::callback::Exclusion;
use minyi_core::event::SubjectKind;
use minyi_core::records::{CallbackOutcome, CallbackSource, CallbackState, RecordAction};
use minyi_core::taxonomy::{Category, Verdict};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError};
use crate::{Store, from_ms, ms};

/// A record as the planner sees it. Milestone times come from the record's own columns;
/// the events add those the columns do not carry (a loss recovered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRecord {
    pub source: CallbackSource,
    pub id: i64,
    pub external_id: String,
    /// Incident: its unit; case: its station; permit: its window.
    pub unit_id: Option<i64>,
    pub area_id: Option<i64>,
    pub category: Option<Category>,
    pub police_matter: bool,
    pub contact_id: Option<i64>,
    /// The contact holds a phone number that has not been anonymised.
    pub has_phone: bool,
    pub domestic_violence: bool,
    pub ongoing_danger: bool,
    pub opted_out: bool,
    pub milestones: Vec<(RecordAction, DateTime<Utc>)>,
    pub recovered_fen: i64,
    pub changed_at: i64,
}

/// A callback to create (or, while nobody has called yet, to bring up to date).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCallback {
    pub source: CallbackSource,
    pub source_id: i64,
    pub rule: String,
    pub unit_id: i64,
    pub trigger_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub state: CallbackState,
    pub exclusion: Option<Exclusion>,
    pub contact_id: Option<i64>,
    pub synthetic: bool,
}

/// A callback with what its worklist row and page show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallbackRow {
    pub id: i64,
    pub source: CallbackSource,
    pub source_id: i64,
    pub rule: String,
    pub unit_id: i64,
    pub due_at: DateTime<Utc>,
    pub state: CallbackState,
    pub attempts: i64,
    pub outcome: Option<CallbackOutcome>,
    pub verdict: Option<Verdict>,
    pub trigger_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub excluded_reason: Option<Exclusion>,
    pub contact_id: Option<i64>,
    pub opinion_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The record's number in the police system (shown to the caller, never a name).
    pub external_id: Option<String>,
    /// The contact's masked phone.
    pub phone_masked: Option<String>,
    /// The tracking code of the linked opinion.
    pub opinion_code: Option<String>,
}

/// One call made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttemptRow {
    pub id: i64,
    pub callback_id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub outcome: CallbackOutcome,
    pub verdict: Option<Verdict>,
}

/// The result of one attempt, as the rules decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptChange {
    /// The attempt count the caller saw: a concurrent attempt makes this one a conflict.
    pub expected_attempts: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub outcome: CallbackOutcome,
    pub verdict: Option<Verdict>,
    pub state: CallbackState,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Worklist filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackQuery {
    pub state: Option<CallbackState>,
    pub source: Option<CallbackSource>,
    /// Only pending callbacks past their due time at `now`.
    pub overdue: bool,
    pub limit: i64,
    pub offset: i64,
}

/// The detail of an `attempt` event. Codes only (ASCII words), so the JSON needs no
/// escaping.
fn attempt_detail(outcome: CallbackOutcome, verdict: Option<Verdict>, attempt: i64) -> String {
    format!(
        "{{\"outcome\":\"{}\",\"verdict\":{},\"attempt\":{attempt}}}",
        outcome.code(),
        verdict
            .map(|v| format!("\"{}\"", v.code()))
            .unwrap_or_else(|| "null".into()),
    )
}

const CB_COLS: &str = "c.id, c.source, c.source_id, c.rule, c.unit_id, c.due_at, c.state, c.attempts, \
     c.outcome, c.verdict, c.trigger_at, c.next_attempt_at, c.excluded_reason, c.contact_id, c.opinion_id, \
     c.created_at, c.closed_at, \
     CASE c.source WHEN 'incident' THEN (SELECT external_id FROM incidents WHERE id = c.source_id) \
       WHEN 'case' THEN (SELECT external_id FROM cases WHERE id = c.source_id) \
       WHEN 'permit' THEN (SELECT external_id FROM permits WHERE id = c.source_id) END AS external_id, \
     (SELECT phone_masked FROM contacts WHERE id = c.contact_id) AS phone_masked, \
     (SELECT tracking_code FROM opinions WHERE id = c.opinion_id) AS opinion_code";

fn opt_ms(v: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    v.map(from_ms).transpose()
}

fn cb_row(r: &AnyRow) -> Result<CallbackRow> {
    let parse_opt = |s: Option<String>| s.filter(|s| !s.is_empty());
    Ok(CallbackRow {
        id: r.try_get("id")?,
        source: CallbackSource::parse(&r.try_get::<String, _>("source")?)?,
        source_id: r.try_get("source_id")?,
        rule: r.try_get("rule")?,
        unit_id: r.try_get("unit_id")?,
        due_at: from_ms(r.try_get("due_at")?)?,
        state: CallbackState::parse(&r.try_get::<String, _>("state")?)?,
        attempts: r.try_get("attempts")?,
        outcome: parse_opt(r.try_get("outcome")?)
            .map(|s| CallbackOutcome::parse(&s))
            .transpose()?,
        verdict: parse_opt(r.try_get("verdict")?)
            .map(|s| Verdict::parse(&s))
            .transpose()?,
        trigger_at: opt_ms(r.try_get("trigger_at")?)?,
        next_attempt_at: opt_ms(r.try_get("next_attempt_at")?)?,
        excluded_reason: parse_opt(r.try_get("excluded_reason")?)
            .map(|s| Exclusion::parse(&s))
            .transpose()?,
        contact_id: r.try_get("contact_id")?,
        opinion_id: r.try_get("opinion_id")?,
        created_at: from_ms(r.try_get("created_at")?)?,
        closed_at: opt_ms(r.try_get("closed_at")?)?,
        external_id: r.try_get("external_id")?,
        phone_masked: r.try_get("phone_masked")?,
        opinion_code: r.try_get("opinion_code")?,
    })
}

/// Integer ids as a SQL list: safe to splice, they are numbers.
fn id_list(ids: &[i64]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

impl Store {
    /// Records of `source` changed no later than `until` (epoch ms), in (changed_at, id)
    /// order after the key `after` = (changed_at, id), at most `limit`: the planner's
    /// cursor walks them exactly once per change.
    pub async fn records_to_plan(
        &self,
        source: CallbackSource,
        after: (i64, i64),
        until: i64,
        limit: i64,
    ) -> Result<Vec<PlanRecord>> {
        let contact = "(SELECT CASE WHEN k.phone_enc IS NOT NULL AND k.anonymised_at IS NULL THEN 1 ELSE 0 END \
                        FROM contacts k WHERE k.id = r.contact_id)";
        let (cols, table) = match source {
            CallbackSource::Incident => (
                "r.unit_id, r.area_id, r.category, r.police_matter, r.domestic_violence, r.ongoing_danger, \
                 0 AS recovered_fen, r.received_at AS t_received, r.closed_at AS t_closed, \
                 NULL AS t_filed, NULL AS t_assigned, NULL AS t_caught, NULL AS t_solved, NULL AS t_issued",
                "incidents",
            ),
            CallbackSource::Case => (
                "r.station_id AS unit_id, r.area_id, NULL AS category, 1 AS police_matter, r.domestic_violence, \
                 r.ongoing_danger, r.recovered_fen, r.reported_at AS t_received, r.closed_at AS t_closed, \
                 r.filed_at AS t_filed, r.investigator_assigned_at AS t_assigned, r.suspect_caught_at AS t_caught, \
                 r.solved_at AS t_solved, NULL AS t_issued",
                "cases",
            ),
            CallbackSource::Permit => (
                "r.window_id AS unit_id, NULL AS area_id, NULL AS category, 1 AS police_matter, \
                 0 AS domestic_violence, 0 AS ongoing_danger, 0 AS recovered_fen, r.applied_at AS t_received, \
                 NULL AS t_closed, NULL AS t_filed, NULL AS t_assigned, NULL AS t_caught, NULL AS t_solved, \
                 r.issued_at AS t_issued",
                "permits",
            ),
            CallbackSource::Opinion => return Ok(Vec::new()),
        };
        let sql = format!(
            "SELECT r.id, r.external_id, r.contact_id, r.notices_opt_out, r.changed_at, {contact} AS has_phone, {cols} \
             FROM {table} r WHERE r.changed_at <= $1 AND (r.changed_at > $2 OR (r.changed_at = $2 AND r.id > $3)) \
             ORDER BY r.changed_at, r.id LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(until)
            .bind(after.0)
            .bind(after.1)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut milestones = Vec::new();
            for (col, action) in [
                ("t_received", RecordAction::Received),
                ("t_filed", RecordAction::Filed),
                ("t_assigned", RecordAction::InvestigatorAssigned),
                ("t_caught", RecordAction::SuspectCaught),
                ("t_solved", RecordAction::Solved),
                ("t_closed", RecordAction::Closed),
                ("t_issued", RecordAction::Issued),
            ] {
                if let Some(v) = r.try_get::<Option<i64>, _>(col)? {
                    milestones.push((action, from_ms(v)?));
                }
            }
            let flag = |c: &str| r.try_get::<i64, _>(c).map(|v| v != 0);
            out.push(PlanRecord {
                source,
                id: r.try_get("id")?,
                external_id: r.try_get("external_id")?,
                unit_id: r.try_get("unit_id")?,
                area_id: r.try_get("area_id")?,
                category: r
                    .try_get::<Option<String>, _>("category")?
                    .map(|c| Category::parse(&c))
                    .transpose()?,
                police_matter: flag("police_matter")?,
                contact_id: r.try_get("contact_id")?,
                has_phone: r.try_get::<Option<i64>, _>("has_phone")?.unwrap_or(0) != 0,
                domestic_violence: flag("domestic_violence")?,
                ongoing_danger: flag("ongoing_danger")?,
                opted_out: flag("notices_opt_out")?,
                milestones,
                recovered_fen: r.try_get("recovered_fen")?,
                changed_at: r.try_get("changed_at")?,
            });
        }
        Ok(out)
    }

    /// The earliest event of each record action for these records: milestones the record
    /// columns do not carry (a loss recovered) come from here.
    pub async fn record_milestone_events(
        &self,
        subject: SubjectKind,
        ids: &[i64],
    ) -> Result<Vec<(i64, RecordAction, DateTime<Utc>)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT subject_id, action, MIN(at) AS at FROM events WHERE subject = $1 AND subject_id IN ({}) \
             GROUP BY subject_id, action",
            id_list(ids)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(subject.code())
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            // Other actions on records (annotations) are not milestones.
            if let Ok(a) = RecordAction::parse(&r.try_get::<String, _>("action")?) {
                out.push((r.try_get("subject_id")?, a, from_ms(r.try_get("at")?)?));
            }
        }
        Ok(out)
    }

    /// Creates the callbacks not stored yet; one already stored that nobody has called
    /// yet follows the plan (an exclusion reported later, a contact added, a unit moved).
    /// Returns (created, updated). A callback with attempts is never changed here.
    pub async fn upsert_callbacks(
        &self,
        items: &[NewCallback],
        now: DateTime<Utc>,
    ) -> Result<(u64, u64)> {
        let mut tx = self.pool().begin().await?;
        let (mut created, mut updated) = (0, 0);
        for c in items {
            let reason = c.exclusion.map(|e| e.code());
            let id = sqlx::query(
                "INSERT INTO callbacks (source, source_id, rule, unit_id, due_at, state, attempts, trigger_at, \
                 next_attempt_at, excluded_reason, contact_id, created_at, synthetic) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7, $8, $9, $10, $11) \
                 ON CONFLICT (source, source_id, rule) DO NOTHING RETURNING id",
            )
            .bind(c.source.code())
            .bind(c.source_id)
            .bind(c.rule.clone())
            .bind(c.unit_id)
            .bind(ms(c.due_at))
            .bind(c.state.code())
            .bind(ms(c.trigger_at))
            .bind(reason)
            .bind(c.contact_id)
            .bind(ms(now))
            .bind(c.synthetic as i64)
            .fetch_optional(&mut *tx)
            .await?;
            if id.is_some() {
                created += 1;
                continue;
            }
            let r = sqlx::query(
                "UPDATE callbacks SET state = $4, excluded_reason = $5, unit_id = $6, contact_id = $7 \
                 WHERE source = $1 AND source_id = $2 AND rule = $3 AND attempts = 0 \
                 AND state IN ('pending', 'excluded') \
                 AND (state <> $4 OR COALESCE(excluded_reason, '') <> COALESCE($5, '') OR unit_id <> $6 \
                      OR COALESCE(contact_id, -1) <> COALESCE($7, -1))",
            )
            .bind(c.source.code())
            .bind(c.source_id)
            .bind(c.rule.clone())
            .bind(c.state.code())
            .bind(reason)
            .bind(c.unit_id)
            .bind(c.contact_id)
            .execute(&mut *tx)
            .await?;
            updated += r.rows_affected();
        }
        tx.commit().await?;
        Ok((created, updated))
    }

    /// Writes callbacks together with the calls already made on them (the synthetic demo's
    /// simulated history), in one transaction: each callback with the state, count and
    /// outcome its last attempt left, one attempt row and one `attempt` event per call.
    /// A callback already stored for the same record and rule is left as it is. Returns
    /// how many callbacks were created.
    pub async fn insert_callback_histories(
        &self,
        items: &[(NewCallback, Vec<AttemptChange>)],
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let mut tx = self.pool().begin().await?;
        let mut created = 0;
        let mut events = Vec::new();
        for (c, attempts) in items {
            let last = attempts.last();
            let state = last.map_or(c.state, |a| a.state);
            let closed_at = last
                .filter(|a| a.state != CallbackState::Pending)
                .map(|a| ms(a.at));
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO callbacks (source, source_id, rule, unit_id, due_at, state, attempts, outcome, \
                 verdict, trigger_at, next_attempt_at, excluded_reason, contact_id, created_at, closed_at, synthetic) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                 ON CONFLICT (source, source_id, rule) DO NOTHING RETURNING id",
            )
            .bind(c.source.code())
            .bind(c.source_id)
            .bind(c.rule.clone())
            .bind(c.unit_id)
            .bind(ms(c.due_at))
            .bind(state.code())
            .bind(attempts.len() as i64)
            .bind(last.map(|a| a.outcome.code()))
            .bind(last.and_then(|a| a.verdict).map(|v| v.code()))
            .bind(ms(c.trigger_at))
            .bind(last.map_or(Some(ms(c.trigger_at)), |a| a.next_attempt_at.map(ms)))
            .bind(c.exclusion.map(|e| e.code()))
            .bind(c.contact_id)
            .bind(ms(now))
            .bind(closed_at)
            .bind(c.synthetic as i64)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = id else { continue };
            created += 1;
            for (n, a) in attempts.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO callback_attempts (callback_id, at, actor, outcome, verdict) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(ms(a.at))
                .bind(a.actor.clone())
                .bind(a.outcome.code())
                .bind(a.verdict.map(|v| v.code()))
                .execute(&mut *tx)
                .await?;
                events.push(minyi_core::event::NewEvent {
                    subject: SubjectKind::Callback,
                    subject_id: id,
                    at: a.at,
                    actor: a.actor.clone(),
                    action: "attempt".into(),
                    from_state: Some(CallbackState::Pending.code().into()),
                    to_state: Some(a.state.code().into()),
                    detail: Some(attempt_detail(a.outcome, a.verdict, n as i64 + 1)),
                });
            }
        }
        crate::records::insert_events_in(&mut tx, self.backend(), &events).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn callback(&self, id: i64) -> Result<Option<CallbackRow>> {
        let sql = format!("SELECT {CB_COLS} FROM callbacks c WHERE c.id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(cb_row)
            .transpose()
    }

    /// The callbacks of a record, by rule.
    pub async fn callbacks_of_record(
        &self,
        source: CallbackSource,
        source_id: i64,
    ) -> Result<Vec<CallbackRow>> {
        let sql = format!(
            "SELECT {CB_COLS} FROM callbacks c WHERE c.source = $1 AND c.source_id = $2 ORDER BY c.rule"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(source.code())
            .bind(source_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(cb_row)
            .collect()
    }

    /// The worklist of these units: pending first, then by due time (soonest first).
    /// Returns the page and the total matching.
    pub async fn callback_worklist(
        &self,
        units: &[i64],
        q: &CallbackQuery,
        now: DateTime<Utc>,
    ) -> Result<(Vec<CallbackRow>, i64)> {
        if units.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let mut filter = format!("c.unit_id IN ({})", id_list(units));
        if let Some(s) = q.state {
            filter.push_str(&format!(" AND c.state = '{}'", s.code()));
        }
        if let Some(s) = q.source {
            filter.push_str(&format!(" AND c.source = '{}'", s.code()));
        }
        // The overdue filter is the only one bound to a value: `now` as $1.
        let (now_bind, first) = if q.overdue {
            filter.push_str(" AND c.state = 'pending' AND c.due_at < $1");
            (Some(ms(now)), 2)
        } else {
            (None, 1)
        };
        let mut count = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM callbacks c WHERE {filter}"
        )));
        if let Some(n) = now_bind {
            count = count.bind(n);
        }
        let total: i64 = count.fetch_one(self.pool()).await?.try_get(0)?;
        let sql = format!(
            "SELECT {CB_COLS} FROM callbacks c WHERE {filter} \
             ORDER BY CASE c.state WHEN 'pending' THEN 0 ELSE 1 END, c.due_at, c.id LIMIT ${first} OFFSET ${}",
            first + 1
        );
        let mut page = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(n) = now_bind {
            page = page.bind(n);
        }
        let rows = page
            .bind(q.limit.clamp(1, 500))
            .bind(q.offset.max(0))
            .fetch_all(self.pool())
            .await?;
        Ok((rows.iter().map(cb_row).collect::<Result<_>>()?, total))
    }

    /// Records one attempt: the callback's state, count and outcome, the attempt row and
    /// an event, together. A callback changed meanwhile (another attempt, or not pending
    /// any more) is a conflict and nothing is written.
    pub async fn record_callback_attempt(&self, id: i64, a: &AttemptChange) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        let final_state = a.state != CallbackState::Pending;
        let r = sqlx::query(
            "UPDATE callbacks SET attempts = attempts + 1, state = $1, outcome = $2, verdict = $3, \
             next_attempt_at = $4, closed_at = $5 \
             WHERE id = $6 AND attempts = $7 AND state = 'pending'",
        )
        .bind(a.state.code())
        .bind(a.outcome.code())
        .bind(a.verdict.map(|v| v.code()))
        .bind(a.next_attempt_at.map(ms))
        .bind(final_state.then(|| ms(a.at)))
        .bind(id)
        .bind(a.expected_attempts)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "callback {id} changed meanwhile"
            )));
        }
        sqlx::query(
            "INSERT INTO callback_attempts (callback_id, at, actor, outcome, verdict) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(ms(a.at))
        .bind(a.actor.clone())
        .bind(a.outcome.code())
        .bind(a.verdict.map(|v| v.code()))
        .execute(&mut *tx)
        .await?;
        let detail = attempt_detail(a.outcome, a.verdict, a.expected_attempts + 1);
        crate::records::insert_events_in(
            &mut tx,
            self.backend(),
            &[minyi_core::event::NewEvent {
                subject: SubjectKind::Callback,
                subject_id: id,
                at: a.at,
                actor: a.actor.clone(),
                action: "attempt".into(),
                from_state: Some(CallbackState::Pending.code().into()),
                to_state: Some(a.state.code().into()),
                detail: Some(detail),
            }],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Links the opinion a callback opened. Only once: a second link is a conflict.
    pub async fn link_callback_opinion(&self, id: i64, opinion_id: i64) -> Result<()> {
        let r = sqlx::query(
            "UPDATE callbacks SET opinion_id = $1 WHERE id = $2 AND (opinion_id IS NULL OR opinion_id = $1)",
        )
        .bind(opinion_id)
        .bind(id)
        .execute(self.pool())
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "callback {id} is linked to another opinion"
            )));
        }
        Ok(())
    }

    pub async fn callback_attempts(&self, id: i64) -> Result<Vec<AttemptRow>> {
        let rows = sqlx::query(
            "SELECT id, callback_id, at, actor, outcome, verdict FROM callback_attempts \
             WHERE callback_id = $1 ORDER BY at, id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AttemptRow {
                    id: r.try_get("id")?,
                    callback_id: r.try_get("callback_id")?,
                    at: from_ms(r.try_get("at")?)?,
                    actor: r.try_get("actor")?,
                    outcome: CallbackOutcome::parse(&r.try_get::<String, _>("outcome")?)?,
                    verdict: r
                        .try_get::<Option<String>, _>("verdict")?
                        .map(|v| Verdict::parse(&v))
                        .transpose()?,
                })
            })
            .collect()
    }

    /// Marks every record whose contact has this phone hash as opted out of notices and
    /// callbacks (an SMS reply `TD`), moving `changed_at` so the planner brings their
    /// uncalled callbacks up to date. Returns how many records changed.
    pub async fn opt_out_by_phone_hash(&self, phone_hash: &str, now: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.pool().begin().await?;
        let mut n = 0;
        for table in ["incidents", "cases", "permits"] {
            let sql = format!(
                "UPDATE {table} SET notices_opt_out = 1, changed_at = $2 WHERE notices_opt_out = 0 \
                 AND contact_id IN (SELECT id FROM contacts WHERE phone_hash = $1)"
            );
            n += sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(phone_hash.to_owned())
                .bind(ms(now))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }

    /// The area code a record sits in, for routing the opinion a callback opens.
    pub async fn record_area_code(
        &self,
        source: CallbackSource,
        source_id: i64,
    ) -> Result<Option<String>> {
        let table = match source {
            CallbackSource::Incident => "incidents",
            CallbackSource::Case => "cases",
            _ => return Ok(None),
        };
        let sql = format!(
            "SELECT a.code FROM {table} r JOIN areas a ON a.id = r.area_id WHERE r.id = $1"
        );
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(source_id)
            .fetch_optional(self.pool())
            .await?
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?)
    }
}
