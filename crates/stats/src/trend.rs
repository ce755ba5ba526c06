//! Per-unit trend alerts on daily or weekly counts: a Poisson CUSUM (Lucas 1985) and an
//! EWMA of counts, both with limits set from a baseline period so that an in-control unit
//! raises a false alarm once per `target_arl` periods on average.
//!
//! The in-control model is Poisson with the baseline mean. Both charts watch for
//! increases only (a unit getting *more* complaints is what needs attention), and neither
//! is reset after an alarm, so a unit stays flagged while its statistic stays high.
//!
//! Limits come from Markov-chain run-length calculations (Brook & Evans 1972; Lucas &
//! Saccucci 1990) rather than from normal-theory tables, because counts per village and
//! day are small and very skewed. The CUSUM runs on a grid of step `δ` and its chain is
//! exact for the statistic actually computed; the EWMA chain discretises the statistic
//! into cells and is an approximation (checked against simulation in the tests).

use serde::Serialize;
use thiserror::Error;

/// Settings for [`trend_alerts`]. Start from [`TrendConfig::default`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrendConfig {
    /// The first this many periods are the baseline; the rest are monitored.
    pub baseline_periods: usize,
    /// Wanted in-control average run length, in periods: with daily counts 365 means
    /// about one false alarm per unit per year, per chart.
    pub target_arl: f64,
    /// The CUSUM is tuned to detect the mean rising to `shift_ratio ×` baseline (> 1).
    pub shift_ratio: f64,
    /// EWMA smoothing weight in (0, 1]; small values react to sustained small shifts.
    pub ewma_lambda: f64,
    /// A unit with a lower baseline mean is treated as having this mean, so a quiet
    /// place that suddenly gets complaints can still alarm. Set to 0 to refuse such
    /// units with [`TrendError::ZeroBaseline`] instead.
    pub min_baseline_mean: f64,
}

impl Default for TrendConfig {
    fn default() -> Self {
        TrendConfig {
            baseline_periods: 28,
            target_arl: 365.0,
            shift_ratio: 2.0,
            ewma_lambda: 0.2,
            min_baseline_mean: 0.1,
        }
    }
}

/// Why trend alerts could not be computed. [`TrendError::code`] gives a stable code.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TrendError {
    #[error("the count series is empty")]
    EmptySeries,
    #[error("baseline of {baseline} periods leaves nothing to monitor in {len} periods")]
    BaselineTooLong { baseline: usize, len: usize },
    #[error("invalid trend setting `{field}`")]
    InvalidConfig { field: &'static str },
    #[error("the baseline mean is zero and no minimum mean is set")]
    ZeroBaseline,
    #[error("baseline mean {mean} exceeds the supported {limit} per period")]
    MeanTooLarge { mean: f64, limit: f64 },
    #[error("no limit reaches the target run length {target}")]
    TargetUnreachable { target: f64 },
}

impl TrendError {
    /// Stable machine code, translated by the web layer.
    pub fn code(&self) -> &'static str {
        match self {
            TrendError::EmptySeries => "trend.empty_series",
            TrendError::BaselineTooLong { .. } => "trend.baseline_too_long",
            TrendError::InvalidConfig { .. } => "trend.invalid_config",
            TrendError::ZeroBaseline => "trend.zero_baseline",
            TrendError::MeanTooLarge { .. } => "trend.mean_too_large",
            TrendError::TargetUnreachable { .. } => "trend.target_unreachable",
        }
    }
}

/// Largest in-control mean per period; beyond it the run-length chains get too wide.
pub const MAX_MEAN: f64 = 1.0e6;

/// Largest target run length accepted.
pub const MAX_TARGET_ARL: f64 = 1.0e6;

/// Most states in a CUSUM chain; a design needing more is refused.
const MAX_STATES: usize = 1200;

/// Run lengths are capped here: a chart that practically never alarms reports this.
pub const MAX_REPORTED_ARL: f64 = 1.0e15;

/// Cells of the EWMA chain below the upper limit.
const EWMA_CELLS: usize = 120;

