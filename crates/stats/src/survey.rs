//! Design-based estimation for survey waves: weighted means and proportions under
//! stratified, one-stage clustered designs, Taylor-linearisation variance, design
//! effects, domain (by-group) estimates, post-stratification and raking.
//!
//! The numbers follow R's `survey` package (version 4.1) with its default options, and
//! the fixture tests hold them to R at relative tolerance 1e-9, raking included: it is
//! iterative, but both sides rake until the margins agree to about 1e-13 of the
//! population, and the observed differences are below 1e-14 (see [`Design::rake`]):
//!
//! * **Variance**: the with-replacement (ultimate cluster) approximation. Influence
//!   values z_i = w_i (y_i − ȳ)/Σw are summed per primary sampling unit (PSU); stratum h
//!   with n_h PSUs contributes f_h · n_h/(n_h − 1) · Σ (z_hj − z̄_h)², where
//!   f_h = (N_h − n_h)/N_h when the number of population PSUs N_h is given (finite
//!   population correction) and 1 otherwise.
//! * **PSUs** are identified by (stratum, cluster) pairs, so cluster labels may repeat
//!   across strata (R's `nest = TRUE`). Without clusters each observation is a PSU.
//! * **Lonely PSUs** (a stratum with one PSU) follow [`LonelyPsu`], default
//!   [`LonelyPsu::Fail`] (an error), as R's `survey.lonely.psu` option. A stratum
//!   sampled completely (f_h = 0) contributes nothing and is never an error.
//! * **Domains** keep the full design: out-of-domain observations get z_i = 0 but
//!   their PSUs still count in n_h, as R's `subset()`/`svyby()` do. This is also the
//!   hook for missing and "don't know" answers: callers decide how to code an answer;
//!   an answer that should not count is passed as outside the domain (`in_domain`
//!   false), which is exactly R's `na.rm = TRUE`.
//! * **Design effect** as `svymean(..., deff = TRUE)`: the design variance over
//!   s²(N̂ − n)/(N̂ n), with s² the weighted variance with divisor n − 1 and N̂ the weight
//!   sum. It is `None` when N̂ ≤ n (weights not scaled to the population; R gives NA or
//!   Inf) or when s² = 0. `deff_replace` is R's `deff = "replace"`: variance over s²/n.
//! * **Degrees of freedom** (for t-based intervals): PSUs with a domain observation
//!   minus the strata they lie in, as R's `degf()` on the subset design.
//! * **Korn–Graubard in a domain** uses the domain's observation count for n_obs. R
//!   uses `nrow()` of the subset design, which is the same for uncalibrated designs
//!   but the whole sample after calibration (R keeps out-of-domain rows with zero
//!   weight there); the domain count is the meaningful one, so we differ from R only
//!   for Korn–Graubard intervals of domains of post-stratified or raked designs.
//! * **Post-stratification** rescales weights to population cell totals and
//!   residualises the influence values within cells; raking repeats it over margins.
//!   The variance after raking reproduces R's construction (ten sweeps of residualising
//!   against each margin, with the weights of the final raking sweep).
//!
//! Weights must be strictly positive and finite; zero weights are rejected rather than
//! treated as exclusions, because exclusions are expressed as domains.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::input::{InputError, check_len, check_level, check_nonempty, check_positive};
use crate::intervals::{PropCiMethod, PropInterval, prop_interval};

/// What to do with a stratum that has a single PSU (R's `survey.lonely.psu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LonelyPsu {
    /// Refuse to estimate: [`InputError::LonelyPsu`].
    #[default]
    Fail,
    /// The stratum contributes no variance (treated as sampled with certainty).
    Certainty,
    /// Centre the lonely PSU at the overall mean (zero) instead of its stratum mean.
    Adjust,
    /// Replace the stratum's contribution by the average of the other strata.
    Average,
}

/// Inputs describing a sample design, one entry per observation.
#[derive(Debug, Clone, Copy)]
pub struct DesignSpec<'a> {
    /// Design (sampling) weights, strictly positive.
    pub weights: &'a [f64],
    /// Stratum label of each observation, if stratified.
    pub strata: Option<&'a [usize]>,
    /// Cluster (PSU) label of each observation, if clustered.
    pub clusters: Option<&'a [usize]>,
    /// Number of PSUs in the population of the observation's stratum (constant within
    /// a stratum), for the finite population correction. Without clusters that is the
    /// stratum population size.
    pub fpc: Option<&'a [f64]>,
    pub lonely_psu: LonelyPsu,
}

