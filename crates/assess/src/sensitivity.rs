//! Sensitivity of ranks to the weights: how stable each unit's rank is when every group
//! and indicator weight is multiplied by an independent uniform factor in
//! `[1 − m, 1 + m]` (default ±10%) and the shares are renormalised. Seeded, so the
//! report is reproducible.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::RunError;
use crate::input::RunInput;
use crate::run::{Model, ranks_and_count};
use crate::scheme::Scheme;

/// How to perturb.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensitivitySettings {
    /// Number of perturbed weight sets.
    pub draws: u32,
    /// Relative half-width of the uniform multiplier (0.10 = ±10%).
    pub magnitude: f64,
    /// Seed of the ChaCha8 generator.
    pub seed: u64,
}

impl Default for SensitivitySettings {
    fn default() -> Self {
        Self {
            draws: 1000,
            magnitude: 0.10,
            seed: 2014,
        }
    }
}

/// Rank stability of one ranking for one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stability {
    /// Rank with the scheme's own weights.
    pub rank: u32,
    /// Share of draws in which the rank stayed the same.
    pub same_rank_share: f64,
    /// Best rank seen.
    pub rank_min: u32,
    /// Worst rank seen.
    pub rank_max: u32,
}

/// One unit's sensitivity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitSensitivity {
    /// Unit code.
    pub unit: String,
    /// Rank on the final score.
    pub score: Stability,
    /// Rank on the basis the rules read, when it differs from the score.
    pub basis: Option<Stability>,
}

/// The sensitivity report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sensitivity {
    /// Settings used.
    pub settings: SensitivitySettings,
    /// Scheme hash.
    pub scheme_hash: String,
    /// Input hash.
    pub input_hash: String,
    /// Units ordered by base rank, then code.
    pub units: Vec<UnitSensitivity>,
}

#[derive(Clone)]
struct Tally {
    base: Option<u32>,
    same: u32,
    min: u32,
    max: u32,
}

impl Tally {
    fn new(base: Option<u32>) -> Self {
        Self {
            base,
            same: 0,
            min: u32::MAX,
            max: 0,
        }
    }

    fn add(&mut self, r: Option<u32>) {
        if let Some(r) = r {
            if Some(r) == self.base {
                self.same += 1;
            }
            self.min = self.min.min(r);
            self.max = self.max.max(r);
        }
    }

    fn finish(&self, draws: u32) -> Option<Stability> {
        self.base.map(|rank| Stability {
            rank,
            same_rank_share: f64::from(self.same) / f64::from(draws.max(1)),
            rank_min: self.min.min(rank),
            rank_max: self.max.max(rank),
        })
    }
}

/// Perturbs the weights `settings.draws` times and reports each unit's rank stability.
pub fn sensitivity(
    scheme: &Scheme,
    input: &RunInput,
    settings: &SensitivitySettings,
) -> Result<Sensitivity, RunError> {
    if settings.draws == 0 || settings.draws > 1_000_000 {
        return Err(RunError::InvalidSetting {
            setting: "draws",
            requirement: "between 1 and 1000000",
        });
    }
    if !(settings.magnitude.is_finite() && (0.0..1.0).contains(&settings.magnitude)) {
        return Err(RunError::InvalidSetting {
            setting: "magnitude",
            requirement: "in [0, 1)",
        });
    }
    let model = Model::build(scheme, input)?;
    if model.n_units() == 0 {
        return Err(RunError::AllUnitsExcluded);
    }
    let (gw, iw) = model.declared_weights();
    let base = model.evaluate(&gw, &iw)?;
    let (score_ranks, _) = ranks_and_count(&base.score);
    let (basis_ranks, _) = ranks_and_count(&base.basis);
    let with_basis = model.basis_mask.is_some();
    let n = model.n_units();
    let mut score_t: Vec<Tally> = score_ranks.iter().map(|r| Tally::new(*r)).collect();
    let mut basis_t: Vec<Tally> = basis_ranks.iter().map(|r| Tally::new(*r)).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let m = settings.magnitude;
    for _ in 0..settings.draws {
        let g2: Vec<f64> = gw
            .iter()
            .map(|w| w * (1.0 - m + 2.0 * m * rng.random::<f64>()))
            .collect();
        let i2: Vec<f64> = iw
            .iter()
            .map(|w| w * (1.0 - m + 2.0 * m * rng.random::<f64>()))
            .collect();
        let mut scores = Vec::with_capacity(n);
        let mut bases = Vec::with_capacity(n);
        for u in 0..n {
            let (Some(row), Some(a)) = (base.cells.get(u), base.adjust.get(u)) else {
                scores.push(None);
                bases.push(None);
                continue;
            };
            match model.unit_weights(|c| row.get(c).is_some_and(|x| x.n.is_some()), &g2, &i2) {
                Some(e) => {
                    let s = a.apply(Model::base_score(&e, row));
                    scores.push(Some(s));
                    bases.push(if with_basis {
                        model.basis_score(&e, row, s)
                    } else {
                        None
                    });
                }
                None => {
                    scores.push(None);
                    bases.push(None);
                }
            }
        }
        let (sr, _) = ranks_and_count(&scores);
        for (t, r) in score_t.iter_mut().zip(sr) {
            t.add(r);
        }
        if with_basis {
            let (br, _) = ranks_and_count(&bases);
            for (t, r) in basis_t.iter_mut().zip(br) {
                t.add(r);
            }
        }
    }
    let mut units: Vec<UnitSensitivity> = (0..n)
        .filter_map(|u| {
            let unit = model.unit(u)?;
            let score = score_t.get(u)?.finish(settings.draws)?;
            let basis = if with_basis {
                basis_t.get(u).and_then(|t| t.finish(settings.draws))
            } else {
                None
            };
            Some(UnitSensitivity {
                unit: unit.code.clone(),
                score,
                basis,
            })
        })
        .collect();
    units.sort_by(|a, b| {
        a.score
            .rank
            .cmp(&b.score.rank)
            .then_with(|| a.unit.cmp(&b.unit))
    });
    let input_hash = model.input.hash().map_err(|e| RunError::Serialise {
        message: e.to_string(),
    })?;
    Ok(Sensitivity {
        settings: settings.clone(),
        scheme_hash: scheme.hash().to_owned(),
        input_hash,
        units,
    })
}
