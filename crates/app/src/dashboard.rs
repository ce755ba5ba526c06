//! The figures of the city, county and station dashboards, for one unit on behalf of a
//! principal: opinion volume by channel and category per month, open / overdue /
//! due-soon counts, response timeliness, residents' verdicts, window ratings, callbacks,
//! and the same figures for each direct child unit.
//!
//! The store answers per-unit rows for the whole city (a handful of GROUP BY queries);
//! this module rolls them up the unit tree and cuts them to the unit's subtree ∩ the
//! principal's scope. Nothing outside that intersection may be added in: a unit outside
//! the scope answers `NotFound`, exactly as for any other scoped read. It must not
//! render anything (that is `web`).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use minyi_core::access::{Permission, Scope};
use minyi_core::calendar::{end_of_shanghai_day, shanghai_date};
use minyi_core::org::UnitKind;
use minyi_core::records::CallbackState;
use minyi_core::taxonomy::{Category, Channel, Verdict};
use minyi_store::UnitRow;
use minyi_store::dashboard::{Dimension, MonthCount, RatingCount, Routing, UnitFigures};

use crate::auth::Principal;
use crate::{App, AppError, Result};

/// How many months the series cover, ending with the month of `now`.
pub const MONTHS: usize = 12;

/// Working days ahead (after today) that count as "due soon".
pub const DUE_SOON_WORKING_DAYS: u32 = 2;

const SHANGHAI_OFFSET_HOURS: i64 = 8;

/// Opinions received per month with one code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Series {
    /// A channel or category code.
    pub key: String,
    /// Aligned to [`Dashboard::months`].
    pub values: Vec<i64>,
}

/// A direct child unit's figures over the same period, cut to the same scope.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChildSummary {
    pub unit: UnitRow,
    pub opinions: i64,
    pub open: i64,
    pub overdue: i64,
    pub answered: i64,
    pub answered_on_time: i64,
    pub verdicts_satisfied: i64,
    pub verdicts_total: i64,
}

/// Window ratings on the three-level scale. Five-level ratings are folded in the way
/// `RatingLevel::is_satisfied` / `is_dissatisfied` read them: 1–2 → 1 (满意),
/// 3 → 2 (基本满意), 4–5 → 3 (不满意).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RatingSummary {
    pub total: i64,
    /// Always levels 1, 2, 3 in that order.
    pub by_level: Vec<(i64, i64)>,
    /// Level 1 after folding.
    pub satisfied: i64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Dashboard {
    pub unit: UnitRow,
    /// "YYYY-MM", the 12 months ending with the month of `now` in Asia/Shanghai.
    pub months: Vec<String>,
    /// Opinions received per month per channel, in vocabulary order; all-zero omitted.
    pub by_channel: Vec<Series>,
    /// Opinions received per month per category, in vocabulary order; all-zero omitted.
    pub by_category: Vec<Series>,
    /// Not in a terminal state, now.
    pub open: i64,
    /// Open with `due_at < now`.
    pub overdue: i64,
    /// Open, not overdue, due by the end of the 2nd working day after today (Shanghai).
    pub due_soon: i64,
    /// Opinions that reached `responded` in the period (each once).
    pub answered: i64,
    /// Of those, first responded in the period at or before `due_at`.
    pub answered_on_time: i64,
    /// Verdicts on opinions received in the period, every verdict listed (zeros kept).
    pub verdicts: Vec<(Verdict, i64)>,
    /// Ratings of windows in the subtree, in the period.
    pub ratings: RatingSummary,
    /// Callbacks due in the period by state code, every state listed (zeros kept).
    pub callbacks: Vec<(String, i64)>,
    /// One per direct child unit in scope: county and station bureaus first, then teams,
    /// windows and departments, each in code order.
    pub children: Vec<ChildSummary>,
    pub synthetic: bool,
    /// The period every "in the period" figure counts: `[period_from, period_to)`, the
    /// 12 Shanghai months of `months` (so the series add up to `ChildSummary::opinions`).
    pub period_from: DateTime<Utc>,
    pub period_to: DateTime<Utc>,
    /// Opinions are attributed through their routing to a department (a liaison's view),
    /// not through the handling unit.
    pub by_department: bool,
}

