//! Small-area shrinkage: the Fay–Herriot area-level model (EBLUP with REML and its
//! MSE) for indicators, and beta-binomial empirical Bayes for rates.
//!
//! # Fay–Herriot
//! Direct estimate y_i = x_iᵀβ + v_i + e_i with v_i ~ N(0, A) and e_i ~ N(0, D_i), D_i
//! the known sampling variances. A is estimated by REML with Fisher scoring (Fay &
//! Herriot 1979; Rao & Molina 2015, §6.1), started at the median of D and truncated at
//! 0; each step is halved while it would lower the restricted log-likelihood, and
//! iteration stops when the step is below 1e-12·(1 + A) (at most 500 steps, otherwise
//! [`InputError::NoConvergence`]). The EBLUP is γ_i y_i + (1 − γ_i) x_iᵀβ̂ with
//! γ_i = A/(A + D_i). The MSE is the Prasad–Rao / Datta–Lahiri estimator for REML,
//! g1 + g2 + 2 g3 with V̄(Â) = 2 / Σ (A + D_j)⁻².
//!
//! The fixture test compares with a REML fit written independently in R (maximising
//! the restricted likelihood with `optimize`). `optimize` finds a flat maximum only to
//! about √ε relative in A, so A, the EBLUPs and MSEs are held to 1e-6 relative.
//!
//! # Beta-binomial
//! Rates x_i/n_i (callback satisfaction, ratings) are shrunk towards the pooled rate
//! with a beta(μM, (1 − μ)M) prior whose parameters come from the **method of
//! moments**: μ̂ = Σx/Σn and the intra-class correlation
//! ρ̂ = (S/(μ̂(1−μ̂)) − (K−1)) / (N − Σn_i²/N − (K−1)), S = Σ n_i (x_i/n_i − μ̂)²,
//! M = 1/ρ̂ − 1. Closed form, so the fixture tolerance is 1e-9. Documented treatment
//! of the degenerate cases, each flagged in [`BetaBinomialFit::note`]:
//! * ρ̂ ≤ 0 (no extra-binomial variation seen), K < 2, or M above N = Σn: M is capped
//!   at N, so the prior weighs at most as much as all the data pooled — strong
//!   shrinkage, but finite and with honest intervals.
//! * ρ̂ ≥ 1 or M below 1e-6: M is floored at 1e-6 (essentially no shrinkage).
//! * μ̂ = 0 or 1: μ is moved to 0.5/N or 1 − 0.5/N so the prior stays proper.

use serde::Serialize;

use crate::input::{InputError, check_len, check_level, check_nonempty};
use crate::special::beta_quantile;

/// Fay–Herriot result for one area.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FhArea {
    pub direct: f64,
    /// The sampling variance D_i given for the direct estimate.
    pub direct_variance: f64,
    pub synthetic: f64,
    /// Weight on the direct estimate, A/(A + D_i).
    pub gamma: f64,
    pub eblup: f64,
    pub mse: f64,
}

/// Fay–Herriot fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FhFit {
    /// REML estimate of the model (between-area) variance A.
    pub model_variance: f64,
    pub beta: Vec<f64>,
    pub iterations: usize,
    /// True when A was truncated at zero (all areas shrunk fully to the regression).
    pub at_zero: bool,
    pub areas: Vec<FhArea>,
}

/// Tolerance on the Fisher-scoring step for A, relative to 1 + A.
pub const FH_TOLERANCE: f64 = 1e-12;
const FH_MAX_ITER: usize = 500;

/// Small dense symmetric positive definite solve via Cholesky; returns the inverse.
fn spd_inverse(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..=i {
            let mut s = *a.get(i * p + j)?;
            for k in 0..j {
                s -= l.get(i * p + k)? * l.get(j * p + k)?;
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                *l.get_mut(i * p + i)? = s.sqrt();
            } else {
                let d = *l.get(j * p + j)?;
                *l.get_mut(i * p + j)? = s / d;
            }
        }
    }
    // Invert column by column: solve L Lᵀ x = e_c.
    let mut inv = vec![0.0; p * p];
    for c in 0..p {
        let mut z = vec![0.0; p];
        for i in 0..p {
            let mut s = if i == c { 1.0 } else { 0.0 };
            for k in 0..i {
                s -= l.get(i * p + k)? * z.get(k)?;
            }
            *z.get_mut(i)? = s / l.get(i * p + i)?;
        }
        for i in (0..p).rev() {
            let mut s = *z.get(i)?;
            for k in i + 1..p {
                s -= l.get(k * p + i)? * inv.get(k * p + c)?;
            }
            *inv.get_mut(i * p + c)? = s / l.get(i * p + i)?;
        }
    }
    Some(inv)
}

