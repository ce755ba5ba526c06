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

// ---------------------------------------------------------------------------------------
// The workspaces.

use minyi_core::access::{Permission, Role};
use minyi_core::taxonomy::{DepartmentKind, Sentiment, Urgency};
use minyi_store::{
    Changes, EscalationRow, JointRow, Labels, NewLabels, OpinionRow, Step, StoreError, TriageRecord,
};

use crate::audit::{AuditAction, record};
use crate::auth::Principal;
use crate::handling::Refusal;
use crate::merge::ProposalView;

/// One matter in the county queue.
#[derive(Debug, Clone)]
pub struct QueueItem {
    pub opinion: OpinionRow,
    pub triage: Option<TriageRecord>,
    /// Triage was below the review threshold (or had no record): an analyst must look.
    pub needs_analyst: bool,
    /// Open merge proposals naming the matter.
    pub proposals: Vec<ProposalView>,
}

/// The county queue and the unit it covers.
#[derive(Debug, Clone)]
pub struct CountyQueue {
    pub scope: UnitRow,
    /// Counties the principal may pick (a city analyst: all of them).
    pub counties: Vec<UnitRow>,
    pub items: Vec<QueueItem>,
}

fn analyst(p: &Principal) -> Result<()> {
    p.require(Permission::AnalyseOpinions)
}

fn city_analyst(p: &Principal) -> bool {
    p.role == Role::CityAnalyst && p.scope_is_city
}

/// The county analysts' queue: open, unlabelled matters handled in the county, least
/// confident first. A county analyst sees their own county; a city analyst the county
/// they pick (`county`), or every county when none is picked. A county outside the
/// principal's scope is `NotFound`.
pub async fn county_queue(
    app: &App,
    p: &Principal,
    county: Option<&str>,
    limit: i64,
) -> Result<CountyQueue> {
    analyst(p)?;
    let units = app.store.units().await?;
    let own = units
        .iter()
        .find(|u| u.id == p.unit_id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    let counties: Vec<UnitRow> = units
        .iter()
        .filter(|u| u.kind == UnitKind::CountyBureau && p.scope.contains(u.id))
        .cloned()
        .collect();
    let scope = match county.map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => counties
            .iter()
            .find(|u| u.code.as_str() == code)
            .cloned()
            .ok_or(AppError::NotFound)?,
        None => own,
    };
    let tree: Vec<(i64, Option<i64>)> = units.iter().map(|u| (u.id, u.parent_id)).collect();
    let sub = minyi_core::access::Scope::subtree(scope.id, &tree);
    let ids: Vec<i64> = sub.units().filter(|u| p.scope.contains(*u)).collect();
    let threshold = (app.config.triage.review_threshold.clamp(0.0, 1.0) * 1000.0).round() as i64;
    let mut items = Vec::new();
    for id in app.store.analysis_queue(&ids, limit).await? {
        let Some(o) = app.store.opinion(id).await? else {
            continue;
        };
        let triage = app.store.triage_of(id).await?;
        let needs_analyst = triage
            .as_ref()
            .is_none_or(|t| t.needs_review || t.confidence_permille < threshold);
        let proposals = crate::merge::proposals_for(app, p, &o)
            .await?
            .into_iter()
            .filter(|v| v.proposal.state == minyi_store::ProposalState::Proposed)
            .collect();
        items.push(QueueItem {
            opinion: o,
            triage,
            needs_analyst,
            proposals,
        });
    }
    Ok(CountyQueue {
        scope,
        counties,
        items,
    })
}

fn labels_of(o: &OpinionRow) -> Labels {
    Labels {
        category: o.category,
        sentiment: o.sentiment,
        urgency: o.urgency,
        department: o.department,
    }
}

/// Confirms the matter's labels as they are. Audited; the matter leaves the queue.
pub async fn confirm(
    app: &App,
    p: &Principal,
    code: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<(), Refusal>> {
    analyst(p)?;
    let o = crate::scoped::visible_opinion(app, p, code).await?;
    let l = labels_of(&o);
    app.store
        .record_labels(&NewLabels {
            opinion_id: o.id,
            at: now,
            actor: p.actor(),
            relabel: false,
            labels: l,
            previous: l,
            unit_id: o.unit_id,
            department_id: o.department_id,
        })
        .await?;
    record(
        app,
        now,
        &p.actor(),
        AuditAction::StateChange,
        &format!("opinion:{}", o.tracking_code),
        &format!("act=confirm_labels category={}", o.category.code()),
    )
    .await?;
    Ok(Ok(()))
}

/// New labels from the relabel form.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Relabel {
    pub category: Category,
    pub sentiment: Sentiment,
    pub urgency: Urgency,
    /// Only for `non_police`; ignored otherwise, `other` when missing.
    pub department: Option<DepartmentKind>,
}

