//! Sample allocation across strata (stations) and sample size for a target interval
//! half-width, for the survey agency's allocation sheet.
//!
//! [`allocate`] divides a total sample among strata proportionally to population,
//! equally, or by Neyman (population × standard deviation), with a minimum per stratum
//! and never more than a stratum's population. Continuous shares are solved first —
//! strata pushed below their minimum or above their population are fixed there and the
//! rest re-shared until stable — then rounded by largest remainder (ties to the earlier
//! stratum), so the integers always sum to the requested total. If the strata still
//! free all have zero share (Neyman with zero standard deviations), the remainder is
//! split equally among them.
//!
//! [`sample_size_for_half_width`] is the Wald-based calculator
//! n₀ = z² p(1−p) deff / e², with Cochran's finite-population correction
//! n = n₀ / (1 + (n₀ − 1)/N), rounded up. Use p = 0.5 when nothing is known.

use serde::Serialize;

use crate::input::{InputError, check_len, check_level, check_nonempty, check_nonneg};
use crate::special::normal_quantile;

/// How to share a total sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocationRule {
    Proportional,
    Equal,
    /// Proportional to N_h S_h; needs standard deviations.
    Neyman,
}

/// Standard deviation of a 0/1 answer with anticipated proportion p, for Neyman.
pub fn sd_for_proportion(p: f64) -> f64 {
    let p = p.clamp(0.0, 1.0);
    (p * (1.0 - p)).sqrt()
}

/// Allocate `total` interviews over strata with population sizes `population`.
/// `sd` is required for [`AllocationRule::Neyman`] and ignored otherwise.
pub fn allocate(
    total: u64,
    population: &[f64],
    rule: AllocationRule,
    sd: Option<&[f64]>,
    min_per_stratum: u64,
) -> Result<Vec<u64>, InputError> {
    let h = population.len();
    check_nonempty("population", h)?;
    check_nonneg("population", population)?;
    let shares: Vec<f64> = match rule {
        AllocationRule::Proportional => population.to_vec(),
        AllocationRule::Equal => vec![1.0; h],
        AllocationRule::Neyman => {
            let sd = sd.ok_or(InputError::Empty { name: "sd" })?;
            check_len("sd", sd.len(), h)?;
            check_nonneg("sd", sd)?;
            population.iter().zip(sd).map(|(n, s)| n * s).collect()
        }
    };
    let caps: Vec<f64> = population.iter().map(|n| n.floor()).collect();
    let cap_total: f64 = caps.iter().sum();
    if total as f64 > cap_total {
        return Err(InputError::OutOfRange {
            name: "total",
            detail: "larger than the population",
        });
    }
    let mins: Vec<f64> = caps.iter().map(|c| c.min(min_per_stratum as f64)).collect();
    if mins.iter().sum::<f64>() > total as f64 {
        return Err(InputError::OutOfRange {
            name: "min_per_stratum",
            detail: "minimums exceed the total",
        });
    }
    // Continuous solution with fixed strata.
    let mut fixed: Vec<Option<f64>> = vec![None; h];
    let mut x = vec![0.0; h];
    for _ in 0..=2 * h {
        let used: f64 = fixed.iter().flatten().sum();
        let remaining = total as f64 - used;
        let free_share: f64 = shares
            .iter()
            .zip(&fixed)
            .filter(|(_, f)| f.is_none())
            .map(|(s, _)| s)
            .sum();
        let free_count = fixed.iter().filter(|f| f.is_none()).count() as f64;
        for ((xi, s), f) in x.iter_mut().zip(&shares).zip(&fixed) {
            *xi = match f {
                Some(v) => *v,
                None if free_share > 0.0 => remaining * s / free_share,
                None => remaining / free_count.max(1.0),
            };
        }
        // Fix violations below minimum first, as raising them lowers everyone else.
        let mut changed = false;
        for ((f, xi), m) in fixed.iter_mut().zip(&x).zip(&mins) {
            if f.is_none() && xi < m {
                *f = Some(*m);
                changed = true;
            }
        }
        if !changed {
            for ((f, xi), c) in fixed.iter_mut().zip(&x).zip(&caps) {
                if f.is_none() && xi > c {
                    *f = Some(*c);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    // Largest-remainder rounding within caps.
    let mut n: Vec<u64> = x.iter().map(|v| v.floor().max(0.0) as u64).collect();
    let assigned: u64 = n.iter().sum();
    let mut left = total.saturating_sub(assigned);
    let mut order: Vec<usize> = (0..h).collect();
    order.sort_by(|&a, &b| {
        let fa = x.get(a).map_or(0.0, |v| v - v.floor());
        let fb = x.get(b).map_or(0.0, |v| v - v.floor());
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    while left > 0 {
        let mut progressed = false;
        for &i in &order {
            if left == 0 {
                break;
            }
            let cap = caps.get(i).copied().unwrap_or(0.0);
            if let Some(ni) = n.get_mut(i)
                && ((*ni + 1) as f64) <= cap
            {
                *ni += 1;
                left -= 1;
                progressed = true;
            }
        }
        if !progressed {
            return Err(InputError::OutOfRange {
                name: "total",
                detail: "larger than the population",
            });
        }
    }
    Ok(n)
}

/// Sample size giving a Wald interval half-width `half_width` for a proportion near
/// `p`, at `level`, inflated by the design effect `deff`, with optional population size.
pub fn sample_size_for_half_width(
    p: f64,
    half_width: f64,
    level: f64,
    deff: f64,
    population: Option<f64>,
) -> Result<u64, InputError> {
    check_level(level)?;
    if !(0.0..=1.0).contains(&p) {
        return Err(InputError::OutsideSupport {
            name: "p",
            index: 0,
        });
    }
    if !(half_width.is_finite() && half_width > 0.0 && half_width < 1.0) {
        return Err(InputError::OutOfRange {
            name: "half_width",
            detail: "must be strictly between 0 and 1",
        });
    }
    if !(deff.is_finite() && deff > 0.0) {
        return Err(InputError::NotPositive {
            name: "deff",
            index: 0,
        });
    }
    let z = normal_quantile(1.0 - (1.0 - level) / 2.0);
    let n0 = z * z * p * (1.0 - p) * deff / (half_width * half_width);
    let n = match population {
        Some(pop) => {
            if !(pop.is_finite() && pop >= 1.0) {
                return Err(InputError::NotPositive {
                    name: "population",
                    index: 0,
                });
            }
            (n0 / (1.0 + (n0 - 1.0) / pop)).min(pop)
        }
        None => n0,
    };
    // Guard against 1e-15 noise turning an exact integer into the next one.
    Ok(((n - 1e-9).ceil().max(1.0)) as u64)
}

/// Per-stratum sample sizes for a common target half-width: each stratum gets the
/// calculator's answer for its anticipated proportion and population.
pub fn allocate_by_half_width(
    anticipated: &[f64],
    population: &[f64],
    half_width: f64,
    level: f64,
    deff: f64,
) -> Result<Vec<u64>, InputError> {
    check_nonempty("anticipated", anticipated.len())?;
    check_len("population", population.len(), anticipated.len())?;
    anticipated
        .iter()
        .zip(population)
        .enumerate()
        .map(|(index, (&p, &pop))| {
            sample_size_for_half_width(p, half_width, level, deff, Some(pop)).map_err(|e| match e {
                InputError::OutsideSupport { .. } => InputError::OutsideSupport {
                    name: "anticipated",
                    index,
                },
                InputError::NotPositive {
                    name: "population", ..
                } => InputError::NotPositive {
                    name: "population",
                    index,
                },
                other => other,
            })
        })
        .collect()
}