/// Everything REML needs at one value of A.
struct RemlState {
    loglik: f64,
    score: f64,
    info: f64,
    beta: Vec<f64>,
    xtvix_inv: Vec<f64>,
}

fn reml_state(y: &[f64], d: &[f64], x: &[f64], p: usize, a: f64) -> Option<RemlState> {
    let m = y.len();
    let vi: Vec<f64> = d.iter().map(|di| 1.0 / (a + di)).collect();
    let row = |i: usize| x.get(i * p..(i + 1) * p);
    let mut xtvix = vec![0.0; p * p];
    let mut xtviy = vec![0.0; p];
    for i in 0..m {
        let r = row(i)?;
        let w = *vi.get(i)?;
        let yi = *y.get(i)?;
        for j in 0..p {
            *xtviy.get_mut(j)? += r.get(j)? * w * yi;
            for k in 0..p {
                *xtvix.get_mut(j * p + k)? += r.get(j)? * w * r.get(k)?;
            }
        }
    }
    let inv = spd_inverse(&xtvix, p)?;
    let mut beta = vec![0.0; p];
    for j in 0..p {
        for k in 0..p {
            *beta.get_mut(j)? += inv.get(j * p + k)? * xtviy.get(k)?;
        }
    }
    // P = V⁻¹ − V⁻¹X (XᵀV⁻¹X)⁻¹ XᵀV⁻¹, formed explicitly: areas number in the hundreds.
    let mut h = vec![0.0; m * p]; // V⁻¹X (XᵀV⁻¹X)⁻¹
    for i in 0..m {
        let r = row(i)?;
        let w = *vi.get(i)?;
        for k in 0..p {
            let mut s = 0.0;
            for j in 0..p {
                s += r.get(j)? * inv.get(j * p + k)?;
            }
            *h.get_mut(i * p + k)? = w * s;
        }
    }
    let mut pm = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..m {
            let mut s = 0.0;
            let rj = row(j)?;
            for k in 0..p {
                s += h.get(i * p + k)? * rj.get(k)?;
            }
            let diag = if i == j { *vi.get(i)? } else { 0.0 };
            *pm.get_mut(i * m + j)? = diag - s * vi.get(j)?;
        }
    }
    let mut tr_p = 0.0;
    let mut tr_pp = 0.0;
    for i in 0..m {
        tr_p += pm.get(i * m + i)?;
        for j in 0..m {
            let v = pm.get(i * m + j)?;
            tr_pp += v * v;
        }
    }
    let mut ypy = 0.0;
    let mut py_sq = 0.0;
    let mut ln_det_v = 0.0;
    for i in 0..m {
        let xb: f64 = row(i)?.iter().zip(&beta).map(|(a, b)| a * b).sum();
        let py = vi.get(i)? * (y.get(i)? - xb);
        ypy += y.get(i)? * py;
        py_sq += py * py;
        ln_det_v -= vi.get(i)?.ln();
    }
    // ln|XᵀV⁻¹X| = −ln|(XᵀV⁻¹X)⁻¹|; recompute from the Cholesky of the inverse.
    let ln_det_inv = ln_det_spd(&inv, p)?;
    let loglik = -0.5 * (ln_det_v - ln_det_inv + ypy);
    Some(RemlState {
        loglik,
        score: -0.5 * tr_p + 0.5 * py_sq,
        info: 0.5 * tr_pp,
        beta,
        xtvix_inv: inv,
    })
}

fn ln_det_spd(a: &[f64], p: usize) -> Option<f64> {
    let mut l = vec![0.0; p * p];
    let mut out = 0.0;
    for i in 0..p {
        for j in 0..=i {
            let mut s = *a.get(i * p + j)?;
            for k in 0..j {
                s -= l.get(i * p + k)? * l.get(j * p + k)?;
            }
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                *l.get_mut(i * p + i)? = s.sqrt();
                out += s.ln();
            } else {
                *l.get_mut(i * p + j)? = s / l.get(j * p + j)?;
            }
        }
    }
    Some(out)
}