/// The station a matter belongs to, for routing: its area's responsible station, else
/// its handling unit when that is a station.
async fn station_of(app: &App, o: &OpinionRow) -> Result<Option<i64>> {
    if let Some(area) = o.area_id {
        let areas = app.store.areas().await?;
        if let Some(s) = areas
            .iter()
            .find(|a| a.id == area)
            .and_then(|a| a.station_id)
        {
            return Ok(Some(s));
        }
    }
    match o.unit_id {
        Some(u) => Ok(app
            .store
            .unit(u)
            .await?
            .filter(|x| x.kind == UnitKind::Station)
            .map(|x| x.id)),
        None => Ok(None),
    }
}

/// Relabels a matter: the analyst's labels are stored with the previous ones, audited,
/// and the matter is re-routed by the triage rules (`triage::apply`) when it becomes a
/// non-police matter (to the linked department), a police matter again (the department
/// is cleared), or a conduct complaint (to the county bureau).
pub async fn relabel(
    app: &App,
    p: &Principal,
    code: &str,
    new: Relabel,
    now: DateTime<Utc>,
) -> Result<std::result::Result<(), Refusal>> {
    analyst(p)?;
    let o = crate::scoped::visible_opinion(app, p, code).await?;
    if !o.state.is_open() {
        return Ok(Err(Refusal("analysis_closed")));
    }
    let labels = Labels {
        category: new.category,
        sentiment: new.sentiment,
        urgency: new.urgency,
        department: (new.category == Category::NonPolice)
            .then(|| new.department.unwrap_or(DepartmentKind::Other)),
    };
    let previous = labels_of(&o);
    if labels == previous {
        return Ok(Err(Refusal("analysis_same_labels")));
    }
    let t = crate::triage::Triage {
        category: labels.category,
        sentiment: labels.sentiment,
        urgency: labels.urgency,
        police_matter: labels.category != Category::NonPolice,
        department: labels.department,
        confidence: 1.0,
        needs_review: false,
        source: crate::triage::Source::Rules,
        explanation: String::new(),
    };
    let station = station_of(app, &o).await?;
    let routing = crate::triage::apply(app, &t, Some(labels.category), station).await?;
    let unit_id = routing.unit_id.or(o.unit_id);
    let department_id = if labels.category == Category::NonPolice {
        routing.department_id.or(o.department_id)
    } else {
        None
    };
    app.store
        .record_labels(&NewLabels {
            opinion_id: o.id,
            at: now,
            actor: p.actor(),
            relabel: true,
            labels,
            previous,
            unit_id,
            department_id,
        })
        .await?;
    record(
        app,
        now,
        &p.actor(),
        AuditAction::StateChange,
        &format!("opinion:{}", o.tracking_code),
        &format!(
            "act=relabel category={}->{} department={}",
            previous.category.code(),
            labels.category.code(),
            labels.department.map_or("-", |d| d.code())
        ),
    )
    .await?;
    Ok(Ok(()))
}

fn reason_text(s: &str) -> std::result::Result<String, Refusal> {
    let t = s.trim();
    let n = t.chars().count();
    if !(2..=500).contains(&n) || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Refusal("analysis_reason_length"));
    }
    Ok(t.to_owned())
}