/// A Poisson CUSUM `S_t = max(0, S_{t−1} + x_t − k)`, alarming when `S_t ≥ h`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CusumDesign {
    /// In-control mean per period the design assumes.
    pub in_control_mean: f64,
    /// Reference value `k = (μ₁ − μ₀) / (ln μ₁ − ln μ₀)`, rounded to the grid when small.
    pub reference: f64,
    /// Decision interval `h`.
    pub decision_interval: f64,
    /// Grid step `δ` of the statistic: each increment `x − k` is rounded to a multiple of
    /// it (a no-op for small means, where `k` itself is on the grid).
    pub step: f64,
    /// Average run length when the mean is `in_control_mean` (at least the target).
    pub in_control_arl: f64,
    /// Average run length when the mean has risen to the shift the chart is tuned for.
    pub shifted_arl: f64,
    /// The mean the chart is tuned to detect.
    pub shifted_mean: f64,
}

/// An EWMA `z_t = λ·x_t + (1 − λ)·z_{t−1}`, `z_0 = μ₀`, alarming when `z_t ≥ limit`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EwmaDesign {
    pub in_control_mean: f64,
    pub lambda: f64,
    /// `L` in `limit = μ₀ + L·√μ₀·√(λ / (2 − λ))` (the asymptotic, steady-state limit).
    pub multiplier: f64,
    pub limit: f64,
    pub in_control_arl: f64,
}

/// One chart applied to the monitored periods.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChartTrace {
    /// Statistic for each monitored period (the series from `first_monitored` on).
    pub values: Vec<f64>,
    /// Series indices of the periods where the statistic is at or above its limit.
    pub alarms: Vec<usize>,
}

/// What [`trend_alerts`] found for one unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendReport {
    /// Mean of the baseline periods.
    pub baseline_mean: f64,
    /// Baseline variance over mean: near 1 for Poisson counts; well above 1 means the
    /// counts are overdispersed and both charts will alarm more often than designed.
    /// `None` when the baseline mean is zero or the baseline has a single period.
    pub baseline_dispersion: Option<f64>,
    /// Series index of the first monitored period.
    pub first_monitored: usize,
    pub cusum: CusumDesign,
    pub cusum_trace: ChartTrace,
    pub ewma: EwmaDesign,
    pub ewma_trace: ChartTrace,
    /// Either chart is at or above its limit in the last period.
    pub alert_now: bool,
}

/// Designs both charts on the baseline and runs them over the rest of `counts`.
pub fn trend_alerts(counts: &[u64], config: &TrendConfig) -> Result<TrendReport, TrendError> {
    if counts.is_empty() {
        return Err(TrendError::EmptySeries);
    }
    let baseline = config.baseline_periods;
    if baseline == 0 {
        return Err(TrendError::InvalidConfig {
            field: "baseline_periods",
        });
    }
    if baseline >= counts.len() {
        return Err(TrendError::BaselineTooLong {
            baseline,
            len: counts.len(),
        });
    }
    if !(config.min_baseline_mean >= 0.0 && config.min_baseline_mean <= MAX_MEAN) {
        return Err(TrendError::InvalidConfig {
            field: "min_baseline_mean",
        });
    }
    let base = counts.get(..baseline).unwrap_or(&[]);
    let n = base.len() as f64;
    let mean = base.iter().map(|&x| x as f64).sum::<f64>() / n;
    let dispersion = (mean > 0.0 && base.len() > 1).then(|| {
        let var = base.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
        var / mean
    });
    let mean_used = mean.max(config.min_baseline_mean);
    if mean_used <= 0.0 {
        return Err(TrendError::ZeroBaseline);
    }
    let cusum = design_cusum(mean_used, config.shift_ratio, config.target_arl)?;
    let ewma = design_ewma(mean_used, config.ewma_lambda, config.target_arl)?;
    let monitored = counts.get(baseline..).unwrap_or(&[]);
    let cusum_trace = run_cusum(&cusum, monitored, baseline);
    let ewma_trace = run_ewma(&ewma, monitored, baseline);
    let last = counts.len() - 1;
    let alert_now =
        cusum_trace.alarms.last() == Some(&last) || ewma_trace.alarms.last() == Some(&last);
    Ok(TrendReport {
        baseline_mean: mean,
        baseline_dispersion: dispersion,
        first_monitored: baseline,
        cusum,
        cusum_trace,
        ewma,
        ewma_trace,
        alert_now,
    })
}

