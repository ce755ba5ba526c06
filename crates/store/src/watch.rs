//! What the deadline watch needs: open matters due before a time, with whether they were
//! already reminded or marked overdue since their current deadline was set.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::error::Result;
use crate::opinions::{OpinionRow, SELECT, row};
use crate::{Store, ms};

/// An open matter near or past its deadline.
#[derive(Debug, Clone)]
pub struct DueMatter {
    pub opinion: OpinionRow,
    /// A `remind` event exists after the last change of the deadline.
    pub reminded: bool,
    /// An `overdue` event exists after the last change of the deadline.
    pub marked_overdue: bool,
}

impl Store {
    /// Open matters with a deadline before `until`, oldest deadline first, at most `limit`.
    pub async fn due_matters(&self, until: DateTime<Utc>, limit: i64) -> Result<Vec<DueMatter>> {
        // The deadline last changed at sign-off or an approved extension; marks older than
        // that belong to an earlier deadline and do not count.
        let marks = |action: &str| {
            format!(
                "CASE WHEN EXISTS (SELECT 1 FROM events e WHERE e.subject = 'opinion' \
                   AND e.subject_id = opinions.id AND e.action = '{action}' \
                   AND e.at >= COALESCE((SELECT MAX(c.at) FROM events c WHERE c.subject = 'opinion' \
                   AND c.subject_id = opinions.id AND c.action IN ('accept', 'extend')), 0)) \
                 THEN 1 ELSE 0 END"
            )
        };
        let sql = format!(
            "{} WHERE closed_at IS NULL AND due_at IS NOT NULL AND due_at < $1 \
             AND state NOT IN ('merged', 'withdrawn', 'invalid', 'closed') \
             ORDER BY due_at, id LIMIT $2",
            SELECT.replacen(
                " FROM opinions",
                &format!(
                    ", {} AS reminded, {} AS marked FROM opinions",
                    marks("remind"),
                    marks("overdue")
                ),
                1
            )
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ms(until))
            .bind(limit.max(1))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DueMatter {
                    opinion: row(r)?,
                    reminded: flag(r.try_get("reminded")?),
                    marked_overdue: flag(r.try_get("marked")?),
                })
            })
            .collect()
    }
}

fn flag(v: i64) -> bool {
    v != 0
}
