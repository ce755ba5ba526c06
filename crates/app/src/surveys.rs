//! Three-indicator surveys (三项指标测评): survey waves with their questionnaire and
//! scoring, the sample allocated to each station and its export for the agency, the
//! interviews (imported from a CATI system or entered by an interviewer), and the
//! estimates per station — direct, shrunk across stations, and how sure each rank is.
//!
//! The numerics are `minyi_stats`'s; this module only decides what goes in (which
//! respondents, which weights, which margins) and turns the outcome into reports that
//! never hold NaN: a station without usable answers says "no data" and why. It must
//! not store a respondent's name or phone number (there is nowhere to put them) and
//! must not keep a free comment anywhere but in the opinion it becomes.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::{DateTime, Utc};
use minyi_core::Code;
use minyi_core::access::Permission;
use minyi_core::opinion::OpinionText;
use minyi_core::org::UnitKind;
use minyi_core::taxonomy::Channel;
use minyi_stats::intervals::PropCiMethod;
use minyi_stats::scoring::{Answer, DontKnowRule, Scoring};
use minyi_stats::survey::{Design, DesignSpec, LonelyPsu, Margin};
use minyi_store::{AllocationRow, NewResponse, NewWave, WaveRow};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::import::{RowError, Table, read_table};
use crate::intake::{Submission, submit};
use crate::privacy::ContactInput;
use crate::{App, AppError, Result};

// ---------------------------------------------------------------------------------
// Vocabulary of the questionnaire

macro_rules! codes {
    ($(#[$m:meta])* $name:ident, $what:literal { $($v:ident => $code:literal $(| $alias:literal)*;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum $name { $($v),* }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v),*];
            pub fn code(self) -> &'static str {
                match self { $($name::$v => $code),* }
            }
            /// The code, or one of its Chinese spellings in an agency's file.
            pub fn parse(s: &str) -> std::result::Result<$name, String> {
                let t = s.trim();
                $(if t.eq_ignore_ascii_case($code) $(|| t == $alias)* { return Ok($name::$v); })*
                Err(format!(
                    "`{}` is not a {}; expected one of {}",
                    t,
                    $what,
                    [$($code),*].join(", ")
                ))
            }
        }
    };
}

codes! {
    /// A wave's life: set up, in the field (answers accepted), closed (frozen).
    WaveState, "wave state" {
        Draft => "draft";
        Fielding => "fielding";
        Closed => "closed";
    }
}

codes! {
    /// How the interview was made.
    Mode, "interview mode" {
        Cati => "cati" | "电话";
        Face => "face" | "面访";
        Online => "online" | "网络";
    }
}

codes! {
    /// The respondent's age band (adults only are interviewed).
    AgeBand, "age band" {
        A18 => "18-29";
        A30 => "30-44";
        A45 => "45-59";
        A60 => "60+";
    }
}

codes! {
    Sex, "sex code" {
        Male => "m" | "男";
        Female => "f" | "女";
    }
}

codes! {
    /// Whether the respondent knew the station chief: named them unprompted, picked them
    /// from a list, got it wrong, or did not know.
    Chief, "chief-awareness answer" {
        Named => "named" | "说出";
        Picked => "picked" | "指认";
        Wrong => "wrong" | "错误";
        DontKnow => "dont_know" | "不知道";
        Missing => "missing" | "缺失";
    }
}

codes! {
    /// The three indicators of the assessment.
    Indicator, "indicator" {
        Security => "security";
        Satisfaction => "satisfaction";
        Chief => "chief";
    }
}

/// An answer on the 1–5 scale, "don't know", or missing; stored as `1`..`5`,
/// `dont_know`, `missing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale5(pub Answer);

impl Scale5 {
    pub fn parse(s: &str) -> std::result::Result<Scale5, String> {
        let t = s.trim();
        Ok(Scale5(match t {
            "" | "missing" | "缺失" => Answer::Missing,
            "dk" | "dont_know" | "不知道" | "说不清" => Answer::DontKnow,
            _ => match t.parse::<i64>() {
                Ok(v @ 1..=5) => Answer::Scale(v as u8),
                Ok(v) => return Err(format!("{v} is outside the scale 1–5")),
                Err(_) => {
                    return Err(format!(
                        "`{t}` is not an answer: expected 1–5, dont_know or empty"
                    ));
                }
            },
        }))
    }

    pub fn code(self) -> String {
        match self.0 {
            Answer::Scale(v) => v.to_string(),
            Answer::DontKnow => "dont_know".into(),
            Answer::Missing => "missing".into(),
        }
    }
}

impl Chief {
    /// As a scored answer: wrong = 1, picked = 2, named = 3.
    pub fn answer(self) -> Answer {
        match self {
            Chief::Wrong => Answer::Scale(1),
            Chief::Picked => Answer::Scale(2),
            Chief::Named => Answer::Scale(3),
            Chief::DontKnow => Answer::DontKnow,
            Chief::Missing => Answer::Missing,
        }
    }
}

// ---------------------------------------------------------------------------------
// Questionnaire and scoring configuration

/// How one indicator is scored (see `minyi_stats::scoring`). Security and satisfaction
/// are on the 1–5 scale; chief awareness on wrong = 1, picked = 2, named = 3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorConfig {
    pub scoring: Scoring,
    pub dont_know: DontKnowRule,
}

/// Which interval a rate gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntervalChoice {
    /// Unweighted Wilson interval on the station's raw answers (no calibration).
    Wilson,
    /// Korn–Graubard on the design-weighted (calibrated) estimate.
    KornGraubard,
}

/// A wave's questionnaire configuration (stored as JSON; see docs/formats.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaveConfig {
    pub security: IndicatorConfig,
    pub satisfaction: IndicatorConfig,
    pub chief: IndicatorConfig,
    #[serde(default = "default_interval")]
    pub interval: IntervalChoice,
    #[serde(default = "default_level")]
    pub level: f64,
}

fn default_interval() -> IntervalChoice {
    IntervalChoice::KornGraubard
}

fn default_level() -> f64 {
    0.95
}

impl Default for WaveConfig {
    /// Satisfied or very satisfied (top 2 of 5), "don't know" left out; the chief named
    /// or picked, "don't know" counted as not aware.
    fn default() -> Self {
        WaveConfig {
            security: IndicatorConfig {
                scoring: Scoring::Rate {
                    scale_max: 5,
                    top: 2,
                },
                dont_know: DontKnowRule::Exclude,
            },
            satisfaction: IndicatorConfig {
                scoring: Scoring::Rate {
                    scale_max: 5,
                    top: 2,
                },
                dont_know: DontKnowRule::Exclude,
            },
            chief: IndicatorConfig {
                scoring: Scoring::Rate {
                    scale_max: 3,
                    top: 2,
                },
                dont_know: DontKnowRule::Value(0.0),
            },
            interval: default_interval(),
            level: default_level(),
        }
    }
}

impl WaveConfig {
    pub fn indicator(&self, i: Indicator) -> &IndicatorConfig {
        match i {
            Indicator::Security => &self.security,
            Indicator::Satisfaction => &self.satisfaction,
            Indicator::Chief => &self.chief,
        }
    }