/// Fit the Fay–Herriot model. `x` holds the covariates row-major, `p` per area
/// (include a column of ones for an intercept).
pub fn fay_herriot(
    direct: &[f64],
    vardir: &[f64],
    x: &[f64],
    p: usize,
) -> Result<FhFit, InputError> {
    let m = direct.len();
    check_nonempty("direct", m)?;
    check_len("vardir", vardir.len(), m)?;
    crate::input::check_finite("direct", direct)?;
    crate::input::check_positive("vardir", vardir)?;
    if p == 0 {
        return Err(InputError::Empty { name: "covariates" });
    }
    check_len("covariates", x.len(), m * p)?;
    crate::input::check_finite("covariates", x)?;
    if m <= p {
        return Err(InputError::OutOfRange {
            name: "direct",
            detail: "need more areas than covariates",
        });
    }
    let singular = InputError::Singular { name: "covariates" };
    let state = |a: f64| reml_state(direct, vardir, x, p, a).ok_or(singular.clone());
    let mut sorted = vardir.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut a = sorted.get(m / 2).copied().unwrap_or(1.0);
    if m.is_multiple_of(2) {
        a = 0.5 * (a + sorted.get(m / 2 - 1).copied().unwrap_or(a));
    }
    let mut cur = state(a)?;
    let mut iterations = 0;
    let mut converged = false;
    while iterations < FH_MAX_ITER {
        iterations += 1;
        let mut step = cur.score / cur.info;
        if !step.is_finite() {
            return Err(singular);
        }
        // Truncation at zero: at the boundary with a downhill score we are done.
        if a <= 0.0 && step <= 0.0 {
            converged = true;
            break;
        }
        let mut next = None;
        for _ in 0..40 {
            let cand = (a + step).max(0.0);
            let s = state(cand)?;
            if s.loglik >= cur.loglik - 1e-14 * cur.loglik.abs() {
                next = Some((cand, s));
                break;
            }
            step *= 0.5;
        }
        let Some((cand, s)) = next else {
            // No ascent possible along the score: a maximum to working precision.
            converged = true;
            break;
        };
        let moved = (cand - a).abs();
        a = cand;
        cur = s;
        if moved <= FH_TOLERANCE * (1.0 + a) {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err(InputError::NoConvergence {
            method: "fay_herriot_reml",
            iterations,
        });
    }
    let var_a = 2.0 / vardir.iter().map(|d| (a + d).powi(-2)).sum::<f64>();
    let mut areas = Vec::with_capacity(m);
    for i in 0..m {
        let row = x.get(i * p..(i + 1) * p).ok_or(singular.clone())?;
        let synthetic: f64 = row.iter().zip(&cur.beta).map(|(u, b)| u * b).sum();
        let di = vardir.get(i).copied().unwrap_or(1.0);
        let yi = direct.get(i).copied().unwrap_or(0.0);
        let v = a + di;
        let gamma = a / v;
        let mut quad = 0.0;
        for j in 0..p {
            for k in 0..p {
                quad += row.get(j).copied().unwrap_or(0.0)
                    * cur.xtvix_inv.get(j * p + k).copied().unwrap_or(0.0)
                    * row.get(k).copied().unwrap_or(0.0);
            }
        }
        let g1 = gamma * di;
        let g2 = (1.0 - gamma) * (1.0 - gamma) * quad;
        let g3 = di * di / (v * v * v) * var_a;
        areas.push(FhArea {
            direct: yi,
            direct_variance: di,
            synthetic,
            gamma,
            eblup: gamma * yi + (1.0 - gamma) * synthetic,
            mse: g1 + g2 + 2.0 * g3,
        });
    }
    Ok(FhFit {
        model_variance: a,
        beta: cur.beta,
        iterations,
        at_zero: a == 0.0,
        areas,
    })
}

/// Which documented treatment a beta-binomial fit needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BetaBinomialNote {
    /// No extra-binomial variation estimated: prior strength capped at Σn.
    NoOverdispersion,
    /// Variation so large that the prior strength was floored (no shrinkage).
    ExtremeOverdispersion,
    /// Pooled rate 0 or 1, moved half a count inside.
    BoundaryRate,
}

