//! The analysis workspaces: the county first analysis (confirm, relabel, merge, escalate)
//! and the city thematic workspace, and the hotspot report both of them (and briefings)
//! read.
//!
//! Hotspots ([`hotspots`]) are the prospective space-time permutation scan of
//! `minyi_stats::scan` run per category over the villages × days of a county or of the
//! city, with a fixed seed so the same data gives the same report; trend alerts are the
//! Poisson CUSUM and EWMA of `minyi_stats::trend` on each station's daily counts per
//! category. The statistics live in `stats`; this module only gathers the counts, maps
//! places to villages and turns indices back into names and tracking codes. It must not
//! decide routing itself (that is `triage::apply`) nor write anything for a read.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use minyi_core::calendar::shanghai_date;
use minyi_core::org::{AreaKind, UnitKind};
use minyi_core::taxonomy::Category;
use minyi_stats::scan::{Point, ScanConfig, ScanError, scan};
use minyi_stats::trend::{TrendConfig, TrendError, trend_alerts};
use minyi_store::{AreaRow, UnitRow};

use crate::{App, AppError, Result};

/// Settings of a hotspot report. Start from [`HotspotParams::default`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HotspotParams {
    /// Study window in Shanghai days, ending with the day of `now` (inclusive).
    pub window_days: u32,
    /// Longest cluster in days (clusters always end on the last day of the window).
    pub max_cluster_days: usize,
    /// Largest cluster radius in kilometres.
    pub max_radius_km: f64,
    /// Largest share of a category's cases one cluster may hold.
    pub max_share_of_cases: f64,
    /// Monte Carlo replications per category.
    pub replications: usize,
    /// Seed of the permutations: same data, same seed, same report.
    pub seed: u64,
    /// Clusters with a larger p-value are not reported. The p-value is per category: with
    /// fifteen categories scanned, a few clusters at 0.05 are expected by chance each
    /// month, which is why the recurrence interval is shown beside it.
    pub max_p_value: f64,
    /// Days before the window used as the trend charts' baseline.
    pub trend_baseline_days: usize,
    /// In-control average run length of the trend charts, in days (false alarms per
    /// station and category: about one per this many days).
    pub trend_target_arl: f64,
}

impl Default for HotspotParams {
    fn default() -> Self {
        HotspotParams {
            window_days: 30,
            max_cluster_days: 7,
            max_radius_km: 15.0,
            max_share_of_cases: 0.5,
            replications: 999,
            seed: 20_261_126,
            max_p_value: 0.05,
            trend_baseline_days: 56,
            trend_target_arl: 365.0,
        }
    }
}

impl HotspotParams {
    fn check(&self) -> Result<()> {
        let bad = |what: &str| Err(AppError::Invalid(format!("hotspot setting {what}")));
        if !(7..=366).contains(&self.window_days) {
            return bad("window_days must be 7 to 366 days");
        }
        if self.max_cluster_days == 0 || self.max_cluster_days > self.window_days as usize {
            return bad("max_cluster_days must be 1 to window_days");
        }
        if !(self.max_radius_km > 0.0 && self.max_radius_km.is_finite()) {
            return bad("max_radius_km must be positive");
        }
        if !(self.max_share_of_cases > 0.0 && self.max_share_of_cases <= 1.0) {
            return bad("max_share_of_cases must be in (0, 1]");
        }
        if !(19..=99_999).contains(&self.replications) {
            return bad("replications must be 19 to 99999");
        }
        if !(0.0..=1.0).contains(&self.max_p_value) {
            return bad("max_p_value must be in 0..=1");
        }
        if !(7..=366).contains(&self.trend_baseline_days) {
            return bad("trend_baseline_days must be 7 to 366");
        }
        Ok(())
    }
}

/// A village (or the area it stands for) named in a report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PlaceRef {
    pub area_id: i64,
    pub code: String,
    pub name: String,
    pub lon: f64,
    pub lat: f64,
}

/// One space-time cluster of one category.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hotspot {
    pub category: Category,
    /// The centre village.
    pub centre: PlaceRef,
    /// Member villages, nearest to the centre first (the centre is first).
    pub villages: Vec<PlaceRef>,
    pub radius_km: f64,
    /// First and last Shanghai day of the cluster (the last is the window's last day).
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub days: usize,
    pub observed: u64,
    pub expected: f64,
    pub relative_risk: Option<f64>,
    pub log_likelihood_ratio: f64,
    pub p_value: f64,
    pub recurrence_interval_days: f64,
    /// Tracking codes of the matters inside the cylinder, oldest first.
    pub opinion_codes: Vec<String>,
}

