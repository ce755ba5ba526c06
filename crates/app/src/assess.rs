//! Assessment runs (综合考评): gathers every police station's indicator values for a
//! period from the app's data, scores them with `minyi-assess`, stores the run whole
//! (scheme text, canonical input and result with their hashes) so it is reproduced
//! byte for byte years later, and handles appeals against indicator values and imports
//! of business, team-building and jurisdiction metrics.
//!
//! The scoring rules live in the pure `minyi-assess` crate; this module decides only
//! where each number comes from (see [`gather`]) and who may do what. It must not score,
//! render, or re-gather data for a stored run: a rerun or an upheld appeal works from
//! the stored input only.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use minyi_assess::{
    Basis, Comparison, Estimate, IndicatorValue, InputChange, RankUncertainty, RunInput, RunRecord,
    RunResult, Scheme, UnitInput,
};
use minyi_core::access::{Permission, Role, Scope};
use minyi_core::org::UnitKind;
use minyi_core::records::{Indicator as Hard, RatingLevel, RatingScale, ReportPeriod};
use minyi_core::taxonomy::Verdict;
use minyi_store::dashboard::Routing;
use minyi_store::{
    AppealQuery, AppealResolution, AppealRow, MetricImportOutcome, MetricValue, NewAppeal,
    NewMetricBatch, NewRun, RunSummary, UnitRow,
};

use crate::audit::{AuditAction, record};
use crate::auth::Principal;
use crate::import::{RowError, Table, read_table};
use crate::surveys::{self, StationEstimate, Wave, WaveState};
use crate::{App, AppError, Result};

// ---------------------------------------------------------------------------------
// Who acts

/// Who runs or imports: a signed-in principal (checked against its role), or the
/// command line (whoever can open the data directory administers the installation).
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    Cli,
    User(&'a Principal),
}

impl Actor<'_> {
    /// `cli` or `user:NAME`, for the audit log and `created_by`.
    pub fn label(&self) -> String {
        match self {
            Actor::Cli => "cli".to_owned(),
            Actor::User(p) => p.actor(),
        }
    }

    fn require(&self, perm: Permission) -> Result<()> {
        match self {
            Actor::Cli => Ok(()),
            Actor::User(p) => p.require(perm),
        }
    }
}

// ---------------------------------------------------------------------------------
// Runs

/// A stored run, read back and parsed.
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub id: i64,
    pub period: String,
    /// The scheme file exactly as it was used.
    pub scheme_text: String,
    pub scheme: Scheme,
    /// Hashes and canonical texts as stored.
    pub record: RunRecord,
    pub result: RunResult,
    pub input: RunInput,
    pub created_at: DateTime<Utc>,
    /// `user:NAME` or `cli`.
    pub created_by: String,
    /// The run this one corrects (an upheld appeal), if any.
    pub parent: Option<i64>,
    /// Why this run was made from its parent.
    pub reason: Option<String>,
}

/// A rerun of a stored run from its stored scheme text and input.
#[derive(Debug, Clone)]
pub struct Rerun {
    pub original: StoredRun,
    pub again: RunRecord,
    /// True when hashes and texts are byte-identical to the stored ones.
    pub identical: bool,
}

/// What changed between a run and the run it corrects.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunChanges {
    pub parent: i64,
    pub reason: Option<String>,
    /// Input values that differ.
    pub inputs: Vec<InputChange>,
    /// Who moved how far, whose outcome changed.
    pub comparison: Comparison,
}

fn invalid(e: impl std::fmt::Display) -> AppError {
    AppError::Invalid(e.to_string())
}

fn corrupt(id: i64, what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Refused(format!(
        "assessment run {id}: stored {what} unreadable: {e}"
    ))
}

fn stored(row: minyi_store::RunRow) -> Result<StoredRun> {
    let id = row.id;
    let r = row.run;
    let scheme = Scheme::parse(&r.scheme_text).map_err(|e| corrupt(id, "scheme", e))?;
    let input: RunInput =
        serde_json::from_str(&r.input_json).map_err(|e| corrupt(id, "input", e))?;
    let result: RunResult =
        serde_json::from_str(&r.result_json).map_err(|e| corrupt(id, "result", e))?;
    Ok(StoredRun {
        id,
        period: r.period,
        scheme_text: r.scheme_text,
        scheme,
        record: RunRecord {
            scheme_hash: r.scheme_hash,
            input_hash: r.input_hash,
            result_hash: r.result_hash,
            input_json: r.input_json,
            result_json: r.result_json,
        },
        result,
        input,
        created_at: r.created_at,
        created_by: r.created_by,
        parent: r.parent_id,
        reason: r.reason,
    })
}

