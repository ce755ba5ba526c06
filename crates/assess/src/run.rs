//! Scoring: normalisation, missing-data treatment, weights, jurisdiction conditions,
//! ranking, built-in Monte Carlo rank uncertainty and rule evaluation, assembled into a
//! [`RunResult`].
//!
//! Order of work (documented in SCHEME.md): validate and canonicalise the input; drop
//! units excluded for missing data; normalise each indicator over the remaining units'
//! observed values; impute or re-weight missing cells; score; apply jurisdiction
//! conditions; rank; estimate rank uncertainty; apply rules.

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::RunError;
use crate::input::{RunInput, UnitInput};
use crate::result::{
    BasisResult, ConditionResult, ConditionStatus, ExcludedUnit, ExclusionReason, GroupResult,
    IndicatorResult, MissingApplied, MonteCarloInfo, RESULT_FORMAT, Reason, RuleOutcome, RunResult,
    SchemeRef, UncertaintyResult, UncertaintySource, UnitResult,
};
use crate::scheme::{
    Basis, Direction, Effect, End, Indicator, MissingTreatment, Normalisation, OutcomeCode, Rule,
    Scheme,
};

/// Scores are compared (and reported) after rounding to this many decimals, so that
/// sums that differ only in their last bits tie as they should.
pub const SCORE_DECIMALS: i32 = 9;

/// Rounds a score to [`SCORE_DECIMALS`].
pub fn round_score(x: f64) -> f64 {
    let f = 10f64.powi(SCORE_DECIMALS);
    let r = (x * f).round() / f;
    if r == 0.0 { 0.0 } else { r }
}

/// Competition ranks ("1224"): 1 + the number of strictly greater scores; `None` stays unranked.
pub fn competition_ranks(scores: &[Option<f64>]) -> Vec<Option<u32>> {
    let mut sorted: Vec<f64> = scores.iter().flatten().copied().collect();
    sorted.sort_by(|a, b| b.total_cmp(a));
    scores
        .iter()
        .map(|s| {
            s.map(|x| {
                let greater = sorted.partition_point(|&v| v > x);
                u32::try_from(greater).unwrap_or(u32::MAX - 1) + 1
            })
        })
        .collect()
}

/// One cell of the normalised matrix.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cell {
    pub n: Option<f64>,
    pub missing: Option<MissingApplied>,
}

/// A jurisdiction evaluation for one unit.
#[derive(Debug, Clone)]
pub(crate) struct Adjust {
    pub results: Vec<ConditionResult>,
    pub penalty: f64,
    pub cap: Option<f64>,
}

impl Adjust {
    pub fn apply(&self, base: f64) -> f64 {
        let s = base - self.penalty;
        round_score(match self.cap {
            Some(c) => s.min(c),
            None => s,
        })
    }
}

/// The prepared run: canonical input, flattened indicators, the included units' raw values.
pub(crate) struct Model<'a> {
    pub scheme: &'a Scheme,
    pub input: RunInput,
    pub ind: Vec<(&'a Indicator, usize)>,
    /// Positions in `input.units` of included units, in code order.
    pub included: Vec<usize>,
    pub excluded: Vec<ExcludedUnit>,
    /// [unit][indicator] raw values of included units.
    pub raw: Vec<Vec<Option<f64>>>,
    /// [unit][indicator] standard errors (0 when not given).
    pub se: Vec<Vec<f64>>,
    /// Indicator mask of the basis; None when the basis is the score.
    pub basis_mask: Option<Vec<bool>>,
}