    /// Parses and checks a configuration: scales match the questionnaire, k within the
    /// scale, weights finite, a rate's "don't know" value 0 or 1, level in (0.5, 1).
    pub fn parse(json: &str) -> Result<WaveConfig> {
        let c: WaveConfig = serde_json::from_str(json)
            .map_err(|e| AppError::Invalid(format!("survey configuration: {e}")))?;
        c.check()?;
        Ok(c)
    }

    pub fn check(&self) -> Result<()> {
        for i in Indicator::ALL {
            let ic = self.indicator(*i);
            let scale = if *i == Indicator::Chief { 3 } else { 5 };
            let bad = |why: String| {
                Err(AppError::Invalid(format!(
                    "survey configuration, {}: {why}",
                    i.code()
                )))
            };
            match &ic.scoring {
                Scoring::Rate { scale_max, top } => {
                    if usize::from(*scale_max) != scale {
                        return bad(format!("scale_max must be {scale}, not {scale_max}"));
                    }
                    if *top == 0 || *top >= *scale_max {
                        return bad(format!("top must be between 1 and {}", scale - 1));
                    }
                    if let DontKnowRule::Value(v) = ic.dont_know
                        && v != 0.0
                        && v != 1.0
                    {
                        return bad("a rate counts \"don't know\" as 0 or 1".into());
                    }
                }
                Scoring::Index { weights } => {
                    if weights.len() != scale {
                        return bad(format!(
                            "an index needs {scale} weights, one per answer, not {}",
                            weights.len()
                        ));
                    }
                    if weights.iter().any(|w| !w.is_finite()) {
                        return bad("weights must be finite numbers".into());
                    }
                    if let DontKnowRule::Value(v) = ic.dont_know
                        && !v.is_finite()
                    {
                        return bad("the \"don't know\" value must be a finite number".into());
                    }
                }
            }
        }
        if !(self.level > 0.5 && self.level < 1.0) {
            return Err(AppError::Invalid(format!(
                "survey configuration: level {} must lie between 0.5 and 1",
                self.level
            )));
        }
        Ok(())
    }
}

/// Population shares for calibration, within every station: either the joint age × sex
/// cells (`"30-44/f": 0.13`, post-stratification) or the two margins (raking).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Margins {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_sex: Option<BTreeMap<String, f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<BTreeMap<String, f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<BTreeMap<String, f64>>,
}

/// Checked margins: shares indexed by cell, each set summing to 1.
#[derive(Debug, Clone, PartialEq)]
enum Calibrate {
    Joint(Vec<f64>),
    Rake { age: Vec<f64>, sex: Vec<f64> },
}

fn cell(a: AgeBand, s: Sex) -> usize {
    a as usize * Sex::ALL.len() + s as usize
}

fn shares<K: Copy>(
    name: &str,
    given: &BTreeMap<String, f64>,
    keys: &[(String, K)],
    index: impl Fn(K) -> usize,
    len: usize,
) -> Result<Vec<f64>> {
    let mut out = vec![0.0; len];
    for (k, v) in given {
        let Some((_, key)) = keys.iter().find(|(c, _)| c == k) else {
            return Err(AppError::Invalid(format!(
                "survey margins, {name}: unknown cell `{k}`"
            )));
        };
        if !(v.is_finite() && *v >= 0.0) {
            return Err(AppError::Invalid(format!(
                "survey margins, {name}: share of `{k}` must be a number ≥ 0"
            )));
        }
        out[index(*key)] = *v;
    }
    let total: f64 = out.iter().sum();
    if (total - 1.0).abs() > 1e-6 {
        return Err(AppError::Invalid(format!(
            "survey margins, {name}: shares add up to {total}, not 1"
        )));
    }
    Ok(out.iter().map(|v| v / total).collect())
}

impl Margins {
    pub fn parse(json: &str) -> Result<Margins> {
        let m: Margins = serde_json::from_str(json)
            .map_err(|e| AppError::Invalid(format!("survey margins: {e}")))?;
        m.checked()?;
        Ok(m)
    }

    fn checked(&self) -> Result<Calibrate> {
        let ages: Vec<(String, AgeBand)> =
            AgeBand::ALL.iter().map(|a| (a.code().into(), *a)).collect();
        let sexes: Vec<(String, Sex)> = Sex::ALL.iter().map(|s| (s.code().into(), *s)).collect();
        match (&self.age_sex, &self.age, &self.sex) {
            (Some(j), None, None) => {
                let keys: Vec<(String, (AgeBand, Sex))> = AgeBand::ALL
                    .iter()
                    .flat_map(|a| {
                        Sex::ALL
                            .iter()
                            .map(move |s| (format!("{}/{}", a.code(), s.code()), (*a, *s)))
                    })
                    .collect();
                Ok(Calibrate::Joint(shares(
                    "age_sex",
                    j,
                    &keys,
                    |(a, s)| cell(a, s),
                    AgeBand::ALL.len() * Sex::ALL.len(),
                )?))
            }
            (None, Some(a), Some(s)) => Ok(Calibrate::Rake {
                age: shares("age", a, &ages, |k| k as usize, AgeBand::ALL.len())?,
                sex: shares("sex", s, &sexes, |k| k as usize, Sex::ALL.len())?,
            }),
            _ => Err(AppError::Invalid(
                "survey margins: give either age_sex, or both age and sex".into(),
            )),
        }
    }
}

// ---------------------------------------------------------------------------------
// Waves

/// A wave as the app sees it: stored row with its parsed configuration.
#[derive(Debug, Clone)]
pub struct Wave {
    pub row: WaveRow,
    pub state: WaveState,
    pub config: WaveConfig,
    pub margins: Option<Margins>,
}

impl Wave {
    /// True when the indicator is scored as a rate (a share), false for an index.
    pub fn is_rate(&self, i: Indicator) -> bool {
        matches!(self.config.indicator(i).scoring, Scoring::Rate { .. })
    }
}

fn wave_from(row: WaveRow) -> Result<Wave> {
    let state = WaveState::parse(&row.state)
        .map_err(|e| AppError::Refused(format!("wave {}: {e}", row.code)))?;
    let config = WaveConfig::parse(&row.config)
        .map_err(|e| AppError::Refused(format!("wave {}: stored {e}", row.code)))?;
    let margins = match &row.margins {
        Some(m) => Some(
            Margins::parse(m)
                .map_err(|e| AppError::Refused(format!("wave {}: stored {e}", row.code)))?,
        ),
        None => None,
    };
    Ok(Wave {
        row,
        state,
        config,
        margins,
    })
}

/// What it takes to create a wave.
#[derive(Debug, Clone)]
pub struct WaveInput {
    pub code: String,
    pub name: String,
    pub period: String,
    pub config: WaveConfig,
    pub margins: Option<Margins>,
    pub synthetic: bool,
}