impl<'a> DesignSpec<'a> {
    /// Unstratified, unclustered design with the given weights.
    pub fn weighted(weights: &'a [f64]) -> Self {
        DesignSpec {
            weights,
            strata: None,
            clusters: None,
            fpc: None,
            lonely_psu: LonelyPsu::Fail,
        }
    }
}

/// A calibration step remembered for the variance.
#[derive(Debug, Clone)]
enum Adjustment {
    PostStratum {
        cell: Vec<usize>,
        new_w: Vec<f64>,
        old_w: Vec<f64>,
        n_cells: usize,
    },
    Raking {
        /// Per margin: cell of each observation, number of cells, weights after that
        /// margin's step in the final sweep.
        margins: Vec<(Vec<usize>, usize, Vec<f64>)>,
    },
}

/// A validated sample design with its current (possibly calibrated) weights.
#[derive(Debug, Clone)]
pub struct Design {
    weights: Vec<f64>,
    stratum: Vec<usize>,
    psu: Vec<usize>,
    psu_stratum: Vec<usize>,
    stratum_npsu: Vec<usize>,
    /// f_h = (N_h − n_h)/N_h, or 1 without fpc.
    stratum_f: Vec<f64>,
    lonely: LonelyPsu,
    adjustments: Vec<Adjustment>,
}

/// A design-based mean (or proportion) with its linearisation variance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanEstimate {
    pub estimate: f64,
    pub se: f64,
    pub variance: f64,
    /// Design degrees of freedom: PSUs with domain observations minus their strata.
    pub df: i64,
    /// Observations in the domain.
    pub n_obs: usize,
    /// Sum of weights in the domain (estimated population size).
    pub weight_sum: f64,
    /// Design effect as R's `deff = TRUE`; `None` when undefined (see module docs).
    pub deff: Option<f64>,
    /// Design effect against with-replacement simple random sampling.
    pub deff_replace: Option<f64>,
}

impl MeanEstimate {
    /// Symmetric interval estimate ± q·se, with q the t quantile on the design degrees
    /// of freedom (`use_t`) or the normal quantile (R's `confint` default). Errors when
    /// t is asked for and the design has no degrees of freedom.
    pub fn interval(&self, level: f64, use_t: bool) -> Result<(f64, f64), InputError> {
        check_level(level)?;
        let p = 1.0 - (1.0 - level) / 2.0;
        let q = if use_t {
            if self.df <= 0 {
                return Err(InputError::OutOfRange {
                    name: "df",
                    detail: "design degrees of freedom must be positive",
                });
            }
            crate::special::t_quantile(p, self.df as f64)
        } else {
            crate::special::normal_quantile(p)
        };
        Ok((self.estimate - q * self.se, self.estimate + q * self.se))
    }
}

/// A design-based proportion with interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PropEstimate {
    #[serde(flatten)]
    pub mean: MeanEstimate,
    pub interval: PropInterval,
}

/// One group's estimate in a by-group table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GroupEstimate {
    pub group: usize,
    #[serde(flatten)]
    pub mean: MeanEstimate,
}

/// A raking margin: each observation's cell and the population total of every cell.
#[derive(Debug, Clone, Copy)]
pub struct Margin<'a> {
    pub cells: &'a [usize],
    pub totals: &'a [f64],
}

/// How raking went.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RakeReport {
    pub sweeps: usize,
    /// Largest |weighted margin − population total| / total population after the last
    /// sweep.
    pub max_relative_gap: f64,
}

/// Raking stops when every margin matches to this fraction of the population total.
pub const RAKE_TOLERANCE: f64 = 1e-13;
/// Raking gives up after this many sweeps.
pub const RAKE_MAX_SWEEPS: usize = 2000;

fn dense_labels(labels: &[usize]) -> (Vec<usize>, usize) {
    let mut map = BTreeMap::new();
    for &l in labels {
        let next = map.len();
        map.entry(l).or_insert(next);
    }
    // Sorted order, so dense ids do not depend on input order.
    for (i, v) in map.values_mut().enumerate() {
        *v = i;
    }
    let out = labels
        .iter()
        .map(|l| map.get(l).copied().unwrap_or(0))
        .collect();
    (out, map.len())
}