fn new_run(
    scheme: &Scheme,
    scheme_text: &str,
    period: &str,
    record: &RunRecord,
    now: DateTime<Utc>,
    by: String,
    lineage: Option<(i64, String)>,
) -> NewRun {
    let (parent, reason) = lineage.unzip();
    NewRun {
        period: period.to_owned(),
        scheme_id: scheme.id.clone(),
        scheme_version: scheme.version.clone(),
        scheme_hash: record.scheme_hash.clone(),
        scheme_text: scheme_text.to_owned(),
        input_hash: record.input_hash.clone(),
        input_json: record.input_json.clone(),
        result_hash: record.result_hash.clone(),
        result_json: record.result_json.clone(),
        created_at: now,
        created_by: by,
        parent_id: parent,
        reason,
    }
}

/// Parses scheme text (`None`: the shipped default scheme), with a clear error.
pub fn parse_scheme(scheme_text: Option<&str>) -> Result<(Scheme, String)> {
    let text = scheme_text
        .unwrap_or(Scheme::default_2014_text())
        .to_owned();
    let scheme = Scheme::parse(&text).map_err(|e| invalid(format!("scheme: {e}")))?;
    Ok((scheme, text))
}

/// Gathers, scores and stores a run of `period` (audited). `scheme_text = None` runs
/// the shipped default scheme.
pub async fn run(
    app: &App,
    scheme_text: Option<&str>,
    period: &str,
    actor: Actor<'_>,
) -> Result<StoredRun> {
    run_at(app, scheme_text, period, actor, Utc::now()).await
}

