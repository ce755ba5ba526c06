//! Assessment schemes: the versioned TOML that says which indicators count, how much,
//! how they are normalised, what happens when data is missing, how the public-safety
//! situation of a jurisdiction moves a score, and which rules turn ranks into outcomes.
//!
//! A parsed [`Scheme`] is valid by construction; its SHA-256 hash is taken over its
//! canonical JSON (every default made explicit), so reformatting or commenting the TOML
//! keeps the hash while any change of meaning changes it. The format is documented in
//! `crates/assess/SCHEME.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::canonical::{canonical_json, sha256_hex};
use crate::error::{SchemeError, SchemeErrorKind};
use crate::source;

/// The scheme file format this crate reads.
pub const SCHEME_FORMAT: i64 = 1;

/// Relative tolerance for "weights sum as declared".
pub const WEIGHT_TOLERANCE: f64 = 1e-9;

const DEFAULT_SCHEME_TEXT: &str = include_str!("../schemes/default.toml");

/// How often the scheme is run; the input's period label must have the matching shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// `2014`
    Year,
    /// `2014-H1`, `2014-H2`
    HalfYear,
    /// `2014-Q1` … `2014-Q4`
    Quarter,
    /// `2014-01` … `2014-12`
    Month,
}

impl Cadence {
    const NAMES: &'static [&'static str] = &["year", "half_year", "quarter", "month"];

    fn parse(s: &str) -> Option<Self> {
        match s {
            "year" => Some(Self::Year),
            "half_year" => Some(Self::HalfYear),
            "quarter" => Some(Self::Quarter),
            "month" => Some(Self::Month),
            _ => None,
        }
    }

    /// Stable code of the cadence.
    pub fn code(self) -> &'static str {
        match self {
            Self::Year => "year",
            Self::HalfYear => "half_year",
            Self::Quarter => "quarter",
            Self::Month => "month",
        }
    }

    /// True when `label` is a period of this cadence (`2014`, `2014-H1`, `2014-Q3`, `2014-07`).
    pub fn accepts(self, label: &str) -> bool {
        let (year, rest) = match label.split_once('-') {
            Some((y, r)) => (y, Some(r)),
            None => (label, None),
        };
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        match (self, rest) {
            (Self::Year, None) => true,
            (Self::HalfYear, Some(r)) => r == "H1" || r == "H2",
            (Self::Quarter, Some(r)) => matches!(r, "Q1" | "Q2" | "Q3" | "Q4"),
            (Self::Month, Some(r)) => {
                r.len() == 2 && r.parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
            }
            _ => false,
        }
    }
}

/// Which way an indicator is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Larger raw values are better (satisfaction, coverage).
    Higher,
    /// Smaller raw values are better (days to answer, disciplinary cases).
    Lower,
}

/// For survey sources: the small-area shrunk estimate (default) or the direct one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimate {
    /// Small-area shrinkage estimate (stable for small samples); the default.
    Shrunk,
    /// Design-based direct estimate.
    Direct,
}

/// How a raw value becomes a normalised value in `[0, 1]` (1 = best).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Normalisation {
    /// Linear between the minimum and maximum (observed unless fixed here); clamped.
    /// With no spread every unit gets 1.
    MinMax { min: Option<f64>, max: Option<f64> },
    /// z = (x − mean) / sd over observed units (population sd), sign flipped for
    /// lower-is-better, clipped to ±clip and mapped linearly to `[0, 1]`; sd 0 gives 0.5.
    ZScore { clip: f64 },
    /// Linear from `floor` (0) to `target` (1), clamped; for lower-is-better the floor
    /// is above the target.
    Target { floor: f64, target: f64 },
    /// 1 when the value meets the threshold (≥ for higher, ≤ for lower), else 0.
    Threshold { threshold: f64 },
    /// Mid-rank among observed units: (worse + (equal − 1) / 2) / (n − 1); 1 when n = 1.
    Rank,
}

/// What to do when a unit has no value for an indicator. Shown per indicator in results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingTreatment {
    /// Drop the indicator for this unit and spread its weight over the unit's other
    /// indicators in the same group (proportionally); a group with nothing left passes
    /// its weight to the unit's other groups.
    GroupReweight,
    /// Impute the mean normalised value of the units in the same peer group (e.g. the
    /// county) that have a value; all units when there is no peer with a value.
    PeerGroupMean,
    /// Impute the mean of the unit's own observed normalised values on the other
    /// indicators of the same group (unweighted); with none, fall back to re-weighting.
    UnitGroupMean,
    /// Impute the worst normalised value observed among included units.
    WorstObserved,
    /// Leave the unit out of the ranking altogether (listed with the reason).
    ExcludeUnit,
}

impl MissingTreatment {
    const NAMES: &'static [&'static str] = &[
        "group_reweight",
        "peer_group_mean",
        "unit_group_mean",
        "worst_observed",
        "exclude_unit",
    ];

    fn parse(s: &str) -> Option<Self> {
        match s {
            "group_reweight" => Some(Self::GroupReweight),
            "peer_group_mean" => Some(Self::PeerGroupMean),
            "unit_group_mean" => Some(Self::UnitGroupMean),
            "worst_observed" => Some(Self::WorstObserved),
            "exclude_unit" => Some(Self::ExcludeUnit),
            _ => None,
        }
    }
}