impl<'a> Model<'a> {
    pub fn build(scheme: &'a Scheme, input: &RunInput) -> Result<Self, RunError> {
        input.validate(scheme)?;
        let input = input.canonicalised();
        let ind: Vec<(&Indicator, usize)> = scheme
            .groups
            .iter()
            .enumerate()
            .flat_map(|(g, grp)| grp.indicators.iter().map(move |i| (i, g)))
            .collect();
        let mut included = Vec::new();
        let mut excluded = Vec::new();
        for (pos, u) in input.units.iter().enumerate() {
            let reasons: Vec<ExclusionReason> = ind
                .iter()
                .filter(|(i, _)| {
                    i.missing == MissingTreatment::ExcludeUnit && !u.values.contains_key(&i.id)
                })
                .map(|(i, _)| ExclusionReason::MissingIndicator {
                    indicator: i.id.clone(),
                })
                .collect();
            if reasons.is_empty() {
                included.push(pos);
            } else {
                excluded.push(ExcludedUnit {
                    unit: u.code.clone(),
                    reasons,
                });
            }
        }
        let units: Vec<&UnitInput> = included
            .iter()
            .filter_map(|&p| input.units.get(p))
            .collect();
        let raw = units
            .iter()
            .map(|u| {
                ind.iter()
                    .map(|(i, _)| u.values.get(&i.id).map(|v| v.value))
                    .collect()
            })
            .collect();
        let se = units
            .iter()
            .map(|u| {
                ind.iter()
                    .map(|(i, _)| u.values.get(&i.id).and_then(|v| v.se).unwrap_or(0.0))
                    .collect()
            })
            .collect();
        let basis_mask = match &scheme.ranking {
            Basis::Score => None,
            Basis::Indicators { indicators } => Some(
                ind.iter()
                    .map(|(i, _)| indicators.iter().any(|b| b == &i.id))
                    .collect(),
            ),
        };
        Ok(Model {
            scheme,
            input,
            ind,
            included,
            excluded,
            raw,
            se,
            basis_mask,
        })
    }

    pub fn unit(&self, u: usize) -> Option<&UnitInput> {
        self.included.get(u).and_then(|&p| self.input.units.get(p))
    }

    pub fn n_units(&self) -> usize {
        self.included.len()
    }

    /// Normalises and imputes one indicator column given raw values of included units.
    pub fn column(&self, col: usize, raw: &[Option<f64>]) -> Result<Vec<Cell>, RunError> {
        let Some(&(ind, _)) = self.ind.get(col) else {
            return Ok(Vec::new());
        };
        let norm = normalise(raw, &ind.normalisation, ind.direction).ok_or_else(|| {
            RunError::IndicatorHasNoData {
                indicator: ind.id.clone(),
            }
        })?;
        let observed: Vec<f64> = norm.iter().flatten().copied().collect();
        let worst = observed.iter().copied().fold(f64::INFINITY, f64::min);
        let all_mean = observed.iter().sum::<f64>() / observed.len().max(1) as f64;
        let cells = norm
            .iter()
            .enumerate()
            .map(|(u, n)| match (n, ind.missing) {
                (Some(x), _) => Cell {
                    n: Some(*x),
                    missing: None,
                },
                (None, MissingTreatment::WorstObserved) => Cell {
                    n: Some(worst),
                    missing: Some(MissingApplied::WorstObserved),
                },
                (None, MissingTreatment::PeerGroupMean) => {
                    let group = self.unit(u).and_then(|x| x.peer_group.as_ref());
                    let peers: Vec<f64> = match group {
                        Some(g) => norm
                            .iter()
                            .enumerate()
                            .filter(|(v, _)| {
                                self.unit(*v).and_then(|x| x.peer_group.as_ref()) == Some(g)
                            })
                            .filter_map(|(_, n)| *n)
                            .collect(),
                        None => Vec::new(),
                    };
                    if peers.is_empty() {
                        Cell {
                            n: Some(all_mean),
                            missing: Some(MissingApplied::PeerGroupMean {
                                peers: u32::try_from(observed.len()).unwrap_or(u32::MAX),
                                fallback_all_units: true,
                            }),
                        }
                    } else {
                        Cell {
                            n: Some(peers.iter().sum::<f64>() / peers.len() as f64),
                            missing: Some(MissingApplied::PeerGroupMean {
                                peers: u32::try_from(peers.len()).unwrap_or(u32::MAX),
                                fallback_all_units: false,
                            }),
                        }
                    }
                }
                // Filled in row by row once every column is known (see `impute_rows`).
                (None, MissingTreatment::UnitGroupMean) => Cell {
                    n: None,
                    missing: Some(MissingApplied::UnitGroupMean { values: 0 }),
                },
                // Exclusion happened before normalisation; re-weighting is the remaining case.
                (None, _) => Cell {
                    n: None,
                    missing: Some(MissingApplied::GroupReweight),
                },
            })
            .collect();
        Ok(cells)
    }