/// What the scan of one category did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CategoryScan {
    pub category: Category,
    /// Placed cases of the category in the window.
    pub cases: u64,
    /// Clusters at or below `max_p_value`, most likely first.
    pub hotspots: Vec<Hotspot>,
    /// Why the scan was not run (for example no cases), as a stable code.
    pub skipped: Option<&'static str>,
}

/// A station whose daily count of one category is above its designed limit today.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrendAlert {
    pub unit_id: i64,
    pub unit_code: String,
    pub unit_name: String,
    pub category: Category,
    /// First day of the current unbroken run of alarm days.
    pub since: NaiveDate,
    /// Mean daily count in the baseline.
    pub baseline_mean: f64,
    /// Cases in the last 7 days of the window.
    pub last_week: u64,
    /// The CUSUM statistic on the last day against its decision interval.
    pub cusum: f64,
    pub cusum_threshold: f64,
    /// The EWMA on the last day against its limit.
    pub ewma: f64,
    pub ewma_limit: f64,
    /// Baseline variance over mean; well above 1 means more false alarms than designed.
    pub baseline_dispersion: Option<f64>,
}

/// The hotspot report of a county or of the city.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HotspotReport {
    pub scope_code: String,
    pub scope_name: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub params: HotspotParams,
    /// Villages with coordinates in scope (the scan's locations).
    pub villages: usize,
    /// Matters in scope and window that could not be placed in a village with
    /// coordinates (no area, a township-level area, or a village without a centre).
    pub unplaced: u64,
    /// One entry per category that had cases, in category order.
    pub categories: Vec<CategoryScan>,
    /// Every reported hotspot of every category, smallest p-value first.
    pub hotspots: Vec<Hotspot>,
    /// Stations × categories alarming on the last day, longest-running first.
    pub trend_alerts: Vec<TrendAlert>,
}

/// One category's counts `[village][day]` over the window, and the tracking codes of
/// each (village, day) cell.
type CategoryTable = (Vec<Vec<u32>>, HashMap<(usize, usize), Vec<String>>);

/// Start of a Shanghai day as a UTC instant.
fn day_start(day: NaiveDate) -> DateTime<Utc> {
    let local = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    (local - Duration::hours(8)).and_utc()
}

/// The units a hotspot scope covers: a county bureau's own subtree, or everything for
/// the city bureau. Any other unit kind is refused.
fn scope_of(units: &[UnitRow], scope_unit_code: &str) -> Result<UnitRow> {
    let u = units
        .iter()
        .find(|u| u.code.as_str() == scope_unit_code.trim())
        .cloned()
        .ok_or(AppError::NotFound)?;
    match u.kind {
        UnitKind::CityBureau | UnitKind::CountyBureau => Ok(u),
        other => Err(AppError::Invalid(format!(
            "hotspots are computed for a county bureau or the city bureau, not for {} ({other})",
            u.code
        ))),
    }
}

/// Villages in scope with planar coordinates in kilometres, and the map from any area id
/// (village or grid cell) to its village's index.
struct Villages {
    rows: Vec<AreaRow>,
    points: Vec<Point>,
    index_of_area: HashMap<i64, usize>,
    /// The responsible station of each village.
    station: Vec<Option<i64>>,
}

fn villages_in(areas: &[AreaRow], station_in_scope: &dyn Fn(i64) -> bool) -> Villages {
    let rows: Vec<AreaRow> = areas
        .iter()
        .filter(|a| a.kind == AreaKind::Village && a.lon.is_some() && a.lat.is_some())
        .filter(|a| a.station_id.is_some_and(station_in_scope))
        .cloned()
        .collect();
    // An equirectangular projection around the mean latitude: at a county's size (tens
    // of kilometres) the distortion is far below the precision of a village centre.
    let lat0 = if rows.is_empty() {
        0.0
    } else {
        rows.iter().filter_map(|a| a.lat).sum::<f64>() / rows.len() as f64
    };
    let kx = 111.32 * lat0.to_radians().cos();
    let points = rows
        .iter()
        .map(|a| Point {
            x: a.lon.unwrap_or(0.0) * kx,
            y: a.lat.unwrap_or(0.0) * 110.57,
        })
        .collect();
    let mut index_of_area: HashMap<i64, usize> =
        rows.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
    for a in areas.iter().filter(|a| a.kind == AreaKind::GridCell) {
        if let Some(&i) = a.parent_id.and_then(|p| index_of_area.get(&p)) {
            index_of_area.insert(a.id, i);
        }
    }
    let station = rows.iter().map(|a| a.station_id).collect();
    Villages {
        rows,
        points,
        index_of_area,
        station,
    }
}

