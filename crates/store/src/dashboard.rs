//! The aggregate reads behind the city, county and station dashboards.
//!
//! Every query here groups by the unit a record belongs to (and, for series, by month
//! bucket and vocabulary code) and returns one row per group, for the whole city at once.
//! The caller rolls rows up the unit tree and cuts them to a scope; so one set of
//! queries serves every level, and nothing here knows about scopes or roles. It must not
//! filter by principal: a caller that forgets to cut rows to a scope would leak, so the
//! rows carry plain unit ids and the app layer owns the cut.
//!
//! Month buckets are passed in as instants (the caller knows the time zone); the SQL
//! only compares BIGINT epoch-ms values, which is portable across both backends.

use chrono::{DateTime, Utc};
use minyi_core::opinion::OpinionState;
use minyi_core::taxonomy::Verdict;
use sqlx::Row;

use crate::error::{Result, StoreError};
use crate::{Store, ms};

/// Which column of `opinions` attributes an opinion to a unit: the handling unit, or
/// the linked department it was routed to (what a department liaison sees).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    Unit,
    Department,
}

impl Routing {
    fn column(self) -> &'static str {
        match self {
            Routing::Unit => "unit_id",
            Routing::Department => "department_id",
        }
    }
}

/// What a monthly series counts opinions by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Channel,
    Category,
}

impl Dimension {
    fn column(self) -> &'static str {
        match self {
            Dimension::Channel => "channel",
            Dimension::Category => "category",
        }
    }
}

/// Opinions of one unit received in one month bucket with one code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthCount {
    pub unit_id: i64,
    /// Index into the buckets the query was given (0 = the oldest month).
    pub month: usize,
    /// A channel or category code.
    pub key: String,
    pub count: i64,
}

/// One unit's opinion figures: received in the period, and the live open / overdue /
/// due-soon counts, and residents' verdicts on opinions received in the period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitFigures {
    pub unit_id: i64,
    pub received: i64,
    pub open: i64,
    pub overdue: i64,
    pub due_soon: i64,
    pub satisfied: i64,
    pub basically_satisfied: i64,
    pub dissatisfied: i64,
}

impl UnitFigures {
    pub fn verdict(&self, v: Verdict) -> i64 {
        match v {
            Verdict::Satisfied => self.satisfied,
            Verdict::BasicallySatisfied => self.basically_satisfied,
            Verdict::Dissatisfied => self.dissatisfied,
        }
    }
}

/// Opinions of one unit that reached `responded` in the period, and how many of those
/// did so by their deadline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnsweredCount {
    pub unit_id: i64,
    pub answered: i64,
    pub on_time: i64,
}

/// Window ratings of one window with one (scale, level) in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingCount {
    pub window_id: i64,
    /// 3 or 5.
    pub scale: i64,
    pub level: i64,
    pub count: i64,
}

/// Callbacks of one unit in one state, due in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackCount {
    pub unit_id: i64,
    pub state: String,
    pub count: i64,
}

