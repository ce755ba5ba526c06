//! Prospective space-time permutation scan statistic (Kulldorff, Heffernan, Hartman,
//! Assunção & Mostashari 2005) for finding places where one category of opinions is
//! rising now.
//!
//! The input is a table of case counts per location and day plus planar coordinates.
//! Candidate clusters are cylinders: a circle made of a centre and its nearest locations,
//! times a run of days that ends on the last day of the study window (that is what makes
//! the analysis *prospective*: only clusters still going on today are looked for).
//! Expected counts come from the permutation null `μ_zd = C_z·C_d / C`, so no population
//! at risk is needed; cylinders are scored with the Poisson generalised likelihood ratio
//! and Monte Carlo p-values are obtained by permuting the dates among the cases.
//!
//! Speed matters because the analysis is repeated per category and per day: neighbour
//! lists are computed once, circles grow one location at a time, only the recent days
//! of each case are kept, and every replicate reuses the expected counts (they do not
//! change under date permutation, since the permutation keeps both margins).

use std::cmp::Ordering;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use thiserror::Error;

/// A location's position in any planar unit (metres, kilometres, projected degrees).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// Settings for [`scan`]. Start from [`ScanConfig::default`] and change what you need.
///
/// A circle is admitted only while it satisfies *all* the spatial limits that are set.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanConfig {
    /// Largest share of all cases in the window that one circle may hold, in (0, 1].
    /// SaTScan's default is 0.5; smaller values are faster and give more local hotspots.
    /// Run time grows with this share and with `max_days`: on 900 locations × 90 days
    /// with 3,000 cases and 999 replications a release build took about 8 s at 0.5 and
    /// 7 days, 2 s at 0.1 and 7 days, 40 s at 0.5 and 30 days (busy 2-core machine).
    pub max_share_of_cases: f64,
    /// Largest circle radius, in the coordinates' unit; `None` for no radius limit.
    pub max_radius: Option<f64>,
    /// Largest number of locations in a circle (the centre included); `None` for no limit.
    pub max_locations: Option<usize>,
    /// Longest cluster in days; clusters always end on the last day of the window.
    /// Values longer than the window are shortened to the window.
    pub max_days: usize,
    /// Cylinders with fewer observed cases are never reported (SaTScan uses 2), so a lone
    /// case in a quiet place does not make a hotspot. At least 1.
    pub min_cases: u64,
    /// Monte Carlo replications; p-values have resolution `1 / (replications + 1)`.
    pub replications: usize,
    /// Seed of the ChaCha8 generator used for the permutations; same seed, same answer.
    pub seed: u64,
    /// Most clusters to report: the most likely one plus non-overlapping secondary ones.
    pub max_clusters: usize,
    /// How often the analysis is run, in days, to turn p-values into recurrence intervals
    /// (a cluster this strong would arise by chance once every `interval / p` days).
    pub analysis_interval_days: f64,
    /// Study window as inclusive column indices `(first, last)` into the count table;
    /// `None` uses every column. Expected counts are computed from this window only.
    pub window: Option<(usize, usize)>,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            max_share_of_cases: 0.5,
            max_radius: None,
            max_locations: None,
            max_days: 7,
            min_cases: 2,
            replications: 999,
            seed: 20_050_101,
            max_clusters: 10,
            analysis_interval_days: 1.0,
            window: None,
        }
    }
}

/// One reported space-time cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    /// Index of the centre location.
    pub centre: usize,
    /// Member location indices, nearest to the centre first (the centre is first).
    pub members: Vec<usize>,
    /// Distance from the centre to the farthest member.
    pub radius: f64,
    /// First day of the cluster, as a column index into the count table.
    pub start_day: usize,
    /// Last day of the cluster (always the last day of the window), as a column index.
    pub end_day: usize,
    /// Number of days the cluster spans.
    pub days: usize,
    pub observed: u64,
    /// Expected count under the permutation null.
    pub expected: f64,
    /// `observed / expected`, the measure Kulldorff et al. (2005) report.
    pub observed_over_expected: f64,
    /// Risk inside over risk outside, `(c/μ) / ((C−c)/(C−μ))`; `None` when every case of
    /// the window lies inside the cluster and the ratio is unbounded.
    pub relative_risk: Option<f64>,
    pub log_likelihood_ratio: f64,
    /// Monte Carlo p-value against the distribution of the largest log-likelihood ratio.
    pub p_value: f64,
    /// `analysis_interval_days / p_value`: how often a cluster this strong would be seen
    /// by chance if the analysis were repeated at that interval.
    pub recurrence_interval_days: f64,
}

/// What [`scan`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanResult {
    /// Cases in the study window.
    pub total_cases: u64,
    /// First and last day of the study window (column indices).
    pub first_day: usize,
    pub last_day: usize,
    /// Longest cluster length actually used, in days.
    pub max_days: usize,
    pub replications: usize,
    /// Most likely cluster first, then secondary clusters that share no location with a
    /// cluster listed before them, by decreasing log-likelihood ratio.
    pub clusters: Vec<Cluster>,
    /// Log-likelihood ratios a cluster must exceed for p ≤ 0.05 and p ≤ 0.01; `None`
    /// when there are too few replications to say.
    pub critical_llr_05: Option<f64>,
    pub critical_llr_01: Option<f64>,
}

/// Why a scan could not be run. [`ScanError::code`] gives a stable code for the web layer.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScanError {
    #[error("the count table has no locations")]
    NoLocations,
    #[error("the count table has no days")]
    NoDays,
    #[error("location {location} has {found} days of counts, location 0 has {expected}")]
    RaggedCounts {
        location: usize,
        found: usize,
        expected: usize,
    },
    #[error("{rows} locations have counts but {points} have coordinates")]
    LocationMismatch { rows: usize, points: usize },
    #[error("location {location} has a non-finite coordinate")]
    NonFiniteCoordinate { location: usize },
    #[error("study window {first}..={last} does not fit the {days} days of counts")]
    InvalidWindow {
        first: usize,
        last: usize,
        days: usize,
    },
    #[error("invalid scan setting `{field}`")]
    InvalidConfig { field: &'static str },
    #[error("no cases in the study window")]
    NoCases,
    #[error("{total} cases exceed the limit of {limit}")]
    TooManyCases { total: u64, limit: u64 },
}