    /// The full normalised matrix [unit][indicator].
    pub fn cells(&self) -> Result<Vec<Vec<Cell>>, RunError> {
        let n = self.n_units();
        let mut by_unit: Vec<Vec<Cell>> = vec![Vec::with_capacity(self.ind.len()); n];
        for col in 0..self.ind.len() {
            let raw: Vec<Option<f64>> = self
                .raw
                .iter()
                .map(|r| r.get(col).copied().flatten())
                .collect();
            for (u, c) in self.column(col, &raw)?.into_iter().enumerate() {
                if let Some(row) = by_unit.get_mut(u) {
                    row.push(c);
                }
            }
        }
        self.impute_rows(&mut by_unit);
        Ok(by_unit)
    }

    /// Fills `unit_group_mean` cells from the unit's own observed values in the group.
    pub fn impute_rows(&self, cells: &mut [Vec<Cell>]) {
        for row in cells.iter_mut() {
            for col in 0..row.len() {
                let wanted = matches!(
                    row.get(col).and_then(|c| c.missing.as_ref()),
                    Some(MissingApplied::UnitGroupMean { .. })
                );
                let Some(&(_, g)) = self.ind.get(col) else {
                    continue;
                };
                if !wanted {
                    continue;
                }
                let own: Vec<f64> = row
                    .iter()
                    .zip(&self.ind)
                    .filter(|(c, (_, h))| *h == g && c.missing.is_none())
                    .filter_map(|(c, _)| c.n)
                    .collect();
                if let Some(cell) = row.get_mut(col) {
                    cell.n = (!own.is_empty()).then(|| own.iter().sum::<f64>() / own.len() as f64);
                    cell.missing = Some(MissingApplied::UnitGroupMean {
                        values: u32::try_from(own.len()).unwrap_or(u32::MAX),
                    });
                }
            }
        }
    }

    /// Group weights and indicator weights as declared in the scheme.
    pub fn declared_weights(&self) -> (Vec<f64>, Vec<f64>) {
        (
            self.scheme.groups.iter().map(|g| g.weight).collect(),
            self.ind.iter().map(|(i, _)| i.weight).collect(),
        )
    }

    /// Effective weights for a unit whose present indicators are `present`: group shares
    /// renormalised over groups with something present, indicator shares renormalised
    /// within each group over present indicators. None when nothing weighted remains.
    pub fn unit_weights(
        &self,
        present: impl Fn(usize) -> bool,
        group_w: &[f64],
        ind_w: &[f64],
    ) -> Option<Vec<f64>> {
        let mut present_sum = vec![0.0; group_w.len()];
        for (col, &(_, g)) in self.ind.iter().enumerate() {
            if present(col)
                && let (Some(s), Some(w)) = (present_sum.get_mut(g), ind_w.get(col))
            {
                *s += w;
            }
        }
        let active: f64 = group_w
            .iter()
            .zip(&present_sum)
            .filter(|(_, p)| **p > 0.0)
            .map(|(w, _)| *w)
            .sum();
        if active <= 0.0 {
            return None;
        }
        Some(
            self.ind
                .iter()
                .enumerate()
                .map(|(col, &(_, g))| {
                    let p = present_sum.get(g).copied().unwrap_or(0.0);
                    if !present(col) || p <= 0.0 {
                        return 0.0;
                    }
                    let gw = group_w.get(g).copied().unwrap_or(0.0);
                    let w = ind_w.get(col).copied().unwrap_or(0.0);
                    (gw / active) * (w / p)
                })
                .collect(),
        )
    }

    /// Base score (before conditions) from effective weights and normalised values.
    pub fn base_score(e: &[f64], cells: &[Cell]) -> f64 {
        100.0
            * e.iter()
                .zip(cells)
                .map(|(w, c)| w * c.n.unwrap_or(0.0))
                .sum::<f64>()
    }

    /// The basis score for the rules.
    pub fn basis_score(&self, e: &[f64], cells: &[Cell], final_score: f64) -> Option<f64> {
        match &self.basis_mask {
            None => Some(final_score),
            Some(mask) => {
                let mut wb = 0.0;
                let mut s = 0.0;
                for ((w, c), m) in e.iter().zip(cells).zip(mask) {
                    if *m {
                        wb += w;
                        s += w * c.n.unwrap_or(0.0);
                    }
                }
                (wb > 0.0).then(|| round_score(100.0 * s / wb))
            }
        }
    }