fn place(a: &AreaRow) -> PlaceRef {
    PlaceRef {
        area_id: a.id,
        code: a.code.to_string(),
        name: a.name.clone(),
        lon: a.lon.unwrap_or(0.0),
        lat: a.lat.unwrap_or(0.0),
    }
}

/// Hotspots and trend alerts of a county bureau's or the city bureau's area, over the
/// `params.window_days` Shanghai days ending with the day of `now` (matters received
/// after `now` are ignored, so a report for a past period is reproducible by passing the
/// period's end as `now`).
///
/// Matters are placed by their area: a village, or the village a grid cell lies in.
/// Matters merged into another count once (as the matter they were merged into). The
/// scan runs per category with the fixed seed of `params`; trend alerts run per station
/// (the responsible station of the village) and category, with the
/// `params.trend_baseline_days` before the window as baseline. Read-only; scope checks
/// against a principal are the caller's (see [`hotspots_for`]).
pub async fn hotspots(
    app: &App,
    scope_unit_code: &str,
    params: &HotspotParams,
    now: DateTime<Utc>,
) -> Result<HotspotReport> {
    params.check()?;
    let units = app.store.units().await?;
    let scope = scope_of(&units, scope_unit_code)?;
    let last_day = shanghai_date(now).map_err(|e| AppError::Invalid(e.to_string()))?;
    let window = i64::from(params.window_days);
    let first_day = last_day - Duration::days(window - 1);
    let baseline = params.trend_baseline_days as i64;
    let series_first = first_day - Duration::days(baseline);

    let stations: HashMap<i64, &UnitRow> = units
        .iter()
        .filter(|u| u.kind == UnitKind::Station)
        .filter(|u| scope.kind == UnitKind::CityBureau || u.parent_id == Some(scope.id))
        .map(|u| (u.id, u))
        .collect();
    let areas = app.store.areas().await?;
    let v = villages_in(&areas, &|s| stations.contains_key(&s));

    let cases = app
        .store
        .analysis_cases(day_start(series_first), now + Duration::milliseconds(1))
        .await?;
    let station_of_unit = |unit: Option<i64>| unit.filter(|u| stations.contains_key(u));
    let n_days = params.window_days as usize;
    let mut unplaced = 0u64;
    // Per category: counts[village][day] over the window and the cases of each cell.
    let mut tables: BTreeMap<Category, CategoryTable> = BTreeMap::new();
    // Per (station, category): daily counts over baseline + window.
    let series_len = (baseline + window) as usize;
    let mut series: BTreeMap<(i64, Category), Vec<u64>> = BTreeMap::new();
    for c in &cases {
        let Ok(day) = shanghai_date(c.received_at) else {
            continue;
        };
        let village = c.area_id.and_then(|a| v.index_of_area.get(&a).copied());
        let station = match village {
            Some(i) => v.station.get(i).copied().flatten(),
            None => station_of_unit(c.unit_id),
        };
        let offset = (day - series_first).num_days();
        if !(0..series_len as i64).contains(&offset) {
            continue;
        }
        if let Some(s) = station {
            series
                .entry((s, c.category))
                .or_insert_with(|| vec![0; series_len])[offset as usize] += 1;
        }
        let d = offset - baseline;
        if d < 0 {
            continue;
        }
        let d = d as usize;
        match village {
            Some(i) => {
                let (table, cells) = tables
                    .entry(c.category)
                    .or_insert_with(|| (vec![vec![0; n_days]; v.rows.len()], HashMap::new()));
                table[i][d] += 1;
                cells
                    .entry((i, d))
                    .or_default()
                    .push(c.tracking_code.clone());
            }
            None if station.is_some() || scope.kind == UnitKind::CityBureau => unplaced += 1,
            None => {}
        }
    }

    let config = ScanConfig {
        max_share_of_cases: params.max_share_of_cases,
        max_radius: Some(params.max_radius_km),
        max_locations: None,
        max_days: params.max_cluster_days,
        min_cases: 2,
        replications: params.replications,
        seed: params.seed,
        max_clusters: 10,
        analysis_interval_days: 1.0,
        window: None,
    };
    let mut categories = Vec::new();
    let mut all = Vec::new();
    for (category, (table, cells)) in &tables {
        let total: u64 = table.iter().flatten().map(|&x| u64::from(x)).sum();
        let mut entry = CategoryScan {
            category: *category,
            cases: total,
            hotspots: Vec::new(),
            skipped: None,
        };
        match scan(table, &v.points, &config) {
            Ok(result) => {
                for cl in result
                    .clusters
                    .iter()
                    .filter(|c| c.p_value <= params.max_p_value)
                {
                    let mut codes = Vec::new();
                    for &m in &cl.members {
                        for d in cl.start_day..=cl.end_day {
                            if let Some(cs) = cells.get(&(m, d)) {
                                codes.extend(cs.iter().cloned());
                            }
                        }
                    }
                    let villages: Vec<PlaceRef> = cl
                        .members
                        .iter()
                        .filter_map(|&m| v.rows.get(m))
                        .map(place)
                        .collect();
                    let Some(centre) = villages.first().cloned() else {
                        continue;
                    };
                    entry.hotspots.push(Hotspot {
                        category: *category,
                        centre,
                        villages,
                        radius_km: cl.radius,
                        first_day: first_day + Duration::days(cl.start_day as i64),
                        last_day: first_day + Duration::days(cl.end_day as i64),
                        days: cl.days,
                        observed: cl.observed,
                        expected: cl.expected,
                        relative_risk: cl.relative_risk,
                        log_likelihood_ratio: cl.log_likelihood_ratio,
                        p_value: cl.p_value,
                        recurrence_interval_days: cl.recurrence_interval_days,
                        opinion_codes: codes,
                    });
                }
            }
            // Too little data for a scan is an answer ("nothing to see"), not a failure.
            Err(e @ (ScanError::NoCases | ScanError::NoLocations)) => {
                entry.skipped = Some(e.code())
            }
            Err(e) => {
                return Err(AppError::Invalid(format!(
                    "hotspot scan of {category}: {e}"
                )));
            }
        }
        all.extend(entry.hotspots.iter().cloned());
        categories.push(entry);
    }
    all.sort_by(|a, b| {
        a.p_value
            .total_cmp(&b.p_value)
            .then(b.log_likelihood_ratio.total_cmp(&a.log_likelihood_ratio))
    });

    let trend_config = TrendConfig {
        baseline_periods: params.trend_baseline_days,
        target_arl: params.trend_target_arl,
        ..TrendConfig::default()
    };
    let mut alerts = Vec::new();
    for ((station, category), counts) in &series {
        // With no case in the window neither chart can rise (the CUSUM stays at 0 and the
        // EWMA decays towards 0), so the chart design is not worth computing.
        if counts[params.trend_baseline_days..].iter().all(|&x| x == 0) {
            continue;
        }
        let report = match trend_alerts(counts, &trend_config) {
            Ok(r) => r,
            Err(e @ TrendError::MeanTooLarge { .. }) => {
                tracing::warn!(station, %category, error = %e, "trend chart not designed");
                continue;
            }
            Err(e) => return Err(AppError::Invalid(format!("trend of {category}: {e}"))),
        };
        if !report.alert_now {
            continue;
        }
        let last = counts.len() - 1;
        let run_start = |alarms: &[usize]| {
            if alarms.last() != Some(&last) {
                return None;
            }
            let mut start = last;
            for &a in alarms.iter().rev().skip(1) {
                if a + 1 != start {
                    break;
                }
                start = a;
            }
            Some(start)
        };
        let start = [
            run_start(&report.cusum_trace.alarms),
            run_start(&report.ewma_trace.alarms),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(last);
        let Some(unit) = stations.get(station) else {
            continue;
        };
        alerts.push(TrendAlert {
            unit_id: *station,
            unit_code: unit.code.to_string(),
            unit_name: unit.name.clone(),
            category: *category,
            since: series_first + Duration::days(start as i64),
            baseline_mean: report.baseline_mean,
            last_week: counts[counts.len().saturating_sub(7)..].iter().sum(),
            cusum: report.cusum_trace.values.last().copied().unwrap_or(0.0),
            cusum_threshold: report.cusum.decision_interval,
            ewma: report.ewma_trace.values.last().copied().unwrap_or(0.0),
            ewma_limit: report.ewma.limit,
            baseline_dispersion: report.baseline_dispersion,
        });
    }
    alerts.sort_by(|a, b| {
        a.since
            .cmp(&b.since)
            .then(a.unit_code.cmp(&b.unit_code))
            .then(a.category.code().cmp(b.category.code()))
    });
    Ok(HotspotReport {
        scope_code: scope.code.to_string(),
        scope_name: scope.name.clone(),
        first_day,
        last_day,
        params: params.clone(),
        villages: v.rows.len(),
        unplaced,
        categories,
        hotspots: all,
        trend_alerts: alerts,
    })
}
