//! Three-indicator survey waves (三项指标测评): the waves with their questionnaire
//! configuration, the sample allocated to each station, and the interviews.
//!
//! This module stores and fetches. What a valid configuration, answer or code is, and
//! how answers become estimates, is decided in `minyi_app::surveys` before anything
//! reaches here; the codes are kept as the text the app wrote. No respondent's name or
//! phone number has a column, so none can be stored.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::bulk::{add, insert_in};
use crate::error::Result;
use crate::{Store, from_ms, ms};

/// A wave to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWave {
    pub code: String,
    pub name: String,
    pub period: String,
    pub state: String,
    /// The questionnaire and scoring configuration, JSON text.
    pub config: String,
    /// Population margins for calibration, JSON text.
    pub margins: Option<String>,
    pub created_at: DateTime<Utc>,
    pub synthetic: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WaveRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub period: String,
    pub state: String,
    pub config: String,
    pub margins: Option<String>,
    pub created_at: DateTime<Utc>,
    pub synthetic: bool,
}

/// One station's share of a wave's sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AllocationRow {
    pub station_id: i64,
    pub sample_size: i64,
    pub population: i64,
}

/// One interview, answers as their stored codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResponse {
    pub external_id: String,
    pub station_id: i64,
    pub area_id: Option<i64>,
    pub interviewer: String,
    pub mode: String,
    pub age_band: String,
    pub sex: String,
    pub security: String,
    pub satisfaction: String,
    pub chief: String,
    pub opinion_id: Option<i64>,
    pub interviewed_at: DateTime<Utc>,
    pub entered_at: DateTime<Utc>,
    pub synthetic: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseRow {
    pub id: i64,
    pub wave_id: i64,
    pub response: NewResponse,
}

const WAVE_COLS: &str = "id, code, name, period, state, config, margins, created_at, synthetic";
const RESPONSE_COLS: [&str; 15] = [
    "wave_id",
    "external_id",
    "station_id",
    "area_id",
    "interviewer",
    "mode",
    "age_band",
    "sex",
    "security",
    "satisfaction",
    "chief",
    "opinion_id",
    "interviewed_at",
    "entered_at",
    "synthetic",
];

fn wave_row(r: &AnyRow) -> Result<WaveRow> {
    Ok(WaveRow {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        period: r.try_get("period")?,
        state: r.try_get("state")?,
        config: r.try_get("config")?,
        margins: r.try_get("margins")?,
        created_at: from_ms(r.try_get("created_at")?)?,
        synthetic: r.try_get::<i64, _>("synthetic")? != 0,
    })
}

fn response_row(r: &AnyRow) -> Result<ResponseRow> {
    Ok(ResponseRow {
        id: r.try_get("id")?,
        wave_id: r.try_get("wave_id")?,
        response: NewResponse {
            external_id: r.try_get("external_id")?,
            station_id: r.try_get("station_id")?,
            area_id: r.try_get("area_id")?,
            interviewer: r.try_get("interviewer")?,
            mode: r.try_get("mode")?,
            age_band: r.try_get("age_band")?,
            sex: r.try_get("sex")?,
            security: r.try_get("security")?,
            satisfaction: r.try_get("satisfaction")?,
            chief: r.try_get("chief")?,
            opinion_id: r.try_get("opinion_id")?,
            interviewed_at: from_ms(r.try_get("interviewed_at")?)?,
            entered_at: from_ms(r.try_get("entered_at")?)?,
            synthetic: r.try_get::<i64, _>("synthetic")? != 0,
        },
    })
}

fn bind_response(
    (wave_id, r): &(i64, &NewResponse),
    a: &mut sqlx::any::AnyArguments,
) -> std::result::Result<(), sqlx::error::BoxDynError> {
    add(a, *wave_id)?;
    add(a, r.external_id.clone())?;
    add(a, r.station_id)?;
    add(a, r.area_id)?;
    add(a, r.interviewer.clone())?;
    add(a, r.mode.clone())?;
    add(a, r.age_band.clone())?;
    add(a, r.sex.clone())?;
    add(a, r.security.clone())?;
    add(a, r.satisfaction.clone())?;
    add(a, r.chief.clone())?;
    add(a, r.opinion_id)?;
    add(a, ms(r.interviewed_at))?;
    add(a, ms(r.entered_at))?;
    add(a, r.synthetic as i64)
}

