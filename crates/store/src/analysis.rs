//! Storage of the analysis workspaces: analysts' confirmations, relabels and escalations,
//! joint assignments to departments, and the lean reads the hotspot scan needs.
//!
//! It stores and fetches; which opinions an analyst may touch and what a relabel means
//! for routing are decided in `app::analysis`, never here.

use chrono::{DateTime, Utc};
use minyi_core::event::{NewEvent, SubjectKind};
use minyi_core::taxonomy::{Category, DepartmentKind, Sentiment, Urgency};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::Result;
use crate::{Store, from_ms, ms};

/// One matter as the hotspot scan sees it: what, where, when. Opinions merged into
/// another are left out, so one event told five times counts once.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaseRow {
    pub id: i64,
    pub tracking_code: String,
    pub category: Category,
    pub area_id: Option<i64>,
    pub unit_id: Option<i64>,
    pub received_at: DateTime<Utc>,
}

impl Store {
    /// Matters received in `[from, to)` that were not merged into another, oldest first.
    pub async fn analysis_cases(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<CaseRow>> {
        sqlx::query(
            "SELECT id, tracking_code, category, area_id, unit_id, received_at FROM opinions \
             WHERE received_at >= $1 AND received_at < $2 AND merged_into IS NULL \
             ORDER BY received_at, id",
        )
        .bind(ms(from))
        .bind(ms(to))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(CaseRow {
                id: r.try_get("id")?,
                tracking_code: r.try_get("tracking_code")?,
                category: Category::parse(&r.try_get::<String, _>("category")?)?,
                area_id: r.try_get("area_id")?,
                unit_id: r.try_get("unit_id")?,
                received_at: from_ms(r.try_get("received_at")?)?,
            })
        })
        .collect()
    }
}

/// Labels an analyst gave a matter, with the labels it had before.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LabelRow {
    pub id: i64,
    pub opinion_id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `confirm` or `relabel`.
    pub action: String,
    pub labels: Labels,
    pub previous: Labels,
}

/// The four labels of a matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Labels {
    pub category: Category,
    pub sentiment: Sentiment,
    pub urgency: Urgency,
    pub department: Option<DepartmentKind>,
}

/// A label decision to store; for a relabel, the routing that follows from it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLabels {
    pub opinion_id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub relabel: bool,
    pub labels: Labels,
    pub previous: Labels,
    /// For a relabel: the handling unit and the department unit (None clears it).
    pub unit_id: Option<i64>,
    pub department_id: Option<i64>,
}

/// A key opinion escalated by a county to the city.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EscalationRow {
    pub id: i64,
    pub opinion_id: i64,
    pub from_unit_id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub reason: String,
    /// `pending`, `accepted` or `returned`.
    pub state: String,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub note: Option<String>,
}

/// One department's part of a jointly assigned matter.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JointRow {
    pub id: i64,
    pub opinion_id: i64,
    pub department_id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub note: String,
    /// `pending` or `replied`.
    pub reply_state: String,
    pub reply: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
    pub replied_by: Option<String>,
}

/// A correction an analyst made, with the matter's text, for training.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrectionRow {
    pub label: LabelRow,
    pub text: String,
}

fn labels(r: &AnyRow, prefix: &str) -> Result<Labels> {
    let get = |c: &str| r.try_get::<String, _>(format!("{prefix}{c}").as_str());
    Ok(Labels {
        category: Category::parse(&get("category")?)?,
        sentiment: Sentiment::parse(&get("sentiment")?)?,
        urgency: Urgency::parse(&get("urgency")?)?,
        department: r
            .try_get::<Option<String>, _>(format!("{prefix}department").as_str())?
            .map(|d| DepartmentKind::parse(&d))
            .transpose()?,
    })
}

fn label_row(r: &AnyRow) -> Result<LabelRow> {
    Ok(LabelRow {
        id: r.try_get("id")?,
        opinion_id: r.try_get("opinion_id")?,
        at: from_ms(r.try_get("at")?)?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        labels: labels(r, "")?,
        previous: labels(r, "prev_")?,
    })
}

fn opt_ms(r: &AnyRow, col: &str) -> Result<Option<DateTime<Utc>>> {
    r.try_get::<Option<i64>, _>(col)?.map(from_ms).transpose()
}

fn escalation_row(r: &AnyRow) -> Result<EscalationRow> {
    Ok(EscalationRow {
        id: r.try_get("id")?,
        opinion_id: r.try_get("opinion_id")?,
        from_unit_id: r.try_get("from_unit_id")?,
        at: from_ms(r.try_get("at")?)?,
        actor: r.try_get("actor")?,
        reason: r.try_get("reason")?,
        state: r.try_get("state")?,
        decided_at: opt_ms(r, "decided_at")?,
        decided_by: r.try_get("decided_by")?,
        note: r.try_get("note")?,
    })
}