/// [`run`] as of `now` (what is overdue, and the run's time).
pub async fn run_at(
    app: &App,
    scheme_text: Option<&str>,
    period: &str,
    actor: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<StoredRun> {
    actor.require(Permission::RunAssessment)?;
    let (scheme, text) = parse_scheme(scheme_text)?;
    let input = gather_at(app, &scheme, period, now).await?;
    let (_, rec) = minyi_assess::run_and_record(&scheme, &input)
        .map_err(|e| invalid(format!("assessment of {period}: {e}")))?;
    let id = app
        .store
        .insert_run(&new_run(
            &scheme,
            &text,
            period,
            &rec,
            now,
            actor.label(),
            None,
        ))
        .await?;
    record(
        app,
        now,
        &actor.label(),
        AuditAction::AssessmentRun,
        &format!("assessment_run:{id}"),
        &format!(
            "period={period} scheme={}@{} scheme_hash={} input_hash={} result_hash={}",
            scheme.id, scheme.version, rec.scheme_hash, rec.input_hash, rec.result_hash
        ),
    )
    .await?;
    get(app, id).await
}

/// One stored run. Callers decide who may read it (a ranking is city-wide).
pub async fn get(app: &App, id: i64) -> Result<StoredRun> {
    let row = app
        .store
        .assessment_run(id)
        .await?
        .ok_or(AppError::NotFound)?;
    stored(row)
}

/// Every run, newest first, without texts.
pub async fn list(app: &App) -> Result<Vec<RunSummary>> {
    Ok(app.store.assessment_runs().await?)
}

/// The newest run (of `period`, when given).
pub async fn latest(app: &App, period: Option<&str>) -> Result<Option<StoredRun>> {
    app.store
        .latest_assessment_run(period)
        .await?
        .map(stored)
        .transpose()
}

/// Reproduces a stored run from its STORED scheme text and input (never re-gathers).
pub async fn rerun(app: &App, id: i64) -> Result<Rerun> {
    let original = get(app, id).await?;
    let again = minyi_assess::rerun(&original.scheme_text, &original.record.input_json)
        .map_err(|e| AppError::Refused(format!("assessment run {id}: rerun failed: {e}")))?;
    let identical = again == original.record;
    Ok(Rerun {
        original,
        again,
        identical,
    })
}

/// For a run made from another (an upheld appeal): the input values that differ and who
/// moved. `None` for a run without a parent.
pub async fn changes(app: &App, run: &StoredRun) -> Result<Option<RunChanges>> {
    let Some(parent_id) = run.parent else {
        return Ok(None);
    };
    let parent = get(app, parent_id).await?;
    Ok(Some(RunChanges {
        parent: parent_id,
        reason: run.reason.clone(),
        inputs: minyi_assess::diff_inputs(&parent.input, &run.input),
        comparison: minyi_assess::compare(&parent.result, &run.result),
    }))
}

// ---------------------------------------------------------------------------------
// Gathering

/// The app path listing the records behind a hard indicator of a unit.
pub fn indicator_path(unit: &str, period: &str, indicator: &str) -> String {
    format!("/units/{unit}/indicators?period={period}&indicator={indicator}")
}

/// The app path of a wave's station estimates.
pub fn survey_path(wave: &str, unit: &str) -> String {
    format!("/surveys/{wave}?station={unit}")
}

/// The app path of a unit's imported metric.
pub fn metric_path(unit: &str, period: &str, code: &str) -> String {
    format!("/assess/metrics?period={period}&unit={unit}&metric={code}")
}

/// The wave a period's survey indicators come from: among waves whose own period lies
/// inside `period`, the newest closed one, else the newest in the field.
pub async fn wave_for(app: &App, period: &ReportPeriod) -> Result<Option<Wave>> {
    let waves = surveys::waves(app).await?; // newest first
    let inside = |w: &Wave| {
        ReportPeriod::parse(&w.row.period)
            .map(|p| p.from >= period.from && p.to <= period.to)
            .unwrap_or(false)
    };
    let pick = |state: WaveState| {
        waves
            .iter()
            .find(|w| w.state == state && inside(w))
            .cloned()
    };
    Ok(pick(WaveState::Closed).or_else(|| pick(WaveState::Fielding)))
}

fn ratio_value(num: i64, den: i64, drill: String) -> Option<IndicatorValue> {
    (den > 0).then(|| IndicatorValue {
        value: num as f64 / den as f64,
        se: None,
        numerator: Some(num as f64),
        denominator: Some(den as f64),
        drill_down: vec![drill],
    })
}

fn survey_value(
    est: &StationEstimate,
    source: &str,
    estimate: Option<Estimate>,
    wave: &str,
) -> Option<IndicatorValue> {
    let which = match source {
        "survey.security" => surveys::Indicator::Security,
        "survey.satisfaction" => surveys::Indicator::Satisfaction,
        "survey.chief_awareness" => surveys::Indicator::Chief,
        _ => return None,
    };
    let e = est.indicator(which)?;
    let (value, se) = match estimate.unwrap_or(Estimate::Shrunk) {
        Estimate::Shrunk => {
            let s = e.shrunk.as_ref()?;
            (s.estimate, s.mse.max(0.0).sqrt())
        }
        Estimate::Direct => {
            let d = e.direct.as_ref()?;
            (d.estimate, d.se)
        }
    };
    (value.is_finite() && se.is_finite()).then(|| IndicatorValue {
        value,
        se: Some(se),
        numerator: None,
        denominator: Some(e.answered as f64),
        drill_down: vec![survey_path(wave, est.station.code.as_str())],
    })
}

/// Where a single survey indicator is the ranking basis and its shrunk estimate is
/// scored, the survey's own rank facts (10,000 draws) are that basis's uncertainty.
/// For any other basis the assessment crate simulates from the standard errors.
fn survey_basis(scheme: &Scheme) -> Option<surveys::Indicator> {
    let Basis::Indicators { indicators } = &scheme.ranking else {
        return None;
    };
    let [only] = indicators.as_slice() else {
        return None;
    };
    let ind = scheme.indicator(only)?;
    if ind.estimate.unwrap_or(Estimate::Shrunk) != Estimate::Shrunk {
        return None;
    }
    match ind.source.as_str() {
        "survey.security" => Some(surveys::Indicator::Security),
        "survey.satisfaction" => Some(surveys::Indicator::Satisfaction),
        "survey.chief_awareness" => Some(surveys::Indicator::Chief),
        _ => None,
    }
}

fn hard_of(source: &str) -> Option<Hard> {
    Some(match source {
        "callbacks.coverage" => Hard::CallbackCoverage,
        "callbacks.satisfaction" => Hard::CallbackSatisfaction,
        "hard.help_resolution" => Hard::HelpResolution,
        "hard.permit_on_time" => Hard::PermitOnTime,
        "hard.timely_filing" => Hard::TimelyFiling,
        "hard.loss_recovery" => Hard::LossRecovery,
        _ => return None,
    })
}

/// Every police station's input for `period` as of now. See [`gather_at`].
pub async fn gather(app: &App, scheme: &Scheme, period: &str) -> Result<RunInput> {
    gather_at(app, scheme, period, Utc::now()).await
}

/// Fills every source the scheme names, for every police station (units of kind
/// station), each station counting its whole subtree (windows, teams):
///
/// - `survey.*`: the period's wave (see [`wave_for`]), shrunk or direct estimate as the
///   indicator asks, with its standard error (√MSE for shrunk) and answers counted;
/// - `ratings.satisfaction`: window ratings in the period, share satisfied (best level
///   of three, best two of five);
/// - `callbacks.*`, `hard.*`: [`crate::indicators::for_units_at`];
/// - `opinions.timeliness`: opinions first answered in the period by their deadline;
/// - `opinions.verdict_satisfaction`: verdicts on opinions received in the period that
///   are "satisfied";
/// - `business.*`, `team.*`, `jurisdiction.*`: imported metrics of the period.
///
/// A rate with nothing counted, or a station without an estimate or metric, is missing:
/// the scheme's missing-data treatment decides. Peer group: the station's county code.
pub async fn gather_at(
    app: &App,
    scheme: &Scheme,
    period: &str,
    now: DateTime<Utc>,
) -> Result<RunInput> {
    if !scheme.period.accepts(period) {
        return Err(invalid(format!(
            "period `{period}` does not fit the scheme's cadence `{}`",
            scheme.period.code()
        )));
    }
    let rp = ReportPeriod::parse(period).map_err(invalid)?;
    let units = app.store.units().await?;
    let tree: Vec<(i64, Option<i64>)> = units.iter().map(|u| (u.id, u.parent_id)).collect();
    let by_id: HashMap<i64, &UnitRow> = units.iter().map(|u| (u.id, u)).collect();
    let stations: Vec<&UnitRow> = units
        .iter()
        .filter(|u| u.kind == UnitKind::Station)
        .collect();
    let specs = scheme.required_inputs();
    let needs = |prefix: &str| specs.iter().any(|s| s.source.starts_with(prefix));

    // Survey estimates, once.
    let mut survey: HashMap<i64, StationEstimate> = HashMap::new();
    let mut wave_code = String::new();
    if needs("survey.") {
        // Without a wave every station misses every survey indicator, which no
        // missing-data treatment can score: say so plainly.
        let w = wave_for(app, &rp).await?.ok_or_else(|| {
            invalid(format!(
                "no closed or fielding survey wave measures a period inside {period}, \
                 but the scheme scores survey indicators"
            ))
        })?;
        wave_code = w.row.code.clone();
        for e in surveys::estimates_of(app, &w).await? {
            survey.insert(e.station.id, e);
        }
    }
    let hard: HashMap<i64, crate::indicators::UnitIndicators> =
        if needs("callbacks.") || needs("hard.") {
            crate::indicators::for_units_at(app, &rp, now)
                .await?
                .into_iter()
                .map(|u| (u.unit.id, u))
                .collect()
        } else {
            HashMap::new()
        };
    let ratings = if needs("ratings.") {
        app.store.dashboard_ratings(rp.from, rp.to).await?
    } else {
        Vec::new()
    };
    let answered = if needs("opinions.timeliness") {
        app.store
            .dashboard_answered(Routing::Unit, rp.from, rp.to)
            .await?
    } else {
        Vec::new()
    };
    let figures = if needs("opinions.verdict") {
        app.store
            .dashboard_unit_figures(Routing::Unit, rp.from, rp.to, now, now)
            .await?
    } else {
        Vec::new()
    };
    let mut metrics: HashMap<(i64, String), f64> = HashMap::new();
    for m in app.store.metrics(period).await? {
        metrics.insert((m.unit_id, m.code), m.value);
    }
    let jurisdiction_codes: Vec<String> = scheme
        .jurisdiction_sources()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let basis_survey = survey_basis(scheme);

    let mut out = Vec::with_capacity(stations.len());
    for st in stations {
        let code = st.code.as_str().to_owned();
        let sub: HashSet<i64> = Scope::subtree(st.id, &tree).units().collect();
        let mut values = BTreeMap::new();
        for spec in &specs {
            let src = spec.source.as_str();
            let v = if src.starts_with("survey.") {
                survey
                    .get(&st.id)
                    .and_then(|e| survey_value(e, src, spec.estimate, &wave_code))
            } else if let Some(h) = hard_of(src) {
                hard.get(&st.id).and_then(|u| {
                    let r = u.get(h);
                    ratio_value(
                        r.numerator,
                        r.denominator,
                        indicator_path(&code, period, h.code()),
                    )
                })
            } else if src == "ratings.satisfaction" {
                let (mut sat, mut total) = (0i64, 0i64);
                for r in ratings.iter().filter(|r| sub.contains(&r.window_id)) {
                    let scale = match r.scale {
                        3 => RatingScale::Three,
                        5 => RatingScale::Five,
                        _ => continue,
                    };
                    let Ok(level) = RatingLevel::parse(scale, r.level) else {
                        continue;
                    };
                    total += r.count;
                    if level.is_satisfied() {
                        sat += r.count;
                    }
                }
                ratio_value(sat, total, format!("/units/{code}?period={period}#ratings"))
            } else if src == "opinions.timeliness" {
                let (mut on, mut all) = (0, 0);
                for a in answered.iter().filter(|a| sub.contains(&a.unit_id)) {
                    on += a.on_time;
                    all += a.answered;
                }
                ratio_value(on, all, format!("/units/{code}/opinions?period={period}"))
            } else if src == "opinions.verdict_satisfaction" {
                let (mut sat, mut all) = (0, 0);
                for f in figures.iter().filter(|f| sub.contains(&f.unit_id)) {
                    sat += f.verdict(Verdict::Satisfied);
                    all += f.satisfied + f.basically_satisfied + f.dissatisfied;
                }
                ratio_value(sat, all, format!("/units/{code}/opinions?period={period}"))
            } else {
                // business.* and team.*: imported for the station itself.
                metrics
                    .get(&(st.id, spec.source.clone()))
                    .map(|v| IndicatorValue {
                        value: *v,
                        se: None,
                        numerator: None,
                        denominator: None,
                        drill_down: vec![metric_path(&code, period, src)],
                    })
            };
            if let Some(v) = v {
                values.insert(spec.indicator.clone(), v);
            }
        }
        let jurisdiction = jurisdiction_codes
            .iter()
            .filter_map(|c| metrics.get(&(st.id, c.clone())).map(|v| (c.clone(), *v)))
            .collect();
        let uncertainty = basis_survey.and_then(|i| {
            let r = survey.get(&st.id)?.indicator(i)?.rank.as_ref()?;
            Some(RankUncertainty {
                rank_low: u32::try_from(r.lower).ok()?.max(1),
                rank_high: u32::try_from(r.upper).ok()?.max(1),
                p_top: BTreeMap::from([(6, r.p_top6)]),
                p_bottom: BTreeMap::from([(3, r.p_bottom3), (10, r.p_bottom10)]),
            })
        });
        out.push(UnitInput {
            code,
            peer_group: st
                .parent_id
                .and_then(|p| by_id.get(&p))
                .map(|p| p.code.as_str().to_owned()),
            values,
            jurisdiction,
            uncertainty,
        });
    }
    out.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(RunInput {
        period: period.to_owned(),
        units: out,
    })
}

// ---------------------------------------------------------------------------------
// Appeals

/// An appeal as shown: the stored row with its unit.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Appeal {
    #[serde(flatten)]
    pub row: AppealRow,
    pub unit_code: String,
    pub unit_name: String,
}