impl ScanError {
    /// Stable machine code, translated by the web layer.
    pub fn code(&self) -> &'static str {
        match self {
            ScanError::NoLocations => "scan.no_locations",
            ScanError::NoDays => "scan.no_days",
            ScanError::RaggedCounts { .. } => "scan.ragged_counts",
            ScanError::LocationMismatch { .. } => "scan.location_mismatch",
            ScanError::NonFiniteCoordinate { .. } => "scan.non_finite_coordinate",
            ScanError::InvalidWindow { .. } => "scan.invalid_window",
            ScanError::InvalidConfig { .. } => "scan.invalid_config",
            ScanError::NoCases => "scan.no_cases",
            ScanError::TooManyCases { .. } => "scan.too_many_cases",
        }
    }
}

/// Every case gets one slot in the permutation array and one entry in a `c·ln c` table,
/// so the total is bounded to keep memory predictable (about 120 MB at the limit).
pub const MAX_CASES: u64 = 10_000_000;

/// Marks a neighbour-list position where no circle closes (its distance ties the next).
const NOT_CLOSING: u32 = u32::MAX;

/// Runs the prospective space-time permutation scan on `counts[location][day]`.
///
/// Returns the most likely cluster and non-overlapping secondary clusters with Monte
/// Carlo p-values. A table without any cylinder above expectation (for example all cases
/// on one day or in one place) gives an empty cluster list, not an error.
pub fn scan(
    counts: &[Vec<u32>],
    locations: &[Point],
    config: &ScanConfig,
) -> Result<ScanResult, ScanError> {
    let prepared = Prepared::new(counts, locations, config)?;
    Ok(prepared.run(config))
}

/// Everything that does not change between Monte Carlo replicates.
struct Prepared {
    n_loc: usize,
    first_day: usize,
    last_day: usize,
    max_l: usize,
    total: u64,
    circles: Circles,
    kernel: Kernel,
    /// Observed recent cases (day offset from the last day, count) per location.
    observed: Recent,
    /// One entry per case: its location; permuted in place by the replicates.
    case_loc: Vec<u32>,
    /// Day offsets of the cases in the last `max_l` days, most recent first.
    recent_offsets: Vec<u32>,
}

/// Circles per centre as a flattened neighbour list.
struct Circles {
    offsets: Vec<usize>,
    /// Per position: the member location and, when a circle closes after this member,
    /// its case sum `S = Σ C_z` (else [`NOT_CLOSING`]: the next member is equidistant).
    /// Kept together and small because every replicate streams through all of them.
    entries: Vec<(u32, u32)>,
    dist: Vec<f64>,
}

/// Recent cases grouped by location in compressed rows.
struct Recent {
    offsets: Vec<usize>,
    day: Vec<u32>,
    count: Vec<u32>,
}

impl Recent {
    fn of(&self, z: usize) -> (&[u32], &[u32]) {
        let (a, b) = match (self.offsets.get(z), self.offsets.get(z + 1)) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (0, 0),
        };
        (
            self.day.get(a..b).unwrap_or(&[]),
            self.count.get(a..b).unwrap_or(&[]),
        )
    }
}

/// Scores cylinders with the Poisson generalised log-likelihood ratio
/// `c·ln(c/μ) + (C−c)·ln((C−c)/(C−μ))`, where `μ = S·D_l / C` for a circle holding `S`
/// cases in the whole window and `D_l` cases of all locations in the last `l + 1` days.
struct Kernel {
    total: u64,
    total_f: f64,
    min_cases: u64,
    /// `D_l`: cases in the last `l + 1` days, for `l` in `0..max_l`.
    recent_total: Vec<u64>,
    /// `D_l / C` and its logarithm, so `μ = S·D_l/C` needs no division.
    recent_share: Vec<f64>,
    ln_recent_share: Vec<f64>,
    /// `c·ln c` for `c` in `0..=total`.
    xlnx: Vec<f64>,
}

fn xlnx(x: f64) -> f64 {
    if x > 0.0 { x * x.ln() } else { 0.0 }
}

impl Kernel {
    fn new(total: u64, recent_total: Vec<u64>, min_cases: u64) -> Kernel {
        let total_f = total as f64;
        Kernel {
            total,
            total_f,
            min_cases,
            recent_share: recent_total.iter().map(|&d| d as f64 / total_f).collect(),
            ln_recent_share: recent_total
                .iter()
                .map(|&d| (d as f64 / total_f).max(f64::MIN_POSITIVE).ln())
                .collect(),
            recent_total,
            xlnx: (0..=total).map(|c| xlnx(c as f64)).collect(),
        }
    }

    fn expected(&self, s: u64, l: usize) -> f64 {
        s as f64 * self.recent_share.get(l).copied().unwrap_or(0.0)
    }

    /// `ln S`, from the `c·ln c` table so replicates compute no logarithm.
    #[inline]
    fn ln_sum(&self, s: u64) -> f64 {
        if s == 0 {
            return f64::MIN_POSITIVE.ln();
        }
        self.x_ln_x(s) / s as f64
    }

    /// Whether a cylinder may be reported: enough cases and above expectation, decided
    /// exactly in integers (`S·D_l ≤ 10¹⁴` by [`MAX_CASES`], so no overflow).
    #[inline]
    fn eligible(&self, c: u64, s: u64, l: usize) -> bool {
        let d = self.recent_total.get(l).copied().unwrap_or(u64::MAX);
        c >= self.min_cases && c.saturating_mul(self.total) > s.saturating_mul(d)
    }

    #[inline]
    fn x_ln_x(&self, c: u64) -> f64 {
        usize::try_from(c)
            .ok()
            .and_then(|i| self.xlnx.get(i).copied())
            // The table covers 0..=total and counts never exceed the total.
            .unwrap_or(0.0)
    }

    /// The part inside the cylinder, `c·ln(c/μ)`, and `μ`.
    #[inline]
    fn inside(&self, c: u64, s: u64, ln_s: f64, l: usize) -> (f64, f64) {
        let ln_share = self.ln_recent_share.get(l).copied().unwrap_or(0.0);
        (
            self.x_ln_x(c) - c as f64 * (ln_s + ln_share),
            self.expected(s, l),
        )
    }

    /// Exact ratio of an eligible cylinder.
    #[inline]
    fn llr(&self, c: u64, s: u64, ln_s: f64, l: usize) -> f64 {
        let (part, mu) = self.inside(c, s, ln_s, l);
        let out = self.total.saturating_sub(c);
        let rest = (self.total_f - mu).max(f64::MIN_POSITIVE);
        let v = part + self.x_ln_x(out) - out as f64 * rest.ln();
        // Rounding can push a cylinder barely above expectation a hair below zero.
        if v.is_finite() { v.max(0.0) } else { 0.0 }
    }

