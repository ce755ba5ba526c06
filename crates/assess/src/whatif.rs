//! What-if and comparison of runs: change weights, rerun, and see who moved how far and
//! whose rule outcome changed. The same comparison serves appeals (a corrected input
//! against the original run).

use serde::{Deserialize, Serialize};

use crate::error::RunError;
use crate::input::RunInput;
use crate::result::RunResult;
use crate::run::run;
use crate::scheme::{OutcomeCode, Scheme, WeightChange};

/// How one unit fared in two runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitMove {
    /// Unit code.
    pub unit: String,
    /// Rank in the first run (None: not ranked there).
    pub rank_before: Option<u32>,
    /// Rank in the second run.
    pub rank_after: Option<u32>,
    /// Places moved up (positive) or down (negative); None unless ranked in both.
    pub moved: Option<i64>,
    /// Score in the first run.
    pub score_before: Option<f64>,
    /// Score in the second run.
    pub score_after: Option<f64>,
    /// Basis rank in the first run.
    pub basis_rank_before: Option<u32>,
    /// Basis rank in the second run.
    pub basis_rank_after: Option<u32>,
    /// Outcome codes in the first run.
    pub outcomes_before: Vec<OutcomeCode>,
    /// Outcome codes in the second run.
    pub outcomes_after: Vec<OutcomeCode>,
}

/// Differences between two runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Every unit of either run, by rank in the second run (unranked last), then code.
    pub units: Vec<UnitMove>,
    /// Units whose rank changed.
    pub moved: u32,
    /// Units whose outcomes changed.
    pub outcome_changes: u32,
}

/// A what-if: the changed weights, both runs and their comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhatIf {
    /// The change applied.
    pub change: WeightChange,
    /// Run with the scheme as it is.
    pub before: RunResult,
    /// Run with the changed weights (its scheme hash differs).
    pub after: RunResult,
    /// Who moved how far.
    pub comparison: Comparison,
}

/// Compares two runs unit by unit.
pub fn compare(before: &RunResult, after: &RunResult) -> Comparison {
    let mut codes: Vec<&str> = before
        .units
        .iter()
        .map(|u| u.unit.as_str())
        .chain(after.units.iter().map(|u| u.unit.as_str()))
        .chain(before.excluded.iter().map(|u| u.unit.as_str()))
        .chain(after.excluded.iter().map(|u| u.unit.as_str()))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    let outcomes = |r: Option<&crate::result::UnitResult>| -> Vec<OutcomeCode> {
        r.map(|u| u.outcomes.iter().map(|o| o.outcome).collect())
            .unwrap_or_default()
    };
    let mut units: Vec<UnitMove> = codes
        .into_iter()
        .map(|code| {
            let b = before.unit(code);
            let a = after.unit(code);
            let rank_before = b.map(|u| u.rank);
            let rank_after = a.map(|u| u.rank);
            UnitMove {
                unit: code.to_owned(),
                rank_before,
                rank_after,
                moved: match (rank_before, rank_after) {
                    (Some(x), Some(y)) => Some(i64::from(x) - i64::from(y)),
                    _ => None,
                },
                score_before: b.map(|u| u.score),
                score_after: a.map(|u| u.score),
                basis_rank_before: b.and_then(|u| u.basis.as_ref().map(|x| x.rank)),
                basis_rank_after: a.and_then(|u| u.basis.as_ref().map(|x| x.rank)),
                outcomes_before: outcomes(b),
                outcomes_after: outcomes(a),
            }
        })
        .collect();
    units.sort_by(|x, y| {
        let key = |m: &UnitMove| m.rank_after.unwrap_or(u32::MAX);
        key(x).cmp(&key(y)).then_with(|| x.unit.cmp(&y.unit))
    });
    let moved = units
        .iter()
        .filter(|m| m.rank_before != m.rank_after)
        .count();
    let outcome_changes = units
        .iter()
        .filter(|m| m.outcomes_before != m.outcomes_after)
        .count();
    Comparison {
        units,
        moved: u32::try_from(moved).unwrap_or(u32::MAX),
        outcome_changes: u32::try_from(outcome_changes).unwrap_or(u32::MAX),
    }
}

/// Runs the scheme as it is and with changed weights, and compares.
pub fn what_if(
    scheme: &Scheme,
    input: &RunInput,
    change: &WeightChange,
) -> Result<WhatIf, RunError> {
    let changed = scheme.with_weights(change)?;
    let before = run(scheme, input)?;
    let after = run(&changed, input)?;
    let comparison = compare(&before, &after);
    Ok(WhatIf {
        change: change.clone(),
        before,
        after,
        comparison,
    })
}