/// What a unit claims.
#[derive(Debug, Clone)]
pub struct AppealInput {
    pub run_id: i64,
    pub unit_code: String,
    /// Indicator id of the run's scheme.
    pub indicator: String,
    pub claimed_value: f64,
    pub reason: String,
}

/// Which appeals to list.
#[derive(Debug, Clone, Default)]
pub struct AppealFilter {
    pub run_id: Option<i64>,
    /// `filed`, `upheld` or `rejected`.
    pub state: Option<String>,
}

/// How an analyst decides an appeal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// The claim holds: the value becomes `corrected_value` in a new run.
    Upheld {
        corrected_value: f64,
    },
    Rejected,
}

/// A decided appeal and, when upheld, the new run and what changed.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub appeal: Appeal,
    pub new_run: Option<StoredRun>,
    pub changes: Option<RunChanges>,
}

/// Longest appeal reason or resolution note kept, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

fn note(what: &str, s: &str) -> Result<String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(invalid(format!("{what} is empty: say why")));
    }
    if s.chars().count() > MAX_NOTE_CHARS {
        return Err(invalid(format!(
            "{what} is longer than {MAX_NOTE_CHARS} characters"
        )));
    }
    Ok(s.to_owned())
}

fn finite(what: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v.abs() <= minyi_assess::input::MAX_ABS_VALUE {
        Ok(v)
    } else {
        Err(invalid(format!("{what} must be a finite number")))
    }
}