/// Creates a wave in the draft state; its code must be new.
pub async fn create_wave(app: &App, input: WaveInput, now: DateTime<Utc>) -> Result<Wave> {
    let code =
        Code::parse(input.code.trim()).map_err(|e| AppError::Invalid(format!("wave code: {e}")))?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::Invalid("wave name: 1 to 100 characters".into()));
    }
    let period = input.period.trim();
    if period.is_empty() || period.chars().count() > 40 {
        return Err(AppError::Invalid(
            "wave period: 1 to 40 characters (for example 2026-Q3)".into(),
        ));
    }
    input.config.check()?;
    if let Some(m) = &input.margins {
        m.checked()?;
    }
    let config = serde_json::to_string(&input.config)
        .map_err(|e| AppError::Refused(format!("survey configuration: {e}")))?;
    let margins = match &input.margins {
        Some(m) => Some(
            serde_json::to_string(m)
                .map_err(|e| AppError::Refused(format!("survey margins: {e}")))?,
        ),
        None => None,
    };
    let new = NewWave {
        code: code.to_string(),
        name: name.to_owned(),
        period: period.to_owned(),
        state: WaveState::Draft.code().into(),
        config,
        margins,
        created_at: now,
        synthetic: input.synthetic,
    };
    if app.store.insert_wave(&new).await?.is_none() {
        return Err(AppError::Invalid(format!(
            "a wave with the code {code} exists already"
        )));
    }
    wave(app, code.as_str()).await
}

/// The wave with this code, or `NotFound`.
pub async fn wave(app: &App, code: &str) -> Result<Wave> {
    let row = app
        .store
        .wave_by_code(code.trim())
        .await?
        .ok_or(AppError::NotFound)?;
    wave_from(row)
}

/// Every wave, newest first.
pub async fn waves(app: &App) -> Result<Vec<Wave>> {
    app.store
        .waves()
        .await?
        .into_iter()
        .map(wave_from)
        .collect()
}

/// Moves a wave to another state. A closed wave stays closed: its estimates are what
/// was reported.
pub async fn set_state(app: &App, code: &str, state: WaveState) -> Result<Wave> {
    let w = wave(app, code).await?;
    if w.state == WaveState::Closed && state != WaveState::Closed {
        return Err(AppError::Invalid(format!(
            "wave {} is closed and cannot be reopened",
            w.row.code
        )));
    }
    app.store.set_wave_state(w.row.id, state.code()).await?;
    wave(app, code).await
}

// ---------------------------------------------------------------------------------
// Stations

/// A station with what the survey needs of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Station {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// The county bureau's name.
    pub county: String,
    pub population: i64,
}

/// Every station, in code order, with its population (sum of its leaf areas).
pub async fn stations(app: &App) -> Result<Vec<Station>> {
    let units = app.store.units().await?;
    let names: HashMap<i64, String> = units.iter().map(|u| (u.id, u.name.clone())).collect();
    let pops: HashMap<i64, i64> = app.store.station_populations().await?.into_iter().collect();
    Ok(units
        .iter()
        .filter(|u| u.kind == UnitKind::Station)
        .map(|u| Station {
            id: u.id,
            code: u.code.to_string(),
            name: u.name.clone(),
            county: u
                .parent_id
                .and_then(|p| names.get(&p).cloned())
                .unwrap_or_default(),
            population: pops.get(&u.id).copied().unwrap_or(0),
        })
        .collect())
}

// ---------------------------------------------------------------------------------
// Allocation

codes! {
    /// How a wave's sample is shared among stations.
    AllocationMethod, "allocation method" {
        Proportional => "proportional";
        Equal => "equal";
        Neyman => "neyman";
        HalfWidth => "half-width";
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AllocationRequest {
    pub method: AllocationMethod,
    /// Required except for `half-width`, where the sizes follow from the target.
    pub total: Option<u64>,
    pub min_per_station: u64,
    /// The proportion expected (Neyman's standard deviation, the calculator's p).
    pub anticipated: f64,
    /// For `half-width`: the interval half-width wanted at every station.
    pub half_width: Option<f64>,
    pub deff: f64,
    pub level: f64,
}

impl Default for AllocationRequest {
    fn default() -> Self {
        AllocationRequest {
            method: AllocationMethod::Proportional,
            total: None,
            min_per_station: 0,
            anticipated: 0.85,
            half_width: None,
            deff: 1.0,
            level: 0.95,
        }
    }
}

/// One line of the agency's allocation sheet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllocationLine {
    pub station: Station,
    pub sample_size: i64,
}

fn stats_err(what: &str) -> impl Fn(minyi_stats::InputError) -> AppError + '_ {
    move |e| AppError::Invalid(format!("{what}: {e}"))
}

/// Computes the allocation with `minyi_stats::alloc`, stores it (replacing any earlier
/// one) and returns the sheet. A closed wave keeps its allocation.
pub async fn allocate(
    app: &App,
    code: &str,
    req: AllocationRequest,
) -> Result<Vec<AllocationLine>> {
    use minyi_stats::alloc;
    let w = wave(app, code).await?;
    if w.state == WaveState::Closed {
        return Err(AppError::Invalid(format!("wave {} is closed", w.row.code)));
    }
    let stations = stations(app).await?;
    if stations.is_empty() {
        return Err(AppError::Invalid(
            "there are no stations to allocate to".into(),
        ));
    }
    let population: Vec<f64> = stations.iter().map(|s| s.population as f64).collect();
    if !(0.0..=1.0).contains(&req.anticipated) {
        return Err(AppError::Invalid(
            "the anticipated proportion must lie between 0 and 1".into(),
        ));
    }
    let anticipated = anticipated_rates(app, &w, &stations, req.anticipated).await?;
    let sizes: Vec<u64> = match req.method {
        AllocationMethod::HalfWidth => {
            let hw = req.half_width.ok_or_else(|| {
                AppError::Invalid("half-width allocation needs the target half-width".into())
            })?;
            let p = anticipated.clone();
            // A station without recorded population is treated as large (no correction).
            let pops: Vec<f64> = population
                .iter()
                .map(|&n| if n >= 1.0 { n } else { f64::MAX / 4.0 })
                .collect();
            alloc::allocate_by_half_width(&p, &pops, hw, req.level, req.deff)
                .map_err(stats_err("allocation"))?
                .into_iter()
                .map(|n| n.max(req.min_per_station))
                .collect()
        }
        method => {
            let total = req.total.ok_or_else(|| {
                AppError::Invalid(format!(
                    "{} allocation needs the total sample",
                    method.code()
                ))
            })?;
            let rule = match method {
                AllocationMethod::Equal => alloc::AllocationRule::Equal,
                AllocationMethod::Neyman => alloc::AllocationRule::Neyman,
                _ => alloc::AllocationRule::Proportional,
            };
            let sd: Vec<f64> = anticipated
                .iter()
                .map(|&p| alloc::sd_for_proportion(p))
                .collect();
            alloc::allocate(total, &population, rule, Some(&sd), req.min_per_station)
                .map_err(stats_err("allocation"))?
        }
    };
    let rows: Vec<AllocationRow> = stations
        .iter()
        .zip(&sizes)
        .map(|(s, n)| AllocationRow {
            station_id: s.id,
            sample_size: *n as i64,
            population: s.population,
        })
        .collect();
    app.store.replace_allocation(w.row.id, &rows).await?;
    Ok(stations
        .into_iter()
        .zip(sizes)
        .map(|(station, n)| AllocationLine {
            station,
            sample_size: n as i64,
        })
        .collect())
}