    /// Whether the ratio may exceed `top`, decided without a logarithm or a division:
    /// `ln x ≤ x − 1` bounds the outside term by `−(c−μ)(C−c)/(C−μ)`, which is tight near
    /// the top, so replicates compute the exact ratio only where their running maximum
    /// may be beaten.
    #[inline]
    fn may_exceed(&self, c: u64, s: u64, ln_s: f64, l: usize, top: f64) -> bool {
        let (part, mu) = self.inside(c, s, ln_s, l);
        let out = self.total.saturating_sub(c) as f64;
        let rest = self.total_f - mu;
        // Slack for rounding, so a cylinder tying the maximum is never skipped.
        let slack = 1e-9 * (part.abs() + top.abs() + 1.0);
        (part - top + slack) * rest > (c as f64 - mu) * out
    }
}

/// Best cylinder found for one centre.
#[derive(Debug, Clone, Copy)]
struct Best {
    llr: f64,
    pos: usize,
    l: usize,
    c: u64,
    s: u64,
}

impl Best {
    const NONE: Best = Best {
        llr: 0.0,
        pos: 0,
        l: 0,
        c: 0,
        s: 0,
    };
}

fn validate(
    counts: &[Vec<u32>],
    locations: &[Point],
    config: &ScanConfig,
) -> Result<(usize, usize), ScanError> {
    let first = counts.first().ok_or(ScanError::NoLocations)?;
    let days = first.len();
    if days == 0 {
        return Err(ScanError::NoDays);
    }
    for (location, row) in counts.iter().enumerate() {
        if row.len() != days {
            return Err(ScanError::RaggedCounts {
                location,
                found: row.len(),
                expected: days,
            });
        }
    }
    if counts.len() != locations.len() {
        return Err(ScanError::LocationMismatch {
            rows: counts.len(),
            points: locations.len(),
        });
    }
    if counts.len() >= u32::MAX as usize {
        return Err(ScanError::InvalidConfig { field: "locations" });
    }
    if let Some(location) = locations
        .iter()
        .position(|p| !p.x.is_finite() || !p.y.is_finite())
    {
        return Err(ScanError::NonFiniteCoordinate { location });
    }
    let share = config.max_share_of_cases;
    if !(share > 0.0 && share <= 1.0) {
        return Err(ScanError::InvalidConfig {
            field: "max_share_of_cases",
        });
    }
    if let Some(r) = config.max_radius
        && (r.is_nan() || r < 0.0)
    {
        return Err(ScanError::InvalidConfig {
            field: "max_radius",
        });
    }
    if config.max_locations == Some(0) {
        return Err(ScanError::InvalidConfig {
            field: "max_locations",
        });
    }
    if config.max_days == 0 {
        return Err(ScanError::InvalidConfig { field: "max_days" });
    }
    if config.min_cases == 0 {
        return Err(ScanError::InvalidConfig { field: "min_cases" });
    }
    if config.replications == 0 {
        return Err(ScanError::InvalidConfig {
            field: "replications",
        });
    }
    if !(config.analysis_interval_days > 0.0 && config.analysis_interval_days.is_finite()) {
        return Err(ScanError::InvalidConfig {
            field: "analysis_interval_days",
        });
    }
    let (first_day, last_day) = config.window.unwrap_or((0, days - 1));
    if first_day > last_day || last_day >= days {
        return Err(ScanError::InvalidWindow {
            first: first_day,
            last: last_day,
            days,
        });
    }
    Ok((first_day, last_day))
}

impl Prepared {
    fn new(
        counts: &[Vec<u32>],
        locations: &[Point],
        config: &ScanConfig,
    ) -> Result<Prepared, ScanError> {
        let (first_day, last_day) = validate(counts, locations, config)?;
        let n_loc = counts.len();
        let n_days = last_day - first_day + 1;
        let max_l = config.max_days.min(n_days);

        let mut loc_total = vec![0u64; n_loc];
        let mut recent_total = vec![0u64; max_l];
        for (z, row) in counts.iter().enumerate() {
            let window = row.get(first_day..=last_day).unwrap_or(&[]);
            let t: u64 = window.iter().map(|&c| u64::from(c)).sum();
            if let Some(slot) = loc_total.get_mut(z) {
                *slot = t;
            }
            for (o, &c) in window.iter().rev().take(max_l).enumerate() {
                if let Some(slot) = recent_total.get_mut(o) {
                    *slot += u64::from(c);
                }
            }
        }
        let total: u64 = loc_total.iter().sum();
        if total == 0 {
            return Err(ScanError::NoCases);
        }
        if total > MAX_CASES {
            return Err(ScanError::TooManyCases {
                total,
                limit: MAX_CASES,
            });
        }
        // Cumulate so that recent_total[l] counts the last l + 1 days.
        for l in 1..max_l {
            let prev = recent_total.get(l - 1).copied().unwrap_or(0);
            if let Some(slot) = recent_total.get_mut(l) {
                *slot += prev;
            }
        }

        let circles = build_circles(locations, &loc_total, total, config);

        // Observed recent cases per location.
        let mut rec_off = Vec::with_capacity(n_loc + 1);
        let mut rec_day = Vec::new();
        let mut rec_count = Vec::new();
        rec_off.push(0);
        for row in counts {
            let window = row.get(first_day..=last_day).unwrap_or(&[]);
            for (o, &c) in window.iter().rev().take(max_l).enumerate() {
                if c > 0 {
                    rec_day.push(o as u32);
                    rec_count.push(c);
                }
            }
            rec_off.push(rec_day.len());
        }
        let observed = Recent {
            offsets: rec_off,
            day: rec_day,
            count: rec_count,
        };

        let mut case_loc = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
        for (z, &t) in loc_total.iter().enumerate() {
            for _ in 0..t {
                case_loc.push(z as u32);
            }
        }
        let mut recent_offsets = Vec::new();
        let mut prev = 0u64;
        for (o, &cum) in recent_total.iter().enumerate() {
            for _ in prev..cum {
                recent_offsets.push(o as u32);
            }
            prev = cum;
        }

        let kernel = Kernel::new(total, recent_total, config.min_cases);
        Ok(Prepared {
            n_loc,
            first_day,
            last_day,
            max_l,
            total,
            circles,
            kernel,
            observed,
            case_loc,
            recent_offsets,
        })
    }