async fn appeal_view(app: &App, row: AppealRow) -> Result<Appeal> {
    let unit = app
        .store
        .unit(row.unit_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Appeal {
        unit_code: unit.code.as_str().to_owned(),
        unit_name: unit.name,
        row,
    })
}

/// Files an appeal: a station's staff for their own station, or a county analyst for a
/// station of the county (audited). The run must hold the unit and the indicator.
pub async fn file_appeal(
    app: &App,
    p: &Principal,
    input: &AppealInput,
    now: DateTime<Utc>,
) -> Result<Appeal> {
    if !matches!(p.role, Role::StationStaff | Role::CountyAnalyst) {
        return Err(AppError::Forbidden);
    }
    let unit = app
        .store
        .unit_by_code(input.unit_code.trim())
        .await?
        .ok_or(AppError::NotFound)?;
    if !p.scope.contains(unit.id) {
        return Err(AppError::NotFound);
    }
    let run = get(app, input.run_id).await?;
    let code = unit.code.as_str();
    if !run.input.units.iter().any(|u| u.code == code) {
        return Err(invalid(format!(
            "unit {code} was not assessed in run {}",
            run.id
        )));
    }
    if run.scheme.indicator(input.indicator.trim()).is_none() {
        return Err(invalid(format!(
            "indicator `{}` is not in the scheme of run {}",
            input.indicator.trim(),
            run.id
        )));
    }
    let claimed = finite("the claimed value", input.claimed_value)?;
    let reason = note("the appeal's reason", &input.reason)?;
    let id = app
        .store
        .insert_appeal(&NewAppeal {
            run_id: run.id,
            unit_id: unit.id,
            indicator: input.indicator.trim().to_owned(),
            claimed_value: claimed,
            reason,
            filed_by: p.actor(),
            filed_at: now,
        })
        .await?;
    record(
        app,
        now,
        &p.actor(),
        AuditAction::AssessmentAppeal,
        &format!("assessment_appeal:{id}"),
        &format!(
            "filed run={} unit={code} indicator={} claimed={claimed}",
            run.id,
            input.indicator.trim()
        ),
    )
    .await?;
    let row = app.store.appeal(id).await?.ok_or(AppError::NotFound)?;
    appeal_view(app, row).await
}

/// The appeal states, as stored.
pub const APPEAL_STATES: &[&str] = &["filed", "upheld", "rejected"];