/// Each station's anticipated rate for Neyman and half-width allocation: what the most
/// recent closed wave measured there (the shrunk estimate of the indicator with the most
/// spread, so the sample suits all three), else `fallback`. With one flat value Neyman
/// would be no different from proportional allocation.
async fn anticipated_rates(
    app: &App,
    this: &Wave,
    stations: &[Station],
    fallback: f64,
) -> Result<Vec<f64>> {
    let previous = waves(app)
        .await?
        .into_iter()
        .find(|w| w.row.id != this.row.id && w.state == WaveState::Closed);
    let mut by_station: HashMap<i64, f64> = HashMap::new();
    if let Some(prev) = previous {
        for e in estimates_of(app, &prev).await? {
            let spread = |p: f64| p * (1.0 - p);
            let p = [
                Indicator::Security,
                Indicator::Satisfaction,
                Indicator::Chief,
            ]
            .into_iter()
            .filter(|&i| prev.is_rate(i))
            .filter_map(|i| e.indicator(i).and_then(|x| x.shrunk.as_ref()))
            .map(|s| s.estimate)
            .filter(|p| p.is_finite() && (0.0..=1.0).contains(p))
            .max_by(|a, b| spread(*a).total_cmp(&spread(*b)));
            if let Some(p) = p {
                by_station.insert(e.station.id, p);
            }
        }
    }
    Ok(stations
        .iter()
        .map(|s| by_station.get(&s.id).copied().unwrap_or(fallback))
        .collect())
}

/// The stored allocation of a wave (empty when none was made).
pub async fn allocation(app: &App, code: &str) -> Result<Vec<AllocationLine>> {
    let w = wave(app, code).await?;
    let rows: HashMap<i64, AllocationRow> = app
        .store
        .allocation(w.row.id)
        .await?
        .into_iter()
        .map(|r| (r.station_id, r))
        .collect();
    Ok(stations(app)
        .await?
        .into_iter()
        .filter_map(|mut s| {
            let r = rows.get(&s.id)?;
            s.population = r.population;
            Some(AllocationLine {
                station: s,
                sample_size: r.sample_size,
            })
        })
        .collect())
}

fn csv_text(rows: &[Vec<String>]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(r)
            .map_err(|e| AppError::Refused(format!("csv: {e}")))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Refused(format!("csv: {e}")))?;
    String::from_utf8(bytes).map_err(|e| AppError::Refused(format!("csv: {e}")))
}

/// The agency's sheet: station code, name, county, allocated n, population.
pub fn allocation_csv(lines: &[AllocationLine]) -> Result<String> {
    let mut rows = vec![
        ["station", "name", "county", "allocated", "population"]
            .map(String::from)
            .to_vec(),
    ];
    for l in lines {
        rows.push(vec![
            l.station.code.clone(),
            l.station.name.clone(),
            l.station.county.clone(),
            l.sample_size.to_string(),
            l.station.population.to_string(),
        ]);
    }
    csv_text(&rows)
}

// ---------------------------------------------------------------------------------
// Responses: import and entry

/// The columns of an agency's file (see docs/formats.md), with their Chinese headers.
const COLUMNS: &[(&str, &str, bool)] = &[
    ("response_id", "问卷编号", true),
    ("station", "派出所", true),
    ("area", "村社区", false),
    ("interviewer", "访员", true),
    ("mode", "访问方式", true),
    ("interviewed_at", "访问时间", true),
    ("age_band", "年龄段", true),
    ("sex", "性别", true),
    ("security", "安全感", true),
    ("satisfaction", "满意度", true),
    ("chief", "所长知晓", true),
    ("comment", "意见建议", false),
];

/// Header words that would bring a respondent's identity in; such a file is refused.
const PERSONAL: &[&str] = &[
    "name",
    "phone",
    "mobile",
    "tel",
    "id_number",
    "address",
    "姓名",
    "电话",
    "手机",
    "身份证",
    "住址",
    "地址",
];

/// A valid interview, ready to store.
#[derive(Debug, Clone)]
pub struct ParsedResponse {
    pub row: usize,
    pub external_id: String,
    pub station_id: i64,
    pub area: Option<(i64, String)>,
    pub interviewer: String,
    pub mode: Mode,
    pub interviewed_at: DateTime<Utc>,
    pub age_band: AgeBand,
    pub sex: Sex,
    pub security: Scale5,
    pub satisfaction: Scale5,
    pub chief: Chief,
    pub comment: Option<OpinionText>,
}

/// What stations and areas are known, for checking rows.
struct Places {
    stations: HashMap<String, i64>,
    areas: HashMap<String, (i64, Option<i64>)>,
}

async fn places(app: &App) -> Result<Places> {
    Ok(Places {
        stations: stations(app)
            .await?
            .into_iter()
            .map(|s| (s.code, s.id))
            .collect(),
        areas: app
            .store
            .areas()
            .await?
            .into_iter()
            .map(|a| (a.code.to_string(), (a.id, a.station_id)))
            .collect(),
    })
}

fn column_of(header: &str) -> Option<&'static str> {
    let h = header.trim().trim_start_matches('\u{feff}');
    COLUMNS
        .iter()
        .find(|(c, zh, _)| h.eq_ignore_ascii_case(c) || h == *zh)
        .map(|(c, _, _)| *c)
}

/// Maps the header to column codes, refusing unknown and personal-data columns and
/// naming missing required ones.
fn layout(header: &[String]) -> Result<Vec<&'static str>> {
    let mut out = Vec::with_capacity(header.len());
    let mut problems = Vec::new();
    for h in header {
        match column_of(h) {
            Some(c) if out.contains(&c) => problems.push(format!("column `{h}` appears twice")),
            Some(c) => out.push(c),
            None => {
                let lower = h.trim().to_lowercase();
                if PERSONAL.iter().any(|p| lower.contains(p)) {
                    problems.push(format!(
                        "column `{}` would bring in respondents' personal data: remove it (no names or phone numbers are stored)",
                        h.trim()
                    ));
                } else {
                    problems.push(format!("unknown column `{}`", h.trim()));
                }
                out.push("");
            }
        }
    }
    for (c, _, required) in COLUMNS {
        if *required && !out.contains(c) {
            problems.push(format!("required column `{c}` is missing"));
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(AppError::Invalid(problems.join("; ")))
    }
}

