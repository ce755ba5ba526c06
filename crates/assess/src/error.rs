//! Error types: what was wrong and where, with stable codes the web layer translates.
//!
//! The `Display` text is for logs and developers; user-facing surfaces show
//! [`SchemeError::code`] / [`RunError::code`] and the structured fields instead.

use serde::Serialize;

/// A scheme that cannot be used, with the key path and line that caused it.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
#[error("scheme error at {key}{}: {kind}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
pub struct SchemeError {
    /// Dotted key path, e.g. `group.public_opinion.indicator.security.weight`.
    pub key: String,
    /// 1-based line in the scheme text, when known.
    pub line: Option<usize>,
    /// What was wrong.
    pub kind: SchemeErrorKind,
}

impl SchemeError {
    /// Stable machine code of the error kind.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

/// What was wrong with a scheme.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SchemeErrorKind {
    /// The text is not valid TOML or a key has the wrong type or is unknown/missing.
    #[error("invalid TOML: {message}")]
    Syntax { message: String },
    /// Weights do not sum to the declared total (tolerance 1e-9 relative to the total).
    #[error("weights sum to {sum}, declared total is {declared}")]
    WeightSum { sum: f64, declared: f64 },
    /// A source code outside the catalogue.
    #[error("unknown source `{code}`")]
    UnknownSource { code: String },
    /// An id used twice (groups, indicators, conditions and rules each have their own ids).
    #[error("duplicate id `{id}`")]
    DuplicateId { id: String },
    /// A group without indicators.
    #[error("group has no indicators")]
    EmptyGroup,
    /// A reference to an indicator or group the scheme does not define.
    #[error("unknown reference `{id}`")]
    UnknownReference { id: String },
    /// An enumerated value outside its allowed set.
    #[error("unknown value `{value}`, expected one of {expected:?}")]
    UnknownValue {
        value: String,
        expected: Vec<&'static str>,
    },
    /// A number outside its allowed range.
    #[error("value {value} out of range: {requirement}")]
    OutOfRange {
        value: f64,
        requirement: &'static str,
    },
    /// A combination of keys that does not make sense.
    #[error("inconsistent keys: {problem}")]
    Inconsistent { problem: &'static str },
    /// An id or label with a bad shape.
    #[error("invalid identifier `{value}` (lower-case letters, digits, `_`, dots)")]
    InvalidId { value: String },
}

impl SchemeErrorKind {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Syntax { .. } => "scheme.syntax",
            Self::WeightSum { .. } => "scheme.weight_sum",
            Self::UnknownSource { .. } => "scheme.unknown_source",
            Self::DuplicateId { .. } => "scheme.duplicate_id",
            Self::EmptyGroup => "scheme.empty_group",
            Self::UnknownReference { .. } => "scheme.unknown_reference",
            Self::UnknownValue { .. } => "scheme.unknown_value",
            Self::OutOfRange { .. } => "scheme.out_of_range",
            Self::Inconsistent { .. } => "scheme.inconsistent",
            Self::InvalidId { .. } => "scheme.invalid_id",
        }
    }
}

/// Inputs that cannot be scored with a scheme.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RunError {
    /// No units at all.
    #[error("no units in the input")]
    NoUnits,
    /// A unit code appears twice.
    #[error("unit `{unit}` appears more than once")]
    DuplicateUnit { unit: String },
    /// A unit code that is empty.
    #[error("a unit has an empty code")]
    EmptyUnitCode,
    /// A value for an indicator the scheme does not define.
    #[error("unit `{unit}`: unknown indicator `{indicator}`")]
    UnknownIndicator { unit: String, indicator: String },
    /// A jurisdiction figure whose code is not a `jurisdiction.*` code.
    #[error("unit `{unit}`: invalid jurisdiction code `{key}`")]
    InvalidJurisdictionCode { unit: String, key: String },
    /// A number that is not finite or breaks its range.
    #[error("unit `{unit}`, `{field}`: value {value} is invalid ({requirement})")]
    InvalidNumber {
        unit: String,
        field: String,
        value: f64,
        requirement: &'static str,
    },
    /// A rank interval that is not `1 <= low <= high`.
    #[error("unit `{unit}`: rank interval {low}..{high} is invalid")]
    InvalidRankInterval { unit: String, low: u32, high: u32 },
    /// No included unit has a value for an indicator, so it cannot be normalised.
    #[error("indicator `{indicator}` has no value for any included unit")]
    IndicatorHasNoData { indicator: String },
    /// The input's period label does not fit the scheme's period.
    #[error("period `{period}` does not match the scheme's period `{expected}`")]
    PeriodMismatch { period: String, expected: String },
    /// Every unit was excluded.
    #[error("every unit was excluded, nothing to rank")]
    AllUnitsExcluded,
    /// Sensitivity or Monte Carlo settings out of range.
    #[error("setting `{setting}` is invalid ({requirement})")]
    InvalidSetting {
        setting: &'static str,
        requirement: &'static str,
    },
    /// A what-if changed the scheme into an invalid one.
    #[error("changed scheme is invalid: {0}")]
    Scheme(#[from] SchemeError),
    /// Canonical serialisation failed (should not happen for our own types).
    #[error("serialisation failed: {message}")]
    Serialise { message: String },
    /// Stored canonical input could not be read back.
    #[error("stored input is not valid: {message}")]
    StoredInput { message: String },
}

impl RunError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoUnits => "run.no_units",
            Self::DuplicateUnit { .. } => "run.duplicate_unit",
            Self::EmptyUnitCode => "run.empty_unit_code",
            Self::UnknownIndicator { .. } => "run.unknown_indicator",
            Self::InvalidJurisdictionCode { .. } => "run.invalid_jurisdiction_code",
            Self::InvalidNumber { .. } => "run.invalid_number",
            Self::InvalidRankInterval { .. } => "run.invalid_rank_interval",
            Self::IndicatorHasNoData { .. } => "run.indicator_has_no_data",
            Self::PeriodMismatch { .. } => "run.period_mismatch",
            Self::AllUnitsExcluded => "run.all_units_excluded",
            Self::InvalidSetting { .. } => "run.invalid_setting",
            Self::Scheme(e) => e.code(),
            Self::Serialise { .. } => "run.serialise",
            Self::StoredInput { .. } => "run.stored_input",
        }
    }
}
