//! Filtered, sorted, paged lists of opinions for queues, tables and exports. The caller
//! (already scoped) says which units or which department; the filter values are closed
//! vocabularies, so the SQL is built only from known column names and `$n` placeholders.

use chrono::{DateTime, Utc};
use minyi_core::opinion::OpinionState;
use minyi_core::taxonomy::{Category, Channel};
use sqlx::Row;
use sqlx::any::AnyArguments;

use crate::error::Result;
use crate::opinions::{OpinionRow, SELECT, row};
use crate::{Store, ms};

/// Whose opinions: those of some units, or those routed to a department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whose {
    Units(Vec<i64>),
    Department(i64),
    /// Matters in these areas, handled by these units (an area page within a scope).
    AreasOfUnits {
        areas: Vec<i64>,
        units: Vec<i64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Received,
    Due,
    State,
    Category,
    Channel,
}

impl SortKey {
    pub fn parse(s: &str) -> Option<SortKey> {
        Some(match s {
            "received" => SortKey::Received,
            "due" => SortKey::Due,
            "state" => SortKey::State,
            "category" => SortKey::Category,
            "channel" => SortKey::Channel,
            _ => return None,
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            SortKey::Received => "received",
            SortKey::Due => "due",
            SortKey::State => "state",
            SortKey::Category => "category",
            SortKey::Channel => "channel",
        }
    }

    fn column(self) -> &'static str {
        match self {
            SortKey::Received => "received_at",
            SortKey::Due => "due_at",
            SortKey::State => "state",
            SortKey::Category => "category",
            SortKey::Channel => "channel",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct OpinionQuery {
    pub state: Option<OpinionState>,
    pub category: Option<Category>,
    pub channel: Option<Channel>,
    /// Only open matters past their deadline at `now`.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Only matters still open (the queue).
    pub open_only: bool,
    pub sort: SortKey,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
}

/// A bound value; kept as data so the same filter binds to the count and the page query.
#[derive(Clone)]
enum Param {
    I64(i64),
    Text(&'static str),
}

fn bind(params: &[Param]) -> Result<AnyArguments> {
    use sqlx::Arguments;
    let mut a = AnyArguments::default();
    for p in params {
        match p {
            Param::I64(v) => a.add(*v),
            Param::Text(v) => a.add(*v),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(a)
}

impl Store {
    /// One page of opinions and the total matching the filter.
    pub async fn opinion_list(
        &self,
        whose: &Whose,
        q: &OpinionQuery,
    ) -> Result<(Vec<OpinionRow>, i64)> {
        let mut params: Vec<Param> = Vec::new();
        let mut clauses: Vec<String> = Vec::new();
        let mark = |params: &mut Vec<Param>, p: Param| {
            params.push(p);
            format!("${}", params.len())
        };
        match whose {
            Whose::Units(ids) => {
                if ids.is_empty() {
                    return Ok((Vec::new(), 0));
                }
                let mut ids = ids.clone();
                ids.sort_unstable();
                ids.dedup();
                let marks: Vec<String> = ids
                    .iter()
                    .map(|id| mark(&mut params, Param::I64(*id)))
                    .collect();
                clauses.push(format!("unit_id IN ({})", marks.join(", ")));
            }
            Whose::Department(d) => {
                let m = mark(&mut params, Param::I64(*d));
                clauses.push(format!("department_id = {m}"));
            }
            Whose::AreasOfUnits { areas, units } => {
                if areas.is_empty() || units.is_empty() {
                    return Ok((Vec::new(), 0));
                }
                for (col, ids) in [("area_id", areas), ("unit_id", units)] {
                    let mut ids = ids.clone();
                    ids.sort_unstable();
                    ids.dedup();
                    let marks: Vec<String> = ids
                        .iter()
                        .map(|id| mark(&mut params, Param::I64(*id)))
                        .collect();
                    clauses.push(format!("{col} IN ({})", marks.join(", ")));
                }
            }
        }
        if let Some(s) = q.state {
            let m = mark(&mut params, Param::Text(s.code()));
            clauses.push(format!("state = {m}"));
        }
        if let Some(c) = q.category {
            let m = mark(&mut params, Param::Text(c.code()));
            clauses.push(format!("category = {m}"));
        }
        if let Some(c) = q.channel {
            let m = mark(&mut params, Param::Text(c.code()));
            clauses.push(format!("channel = {m}"));
        }
        if q.open_only {
            clauses.push("closed_at IS NULL".to_owned());
        }
        if let Some(now) = q.overdue_at {
            let m = mark(&mut params, Param::I64(ms(now)));
            clauses.push(format!("closed_at IS NULL AND due_at < {m}"));
        }
        let filter = clauses.join(" AND ");
        // Only known column names and numbered placeholders reach the SQL text.
        let total: i64 = sqlx::query_with(
            sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM opinions WHERE {filter}")),
            bind(&params)?,
        )
        .fetch_one(self.pool())
        .await?
        .try_get(0)?;
        let dir = if q.descending { "DESC" } else { "ASC" };
        // NULL deadlines last either way; id breaks ties so pages never overlap.
        let order = format!(
            "CASE WHEN {col} IS NULL THEN 1 ELSE 0 END, {col} {dir}, id {dir}",
            col = q.sort.column()
        );
        let lim = mark(&mut params, Param::I64(q.limit.clamp(1, 10_000)));
        let off = mark(&mut params, Param::I64(q.offset.max(0)));
        let rows = sqlx::query_with(
            sqlx::AssertSqlSafe(format!(
                "{SELECT} WHERE {filter} ORDER BY {order} LIMIT {lim} OFFSET {off}"
            )),
            bind(&params)?,
        )
        .fetch_all(self.pool())
        .await?;
        let rows = rows.iter().map(row).collect::<Result<Vec<_>>>()?;
        Ok((rows, total))
    }
}

/// Opinions per area, for maps: received since a time, open and overdue now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AreaCounts {
    pub area_id: i64,
    pub received: i64,
    pub open: i64,
    pub overdue: i64,
}

impl Store {
    /// Per area (by `area_id`), the opinions handled by `units`: received since `since`,
    /// open and overdue at `now`.
    pub async fn opinion_counts_by_area(
        &self,
        units: &[i64],
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<AreaCounts>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = units.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut params = vec![Param::I64(ms(since)), Param::I64(ms(now))];
        let marks: Vec<String> = ids
            .iter()
            .map(|id| {
                params.push(Param::I64(*id));
                format!("${}", params.len())
            })
            .collect();
        let sql = format!(
            "SELECT area_id, \
               SUM(CASE WHEN received_at >= $1 THEN 1 ELSE 0 END), \
               SUM(CASE WHEN closed_at IS NULL THEN 1 ELSE 0 END), \
               SUM(CASE WHEN closed_at IS NULL AND due_at < $2 THEN 1 ELSE 0 END) \
             FROM opinions WHERE area_id IS NOT NULL AND unit_id IN ({}) GROUP BY area_id",
            marks.join(", ")
        );
        let rows = sqlx::query_with(sqlx::AssertSqlSafe(sql), bind(&params)?)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AreaCounts {
                    area_id: r.try_get(0)?,
                    received: r.try_get(1)?,
                    open: r.try_get(2)?,
                    overdue: r.try_get(3)?,
                })
            })
            .collect()
    }
}