/// Checks one row given as (column, value) pairs; every problem is reported.
fn parse_fields(
    places: &Places,
    row: usize,
    get: &dyn Fn(&str) -> String,
) -> std::result::Result<ParsedResponse, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut err = |column: &str, reason: String| {
        errors.push(RowError {
            row,
            column: column.to_owned(),
            reason,
        })
    };
    let external_id = get("response_id").trim().to_owned();
    if external_id.is_empty() || external_id.chars().count() > 64 {
        err("response_id", "1 to 64 characters required".into());
    } else if external_id.chars().any(char::is_control) {
        err("response_id", "contains control characters".into());
    }
    let station_code = get("station").trim().to_owned();
    let station_id = places.stations.get(&station_code).copied();
    if station_id.is_none() {
        err("station", format!("unknown station `{station_code}`"));
    }
    let area_code = get("area").trim().to_owned();
    let area = if area_code.is_empty() {
        None
    } else {
        match places.areas.get(&area_code) {
            None => {
                err("area", format!("unknown area `{area_code}`"));
                None
            }
            Some((id, st)) => {
                if station_id.is_some() && *st != station_id {
                    err(
                        "area",
                        format!("area `{area_code}` is not in station `{station_code}`"),
                    );
                }
                Some((*id, area_code.clone()))
            }
        }
    };
    let interviewer = get("interviewer").trim().to_owned();
    if interviewer.is_empty() || interviewer.chars().count() > 32 {
        err(
            "interviewer",
            "an interviewer code of 1 to 32 characters".into(),
        );
    }
    let mode = Mode::parse(&get("mode")).map_err(|e| err("mode", e)).ok();
    let at = crate::import::parse_received_at(get("interviewed_at").trim())
        .map_err(|e| err("interviewed_at", e))
        .ok();
    let age = AgeBand::parse(&get("age_band"))
        .map_err(|e| err("age_band", e))
        .ok();
    let sex = Sex::parse(&get("sex")).map_err(|e| err("sex", e)).ok();
    let security = Scale5::parse(&get("security"))
        .map_err(|e| err("security", e))
        .ok();
    let satisfaction = Scale5::parse(&get("satisfaction"))
        .map_err(|e| err("satisfaction", e))
        .ok();
    let chief_raw = get("chief");
    let chief = if chief_raw.trim().is_empty() {
        Some(Chief::Missing)
    } else {
        Chief::parse(&chief_raw).map_err(|e| err("chief", e)).ok()
    };
    let comment_raw = get("comment");
    let comment = if comment_raw.trim().is_empty() {
        None
    } else {
        OpinionText::parse(&comment_raw)
            .map_err(|e| err("comment", e.to_string()))
            .ok()
    };
    match (
        station_id,
        mode,
        at,
        age,
        sex,
        security,
        satisfaction,
        chief,
        errors.is_empty(),
    ) {
        (
            Some(station_id),
            Some(mode),
            Some(interviewed_at),
            Some(age_band),
            Some(sex),
            Some(security),
            Some(satisfaction),
            Some(chief),
            true,
        ) => Ok(ParsedResponse {
            row,
            external_id,
            station_id,
            area,
            interviewer,
            mode,
            interviewed_at,
            age_band,
            sex,
            security,
            satisfaction,
            chief,
            comment,
        }),
        _ => Err(errors),
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResponseImportReport {
    pub rows: usize,
    pub stored: usize,
    /// Already stored for this wave (a re-import): nothing changed.
    pub repeated: usize,
    /// Comments that became opinions (channel survey).
    pub opinions: usize,
    #[serde(skip)]
    pub rejected: Vec<RowError>,
}

fn accepting(w: &Wave) -> Result<()> {
    if w.state == WaveState::Closed {
        return Err(AppError::Invalid(format!(
            "wave {} is closed: it takes no more interviews",
            w.row.code
        )));
    }
    Ok(())
}

/// Stores valid interviews; comments first become opinions (idempotent per wave and
/// response id, so a re-import makes no second opinion).
async fn store_parsed(
    app: &App,
    w: &Wave,
    parsed: &[ParsedResponse],
    actor: &str,
    now: DateTime<Utc>,
    synthetic: bool,
) -> Result<(Vec<bool>, usize)> {
    let mut opinions = 0;
    let mut rows = Vec::with_capacity(parsed.len());
    for p in parsed {
        let opinion_id = match &p.comment {
            Some(text) => {
                let receipt = submit(
                    app,
                    Submission {
                        channel: Channel::Survey,
                        text: text.clone(),
                        category: None,
                        area_code: p.area.as_ref().map(|(_, c)| c.clone()),
                        client_key: Some(format!("survey:{}:{}", w.row.code, p.external_id)),
                        contact: ContactInput::default(),
                        limit_to_units: None,
                    },
                    actor,
                    now,
                )
                .await?;
                if !receipt.repeated {
                    opinions += 1;
                }
                Some(receipt.id)
            }
            None => None,
        };
        rows.push(NewResponse {
            external_id: p.external_id.clone(),
            station_id: p.station_id,
            area_id: p.area.as_ref().map(|(id, _)| *id),
            interviewer: p.interviewer.clone(),
            mode: p.mode.code().into(),
            age_band: p.age_band.code().into(),
            sex: p.sex.code().into(),
            security: p.security.code(),
            satisfaction: p.satisfaction.code(),
            chief: p.chief.code().into(),
            opinion_id,
            interviewed_at: p.interviewed_at,
            entered_at: now,
            synthetic,
        });
    }
    let stored = app.store.insert_responses(w.row.id, &rows).await?;
    Ok((stored, opinions))
}

/// Imports an agency's file (CSV or XLSX, see docs/formats.md) into a wave. Every bad
/// row is reported with its row, column and reason and nothing of it is stored; good
/// rows are stored; rows already stored for the wave add nothing.
pub async fn import_responses(
    app: &App,
    code: &str,
    path: &Path,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<ResponseImportReport> {
    let table = read_table(path)?;
    import_table(app, code, &table, actor, now).await
}

pub async fn import_table(
    app: &App,
    code: &str,
    table: &Table,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<ResponseImportReport> {
    let w = wave(app, code).await?;
    accepting(&w)?;
    let cols = layout(&table.header)?;
    let places = places(app).await?;
    let mut report = ResponseImportReport {
        rows: table.rows.len(),
        ..Default::default()
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut good = Vec::new();
    for r in &table.rows {
        let cells = match &r.cells {
            Ok(c) => c,
            Err(e) => {
                report.rejected.push(RowError {
                    row: r.row,
                    column: "-".into(),
                    reason: e.clone(),
                });
                continue;
            }
        };
        if cells.len() > cols.len() {
            report.rejected.push(RowError {
                row: r.row,
                column: "-".into(),
                reason: format!(
                    "{} cells, but the header has {} columns",
                    cells.len(),
                    cols.len()
                ),
            });
            continue;
        }
        let get = |c: &str| {
            cols.iter()
                .position(|x| *x == c)
                .and_then(|i| cells.get(i))
                .cloned()
                .unwrap_or_default()
        };
        match parse_fields(&places, r.row, &get) {
            Ok(p) => {
                if let Some(first) = seen.get(&p.external_id) {
                    report.rejected.push(RowError {
                        row: r.row,
                        column: "response_id".into(),
                        reason: format!("the same response id as row {first}"),
                    });
                    continue;
                }
                seen.insert(p.external_id.clone(), r.row);
                good.push(p);
            }
            Err(errs) => report.rejected.extend(errs),
        }
    }
    // One row's problems are reported together, in file order.
    report.rejected.sort_by_key(|e| e.row);
    let (stored, opinions) = store_parsed(app, &w, &good, actor, now, false).await?;
    report.stored = stored.iter().filter(|s| **s).count();
    report.repeated = stored.len() - report.stored;
    report.opinions = opinions;
    Ok(report)
}

/// The interviewer form's fields, as typed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FormFields {
    pub station: String,
    pub area: String,
    pub mode: String,
    pub age_band: String,
    pub sex: String,
    pub security: String,
    pub satisfaction: String,
    pub chief: String,
    pub comment: String,
}

/// An interviewer enters one interview. `submission` is the form's one-time id, so a
/// double submit stores it once. Only the survey agency (`SurveyWork`) may, and only at
/// stations in its scope. Field problems come back as `Err(errors)` inside `Ok`.
pub async fn enter_response(
    app: &App,
    p: &Principal,
    code: &str,
    f: &FormFields,
    submission: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<bool, Vec<RowError>>> {
    if !p.may(Permission::SurveyWork) {
        return Err(AppError::Forbidden);
    }
    let w = wave(app, code).await?;
    accepting(&w)?;
    let submission = submission.trim();
    if submission.is_empty()
        || submission.len() > 64
        || !submission
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(AppError::Invalid(
            "the form's submission id is missing".into(),
        ));
    }
    let places = places(app).await?;
    let at = now
        .with_timezone(&minyi_core::calendar::SHANGHAI)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let external = format!("form-{submission}");
    let get = |c: &str| -> String {
        match c {
            "response_id" => external.clone(),
            "station" => f.station.clone(),
            "area" => f.area.clone(),
            "interviewer" => p.username.clone(),
            "mode" => f.mode.clone(),
            "interviewed_at" => at.clone(),
            "age_band" => f.age_band.clone(),
            "sex" => f.sex.clone(),
            "security" => f.security.clone(),
            "satisfaction" => f.satisfaction.clone(),
            "chief" => f.chief.clone(),
            "comment" => f.comment.clone(),
            _ => String::new(),
        }
    };
    let parsed = match parse_fields(&places, 1, &get) {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    if !p.scope.contains(parsed.station_id) {
        return Ok(Err(vec![RowError {
            row: 1,
            column: "station".into(),
            reason: "the station is outside your unit".into(),
        }]));
    }
    let (stored, _) = store_parsed(app, &w, &[parsed], &p.actor(), now, false).await?;
    Ok(Ok(stored.first().copied().unwrap_or(false)))
}

// ---------------------------------------------------------------------------------
// Estimates

/// Why an indicator has no estimate at a station.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum NoData {
    /// Nobody was interviewed there.
    NoRespondents,
    /// Fewer than two respondents gave a scored answer.
    TooFewAnswers { answered: usize },
    /// The estimator refused the data (the message says why).
    Refused { detail: String },
}

impl NoData {
    pub fn code(&self) -> &'static str {
        match self {
            NoData::NoRespondents => "no_respondents",
            NoData::TooFewAnswers { .. } => "too_few_answers",
            NoData::Refused { .. } => "refused",
        }
    }
}

/// How the station's weights were calibrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Calibration {
    /// Design weights only (no margins, or an unweighted interval was configured).
    None,
    PostStratified,
    Raked,
    /// Margins were given but a populated cell had no respondent there: design
    /// weights were used instead.
    Skipped,
}

/// A design-based estimate at one station.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Direct {
    pub estimate: f64,
    pub se: f64,
    pub lower: f64,
    pub upper: f64,
    /// `wilson`, `korn-graubard` or `t` (an index's mean).
    pub method: &'static str,
    pub deff: Option<f64>,
    pub calibration: Calibration,
}

