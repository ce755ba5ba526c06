//! Storage of assessment runs, appeals and imported business, team-building and
//! jurisdiction metrics (schema 11).
//!
//! A run is stored whole (scheme text, canonical input and result JSON with their
//! hashes) so it can be reproduced without re-reading anything else. This module
//! stores and fetches; it must not score, parse schemes or judge whether an appeal or a
//! metric code is valid — `minyi_app::assess` decides that before anything reaches here.
//! Whatever changes several rows (a metric import, resolving an appeal with its new run)
//! commits in one transaction or not at all.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError};
use crate::{Store, from_ms, ms};

/// A run to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    pub period: String,
    pub scheme_id: String,
    pub scheme_version: String,
    pub scheme_hash: String,
    pub scheme_text: String,
    pub input_hash: String,
    pub input_json: String,
    pub result_hash: String,
    pub result_json: String,
    pub created_at: DateTime<Utc>,
    /// `user:NAME` or `cli`.
    pub created_by: String,
    /// The run this one corrects (an upheld appeal).
    pub parent_id: Option<i64>,
    pub reason: Option<String>,
}

/// A stored run, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    pub id: i64,
    pub run: NewRun,
}

/// A stored run without its texts, for lists.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunSummary {
    pub id: i64,
    pub period: String,
    pub scheme_id: String,
    pub scheme_version: String,
    pub scheme_hash: String,
    pub input_hash: String,
    pub result_hash: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub parent_id: Option<i64>,
    pub reason: Option<String>,
}

/// An appeal to file.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAppeal {
    pub run_id: i64,
    pub unit_id: i64,
    pub indicator: String,
    pub claimed_value: f64,
    pub reason: String,
    pub filed_by: String,
    pub filed_at: DateTime<Utc>,
}

/// A stored appeal. `state`: `filed`, `upheld` or `rejected`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AppealRow {
    pub id: i64,
    pub run_id: i64,
    pub unit_id: i64,
    pub indicator: String,
    pub claimed_value: f64,
    pub reason: String,
    pub state: String,
    pub filed_by: String,
    pub filed_at: DateTime<Utc>,
    pub corrected_value: Option<f64>,
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub result_run_id: Option<i64>,
}

/// Which appeals to list (all conditions must hold; `None` = any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppealQuery {
    pub run_id: Option<i64>,
    pub state: Option<String>,
    /// Only appeals of these units (a scope cut); `Some(empty)` lists nothing.
    pub unit_ids: Option<Vec<i64>>,
}

/// How an appeal is closed.
#[derive(Debug, Clone, PartialEq)]
pub struct AppealResolution {
    /// `upheld` or `rejected`.
    pub state: String,
    pub corrected_value: Option<f64>,
    pub resolution: String,
    pub resolved_by: String,
    pub resolved_at: DateTime<Utc>,
}

/// One imported metric value.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricValue {
    pub unit_id: i64,
    pub code: String,
    pub value: f64,
}

/// One metrics import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMetricBatch {
    pub period: String,
    pub source: String,
    pub imported_at: DateTime<Utc>,
    pub imported_by: String,
    pub synthetic: bool,
}

/// What a metrics import changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MetricImportOutcome {
    pub batch_id: i64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

const RUN_COLS: &str = "id, period, scheme_id, scheme_version, scheme_hash, scheme_text, \
    input_hash, input_json, result_hash, result_json, created_at, created_by, parent_id, reason";
const SUMMARY_COLS: &str = "id, period, scheme_id, scheme_version, scheme_hash, input_hash, \
    result_hash, created_at, created_by, parent_id, reason";
const APPEAL_COLS: &str = "id, run_id, unit_id, indicator, claimed_value, reason, state, \
    filed_by, filed_at, corrected_value, resolution, resolved_by, resolved_at, result_run_id";

fn run_row(r: &AnyRow) -> Result<RunRow> {
    Ok(RunRow {
        id: r.try_get("id")?,
        run: NewRun {
            period: r.try_get("period")?,
            scheme_id: r.try_get("scheme_id")?,
            scheme_version: r.try_get("scheme_version")?,
            scheme_hash: r.try_get("scheme_hash")?,
            scheme_text: r.try_get("scheme_text")?,
            input_hash: r.try_get("input_hash")?,
            input_json: r.try_get("input_json")?,
            result_hash: r.try_get("result_hash")?,
            result_json: r.try_get("result_json")?,
            created_at: from_ms(r.try_get("created_at")?)?,
            created_by: r.try_get("created_by")?,
            parent_id: r.try_get("parent_id")?,
            reason: r.try_get("reason")?,
        },
    })
}

fn summary_row(r: &AnyRow) -> Result<RunSummary> {
    Ok(RunSummary {
        id: r.try_get("id")?,
        period: r.try_get("period")?,
        scheme_id: r.try_get("scheme_id")?,
        scheme_version: r.try_get("scheme_version")?,
        scheme_hash: r.try_get("scheme_hash")?,
        input_hash: r.try_get("input_hash")?,
        result_hash: r.try_get("result_hash")?,
        created_at: from_ms(r.try_get("created_at")?)?,
        created_by: r.try_get("created_by")?,
        parent_id: r.try_get("parent_id")?,
        reason: r.try_get("reason")?,
    })
}