fn check_filter(filter: &AppealFilter) -> Result<()> {
    match &filter.state {
        Some(s) if !APPEAL_STATES.contains(&s.as_str()) => Err(invalid(format!(
            "appeal state `{}`: expected filed, upheld or rejected",
            s.chars().take(20).collect::<String>()
        ))),
        _ => Ok(()),
    }
}

/// Appeals `p` may see (units in its scope), newest first.
pub async fn appeals(app: &App, p: &Principal, filter: &AppealFilter) -> Result<Vec<Appeal>> {
    p.require(Permission::ViewOpinions)?;
    check_filter(filter)?;
    let units = app.store.units().await?;
    let ids: Vec<i64> = units
        .iter()
        .filter(|u| p.scope.contains(u.id))
        .map(|u| u.id)
        .collect();
    let rows = app
        .store
        .appeals(&AppealQuery {
            run_id: filter.run_id,
            state: filter.state.clone(),
            unit_ids: Some(ids),
        })
        .await?;
    all_appeals_view(&units, rows)
}

/// Every appeal (the command line), newest first.
pub async fn all_appeals(app: &App, filter: &AppealFilter) -> Result<Vec<Appeal>> {
    check_filter(filter)?;
    let units = app.store.units().await?;
    let rows = app
        .store
        .appeals(&AppealQuery {
            run_id: filter.run_id,
            state: filter.state.clone(),
            unit_ids: None,
        })
        .await?;
    all_appeals_view(&units, rows)
}

fn all_appeals_view(units: &[UnitRow], rows: Vec<AppealRow>) -> Result<Vec<Appeal>> {
    let by_id: HashMap<i64, &UnitRow> = units.iter().map(|u| (u.id, u)).collect();
    rows.into_iter()
        .map(|row| {
            let u = by_id.get(&row.unit_id).ok_or_else(|| {
                AppError::Refused(format!("appeal {}: unit {} is gone", row.id, row.unit_id))
            })?;
            Ok(Appeal {
                unit_code: u.code.as_str().to_owned(),
                unit_name: u.name.clone(),
                row,
            })
        })
        .collect()
}

/// The input of `run` with `unit`'s `indicator` set to `value` (numerator and
/// denominator dropped: they no longer describe the value; the appeal is referenced).
pub fn corrected_input(
    input: &RunInput,
    unit: &str,
    indicator: &str,
    value: f64,
    appeal_id: i64,
) -> Result<RunInput> {
    let mut out = input.clone();
    let u = out
        .units
        .iter_mut()
        .find(|u| u.code == unit)
        .ok_or_else(|| invalid(format!("unit {unit} is not in the run's input")))?;
    let slot = u.values.entry(indicator.to_owned()).or_default();
    slot.value = value;
    slot.numerator = None;
    slot.denominator = None;
    slot.drill_down.push(format!("/assess/appeals/{appeal_id}"));
    Ok(out)
}

