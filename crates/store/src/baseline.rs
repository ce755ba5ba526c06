//! The bare SQLite insert loop that benchmarks measure minyi's bulk path against: the
//! sqlx SQLite driver directly (no `Any` layer, no multi-row statements, no events), one
//! prepared single-row INSERT per opinion inside one transaction, with the same schema
//! and the same pragmas as the store.

use std::time::{Duration, Instant};

use minyi_core::opinion::NewOpinion;
use sqlx::Connection;

use crate::error::Result;
use crate::ms;

/// Inserts `rows` into the `opinions` table of an already-migrated SQLite file and
/// returns the time the inserts and the commit took.
pub async fn bare_sqlite_insert(path: &std::path::Path, rows: &[NewOpinion]) -> Result<Duration> {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await?;
    sqlx::raw_sql(crate::SQLITE_PRAGMAS)
        .execute(&mut conn)
        .await?;
    let started = Instant::now();
    let mut tx = conn.begin().await?;
    for o in rows {
        sqlx::query(
            "INSERT INTO opinions (tracking_code, client_key, channel, text, category, sentiment, urgency, department, \
             area_id, unit_id, department_id, state, escalation, key_opinion, received_at, due_at, closed_at, verdict, synthetic) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )
        .bind(o.tracking_code.as_str())
        .bind(o.client_key.as_deref())
        .bind(o.channel.code())
        .bind(o.text.as_str())
        .bind(o.category.code())
        .bind(o.sentiment.code())
        .bind(o.urgency.code())
        .bind(o.department.map(|d| d.code()))
        .bind(o.area_id)
        .bind(o.unit_id)
        .bind(o.department_id)
        .bind(o.state.code())
        .bind(o.escalation.code())
        .bind(o.key_opinion as i64)
        .bind(ms(o.received_at))
        .bind(o.due_at.map(ms))
        .bind(o.closed_at.map(ms))
        .bind(o.verdict.map(|v| v.code()))
        .bind(o.synthetic as i64)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let took = started.elapsed();
    conn.close().await?;
    Ok(took)
}