    /// Jurisdiction conditions for one included unit.
    pub fn adjust(&self, u: usize) -> Adjust {
        let unit = self.unit(u);
        let mut penalty = 0.0;
        let mut cap: Option<f64> = None;
        let results = self
            .scheme
            .conditions
            .iter()
            .map(|c| {
                let value = unit.and_then(|x| x.jurisdiction.get(&c.source).copied());
                let (status, p, cp) = match value {
                    None => (ConditionStatus::NoData, 0.0, None),
                    Some(v) if c.comparison.holds(v, c.threshold) => match &c.effect {
                        Effect::Penalty { points } => (ConditionStatus::Triggered, *points, None),
                        Effect::PenaltyPerExcess {
                            points_per_unit,
                            max_points,
                        } => {
                            let raw = points_per_unit * c.comparison.excess(v, c.threshold);
                            let pts = max_points.map_or(raw, |m| raw.min(m)).max(0.0);
                            (ConditionStatus::Triggered, pts, None)
                        }
                        Effect::Cap { score } => (ConditionStatus::Triggered, 0.0, Some(*score)),
                    },
                    Some(_) => (ConditionStatus::NotTriggered, 0.0, None),
                };
                penalty += p;
                if let Some(x) = cp {
                    cap = Some(cap.map_or(x, |c: f64| c.min(x)));
                }
                ConditionResult {
                    condition: c.id.clone(),
                    source: c.source.clone(),
                    value,
                    status,
                    penalty: round_score(p),
                    cap: cp,
                }
            })
            .collect();
        Adjust {
            results,
            penalty,
            cap,
        }
    }
}

/// Normalises observed values; None when nothing is observed.
pub(crate) fn normalise(
    raw: &[Option<f64>],
    method: &Normalisation,
    dir: Direction,
) -> Option<Vec<Option<f64>>> {
    let mut obs: Vec<f64> = raw.iter().flatten().copied().collect();
    if obs.is_empty() {
        return None;
    }
    obs.sort_by(f64::total_cmp);
    let lo = obs.first().copied().unwrap_or(0.0);
    let hi = obs.last().copied().unwrap_or(0.0);
    let m = obs.len() as f64;
    let f: Box<dyn Fn(f64) -> f64> = match method {
        Normalisation::MinMax { min, max } => {
            let (a, b) = match (min, max) {
                (Some(a), Some(b)) => (*a, *b),
                _ => (lo, hi),
            };
            if b <= a {
                Box::new(|_| 1.0)
            } else {
                Box::new(move |x| {
                    let t = ((x - a) / (b - a)).clamp(0.0, 1.0);
                    match dir {
                        Direction::Higher => t,
                        Direction::Lower => 1.0 - t,
                    }
                })
            }
        }
        Normalisation::ZScore { clip } => {
            let c = *clip;
            if hi <= lo {
                Box::new(|_| 0.5)
            } else {
                let mean = obs.iter().sum::<f64>() / m;
                let sd = (obs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / m).sqrt();
                Box::new(move |x| {
                    let z = (x - mean) / sd;
                    let z = match dir {
                        Direction::Higher => z,
                        Direction::Lower => -z,
                    };
                    (z.clamp(-c, c) + c) / (2.0 * c)
                })
            }
        }
        Normalisation::Target { floor, target } => {
            let (fl, tg) = (*floor, *target);
            Box::new(move |x| ((x - fl) / (tg - fl)).clamp(0.0, 1.0))
        }
        Normalisation::Threshold { threshold } => {
            let t = *threshold;
            Box::new(move |x| {
                let ok = match dir {
                    Direction::Higher => x >= t,
                    Direction::Lower => x <= t,
                };
                if ok { 1.0 } else { 0.0 }
            })
        }
        Normalisation::Rank => {
            if obs.len() < 2 {
                Box::new(|_| 1.0)
            } else {
                let sorted = obs.clone();
                Box::new(move |x| {
                    let less = sorted.partition_point(|&v| v < x) as f64;
                    let leq = sorted.partition_point(|&v| v <= x) as f64;
                    let equal = leq - less;
                    let worse = match dir {
                        Direction::Higher => less,
                        Direction::Lower => m - leq,
                    };
                    (worse + (equal - 1.0) / 2.0) / (m - 1.0)
                })
            }
        }
    };
    Some(raw.iter().map(|v| v.map(&f)).collect())
}

/// Per-unit results of one evaluation of the model.
pub(crate) struct Evaluation {
    pub cells: Vec<Vec<Cell>>,
    pub weights: Vec<Option<Vec<f64>>>,
    pub adjust: Vec<Adjust>,
    pub base: Vec<Option<f64>>,
    pub score: Vec<Option<f64>>,
    pub basis: Vec<Option<f64>>,
}