/// Decides a filed appeal (analysts with RunAssessment; audited). Upheld: a new run from
/// the original's STORED scheme text and input with the corrected value, parent = the
/// original, reason = the appeal; stored with the decision in one transaction.
pub async fn resolve_appeal(
    app: &App,
    p: &Principal,
    appeal_id: i64,
    decision: Decision,
    resolution_note: &str,
    now: DateTime<Utc>,
) -> Result<Resolved> {
    p.require(Permission::RunAssessment)?;
    let row = app
        .store
        .appeal(appeal_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !p.scope.contains(row.unit_id) {
        return Err(AppError::NotFound);
    }
    if row.state != "filed" {
        return Err(AppError::Refused(format!(
            "appeal {appeal_id} is already {}",
            row.state
        )));
    }
    let text = note("the resolution note", resolution_note)?;
    let view = appeal_view(app, row.clone()).await?;
    let (state, corrected, new) = match decision {
        Decision::Rejected => ("rejected", None, None),
        Decision::Upheld { corrected_value } => {
            let value = finite("the corrected value", corrected_value)?;
            let original = get(app, row.run_id).await?;
            let input = corrected_input(
                &original.input,
                &view.unit_code,
                &row.indicator,
                value,
                appeal_id,
            )?;
            let (_, rec) = minyi_assess::run_and_record(&original.scheme, &input)
                .map_err(|e| invalid(format!("rerun with the corrected value: {e}")))?;
            let reason = format!(
                "appeal {appeal_id}: unit {} indicator {} corrected to {value}: {text}",
                view.unit_code, row.indicator
            );
            let nr = new_run(
                &original.scheme,
                &original.scheme_text,
                &original.period,
                &rec,
                now,
                p.actor(),
                Some((original.id, reason)),
            );
            ("upheld", Some(value), Some(nr))
        }
    };
    let outcome = app
        .store
        .resolve_appeal(
            appeal_id,
            &AppealResolution {
                state: state.to_owned(),
                corrected_value: corrected,
                resolution: text,
                resolved_by: p.actor(),
                resolved_at: now,
            },
            new.as_ref(),
        )
        .await?;
    let Some(new_id) = outcome else {
        return Err(AppError::Refused(format!(
            "appeal {appeal_id} was decided meanwhile"
        )));
    };
    record(
        app,
        now,
        &p.actor(),
        AuditAction::AssessmentAppeal,
        &format!("assessment_appeal:{appeal_id}"),
        &match new_id {
            Some(r) => format!("{state} new_run={r}"),
            None => state.to_owned(),
        },
    )
    .await?;
    let new_run = match new_id {
        Some(id) => Some(get(app, id).await?),
        None => None,
    };
    let changes = match &new_run {
        Some(r) => changes(app, r).await?,
        None => None,
    };
    let row = app
        .store
        .appeal(appeal_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Resolved {
        appeal: appeal_view(app, row).await?,
        new_run,
        changes,
    })
}

// ---------------------------------------------------------------------------------
// Metric import

/// The outcome of a metrics import: rows read, and either what was stored or why rows
/// were refused (then nothing was stored).
#[derive(Debug, Clone, serde::Serialize)]
pub struct MetricImportReport {
    pub source: String,
    pub period: String,
    pub rows: usize,
    #[serde(skip)]
    pub rejected: Vec<RowError>,
    /// `None` when any row was refused: a file is stored whole or not at all.
    pub stored: Option<MetricImportOutcome>,
}

impl MetricImportReport {
    /// `row N, column C: reason` lines.
    pub fn rejected_lines(&self) -> Vec<String> {
        self.rejected.iter().map(|e| e.to_string()).collect()
    }
}

const UNIT_ALIASES: &[&str] = &["unit", "unit_code", "单位代码", "单位"];
const METRIC_ALIASES: &[&str] = &["metric", "code", "metric_code", "指标代码", "指标"];
const VALUE_ALIASES: &[&str] = &["value", "数值", "值"];

/// True for a code a metrics file may carry: `business.*`, `team.*` or `jurisdiction.*`.
pub fn is_metric_code(code: &str) -> bool {
    minyi_assess::source::is_jurisdiction_source(code)
        || ((code.starts_with("business.") || code.starts_with("team."))
            && minyi_assess::source::is_indicator_source(code))
}

/// Imports metrics from a CSV or XLSX file (see docs/formats.md, "Assessment metrics").
pub async fn import_metrics(
    app: &App,
    path: &Path,
    period: &str,
    actor: Actor<'_>,
    now: DateTime<Utc>,
) -> Result<MetricImportReport> {
    let table = read_table(path)?;
    let source = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    import_metrics_table(app, &table, &source, period, actor, now, false).await
}

/// Imports a parsed table: every row checked first; any refused row → nothing stored.
pub async fn import_metrics_table(
    app: &App,
    table: &Table,
    source: &str,
    period: &str,
    actor: Actor<'_>,
    now: DateTime<Utc>,
    synthetic: bool,
) -> Result<MetricImportReport> {
    actor.require(Permission::RunAssessment)?;
    ReportPeriod::parse(period).map_err(|e| invalid(format!("--period: {e}")))?;
    let col = |aliases: &[&str], name: &str| -> Result<usize> {
        table
            .header
            .iter()
            .position(|h| aliases.iter().any(|a| h.trim().eq_ignore_ascii_case(a)))
            .ok_or_else(|| {
                invalid(format!(
                    "{source}: no `{name}` column in the header (accepted: {})",
                    aliases.join(", ")
                ))
            })
    };
    let (cu, cm, cv) = (
        col(UNIT_ALIASES, "unit")?,
        col(METRIC_ALIASES, "metric")?,
        col(VALUE_ALIASES, "value")?,
    );
    // Metrics are per police station: a county or window code is refused by name.
    let units: HashMap<String, (i64, UnitKind)> = app
        .store
        .units()
        .await?
        .into_iter()
        .map(|u| (u.code.as_str().to_owned(), (u.id, u.kind)))
        .collect();
    let mut rejected = Vec::new();
    let mut values = Vec::new();
    let mut seen: HashMap<(i64, String), usize> = HashMap::new();
    let err = |row: usize, column: &str, reason: String| RowError {
        row,
        column: column.to_owned(),
        reason,
    };
    for r in &table.rows {
        let cells = match &r.cells {
            Ok(c) => c,
            Err(why) => {
                rejected.push(err(r.row, "-", why.clone()));
                continue;
            }
        };
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cell = |i: usize| cells.get(i).map(|s| s.trim()).unwrap_or("");
        let mut ok = true;
        let unit = cell(cu);
        let unit_id = match units.get(unit) {
            Some((id, UnitKind::Station)) => Some(*id),
            Some((_, kind)) => {
                ok = false;
                rejected.push(err(
                    r.row,
                    &table.header[cu],
                    format!("unit `{unit}` is a {}, not a police station", kind.code()),
                ));
                None
            }
            None => {
                ok = false;
                rejected.push(err(
                    r.row,
                    &table.header[cu],
                    if unit.is_empty() {
                        "empty unit code".into()
                    } else {
                        format!(
                            "unknown unit `{}`",
                            unit.chars().take(40).collect::<String>()
                        )
                    },
                ));
                None
            }
        };
        let metric = cell(cm);
        if !is_metric_code(metric) {
            ok = false;
            rejected.push(err(
                r.row,
                &table.header[cm],
                format!(
                    "`{}` is not a metric code (business.NAME, team.NAME or jurisdiction.NAME, lower-case a-z 0-9 _)",
                    metric.chars().take(60).collect::<String>()
                ),
            ));
        }
        let raw = cell(cv);
        let value = raw
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && v.abs() <= minyi_assess::input::MAX_ABS_VALUE);
        if value.is_none() {
            ok = false;
            rejected.push(err(
                r.row,
                &table.header[cv],
                format!(
                    "`{}` is not a number",
                    raw.chars().take(40).collect::<String>()
                ),
            ));
        }
        if let (true, Some(unit_id), Some(value)) = (ok, unit_id, value) {
            if let Some(first) = seen.insert((unit_id, metric.to_owned()), r.row) {
                rejected.push(err(
                    r.row,
                    "-",
                    format!("unit {unit} metric {metric} again (first in row {first})"),
                ));
                continue;
            }
            values.push(MetricValue {
                unit_id,
                code: metric.to_owned(),
                value,
            });
        }
    }
    let rows = table.rows.len();
    if !rejected.is_empty() || values.is_empty() {
        if rejected.is_empty() {
            return Err(invalid(format!("{source}: no metric rows")));
        }
        return Ok(MetricImportReport {
            source: source.to_owned(),
            period: period.to_owned(),
            rows,
            rejected,
            stored: None,
        });
    }
    let outcome = app
        .store
        .import_metrics(
            &NewMetricBatch {
                period: period.to_owned(),
                source: source.to_owned(),
                imported_at: now,
                imported_by: actor.label(),
                synthetic,
            },
            &values,
        )
        .await?;
    record(
        app,
        now,
        &actor.label(),
        AuditAction::Import,
        &format!("assessment_metrics:{}", outcome.batch_id),
        &format!(
            "period={period} source={source} inserted={} updated={} unchanged={}",
            outcome.inserted, outcome.updated, outcome.unchanged
        ),
    )
    .await?;
    Ok(MetricImportReport {
        source: source.to_owned(),
        period: period.to_owned(),
        rows,
        rejected,
        stored: Some(outcome),
    })
}