/// The SQL list of terminal state codes, from the lifecycle in core (never retyped here).
fn terminal_states() -> String {
    OpinionState::ALL
        .iter()
        .filter(|s| !s.is_open())
        .map(|s| format!("'{}'", s.code()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_period(from: DateTime<Utc>, to: DateTime<Utc>, what: &'static str) -> Result<()> {
    if to < from {
        return Err(minyi_core::ParseError::Invalid {
            what,
            why: format!("the period ends ({to}) before it starts ({from})"),
        }
        .into());
    }
    Ok(())
}

impl Store {
    /// Per unit: opinions received in `[from, to)`, open now (not in a terminal state),
    /// overdue now (open, `due_at < now`), due soon (open, `now <= due_at <= soon_until`),
    /// and the verdicts recorded on opinions received in `[from, to)`.
    pub async fn dashboard_unit_figures(
        &self,
        routing: Routing,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
        soon_until: DateTime<Utc>,
    ) -> Result<Vec<UnitFigures>> {
        check_period(from, to, "dashboard figures")?;
        let col = routing.column();
        let open = format!("state NOT IN ({})", terminal_states());
        let period = "received_at >= $1 AND received_at < $2";
        let sql = format!(
            "SELECT {col}, \
               SUM(CASE WHEN {period} THEN 1 ELSE 0 END), \
               SUM(CASE WHEN {open} THEN 1 ELSE 0 END), \
               SUM(CASE WHEN {open} AND due_at < $3 THEN 1 ELSE 0 END), \
               SUM(CASE WHEN {open} AND due_at >= $3 AND due_at <= $4 THEN 1 ELSE 0 END), \
               SUM(CASE WHEN {period} AND verdict = $5 THEN 1 ELSE 0 END), \
               SUM(CASE WHEN {period} AND verdict = $6 THEN 1 ELSE 0 END), \
               SUM(CASE WHEN {period} AND verdict = $7 THEN 1 ELSE 0 END) \
             FROM opinions WHERE {col} IS NOT NULL GROUP BY {col} ORDER BY {col}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ms(from))
            .bind(ms(to))
            .bind(ms(now))
            .bind(ms(soon_until))
            .bind(Verdict::Satisfied.code())
            .bind(Verdict::BasicallySatisfied.code())
            .bind(Verdict::Dissatisfied.code())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(UnitFigures {
                    unit_id: r.try_get(0)?,
                    received: r.try_get(1)?,
                    open: r.try_get(2)?,
                    overdue: r.try_get(3)?,
                    due_soon: r.try_get(4)?,
                    satisfied: r.try_get(5)?,
                    basically_satisfied: r.try_get(6)?,
                    dissatisfied: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// Opinions received per unit, month bucket and channel or category code. `bounds`
    /// are the bucket edges, ascending: bucket `i` is `[bounds[i], bounds[i + 1])`, so
    /// `n + 1` edges make `n` buckets. Opinions outside all buckets are not counted.
    pub async fn dashboard_months(
        &self,
        routing: Routing,
        dimension: Dimension,
        bounds: &[DateTime<Utc>],
    ) -> Result<Vec<MonthCount>> {
        if bounds.len() < 2 {
            return Ok(Vec::new());
        }
        if bounds.windows(2).any(|w| w[1] < w[0]) {
            return Err(minyi_core::ParseError::Invalid {
                what: "dashboard months",
                why: "bucket edges must ascend".into(),
            }
            .into());
        }
        let col = routing.column();
        let key = dimension.column();
        let n = bounds.len() - 1;
        // Newest bucket first, so each row stops at its first match; $1 is the oldest
        // edge and $(i+1) the edge that starts bucket i.
        let mut bucket = String::from("CASE");
        for i in (1..n).rev() {
            bucket.push_str(&format!(" WHEN received_at >= ${} THEN {i}", i + 1));
        }
        bucket.push_str(" ELSE 0 END");
        // `+received_at` (a no-op on both backends) keeps SQLite from choosing the
        // received_at index, which reads every wide row, over the covering unit index.
        let sql = format!(
            "SELECT {col}, CAST({bucket} AS BIGINT) AS bucket, {key}, COUNT(*) FROM opinions \
             WHERE {col} IS NOT NULL AND +received_at >= $1 AND +received_at < ${last} \
             GROUP BY {col}, bucket, {key}",
            last = n + 1,
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in bounds {
            q = q.bind(ms(*b));
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                let month: i64 = r.try_get(1)?;
                Ok(MonthCount {
                    unit_id: r.try_get(0)?,
                    month: usize::try_from(month).map_err(|_| {
                        StoreError::Corrupt(format!("dashboard month bucket {month}"))
                    })?,
                    key: r.try_get(2)?,
                    count: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Per unit: opinions whose history has a transition to `responded` in `[from, to)`,
    /// each counted once, and of those how many first reached it there at or before
    /// their `due_at` (an opinion without a deadline is never on time).
    pub async fn dashboard_answered(
        &self,
        routing: Routing,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AnsweredCount>> {
        check_period(from, to, "dashboard answered")?;
        let col = routing.column();
        let sql = format!(
            "SELECT o.{col}, COUNT(*), \
               SUM(CASE WHEN o.due_at IS NOT NULL AND r.first_at <= o.due_at THEN 1 ELSE 0 END) \
             FROM (SELECT subject_id, MIN(at) AS first_at FROM events \
                   WHERE subject = $1 AND to_state = $2 AND at >= $3 AND at < $4 \
                   GROUP BY subject_id) r \
             JOIN opinions o ON o.id = r.subject_id \
             WHERE o.{col} IS NOT NULL GROUP BY o.{col} ORDER BY o.{col}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(minyi_core::event::SubjectKind::Opinion.code())
            .bind(OpinionState::Responded.code())
            .bind(ms(from))
            .bind(ms(to))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AnsweredCount {
                    unit_id: r.try_get(0)?,
                    answered: r.try_get(1)?,
                    on_time: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Window ratings given in `[from, to)`, per window, scale and level.
    pub async fn dashboard_ratings(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<RatingCount>> {
        check_period(from, to, "dashboard ratings")?;
        let rows = sqlx::query(
            "SELECT window_id, scale, level, COUNT(*) FROM ratings \
             WHERE rated_at >= $1 AND rated_at < $2 \
             GROUP BY window_id, scale, level ORDER BY window_id, scale, level",
        )
        .bind(ms(from))
        .bind(ms(to))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RatingCount {
                    window_id: r.try_get(0)?,
                    scale: r.try_get(1)?,
                    level: r.try_get(2)?,
                    count: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Callbacks due in `[from, to)`, per unit and state code.
    pub async fn dashboard_callbacks(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<CallbackCount>> {
        check_period(from, to, "dashboard callbacks")?;
        let rows = sqlx::query(
            "SELECT unit_id, state, COUNT(*) FROM callbacks \
             WHERE due_at >= $1 AND due_at < $2 \
             GROUP BY unit_id, state ORDER BY unit_id, state",
        )
        .bind(ms(from))
        .bind(ms(to))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CallbackCount {
                    unit_id: r.try_get(0)?,
                    state: r.try_get(1)?,
                    count: r.try_get(2)?,
                })
            })
            .collect()
    }
}
