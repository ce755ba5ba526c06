//! Storage of briefings (研判报告): drafts, edits and published versions, and the few
//! reads that only briefings need (key opinions with their answers, non-police matters
//! by department).
//!
//! A briefing is one version of the report of a unit for a period: its sections keep the
//! generated figures (JSON, written once) beside the text an analyst edits. The store
//! enforces the two rules that must hold under concurrency — a published version is
//! frozen, and an edit made on a stale revision is refused — in the same statement that
//! writes. It must not decide who may edit or what a briefing says (that is
//! `minyi_app::briefings`), and like every read here it takes plain unit ids: cutting
//! them to a principal's scope is the caller's job.

use chrono::{DateTime, Utc};
use minyi_core::event::SubjectKind;
use minyi_core::opinion::{Escalation, OpinionState};
use minyi_core::taxonomy::{Category, Sentiment, Urgency, Verdict};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError};
use crate::opinions::{OpinionRow, SELECT as OPINION_SELECT, row as opinion_row};
use crate::{Store, from_ms, ms};

/// Where a briefing version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum BriefingState {
    /// Editable by the unit's analysts.
    Draft,
    /// Frozen: what leaders read. A change needs a new draft (the next version).
    Published,
}

impl BriefingState {
    pub fn code(self) -> &'static str {
        match self {
            BriefingState::Draft => "draft",
            BriefingState::Published => "published",
        }
    }

    pub fn parse(s: &str) -> Result<BriefingState> {
        match s {
            "draft" => Ok(BriefingState::Draft),
            "published" => Ok(BriefingState::Published),
            other => Err(StoreError::Corrupt(format!("briefing state `{other}`"))),
        }
    }
}

/// One section as drafted: its generated figures (JSON) and its generated text, which
/// is also the first editable text.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSection {
    pub kind: String,
    pub heading: String,
    pub figures: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewBriefing {
    pub unit_id: i64,
    pub period: String,
    pub period_from: DateTime<Utc>,
    pub period_to: DateTime<Utc>,
    pub title: String,
    pub sections: Vec<NewSection>,
    pub synthetic: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BriefingRow {
    pub id: i64,
    pub unit_id: i64,
    pub period: String,
    pub period_from: DateTime<Utc>,
    pub period_to: DateTime<Utc>,
    pub version: i64,
    pub state: BriefingState,
    pub title: String,
    pub revision: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
    pub published_by: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub synthetic: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SectionRow {
    pub position: i64,
    pub kind: String,
    pub heading: String,
    pub figures: String,
    pub body: String,
    pub generated: String,
    pub edited_by: Option<String>,
    pub edited_at: Option<DateTime<Utc>>,
}

/// What became of an edit or a publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BriefingChange {
    /// Written; the briefing is now at this revision.
    Done { revision: i64 },
    /// The briefing is published: nothing was changed.
    Frozen,
    /// Someone changed it since the given revision: nothing was changed.
    Stale { current: i64 },
}

/// Non-police matters of one department kind received in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentCount {
    /// A `DepartmentKind` code.
    pub department: String,
    pub received: i64,
    /// Answered (responded, notified or closed).
    pub answered: i64,
    pub dissatisfied: i64,
}

const COLS: &str = "id, unit_id, period, period_from, period_to, version, state, title, revision, \
     created_by, created_at, updated_by, updated_at, published_by, published_at, synthetic";

fn briefing(r: &AnyRow) -> Result<BriefingRow> {
    Ok(BriefingRow {
        id: r.try_get("id")?,
        unit_id: r.try_get("unit_id")?,
        period: r.try_get("period")?,
        period_from: from_ms(r.try_get("period_from")?)?,
        period_to: from_ms(r.try_get("period_to")?)?,
        version: r.try_get("version")?,
        state: BriefingState::parse(&r.try_get::<String, _>("state")?)?,
        title: r.try_get("title")?,
        revision: r.try_get("revision")?,
        created_by: r.try_get("created_by")?,
        created_at: from_ms(r.try_get("created_at")?)?,
        updated_by: r.try_get("updated_by")?,
        updated_at: from_ms(r.try_get("updated_at")?)?,
        published_by: r.try_get("published_by")?,
        published_at: r
            .try_get::<Option<i64>, _>("published_at")?
            .map(from_ms)
            .transpose()?,
        synthetic: r.try_get::<i64, _>("synthetic")? != 0,
    })
}

