//! Storage of the analysis workspaces: analysts' confirmations, relabels and escalations,
//! joint assignments to departments, and the lean reads the hotspot scan needs.
//!
//! It stores and fetches; which opinions an analyst may touch and what a relabel means
//! for routing are decided in `app::analysis`, never here.

use chrono::{DateTime, Utc};
use minyi_core::taxonomy::Category;
use sqlx::Row;

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