/// Empirical Bayes result for one unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BetaBinomialUnit {
    pub raw_rate: f64,
    pub posterior_mean: f64,
    pub lower: f64,
    pub upper: f64,
    /// Weight on the prior mean, M/(n + M).
    pub shrinkage: f64,
}

/// Beta-binomial empirical Bayes fit (method of moments).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BetaBinomialFit {
    pub prior_mean: f64,
    /// Moment estimate of the intra-class correlation, before any cap.
    pub rho: f64,
    /// Prior strength M = α + β actually used.
    pub prior_strength: f64,
    pub note: Option<BetaBinomialNote>,
    pub level: f64,
    pub units: Vec<BetaBinomialUnit>,
}

const BB_MIN_STRENGTH: f64 = 1e-6;

/// Beta-binomial empirical Bayes for `successes` out of `trials` per unit, with
/// equal-tailed posterior intervals at `level`.
pub fn beta_binomial_eb(
    successes: &[u64],
    trials: &[u64],
    level: f64,
) -> Result<BetaBinomialFit, InputError> {
    check_level(level)?;
    let k = successes.len();
    check_nonempty("successes", k)?;
    check_len("trials", trials.len(), k)?;
    for (index, (&x, &n)) in successes.iter().zip(trials).enumerate() {
        if n == 0 {
            return Err(InputError::NotPositive {
                name: "trials",
                index,
            });
        }
        if x > n {
            return Err(InputError::OutsideSupport {
                name: "successes",
                index,
            });
        }
    }
    let n_tot: f64 = trials.iter().map(|&n| n as f64).sum();
    let x_tot: f64 = successes.iter().map(|&x| x as f64).sum();
    let mut note = None;
    let mut mu = x_tot / n_tot;
    let raw_mu = mu;
    let s: f64 = successes
        .iter()
        .zip(trials)
        .map(|(&x, &n)| {
            let p = x as f64 / n as f64;
            n as f64 * (p - raw_mu) * (p - raw_mu)
        })
        .sum();
    let sum_n2: f64 = trials.iter().map(|&n| (n as f64) * (n as f64)).sum();
    let kf = k as f64;
    let denom = n_tot - sum_n2 / n_tot - (kf - 1.0);
    let rho = if raw_mu > 0.0 && raw_mu < 1.0 && k > 1 && denom > 0.0 {
        (s / (raw_mu * (1.0 - raw_mu)) - (kf - 1.0)) / denom
    } else {
        0.0
    };
    if mu <= 0.0 || mu >= 1.0 {
        mu = mu.clamp(0.5 / n_tot, 1.0 - 0.5 / n_tot);
        note = Some(BetaBinomialNote::BoundaryRate);
    }
    let strength = if rho <= 0.0 {
        note = note.or(Some(BetaBinomialNote::NoOverdispersion));
        n_tot
    } else {
        let m = 1.0 / rho - 1.0;
        if m > n_tot {
            note = note.or(Some(BetaBinomialNote::NoOverdispersion));
            n_tot
        } else if m < BB_MIN_STRENGTH {
            note = note.or(Some(BetaBinomialNote::ExtremeOverdispersion));
            BB_MIN_STRENGTH
        } else {
            m
        }
    };
    let alpha = mu * strength;
    let beta = (1.0 - mu) * strength;
    let tail = (1.0 - level) / 2.0;
    let units = successes
        .iter()
        .zip(trials)
        .map(|(&x, &n)| {
            let (xf, nf) = (x as f64, n as f64);
            let a = xf + alpha;
            let b = nf - xf + beta;
            BetaBinomialUnit {
                raw_rate: xf / nf,
                posterior_mean: a / (a + b),
                lower: beta_quantile(tail, a, b),
                upper: beta_quantile(1.0 - tail, a, b),
                shrinkage: strength / (nf + strength),
            }
        })
        .collect();
    Ok(BetaBinomialFit {
        prior_mean: mu,
        rho,
        prior_strength: strength,
        note,
        level,
        units,
    })
}