fn check_mean(mean: f64) -> Result<(), TrendError> {
    if !(mean > 0.0 && mean.is_finite()) {
        return Err(TrendError::InvalidConfig {
            field: "in_control_mean",
        });
    }
    if mean > MAX_MEAN {
        return Err(TrendError::MeanTooLarge {
            mean,
            limit: MAX_MEAN,
        });
    }
    Ok(())
}

fn check_target(target_arl: f64) -> Result<(), TrendError> {
    if !(target_arl > 1.0 && target_arl <= MAX_TARGET_ARL) {
        return Err(TrendError::InvalidConfig {
            field: "target_arl",
        });
    }
    Ok(())
}

/// The CUSUM grid: increments are counted in units of the step.
#[derive(Debug, Clone, Copy)]
struct Grid {
    step: f64,
    reference: f64,
}

impl Grid {
    fn for_mean(mean: f64, reference: f64) -> Grid {
        let sd = mean.sqrt();
        // Fine enough to resolve both the spread and k, coarse enough to keep the chain
        // small; with step 1/g and k on the grid, x − k is an exact multiple of the step.
        let g = (5.0 / sd).max(10.0 / reference).ceil().clamp(1.0, 32.0);
        if sd * g <= 25.0 {
            let a = (reference * g).round().max(1.0);
            Grid {
                step: 1.0 / g,
                reference: a / g,
            }
        } else {
            Grid {
                step: sd / 20.0,
                reference,
            }
        }
    }

    #[inline]
    fn units(&self, x: f64) -> i64 {
        ((x - self.reference) / self.step).round() as i64
    }
}

/// Lucas's reference value for detecting a Poisson mean moving from `mean0` to `mean1`.
pub fn cusum_reference(mean0: f64, mean1: f64) -> Result<f64, TrendError> {
    check_mean(mean0)?;
    check_mean(mean1)?;
    if mean1 <= mean0 {
        return Err(TrendError::InvalidConfig {
            field: "shift_ratio",
        });
    }
    Ok((mean1 - mean0) / (mean1.ln() - mean0.ln()))
}

/// Chooses the CUSUM decision interval: the smallest `h` on the grid whose in-control
/// average run length (exact Markov-chain value for the gridded statistic) reaches
/// `target_arl`. Because counts are discrete the achieved run length can exceed the
/// target; it is reported in [`CusumDesign::in_control_arl`].
pub fn design_cusum(
    mean: f64,
    shift_ratio: f64,
    target_arl: f64,
) -> Result<CusumDesign, TrendError> {
    check_mean(mean)?;
    check_target(target_arl)?;
    if !(shift_ratio > 1.0 && shift_ratio.is_finite()) {
        return Err(TrendError::InvalidConfig {
            field: "shift_ratio",
        });
    }
    let shifted = mean * shift_ratio;
    // Lucas's reference value; `shifted` may exceed MAX_MEAN, it is only a parameter.
    let grid = Grid::for_mean(mean, (shifted - mean) / shift_ratio.ln());
    let pmf = Pmf::new(mean);
    let arl_at = |b: usize| cusum_chain_arl(&pmf, grid, b);
    // Run length grows with the interval: double until the target is reached, then
    // bisect for the smallest interval that reaches it.
    let mut hi = 1usize;
    let mut hi_arl = arl_at(hi);
    while hi_arl < target_arl {
        if hi >= MAX_STATES {
            return Err(TrendError::TargetUnreachable { target: target_arl });
        }
        hi = (hi * 2).min(MAX_STATES);
        hi_arl = arl_at(hi);
    }
    let mut lo = hi / 2; // fails the target (or is 0)
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let a = arl_at(mid);
        if a >= target_arl {
            hi = mid;
            hi_arl = a;
        } else {
            lo = mid;
        }
    }
    let shifted_arl = if shifted <= MAX_MEAN {
        cusum_chain_arl(&Pmf::new(shifted), grid, hi)
    } else {
        1.0
    };
    Ok(CusumDesign {
        in_control_mean: mean,
        reference: grid.reference,
        decision_interval: hi as f64 * grid.step,
        step: grid.step,
        in_control_arl: hi_arl,
        shifted_arl,
        shifted_mean: shifted,
    })
}