impl Model<'_> {
    pub fn evaluate(&self, group_w: &[f64], ind_w: &[f64]) -> Result<Evaluation, RunError> {
        let cells = self.cells()?;
        Ok(self.evaluate_cells(cells, group_w, ind_w))
    }

    pub fn evaluate_cells(
        &self,
        cells: Vec<Vec<Cell>>,
        group_w: &[f64],
        ind_w: &[f64],
    ) -> Evaluation {
        let n = self.n_units();
        let mut weights = Vec::with_capacity(n);
        let mut adjust = Vec::with_capacity(n);
        let mut base = Vec::with_capacity(n);
        let mut score = Vec::with_capacity(n);
        let mut basis = Vec::with_capacity(n);
        for (u, row) in cells.iter().enumerate() {
            let e = self.unit_weights(
                |c| row.get(c).is_some_and(|x| x.n.is_some()),
                group_w,
                ind_w,
            );
            let a = self.adjust(u);
            match &e {
                Some(e) => {
                    let b = Self::base_score(e, row);
                    let s = a.apply(b);
                    base.push(Some(round_score(b)));
                    score.push(Some(s));
                    basis.push(self.basis_score(e, row, s));
                }
                None => {
                    base.push(None);
                    score.push(None);
                    basis.push(None);
                }
            }
            weights.push(e);
            adjust.push(a);
        }
        Evaluation {
            cells,
            weights,
            adjust,
            base,
            score,
            basis,
        }
    }
}

/// Per-unit simulated rank statistics.
#[derive(Debug, Clone)]
pub(crate) struct SimStats {
    pub rank_low: u32,
    pub rank_high: u32,
    pub p_top: BTreeMap<u32, f64>,
    pub p_bottom: BTreeMap<u32, f64>,
}

/// A standard normal draw (Box–Muller, one value per pair of uniforms, so the stream
/// is consumed in a fixed pattern).
pub(crate) fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Ranks per unit of `values`, and how many are ranked.
pub(crate) fn ranks_and_count(values: &[Option<f64>]) -> (Vec<Option<u32>>, u32) {
    let ranks = competition_ranks(values);
    let n = u32::try_from(values.iter().flatten().count()).unwrap_or(u32::MAX);
    (ranks, n)
}

/// True when a rank falls in the top/bottom `k` of `n` ranked units.
pub fn in_selection(end: End, k: u32, rank: u32, n: u32) -> bool {
    match end {
        End::Top => rank <= k,
        End::Bottom => u64::from(rank) + u64::from(k) > u64::from(n),
    }
}

