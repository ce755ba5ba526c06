//! Results of an assessment run: every unit's score, rank, breakdown down to each
//! indicator, the missing-data treatment applied, jurisdiction conditions, rank
//! uncertainty and rule outcomes with structured reasons. Serialisable both ways so a
//! stored run can be read back and compared byte for byte.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::canonical::{CanonicalError, canonical_json, sha256_hex};
use crate::scheme::{Cadence, End, Estimate, OutcomeCode};

/// Format tag of [`RunResult`] JSON.
pub const RESULT_FORMAT: &str = "minyi.assess.run.v1";

/// Identifies the scheme a run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemeRef {
    /// Scheme id.
    pub id: String,
    /// Scheme version label.
    pub version: String,
    /// Cadence.
    pub period: Cadence,
    /// SHA-256 of the scheme's canonical JSON.
    pub hash: String,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Always [`RESULT_FORMAT`].
    pub format: String,
    /// The scheme.
    pub scheme: SchemeRef,
    /// Period label from the input.
    pub period: String,
    /// SHA-256 of the canonical input JSON.
    pub input_hash: String,
    /// Number of ranked units.
    pub ranked: u32,
    /// Ranked units in display order: rank, then unit code.
    pub units: Vec<UnitResult>,
    /// Units left out, by code.
    pub excluded: Vec<ExcludedUnit>,
    /// Built-in Monte Carlo used for units without supplied rank uncertainty.
    pub monte_carlo: Option<MonteCarloInfo>,
}

impl RunResult {
    /// Canonical JSON (sorted keys, fixed float formatting).
    pub fn canonical_json(&self) -> Result<String, CanonicalError> {
        canonical_json(self)
    }

    /// SHA-256 of the canonical JSON.
    pub fn hash(&self) -> Result<String, CanonicalError> {
        Ok(sha256_hex(self.canonical_json()?.as_bytes()))
    }

    /// The result of one unit.
    pub fn unit(&self, code: &str) -> Option<&UnitResult> {
        self.units.iter().find(|u| u.unit == code)
    }
}

/// Settings of the built-in simulation, recorded with the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonteCarloInfo {
    /// Draws.
    pub draws: u32,
    /// Seed.
    pub seed: u64,
    /// Interval coverage.
    pub interval: f64,
}

/// One ranked unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitResult {
    /// Unit code.
    pub unit: String,
    /// Peer group (for display and imputation).
    pub peer_group: Option<String>,
    /// Final score (points out of 100, after jurisdiction conditions; rounded to 9 decimals).
    pub score: f64,
    /// Competition rank on the score: equal scores share the best rank ("1224").
    pub rank: u32,
    /// Score before jurisdiction conditions.
    pub base_score: f64,
    /// Score and rank the rules read; None when the unit has no basis indicator.
    pub basis: Option<BasisResult>,
    /// Group subtotals in scheme order.
    pub groups: Vec<GroupResult>,
    /// Every indicator in scheme order.
    pub indicators: Vec<IndicatorResult>,
    /// Every jurisdiction condition in scheme order.
    pub conditions: Vec<ConditionResult>,
    /// Rank uncertainty of the basis ranking, when supplied or simulated.
    pub uncertainty: Option<UncertaintyResult>,
    /// Outcomes of the rules that selected this unit, in scheme order.
    pub outcomes: Vec<RuleOutcome>,
}

/// The ranking the rules read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BasisResult {
    /// Basis score (0–100).
    pub score: f64,
    /// Competition rank on the basis score among units that have one.
    pub rank: u32,
    /// How many units have a basis score.
    pub ranked: u32,
}

/// A group's part of a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupResult {
    /// Group id.
    pub group: String,
    /// The group's share of the score in the scheme (sums to 1).
    pub weight: f64,
    /// The share actually applied to this unit after missing-data re-weighting.
    pub applied_weight: f64,
    /// Points from this group (sum of its contributions).
    pub subtotal: f64,
}

/// One indicator's part of a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorResult {
    /// Indicator id.
    pub indicator: String,
    /// Its group.
    pub group: String,
    /// Source code.
    pub source: String,
    /// Survey estimate kind.
    pub estimate: Option<Estimate>,
    /// Raw value (None when missing).
    pub raw: Option<f64>,
    /// Standard error given with the value.
    pub se: Option<f64>,
    /// Numerator of a rate.
    pub numerator: Option<f64>,
    /// Denominator of a rate.
    pub denominator: Option<f64>,
    /// References to the records behind the value.
    pub drill_down: Vec<String>,
    /// Normalised value in [0, 1] (observed or imputed); None when re-weighted away.
    pub normalised: Option<f64>,
    /// The indicator's share of the score in the scheme (all indicators sum to 1).
    pub weight: f64,
    /// The share applied to this unit after missing-data treatment.
    pub applied_weight: f64,
    /// Points: 100 × applied_weight × normalised.
    pub contribution: f64,
    /// The missing-data treatment applied, if the value was missing.
    pub missing: Option<MissingApplied>,
}