impl Design {
    /// Validate a design.
    pub fn new(spec: DesignSpec<'_>) -> Result<Design, InputError> {
        let n = spec.weights.len();
        check_nonempty("weights", n)?;
        check_positive("weights", spec.weights)?;
        let (stratum, n_strata) = match spec.strata {
            Some(s) => {
                check_len("strata", s.len(), n)?;
                dense_labels(s)
            }
            None => (vec![0; n], 1),
        };
        let psu_keys: Vec<(usize, usize)> = match spec.clusters {
            Some(c) => {
                check_len("clusters", c.len(), n)?;
                stratum.iter().copied().zip(c.iter().copied()).collect()
            }
            None => stratum.iter().copied().zip(0..n).collect(),
        };
        let mut psu_map: BTreeMap<(usize, usize), usize> = BTreeMap::new();
        for k in &psu_keys {
            let next = psu_map.len();
            psu_map.entry(*k).or_insert(next);
        }
        let mut psu_stratum = vec![0; psu_map.len()];
        for (i, ((h, _), v)) in psu_map.iter_mut().enumerate() {
            *v = i;
            if let Some(slot) = psu_stratum.get_mut(i) {
                *slot = *h;
            }
        }
        let psu: Vec<usize> = psu_keys
            .iter()
            .map(|k| psu_map.get(k).copied().unwrap_or(0))
            .collect();
        let mut stratum_npsu = vec![0usize; n_strata];
        for &h in &psu_stratum {
            if let Some(c) = stratum_npsu.get_mut(h) {
                *c += 1;
            }
        }
        let mut stratum_f = vec![1.0; n_strata];
        if let Some(fpc) = spec.fpc {
            check_len("fpc", fpc.len(), n)?;
            check_positive("fpc", fpc)?;
            let mut seen: Vec<Option<f64>> = vec![None; n_strata];
            for (i, (&h, &pop)) in stratum.iter().zip(fpc).enumerate() {
                let slot = seen
                    .get_mut(h)
                    .ok_or(InputError::Empty { name: "strata" })?;
                match slot {
                    None => *slot = Some(pop),
                    Some(prev) if *prev != pop => {
                        // Population size must be constant within a stratum.
                        return Err(InputError::OutsideSupport {
                            name: "fpc",
                            index: i,
                        });
                    }
                    Some(_) => {}
                }
            }
            for (h, pop) in seen.iter().enumerate() {
                let npsu = stratum_npsu.get(h).copied().unwrap_or(0) as f64;
                if let (Some(pop), Some(f)) = (pop, stratum_f.get_mut(h)) {
                    if *pop < npsu {
                        return Err(InputError::OutOfRange {
                            name: "fpc",
                            detail: "population has fewer PSUs than the sample",
                        });
                    }
                    *f = (pop - npsu) / pop;
                }
            }
        }
        let design = Design {
            weights: spec.weights.to_vec(),
            stratum,
            psu,
            psu_stratum,
            stratum_npsu,
            stratum_f,
            lonely: spec.lonely_psu,
            adjustments: Vec::new(),
        };
        // Surface lonely PSUs at construction when they would always fail.
        if design.lonely == LonelyPsu::Fail {
            for (h, (&np, &f)) in design
                .stratum_npsu
                .iter()
                .zip(&design.stratum_f)
                .enumerate()
            {
                if np == 1 && f >= 1e-7 {
                    return Err(InputError::LonelyPsu { stratum: h });
                }
            }
        }
        Ok(design)
    }