fn appeal_row(r: &AnyRow) -> Result<AppealRow> {
    Ok(AppealRow {
        id: r.try_get("id")?,
        run_id: r.try_get("run_id")?,
        unit_id: r.try_get("unit_id")?,
        indicator: r.try_get("indicator")?,
        claimed_value: r.try_get("claimed_value")?,
        reason: r.try_get("reason")?,
        state: r.try_get("state")?,
        filed_by: r.try_get("filed_by")?,
        filed_at: from_ms(r.try_get("filed_at")?)?,
        corrected_value: r.try_get("corrected_value")?,
        resolution: r.try_get("resolution")?,
        resolved_by: r.try_get("resolved_by")?,
        resolved_at: r
            .try_get::<Option<i64>, _>("resolved_at")?
            .map(from_ms)
            .transpose()?,
        result_run_id: r.try_get("result_run_id")?,
    })
}

async fn insert_run_in(
    conn: &mut sqlx::AnyConnection,
    r: &NewRun,
) -> std::result::Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO assessment_runs (period, scheme_id, scheme_version, scheme_hash, scheme_text, \
         input_hash, input_json, result_hash, result_json, created_at, created_by, parent_id, reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(r.period.clone())
    .bind(r.scheme_id.clone())
    .bind(r.scheme_version.clone())
    .bind(r.scheme_hash.clone())
    .bind(r.scheme_text.clone())
    .bind(r.input_hash.clone())
    .bind(r.input_json.clone())
    .bind(r.result_hash.clone())
    .bind(r.result_json.clone())
    .bind(ms(r.created_at))
    .bind(r.created_by.clone())
    .bind(r.parent_id)
    .bind(r.reason.clone())
    .fetch_one(&mut *conn)
    .await?;
    row.try_get("id")
}

impl Store {
    /// Stores a run; its id.
    pub async fn insert_run(&self, r: &NewRun) -> Result<i64> {
        let mut conn = self.pool().acquire().await?;
        Ok(insert_run_in(&mut conn, r).await?)
    }