/// The dashboard of `unit_code` as `p` may see it at `now`.
pub async fn dashboard(
    app: &App,
    p: &Principal,
    unit_code: &str,
    now: DateTime<Utc>,
) -> Result<Dashboard> {
    p.require(Permission::ViewOpinions)?;
    let units = app.store.units().await?;
    let code = unit_code.trim();
    let unit = units
        .iter()
        .find(|u| u.code.as_str() == code)
        .cloned()
        .ok_or(AppError::NotFound)?;
    if !p.scope.contains(unit.id) {
        return Err(AppError::NotFound);
    }
    let tree: Vec<(i64, Option<i64>)> = units.iter().map(|u| (u.id, u.parent_id)).collect();
    let counted = |root: i64| -> HashSet<i64> {
        Scope::subtree(root, &tree)
            .units()
            .filter(|id| p.scope.contains(*id))
            .collect()
    };

    let (month_starts, months) = shanghai_months(now)?;
    let (from, to) = (month_starts[0], month_starts[MONTHS]);
    let soon_until = due_soon_until(app, now)?;
    let routing = if p.role.sees_by_department() {
        Routing::Department
    } else {
        Routing::Unit
    };

    let store = &app.store;
    // Independent reads: on SQLite they run on separate pooled connections at once.
    let (figures, by_channel, by_category, answered, ratings, callbacks) = tokio::try_join!(
        store.dashboard_unit_figures(routing, from, to, now, soon_until),
        store.dashboard_months(routing, Dimension::Channel, &month_starts),
        store.dashboard_months(routing, Dimension::Category, &month_starts),
        store.dashboard_answered(routing, from, to),
        store.dashboard_ratings(from, to),
        store.dashboard_callbacks(from, to),
    )?;
    let figures: HashMap<i64, UnitFigures> = figures.into_iter().map(|f| (f.unit_id, f)).collect();
    let answered: HashMap<i64, (i64, i64)> = answered
        .into_iter()
        .map(|a| (a.unit_id, (a.answered, a.on_time)))
        .collect();

    let here = counted(unit.id);
    let sum = Totals::of(&here, &figures, &answered);

    let mut children: Vec<&UnitRow> = units
        .iter()
        .filter(|u| u.parent_id == Some(unit.id) && p.scope.contains(u.id))
        .collect();
    children.sort_by_key(|u| (kind_order(u.kind), u.code.as_str()));
    let children = children
        .into_iter()
        .map(|c| {
            let t = Totals::of(&counted(c.id), &figures, &answered);
            ChildSummary {
                unit: c.clone(),
                opinions: t.received,
                open: t.open,
                overdue: t.overdue,
                answered: t.answered,
                answered_on_time: t.on_time,
                verdicts_satisfied: t.verdicts[0],
                verdicts_total: t.verdicts.iter().sum(),
            }
        })
        .collect();

    let channel_order: Vec<&str> = Channel::ALL.iter().map(|c| c.code()).collect();
    let category_order: Vec<&str> = Category::ALL.iter().map(|c| c.code()).collect();
    Ok(Dashboard {
        months,
        by_channel: series(&by_channel, &here, &channel_order),
        by_category: series(&by_category, &here, &category_order),
        open: sum.open,
        overdue: sum.overdue,
        due_soon: sum.due_soon,
        answered: sum.answered,
        answered_on_time: sum.on_time,
        verdicts: Verdict::ALL
            .iter()
            .zip(sum.verdicts)
            .map(|(v, n)| (*v, n))
            .collect(),
        ratings: rating_summary(&ratings, &here)?,
        callbacks: callback_counts(&callbacks, &here),
        children,
        synthetic: units.iter().any(|u| here.contains(&u.id) && u.synthetic),
        period_from: from,
        period_to: to,
        by_department: routing == Routing::Department,
        unit,
    })
}

