//! The hard indicators (硬指标) per unit and period — callback coverage, reach rate,
//! callback satisfaction, 110 help resolution (报警求助解决率), permits on time
//! (证照按时办结率), timely case filing (立案及时率), loss recovery — each a numerator over
//! a denominator, and the records behind each figure.
//!
//! The store counts per unit (the rule of each indicator is written once, in
//! `minyi_store`'s `indicator_sql`); this module adds units up their subtree: a station's
//! figures are its own records and those of its windows and teams, a county's and the
//! city's their whole subtree. Read on behalf of a principal, the subtree is cut to the
//! principal's scope, as the dashboard does. It must not render anything.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use minyi_core::access::{Permission, Scope};
use minyi_core::records::{Indicator, ReportPeriod};
use minyi_store::{IndicatorRecord, IndicatorWindow, UnitRow};

use crate::auth::Principal;
use crate::{App, AppError, Result};

/// A numerator over a denominator; the rate is undefined when nothing was counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Ratio {
    pub numerator: i64,
    pub denominator: i64,
}

impl Ratio {
    pub fn rate(self) -> Option<f64> {
        (self.denominator > 0).then(|| self.numerator as f64 / self.denominator as f64)
    }

    fn add(&mut self, other: Ratio) {
        self.numerator += other.numerator;
        self.denominator += other.denominator;
    }
}

/// One unit's indicators over one period, its subtree added up.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnitIndicators {
    pub unit: UnitRow,
    pub period: ReportPeriod,
    /// Every indicator, in [`Indicator::ALL`] order (zeros kept).
    pub values: Vec<(Indicator, Ratio)>,
}

impl UnitIndicators {
    pub fn get(&self, i: Indicator) -> Ratio {
        self.values
            .iter()
            .find(|(x, _)| *x == i)
            .map(|(_, r)| *r)
            .unwrap_or_default()
    }
}

/// The counting window; the filing limit is `[callbacks] filing_limit_days`.
fn window(app: &App, period: &ReportPeriod, now: DateTime<Utc>) -> IndicatorWindow {
    IndicatorWindow {
        from: period.from,
        to: period.to,
        now,
        filing_limit_ms: i64::from(app.config.callbacks.filing_limit_days) * 86_400_000,
    }
}

/// Per-unit counts as a map, for adding up.
type PerUnit = HashMap<(Indicator, i64), Ratio>;

async fn per_unit(app: &App, w: &IndicatorWindow) -> Result<PerUnit> {
    Ok(app
        .store
        .indicator_counts(w)
        .await?
        .into_iter()
        .map(|c| {
            (
                (c.indicator, c.unit_id),
                Ratio {
                    numerator: c.numerator,
                    denominator: c.denominator,
                },
            )
        })
        .collect())
}

fn sum_over(counts: &PerUnit, units: impl Iterator<Item = i64> + Clone) -> Vec<(Indicator, Ratio)> {
    Indicator::ALL
        .iter()
        .map(|&i| {
            let mut r = Ratio::default();
            for u in units.clone() {
                if let Some(x) = counts.get(&(i, u)) {
                    r.add(*x);
                }
            }
            (i, r)
        })
        .collect()
}

/// Every unit's indicators over `period` as of now, each unit's subtree added up: the
/// figures the assessment issue scores. Not scoped (the assessment runs for the city).
pub async fn for_units(app: &App, period: &ReportPeriod) -> Result<Vec<UnitIndicators>> {
    for_units_at(app, period, Utc::now()).await
}

/// [`for_units`] as judged at `now` (what is overdue depends on it).
pub async fn for_units_at(
    app: &App,
    period: &ReportPeriod,
    now: DateTime<Utc>,
) -> Result<Vec<UnitIndicators>> {
    let units = app.store.units().await?;
    let tree: Vec<(i64, Option<i64>)> = units.iter().map(|u| (u.id, u.parent_id)).collect();
    let counts = per_unit(app, &window(app, period, now)).await?;
    Ok(units
        .iter()
        .map(|u| {
            let sub = Scope::subtree(u.id, &tree);
            UnitIndicators {
                unit: u.clone(),
                period: period.clone(),
                values: sum_over(&counts, sub.units().collect::<Vec<_>>().into_iter()),
            }
        })
        .collect())
}