    /// Calls `visit(centre, position, S, lowest, d)` for every circle whose cases
    /// changed since the circle last visited for the same centre; `d[o]` holds the
    /// circle's cases `o` days before the last day and `lowest` is the smallest offset
    /// that changed.
    ///
    /// Skipping is exact: a circle that only gained case-free locations, or a length
    /// `l < lowest`, has the same count as a cylinder already visited and a larger
    /// expectation, so its ratio is smaller.
    #[inline]
    fn walk(
        &self,
        recent: &Recent,
        d: &mut [u32],
        mut visit: impl FnMut(usize, usize, u64, usize, &[u32]),
    ) {
        let c = &self.circles;
        for i in 0..self.n_loc {
            d.fill(0);
            let mut lowest = usize::MAX;
            let (from, to) = match (c.offsets.get(i), c.offsets.get(i + 1)) {
                (Some(&a), Some(&b)) => (a, b),
                _ => continue,
            };
            let entries = c.entries.get(from..to).unwrap_or(&[]);
            for (k, &(z, s)) in entries.iter().enumerate() {
                let (days, counts) = recent.of(z as usize);
                for (&o, &n) in days.iter().zip(counts) {
                    if let Some(slot) = d.get_mut(o as usize) {
                        *slot += n;
                        lowest = lowest.min(o as usize);
                    }
                }
                if s == NOT_CLOSING || lowest == usize::MAX {
                    continue;
                }
                visit(i, from + k, u64::from(s), lowest, d);
                lowest = usize::MAX;
            }
        }
    }

    /// Best cylinder per centre; used on the observed data.
    fn pass_full(&self, recent: &Recent, best: &mut [Best], d: &mut [u32]) {
        best.fill(Best::NONE);
        let kernel = &self.kernel;
        self.walk(recent, d, |i, pos, s, lowest, d| {
            let Some(b) = best.get_mut(i) else { return };
            let ln_s = kernel.ln_sum(s);
            let mut cases = prefix(d, lowest);
            for (l, &dl) in d.iter().enumerate().skip(lowest) {
                cases += u64::from(dl);
                if !kernel.eligible(cases, s, l) {
                    continue;
                }
                let llr = kernel.llr(cases, s, ln_s, l);
                if llr > b.llr {
                    *b = Best {
                        llr,
                        pos,
                        l,
                        c: cases,
                        s,
                    };
                }
            }
        });
    }

    /// Largest ratio of one replicate; the exact ratio is only computed where the cheap
    /// bound says the running maximum could be beaten.
    fn pass_replicate(&self, recent: &Recent, d: &mut [u32]) -> f64 {
        let kernel = &self.kernel;
        let mut top = 0.0f64;
        let total = kernel.total_f;
        let min_cases = kernel.min_cases;
        self.walk(recent, d, |_, _, s, lowest, d| {
            let mut cases = prefix(d, lowest);
            let mut ln_s = None;
            let s_f = s as f64;
            let shares = kernel.recent_share.iter();
            for (l, (&dl, &share)) in d.iter().zip(shares).enumerate().skip(lowest) {
                cases += u64::from(dl);
                // Quick necessary condition for beating `top`: the ratio `g(c)` has
                // `g(μ) = g'(μ) = 0` and `g'' = 1/x + 1/(C−x)`, so
                // `g(c) ≤ (c−μ)²·(1/μ + 1/(C−c))/2`. Nearly every cylinder of a replicate
                // fails it; `eligible` then decides exactly.
                // The tests are combined without short-circuits: each alone is a coin
                // flip the branch predictor cannot learn, together they rarely pass.
                let mu = s_f * share;
                let c = cases as f64;
                let dev = c - mu;
                let out = total - c;
                let quick = (dev > 0.0)
                    & (cases >= min_cases)
                    & (dev * dev * (out + mu) >= 2.0 * top * (1.0 - 1e-9) * mu * out);
                if !quick || !kernel.eligible(cases, s, l) {
                    continue;
                }
                let ln_s = *ln_s.get_or_insert_with(|| kernel.ln_sum(s));
                if kernel.may_exceed(cases, s, ln_s, l, top) {
                    top = top.max(kernel.llr(cases, s, ln_s, l));
                }
            }
        });
        top
    }

    fn run(mut self, config: &ScanConfig) -> ScanResult {
        let mut observed_best = vec![Best::NONE; self.n_loc];
        let mut d = vec![0u32; self.max_l];
        self.pass_full(&self.observed, &mut observed_best, &mut d);

        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut maxima = Vec::with_capacity(config.replications);
        let n_recent = self.recent_offsets.len();
        let mut rep = Recent {
            offsets: vec![0; self.n_loc + 1],
            day: vec![0; n_recent],
            count: vec![1; n_recent],
        };
        let mut cursor = vec![0usize; self.n_loc];
        for _ in 0..config.replications {
            self.permute_recent(&mut rng, &mut rep, &mut cursor);
            maxima.push(self.pass_replicate(&rep, &mut d));
        }
        maxima.sort_unstable_by(|a, b| b.total_cmp(a));

        let clusters = self.select_clusters(&observed_best, &maxima, config);
        let critical = |alpha: f64| {
            // The k-th largest replicate maximum is the threshold for p ≤ k / (R + 1).
            let k = (alpha * (maxima.len() + 1) as f64).floor() as usize;
            k.checked_sub(1).and_then(|i| maxima.get(i)).copied()
        };
        ScanResult {
            total_cases: self.total,
            first_day: self.first_day,
            last_day: self.last_day,
            max_days: self.max_l,
            replications: config.replications,
            critical_llr_05: critical(0.05),
            critical_llr_01: critical(0.01),
            clusters,
        }
    }