/// One scored indicator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indicator {
    /// Id used in inputs and results.
    pub id: String,
    /// Source code (see [`crate::source`]).
    pub source: String,
    /// Survey sources only: which estimate the app should supply.
    pub estimate: Option<Estimate>,
    /// Weight within its group (the group's indicator weights sum to its declared total).
    pub weight: f64,
    /// Which way is better.
    pub direction: Direction,
    /// How raw values are normalised.
    pub normalisation: Normalisation,
    /// What happens when a unit has no value.
    pub missing: MissingTreatment,
}

/// A weighted group of indicators (e.g. business and team building, public opinion).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// Group id.
    pub id: String,
    /// Weight among groups (groups sum to the scheme's declared `weight_total`).
    pub weight: f64,
    /// What this group's indicator weights must sum to.
    pub indicator_weight_total: f64,
    /// The indicators, in scheme order.
    pub indicators: Vec<Indicator>,
}

/// When a jurisdiction condition fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// value > threshold
    Above,
    /// value ≥ threshold
    AtLeast,
    /// value < threshold
    Below,
    /// value ≤ threshold
    AtMost,
}

impl Comparison {
    /// True when `value` triggers the comparison against `threshold`.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::Above => value > threshold,
            Self::AtLeast => value >= threshold,
            Self::Below => value < threshold,
            Self::AtMost => value <= threshold,
        }
    }

    /// How far past the threshold `value` lies (positive when it holds).
    pub fn excess(self, value: f64, threshold: f64) -> f64 {
        match self {
            Self::Above | Self::AtLeast => value - threshold,
            Self::Below | Self::AtMost => threshold - value,
        }
    }
}

/// What a fired jurisdiction condition does to the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// Subtract a fixed number of points.
    Penalty { points: f64 },
    /// Subtract `points_per_unit` × excess over the threshold, at most `max_points`.
    PenaltyPerExcess {
        points_per_unit: f64,
        max_points: Option<f64>,
    },
    /// The score cannot exceed `score`.
    Cap { score: f64 },
}

/// A jurisdiction condition: ties a unit's score to the public-safety situation of
/// its area (e.g. growth in registered drug users or named crimes in its townships).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    /// Condition id.
    pub id: String,
    /// `jurisdiction.*` code supplied per unit.
    pub source: String,
    /// How the value is compared.
    pub comparison: Comparison,
    /// The threshold.
    pub threshold: f64,
    /// What happens when it fires.
    pub effect: Effect,
}

/// The ranking the rules read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum Basis {
    /// The final score (after jurisdiction conditions).
    Score,
    /// A sub-score over these indicators, their effective weights rescaled to sum to 1
    /// (the 2014 practice ranked stations by the three survey indicators). Jurisdiction
    /// conditions do not apply to a sub-score.
    Indicators { indicators: Vec<String> },
}

/// Which end of the ranking a rule selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// Ranks 1..=k.
    Top,
    /// Ranks n−k+1..=n (ties share the best rank, so ties at the boundary are spared).
    Bottom,
}

/// Outcome codes a rule may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeCode {
    /// 记功, merit citation.
    Merit,
    /// Recommended for promotion.
    PromotionRecommended,
    /// 取消评先资格, no "advanced" title or award this period.
    AwardIneligible,
    /// 问责, chief and instructor held accountable.
    Accountability,
    /// Selected by rank but not distinguishable from units outside the selection:
    /// an analyst must review.
    NotDistinguishableReview,
}

impl OutcomeCode {
    const RULE_NAMES: &'static [&'static str] = &[
        "merit",
        "promotion_recommended",
        "award_ineligible",
        "accountability",
    ];

    fn parse_rule(s: &str) -> Option<Self> {
        match s {
            "merit" => Some(Self::Merit),
            "promotion_recommended" => Some(Self::PromotionRecommended),
            "award_ineligible" => Some(Self::AwardIneligible),
            "accountability" => Some(Self::Accountability),
            _ => None,
        }
    }
}

/// A rule turning the basis ranking into an outcome, with its fairness guard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// Rule id.
    pub id: String,
    /// What the rule gives.
    pub outcome: OutcomeCode,
    /// Top or bottom.
    pub end: End,
    /// How many ranks from that end.
    pub k: u32,
    /// Fairness guard: the outcome needs P(in the top/bottom k) ≥ this; otherwise the
    /// unit gets `not_distinguishable_review` (unless the floor is breached).
    pub min_probability: Option<f64>,
    /// Bottom rules only: an absolute floor whose breach applies the outcome even when
    /// the probability guard fails.
    pub floor: Option<Floor>,
}

/// An absolute floor for a bottom rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Floor {
    /// The indicator whose raw value is compared (breached when worse than `value` in
    /// its direction); `None` compares the basis score (breached when below `value`).
    pub indicator: Option<String>,
    /// The floor.
    pub value: f64,
}

/// Built-in Monte Carlo rank uncertainty, used for units without supplied figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UncertaintySettings {
    /// Whether to simulate when rank uncertainty is not supplied.
    pub monte_carlo: bool,
    /// Number of draws.
    pub draws: u32,
    /// Seed of the ChaCha8 generator.
    pub seed: u64,
    /// Coverage of the rank interval (e.g. 0.95).
    pub interval: f64,
}

/// A validated assessment scheme.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scheme {
    /// Scheme file format (1).
    pub format: i64,
    /// Scheme id.
    pub id: String,
    /// Scheme version label.
    pub version: String,
    /// Period cadence.
    pub period: Cadence,
    /// What the group weights sum to.
    pub weight_total: f64,
    /// Groups in scheme order.
    pub groups: Vec<Group>,
    /// Jurisdiction conditions in scheme order.
    pub conditions: Vec<Condition>,
    /// The ranking rules read.
    pub ranking: Basis,
    /// Rules in scheme order.
    pub rules: Vec<Rule>,
    /// Built-in Monte Carlo settings.
    pub uncertainty: UncertaintySettings,
    #[serde(skip)]
    hash: String,
}