/// A county analyst escalates a key opinion to the city with a reason: the matter is
/// marked as a key opinion and waits in the city workspace. Refused for the city's own
/// analysts (there is no level above) and while an escalation of it is pending.
pub async fn escalate(
    app: &App,
    p: &Principal,
    code: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<(), Refusal>> {
    analyst(p)?;
    let o = crate::scoped::visible_opinion(app, p, code).await?;
    if p.scope_is_city {
        return Ok(Err(Refusal("analysis_city_cannot_escalate")));
    }
    let reason = match reason_text(reason) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    if app
        .store
        .insert_escalation(o.id, p.unit_id, now, &p.actor(), &reason)
        .await?
        .is_none()
    {
        return Ok(Err(Refusal("analysis_already_escalated")));
    }
    let changes = Changes {
        key_opinion: Some(true),
        ..Changes::default()
    };
    app.store
        .apply_to_opinion(
            o.id,
            Step::Annotate("escalate_key"),
            &p.actor(),
            now,
            Some(&reason),
            &changes,
        )
        .await?;
    record(
        app,
        now,
        &p.actor(),
        AuditAction::StateChange,
        &format!("opinion:{}", o.tracking_code),
        "act=escalate_key to=city",
    )
    .await?;
    Ok(Ok(()))
}

/// An escalated matter with its matter and where it came from.
#[derive(Debug, Clone)]
pub struct EscalationView {
    pub escalation: EscalationRow,
    pub opinion: OpinionRow,
    pub from_unit: Option<UnitRow>,
    pub joint: Vec<(JointRow, Option<UnitRow>)>,
}

/// The city workspace: escalations (pending first), the departments to assign to, and
/// the hotspot report of the city.
pub struct CityWorkspace {
    pub escalations: Vec<EscalationView>,
    pub departments: Vec<UnitRow>,
}

/// Escalations visible to the principal (a county analyst sees its own county's), newest
/// first, pending ones before decided ones.
pub async fn city_workspace(app: &App, p: &Principal, limit: i64) -> Result<CityWorkspace> {
    analyst(p)?;
    let units = app.store.units().await?;
    let mut out = Vec::new();
    for e in app.store.escalations(false, limit).await? {
        if !p.scope.contains(e.from_unit_id) {
            continue;
        }
        let Some(o) = app.store.opinion(e.opinion_id).await? else {
            continue;
        };
        let mut joint = Vec::new();
        for j in app.store.joint_of_opinion(o.id).await? {
            let u = units.iter().find(|u| u.id == j.department_id).cloned();
            joint.push((j, u));
        }
        out.push(EscalationView {
            from_unit: units.iter().find(|u| u.id == e.from_unit_id).cloned(),
            escalation: e,
            opinion: o,
            joint,
        });
    }
    out.sort_by_key(|v| v.escalation.state != "pending");
    let departments = units
        .into_iter()
        .filter(|u| u.kind == UnitKind::Department && p.scope.contains(u.id))
        .collect();
    Ok(CityWorkspace {
        escalations: out,
        departments,
    })
}

/// The city accepts an escalated matter (it becomes a city-level key opinion) or
/// returns it to the county with a note. City analysts only.
pub async fn decide_escalation(
    app: &App,
    p: &Principal,
    code: &str,
    accept: bool,
    note: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<(), Refusal>> {
    analyst(p)?;
    let o = crate::scoped::visible_opinion(app, p, code).await?;
    if !city_analyst(p) {
        return Ok(Err(Refusal("analysis_city_only")));
    }
    let note = if accept {
        let n = note.trim();
        (!n.is_empty()).then(|| n.chars().take(500).collect::<String>())
    } else {
        match reason_text(note) {
            Ok(n) => Some(n),
            Err(e) => return Ok(Err(e)),
        }
    };
    let state = if accept { "accepted" } else { "returned" };
    if !app
        .store
        .decide_escalation(o.id, state, now, &p.actor(), note.as_deref())
        .await?
    {
        return Ok(Err(Refusal("analysis_not_escalated")));
    }
    let changes = Changes {
        escalation: accept.then_some(minyi_core::opinion::Escalation::City),
        ..Changes::default()
    };
    let step = if accept {
        "escalation_accepted"
    } else {
        "escalation_returned"
    };
    match app
        .store
        .apply_to_opinion(
            o.id,
            Step::Annotate(step),
            &p.actor(),
            now,
            note.as_deref(),
            &changes,
        )
        .await
    {
        Ok(_) => {}
        Err(StoreError::Transition(_)) => return Ok(Err(Refusal("act_not_now"))),
        Err(e) => return Err(e.into()),
    }
    record(
        app,
        now,
        &p.actor(),
        AuditAction::StateChange,
        &format!("opinion:{}", o.tracking_code),
        &format!("act={step}"),
    )
    .await?;
    Ok(Ok(()))
}

/// The city assigns a matter jointly to one or more department units (by code); each
/// then sees it in its liaison queue and replies for its part. City analysts only.
pub async fn assign_jointly(
    app: &App,
    p: &Principal,
    code: &str,
    department_codes: &[String],
    note: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<u64, Refusal>> {
    analyst(p)?;
    let o = crate::scoped::visible_opinion(app, p, code).await?;
    if !city_analyst(p) {
        return Ok(Err(Refusal("analysis_city_only")));
    }
    let note = match reason_text(note) {
        Ok(n) => n,
        Err(e) => return Ok(Err(e)),
    };
    let mut ids = Vec::new();
    for c in department_codes
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
    {
        match app.store.unit_by_code(c).await? {
            Some(u) if u.kind == UnitKind::Department && p.scope.contains(u.id) => ids.push(u.id),
            _ => return Ok(Err(Refusal("analysis_unknown_department"))),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Err(Refusal("analysis_no_department")));
    }
    let added = app
        .store
        .assign_jointly(o.id, &ids, now, &p.actor(), &note)
        .await?;
    record(
        app,
        now,
        &p.actor(),
        AuditAction::Assignment,
        &format!("opinion:{}", o.tracking_code),
        &format!("act=joint_assign departments={}", ids.len()),
    )
    .await?;
    Ok(Ok(added))
}

/// A liaison's jointly assigned matters, with their texts, pending first.
pub async fn joint_queue(
    app: &App,
    p: &Principal,
    limit: i64,
) -> Result<Vec<(JointRow, OpinionRow)>> {
    p.require(Permission::ViewOpinions)?;
    if p.role != Role::DepartmentLiaison {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for j in app.store.joint_of_department(p.unit_id, limit).await? {
        if let Some(o) = app.store.opinion(j.opinion_id).await? {
            out.push((j, o));
        }
    }
    Ok(out)
}

/// A liaison replies for its department's part of a jointly assigned matter. `NotFound`
/// when the department has no part in it and the matter is not otherwise visible.
pub async fn joint_reply(
    app: &App,
    p: &Principal,
    code: &str,
    reply: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<(), Refusal>> {
    p.require(Permission::HandleOpinions)?;
    let tc = minyi_core::opinion::TrackingCode::parse(code).map_err(|_| AppError::NotFound)?;
    let o = app
        .store
        .opinion_by_tracking_code(&tc)
        .await?
        .ok_or(AppError::NotFound)?;
    let parts = app.store.joint_of_opinion(o.id).await?;
    let part = parts
        .iter()
        .find(|j| j.department_id == p.unit_id && p.role == Role::DepartmentLiaison);
    let Some(part) = part else {
        // A matter the principal sees anyway learns it nothing: say why; else not found.
        crate::scoped::visible_opinion(app, p, code).await?;
        return Ok(Err(Refusal("analysis_no_part")));
    };
    let reply = match reason_text(reply) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    if !app
        .store
        .reply_joint(o.id, part.department_id, &reply, now, &p.actor())
        .await?
    {
        return Ok(Err(Refusal("analysis_already_replied")));
    }
    record(
        app,
        now,
        &p.actor(),
        AuditAction::StateChange,
        &format!("opinion:{}", o.tracking_code),
        "act=joint_reply",
    )
    .await?;
    Ok(Ok(()))
}

/// Merges two matters an analyst chose (the duplicate into the primary), through the
/// same proposal and decision as a proposed merge (`merge::decide`), so the lifecycle,
/// the events and the audit entry are the same.
pub async fn merge_two(
    app: &App,
    p: &Principal,
    duplicate_code: &str,
    primary_code: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<(), Refusal>> {
    analyst(p)?;
    let dup = crate::scoped::visible_opinion(app, p, duplicate_code).await?;
    let primary = match crate::scoped::visible_opinion(app, p, primary_code).await {
        Ok(o) => o,
        Err(AppError::NotFound) => return Ok(Err(Refusal("analysis_unknown_primary"))),
        Err(e) => return Err(e),
    };
    if dup.id == primary.id {
        return Ok(Err(Refusal("analysis_unknown_primary")));
    }
    let max_chars = minyi_text::DedupConfig::default().max_chars;
    let link = minyi_text::dedup::compare(&dup.text, &primary.text, max_chars);
    let score = (link.cosine.clamp(0.0, 1.0) * 1000.0).round() as i64;
    app.store
        .propose_merges(dup.id, &[(primary.id, score)], now)
        .await?;
    let Some(pr) = app
        .store
        .proposals_of(dup.id)
        .await?
        .into_iter()
        .find(|x| x.candidate_id == primary.id && x.opinion_id == dup.id)
    else {
        return Ok(Err(Refusal("merge.unknown_proposal")));
    };
    match crate::merge::decide(
        app,
        p,
        duplicate_code,
        pr.id,
        crate::merge::Decision::Accept,
        now,
    )
    .await?
    {
        Ok(_) => Ok(Ok(())),
        Err(r) => Ok(Err(r)),
    }
}

/// The analysts' corrections as training examples in the corpus format `minyi model
/// train --corpus` reads: the latest decision per matter that changed its labels, the
/// text with phone and ID numbers masked, the source `analyst_correction:YYYY-MM`.
/// Texts that are empty once masked are left out.
pub async fn corrections(app: &App) -> Result<Vec<minyi_text::Example>> {
    let mut out = Vec::new();
    for c in app.store.corrections().await? {
        if c.label.action != "relabel" {
            continue;
        }
        let text = minyi_text::mask::mask_personal(c.text.trim());
        if text.trim().is_empty() {
            continue;
        }
        let l = c.label.labels;
        let line = serde_json::json!({
            "text": text,
            "category": l.category.code(),
            "sentiment": l.sentiment.code(),
            "urgency": l.urgency.code(),
            "department": l.department.map(|d| d.code()),
            "source": format!("analyst_correction:{}", c.label.at.format("%Y-%m")),
        });
        let mut ex = minyi_text::parse_jsonl(&line.to_string()).map_err(|e| {
            AppError::Invalid(format!("correction of opinion {}: {e}", c.label.opinion_id))
        })?;
        out.append(&mut ex);
    }
    Ok(out)
}