    /// Gives the recent dates to a uniformly random subset of the cases: a partial
    /// Fisher–Yates shuffle of the case locations is enough, since only the cases that
    /// land in the last `max_l` days can be inside a cylinder.
    fn permute_recent(&mut self, rng: &mut ChaCha8Rng, rep: &mut Recent, cursor: &mut [usize]) {
        let n = self.case_loc.len();
        let m = self.recent_offsets.len().min(n);
        for j in 0..m {
            let k = rng.random_range(j..n);
            self.case_loc.swap(j, k);
        }
        // Counting sort of the chosen cases by location.
        rep.offsets.fill(0);
        for &z in self.case_loc.iter().take(m) {
            if let Some(slot) = rep.offsets.get_mut(z as usize + 1) {
                *slot += 1;
            }
        }
        for z in 1..rep.offsets.len() {
            let prev = rep.offsets.get(z - 1).copied().unwrap_or(0);
            if let Some(slot) = rep.offsets.get_mut(z) {
                *slot += prev;
            }
        }
        cursor.copy_from_slice(rep.offsets.get(..self.n_loc).unwrap_or(&[]));
        for (&z, &o) in self.case_loc.iter().zip(&self.recent_offsets) {
            if let Some(at) = cursor.get_mut(z as usize) {
                if let Some(slot) = rep.day.get_mut(*at) {
                    *slot = o;
                }
                *at += 1;
            }
        }
    }

    fn select_clusters(
        &self,
        observed_best: &[Best],
        maxima: &[f64],
        config: &ScanConfig,
    ) -> Vec<Cluster> {
        let mut order: Vec<usize> = (0..observed_best.len())
            .filter(|&i| observed_best.get(i).is_some_and(|b| b.llr > 0.0))
            .collect();
        // Ties go to the lower centre index so the output is deterministic.
        order.sort_by(|&a, &b| {
            let (la, lb) = (
                observed_best.get(a).map_or(0.0, |x| x.llr),
                observed_best.get(b).map_or(0.0, |x| x.llr),
            );
            lb.total_cmp(&la).then(a.cmp(&b))
        });
        let mut taken = vec![false; self.n_loc];
        let mut out = Vec::new();
        for i in order {
            if out.len() >= config.max_clusters {
                break;
            }
            let Some(b) = observed_best.get(i).copied() else {
                continue;
            };
            let from = self.circles.offsets.get(i).copied().unwrap_or(0);
            let members: Vec<usize> = self
                .circles
                .entries
                .get(from..=b.pos)
                .unwrap_or(&[])
                .iter()
                .map(|&(z, _)| z as usize)
                .collect();
            if members
                .iter()
                .any(|&z| taken.get(z).copied().unwrap_or(true))
            {
                continue;
            }
            for &z in &members {
                if let Some(t) = taken.get_mut(z) {
                    *t = true;
                }
            }
            out.push(self.cluster(i, members, b, maxima, config));
        }
        out
    }

    fn cluster(
        &self,
        centre: usize,
        members: Vec<usize>,
        b: Best,
        maxima: &[f64],
        config: &ScanConfig,
    ) -> Cluster {
        let expected = self.kernel.expected(b.s, b.l);
        let observed = b.c;
        let total = self.total as f64;
        let inside = observed as f64 / expected;
        let outside = (total - observed as f64) / (total - expected);
        let relative_risk = (observed < self.total && outside > 0.0).then(|| inside / outside);
        // Replicate maxima are computed by the same arithmetic as the observed ratio, so
        // an exact tie is a real tie; the tiny slack only guards against it being missed.
        let threshold = b.llr * (1.0 - 1e-12);
        let at_least = maxima.partition_point(|&m| m >= threshold);
        let p_value = (at_least + 1) as f64 / (maxima.len() + 1) as f64;
        let days = b.l + 1;
        Cluster {
            centre,
            members,
            radius: self.circles.dist.get(b.pos).copied().unwrap_or(0.0),
            start_day: self.last_day + 1 - days,
            end_day: self.last_day,
            days,
            observed,
            expected,
            observed_over_expected: inside,
            relative_risk,
            log_likelihood_ratio: b.llr,
            p_value,
            recurrence_interval_days: config.analysis_interval_days / p_value,
        }
    }
}

/// Cases in the first `n` day offsets of a circle.
fn prefix(d: &[u32], n: usize) -> u64 {
    d.get(..n)
        .unwrap_or(&[])
        .iter()
        .map(|&x| u64::from(x))
        .sum()
}

/// Neighbour lists per centre, cut at the spatial limits, with the case sum of each circle
/// at the positions where one closes (no tie with the next member).
fn build_circles(
    locations: &[Point],
    loc_total: &[u64],
    total: u64,
    config: &ScanConfig,
) -> Circles {
    let n = locations.len();
    let share_cap = config.max_share_of_cases * total as f64;
    let radius_cap = config.max_radius.unwrap_or(f64::INFINITY);
    let count_cap = config.max_locations.unwrap_or(usize::MAX);
    let mut offsets = Vec::with_capacity(n + 1);
    let mut entries = Vec::new();
    let mut dist = Vec::new();
    offsets.push(0);
    let mut scratch: Vec<(f64, u32)> = Vec::with_capacity(n);
    for p in locations {
        scratch.clear();
        scratch.extend(locations.iter().enumerate().map(|(j, q)| {
            let (dx, dy) = (q.x - p.x, q.y - p.y);
            ((dx * dx + dy * dy).sqrt(), j as u32)
        }));
        scratch.sort_unstable_by(|a, b| match a.0.total_cmp(&b.0) {
            Ordering::Equal => a.1.cmp(&b.1),
            o => o,
        });
        // Admit whole groups of equidistant locations: a circle cannot hold one of two
        // places at the same distance from its centre.
        let mut s = 0u64;
        let mut k = 0usize;
        while k < scratch.len() {
            let r = scratch.get(k).map_or(f64::INFINITY, |x| x.0);
            let mut end = k;
            let mut group_sum = 0u64;
            while let Some(&(dj, j)) = scratch.get(end) {
                if dj.total_cmp(&r) != Ordering::Equal {
                    break;
                }
                group_sum += loc_total.get(j as usize).copied().unwrap_or(0);
                end += 1;
            }
            let new_s = s + group_sum;
            if r > radius_cap || end > count_cap || new_s as f64 > share_cap {
                break;
            }
            for &(dj, j) in scratch.get(k..end).unwrap_or(&[]) {
                entries.push((j, NOT_CLOSING));
                dist.push(dj);
            }
            if let Some(last) = entries.last_mut() {
                // Sums are at most MAX_CASES, far below the marker.
                last.1 = u32::try_from(new_s).unwrap_or(NOT_CLOSING - 1);
            }
            s = new_s;
            k = end;
        }
        offsets.push(entries.len());
    }
    Circles {
        offsets,
        entries,
        dist,
    }
}