    /// Current weights (after any calibration).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Number of observations.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Always false: a design has at least one observation.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    fn check_domain(&self, in_domain: Option<&[bool]>) -> Result<(), InputError> {
        if let Some(d) = in_domain {
            check_len("in_domain", d.len(), self.len())?;
        }
        Ok(())
    }

    fn in_dom(in_domain: Option<&[bool]>, i: usize) -> bool {
        in_domain.is_none_or(|d| d.get(i).copied().unwrap_or(false))
    }

    /// Linearisation variance of a statistic with influence values `z`.
    fn variance_of(&self, mut z: Vec<f64>) -> Result<f64, InputError> {
        for adj in &self.adjustments {
            match adj {
                Adjustment::PostStratum {
                    cell,
                    new_w,
                    old_w,
                    n_cells,
                } => {
                    let mut num = vec![0.0; *n_cells];
                    let mut den = vec![0.0; *n_cells];
                    for (((&c, zi), nw), ow) in cell.iter().zip(&z).zip(new_w).zip(old_w) {
                        if let (Some(a), Some(b)) = (num.get_mut(c), den.get_mut(c)) {
                            *a += zi * ow / nw;
                            *b += ow;
                        }
                    }
                    for ((zi, &c), nw) in z.iter_mut().zip(cell).zip(new_w) {
                        let (a, b) = (
                            num.get(c).copied().unwrap_or(0.0),
                            den.get(c).copied().unwrap_or(1.0),
                        );
                        *zi -= a / b * nw;
                    }
                }
                Adjustment::Raking { margins } => {
                    for _ in 0..10 {
                        for (cell, n_cells, psw) in margins {
                            let mut sum = vec![0.0; *n_cells];
                            let mut cnt = vec![0.0; *n_cells];
                            for ((&c, zi), w) in cell.iter().zip(&z).zip(psw) {
                                if let (Some(s), Some(k)) = (sum.get_mut(c), cnt.get_mut(c)) {
                                    *s += zi / w;
                                    *k += 1.0;
                                }
                            }
                            for ((zi, &c), w) in z.iter_mut().zip(cell).zip(psw) {
                                let (s, k) = (
                                    sum.get(c).copied().unwrap_or(0.0),
                                    cnt.get(c).copied().unwrap_or(1.0),
                                );
                                *zi -= w * s / k;
                            }
                        }
                    }
                }
            }
        }
        let mut tot = vec![0.0; self.psu_stratum.len()];
        for (&p, zi) in self.psu.iter().zip(&z) {
            if let Some(t) = tot.get_mut(p) {
                *t += zi;
            }
        }
        let h_count = self.stratum_npsu.len();
        let mut ssum = vec![0.0; h_count];
        for (&h, t) in self.psu_stratum.iter().zip(&tot) {
            if let Some(s) = ssum.get_mut(h) {
                *s += t;
            }
        }
        let mut ss = vec![0.0; h_count];
        let mut lonely_raw = vec![0.0; h_count];
        for (&h, t) in self.psu_stratum.iter().zip(&tot) {
            let np = self.stratum_npsu.get(h).copied().unwrap_or(1) as f64;
            let mean = ssum.get(h).copied().unwrap_or(0.0) / np;
            if let (Some(s), Some(l)) = (ss.get_mut(h), lonely_raw.get_mut(h)) {
                *s += (t - mean) * (t - mean);
                *l += t * t;
            }
        }
        let mut v = 0.0;
        let mut n_ok = 0usize;
        for h in 0..h_count {
            let np = self.stratum_npsu.get(h).copied().unwrap_or(1);
            let f = self.stratum_f.get(h).copied().unwrap_or(1.0);
            if f < 1e-7 {
                n_ok += 1;
                continue;
            }
            if np > 1 {
                let npf = np as f64;
                v += f * npf / (npf - 1.0) * ss.get(h).copied().unwrap_or(0.0);
                n_ok += 1;
            } else {
                match self.lonely {
                    LonelyPsu::Fail => return Err(InputError::LonelyPsu { stratum: h }),
                    LonelyPsu::Certainty => n_ok += 1,
                    LonelyPsu::Adjust => {
                        v += f * lonely_raw.get(h).copied().unwrap_or(0.0);
                        n_ok += 1;
                    }
                    LonelyPsu::Average => {}
                }
            }
        }
        if n_ok == 0 {
            return Err(InputError::LonelyPsu { stratum: 0 });
        }
        Ok(v * h_count as f64 / n_ok as f64)
    }

    fn degrees_of_freedom(&self, in_domain: Option<&[bool]>) -> i64 {
        let mut psu_seen = vec![false; self.psu_stratum.len()];
        let mut strata_seen = vec![false; self.stratum_npsu.len()];
        for (i, (&p, &h)) in self.psu.iter().zip(&self.stratum).enumerate() {
            if Self::in_dom(in_domain, i) {
                if let Some(s) = psu_seen.get_mut(p) {
                    *s = true;
                }
                if let Some(s) = strata_seen.get_mut(h) {
                    *s = true;
                }
            }
        }
        let np = psu_seen.iter().filter(|s| **s).count() as i64;
        let nh = strata_seen.iter().filter(|s| **s).count() as i64;
        np - nh
    }

    /// Weighted mean of `y` over the domain (all observations when `in_domain` is
    /// `None`), with linearisation variance and design effects.
    pub fn mean(&self, y: &[f64], in_domain: Option<&[bool]>) -> Result<MeanEstimate, InputError> {
        check_len("y", y.len(), self.len())?;
        self.check_domain(in_domain)?;
        for (index, v) in y.iter().enumerate() {
            if Self::in_dom(in_domain, index) && !v.is_finite() {
                return Err(InputError::NotFinite { name: "y", index });
            }
        }
        let mut wsum = 0.0;
        let mut wy = 0.0;
        let mut n_obs = 0usize;
        for (i, (w, v)) in self.weights.iter().zip(y).enumerate() {
            if Self::in_dom(in_domain, i) {
                wsum += w;
                wy += w * v;
                n_obs += 1;
            }
        }
        if n_obs == 0 {
            return Err(InputError::EmptyCell {
                name: "in_domain",
                cell: 0,
            });
        }
        let mean = wy / wsum;
        let z: Vec<f64> = self
            .weights
            .iter()
            .zip(y)
            .enumerate()
            .map(|(i, (w, v))| {
                if Self::in_dom(in_domain, i) {
                    w * (v - mean) / wsum
                } else {
                    0.0
                }
            })
            .collect();
        let variance = self.variance_of(z)?.max(0.0);
        // Weighted variance with divisor n − 1, as R's svyvar.
        let mut s2 = 0.0;
        for (i, (w, v)) in self.weights.iter().zip(y).enumerate() {
            if Self::in_dom(in_domain, i) {
                s2 += w * (v - mean) * (v - mean);
            }
        }
        let nf = n_obs as f64;
        let s2 = if n_obs > 1 {
            s2 / wsum * nf / (nf - 1.0)
        } else {
            0.0
        };
        let ratio = |den: f64| {
            let d = variance / den;
            (den > 0.0 && d.is_finite()).then_some(d)
        };
        let deff = if wsum > nf {
            ratio(s2 * (wsum - nf) / (wsum * nf))
        } else {
            None
        };
        Ok(MeanEstimate {
            estimate: mean,
            se: variance.sqrt(),
            variance,
            df: self.degrees_of_freedom(in_domain),
            n_obs,
            weight_sum: wsum,
            deff,
            deff_replace: ratio(s2 / nf),
        })
    }

    /// Weighted proportion of a 0/1 variable with the chosen interval. The unweighted
    /// methods (Wilson, Clopper–Pearson, Jeffreys) use the raw count of ones among the
    /// domain's observations and ignore weights and design.
    pub fn proportion(
        &self,
        y: &[f64],
        in_domain: Option<&[bool]>,
        method: PropCiMethod,
        level: f64,
    ) -> Result<PropEstimate, InputError> {
        check_level(level)?;
        check_len("y", y.len(), self.len())?;
        self.check_domain(in_domain)?;
        let mut ones = 0usize;
        for (index, &v) in y.iter().enumerate() {
            if Self::in_dom(in_domain, index) {
                if v != 0.0 && v != 1.0 {
                    return Err(InputError::OutsideSupport { name: "y", index });
                }
                if v == 1.0 {
                    ones += 1;
                }
            }
        }
        let mean = self.mean(y, in_domain)?;
        let interval = if method.is_design_based() {
            prop_interval(
                method,
                mean.estimate.clamp(0.0, 1.0),
                mean.variance,
                mean.n_obs,
                mean.df as f64,
                level,
            )?
        } else {
            let raw = ones as f64 / mean.n_obs as f64;
            prop_interval(method, raw, 0.0, mean.n_obs, 1.0, level)?
        };
        Ok(PropEstimate { mean, interval })
    }

    /// Means for every group (domain) label present among the (optionally masked)
    /// observations, in increasing label order.
    pub fn mean_by(
        &self,
        y: &[f64],
        groups: &[usize],
        answered: Option<&[bool]>,
    ) -> Result<Vec<GroupEstimate>, InputError> {
        check_len("groups", groups.len(), self.len())?;
        self.check_domain(answered)?;
        let mut labels: Vec<usize> = groups
            .iter()
            .enumerate()
            .filter(|(i, _)| Self::in_dom(answered, *i))
            .map(|(_, g)| *g)
            .collect();
        labels.sort_unstable();
        labels.dedup();
        let mut out = Vec::with_capacity(labels.len());
        for g in labels {
            let mask: Vec<bool> = groups
                .iter()
                .enumerate()
                .map(|(i, &gi)| gi == g && Self::in_dom(answered, i))
                .collect();
            out.push(GroupEstimate {
                group: g,
                mean: self.mean(y, Some(&mask))?,
            });
        }
        Ok(out)
    }

    fn check_cells(
        &self,
        name: &'static str,
        cells: &[usize],
        totals: &[f64],
    ) -> Result<Vec<f64>, InputError> {
        check_len(name, cells.len(), self.len())?;
        check_nonempty("totals", totals.len())?;
        crate::input::check_nonneg("totals", totals)?;
        let mut sample = vec![0.0; totals.len()];
        for (index, (&c, w)) in cells.iter().zip(&self.weights).enumerate() {
            match sample.get_mut(c) {
                Some(s) => *s += w,
                None => {
                    return Err(InputError::UnknownCell {
                        name,
                        index,
                        cell: c,
                    });
                }
            }
        }
        for (cell, (s, t)) in sample.iter().zip(totals).enumerate() {
            // A populated cell without sample cannot be calibrated (R's partial = FALSE);
            // a sampled cell with no population is a contradiction.
            if (*s == 0.0) != (*t == 0.0) {
                return Err(InputError::EmptyCell { name, cell });
            }
        }
        Ok(sample)
    }

    fn post_stratify_in_place(&mut self, cells: &[usize], totals: &[f64], sample: &[f64]) {
        let old = self.weights.clone();
        for (w, &c) in self.weights.iter_mut().zip(cells) {
            let s = sample.get(c).copied().unwrap_or(1.0);
            let t = totals.get(c).copied().unwrap_or(s);
            *w *= t / s;
        }
        self.adjustments.push(Adjustment::PostStratum {
            cell: cells.to_vec(),
            new_w: self.weights.clone(),
            old_w: old,
            n_cells: totals.len(),
        });
    }

    /// Post-stratify to population cell totals (R's `postStratify`). `cells[i]` is the
    /// post-stratum of observation i (0-based index into `totals`). Every cell with a
    /// positive total needs sampled units and vice versa.
    pub fn post_stratify(&self, cells: &[usize], totals: &[f64]) -> Result<Design, InputError> {
        let sample = self.check_cells("cells", cells, totals)?;
        let mut d = self.clone();
        d.post_stratify_in_place(cells, totals, &sample);
        Ok(d)
    }

    /// Rake to population margins (iterative proportional fitting, R's `rake`). Sweeps
    /// post-stratify to each margin in turn until every margin matches within
    /// [`RAKE_TOLERANCE`] of the population total, up to [`RAKE_MAX_SWEEPS`]. The
    /// margins' totals must agree with each other to 1e-9 relative.
    pub fn rake(&self, margins: &[Margin<'_>]) -> Result<(Design, RakeReport), InputError> {
        check_nonempty("margins", margins.len())?;
        let mut pop = None;
        for m in margins {
            self.check_cells("margin", m.cells, m.totals)?;
            let t: f64 = m.totals.iter().sum();
            match pop {
                None => pop = Some(t),
                Some(p) if ((t - p) / p).abs() > 1e-9 => {
                    return Err(InputError::OutOfRange {
                        name: "margins",
                        detail: "margin totals disagree",
                    });
                }
                Some(_) => {}
            }
        }
        let pop = pop.unwrap_or(1.0);
        let mut d = self.clone();
        let base_adjustments = d.adjustments.len();
        let mut sweeps = 0;
        while sweeps < RAKE_MAX_SWEEPS {
            d.adjustments.truncate(base_adjustments);
            let mut per_margin = Vec::with_capacity(margins.len());
            for m in margins {
                let mut sample = vec![0.0; m.totals.len()];
                for (&c, w) in m.cells.iter().zip(&d.weights) {
                    if let Some(s) = sample.get_mut(c) {
                        *s += w;
                    }
                }
                for (w, &c) in d.weights.iter_mut().zip(m.cells) {
                    let s = sample.get(c).copied().unwrap_or(1.0);
                    let t = m.totals.get(c).copied().unwrap_or(s);
                    *w *= t / s;
                }
                per_margin.push((m.cells.to_vec(), m.totals.len(), d.weights.clone()));
            }
            sweeps += 1;
            let mut gap: f64 = 0.0;
            for m in margins {
                let mut sample = vec![0.0; m.totals.len()];
                for (&c, w) in m.cells.iter().zip(&d.weights) {
                    if let Some(s) = sample.get_mut(c) {
                        *s += w;
                    }
                }
                for (s, t) in sample.iter().zip(m.totals) {
                    gap = f64::max(gap, (s - t).abs() / pop);
                }
            }
            if gap <= RAKE_TOLERANCE {
                d.adjustments.push(Adjustment::Raking {
                    margins: per_margin,
                });
                return Ok((
                    d,
                    RakeReport {
                        sweeps,
                        max_relative_gap: gap,
                    },
                ));
            }
        }
        Err(InputError::NoConvergence {
            method: "rake",
            iterations: sweeps,
        })
    }
}