    /// One run, whole.
    pub async fn assessment_run(&self, id: i64) -> Result<Option<RunRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLS} FROM assessment_runs WHERE id = $1"
        ));
        sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(run_row)
            .transpose()
    }

    /// Every run without its texts, newest first.
    pub async fn assessment_runs(&self) -> Result<Vec<RunSummary>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {SUMMARY_COLS} FROM assessment_runs ORDER BY id DESC"
        ));
        sqlx::query(sql)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(summary_row)
            .collect()
    }

    /// The newest run, of `period` when given.
    pub async fn latest_assessment_run(&self, period: Option<&str>) -> Result<Option<RunRow>> {
        let row = match period {
            Some(p) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {RUN_COLS} FROM assessment_runs WHERE period = $1 ORDER BY id DESC LIMIT 1"
            )))
            .bind(p.to_owned())
            .fetch_optional(self.pool())
            .await?,
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {RUN_COLS} FROM assessment_runs ORDER BY id DESC LIMIT 1"
                )))
                .fetch_optional(self.pool())
                .await?
            }
        };
        row.as_ref().map(run_row).transpose()
    }

    /// Files an appeal in state `filed`; its id.
    pub async fn insert_appeal(&self, a: &NewAppeal) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO assessment_appeals (run_id, unit_id, indicator, claimed_value, reason, \
             state, filed_by, filed_at) VALUES ($1, $2, $3, $4, $5, 'filed', $6, $7) RETURNING id",
        )
        .bind(a.run_id)
        .bind(a.unit_id)
        .bind(a.indicator.clone())
        .bind(a.claimed_value)
        .bind(a.reason.clone())
        .bind(a.filed_by.clone())
        .bind(ms(a.filed_at))
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("id")?)
    }

    pub async fn appeal(&self, id: i64) -> Result<Option<AppealRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {APPEAL_COLS} FROM assessment_appeals WHERE id = $1"
        ));
        sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(appeal_row)
            .transpose()
    }

    /// Appeals matching `q`, newest first.
    pub async fn appeals(&self, q: &AppealQuery) -> Result<Vec<AppealRow>> {
        if q.unit_ids.as_ref().is_some_and(|u| u.is_empty()) {
            return Ok(Vec::new());
        }
        // Filters are bound in a fixed order; an absent one compares the parameter with
        // itself (NULL-safe through COALESCE) so the statement text stays fixed.
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {APPEAL_COLS} FROM assessment_appeals \
             WHERE ($1 = 0 OR run_id = $2) AND ($3 = 0 OR state = $4) ORDER BY id DESC"
        ));
        let rows = sqlx::query(sql)
            .bind(q.run_id.is_some() as i64)
            .bind(q.run_id.unwrap_or(0))
            .bind(q.state.is_some() as i64)
            .bind(q.state.clone().unwrap_or_default())
            .fetch_all(self.pool())
            .await?;
        let mut out = rows.iter().map(appeal_row).collect::<Result<Vec<_>>>()?;
        if let Some(units) = &q.unit_ids {
            out.retain(|a| units.contains(&a.unit_id));
        }
        Ok(out)
    }

    /// Closes a filed appeal and, when `new_run` is given, stores that run and links it,
    /// all in one transaction. `Ok(None)` when the appeal is not (or no longer) in state
    /// `filed`: nothing changed. Otherwise the new run's id, if any.
    pub async fn resolve_appeal(
        &self,
        appeal_id: i64,
        res: &AppealResolution,
        new_run: Option<&NewRun>,
    ) -> Result<Option<Option<i64>>> {
        let mut tx = self.pool().begin().await?;
        let run_id = match new_run {
            Some(r) => Some(insert_run_in(&mut tx, r).await?),
            None => None,
        };
        let n = sqlx::query(
            "UPDATE assessment_appeals SET state = $1, corrected_value = $2, resolution = $3, \
             resolved_by = $4, resolved_at = $5, result_run_id = $6 \
             WHERE id = $7 AND state = 'filed'",
        )
        .bind(res.state.clone())
        .bind(res.corrected_value)
        .bind(res.resolution.clone())
        .bind(res.resolved_by.clone())
        .bind(ms(res.resolved_at))
        .bind(run_id)
        .bind(appeal_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        tx.commit().await?;
        Ok(Some(run_id))
    }

    /// Imports metric values for one period in ONE transaction: a new value is inserted,
    /// a different value replaces the stored one, an equal value changes nothing (so a
    /// re-import is idempotent). The batch is recorded with how many rows it changed.
    pub async fn import_metrics(
        &self,
        batch: &NewMetricBatch,
        values: &[MetricValue],
    ) -> Result<MetricImportOutcome> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "INSERT INTO assessment_metric_batches (period, source, imported_at, imported_by, \
             rows_read, rows_changed, synthetic) VALUES ($1, $2, $3, $4, $5, 0, $6) RETURNING id",
        )
        .bind(batch.period.clone())
        .bind(batch.source.clone())
        .bind(ms(batch.imported_at))
        .bind(batch.imported_by.clone())
        .bind(values.len() as i64)
        .bind(batch.synthetic as i64)
        .fetch_one(&mut *tx)
        .await?;
        let batch_id: i64 = row.try_get("id")?;
        let mut out = MetricImportOutcome {
            batch_id,
            ..Default::default()
        };
        for v in values {
            if !v.value.is_finite() {
                return Err(StoreError::Corrupt(format!(
                    "metric {} of unit {} is not a finite number",
                    v.code, v.unit_id
                )));
            }
            let old = sqlx::query(
                "SELECT value FROM assessment_metrics WHERE unit_id = $1 AND period = $2 AND code = $3",
            )
            .bind(v.unit_id)
            .bind(batch.period.clone())
            .bind(v.code.clone())
            .fetch_optional(&mut *tx)
            .await?;
            match old {
                Some(r) if r.try_get::<f64, _>("value")? == v.value => out.unchanged += 1,
                Some(_) => {
                    sqlx::query(
                        "UPDATE assessment_metrics SET value = $1, batch_id = $2 \
                         WHERE unit_id = $3 AND period = $4 AND code = $5",
                    )
                    .bind(v.value)
                    .bind(batch_id)
                    .bind(v.unit_id)
                    .bind(batch.period.clone())
                    .bind(v.code.clone())
                    .execute(&mut *tx)
                    .await?;
                    out.updated += 1;
                }
                None => {
                    sqlx::query(
                        "INSERT INTO assessment_metrics (unit_id, period, code, value, batch_id) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(v.unit_id)
                    .bind(batch.period.clone())
                    .bind(v.code.clone())
                    .bind(v.value)
                    .bind(batch_id)
                    .execute(&mut *tx)
                    .await?;
                    out.inserted += 1;
                }
            }
        }
        sqlx::query("UPDATE assessment_metric_batches SET rows_changed = $1 WHERE id = $2")
            .bind((out.inserted + out.updated) as i64)
            .bind(batch_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Every imported metric of `period`, by unit id then code.
    pub async fn metrics(&self, period: &str) -> Result<Vec<MetricValue>> {
        sqlx::query(
            "SELECT unit_id, code, value FROM assessment_metrics WHERE period = $1 \
             ORDER BY unit_id, code",
        )
        .bind(period.to_owned())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(MetricValue {
                unit_id: r.try_get("unit_id")?,
                code: r.try_get("code")?,
                value: r.try_get("value")?,
            })
        })
        .collect()
    }

    /// How many metric import batches are stored (for tests and reports).
    pub async fn metric_batch_count(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM assessment_metric_batches")
            .fetch_one(self.pool())
            .await?;
        Ok(r.try_get("n")?)
    }
}