#[cfg(test)]
mod tests {
    use super::{Best, Point, Prepared, Recent, ScanConfig, ScanError, ScanResult, scan};
    use proptest::prelude::*;
    use rand::distr::{Distribution, weighted::WeightedIndex};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Synthetic locations scattered uniformly over a 100 × 100 square.
    fn synthetic_points(n: usize, rng: &mut ChaCha8Rng) -> Vec<Point> {
        (0..n)
            .map(|_| Point {
                x: rng.random_range(0.0..100.0),
                y: rng.random_range(0.0..100.0),
            })
            .collect()
    }

    /// Synthetic counts under the null: each case draws its location and its day
    /// independently, so space and time do not interact.
    fn null_counts(
        n_loc: usize,
        n_days: usize,
        cases: usize,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Vec<u32>> {
        let loc_w: Vec<f64> = (0..n_loc).map(|_| rng.random_range(0.2..3.0)).collect();
        // A weekly rhythm and a slow trend, as real opinion counts have.
        let day_w: Vec<f64> = (0..n_days)
            .map(|d| (1.0 + 0.02 * d as f64) * if d % 7 < 5 { 1.0 } else { 0.5 })
            .collect();
        let (Ok(loc_d), Ok(day_d)) = (WeightedIndex::new(&loc_w), WeightedIndex::new(&day_w))
        else {
            return vec![vec![0; n_days]; n_loc];
        };
        let mut counts = vec![vec![0u32; n_days]; n_loc];
        for _ in 0..cases {
            let (z, d) = (loc_d.sample(rng), day_d.sample(rng));
            if let Some(cell) = counts.get_mut(z).and_then(|r| r.get_mut(d)) {
                *cell += 1;
            }
        }
        counts
    }

    fn quick(seed: u64, replications: usize) -> ScanConfig {
        ScanConfig {
            replications,
            seed,
            ..ScanConfig::default()
        }
    }

    /// Straightforward reference: every circle of k nearest locations (distinct
    /// distances), every length, expected counts straight from the definition.
    fn brute_force_max_llr(counts: &[Vec<u32>], pts: &[Point], cfg: &ScanConfig) -> f64 {
        let n_days = counts[0].len();
        let c_z: Vec<f64> = counts
            .iter()
            .map(|r| r.iter().sum::<u32>() as f64)
            .collect();
        let c_d: Vec<f64> = (0..n_days)
            .map(|d| counts.iter().map(|r| r[d] as f64).sum())
            .collect();
        let total: f64 = c_z.iter().sum();
        let mut best: f64 = 0.0;
        for p in pts {
            let mut order: Vec<usize> = (0..pts.len()).collect();
            let dist = |j: usize| ((pts[j].x - p.x).powi(2) + (pts[j].y - p.y).powi(2)).sqrt();
            order.sort_by(|&a, &b| dist(a).total_cmp(&dist(b)));
            for k in 1..=pts.len() {
                let set = &order[..k];
                let s: f64 = set.iter().map(|&z| c_z[z]).sum();
                if s > cfg.max_share_of_cases * total {
                    break;
                }
                for l in 1..=cfg.max_days.min(n_days) {
                    let days = n_days - l..n_days;
                    let c: f64 = set
                        .iter()
                        .map(|&z| days.clone().map(|d| counts[z][d] as f64).sum::<f64>())
                        .sum();
                    let mu: f64 = set
                        .iter()
                        .map(|&z| days.clone().map(|d| c_z[z] * c_d[d] / total).sum::<f64>())
                        .sum();
                    if c >= cfg.min_cases as f64 && c > mu {
                        let llr = c * (c / mu).ln()
                            + if total > c {
                                (total - c) * ((total - c) / (total - mu)).ln()
                            } else {
                                0.0
                            };
                        best = best.max(llr);
                    }
                }
            }
        }
        best
    }

    #[test]
    fn matches_brute_force_on_small_tables() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for round in 0..20 {
            let pts = synthetic_points(15, &mut rng);
            let counts = null_counts(15, 12, 60 + round * 5, &mut rng);
            let cfg = ScanConfig {
                max_days: 1 + round % 6,
                max_share_of_cases: 0.3 + 0.03 * round as f64,
                ..quick(round as u64, 9)
            };
            let got = scan(&counts, &pts, &cfg)
                .map(|r| r.clusters.first().map_or(0.0, |c| c.log_likelihood_ratio));
            let want = brute_force_max_llr(&counts, &pts, &cfg);
            let got = got.unwrap_or(-1.0);
            assert!(
                (got - want).abs() < 1e-9 * want.max(1.0),
                "round {round}: {got} vs {want}"
            );
        }
    }

    /// The pruned replicate pass must find exactly the maximum of the unpruned one.
    #[test]
    fn replicate_pruning_is_exact() {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        for round in 0..6u64 {
            let pts = synthetic_points(50, &mut rng);
            let counts = null_counts(50, 30, 300 + 100 * round as usize, &mut rng);
            let cfg = ScanConfig {
                max_days: 3 + 5 * round as usize,
                ..quick(round, 1)
            };
            let Ok(mut prep) = Prepared::new(&counts, &pts, &cfg) else {
                panic!("prepare failed")
            };
            let n_recent = prep.recent_offsets.len();
            let mut rep = Recent {
                offsets: vec![0; prep.n_loc + 1],
                day: vec![0; n_recent],
                count: vec![1; n_recent],
            };
            let mut cursor = vec![0; prep.n_loc];
            let mut d = vec![0; prep.max_l];
            let mut best = vec![Best::NONE; prep.n_loc];
            for _ in 0..20 {
                prep.permute_recent(&mut rng, &mut rep, &mut cursor);
                let pruned = prep.pass_replicate(&rep, &mut d);
                prep.pass_full(&rep, &mut best, &mut d);
                let full = best.iter().map(|b| b.llr).fold(0.0, f64::max);
                assert_eq!(pruned, full);
                // The permutation keeps each location's number of recent cases drawn from
                // the case pool; the total recent count is fixed.
                assert_eq!(rep.day.len(), n_recent);
            }
        }
    }