/// Sums of the per-unit figures over a set of unit ids.
#[derive(Default)]
struct Totals {
    received: i64,
    open: i64,
    overdue: i64,
    due_soon: i64,
    answered: i64,
    on_time: i64,
    /// In `Verdict::ALL` order.
    verdicts: [i64; 3],
}

impl Totals {
    fn of(
        ids: &HashSet<i64>,
        figures: &HashMap<i64, UnitFigures>,
        answered: &HashMap<i64, (i64, i64)>,
    ) -> Totals {
        let mut t = Totals::default();
        for id in ids {
            if let Some(f) = figures.get(id) {
                t.received += f.received;
                t.open += f.open;
                t.overdue += f.overdue;
                t.due_soon += f.due_soon;
                for (slot, v) in t.verdicts.iter_mut().zip(Verdict::ALL) {
                    *slot += f.verdict(*v);
                }
            }
            if let Some((a, on_time)) = answered.get(id) {
                t.answered += a;
                t.on_time += on_time;
            }
        }
        t
    }
}

fn kind_order(kind: UnitKind) -> usize {
    match kind {
        UnitKind::CityBureau | UnitKind::CountyBureau | UnitKind::Station => 0,
        UnitKind::Team => 1,
        UnitKind::Window => 2,
        UnitKind::Department => 3,
    }
}

/// The first instant (UTC) of each of the 12 Shanghai months ending with the month of
/// `now`, plus the start of the month after; and their "YYYY-MM" labels. Shanghai has no
/// daylight saving, so a fixed +8 h offset is exact.
fn shanghai_months(now: DateTime<Utc>) -> Result<(Vec<DateTime<Utc>>, Vec<String>)> {
    let today = shanghai_date(now).map_err(|e| AppError::Invalid(format!("dashboard: {e}")))?;
    let out_of_range = || AppError::Invalid(format!("dashboard: {now} is out of range"));
    // Months counted from year 0, so stepping back never needs a special case.
    let current = i64::from(today.year()) * 12 + i64::from(today.month0());
    let mut starts = Vec::with_capacity(MONTHS + 1);
    let mut labels = Vec::with_capacity(MONTHS);
    for k in 0..=MONTHS as i64 {
        let m = current - (MONTHS as i64 - 1) + k;
        let year = i32::try_from(m.div_euclid(12)).map_err(|_| out_of_range())?;
        let month = u32::try_from(m.rem_euclid(12) + 1).map_err(|_| out_of_range())?;
        let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(out_of_range)?;
        let start = first
            .and_hms_opt(0, 0, 0)
            .ok_or_else(out_of_range)?
            .checked_sub_signed(TimeDelta::hours(SHANGHAI_OFFSET_HOURS))
            .ok_or_else(out_of_range)?
            .and_utc();
        starts.push(start);
        if k < MONTHS as i64 {
            labels.push(format!("{year:04}-{month:02}"));
        }
    }
    Ok((starts, labels))
}

/// The end of the 2nd working day after today (Shanghai): a deadline at or before it,
/// not yet passed, is "due soon". Deadlines fall at the end of a Shanghai day.
fn due_soon_until(app: &App, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let calendar_error = |e: minyi_core::calendar::CalendarError| AppError::Calendar {
        path: "(dashboard due-soon window)".into(),
        source: e,
    };
    let today = shanghai_date(now).map_err(calendar_error)?;
    let day = app
        .calendar
        .add_working_days(today, DUE_SOON_WORKING_DAYS)
        .map_err(calendar_error)?;
    end_of_shanghai_day(day).map_err(calendar_error)
}

