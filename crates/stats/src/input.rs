//! The error type shared by the survey, interval, allocation, small-area and rank
//! modules, and the small input checks they all use.
//!
//! Every error names what was wrong and where (argument name and, for per-unit data,
//! the zero-based position). [`InputError::code`] gives a stable machine code that the
//! web layer translates; the `Display` text is for developers and logs only.

use thiserror::Error;

/// Bad input to a numeric routine. Nothing here is ever turned into NaN.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum InputError {
    /// Two slices that must line up have different lengths.
    #[error("length mismatch: `{name}` has {got} entries, expected {expected}")]
    LengthMismatch {
        name: &'static str,
        got: usize,
        expected: usize,
    },
    /// There is nothing to estimate from.
    #[error("`{name}` is empty")]
    Empty { name: &'static str },
    /// NaN or infinity where a finite number is required.
    #[error("`{name}`[{index}] is not finite")]
    NotFinite { name: &'static str, index: usize },
    /// A value below zero where only zero or more makes sense (standard errors,
    /// variances, counts).
    #[error("`{name}`[{index}] is negative")]
    Negative { name: &'static str, index: usize },
    /// A value that must be strictly positive (design weights, population sizes).
    #[error("`{name}`[{index}] must be greater than zero")]
    NotPositive { name: &'static str, index: usize },
    /// A scalar argument outside its allowed range.
    #[error("`{name}` is out of range: {detail}")]
    OutOfRange {
        name: &'static str,
        detail: &'static str,
    },
    /// A stratum holds a single primary sampling unit, so its variance contribution
    /// cannot be estimated (R's `options(survey.lonely.psu = "fail")`).
    #[error("stratum {stratum} has a single sampling unit")]
    LonelyPsu { stratum: usize },
    /// A domain, post-stratum or margin cell has no sample weight, so its estimate is
    /// undefined.
    #[error("`{name}` cell {cell} has no sampled units")]
    EmptyCell { name: &'static str, cell: usize },
    /// A label refers to a cell that the population table does not have.
    #[error("`{name}`[{index}] refers to cell {cell}, which the population table lacks")]
    UnknownCell {
        name: &'static str,
        index: usize,
        cell: usize,
    },
    /// A value outside the support of the quantity (a proportion outside [0, 1], a
    /// success count above the trials).
    #[error("`{name}`[{index}] is outside its allowed range")]
    OutsideSupport { name: &'static str, index: usize },
    /// An iterative method did not meet its tolerance.
    #[error("`{method}` did not converge in {iterations} iterations")]
    NoConvergence {
        method: &'static str,
        iterations: usize,
    },
    /// A matrix needed for estimation is singular (for example collinear covariates in
    /// the Fay–Herriot model).
    #[error("`{name}` is singular or not positive definite")]
    Singular { name: &'static str },
}

impl InputError {
    /// Stable code for translation in the web layer.
    pub fn code(&self) -> &'static str {
        match self {
            InputError::LengthMismatch { .. } => "stats.length_mismatch",
            InputError::Empty { .. } => "stats.empty",
            InputError::NotFinite { .. } => "stats.not_finite",
            InputError::Negative { .. } => "stats.negative",
            InputError::NotPositive { .. } => "stats.not_positive",
            InputError::OutOfRange { .. } => "stats.out_of_range",
            InputError::LonelyPsu { .. } => "stats.lonely_psu",
            InputError::EmptyCell { .. } => "stats.empty_cell",
            InputError::UnknownCell { .. } => "stats.unknown_cell",
            InputError::OutsideSupport { .. } => "stats.outside_support",
            InputError::NoConvergence { .. } => "stats.no_convergence",
            InputError::Singular { .. } => "stats.singular",
        }
    }
}

pub(crate) fn check_len(name: &'static str, got: usize, expected: usize) -> Result<(), InputError> {
    if got == expected {
        Ok(())
    } else {
        Err(InputError::LengthMismatch {
            name,
            got,
            expected,
        })
    }
}

pub(crate) fn check_nonempty(name: &'static str, len: usize) -> Result<(), InputError> {
    if len == 0 {
        Err(InputError::Empty { name })
    } else {
        Ok(())
    }
}

pub(crate) fn check_finite(name: &'static str, xs: &[f64]) -> Result<(), InputError> {
    match xs.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(InputError::NotFinite { name, index }),
        None => Ok(()),
    }
}

pub(crate) fn check_nonneg(name: &'static str, xs: &[f64]) -> Result<(), InputError> {
    check_finite(name, xs)?;
    match xs.iter().position(|x| *x < 0.0) {
        Some(index) => Err(InputError::Negative { name, index }),
        None => Ok(()),
    }
}

pub(crate) fn check_positive(name: &'static str, xs: &[f64]) -> Result<(), InputError> {
    check_finite(name, xs)?;
    match xs.iter().position(|x| *x <= 0.0) {
        Some(index) => Err(InputError::NotPositive { name, index }),
        None => Ok(()),
    }
}

/// Confidence level must lie strictly between 0 and 1.
pub(crate) fn check_level(level: f64) -> Result<(), InputError> {
    if level.is_finite() && level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(InputError::OutOfRange {
            name: "level",
            detail: "must be strictly between 0 and 1",
        })
    }
}