    #[test]
    fn reported_cluster_figures_are_consistent() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let pts = synthetic_points(30, &mut rng);
        let counts = null_counts(30, 20, 300, &mut rng);
        let res = scan(&counts, &pts, &quick(5, 99)).unwrap_or_else(|e| panic!("{e}"));
        assert!(!res.clusters.is_empty());
        let total = res.total_cases as f64;
        for c in &res.clusters {
            let obs: u64 = c
                .members
                .iter()
                .map(|&z| {
                    counts[z][c.start_day..=c.end_day]
                        .iter()
                        .map(|&x| u64::from(x))
                        .sum::<u64>()
                })
                .sum();
            assert_eq!(obs, c.observed);
            let c_z: f64 = c
                .members
                .iter()
                .map(|&z| counts[z].iter().sum::<u32>() as f64)
                .sum();
            let c_d: f64 = (c.start_day..=c.end_day)
                .map(|d| counts.iter().map(|r| r[d] as f64).sum::<f64>())
                .sum();
            assert!((c.expected - c_z * c_d / total).abs() < 1e-9);
            assert_eq!(c.members[0], c.centre);
            assert_eq!(c.end_day, 19);
            assert_eq!(c.days, c.end_day - c.start_day + 1);
            assert!(c.observed as f64 > c.expected);
            assert!(c.p_value > 0.0 && c.p_value <= 1.0);
            assert!((c.recurrence_interval_days - 1.0 / c.p_value).abs() < 1e-9);
        }
        for w in res.clusters.windows(2) {
            assert!(w[0].log_likelihood_ratio >= w[1].log_likelihood_ratio);
            assert!(w[0].p_value <= w[1].p_value);
        }
        let json = serde_json::to_string(&res).unwrap_or_default();
        assert!(json.contains("\"log_likelihood_ratio\""));
    }

    #[test]
    fn same_seed_same_answer_and_seed_matters_only_for_p_values() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let pts = synthetic_points(25, &mut rng);
        let counts = null_counts(25, 30, 400, &mut rng);
        let a = scan(&counts, &pts, &quick(1, 199));
        let b = scan(&counts, &pts, &quick(1, 199));
        let c = scan(&counts, &pts, &quick(2, 199));
        assert_eq!(a, b);
        let (Ok(a), Ok(c)) = (a, c) else {
            panic!("scan failed")
        };
        let strip = |r: &ScanResult| {
            r.clusters
                .iter()
                .map(|c| (c.centre, c.members.clone(), c.observed, c.days))
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&a), strip(&c));
    }

    /// Under the null the Monte Carlo p-value of the most likely cluster is uniform
    /// (exactly so for the permutation null, up to ties), so P(p ≤ 0.05) = 0.05.
    #[test]
    fn null_calibration_p_values_are_uniform() {
        let sets = 1000;
        let mut at_01 = 0usize;
        let mut at_05 = 0usize;
        let mut at_50 = 0usize;
        let mut rng = ChaCha8Rng::seed_from_u64(2005);
        for s in 0..sets {
            let pts = synthetic_points(40, &mut rng);
            let counts = null_counts(40, 28, 250, &mut rng);
            let res = scan(&counts, &pts, &quick(1000 + s as u64, 99));
            let p = res
                .ok()
                .and_then(|r| r.clusters.first().map(|c| c.p_value))
                .unwrap_or(1.0);
            at_01 += usize::from(p <= 0.01);
            at_05 += usize::from(p <= 0.05);
            at_50 += usize::from(p <= 0.5);
        }
        eprintln!(
            "null calibration: {at_01} / {at_05} / {at_50} of {sets} at p <= 0.01 / 0.05 / 0.5"
        );
        // Binomial(1000, 0.05): mean 50, sd 6.9; Binomial(1000, 0.5): mean 500, sd 15.8;
        // Binomial(1000, 0.01): mean 10, sd 3.1. Bands of ±3.5 sd, so a correct scan
        // fails this about once in two thousand seeds.
        assert!(at_01 <= 21, "{at_01} of {sets} at p <= 0.01");
        assert!((26..=74).contains(&at_05), "{at_05} of {sets} at p <= 0.05");
        assert!(
            (445..=555).contains(&at_50),
            "{at_50} of {sets} at p <= 0.5"
        );
    }

    #[test]
    fn planted_cluster_is_found() {
        let mut rng = ChaCha8Rng::seed_from_u64(77);
        let pts = synthetic_points(60, &mut rng);
        let mut counts = null_counts(60, 40, 600, &mut rng);
        // Synthetic outbreak: the centre and its 3 nearest neighbours get 4 extra cases
        // a day over the last 3 days.
        let centre = 17usize;
        let mut order: Vec<usize> = (0..60).collect();
        let d = |j: usize| (pts[j].x - pts[centre].x).powi(2) + (pts[j].y - pts[centre].y).powi(2);
        order.sort_by(|&a, &b| d(a).total_cmp(&d(b)));
        let planted = &order[..4];
        for &z in planted {
            for cell in &mut counts[z][37..40] {
                *cell += 4;
            }
        }
        let res = scan(&counts, &pts, &quick(9, 999)).unwrap_or_else(|e| panic!("{e}"));
        let top = &res.clusters[0];
        assert!(top.p_value <= 0.002, "p = {}", top.p_value);
        let hit = top.members.iter().filter(|z| planted.contains(z)).count();
        assert!(hit >= 3, "cluster {:?} vs planted {planted:?}", top.members);
        assert!(top.start_day >= 35 && top.end_day == 39);
        assert!(
            res.critical_llr_05
                .is_some_and(|c| top.log_likelihood_ratio > c)
        );
    }

    #[test]
    fn degenerate_margins_give_no_cluster() {
        let pts = vec![Point { x: 0.0, y: 0.0 }, Point { x: 1.0, y: 0.0 }];
        // All cases on one day: every cylinder observes what it expects.
        let counts = vec![vec![0, 0, 5], vec![0, 0, 3]];
        let r = scan(&counts, &pts, &quick(1, 19)).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.clusters.is_empty());
        // All cases in one place.
        let counts = vec![vec![1, 4, 5], vec![0, 0, 0]];
        let r = scan(&counts, &pts, &quick(1, 19)).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.clusters.is_empty());
    }

    #[test]
    fn equidistant_locations_enter_a_circle_together() {
        let pts = vec![
            Point { x: 0.0, y: 0.0 },
            Point { x: 1.0, y: 0.0 },
            Point { x: -1.0, y: 0.0 },
            Point { x: 5.0, y: 5.0 },
        ];
        let counts = vec![vec![5, 0, 9], vec![5, 5, 0], vec![5, 5, 0], vec![6, 6, 0]];
        let cfg = ScanConfig {
            max_days: 1,
            ..quick(1, 19)
        };
        let r = scan(&counts, &pts, &cfg).unwrap_or_else(|e| panic!("{e}"));
        for c in &r.clusters {
            assert!(!(c.members.contains(&1) ^ c.members.contains(&2)) || c.centre != 0);
        }
    }

    #[test]
    fn window_restricts_the_study_period() {
        let pts = vec![
            Point { x: 0.0, y: 0.0 },
            Point { x: 1.0, y: 0.0 },
            Point { x: 9.0, y: 0.0 },
        ];
        let counts = vec![
            vec![2, 2, 2, 9, 50],
            vec![2, 2, 2, 1, 50],
            vec![2, 2, 2, 1, 0],
        ];
        let cfg = ScanConfig {
            window: Some((0, 3)),
            max_share_of_cases: 0.6,
            max_days: 1,
            min_cases: 1,
            ..quick(1, 99)
        };
        let r = scan(&counts, &pts, &cfg).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.first_day, r.last_day, r.total_cases), (0, 3, 29));
        let top = &r.clusters[0];
        assert_eq!(
            (top.start_day, top.end_day, top.centre, top.observed),
            (3, 3, 0, 9)
        );
    }

    #[test]
    fn bad_input_is_an_error_with_a_code() {
        let p = |x: f64| Point { x, y: 0.0 };
        let cfg = ScanConfig::default();
        let cases = [
            (scan(&[], &[], &cfg), "scan.no_locations"),
            (scan(&[vec![]], &[p(0.0)], &cfg), "scan.no_days"),
            (
                scan(&[vec![1, 2], vec![1]], &[p(0.0), p(1.0)], &cfg),
                "scan.ragged_counts",
            ),
            (
                scan(&[vec![1, 2]], &[p(0.0), p(1.0)], &cfg),
                "scan.location_mismatch",
            ),
            (
                scan(&[vec![1, 2]], &[p(f64::NAN)], &cfg),
                "scan.non_finite_coordinate",
            ),
            (
                scan(&[vec![1, 2]], &[p(f64::INFINITY)], &cfg),
                "scan.non_finite_coordinate",
            ),
            (scan(&[vec![0, 0]], &[p(0.0)], &cfg), "scan.no_cases"),
            (
                scan(
                    &[vec![1, 2]],
                    &[p(0.0)],
                    &ScanConfig {
                        window: Some((1, 2)),
                        ..cfg.clone()
                    },
                ),
                "scan.invalid_window",
            ),
            (
                scan(
                    &[vec![1, 2]],
                    &[p(0.0)],
                    &ScanConfig {
                        window: Some((1, 0)),
                        ..cfg.clone()
                    },
                ),
                "scan.invalid_window",
            ),
            (
                scan(
                    &[vec![0, 2]],
                    &[p(0.0)],
                    &ScanConfig {
                        window: Some((0, 0)),
                        ..cfg.clone()
                    },
                ),
                "scan.no_cases",
            ),
        ];
        for (got, code) in cases {
            assert_eq!(got.err().map(|e| e.code()), Some(code));
        }
        let bad = [
            ScanConfig {
                max_share_of_cases: 0.0,
                ..cfg.clone()
            },
            ScanConfig {
                max_share_of_cases: f64::NAN,
                ..cfg.clone()
            },
            ScanConfig {
                max_share_of_cases: 1.5,
                ..cfg.clone()
            },
            ScanConfig {
                max_radius: Some(-1.0),
                ..cfg.clone()
            },
            ScanConfig {
                max_radius: Some(f64::NAN),
                ..cfg.clone()
            },
            ScanConfig {
                max_locations: Some(0),
                ..cfg.clone()
            },
            ScanConfig {
                max_days: 0,
                ..cfg.clone()
            },
            ScanConfig {
                min_cases: 0,
                ..cfg.clone()
            },
            ScanConfig {
                replications: 0,
                ..cfg.clone()
            },
            ScanConfig {
                analysis_interval_days: 0.0,
                ..cfg.clone()
            },
        ];
        for c in bad {
            let e = scan(&[vec![1, 2]], &[p(0.0)], &c).err();
            assert_eq!(
                e.as_ref().map(|e| e.code()),
                Some("scan.invalid_config"),
                "{c:?}"
            );
            assert!(e.is_some_and(|e| !e.to_string().is_empty()));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn never_panics_and_keeps_invariants(
            n_loc in 1usize..8,
            n_days in 1usize..8,
            cells in proptest::collection::vec(0u32..6, 64),
            coords in proptest::collection::vec(-3i32..3, 16),
            max_days in 1usize..10,
            share in 0.05f64..1.0,
            min_cases in 1u64..4,
            radius in proptest::option::of(0.0f64..4.0),
            seed in any::<u64>(),
        ) {
            let counts: Vec<Vec<u32>> = (0..n_loc)
                .map(|z| (0..n_days).map(|d| cells[(z * n_days + d) % cells.len()]).collect())
                .collect();
            // Small integer grid so ties and co-located places occur.
            let pts: Vec<Point> = (0..n_loc)
                .map(|z| Point { x: f64::from(coords[2 * z]), y: f64::from(coords[2 * z + 1]) })
                .collect();
            let cfg = ScanConfig {
                max_days,
                max_share_of_cases: share,
                min_cases,
                max_radius: radius,
                ..quick(seed, 19)
            };
            match scan(&counts, &pts, &cfg) {
                Err(e) => prop_assert_eq!(e, ScanError::NoCases),
                Ok(r) => {
                    let mut seen = vec![false; n_loc];
                    for c in &r.clusters {
                        prop_assert!(c.observed >= min_cases);
                        prop_assert!(c.observed as f64 > c.expected && c.expected > 0.0);
                        prop_assert!(c.log_likelihood_ratio > 0.0 && c.log_likelihood_ratio.is_finite());
                        prop_assert!(c.p_value > 0.0 && c.p_value <= 1.0);
                        prop_assert!(c.days <= max_days && c.end_day == n_days - 1);
                        prop_assert!(radius.is_none_or(|r| c.radius <= r));
                        let s: u64 = c.members.iter().map(|&z| counts[z].iter().map(|&x| u64::from(x)).sum::<u64>()).sum();
                        prop_assert!(s as f64 <= share * r.total_cases as f64);
                        for &z in &c.members {
                            prop_assert!(!seen[z]);
                            seen[z] = true;
                        }
                    }
                }
            }
        }
    }
}