/// The Fay–Herriot (EBLUP) estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shrunk {
    pub estimate: f64,
    pub mse: f64,
    /// Weight on the direct estimate: small stations are pulled more (lower gamma).
    pub gamma: f64,
}

/// Where the station ranks among the stations with an estimate (rank 1 = best).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankFacts {
    pub of: usize,
    pub expected: f64,
    pub lower: usize,
    pub upper: usize,
    pub p_top6: f64,
    pub p_bottom3: f64,
    pub p_bottom10: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndicatorEstimate {
    pub indicator: Indicator,
    pub answered: usize,
    pub dont_know: usize,
    pub missing: usize,
    pub direct: Option<Direct>,
    pub shrunk: Option<Shrunk>,
    pub rank: Option<RankFacts>,
    pub no_data: Option<NoData>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StationEstimate {
    pub station: Station,
    pub allocated: Option<i64>,
    pub respondents: usize,
    /// Security, satisfaction, chief awareness, in that order.
    pub indicators: Vec<IndicatorEstimate>,
}

impl StationEstimate {
    pub fn indicator(&self, i: Indicator) -> Option<&IndicatorEstimate> {
        self.indicators.iter().find(|x| x.indicator == i)
    }
}

/// One interview as the estimator takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interview {
    pub station_id: i64,
    pub age_band: AgeBand,
    pub sex: Sex,
    pub security: Answer,
    pub satisfaction: Answer,
    pub chief: Answer,
}

impl Interview {
    fn answer(&self, i: Indicator) -> Answer {
        match i {
            Indicator::Security => self.security,
            Indicator::Satisfaction => self.satisfaction,
            Indicator::Chief => self.chief,
        }
    }
}

/// Draws for the rank distribution; seeded so a report is reproduced exactly.
pub const RANK_DRAWS: usize = 10_000;
const RANK_SEED: u64 = 0x6d69_6e79_6900_0007;

/// Estimates for every station (pure): direct per station, Fay–Herriot across stations,
/// rank probabilities on the shrunk estimates. `stations` carry their population (the
/// allocation's when there is one).
pub fn compute(
    config: &WaveConfig,
    margins: Option<&Margins>,
    stations: &[(Station, Option<i64>)],
    interviews: &[Interview],
) -> Vec<StationEstimate> {
    let calibrate = margins.and_then(|m| m.checked().ok());
    let mut by_station: HashMap<i64, Vec<&Interview>> = HashMap::new();
    for i in interviews {
        by_station.entry(i.station_id).or_default().push(i);
    }
    let mut out: Vec<StationEstimate> = stations
        .iter()
        .map(|(s, allocated)| {
            let list = by_station.get(&s.id).map(Vec::as_slice).unwrap_or(&[]);
            StationEstimate {
                station: s.clone(),
                allocated: *allocated,
                respondents: list.len(),
                indicators: Indicator::ALL
                    .iter()
                    .map(|ind| direct_for(config, calibrate.as_ref(), s, list, *ind))
                    .collect(),
            }
        })
        .collect();
    for (k, ind) in Indicator::ALL.iter().enumerate() {
        shrink_and_rank(config, &mut out, k, *ind);
    }
    out
}

fn direct_for(
    config: &WaveConfig,
    calibrate: Option<&Calibrate>,
    station: &Station,
    list: &[&Interview],
    ind: Indicator,
) -> IndicatorEstimate {
    let ic = config.indicator(ind);
    let mut e = IndicatorEstimate {
        indicator: ind,
        answered: 0,
        dont_know: 0,
        missing: 0,
        direct: None,
        shrunk: None,
        rank: None,
        no_data: None,
    };
    if list.is_empty() {
        e.no_data = Some(NoData::NoRespondents);
        return e;
    }
    let answers: Vec<Answer> = list.iter().map(|i| i.answer(ind)).collect();
    let scored = match minyi_stats::scoring::score(&answers, &ic.scoring, ic.dont_know) {
        Ok(s) => s,
        Err(err) => {
            e.no_data = Some(NoData::Refused {
                detail: err.to_string(),
            });
            return e;
        }
    };
    e.answered = scored.answered.iter().filter(|a| **a).count();
    e.dont_know = scored.dont_know;
    e.missing = scored.missing;
    if e.answered < 2 {
        e.no_data = Some(NoData::TooFewAnswers {
            answered: e.answered,
        });
        return e;
    }
    match direct_estimate(config, calibrate, station, list, &scored, &ic.scoring) {
        Ok(d) => e.direct = Some(d),
        Err(err) => {
            e.no_data = Some(NoData::Refused {
                detail: err.to_string(),
            })
        }
    }
    e
}