fn section(r: &AnyRow) -> Result<SectionRow> {
    Ok(SectionRow {
        position: r.try_get("position")?,
        kind: r.try_get("kind")?,
        heading: r.try_get("heading")?,
        figures: r.try_get("figures")?,
        body: r.try_get("body")?,
        generated: r.try_get("generated")?,
        edited_by: r.try_get("edited_by")?,
        edited_at: r
            .try_get::<Option<i64>, _>("edited_at")?
            .map(from_ms)
            .transpose()?,
    })
}

/// `$first, $first+1, …` for `n` values.
fn marks(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn sorted(ids: &[i64]) -> Vec<i64> {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

impl Store {
    /// Stores a new draft as the next version of its unit and period, with its sections,
    /// in one transaction. Two drafts racing for the same version: the loser gets
    /// `Conflict` and nothing is written.
    pub async fn insert_briefing(
        &self,
        b: &NewBriefing,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<BriefingRow> {
        if b.period_to <= b.period_from {
            return Err(minyi_core::ParseError::Invalid {
                what: "briefing period",
                why: format!(
                    "the period ends ({}) before it starts ({})",
                    b.period_to, b.period_from
                ),
            }
            .into());
        }
        let mut tx = match self.backend() {
            crate::Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            crate::Backend::Postgres => self.pool().begin().await?,
        };
        let version: i64 = sqlx::query(
            "SELECT CAST(COALESCE(MAX(version), 0) + 1 AS BIGINT) FROM briefings \
             WHERE unit_id = $1 AND period = $2",
        )
        .bind(b.unit_id)
        .bind(b.period.clone())
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let inserted = sqlx::query(
            "INSERT INTO briefings (unit_id, period, period_from, period_to, version, state, title, \
               revision, created_by, created_at, updated_by, updated_at, synthetic) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $8, $9, $10) RETURNING id",
        )
        .bind(b.unit_id)
        .bind(b.period.clone())
        .bind(ms(b.period_from))
        .bind(ms(b.period_to))
        .bind(version)
        .bind(BriefingState::Draft.code())
        .bind(b.title.clone())
        .bind(actor.to_owned())
        .bind(ms(now))
        .bind(b.synthetic as i64)
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match inserted {
            Ok(r) => r.try_get(0)?,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(format!(
                    "another draft of the briefing {} took version {version} at the same time",
                    b.period
                )));
            }
            Err(e) => return Err(e.into()),
        };
        for (i, s) in b.sections.iter().enumerate() {
            sqlx::query(
                "INSERT INTO briefing_sections (briefing_id, position, kind, heading, figures, body, generated) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(id)
            .bind(i as i64)
            .bind(s.kind.clone())
            .bind(s.heading.clone())
            .bind(s.figures.clone())
            .bind(s.body.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.briefing(id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("briefing {id}"),
            })
    }

    pub async fn briefing(&self, id: i64) -> Result<Option<BriefingRow>> {
        let sql = format!("SELECT {COLS} FROM briefings WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(briefing)
            .transpose()
    }

    /// The sections of a briefing in order.
    pub async fn briefing_sections(&self, id: i64) -> Result<Vec<SectionRow>> {
        sqlx::query(
            "SELECT position, kind, heading, figures, body, generated, edited_by, edited_at \
             FROM briefing_sections WHERE briefing_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(section)
        .collect()
    }

    /// Briefings of the given units, newest period first, then newest version. An empty
    /// list of units asks the database nothing.
    pub async fn briefings_of_units(
        &self,
        unit_ids: &[i64],
        limit: i64,
    ) -> Result<Vec<BriefingRow>> {
        if unit_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = sorted(unit_ids);
        let sql = format!(
            "SELECT {COLS} FROM briefings WHERE unit_id IN ({}) \
             ORDER BY period_from DESC, unit_id, version DESC LIMIT ${}",
            marks(1, ids.len()),
            ids.len() + 1
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(id);
        }
        q.bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(briefing)
            .collect()
    }

    /// Replaces the text of the named sections (by position) of a draft, if it is still
    /// at `revision`; the briefing moves to the next revision. A published briefing or a
    /// stale revision changes nothing. Positions that do not exist are `Invalid`.
    pub async fn edit_briefing(
        &self,
        id: i64,
        revision: i64,
        edits: &[(i64, String)],
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<BriefingChange> {
        let mut tx = match self.backend() {
            crate::Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            crate::Backend::Postgres => self.pool().begin().await?,
        };
        let done = sqlx::query(
            "UPDATE briefings SET revision = revision + 1, updated_by = $1, updated_at = $2 \
             WHERE id = $3 AND state = $4 AND revision = $5",
        )
        .bind(actor.to_owned())
        .bind(ms(now))
        .bind(id)
        .bind(BriefingState::Draft.code())
        .bind(revision)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            drop(tx);
            let b = self
                .briefing(id)
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    what: format!("briefing {id}"),
                })?;
            return Ok(match b.state {
                BriefingState::Published => BriefingChange::Frozen,
                BriefingState::Draft => BriefingChange::Stale {
                    current: b.revision,
                },
            });
        }
        for (position, body) in edits {
            let n = sqlx::query(
                "UPDATE briefing_sections SET body = $1, edited_by = $2, edited_at = $3 \
                 WHERE briefing_id = $4 AND position = $5",
            )
            .bind(body.clone())
            .bind(actor.to_owned())
            .bind(ms(now))
            .bind(id)
            .bind(*position)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n != 1 {
                // Dropping the transaction rolls back the revision bump too.
                return Err(minyi_core::ParseError::Invalid {
                    what: "briefing section",
                    why: format!("briefing {id} has no section {position}"),
                }
                .into());
            }
        }
        tx.commit().await?;
        Ok(BriefingChange::Done {
            revision: revision + 1,
        })
    }

    /// Publishes a draft if it is still at `revision` (so what was reviewed is what is
    /// published). From then on it is frozen.
    pub async fn publish_briefing(
        &self,
        id: i64,
        revision: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<BriefingChange> {
        let done = sqlx::query(
            "UPDATE briefings SET state = $1, published_by = $2, published_at = $3, \
               updated_by = $2, updated_at = $3, revision = revision + 1 \
             WHERE id = $4 AND state = $5 AND revision = $6",
        )
        .bind(BriefingState::Published.code())
        .bind(actor.to_owned())
        .bind(ms(now))
        .bind(id)
        .bind(BriefingState::Draft.code())
        .bind(revision)
        .execute(self.pool())
        .await?
        .rows_affected();
        if done == 1 {
            return Ok(BriefingChange::Done {
                revision: revision + 1,
            });
        }
        let b = self
            .briefing(id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("briefing {id}"),
            })?;
        Ok(match b.state {
            BriefingState::Published => BriefingChange::Frozen,
            BriefingState::Draft => BriefingChange::Stale {
                current: b.revision,
            },
        })
    }

    /// The key opinions of a period for a briefing: received in `[from, to)` by one of
    /// `unit_ids`, not merged away, and escalated or marked key, urgent, overdue at `now`
    /// (open past its deadline), given a dissatisfied verdict, or a complaint about
    /// conduct — in that order of precedence, newest first within each.
    pub async fn briefing_key_opinions(
        &self,
        unit_ids: &[i64],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OpinionRow>> {
        if unit_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = sorted(unit_ids);
        let n = ids.len();
        let open = OpinionState::ALL
            .iter()
            .filter(|s| s.is_open())
            .map(|s| format!("'{}'", s.code()))
            .collect::<Vec<_>>()
            .join(", ");
        let overdue = format!(
            "(state IN ({open}) AND due_at IS NOT NULL AND due_at < ${})",
            n + 8
        );
        let conduct = format!("(category = ${} AND sentiment = ${})", n + 9, n + 10);
        let sql = format!(
            "{OPINION_SELECT} WHERE unit_id IN ({}) AND received_at >= ${a} AND received_at < ${b} \
             AND state <> ${merged} \
             AND (escalation <> ${station} OR key_opinion = 1 OR urgency = ${urgent} OR verdict = ${dis} \
                  OR {overdue} OR {conduct}) \
             ORDER BY CASE WHEN escalation <> ${station} OR key_opinion = 1 THEN 0 \
                           WHEN urgency = ${urgent} THEN 1 WHEN {overdue} THEN 2 \
                           WHEN verdict = ${dis} THEN 3 ELSE 4 END, \
                      received_at DESC, id DESC LIMIT ${lim}",
            marks(1, n),
            a = n + 1,
            b = n + 2,
            merged = n + 3,
            station = n + 4,
            urgent = n + 5,
            dis = n + 6,
            lim = n + 7,
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(id);
        }
        q.bind(ms(from))
            .bind(ms(to))
            .bind(OpinionState::Merged.code())
            .bind(Escalation::Station.code())
            .bind(Urgency::Urgent.code())
            .bind(Verdict::Dissatisfied.code())
            .bind(limit)
            .bind(ms(now))
            .bind(Category::Conduct.code())
            .bind(Sentiment::Negative.code())
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(opinion_row)
            .collect()
    }

    /// The latest answer given to each of the opinions (its last event that moved it to
    /// `responded`), as `(opinion id, answer text if one was recorded, when)`. Opinions
    /// never answered are absent.
    pub async fn latest_answers(
        &self,
        opinion_ids: &[i64],
    ) -> Result<Vec<(i64, Option<String>, DateTime<Utc>)>> {
        if opinion_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = sorted(opinion_ids);
        let n = ids.len();
        let sql = format!(
            "SELECT subject_id, detail, at FROM events WHERE subject = ${s} AND to_state = ${r} \
             AND subject_id IN ({}) ORDER BY subject_id, at DESC, id DESC",
            marks(1, n),
            s = n + 1,
            r = n + 2,
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(id);
        }
        let rows = q
            .bind(SubjectKind::Opinion.code())
            .bind(OpinionState::Responded.code())
            .fetch_all(self.pool())
            .await?;
        let mut out: Vec<(i64, Option<String>, DateTime<Utc>)> = Vec::new();
        for r in &rows {
            let id: i64 = r.try_get(0)?;
            // Rows come newest first per opinion: keep the first.
            if out.last().is_some_and(|(last, _, _)| *last == id) {
                continue;
            }
            out.push((id, r.try_get(1)?, from_ms(r.try_get(2)?)?));
        }
        Ok(out)
    }

    /// Non-police matters (those with a department kind) received in `[from, to)` by one
    /// of `unit_ids`, per department kind, in code order; merged duplicates not counted.
    pub async fn briefing_departments(
        &self,
        unit_ids: &[i64],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DepartmentCount>> {
        if unit_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = sorted(unit_ids);
        let n = ids.len();
        let answered = [
            OpinionState::Responded,
            OpinionState::Notified,
            OpinionState::Closed,
        ]
        .iter()
        .map(|s| format!("'{}'", s.code()))
        .collect::<Vec<_>>()
        .join(", ");
        let sql = format!(
            "SELECT department, COUNT(*), \
               SUM(CASE WHEN state IN ({answered}) THEN 1 ELSE 0 END), \
               SUM(CASE WHEN verdict = ${dis} THEN 1 ELSE 0 END) \
             FROM opinions WHERE unit_id IN ({}) AND department IS NOT NULL \
             AND received_at >= ${a} AND received_at < ${b} AND state <> ${merged} \
             GROUP BY department ORDER BY department",
            marks(1, n),
            a = n + 1,
            b = n + 2,
            merged = n + 3,
            dis = n + 4,
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(id);
        }
        let rows = q
            .bind(ms(from))
            .bind(ms(to))
            .bind(OpinionState::Merged.code())
            .bind(Verdict::Dissatisfied.code())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DepartmentCount {
                    department: r.try_get(0)?,
                    received: r.try_get(1)?,
                    answered: r.try_get(2)?,
                    dissatisfied: r.try_get(3)?,
                })
            })
            .collect()
    }
}