/// One input a scheme needs, keyed in [`crate::RunInput`] by `indicator`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Indicator id (the key in a unit's `values`).
    pub indicator: String,
    /// Its group.
    pub group: String,
    /// Source code telling the app where the number comes from.
    pub source: String,
    /// Survey estimate kind.
    pub estimate: Option<Estimate>,
}

/// New weights for a what-if: groups and indicators by id; others keep theirs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WeightChange {
    /// Group id → new group weight.
    #[serde(default)]
    pub groups: BTreeMap<String, f64>,
    /// Indicator id → new weight within its group.
    #[serde(default)]
    pub indicators: BTreeMap<String, f64>,
    /// Rescale weights to the declared totals instead of rejecting sums that differ.
    #[serde(default)]
    pub renormalise: bool,
}

impl Scheme {
    /// Parses and validates scheme TOML.
    pub fn parse(text: &str) -> Result<Self, SchemeError> {
        let raw: RawScheme = toml::from_str(text).map_err(|e| SchemeError {
            key: String::new(),
            line: e.span().map(|s| line_of(text, s.start)),
            kind: SchemeErrorKind::Syntax {
                message: e.message().to_owned(),
            },
        })?;
        let mut scheme = build(raw, text)?;
        scheme.hash = scheme.compute_hash();
        Ok(scheme)
    }

    /// The shipped default scheme (`schemes/default.toml`): 49% business and team,
    /// 51% public opinion, the 2014 rules with fairness guards.
    pub fn default_2014() -> Result<Self, SchemeError> {
        Self::parse(DEFAULT_SCHEME_TEXT)
    }

    /// The text of the shipped default scheme.
    pub fn default_2014_text() -> &'static str {
        DEFAULT_SCHEME_TEXT
    }

    /// Lower-case hex SHA-256 of [`Scheme::canonical_json`].
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Canonical JSON of the scheme with every default explicit.
    pub fn canonical_json(&self) -> String {
        // Our own types always serialise; an empty string would only change the hash.
        canonical_json(self).unwrap_or_default()
    }

    fn compute_hash(&self) -> String {
        sha256_hex(self.canonical_json().as_bytes())
    }

    /// All indicators in scheme order with their group ids.
    pub fn indicators(&self) -> impl Iterator<Item = (&Group, &Indicator)> {
        self.groups
            .iter()
            .flat_map(|g| g.indicators.iter().map(move |i| (g, i)))
    }

    /// The indicator with this id.
    pub fn indicator(&self, id: &str) -> Option<&Indicator> {
        self.indicators().map(|(_, i)| i).find(|i| i.id == id)
    }

    /// What the app must gather for a run: every indicator with its source and, for
    /// survey sources, which estimate.
    pub fn required_inputs(&self) -> Vec<InputSpec> {
        self.indicators()
            .map(|(g, i)| InputSpec {
                indicator: i.id.clone(),
                group: g.id.clone(),
                source: i.source.clone(),
                estimate: i.estimate,
            })
            .collect()
    }

    /// The jurisdiction codes the conditions read.
    pub fn jurisdiction_sources(&self) -> BTreeSet<&str> {
        self.conditions.iter().map(|c| c.source.as_str()).collect()
    }

    /// Applies new weights, validates the result and recomputes the hash.
    pub fn with_weights(&self, change: &WeightChange) -> Result<Self, SchemeError> {
        let mut s = self.clone();
        for id in change.groups.keys() {
            if !s.groups.iter().any(|g| &g.id == id) {
                return Err(SchemeError {
                    key: format!("group.{id}"),
                    line: None,
                    kind: SchemeErrorKind::UnknownReference { id: id.clone() },
                });
            }
        }
        for id in change.indicators.keys() {
            if s.indicator(id).is_none() {
                return Err(SchemeError {
                    key: format!("indicator.{id}"),
                    line: None,
                    kind: SchemeErrorKind::UnknownReference { id: id.clone() },
                });
            }
        }
        for g in &mut s.groups {
            if let Some(&w) = change.groups.get(&g.id) {
                g.weight = w;
            }
            for i in &mut g.indicators {
                if let Some(&w) = change.indicators.get(&i.id) {
                    i.weight = w;
                }
            }
        }
        check_weight_values(&s)?;
        if change.renormalise {
            let total: f64 = s.groups.iter().map(|g| g.weight).sum();
            if total <= 0.0 {
                return Err(SchemeError {
                    key: "group.*.weight".into(),
                    line: None,
                    kind: SchemeErrorKind::WeightSum {
                        sum: total,
                        declared: s.weight_total,
                    },
                });
            }
            let scale = s.weight_total / total;
            for g in &mut s.groups {
                g.weight *= scale;
                let sub: f64 = g.indicators.iter().map(|i| i.weight).sum();
                if sub <= 0.0 {
                    return Err(SchemeError {
                        key: format!("group.{}.indicator.*.weight", g.id),
                        line: None,
                        kind: SchemeErrorKind::WeightSum {
                            sum: sub,
                            declared: g.indicator_weight_total,
                        },
                    });
                }
                let f = g.indicator_weight_total / sub;
                for i in &mut g.indicators {
                    i.weight *= f;
                }
            }
        }
        s.validate_weights(&BTreeMap::new())?;
        s.hash = s.compute_hash();
        Ok(s)
    }

    fn validate_weights(&self, lines: &BTreeMap<String, usize>) -> Result<(), SchemeError> {
        let total: f64 = self.groups.iter().map(|g| g.weight).sum();
        if !sums_to(total, self.weight_total) {
            return Err(SchemeError {
                key: "group.*.weight".into(),
                line: lines.get("weight_total").copied(),
                kind: SchemeErrorKind::WeightSum {
                    sum: total,
                    declared: self.weight_total,
                },
            });
        }
        for g in &self.groups {
            let sum: f64 = g.indicators.iter().map(|i| i.weight).sum();
            if !sums_to(sum, g.indicator_weight_total) {
                return Err(SchemeError {
                    key: format!("group.{}.indicator.*.weight", g.id),
                    line: lines.get(&g.id).copied(),
                    kind: SchemeErrorKind::WeightSum {
                        sum,
                        declared: g.indicator_weight_total,
                    },
                });
            }
        }
        Ok(())
    }
}