/// A missing-data treatment as applied to one unit and indicator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "treatment", rename_all = "snake_case")]
pub enum MissingApplied {
    /// Weight spread over the unit's other indicators (or groups).
    GroupReweight,
    /// Imputed from peers' normalised values.
    PeerGroupMean {
        /// Units whose values were averaged.
        peers: u32,
        /// True when no peer in the unit's group had a value, so all units were used.
        fallback_all_units: bool,
    },
    /// Imputed from the unit's own values in the same group.
    UnitGroupMean {
        /// How many of the unit's values were averaged; 0 means none, so the
        /// indicator was re-weighted away instead.
        values: u32,
    },
    /// Imputed as the worst observed normalised value.
    WorstObserved,
}

/// Whether a condition fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionStatus {
    /// Fired; its effect is applied.
    Triggered,
    /// Did not fire.
    NotTriggered,
    /// The unit has no figure for the source; no effect.
    NoData,
}

/// One jurisdiction condition for one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionResult {
    /// Condition id.
    pub condition: String,
    /// Its `jurisdiction.*` source.
    pub source: String,
    /// The unit's figure.
    pub value: Option<f64>,
    /// Outcome.
    pub status: ConditionStatus,
    /// Points subtracted.
    pub penalty: f64,
    /// Cap applied, if any.
    pub cap: Option<f64>,
}

/// Where rank uncertainty came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UncertaintySource {
    /// Given with the input (minyi-stats).
    Supplied,
    /// Built-in Monte Carlo over indicator standard errors.
    MonteCarlo,
}

/// Rank uncertainty of the basis ranking for one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UncertaintyResult {
    /// Where it came from.
    pub source: UncertaintySource,
    /// Best plausible rank.
    pub rank_low: u32,
    /// Worst plausible rank.
    pub rank_high: u32,
    /// k → P(rank ≤ k).
    pub p_top: BTreeMap<u32, f64>,
    /// k → P(among the bottom k).
    pub p_bottom: BTreeMap<u32, f64>,
}

/// A rule's outcome for one unit, with its reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleOutcome {
    /// Rule id.
    pub rule: String,
    /// The outcome given.
    pub outcome: OutcomeCode,
    /// Why, in order of evaluation.
    pub reasons: Vec<Reason>,
}

/// One reason behind a rule outcome; stable codes, numbers only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Reason {
    /// The basis rank falls in the rule's selection.
    RankInSelection {
        /// Top or bottom.
        end: End,
        /// Selection size.
        k: u32,
        /// The unit's basis rank.
        rank: u32,
        /// Units ranked on the basis.
        ranked: u32,
    },
    /// The rule has no probability guard.
    NoGuard,
    /// P(in the selection) met the guard.
    ProbabilityMet {
        /// The probability.
        probability: f64,
        /// The guard.
        threshold: f64,
        /// Where the probability came from.
        source: UncertaintySource,
    },
    /// P(in the selection) fell short of the guard.
    ProbabilityBelowThreshold {
        /// The probability.
        probability: f64,
        /// The guard.
        threshold: f64,
        /// Where the probability came from.
        source: UncertaintySource,
    },
    /// No probability for this selection was supplied or simulated.
    ProbabilityUnavailable {
        /// The guard.
        threshold: f64,
    },
    /// The absolute floor was breached.
    FloorBreached {
        /// Indicator compared, or None for the basis score.
        indicator: Option<String>,
        /// The unit's value.
        value: f64,
        /// The floor.
        floor: f64,
    },
    /// The absolute floor was not breached.
    FloorNotBreached {
        /// Indicator compared, or None for the basis score.
        indicator: Option<String>,
        /// The unit's value.
        value: f64,
        /// The floor.
        floor: f64,
    },
    /// The floor's indicator is missing for this unit.
    FloorUnavailable {
        /// Indicator compared.
        indicator: Option<String>,
        /// The floor.
        floor: f64,
    },
}

/// A unit left out of the ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExcludedUnit {
    /// Unit code.
    pub unit: String,
    /// Why.
    pub reasons: Vec<ExclusionReason>,
}

/// Why a unit was left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ExclusionReason {
    /// An indicator with `missing = "exclude_unit"` had no value.
    MissingIndicator {
        /// The indicator.
        indicator: String,
    },
    /// After re-weighting nothing with positive weight was left.
    NoWeightedData,
}