/// Average run length of a designed CUSUM when the true mean is `mean` (for example the
/// in-control mean, or a shifted one to see how fast a rise is caught).
pub fn cusum_arl(design: &CusumDesign, mean: f64) -> Result<f64, TrendError> {
    check_mean(mean)?;
    let grid = Grid {
        step: design.step,
        reference: design.reference,
    };
    let states = (design.decision_interval / design.step).round();
    if !(states >= 1.0 && states <= MAX_STATES as f64) {
        return Err(TrendError::InvalidConfig {
            field: "decision_interval",
        });
    }
    Ok(cusum_chain_arl(&Pmf::new(mean), grid, states as usize))
}

/// ARL from `S = 0` of the gridded CUSUM with `b` in-control states `0..b` (alarm at
/// `S ≥ b·δ`).
fn cusum_chain_arl(pmf: &Pmf, grid: Grid, b: usize) -> f64 {
    let mut q = vec![0.0; b * b];
    for (s, row) in q.chunks_exact_mut(b.max(1)).enumerate() {
        for (x, p) in pmf.iter() {
            let t = s as i64 + grid.units(x as f64);
            if t >= b as i64 {
                break;
            }
            let t = t.max(0) as usize;
            if let Some(cell) = row.get_mut(t) {
                *cell += p;
            }
        }
    }
    run_length_from(solve_run_lengths(q, b).and_then(|arl| arl.first().copied()))
}

/// A singular or wild solve means the chain (practically) never leaves control.
fn run_length_from(solved: Option<f64>) -> f64 {
    match solved {
        Some(v) if v.is_finite() => v.min(MAX_REPORTED_ARL),
        _ => MAX_REPORTED_ARL,
    }
}

/// Runs a designed CUSUM over `monitored`, reporting alarms as series indices
/// (`offset` is the index of the first monitored period).
fn run_cusum(design: &CusumDesign, monitored: &[u64], offset: usize) -> ChartTrace {
    let grid = Grid {
        step: design.step,
        reference: design.reference,
    };
    let b = (design.decision_interval / design.step).round() as i64;
    let mut s = 0i64;
    let mut values = Vec::with_capacity(monitored.len());
    let mut alarms = Vec::new();
    for (i, &x) in monitored.iter().enumerate() {
        s = (s.saturating_add(grid.units(x as f64))).max(0);
        values.push(s as f64 * grid.step);
        if s >= b {
            alarms.push(offset + i);
        }
    }
    ChartTrace { values, alarms }
}

/// Chooses the EWMA limit multiplier so that the in-control average run length (from a
/// Markov chain with [`EWMA_CELLS`] cells) matches `target_arl`, by bisection.
pub fn design_ewma(mean: f64, lambda: f64, target_arl: f64) -> Result<EwmaDesign, TrendError> {
    check_mean(mean)?;
    check_target(target_arl)?;
    if !(lambda > 0.0 && lambda <= 1.0) {
        return Err(TrendError::InvalidConfig {
            field: "ewma_lambda",
        });
    }
    let pmf = Pmf::new(mean);
    let width = mean.sqrt() * (lambda / (2.0 - lambda)).sqrt();
    let arl_at = |m: f64| ewma_chain_arl(&pmf, mean, lambda, mean + m * width);
    let (mut lo, mut hi) = (0.0f64, 4.0f64);
    while arl_at(hi) < target_arl {
        hi *= 2.0;
        if hi > 1.0e4 {
            return Err(TrendError::TargetUnreachable { target: target_arl });
        }
    }
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if arl_at(mid) >= target_arl {
            hi = mid;
        } else {
            lo = mid;
        }
        if hi - lo < 1e-4 * hi {
            break;
        }
    }
    let limit = mean + hi * width;
    Ok(EwmaDesign {
        in_control_mean: mean,
        lambda,
        multiplier: hi,
        limit,
        in_control_arl: arl_at(hi),
    })
}

/// Average run length of a designed EWMA when the true mean is `mean`.
pub fn ewma_arl(design: &EwmaDesign, mean: f64) -> Result<f64, TrendError> {
    check_mean(mean)?;
    Ok(ewma_chain_arl(
        &Pmf::new(mean),
        design.in_control_mean,
        design.lambda,
        design.limit,
    ))
}