fn joint_row(r: &AnyRow) -> Result<JointRow> {
    Ok(JointRow {
        id: r.try_get("id")?,
        opinion_id: r.try_get("opinion_id")?,
        department_id: r.try_get("department_id")?,
        at: from_ms(r.try_get("at")?)?,
        actor: r.try_get("actor")?,
        note: r.try_get("note")?,
        reply_state: r.try_get("reply_state")?,
        reply: r.try_get("reply")?,
        replied_at: opt_ms(r, "replied_at")?,
        replied_by: r.try_get("replied_by")?,
    })
}

const LABEL_COLS: &str = "id, opinion_id, at, actor, action, category, sentiment, urgency, department, \
     prev_category, prev_sentiment, prev_urgency, prev_department";
const ESCALATION_COLS: &str =
    "id, opinion_id, from_unit_id, at, actor, reason, state, decided_at, decided_by, note";
const JOINT_COLS: &str =
    "id, opinion_id, department_id, at, actor, note, reply_state, reply, replied_at, replied_by";

impl Store {
    /// Open matters (received or triaged, not merged away) of the given handling units
    /// that no analyst has labelled yet: least confident triage first, then oldest.
    pub async fn analysis_queue(&self, unit_ids: &[i64], limit: i64) -> Result<Vec<i64>> {
        if unit_ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = unit_ids
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT o.id FROM opinions o LEFT JOIN opinion_triage t ON t.opinion_id = o.id \
             WHERE o.unit_id IN ({list}) AND o.merged_into IS NULL \
             AND o.state IN ('received', 'triaged') \
             AND NOT EXISTS (SELECT 1 FROM analyst_labels l WHERE l.opinion_id = o.id) \
             ORDER BY COALESCE(t.confidence_permille, 0), o.received_at, o.id LIMIT $1"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }

    /// Stores a confirmation or a relabel with its event; a relabel also rewrites the
    /// matter's labels and routing. One transaction: all or nothing.
    pub async fn record_labels(&self, l: &NewLabels) -> Result<i64> {
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO analyst_labels (opinion_id, at, actor, action, category, sentiment, urgency, \
             department, prev_category, prev_sentiment, prev_urgency, prev_department) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(l.opinion_id)
        .bind(ms(l.at))
        .bind(l.actor.clone())
        .bind(if l.relabel { "relabel" } else { "confirm" })
        .bind(l.labels.category.code())
        .bind(l.labels.sentiment.code())
        .bind(l.labels.urgency.code())
        .bind(l.labels.department.map(|d| d.code().to_owned()))
        .bind(l.previous.category.code())
        .bind(l.previous.sentiment.code())
        .bind(l.previous.urgency.code())
        .bind(l.previous.department.map(|d| d.code().to_owned()))
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if l.relabel {
            sqlx::query(
                "UPDATE opinions SET category = $1, sentiment = $2, urgency = $3, department = $4, \
                 unit_id = $5, department_id = $6 WHERE id = $7",
            )
            .bind(l.labels.category.code())
            .bind(l.labels.sentiment.code())
            .bind(l.labels.urgency.code())
            .bind(l.labels.department.map(|d| d.code().to_owned()))
            .bind(l.unit_id)
            .bind(l.department_id)
            .bind(l.opinion_id)
            .execute(&mut *tx)
            .await?;
        }
        let detail = format!(
            "category={} sentiment={} urgency={} department={} (was {} {} {} {})",
            l.labels.category.code(),
            l.labels.sentiment.code(),
            l.labels.urgency.code(),
            l.labels.department.map_or("-", |d| d.code()),
            l.previous.category.code(),
            l.previous.sentiment.code(),
            l.previous.urgency.code(),
            l.previous.department.map_or("-", |d| d.code()),
        );
        let event = NewEvent {
            subject: SubjectKind::Opinion,
            subject_id: l.opinion_id,
            at: l.at,
            actor: l.actor.clone(),
            action: if l.relabel { "relabel" } else { "confirm" }.into(),
            from_state: None,
            to_state: None,
            detail: Some(detail),
        };
        crate::records::insert_events_in(&mut tx, self.backend(), &[event]).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Every label decision on a matter, oldest first.
    pub async fn labels_of(&self, opinion_id: i64) -> Result<Vec<LabelRow>> {
        let sql = format!(
            "SELECT {LABEL_COLS} FROM analyst_labels WHERE opinion_id = $1 ORDER BY at, id"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(opinion_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(label_row)
            .collect()
    }

    /// The latest analyst decision on each labelled matter that changed its labels,
    /// with the matter's text, oldest first (the training export).
    pub async fn corrections(&self) -> Result<Vec<CorrectionRow>> {
        let cols = LABEL_COLS
            .split(", ")
            .map(|c| format!("l.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols}, o.text FROM analyst_labels l JOIN opinions o ON o.id = l.opinion_id \
             WHERE l.id = (SELECT MAX(m.id) FROM analyst_labels m WHERE m.opinion_id = l.opinion_id) \
             ORDER BY l.id"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(CorrectionRow {
                    label: label_row(r)?,
                    text: r.try_get("text")?,
                })
            })
            .collect()
    }

    /// Escalates a matter to the city. Refused (None) while an escalation of it is pending.
    pub async fn insert_escalation(
        &self,
        opinion_id: i64,
        from_unit_id: i64,
        at: DateTime<Utc>,
        actor: &str,
        reason: &str,
    ) -> Result<Option<i64>> {
        let mut tx = self.pool().begin().await?;
        let pending =
            sqlx::query("SELECT id FROM escalations WHERE opinion_id = $1 AND state = 'pending'")
                .bind(opinion_id)
                .fetch_optional(&mut *tx)
                .await?;
        if pending.is_some() {
            return Ok(None);
        }
        let id: i64 = sqlx::query(
            "INSERT INTO escalations (opinion_id, from_unit_id, at, actor, reason, state) \
             VALUES ($1, $2, $3, $4, $5, 'pending') RETURNING id",
        )
        .bind(opinion_id)
        .bind(from_unit_id)
        .bind(ms(at))
        .bind(actor.to_owned())
        .bind(reason.to_owned())
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Escalations, newest first; only pending ones when `pending_only`.
    pub async fn escalations(&self, pending_only: bool, limit: i64) -> Result<Vec<EscalationRow>> {
        let filter = if pending_only {
            "WHERE state = 'pending'"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {ESCALATION_COLS} FROM escalations {filter} ORDER BY at DESC, id DESC LIMIT $1"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(escalation_row)
            .collect()
    }

    /// Escalations of one matter, oldest first.
    pub async fn escalations_of(&self, opinion_id: i64) -> Result<Vec<EscalationRow>> {
        let sql = format!(
            "SELECT {ESCALATION_COLS} FROM escalations WHERE opinion_id = $1 ORDER BY at, id"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(opinion_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(escalation_row)
            .collect()
    }

    /// Decides the pending escalation of a matter (`accepted` or `returned`); false when
    /// none is pending (decided meanwhile by someone else, or never escalated).
    pub async fn decide_escalation(
        &self,
        opinion_id: i64,
        state: &str,
        at: DateTime<Utc>,
        by: &str,
        note: Option<&str>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE escalations SET state = $1, decided_at = $2, decided_by = $3, note = $4 \
             WHERE opinion_id = $5 AND state = 'pending'",
        )
        .bind(state.to_owned())
        .bind(ms(at))
        .bind(by.to_owned())
        .bind(note.map(str::to_owned))
        .bind(opinion_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Assigns a matter to departments jointly; a department already assigned keeps its
    /// part. Returns how many were added.
    pub async fn assign_jointly(
        &self,
        opinion_id: i64,
        department_ids: &[i64],
        at: DateTime<Utc>,
        actor: &str,
        note: &str,
    ) -> Result<u64> {
        let mut tx = self.pool().begin().await?;
        let mut added = 0;
        for d in department_ids {
            added += sqlx::query(
                "INSERT INTO joint_assignments (opinion_id, department_id, at, actor, note, reply_state) \
                 VALUES ($1, $2, $3, $4, $5, 'pending') ON CONFLICT (opinion_id, department_id) DO NOTHING",
            )
            .bind(opinion_id)
            .bind(*d)
            .bind(ms(at))
            .bind(actor.to_owned())
            .bind(note.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    /// The departments' parts of one matter.
    pub async fn joint_of_opinion(&self, opinion_id: i64) -> Result<Vec<JointRow>> {
        let sql =
            format!("SELECT {JOINT_COLS} FROM joint_assignments WHERE opinion_id = $1 ORDER BY id");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(opinion_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(joint_row)
            .collect()
    }

    /// A department's joint assignments, pending first, newest first.
    pub async fn joint_of_department(
        &self,
        department_id: i64,
        limit: i64,
    ) -> Result<Vec<JointRow>> {
        let sql = format!(
            "SELECT {JOINT_COLS} FROM joint_assignments WHERE department_id = $1 \
             ORDER BY CASE WHEN reply_state = 'pending' THEN 0 ELSE 1 END, at DESC, id DESC LIMIT $2"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(department_id)
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(joint_row)
            .collect()
    }

    /// A department's reply for its part; false when it has no pending part of the matter.
    pub async fn reply_joint(
        &self,
        opinion_id: i64,
        department_id: i64,
        reply: &str,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE joint_assignments SET reply_state = 'replied', reply = $1, replied_at = $2, replied_by = $3 \
             WHERE opinion_id = $4 AND department_id = $5 AND reply_state = 'pending'",
        )
        .bind(reply.to_owned())
        .bind(ms(at))
        .bind(by.to_owned())
        .bind(opinion_id)
        .bind(department_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
