//! minyi-assess: assessment schemes (综合考评), indicator normalisation, weighted scores,
//! rule outcomes (merit, award ineligibility, accountability) with fairness guards,
//! explanations, what-if and sensitivity.
//!
//! Pure and deterministic: the same scheme and inputs give byte-identical results. This
//! crate must not do IO, async or SQL; callers hand it numbers and scheme text.
//!
//! Entry points: [`Scheme::parse`] / [`Scheme::default_2014`], [`run`],
//! [`run_and_record`] / [`rerun`] / [`verify`], [`what_if`] / [`compare`],
//! [`sensitivity`], [`diff_inputs`]. The scheme format is in `SCHEME.md`.

pub mod canonical;
pub mod error;
pub mod input;
pub mod record;
pub mod result;
pub mod run;
pub mod scheme;
pub mod sensitivity;
pub mod source;
pub mod whatif;

pub use canonical::{canonical_json, quantise, sha256_hex};
pub use error::{RunError, SchemeError, SchemeErrorKind};
pub use input::{IndicatorValue, InputChange, RankUncertainty, RunInput, UnitInput, diff_inputs};
pub use record::{RunRecord, rerun, run_and_record, verify};
pub use result::*;
pub use run::{competition_ranks, round_score, run};
pub use scheme::*;
pub use sensitivity::{Sensitivity, SensitivitySettings, Stability, UnitSensitivity, sensitivity};
pub use whatif::{Comparison, UnitMove, WhatIf, compare, what_if};