/// Run length of the EWMA started at `start`. The range from a floor (six steady-state
/// standard deviations below the mean, or 0) up to the limit is cut into equal cells,
/// each represented by its midpoint; values below the floor are lumped into the lowest
/// cell, which can only make alarms come sooner.
fn ewma_chain_arl(pmf: &Pmf, start: f64, lambda: f64, limit: f64) -> f64 {
    if !(limit > 0.0 && limit.is_finite()) || start >= limit {
        return 1.0;
    }
    let spread = start.sqrt() * (lambda / (2.0 - lambda)).sqrt();
    let floor = (start - 6.0 * spread).max(0.0);
    let m = EWMA_CELLS;
    let w = (limit - floor) / m as f64;
    let steps = |from: f64| {
        pmf.iter().map_while(move |(x, p)| {
            let z = (1.0 - lambda) * from + lambda * x as f64;
            let cell = ((z - floor) / w).floor().max(0.0) as usize;
            (z < limit).then(|| (cell.min(m - 1), p))
        })
    };
    let mut q = vec![0.0; m * m];
    for (i, row) in q.chunks_exact_mut(m).enumerate() {
        for (j, p) in steps(floor + (i as f64 + 0.5) * w) {
            if let Some(c) = row.get_mut(j) {
                *c += p;
            }
        }
    }
    let Some(arl) = solve_run_lengths(q, m) else {
        return MAX_REPORTED_ARL;
    };
    // The first step is taken from the exact start rather than its cell's midpoint.
    run_length_from(Some(
        1.0 + steps(start)
            .map(|(j, p)| p * arl.get(j).copied().unwrap_or(0.0))
            .sum::<f64>(),
    ))
}

/// Runs a designed EWMA over `monitored`.
fn run_ewma(design: &EwmaDesign, monitored: &[u64], offset: usize) -> ChartTrace {
    let mut z = design.in_control_mean;
    let mut values = Vec::with_capacity(monitored.len());
    let mut alarms = Vec::new();
    for (i, &x) in monitored.iter().enumerate() {
        z = design.lambda * x as f64 + (1.0 - design.lambda) * z;
        values.push(z);
        if z >= design.limit {
            alarms.push(offset + i);
        }
    }
    ChartTrace { values, alarms }
}

/// Solves `(I − Q)·L = 1` for the run lengths from each transient state, with `Q` the
/// row-major `n × n` transient block. `None` when the system is (numerically) singular,
/// i.e. the chain can stay in control for ever.
fn solve_run_lengths(mut q: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    // Turn Q into I − Q in place.
    for (idx, v) in q.iter_mut().enumerate() {
        *v = if idx / n == idx % n { 1.0 - *v } else { -*v };
    }
    let mut rhs = vec![1.0; n];
    for col in 0..n {
        let pivot = (col..n).max_by(|&a, &b| {
            let va = q.get(a * n + col).map_or(0.0, |v| v.abs());
            let vb = q.get(b * n + col).map_or(0.0, |v| v.abs());
            va.total_cmp(&vb)
        })?;
        if q.get(pivot * n + col).is_none_or(|v| v.abs() < 1e-300) {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                q.swap(pivot * n + k, col * n + k);
            }
            rhs.swap(pivot, col);
        }
        let (head, tail) = q.split_at_mut((col + 1) * n);
        let prow = head.get(col * n..)?;
        let p = *prow.get(col)?;
        let rp = *rhs.get(col)?;
        for (r, row) in tail.chunks_exact_mut(n).enumerate() {
            let f = row.get(col).copied().unwrap_or(0.0) / p;
            if f == 0.0 {
                continue;
            }
            for (a, &b) in row.iter_mut().zip(prow).skip(col) {
                *a -= f * b;
            }
            if let Some(v) = rhs.get_mut(col + 1 + r) {
                *v -= f * rp;
            }
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let row = q.get(r * n..(r + 1) * n)?;
        let s: f64 = row.iter().zip(&x).skip(r + 1).map(|(a, b)| a * b).sum();
        let v = (rhs.get(r)? - s) / row.get(r)?;
        *x.get_mut(r)? = v;
    }
    x.iter()
        .all(|v| v.is_finite() && *v >= 1.0 - 1e-9)
        .then_some(x)
}