fn sums_to(sum: f64, declared: f64) -> bool {
    (sum - declared).abs() <= WEIGHT_TOLERANCE * declared.abs().max(1.0)
}

fn check_weight_values(s: &Scheme) -> Result<(), SchemeError> {
    for g in &s.groups {
        if !(g.weight.is_finite() && g.weight >= 0.0) {
            return Err(SchemeError {
                key: format!("group.{}.weight", g.id),
                line: None,
                kind: SchemeErrorKind::OutOfRange {
                    value: g.weight,
                    requirement: "a finite weight >= 0",
                },
            });
        }
        for i in &g.indicators {
            if !(i.weight.is_finite() && i.weight >= 0.0) {
                return Err(SchemeError {
                    key: format!("group.{}.indicator.{}.weight", g.id, i.id),
                    line: None,
                    kind: SchemeErrorKind::OutOfRange {
                        value: i.weight,
                        requirement: "a finite weight >= 0",
                    },
                });
            }
        }
    }
    Ok(())
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()
        .get(..end)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
        + 1
}

// ---- raw TOML shape -------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScheme {
    format: Option<Spanned<i64>>,
    id: Spanned<String>,
    version: Spanned<String>,
    period: Spanned<String>,
    weight_total: Option<Spanned<f64>>,
    missing: Option<Spanned<String>>,
    #[serde(default)]
    group: Vec<Spanned<RawGroup>>,
    #[serde(default)]
    condition: Vec<Spanned<RawCondition>>,
    ranking: Option<Spanned<RawRanking>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
    uncertainty: Option<Spanned<RawUncertainty>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    id: Spanned<String>,
    weight: Spanned<f64>,
    indicator_weight_total: Option<Spanned<f64>>,
    #[serde(default)]
    indicator: Vec<Spanned<RawIndicator>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndicator {
    id: Spanned<String>,
    source: Spanned<String>,
    estimate: Option<Spanned<String>>,
    weight: Spanned<f64>,
    direction: Spanned<String>,
    normalisation: Spanned<String>,
    min: Option<Spanned<f64>>,
    max: Option<Spanned<f64>>,
    clip: Option<Spanned<f64>>,
    floor: Option<Spanned<f64>>,
    target: Option<Spanned<f64>>,
    threshold: Option<Spanned<f64>>,
    missing: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    id: Spanned<String>,
    source: Spanned<String>,
    above: Option<Spanned<f64>>,
    at_least: Option<Spanned<f64>>,
    below: Option<Spanned<f64>>,
    at_most: Option<Spanned<f64>>,
    penalty: Option<Spanned<f64>>,
    penalty_per_excess: Option<Spanned<f64>>,
    penalty_max: Option<Spanned<f64>>,
    cap: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRanking {
    basis: Spanned<String>,
    group: Option<Spanned<String>>,
    indicators: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    outcome: Spanned<String>,
    top: Option<Spanned<i64>>,
    bottom: Option<Spanned<i64>>,
    min_probability: Option<Spanned<f64>>,
    floor: Option<Spanned<f64>>,
    floor_indicator: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUncertainty {
    monte_carlo: Option<Spanned<bool>>,
    draws: Option<Spanned<i64>>,
    seed: Option<Spanned<i64>>,
    interval: Option<Spanned<f64>>,
}

/// Builds errors that carry the key path and the line of a span.
struct Ctx<'a> {
    text: &'a str,
}

impl Ctx<'_> {
    fn err(
        &self,
        key: impl Into<String>,
        span: Range<usize>,
        kind: SchemeErrorKind,
    ) -> SchemeError {
        SchemeError {
            key: key.into(),
            line: Some(line_of(self.text, span.start)),
            kind,
        }
    }

    fn id(&self, key: &str, v: &Spanned<String>) -> Result<String, SchemeError> {
        let s = v.get_ref();
        if source::is_valid_id(s) {
            Ok(s.clone())
        } else {
            Err(self.err(
                key,
                v.span(),
                SchemeErrorKind::InvalidId { value: s.clone() },
            ))
        }
    }

    fn finite(&self, key: &str, v: &Spanned<f64>) -> Result<f64, SchemeError> {
        let x = *v.get_ref();
        if x.is_finite() && x.abs() <= crate::input::MAX_ABS_VALUE {
            Ok(x)
        } else {
            Err(self.err(
                key,
                v.span(),
                SchemeErrorKind::OutOfRange {
                    value: x,
                    requirement: "a finite number of magnitude at most 1e12",
                },
            ))
        }
    }

    fn non_negative(&self, key: &str, v: &Spanned<f64>) -> Result<f64, SchemeError> {
        let x = self.finite(key, v)?;
        if x >= 0.0 {
            Ok(x)
        } else {
            Err(self.err(
                key,
                v.span(),
                SchemeErrorKind::OutOfRange {
                    value: x,
                    requirement: "a number >= 0",
                },
            ))
        }
    }

    fn positive(&self, key: &str, v: &Spanned<f64>) -> Result<f64, SchemeError> {
        let x = self.finite(key, v)?;
        if x > 0.0 {
            Ok(x)
        } else {
            Err(self.err(
                key,
                v.span(),
                SchemeErrorKind::OutOfRange {
                    value: x,
                    requirement: "a number > 0",
                },
            ))
        }
    }

    fn probability(&self, key: &str, v: &Spanned<f64>) -> Result<f64, SchemeError> {
        let x = self.finite(key, v)?;
        if (0.0..=1.0).contains(&x) {
            Ok(x)
        } else {
            Err(self.err(
                key,
                v.span(),
                SchemeErrorKind::OutOfRange {
                    value: x,
                    requirement: "a probability in [0, 1]",
                },
            ))
        }
    }

    fn unknown_value(
        &self,
        key: &str,
        v: &Spanned<String>,
        expected: &[&'static str],
    ) -> SchemeError {
        self.err(
            key,
            v.span(),
            SchemeErrorKind::UnknownValue {
                value: v.get_ref().clone(),
                expected: expected.to_vec(),
            },
        )
    }

    fn inconsistent(&self, key: &str, span: Range<usize>, problem: &'static str) -> SchemeError {
        self.err(key, span, SchemeErrorKind::Inconsistent { problem })
    }

    fn missing_treatment(
        &self,
        key: &str,
        v: &Spanned<String>,
    ) -> Result<MissingTreatment, SchemeError> {
        MissingTreatment::parse(v.get_ref())
            .ok_or_else(|| self.unknown_value(key, v, MissingTreatment::NAMES))
    }
}

fn build(raw: RawScheme, text: &str) -> Result<Scheme, SchemeError> {
    let cx = Ctx { text };
    let format = match &raw.format {
        Some(f) if *f.get_ref() != SCHEME_FORMAT => {
            return Err(cx.err(
                "format",
                f.span(),
                SchemeErrorKind::OutOfRange {
                    value: *f.get_ref() as f64,
                    requirement: "format 1 is the only format this version reads",
                },
            ));
        }
        _ => SCHEME_FORMAT,
    };
    let id = cx.id("id", &raw.id)?;
    let version = raw.version.get_ref().trim().to_owned();
    if version.is_empty() {
        return Err(cx.err(
            "version",
            raw.version.span(),
            SchemeErrorKind::InvalidId { value: version },
        ));
    }
    let period = Cadence::parse(raw.period.get_ref())
        .ok_or_else(|| cx.unknown_value("period", &raw.period, Cadence::NAMES))?;
    let weight_total = match &raw.weight_total {
        Some(w) => cx.positive("weight_total", w)?,
        None => 1.0,
    };
    let default_missing = match &raw.missing {
        Some(m) => cx.missing_treatment("missing", m)?,
        None => MissingTreatment::GroupReweight,
    };

    if raw.group.is_empty() {
        return Err(SchemeError {
            key: "group".into(),
            line: None,
            kind: SchemeErrorKind::Inconsistent {
                problem: "a scheme needs at least one [[group]]",
            },
        });
    }
    let mut group_ids = BTreeSet::new();
    let mut indicator_ids = BTreeSet::new();
    let mut groups = Vec::new();
    let mut group_lines = BTreeMap::new();
    for rg in &raw.group {
        let gspan = rg.span();
        let rg = rg.get_ref();
        let gid = cx.id("group.id", &rg.id)?;
        if !group_ids.insert(gid.clone()) {
            return Err(cx.err(
                format!("group.{gid}.id"),
                rg.id.span(),
                SchemeErrorKind::DuplicateId { id: gid },
            ));
        }
        group_lines.insert(gid.clone(), line_of(text, gspan.start));
        let gkey = format!("group.{gid}");
        let weight = cx.non_negative(&format!("{gkey}.weight"), &rg.weight)?;
        let indicator_weight_total = match &rg.indicator_weight_total {
            Some(w) => cx.positive(&format!("{gkey}.indicator_weight_total"), w)?,
            None => 1.0,
        };
        if rg.indicator.is_empty() {
            return Err(cx.err(gkey, gspan, SchemeErrorKind::EmptyGroup));
        }
        let mut indicators = Vec::new();
        for ri in &rg.indicator {
            let ind = build_indicator(&cx, &gkey, ri.get_ref(), default_missing)?;
            if !indicator_ids.insert(ind.id.clone()) {
                return Err(cx.err(
                    format!("{gkey}.indicator.{}.id", ind.id),
                    ri.get_ref().id.span(),
                    SchemeErrorKind::DuplicateId { id: ind.id },
                ));
            }
            indicators.push(ind);
        }
        groups.push(Group {
            id: gid,
            weight,
            indicator_weight_total,
            indicators,
        });
    }

    let mut conditions = Vec::new();
    let mut condition_ids = BTreeSet::new();
    for rc in &raw.condition {
        let cspan = rc.span();
        let c = build_condition(&cx, rc.get_ref(), cspan)?;
        if !condition_ids.insert(c.id.clone()) {
            return Err(cx.err(
                format!("condition.{}.id", c.id),
                rc.get_ref().id.span(),
                SchemeErrorKind::DuplicateId { id: c.id },
            ));
        }
        conditions.push(c);
    }

    let ranking = match &raw.ranking {
        None => Basis::Score,
        Some(r) => build_ranking(&cx, r.get_ref(), r.span(), &groups)?,
    };

    let mut rules = Vec::new();
    let mut rule_ids = BTreeSet::new();
    for rr in &raw.rule {
        let r = build_rule(&cx, rr.get_ref(), rr.span(), &groups)?;
        if !rule_ids.insert(r.id.clone()) {
            return Err(cx.err(
                format!("rule.{}.id", r.id),
                rr.get_ref().id.span(),
                SchemeErrorKind::DuplicateId { id: r.id },
            ));
        }
        rules.push(r);
    }

    let uncertainty = build_uncertainty(&cx, raw.uncertainty.as_ref())?;

    let scheme = Scheme {
        format,
        id,
        version,
        period,
        weight_total,
        groups,
        conditions,
        ranking,
        rules,
        uncertainty,
        hash: String::new(),
    };
    let mut lines = group_lines;
    if let Some(w) = &raw.weight_total {
        lines.insert("weight_total".into(), line_of(text, w.span().start));
    }
    scheme.validate_weights(&lines)?;
    Ok(scheme)
}

fn build_indicator(
    cx: &Ctx<'_>,
    gkey: &str,
    ri: &RawIndicator,
    default_missing: MissingTreatment,
) -> Result<Indicator, SchemeError> {
    let id = cx.id(&format!("{gkey}.indicator.id"), &ri.id)?;
    let key = format!("{gkey}.indicator.{id}");
    let source = ri.source.get_ref().clone();
    if !source::is_indicator_source(&source) {
        return Err(cx.err(
            format!("{key}.source"),
            ri.source.span(),
            SchemeErrorKind::UnknownSource { code: source },
        ));
    }
    let estimate = match &ri.estimate {
        Some(e) if !source::is_survey_source(&source) => {
            return Err(cx.inconsistent(
                &format!("{key}.estimate"),
                e.span(),
                "`estimate` applies only to survey.* sources",
            ));
        }
        Some(e) => Some(match e.get_ref().as_str() {
            "shrunk" => Estimate::Shrunk,
            "direct" => Estimate::Direct,
            _ => {
                return Err(cx.unknown_value(&format!("{key}.estimate"), e, &["shrunk", "direct"]));
            }
        }),
        None if source::is_survey_source(&source) => Some(Estimate::Shrunk),
        None => None,
    };
    let weight = cx.non_negative(&format!("{key}.weight"), &ri.weight)?;
    let direction = match ri.direction.get_ref().as_str() {
        "higher" => Direction::Higher,
        "lower" => Direction::Lower,
        _ => {
            return Err(cx.unknown_value(
                &format!("{key}.direction"),
                &ri.direction,
                &["higher", "lower"],
            ));
        }
    };
    let method = ri.normalisation.get_ref().as_str();
    let nkey = format!("{key}.normalisation");
    // Parameters belong to exactly one method; a stray one is almost always a mistake.
    let allowed: &[&str] = match method {
        "min_max" => &["min", "max"],
        "z_score" => &["clip"],
        "target" => &["floor", "target"],
        "threshold" => &["threshold"],
        "rank" => &[],
        _ => {
            return Err(cx.unknown_value(
                &nkey,
                &ri.normalisation,
                &["min_max", "z_score", "target", "threshold", "rank"],
            ));
        }
    };
    let params: [(&str, &Option<Spanned<f64>>); 6] = [
        ("min", &ri.min),
        ("max", &ri.max),
        ("clip", &ri.clip),
        ("floor", &ri.floor),
        ("target", &ri.target),
        ("threshold", &ri.threshold),
    ];
    for (name, p) in params {
        if let Some(p) = p
            && !allowed.contains(&name)
        {
            return Err(cx.inconsistent(
                &format!("{key}.{name}"),
                p.span(),
                "this parameter does not belong to the chosen normalisation",
            ));
        }
    }
    let opt = |name: &str, p: &Option<Spanned<f64>>| -> Result<Option<f64>, SchemeError> {
        p.as_ref()
            .map(|v| cx.finite(&format!("{key}.{name}"), v))
            .transpose()
    };
    let req = |name: &str, p: &Option<Spanned<f64>>| -> Result<f64, SchemeError> {
        match p {
            Some(v) => cx.finite(&format!("{key}.{name}"), v),
            None => Err(cx.inconsistent(
                &format!("{key}.{name}"),
                ri.normalisation.span(),
                "this normalisation needs the parameter",
            )),
        }
    };
    let normalisation = match method {
        "min_max" => {
            let min = opt("min", &ri.min)?;
            let max = opt("max", &ri.max)?;
            if min.is_some() != max.is_some() {
                return Err(cx.inconsistent(
                    &format!("{key}.min"),
                    ri.normalisation.span(),
                    "give both min and max, or neither",
                ));
            }
            if let (Some(lo), Some(hi)) = (min, max)
                && lo >= hi
            {
                return Err(cx.inconsistent(
                    &format!("{key}.max"),
                    ri.normalisation.span(),
                    "min must be below max",
                ));
            }
            Normalisation::MinMax { min, max }
        }
        "z_score" => {
            let clip = match &ri.clip {
                Some(c) => cx.positive(&format!("{key}.clip"), c)?,
                None => 3.0,
            };
            Normalisation::ZScore { clip }
        }
        "target" => {
            let floor = req("floor", &ri.floor)?;
            let target = req("target", &ri.target)?;
            let ok = match direction {
                Direction::Higher => target > floor,
                Direction::Lower => target < floor,
            };
            if !ok {
                return Err(cx.inconsistent(
                    &format!("{key}.target"),
                    ri.normalisation.span(),
                    "target must be better than floor in the indicator's direction",
                ));
            }
            Normalisation::Target { floor, target }
        }
        "threshold" => Normalisation::Threshold {
            threshold: req("threshold", &ri.threshold)?,
        },
        _ => Normalisation::Rank,
    };
    let missing = match &ri.missing {
        Some(m) => cx.missing_treatment(&format!("{key}.missing"), m)?,
        None => default_missing,
    };
    Ok(Indicator {
        id,
        source,
        estimate,
        weight,
        direction,
        normalisation,
        missing,
    })
}

fn build_condition(
    cx: &Ctx<'_>,
    rc: &RawCondition,
    span: Range<usize>,
) -> Result<Condition, SchemeError> {
    let id = cx.id("condition.id", &rc.id)?;
    let key = format!("condition.{id}");
    let source = rc.source.get_ref().clone();
    if !source::is_jurisdiction_source(&source) {
        return Err(cx.err(
            format!("{key}.source"),
            rc.source.span(),
            SchemeErrorKind::UnknownSource { code: source },
        ));
    }
    let comparisons = [
        (Comparison::Above, "above", &rc.above),
        (Comparison::AtLeast, "at_least", &rc.at_least),
        (Comparison::Below, "below", &rc.below),
        (Comparison::AtMost, "at_most", &rc.at_most),
    ];
    let mut found = None;
    for (cmp, name, v) in comparisons {
        if let Some(v) = v {
            if found.is_some() {
                return Err(cx.inconsistent(
                    &format!("{key}.{name}"),
                    v.span(),
                    "give exactly one of above, at_least, below, at_most",
                ));
            }
            found = Some((cmp, cx.finite(&format!("{key}.{name}"), v)?));
        }
    }
    let Some((comparison, threshold)) = found else {
        return Err(cx.inconsistent(
            &key,
            span,
            "give exactly one of above, at_least, below, at_most",
        ));
    };
    let effect = match (&rc.penalty, &rc.penalty_per_excess, &rc.cap) {
        (Some(p), None, None) => {
            if let Some(m) = &rc.penalty_max {
                return Err(cx.inconsistent(
                    &format!("{key}.penalty_max"),
                    m.span(),
                    "penalty_max goes with penalty_per_excess",
                ));
            }
            Effect::Penalty {
                points: cx.non_negative(&format!("{key}.penalty"), p)?,
            }
        }
        (None, Some(p), None) => Effect::PenaltyPerExcess {
            points_per_unit: cx.non_negative(&format!("{key}.penalty_per_excess"), p)?,
            max_points: rc
                .penalty_max
                .as_ref()
                .map(|m| cx.non_negative(&format!("{key}.penalty_max"), m))
                .transpose()?,
        },
        (None, None, Some(c)) => {
            if let Some(m) = &rc.penalty_max {
                return Err(cx.inconsistent(
                    &format!("{key}.penalty_max"),
                    m.span(),
                    "penalty_max goes with penalty_per_excess",
                ));
            }
            Effect::Cap {
                score: cx.finite(&format!("{key}.cap"), c)?,
            }
        }
        _ => {
            return Err(cx.inconsistent(
                &key,
                span,
                "give exactly one of penalty, penalty_per_excess, cap",
            ));
        }
    };
    Ok(Condition {
        id,
        source,
        comparison,
        threshold,
        effect,
    })
}

fn build_ranking(
    cx: &Ctx<'_>,
    rr: &RawRanking,
    span: Range<usize>,
    groups: &[Group],
) -> Result<Basis, SchemeError> {
    match rr.basis.get_ref().as_str() {
        "score" => {
            if rr.group.is_some() || rr.indicators.is_some() {
                return Err(cx.inconsistent(
                    "ranking",
                    span,
                    "basis = \"score\" takes no group or indicators",
                ));
            }
            Ok(Basis::Score)
        }
        "group" => {
            let Some(g) = &rr.group else {
                return Err(cx.inconsistent(
                    "ranking.group",
                    span,
                    "basis = \"group\" needs group",
                ));
            };
            if rr.indicators.is_some() {
                return Err(cx.inconsistent(
                    "ranking.indicators",
                    span,
                    "basis = \"group\" takes no indicators",
                ));
            }
            let group = groups
                .iter()
                .find(|x| &x.id == g.get_ref())
                .ok_or_else(|| {
                    cx.err(
                        "ranking.group",
                        g.span(),
                        SchemeErrorKind::UnknownReference {
                            id: g.get_ref().clone(),
                        },
                    )
                })?;
            Ok(Basis::Indicators {
                indicators: group.indicators.iter().map(|i| i.id.clone()).collect(),
            })
        }
        "indicators" => {
            let Some(list) = &rr.indicators else {
                return Err(cx.inconsistent(
                    "ranking.indicators",
                    span,
                    "basis = \"indicators\" needs indicators",
                ));
            };
            if rr.group.is_some() {
                return Err(cx.inconsistent(
                    "ranking.group",
                    span,
                    "basis = \"indicators\" takes no group",
                ));
            }
            if list.get_ref().is_empty() {
                return Err(cx.inconsistent(
                    "ranking.indicators",
                    list.span(),
                    "list at least one indicator",
                ));
            }
            let mut seen = BTreeSet::new();
            let mut out = Vec::new();
            for item in list.get_ref() {
                let id = item.get_ref();
                let known = groups
                    .iter()
                    .any(|g| g.indicators.iter().any(|i| &i.id == id));
                if !known {
                    return Err(cx.err(
                        "ranking.indicators",
                        item.span(),
                        SchemeErrorKind::UnknownReference { id: id.clone() },
                    ));
                }
                if !seen.insert(id.clone()) {
                    return Err(cx.err(
                        "ranking.indicators",
                        item.span(),
                        SchemeErrorKind::DuplicateId { id: id.clone() },
                    ));
                }
                out.push(id.clone());
            }
            Ok(Basis::Indicators { indicators: out })
        }
        _ => Err(cx.unknown_value(
            "ranking.basis",
            &rr.basis,
            &["score", "group", "indicators"],
        )),
    }
}

fn build_rule(
    cx: &Ctx<'_>,
    rr: &RawRule,
    span: Range<usize>,
    groups: &[Group],
) -> Result<Rule, SchemeError> {
    let id = cx.id("rule.id", &rr.id)?;
    let key = format!("rule.{id}");
    let outcome = OutcomeCode::parse_rule(rr.outcome.get_ref()).ok_or_else(|| {
        cx.unknown_value(
            &format!("{key}.outcome"),
            &rr.outcome,
            OutcomeCode::RULE_NAMES,
        )
    })?;
    let (end, kv, name) = match (&rr.top, &rr.bottom) {
        (Some(t), None) => (End::Top, t, "top"),
        (None, Some(b)) => (End::Bottom, b, "bottom"),
        _ => {
            return Err(cx.inconsistent(&key, span, "give exactly one of top, bottom"));
        }
    };
    let k = u32::try_from(*kv.get_ref())
        .ok()
        .filter(|&k| k >= 1)
        .ok_or_else(|| {
            cx.err(
                format!("{key}.{name}"),
                kv.span(),
                SchemeErrorKind::OutOfRange {
                    value: *kv.get_ref() as f64,
                    requirement: "a whole number >= 1",
                },
            )
        })?;
    let min_probability = rr
        .min_probability
        .as_ref()
        .map(|p| cx.probability(&format!("{key}.min_probability"), p))
        .transpose()?;
    let floor = match &rr.floor {
        Some(f) if end == End::Top => {
            return Err(cx.inconsistent(
                &format!("{key}.floor"),
                f.span(),
                "floor applies only to bottom rules",
            ));
        }
        Some(f) => {
            let indicator = match &rr.floor_indicator {
                Some(i) => {
                    let known = groups
                        .iter()
                        .any(|g| g.indicators.iter().any(|x| &x.id == i.get_ref()));
                    if !known {
                        return Err(cx.err(
                            format!("{key}.floor_indicator"),
                            i.span(),
                            SchemeErrorKind::UnknownReference {
                                id: i.get_ref().clone(),
                            },
                        ));
                    }
                    Some(i.get_ref().clone())
                }
                None => None,
            };
            Some(Floor {
                indicator,
                value: cx.finite(&format!("{key}.floor"), f)?,
            })
        }
        None => {
            if let Some(i) = &rr.floor_indicator {
                return Err(cx.inconsistent(
                    &format!("{key}.floor_indicator"),
                    i.span(),
                    "floor_indicator needs floor",
                ));
            }
            None
        }
    };
    Ok(Rule {
        id,
        outcome,
        end,
        k,
        min_probability,
        floor,
    })
}

fn build_uncertainty(
    cx: &Ctx<'_>,
    ru: Option<&Spanned<RawUncertainty>>,
) -> Result<UncertaintySettings, SchemeError> {
    let mut s = UncertaintySettings {
        monte_carlo: true,
        draws: 1000,
        seed: 2014,
        interval: 0.95,
    };
    let Some(ru) = ru else {
        return Ok(s);
    };
    let ru = ru.get_ref();
    if let Some(m) = &ru.monte_carlo {
        s.monte_carlo = *m.get_ref();
    }
    if let Some(d) = &ru.draws {
        s.draws = u32::try_from(*d.get_ref())
            .ok()
            .filter(|&d| (1..=1_000_000).contains(&d))
            .ok_or_else(|| {
                cx.err(
                    "uncertainty.draws",
                    d.span(),
                    SchemeErrorKind::OutOfRange {
                        value: *d.get_ref() as f64,
                        requirement: "between 1 and 1000000",
                    },
                )
            })?;
    }
    if let Some(seed) = &ru.seed {
        s.seed = u64::try_from(*seed.get_ref()).map_err(|_| {
            cx.err(
                "uncertainty.seed",
                seed.span(),
                SchemeErrorKind::OutOfRange {
                    value: *seed.get_ref() as f64,
                    requirement: "a whole number >= 0",
                },
            )
        })?;
    }
    if let Some(i) = &ru.interval {
        let x = cx.finite("uncertainty.interval", i)?;
        if !(x > 0.0 && x < 1.0) {
            return Err(cx.err(
                "uncertainty.interval",
                i.span(),
                SchemeErrorKind::OutOfRange {
                    value: x,
                    requirement: "strictly between 0 and 1",
                },
            ));
        }
        s.interval = x;
    }
    Ok(s)
}