/// Monthly series over the counted units, in vocabulary order (unknown codes after, in
/// code order), all-zero series left out.
fn series(rows: &[MonthCount], ids: &HashSet<i64>, order: &[&str]) -> Vec<Series> {
    let mut by_key: HashMap<&str, Vec<i64>> = HashMap::new();
    for r in rows.iter().filter(|r| ids.contains(&r.unit_id)) {
        if let Some(slot) = by_key
            .entry(r.key.as_str())
            .or_insert_with(|| vec![0; MONTHS])
            .get_mut(r.month)
        {
            *slot += r.count;
        }
    }
    let rank = |k: &str| order.iter().position(|o| *o == k).unwrap_or(order.len());
    let mut out: Vec<Series> = by_key
        .into_iter()
        .filter(|(_, v)| v.iter().any(|n| *n != 0))
        .map(|(k, values)| Series {
            key: k.to_owned(),
            values,
        })
        .collect();
    out.sort_by(|a, b| (rank(&a.key), &a.key).cmp(&(rank(&b.key), &b.key)));
    out
}

/// Folds a stored (scale, level) onto the three-level scale.
fn fold_level(r: &RatingCount) -> Result<i64> {
    match (r.scale, r.level) {
        (3, l @ 1..=3) => Ok(l),
        (5, 1 | 2) => Ok(1),
        (5, 3) => Ok(2),
        (5, 4 | 5) => Ok(3),
        (s, l) => Err(AppError::Store(minyi_store::StoreError::Corrupt(format!(
            "rating of window {} has level {l} on a {s}-level scale",
            r.window_id
        )))),
    }
}

fn rating_summary(rows: &[RatingCount], ids: &HashSet<i64>) -> Result<RatingSummary> {
    let mut levels = [0i64; 3];
    for r in rows.iter().filter(|r| ids.contains(&r.window_id)) {
        let l = fold_level(r)?;
        if let Some(slot) = usize::try_from(l - 1).ok().and_then(|i| levels.get_mut(i)) {
            *slot += r.count;
        }
    }
    Ok(RatingSummary {
        total: levels.iter().sum(),
        by_level: (1..=3).zip(levels).collect(),
        satisfied: levels[0],
    })
}

/// Every callback state in vocabulary order (zeros kept), then any unknown stored codes.
fn callback_counts(
    rows: &[minyi_store::dashboard::CallbackCount],
    ids: &HashSet<i64>,
) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = CallbackState::ALL
        .iter()
        .map(|s| (s.code().to_owned(), 0))
        .collect();
    for r in rows.iter().filter(|r| ids.contains(&r.unit_id)) {
        match out.iter_mut().find(|(k, _)| *k == r.state) {
            Some((_, n)) => *n += r.count,
            None => out.push((r.state.clone(), r.count)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn months_are_shanghai_months() {
        // 2026-01-31 17:00 UTC is 2026-02-01 01:00 in Shanghai: February is the last month.
        let now = Utc.with_ymd_and_hms(2026, 1, 31, 17, 0, 0).unwrap();
        let (starts, labels) = shanghai_months(now).unwrap();
        assert_eq!(labels.first().map(String::as_str), Some("2025-03"));
        assert_eq!(labels.last().map(String::as_str), Some("2026-02"));
        assert_eq!(labels.len(), 12);
        assert_eq!(starts.len(), 13);
        assert_eq!(
            starts[0],
            Utc.with_ymd_and_hms(2025, 2, 28, 16, 0, 0).unwrap()
        );
        assert_eq!(
            starts[12],
            Utc.with_ymd_and_hms(2026, 2, 28, 16, 0, 0).unwrap()
        );
        // One hour earlier it is still January in Shanghai.
        let (_, labels) = shanghai_months(now - TimeDelta::hours(2)).unwrap();
        assert_eq!(labels.last().map(String::as_str), Some("2026-01"));
    }

    #[test]
    fn five_level_ratings_fold_onto_three() {
        let r = |scale, level| RatingCount {
            window_id: 1,
            scale,
            level,
            count: 1,
        };
        let folded: Vec<i64> = (1..=5).map(|l| fold_level(&r(5, l)).unwrap()).collect();
        assert_eq!(folded, vec![1, 1, 2, 3, 3]);
        assert!(fold_level(&r(3, 4)).is_err());
        assert!(fold_level(&r(4, 1)).is_err());
    }
}