impl Model<'_> {
    /// Basis indicators for which some included unit has a standard error > 0: the
    /// columns the simulation redraws.
    pub fn simulated_columns(&self) -> Vec<usize> {
        (0..self.ind.len())
            .filter(|&c| {
                let in_basis = self
                    .basis_mask
                    .as_ref()
                    .is_none_or(|m| m.get(c).copied().unwrap_or(false));
                in_basis
                    && self
                        .se
                        .iter()
                        .any(|row| row.get(c).copied().unwrap_or(0.0) > 0.0)
            })
            .collect()
    }

    /// Monte Carlo over standard errors of the basis indicators: basis ranks per draw.
    pub fn simulate(&self, eval: &Evaluation) -> Result<Vec<Option<SimStats>>, RunError> {
        let settings = &self.scheme.uncertainty;
        let draws = settings.draws;
        let n = self.n_units();
        let tops: BTreeSet<u32> = rule_ks(&self.scheme.rules, End::Top);
        let bottoms: BTreeSet<u32> = rule_ks(&self.scheme.rules, End::Bottom);
        let cols = self.simulated_columns();
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        // Rank histograms (n × n counts) rather than every draw: memory stays small
        // whatever the number of draws.
        let mut rank_hist: Vec<Vec<u32>> = vec![vec![0; n]; n];
        let mut top_hits: Vec<BTreeMap<u32, u32>> = vec![BTreeMap::new(); n];
        let mut bottom_hits: Vec<BTreeMap<u32, u32>> = vec![BTreeMap::new(); n];
        let mut cells = eval.cells.clone();
        let has_unit_group_mean = self
            .ind
            .iter()
            .any(|(i, _)| i.missing == MissingTreatment::UnitGroupMean);
        for _ in 0..draws {
            for &c in &cols {
                let raw: Vec<Option<f64>> = self
                    .raw
                    .iter()
                    .zip(&self.se)
                    .map(|(r, s)| {
                        let v = r.get(c).copied().flatten();
                        let sd = s.get(c).copied().unwrap_or(0.0);
                        v.map(|x| {
                            if sd > 0.0 {
                                x + sd * standard_normal(&mut rng)
                            } else {
                                x
                            }
                        })
                    })
                    .collect();
                let col = self.column(c, &raw)?;
                for (row, cell) in cells.iter_mut().zip(col) {
                    if let Some(slot) = row.get_mut(c) {
                        *slot = cell;
                    }
                }
            }
            if has_unit_group_mean {
                self.impute_rows(&mut cells);
            }
            let basis: Vec<Option<f64>> = (0..n)
                .map(|u| {
                    let (Some(Some(e)), Some(row), Some(a)) =
                        (eval.weights.get(u), cells.get(u), eval.adjust.get(u))
                    else {
                        return None;
                    };
                    // A sub-score basis ignores conditions, so the full score is not needed.
                    let s = if self.basis_mask.is_some() {
                        0.0
                    } else {
                        a.apply(Self::base_score(e, row))
                    };
                    self.basis_score(e, row, s)
                })
                .collect();
            let (ranks, ranked) = ranks_and_count(&basis);
            for (u, r) in ranks.iter().enumerate() {
                let Some(r) = *r else { continue };
                if let Some(slot) = rank_hist
                    .get_mut(u)
                    .and_then(|h| h.get_mut((r as usize).saturating_sub(1)))
                {
                    *slot += 1;
                }
                for &k in &tops {
                    if in_selection(End::Top, k, r, ranked)
                        && let Some(m) = top_hits.get_mut(u)
                    {
                        *m.entry(k).or_insert(0) += 1;
                    }
                }
                for &k in &bottoms {
                    if in_selection(End::Bottom, k, r, ranked)
                        && let Some(m) = bottom_hits.get_mut(u)
                    {
                        *m.entry(k).or_insert(0) += 1;
                    }
                }
            }
        }
        let alpha = 1.0 - settings.interval;
        let out = rank_hist
            .into_iter()
            .enumerate()
            .map(|(u, hist)| {
                let d: u64 = hist.iter().map(|&c| u64::from(c)).sum();
                if d == 0 {
                    return None;
                }
                // The j-th smallest rank (1-based) over all draws.
                let nth = |j: u64| -> u32 {
                    let mut seen = 0u64;
                    for (i, &c) in hist.iter().enumerate() {
                        seen += u64::from(c);
                        if seen >= j {
                            return u32::try_from(i + 1).unwrap_or(u32::MAX);
                        }
                    }
                    u32::try_from(hist.len()).unwrap_or(u32::MAX)
                };
                let df = d as f64;
                let lo_j = ((df * alpha / 2.0).ceil() as u64).clamp(1, d);
                let hi_j = ((df * (1.0 - alpha / 2.0)).ceil() as u64).clamp(1, d);
                let share = |hits: Option<&BTreeMap<u32, u32>>, ks: &BTreeSet<u32>| {
                    ks.iter()
                        .map(|k| {
                            let h = hits.and_then(|m| m.get(k)).copied().unwrap_or(0);
                            (*k, f64::from(h) / df)
                        })
                        .collect()
                };
                Some(SimStats {
                    rank_low: nth(lo_j),
                    rank_high: nth(hi_j),
                    p_top: share(top_hits.get(u), &tops),
                    p_bottom: share(bottom_hits.get(u), &bottoms),
                })
            })
            .collect();
        Ok(out)
    }
}

fn rule_ks(rules: &[Rule], end: End) -> BTreeSet<u32> {
    rules.iter().filter(|r| r.end == end).map(|r| r.k).collect()
}