fn direct_estimate(
    config: &WaveConfig,
    calibrate: Option<&Calibrate>,
    station: &Station,
    list: &[&Interview],
    scored: &minyi_stats::scoring::Scored,
    scoring: &Scoring,
) -> std::result::Result<Direct, minyi_stats::InputError> {
    let n = list.len();
    // Design weight: the station's population over its respondents. A station whose
    // population is not recorded (or smaller than its sample) weighs each respondent 1.
    let w = (station.population as f64).max(n as f64) / n as f64;
    let weights = vec![w; n];
    let base = Design::new(DesignSpec {
        lonely_psu: LonelyPsu::Fail,
        ..DesignSpec::weighted(&weights)
    })?;
    let weighted = config.interval == IntervalChoice::KornGraubard;
    let total = w * n as f64;
    let (design, calibration) = match (weighted, calibrate) {
        (true, Some(Calibrate::Joint(shares))) => {
            let cells: Vec<usize> = list.iter().map(|i| cell(i.age_band, i.sex)).collect();
            let totals: Vec<f64> = shares.iter().map(|s| s * total).collect();
            match base.post_stratify(&cells, &totals) {
                Ok(d) => (d, Calibration::PostStratified),
                Err(_) => (base, Calibration::Skipped),
            }
        }
        (true, Some(Calibrate::Rake { age, sex })) => {
            let ac: Vec<usize> = list.iter().map(|i| i.age_band as usize).collect();
            let sc: Vec<usize> = list.iter().map(|i| i.sex as usize).collect();
            let at: Vec<f64> = age.iter().map(|s| s * total).collect();
            let st: Vec<f64> = sex.iter().map(|s| s * total).collect();
            let margins = [
                Margin {
                    cells: &ac,
                    totals: &at,
                },
                Margin {
                    cells: &sc,
                    totals: &st,
                },
            ];
            match base.rake(&margins) {
                Ok((d, _)) => (d, Calibration::Raked),
                Err(_) => (base, Calibration::Skipped),
            }
        }
        _ => (base, Calibration::None),
    };
    let mask = Some(scored.answered.as_slice());
    match scoring {
        Scoring::Rate { .. } => {
            let method = if weighted {
                PropCiMethod::KornGraubard
            } else {
                PropCiMethod::Wilson
            };
            let p = design.proportion(&scored.values, mask, method, config.level)?;
            Ok(Direct {
                estimate: p.mean.estimate,
                se: p.mean.se,
                lower: p.interval.lower,
                upper: p.interval.upper,
                method: if weighted { "korn-graubard" } else { "wilson" },
                deff: p.mean.deff.filter(|d| d.is_finite()),
                calibration,
            })
        }
        Scoring::Index { .. } => {
            let m = design.mean(&scored.values, mask)?;
            let (lower, upper) = m.interval(config.level, true)?;
            Ok(Direct {
                estimate: m.estimate,
                se: m.se,
                lower,
                upper,
                method: "t",
                deff: m.deff.filter(|d| d.is_finite()),
                calibration,
            })
        }
    }
}

/// Fay–Herriot across the stations with a direct estimate, then ranks. A direct
/// variance of 0 (every answer the same) is floored so the station still takes part:
/// a rate's at p̃(1 − p̃)/n with p̃ = (x + ½)/(n + 1), an index's at the smallest
/// positive variance among stations. Fewer than three stations: no shrinkage, and
/// ranks from the direct estimates.
fn shrink_and_rank(config: &WaveConfig, out: &mut [StationEstimate], k: usize, ind: Indicator) {
    let idx: Vec<usize> = (0..out.len())
        .filter(|&s| out[s].indicators[k].direct.is_some())
        .collect();
    if idx.is_empty() {
        return;
    }
    let rate = matches!(config.indicator(ind).scoring, Scoring::Rate { .. });
    let min_pos = idx
        .iter()
        .filter_map(|&s| out[s].indicators[k].direct.as_ref().map(|d| d.se * d.se))
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let mut direct = Vec::with_capacity(idx.len());
    let mut vardir = Vec::with_capacity(idx.len());
    for &s in &idx {
        let e = &out[s].indicators[k];
        let Some(d) = &e.direct else { continue };
        let mut v = d.se * d.se;
        if v.is_nan() || v <= 0.0 {
            v = if rate {
                let n = e.answered as f64;
                let pt = (d.estimate * n + 0.5) / (n + 1.0);
                pt * (1.0 - pt) / n
            } else if min_pos.is_finite() {
                min_pos
            } else {
                1e-12
            };
        }
        direct.push(d.estimate);
        vardir.push(v);
    }
    let m = direct.len();
    let mut rank_est = direct.clone();
    let mut rank_se: Vec<f64> = vardir.iter().map(|v| v.sqrt()).collect();
    if m >= 3
        && let Ok(fit) = minyi_stats::sae::fay_herriot(&direct, &vardir, &vec![1.0; m], 1)
    {
        for (j, &s) in idx.iter().enumerate() {
            if let Some(a) = fit.areas.get(j)
                && a.eblup.is_finite()
                && a.mse.is_finite()
            {
                out[s].indicators[k].shrunk = Some(Shrunk {
                    estimate: a.eblup,
                    mse: a.mse.max(0.0),
                    gamma: a.gamma,
                });
                rank_est[j] = a.eblup;
                rank_se[j] = a.mse.max(0.0).sqrt();
            }
        }
    }
    if m < 2 {
        return;
    }
    let Ok(dist) = minyi_stats::ranks::simulate(&rank_est, &rank_se, RANK_DRAWS, RANK_SEED, true)
    else {
        return;
    };
    let Ok(summary) = dist.summary(0.95, &[6], &[3, 10]) else {
        return;
    };
    for (j, &s) in idx.iter().enumerate() {
        if let Some(r) = summary.get(j) {
            let get = |v: &[(usize, f64)], k: usize| {
                v.iter()
                    .find(|(x, _)| *x == k)
                    .map(|(_, p)| *p)
                    .unwrap_or(0.0)
            };
            out[s].indicators[k].rank = Some(RankFacts {
                of: m,
                expected: r.expected_rank,
                lower: r.interval.lower,
                upper: r.interval.upper,
                p_top6: get(&r.p_top, 6),
                p_bottom3: get(&r.p_bottom, 3),
                p_bottom10: get(&r.p_bottom, 10),
            });
        }
    }
}

fn interview_of(r: &NewResponse) -> Result<Interview> {
    let bad = |e: String| AppError::Refused(format!("stored interview {}: {e}", r.external_id));
    Ok(Interview {
        station_id: r.station_id,
        age_band: AgeBand::parse(&r.age_band).map_err(bad)?,
        sex: Sex::parse(&r.sex).map_err(bad)?,
        security: Scale5::parse(&r.security).map_err(bad)?.0,
        satisfaction: Scale5::parse(&r.satisfaction).map_err(bad)?.0,
        chief: Chief::parse(&r.chief).map_err(bad)?.answer(),
    })
}

/// A wave's estimates for every station (for pages and the assessment).
pub async fn estimates(app: &App, code: &str) -> Result<Vec<StationEstimate>> {
    let w = wave(app, code).await?;
    estimates_of(app, &w).await
}

pub async fn estimates_of(app: &App, w: &Wave) -> Result<Vec<StationEstimate>> {
    let alloc: HashMap<i64, AllocationRow> = app
        .store
        .allocation(w.row.id)
        .await?
        .into_iter()
        .map(|r| (r.station_id, r))
        .collect();
    let stations: Vec<(Station, Option<i64>)> = stations(app)
        .await?
        .into_iter()
        .map(|mut s| {
            let a = alloc.get(&s.id);
            if let Some(a) = a {
                s.population = a.population;
            }
            (s, a.map(|a| a.sample_size))
        })
        .collect();
    let interviews = app
        .store
        .responses(w.row.id)
        .await?
        .iter()
        .map(|r| interview_of(&r.response))
        .collect::<Result<Vec<_>>>()?;
    Ok(compute(
        &w.config,
        w.margins.as_ref(),
        &stations,
        &interviews,
    ))
}