// ---------------------------------------------------------------------------------
// Demo

/// The metrics the demo invents for every station (clearly synthetic): cases solved
/// (share of cases cleared), drug-control work points, team-building score (0–100),
/// disciplinary cases, and the jurisdiction's growth in registered drug users and in
/// named crimes.
pub const DEMO_METRICS: &[&str] = &[
    "business.cases_solved",
    "business.drug_control",
    "team.building",
    "team.disciplinary_cases",
    "jurisdiction.drug_users_growth",
    "jurisdiction.named_crimes_growth",
];

/// Writes the demo's synthetic metrics for `period` (seeded, deterministic).
pub async fn load_demo_metrics(app: &App, seed: u64, period: &str) -> Result<MetricImportOutcome> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0008);
    let mut rows = Vec::new();
    for u in app.store.units().await? {
        if u.kind != UnitKind::Station {
            continue;
        }
        let mut cells = |code: &str, v: f64| {
            rows.push(crate::import::TableRow {
                row: rows.len() + 2,
                cells: Ok(vec![
                    u.code.as_str().to_owned(),
                    code.to_owned(),
                    format!("{v}"),
                ]),
            })
        };
        let solved: f64 = rng.random_range(0.35..0.85);
        let drug: f64 = rng.random_range(40.0..120.0);
        let team: f64 = rng.random_range(70.0..98.0);
        let discipline: f64 = [0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 3.0][rng.random_range(0..7)];
        // Most jurisdictions are stable; a few see drug users double or crime grow.
        let drug_growth: f64 = if rng.random::<f64>() < 0.06 {
            rng.random_range(1.0..1.6)
        } else {
            rng.random_range(-0.3..0.5)
        };
        let crime_growth: f64 = rng.random_range(-0.25..0.45);
        let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
        cells(DEMO_METRICS[0], r3(solved));
        cells(DEMO_METRICS[1], r3(drug));
        cells(DEMO_METRICS[2], r3(team));
        cells(DEMO_METRICS[3], discipline);
        cells(DEMO_METRICS[4], r3(drug_growth));
        cells(DEMO_METRICS[5], r3(crime_growth));
    }
    let table = Table {
        header: vec!["unit".into(), "metric".into(), "value".into()],
        rows,
    };
    let report = import_metrics_table(
        app,
        &table,
        "demo:synthetic",
        period,
        Actor::Cli,
        Utc::now(),
        true,
    )
    .await?;
    report.stored.ok_or_else(|| {
        AppError::Refused(format!(
            "demo metrics refused: {}",
            report.rejected_lines().join("; ")
        ))
    })
}