/// The unit and the units counted for it on behalf of `p`: its subtree within `p`'s scope.
async fn scoped_units(app: &App, p: &Principal, code: &str) -> Result<(UnitRow, Vec<i64>)> {
    p.require(Permission::ViewOpinions)?;
    let unit = app
        .store
        .unit_by_code(code.trim())
        .await?
        .ok_or(AppError::NotFound)?;
    if !p.scope.contains(unit.id) {
        return Err(AppError::NotFound);
    }
    let units = app.store.units().await?;
    let tree: Vec<(i64, Option<i64>)> = units.iter().map(|u| (u.id, u.parent_id)).collect();
    let ids = Scope::subtree(unit.id, &tree)
        .units()
        .filter(|id| p.scope.contains(*id))
        .collect();
    Ok((unit, ids))
}

/// One unit's indicators as `p` may see them.
pub async fn for_unit(
    app: &App,
    p: &Principal,
    code: &str,
    period: &ReportPeriod,
    now: DateTime<Utc>,
) -> Result<UnitIndicators> {
    let (unit, ids) = scoped_units(app, p, code).await?;
    let counts = per_unit(app, &window(app, period, now)).await?;
    Ok(UnitIndicators {
        values: sum_over(&counts, ids.iter().copied()),
        unit,
        period: period.clone(),
    })
}

/// Records listed per page of a drill-down.
pub const PAGE_SIZE: i64 = 50;

/// The records behind one indicator of one unit: one page, newest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Drill {
    pub unit: UnitRow,
    pub indicator: Indicator,
    pub period: ReportPeriod,
    /// The figure the listed records add up to.
    pub ratio: Ratio,
    pub records: Vec<IndicatorRecord>,
    /// Unit id → (code, name) for the units the listed records belong to.
    pub unit_names: HashMap<i64, (String, String)>,
    pub total: i64,
    /// 1-based.
    pub page: i64,
    pub pages: i64,
}

pub async fn drill(
    app: &App,
    p: &Principal,
    code: &str,
    indicator: Indicator,
    period: &ReportPeriod,
    page: i64,
    now: DateTime<Utc>,
) -> Result<Drill> {
    let (unit, ids) = scoped_units(app, p, code).await?;
    let w = window(app, period, now);
    let page = page.max(1);
    let (records, total) = app
        .store
        .indicator_records(indicator, &ids, &w, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?;
    let counts = per_unit(app, &w).await?;
    let ratio = sum_over(&counts, ids.iter().copied())
        .into_iter()
        .find(|(i, _)| *i == indicator)
        .map(|(_, r)| r)
        .unwrap_or_default();
    let wanted: std::collections::HashSet<i64> = records.iter().map(|r| r.unit_id).collect();
    let unit_names = app
        .store
        .units()
        .await?
        .into_iter()
        .filter(|u| wanted.contains(&u.id))
        .map(|u| (u.id, (u.code.as_str().to_owned(), u.name)))
        .collect();
    Ok(Drill {
        unit,
        indicator,
        period: period.clone(),
        ratio,
        records,
        unit_names,
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
    })
}

/// A `period` parameter, or the year of `now` when none is given.
pub fn period_or_default(label: Option<&str>, now: DateTime<Utc>) -> Result<ReportPeriod> {
    match label.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => ReportPeriod::parse(l).map_err(|e| AppError::Invalid(e.to_string())),
        None => {
            let month = ReportPeriod::month_of(now);
            ReportPeriod::parse(&month.label[..4]).map_err(|e| AppError::Invalid(e.to_string()))
        }
    }
}