/// Evaluates one rule for a unit already known to be in its selection.
fn evaluate_rule(
    rule: &Rule,
    rank: u32,
    ranked: u32,
    unc: Option<&UncertaintyResult>,
    floor_value: impl Fn(&Option<String>) -> Option<f64>,
    direction_of: impl Fn(&str) -> Option<Direction>,
) -> RuleOutcome {
    let mut reasons = vec![Reason::RankInSelection {
        end: rule.end,
        k: rule.k,
        rank,
        ranked,
    }];
    let Some(threshold) = rule.min_probability else {
        reasons.push(Reason::NoGuard);
        return RuleOutcome {
            rule: rule.id.clone(),
            outcome: rule.outcome,
            reasons,
        };
    };
    let p = unc.and_then(|u| {
        let map = match rule.end {
            End::Top => &u.p_top,
            End::Bottom => &u.p_bottom,
        };
        map.get(&rule.k).map(|p| (*p, u.source))
    });
    let met = match p {
        Some((probability, source)) if probability >= threshold => {
            reasons.push(Reason::ProbabilityMet {
                probability,
                threshold,
                source,
            });
            true
        }
        Some((probability, source)) => {
            reasons.push(Reason::ProbabilityBelowThreshold {
                probability,
                threshold,
                source,
            });
            false
        }
        None => {
            reasons.push(Reason::ProbabilityUnavailable { threshold });
            false
        }
    };
    if met {
        return RuleOutcome {
            rule: rule.id.clone(),
            outcome: rule.outcome,
            reasons,
        };
    }
    let mut breached = false;
    if let Some(floor) = &rule.floor {
        match floor_value(&floor.indicator) {
            Some(value) => {
                let below = match floor.indicator.as_deref().and_then(&direction_of) {
                    Some(Direction::Lower) => value > floor.value,
                    _ => value < floor.value,
                };
                breached = below;
                reasons.push(if below {
                    Reason::FloorBreached {
                        indicator: floor.indicator.clone(),
                        value,
                        floor: floor.value,
                    }
                } else {
                    Reason::FloorNotBreached {
                        indicator: floor.indicator.clone(),
                        value,
                        floor: floor.value,
                    }
                });
            }
            None => reasons.push(Reason::FloorUnavailable {
                indicator: floor.indicator.clone(),
                floor: floor.value,
            }),
        }
    }
    RuleOutcome {
        rule: rule.id.clone(),
        outcome: if breached {
            rule.outcome
        } else {
            OutcomeCode::NotDistinguishableReview
        },
        reasons,
    }
}