/// Poisson probabilities over `mean ± 12 sd` (and a margin), outside which the mass is
/// below 1e-25 and is left out of the chains.
struct Pmf {
    start: u64,
    probs: Vec<f64>,
}

impl Pmf {
    fn new(mean: f64) -> Pmf {
        let sd = mean.sqrt();
        let start = (mean - 12.0 * sd - 5.0).floor().max(0.0) as u64;
        let end = (mean + 12.0 * sd + 10.0).ceil() as u64;
        let ln_mean = mean.ln();
        let probs: Vec<f64> = (start..=end)
            .map(|x| (x as f64 * ln_mean - mean - ln_factorial(x)).exp())
            .collect();
        Pmf { start, probs }
    }

    fn iter(&self) -> impl Iterator<Item = (u64, f64)> + '_ {
        self.probs
            .iter()
            .enumerate()
            .map(|(i, &p)| (self.start + i as u64, p))
    }
}

/// `ln x!`: exact sum for small `x`, Stirling's series (error below 1e-13) otherwise.
fn ln_factorial(x: u64) -> f64 {
    if x < 16 {
        return (2..=x).map(|i| (i as f64).ln()).sum();
    }
    let n = x as f64;
    let inv = 1.0 / n;
    let inv2 = inv * inv;
    n * n.ln() - n
        + 0.5 * (std::f64::consts::TAU * n).ln()
        + inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 / 1260.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Poisson};

    /// Synthetic in-control (or shifted) counts.
    fn poisson_series(mean: f64, len: usize, rng: &mut ChaCha8Rng) -> Vec<u64> {
        let Ok(d) = Poisson::new(mean) else {
            return vec![0; len];
        };
        (0..len).map(|_| d.sample(rng) as u64).collect()
    }

    /// Mean time to the first alarm of a chart fed synthetic Poisson counts one period
    /// at a time; `step` takes the chart state and a count and says whether it alarms.
    fn simulated_arl<S: Clone>(
        runs: usize,
        mean: f64,
        seed: u64,
        start: S,
        step: impl Fn(&mut S, u64) -> bool,
    ) -> f64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let Ok(d) = Poisson::new(mean) else {
            return f64::NAN;
        };
        let mut total = 0u64;
        for _ in 0..runs {
            let mut state = start.clone();
            let mut t = 0u64;
            loop {
                t += 1;
                if step(&mut state, d.sample(&mut rng) as u64) || t >= 20_000 {
                    break;
                }
            }
            total += t;
        }
        total as f64 / runs as f64
    }

    #[test]
    fn cusum_design_matches_simulated_run_length() {
        // Ratios give shifts of a few standard deviations, so run lengths stay finite.
        let cases = [
            (0.1, 3.0),
            (0.6, 2.0),
            (3.0, 2.0),
            (25.0, 1.5),
            (900.0, 1.1),
        ];
        for (i, &(mean, ratio)) in cases.iter().enumerate() {
            let design = design_cusum(mean, ratio, 200.0).unwrap_or_else(|e| panic!("{e}"));
            assert!(design.in_control_arl >= 200.0, "{design:?}");
            // h is the smallest on the grid that reaches the target.
            let smaller = CusumDesign {
                decision_interval: design.decision_interval - design.step,
                ..design.clone()
            };
            if smaller.decision_interval > 0.0 {
                let a = cusum_arl(&smaller, mean).unwrap_or(f64::INFINITY);
                assert!(a < 200.0, "mean {mean}: smaller h still gives {a}");
            }
            let runs = 1500;
            let grid = Grid {
                step: design.step,
                reference: design.reference,
            };
            let b = (design.decision_interval / design.step).round() as i64;
            let sim = simulated_arl(runs, mean, 100 + i as u64, 0i64, |s, x| {
                *s = (*s + grid.units(x as f64)).max(0);
                *s >= b
            });
            // Run lengths are roughly geometric (sd ≈ mean): allow 4 standard errors.
            let se = design.in_control_arl / (runs as f64).sqrt();
            eprintln!(
                "cusum mean {mean}: design {:.1} simulated {sim:.1} (h {}, k {})",
                design.in_control_arl, design.decision_interval, design.reference
            );
            assert!(
                (sim - design.in_control_arl).abs() < 4.0 * se,
                "mean {mean}: design ARL {} vs simulated {sim}",
                design.in_control_arl
            );
            assert!(design.shifted_arl < design.in_control_arl / 5.0);
        }
    }

    #[test]
    fn ewma_design_matches_simulated_run_length() {
        for (i, &(mean, lambda)) in [
            (0.1, 0.2),
            (0.6, 0.2),
            (3.0, 0.2),
            (25.0, 0.3),
            (900.0, 0.2),
        ]
        .iter()
        .enumerate()
        {
            let design = design_ewma(mean, lambda, 200.0).unwrap_or_else(|e| panic!("{e}"));
            assert!((design.in_control_arl - 200.0).abs() < 20.0, "{design:?}");
            let runs = 1500;
            let sim = simulated_arl(runs, mean, 200 + i as u64, mean, |z, x| {
                *z = lambda * x as f64 + (1.0 - lambda) * *z;
                *z >= design.limit
            });
            let se = design.in_control_arl / (runs as f64).sqrt();
            eprintln!(
                "ewma mean {mean}: design {:.1} simulated {sim:.1} (L {})",
                design.in_control_arl, design.multiplier
            );
            // The chain approximates the EWMA by cell midpoints: 4 standard errors plus 5%.
            assert!(
                (sim - design.in_control_arl).abs() < 4.0 * se + 0.05 * design.in_control_arl,
                "mean {mean}: design ARL {} vs simulated {sim}",
                design.in_control_arl
            );
        }
    }

    #[test]
    fn reference_value_is_lucas() {
        let k = cusum_reference(1.0, 2.0).unwrap_or(0.0);
        assert!((k - 1.0 / 2f64.ln()).abs() < 1e-12);
        assert!(cusum_reference(2.0, 1.0).is_err());
    }

    #[test]
    fn one_state_chain_is_geometric() {
        // With b = 1 every positive step alarms: ARL = 1 / P(X − k ≥ δ/2).
        let mean = 2.0;
        let grid = Grid::for_mean(mean, cusum_reference(mean, 4.0).unwrap_or(3.0));
        let pmf = Pmf::new(mean);
        let p_alarm: f64 = pmf
            .iter()
            .filter(|&(x, _)| grid.units(x as f64) >= 1)
            .map(|(_, p)| p)
            .sum();
        let arl = cusum_chain_arl(&pmf, grid, 1);
        assert!((arl - 1.0 / p_alarm).abs() < 1e-9 * arl);
    }

    #[test]
    fn ln_factorial_is_accurate() {
        let mut exact = 0.0f64;
        for x in 1..400u64 {
            exact += (x as f64).ln();
            assert!(
                (ln_factorial(x) - exact).abs() < 1e-9 * exact.max(1.0),
                "{x}"
            );
        }
        assert_eq!(ln_factorial(0), 0.0);
    }

    #[test]
    fn a_rise_is_flagged_and_a_steady_unit_is_not() {
        // Synthetic steady unit: about 2 a period, never far from it.
        let pattern = [2u64, 1, 3, 2, 2, 1, 3, 2, 1, 2, 3];
        let mut counts: Vec<u64> = pattern.iter().cycle().take(58).copied().collect();
        let steady =
            trend_alerts(&counts, &TrendConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(steady.first_monitored, 28);
        assert_eq!(steady.cusum_trace.values.len(), 30);
        assert_eq!(steady.ewma_trace.values.len(), 30);
        assert!(steady.cusum_trace.alarms.is_empty() && steady.ewma_trace.alarms.is_empty());
        assert!(!steady.alert_now);
        // Synthetic outbreak: the mean triples for the last 7 periods.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        counts.extend(poisson_series(6.0, 7, &mut rng));
        let r = trend_alerts(&counts, &TrendConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.alert_now, "{r:?}");
        assert!(r.cusum_trace.alarms.iter().all(|&i| i >= 58));
        assert!(r.ewma_trace.alarms.iter().all(|&i| i >= 58));
        assert!(!r.cusum_trace.alarms.is_empty() && !r.ewma_trace.alarms.is_empty());
        let json = serde_json::to_string(&r).unwrap_or_default();
        assert!(json.contains("\"decision_interval\""));
    }

    #[test]
    fn quiet_unit_uses_the_minimum_mean() {
        let mut counts = vec![0u64; 40];
        let r = trend_alerts(&counts, &TrendConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.baseline_mean, 0.0);
        assert_eq!(r.baseline_dispersion, None);
        assert_eq!(r.cusum.in_control_mean, 0.1);
        assert!(!r.alert_now);
        counts.extend([3, 4]);
        let r = trend_alerts(&counts, &TrendConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.alert_now);
        let strict = TrendConfig {
            min_baseline_mean: 0.0,
            ..TrendConfig::default()
        };
        assert_eq!(
            trend_alerts(&counts, &strict).err(),
            Some(TrendError::ZeroBaseline)
        );
    }

    #[test]
    fn bad_input_is_an_error_with_a_code() {
        let ok = vec![1u64; 40];
        let cfg = TrendConfig::default();
        let cases: Vec<(Result<TrendReport, TrendError>, &str)> = vec![
            (trend_alerts(&[], &cfg), "trend.empty_series"),
            (trend_alerts(&ok[..28], &cfg), "trend.baseline_too_long"),
            (
                trend_alerts(
                    &ok,
                    &TrendConfig {
                        baseline_periods: 0,
                        ..cfg.clone()
                    },
                ),
                "trend.invalid_config",
            ),
            (
                trend_alerts(
                    &ok,
                    &TrendConfig {
                        target_arl: 1.0,
                        ..cfg.clone()
                    },
                ),
                "trend.invalid_config",
            ),
            (
                trend_alerts(
                    &ok,
                    &TrendConfig {
                        target_arl: f64::NAN,
                        ..cfg.clone()
                    },
                ),
                "trend.invalid_config",
            ),
            (
                trend_alerts(
                    &ok,
                    &TrendConfig {
                        shift_ratio: 1.0,
                        ..cfg.clone()
                    },
                ),
                "trend.invalid_config",
            ),
            (
                trend_alerts(
                    &ok,
                    &TrendConfig {
                        ewma_lambda: 0.0,
                        ..cfg.clone()
                    },
                ),
                "trend.invalid_config",
            ),
            (
                trend_alerts(
                    &ok,
                    &TrendConfig {
                        min_baseline_mean: f64::NAN,
                        ..cfg.clone()
                    },
                ),
                "trend.invalid_config",
            ),
            (
                trend_alerts(&vec![u64::MAX; 40], &cfg),
                "trend.mean_too_large",
            ),
        ];
        for (got, code) in cases {
            let e = got.err();
            assert_eq!(e.as_ref().map(|e| e.code()), Some(code));
            assert!(e.is_some_and(|e| !e.to_string().is_empty()));
        }
        assert!(design_cusum(-1.0, 2.0, 100.0).is_err());
        assert!(design_ewma(f64::INFINITY, 0.2, 100.0).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn never_panics_and_traces_are_sane(
            counts in proptest::collection::vec(0u64..40, 0..60),
            baseline in 0usize..40,
            target in 2.0f64..2000.0,
            shift in 1.05f64..5.0,
            lambda in 0.01f64..1.0,
            floor in 0.0f64..2.0,
        ) {
            let cfg = TrendConfig {
                baseline_periods: baseline,
                target_arl: target,
                shift_ratio: shift,
                ewma_lambda: lambda,
                min_baseline_mean: floor,
            };
            if let Ok(r) = trend_alerts(&counts, &cfg) {
                let n = counts.len() - baseline;
                prop_assert_eq!(r.cusum_trace.values.len(), n);
                prop_assert_eq!(r.ewma_trace.values.len(), n);
                prop_assert!(r.cusum.in_control_arl >= target * (1.0 - 1e-9));
                prop_assert!(r.cusum.decision_interval > 0.0 && r.ewma.limit > r.ewma.in_control_mean);
                for t in [&r.cusum_trace, &r.ewma_trace] {
                    prop_assert!(t.values.iter().all(|v| v.is_finite() && *v >= 0.0));
                    prop_assert!(t.alarms.windows(2).all(|w| w[0] < w[1]));
                    prop_assert!(t.alarms.iter().all(|&i| i >= baseline && i < counts.len()));
                }
            }
        }
    }
}