impl Store {
    /// Creates a wave; `None` when its code is already taken (nothing changed).
    pub async fn insert_wave(&self, w: &NewWave) -> Result<Option<i64>> {
        let row = sqlx::query(
            "INSERT INTO survey_waves (code, name, period, state, config, margins, created_at, synthetic) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (code) DO NOTHING RETURNING id",
        )
        .bind(w.code.clone())
        .bind(w.name.clone())
        .bind(w.period.clone())
        .bind(w.state.clone())
        .bind(w.config.clone())
        .bind(w.margins.clone())
        .bind(ms(w.created_at))
        .bind(w.synthetic as i64)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("id")?),
            None => None,
        })
    }

    /// Every wave, newest first.
    pub async fn waves(&self) -> Result<Vec<WaveRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {WAVE_COLS} FROM survey_waves ORDER BY created_at DESC, id DESC"
        ));
        sqlx::query(sql)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(wave_row)
            .collect()
    }

    pub async fn wave_by_code(&self, code: &str) -> Result<Option<WaveRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {WAVE_COLS} FROM survey_waves WHERE code = $1"
        ));
        sqlx::query(sql)
            .bind(code.to_owned())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(wave_row)
            .transpose()
    }

    /// Sets a wave's state; false when there is no such wave.
    pub async fn set_wave_state(&self, wave_id: i64, state: &str) -> Result<bool> {
        let n = sqlx::query("UPDATE survey_waves SET state = $1 WHERE id = $2")
            .bind(state.to_owned())
            .bind(wave_id)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Replaces a wave's allocation as a whole, in one transaction.
    pub async fn replace_allocation(&self, wave_id: i64, rows: &[AllocationRow]) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM survey_allocations WHERE wave_id = $1")
            .bind(wave_id)
            .execute(&mut *tx)
            .await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO survey_allocations (wave_id, station_id, sample_size, population) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(wave_id)
            .bind(r.station_id)
            .bind(r.sample_size)
            .bind(r.population)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A wave's allocation, by station id.
    pub async fn allocation(&self, wave_id: i64) -> Result<Vec<AllocationRow>> {
        let rows = sqlx::query(
            "SELECT station_id, sample_size, population FROM survey_allocations \
             WHERE wave_id = $1 ORDER BY station_id",
        )
        .bind(wave_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AllocationRow {
                    station_id: r.try_get("station_id")?,
                    sample_size: r.try_get("sample_size")?,
                    population: r.try_get("population")?,
                })
            })
            .collect()
    }

    /// Population per station: the sum over the station's leaf areas (an area that has
    /// sub-areas is counted through them, so a township and its villages are not
    /// counted twice). Stations without areas are absent.
    pub async fn station_populations(&self) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT a.station_id AS station_id, CAST(SUM(a.population) AS BIGINT) AS population \
             FROM areas a WHERE a.station_id IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM areas c WHERE c.parent_id = a.id) \
             GROUP BY a.station_id ORDER BY a.station_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("station_id")?, r.try_get("population")?)))
            .collect()
    }

    /// Stores a batch of interviews in ONE transaction and says per response, in order,
    /// whether it was new (`true`) or its external id was already stored for the wave
    /// (`false`, nothing changed).
    pub async fn insert_responses(&self, wave_id: i64, rows: &[NewResponse]) -> Result<Vec<bool>> {
        let sql = crate::bulk::insert_sql(
            self.backend(),
            "survey_responses",
            &RESPONSE_COLS,
            1,
            "ON CONFLICT DO NOTHING",
        );
        let mut tx = self.pool().begin().await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let args = crate::bulk::args_for(&[(wave_id, r)], &bind_response)?;
            let n = sqlx::query_with(sqlx::AssertSqlSafe(sql.clone()), args)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            out.push(n == 1);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The bulk path (the demo's thousands of interviews): multi-row statements in one
    /// transaction, duplicates skipped. Returns how many were inserted.
    pub async fn insert_responses_bulk(&self, wave_id: i64, rows: &[NewResponse]) -> Result<u64> {
        let pairs: Vec<(i64, &NewResponse)> = rows.iter().map(|r| (wave_id, r)).collect();
        let mut tx = self.pool().begin().await?;
        let n = insert_in(
            &mut tx,
            self.backend(),
            "survey_responses",
            &RESPONSE_COLS,
            &pairs,
            &bind_response,
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// A wave's interviews, in the order they were stored.
    pub async fn responses(&self, wave_id: i64) -> Result<Vec<ResponseRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT id, {} FROM survey_responses WHERE wave_id = $1 ORDER BY id",
            RESPONSE_COLS.join(", ")
        ));
        sqlx::query(sql)
            .bind(wave_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(response_row)
            .collect()
    }

    /// How many interviews a wave holds.
    pub async fn response_count(&self, wave_id: i64) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM survey_responses WHERE wave_id = $1")
            .bind(wave_id)
            .fetch_one(self.pool())
            .await?;
        Ok(r.try_get("n")?)
    }
}