/// Scores and ranks every unit with a scheme. Deterministic: the same scheme and input
/// give the same result, whatever the order of units in the input.
pub fn run(scheme: &Scheme, input: &RunInput) -> Result<RunResult, RunError> {
    let model = Model::build(scheme, input)?;
    if model.n_units() == 0 {
        return Err(RunError::AllUnitsExcluded);
    }
    let (gw, iw) = model.declared_weights();
    let eval = model.evaluate(&gw, &iw)?;
    let declared_e = model
        .unit_weights(|_| true, &gw, &iw)
        .unwrap_or_else(|| vec![0.0; model.ind.len()]);
    let group_share_total: f64 = gw.iter().sum();

    let (ranks, _) = ranks_and_count(&eval.score);
    let (basis_ranks, basis_ranked) = ranks_and_count(&eval.basis);

    // Without any standard error a simulation would report certainty it does not have
    // and wave units through the fairness guards; leave the uncertainty unknown instead.
    let needs_sim = scheme.uncertainty.monte_carlo
        && !model.simulated_columns().is_empty()
        && (0..model.n_units()).any(|u| {
            eval.basis.get(u).is_some_and(|b| b.is_some())
                && model.unit(u).is_some_and(|x| x.uncertainty.is_none())
        });
    let sim = if needs_sim {
        Some(model.simulate(&eval)?)
    } else {
        None
    };

    let input_hash = crate::canonical::sha256_hex(
        model
            .input
            .canonical_json()
            .map_err(|e| RunError::Serialise {
                message: e.to_string(),
            })?
            .as_bytes(),
    );

    let mut units = Vec::new();
    let mut excluded = model.excluded.clone();
    for u in 0..model.n_units() {
        let Some(unit) = model.unit(u) else { continue };
        let (Some(Some(score)), Some(Some(e)), Some(row), Some(adj)) = (
            eval.score.get(u),
            eval.weights.get(u),
            eval.cells.get(u),
            eval.adjust.get(u),
        ) else {
            excluded.push(ExcludedUnit {
                unit: unit.code.clone(),
                reasons: vec![ExclusionReason::NoWeightedData],
            });
            continue;
        };
        let rank = ranks.get(u).copied().flatten().unwrap_or(0);
        let basis = match (
            eval.basis.get(u).copied().flatten(),
            basis_ranks.get(u).copied().flatten(),
        ) {
            (Some(s), Some(r)) => Some(BasisResult {
                score: s,
                rank: r,
                ranked: basis_ranked,
            }),
            _ => None,
        };
        let mut indicators = Vec::new();
        for (col, &(ind, g)) in model.ind.iter().enumerate() {
            let v = unit.values.get(&ind.id);
            let cell = row.get(col);
            let w = e.get(col).copied().unwrap_or(0.0);
            let n = cell.and_then(|c| c.n);
            indicators.push(IndicatorResult {
                indicator: ind.id.clone(),
                group: scheme
                    .groups
                    .get(g)
                    .map(|x| x.id.clone())
                    .unwrap_or_default(),
                source: ind.source.clone(),
                estimate: ind.estimate,
                raw: v.map(|x| x.value),
                se: v.and_then(|x| x.se),
                numerator: v.and_then(|x| x.numerator),
                denominator: v.and_then(|x| x.denominator),
                drill_down: v.map(|x| x.drill_down.clone()).unwrap_or_default(),
                normalised: n,
                weight: declared_e.get(col).copied().unwrap_or(0.0),
                applied_weight: w,
                contribution: 100.0 * w * n.unwrap_or(0.0),
                missing: cell.and_then(|c| c.missing.clone()),
            });
        }
        let groups = scheme
            .groups
            .iter()
            .map(|grp| {
                let in_g = |i: &&IndicatorResult| i.group == grp.id;
                GroupResult {
                    group: grp.id.clone(),
                    weight: if group_share_total > 0.0 {
                        grp.weight / group_share_total
                    } else {
                        0.0
                    },
                    applied_weight: indicators
                        .iter()
                        .filter(in_g)
                        .map(|i| i.applied_weight)
                        .sum(),
                    subtotal: indicators.iter().filter(in_g).map(|i| i.contribution).sum(),
                }
            })
            .collect();
        let uncertainty = match (&unit.uncertainty, sim.as_ref().and_then(|s| s.get(u))) {
            (Some(r), _) => Some(UncertaintyResult {
                source: UncertaintySource::Supplied,
                rank_low: r.rank_low,
                rank_high: r.rank_high,
                p_top: r.p_top.clone(),
                p_bottom: r.p_bottom.clone(),
            }),
            (None, Some(Some(s))) => Some(UncertaintyResult {
                source: UncertaintySource::MonteCarlo,
                rank_low: s.rank_low,
                rank_high: s.rank_high,
                p_top: s.p_top.clone(),
                p_bottom: s.p_bottom.clone(),
            }),
            _ => None,
        };
        let mut outcomes = Vec::new();
        if let Some(b) = &basis {
            for rule in &scheme.rules {
                if !in_selection(rule.end, rule.k, b.rank, b.ranked) {
                    continue;
                }
                outcomes.push(evaluate_rule(
                    rule,
                    b.rank,
                    b.ranked,
                    uncertainty.as_ref(),
                    |ind| match ind {
                        None => Some(b.score),
                        Some(id) => unit.values.get(id).map(|v| v.value),
                    },
                    |id| scheme.indicator(id).map(|i| i.direction),
                ));
            }
        }
        units.push(UnitResult {
            unit: unit.code.clone(),
            peer_group: unit.peer_group.clone(),
            score: *score,
            rank,
            base_score: eval.base.get(u).copied().flatten().unwrap_or(0.0),
            basis,
            groups,
            indicators,
            conditions: adj.results.clone(),
            uncertainty,
            outcomes,
        });
    }
    if units.is_empty() {
        return Err(RunError::AllUnitsExcluded);
    }
    units.sort_by(|a, b| a.rank.cmp(&b.rank).then_with(|| a.unit.cmp(&b.unit)));
    excluded.sort_by(|a, b| a.unit.cmp(&b.unit));
    Ok(RunResult {
        format: RESULT_FORMAT.to_owned(),
        scheme: SchemeRef {
            id: scheme.id.clone(),
            version: scheme.version.clone(),
            period: scheme.period,
            hash: scheme.hash().to_owned(),
        },
        period: model.input.period.clone(),
        input_hash,
        ranked: u32::try_from(units.len()).unwrap_or(u32::MAX),
        units,
        excluded,
        monte_carlo: needs_sim.then_some(MonteCarloInfo {
            draws: scheme.uncertainty.draws,
            seed: scheme.uncertainty.seed,
            interval: scheme.uncertainty.interval,
        }),
    })
}