/// One station's estimates in every wave that has interviews there, oldest first.
pub async fn station_trend(app: &App, station_id: i64) -> Result<Vec<(Wave, StationEstimate)>> {
    let mut out = Vec::new();
    let mut all = waves(app).await?;
    all.reverse();
    for w in all {
        if app.store.response_count(w.row.id).await? == 0 {
            continue;
        }
        if let Some(e) = estimates_of(app, &w)
            .await?
            .into_iter()
            .find(|e| e.station.id == station_id)
        {
            out.push((w, e));
        }
    }
    Ok(out)
}

fn num(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite())
        .map(|x| format!("{x:.6}"))
        .unwrap_or_default()
}

/// The estimates as CSV, one line per station and indicator; empty cells where there
/// is no number, and the reason in `no_data`.
pub fn estimates_csv(rows: &[StationEstimate]) -> Result<String> {
    let mut out = vec![
        [
            "station",
            "name",
            "county",
            "indicator",
            "respondents",
            "answered",
            "direct",
            "se",
            "lower",
            "upper",
            "method",
            "deff",
            "calibration",
            "shrunk",
            "mse",
            "expected_rank",
            "rank_lower",
            "rank_upper",
            "p_top6",
            "p_bottom3",
            "p_bottom10",
            "no_data",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for s in rows {
        for e in &s.indicators {
            let d = e.direct.as_ref();
            let sh = e.shrunk.as_ref();
            let r = e.rank.as_ref();
            out.push(vec![
                s.station.code.clone(),
                s.station.name.clone(),
                s.station.county.clone(),
                e.indicator.code().into(),
                s.respondents.to_string(),
                e.answered.to_string(),
                num(d.map(|d| d.estimate)),
                num(d.map(|d| d.se)),
                num(d.map(|d| d.lower)),
                num(d.map(|d| d.upper)),
                d.map(|d| d.method.to_owned()).unwrap_or_default(),
                num(d.and_then(|d| d.deff)),
                d.map(|d| {
                    serde_json::to_value(d.calibration)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                })
                .unwrap_or_default(),
                num(sh.map(|s| s.estimate)),
                num(sh.map(|s| s.mse)),
                num(r.map(|r| r.expected)),
                r.map(|r| r.lower.to_string()).unwrap_or_default(),
                r.map(|r| r.upper.to_string()).unwrap_or_default(),
                num(r.map(|r| r.p_top6)),
                num(r.map(|r| r.p_bottom3)),
                num(r.map(|r| r.p_bottom10)),
                e.no_data
                    .as_ref()
                    .map(|n| n.code().to_owned())
                    .unwrap_or_default(),
            ]);
        }
    }
    csv_text(&out)
}

// ---------------------------------------------------------------------------------
// The demo's synthetic wave

/// The demo wave's code.
pub const DEMO_WAVE: &str = "DEMO-SURVEY-1";

/// Population shares by age band and sex used by the demo (and its margins).
const DEMO_AGE: [f64; 4] = [0.22, 0.28, 0.27, 0.23];
const DEMO_SEX: [f64; 2] = [0.51, 0.49];

fn pick(u: f64, shares: &[f64]) -> usize {
    let mut acc = 0.0;
    for (i, s) in shares.iter().enumerate() {
        acc += s;
        if u < acc {
            return i;
        }
    }
    shares.len().saturating_sub(1)
}

/// Loads one clearly labelled synthetic wave: `per_station` interviews at every station,
/// answers drawn from per-station true rates (seeded, deterministic), comments none.
pub async fn load_demo_wave(app: &App, seed: u64, per_station: u64) -> Result<Wave> {
    use rand::{Rng, SeedableRng};
    let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 10, 15, 2, 0, 0)
        .single()
        .ok_or_else(|| AppError::Refused("demo wave date".into()))?;
    let margins = Margins {
        age: Some(
            AgeBand::ALL
                .iter()
                .zip(DEMO_AGE)
                .map(|(a, s)| (a.code().to_owned(), s))
                .collect(),
        ),
        sex: Some(
            Sex::ALL
                .iter()
                .zip(DEMO_SEX)
                .map(|(a, s)| (a.code().to_owned(), s))
                .collect(),
        ),
        age_sex: None,
    };
    let w = create_wave(
        app,
        WaveInput {
            code: DEMO_WAVE.into(),
            name: "合成演示测评（虚构数据）/ Synthetic demo survey".into(),
            period: "2026-Q4".into(),
            config: WaveConfig::default(),
            margins: Some(margins),
            synthetic: true,
        },
        at,
    )
    .await?;
    let stations = stations(app).await?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0007);
    let mut rows = Vec::with_capacity(stations.len() * per_station as usize);
    let mut alloc = Vec::with_capacity(stations.len());
    for (si, s) in stations.iter().enumerate() {
        alloc.push(AllocationRow {
            station_id: s.id,
            sample_size: per_station as i64,
            population: s.population,
        });
        // The station's truth: most stations do well, a few clearly less so.
        let p_sec: f64 = rng.random_range(0.78..0.97);
        let p_sat: f64 = rng.random_range(0.72..0.96);
        let p_chief: f64 = rng.random_range(0.25..0.80);
        for r in 0..per_station {
            let scale = |rng: &mut rand_chacha::ChaCha8Rng, p: f64| -> &'static str {
                let u: f64 = rng.random();
                if u < 0.03 {
                    "dont_know"
                } else if u < 0.04 {
                    "missing"
                } else if rng.random::<f64>() < p {
                    if rng.random::<f64>() < 0.55 { "5" } else { "4" }
                } else {
                    ["1", "2", "3"][pick(rng.random(), &[0.2, 0.3, 0.5])]
                }
            };
            let security = scale(&mut rng, p_sec);
            let satisfaction = scale(&mut rng, p_sat);
            let chief = if rng.random::<f64>() < p_chief {
                if rng.random::<f64>() < 0.6 {
                    "named"
                } else {
                    "picked"
                }
            } else if rng.random::<f64>() < 0.5 {
                "wrong"
            } else {
                "dont_know"
            };
            rows.push(NewResponse {
                external_id: format!("SYN-{si:03}-{r:04}"),
                station_id: s.id,
                area_id: None,
                interviewer: format!("SYN-IV{:02}", r % 12),
                mode: "cati".into(),
                age_band: AgeBand::ALL[pick(rng.random(), &DEMO_AGE)].code().into(),
                sex: Sex::ALL[pick(rng.random(), &DEMO_SEX)].code().into(),
                security: security.into(),
                satisfaction: satisfaction.into(),
                chief: chief.into(),
                opinion_id: None,
                interviewed_at: at,
                entered_at: at,
                synthetic: true,
            });
        }
    }
    app.store.replace_allocation(w.row.id, &alloc).await?;
    app.store.insert_responses_bulk(w.row.id, &rows).await?;
    app.store
        .set_wave_state(w.row.id, WaveState::Closed.code())
        .await?;
    wave(app, DEMO_WAVE).await
}
