//! Run inputs: per-unit indicator values (with standard errors, numerator/denominator
//! and drill-down references), jurisdiction figures, and rank uncertainty computed
//! elsewhere (minyi-stats) — plain numbers the app gathers before scoring.
//!
//! Inputs are canonicalised before use (units sorted by code, numbers rounded to 12
//! significant digits) so that the stored canonical JSON, read back, reproduces the run.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::canonical::{CanonicalError, canonical_json, quantise, sha256_hex};
use crate::error::RunError;
use crate::scheme::Scheme;
use crate::source;

/// Everything a run scores, for one period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInput {
    /// Period label fitting the scheme's cadence (`2014`, `2014-H1`, `2014-Q3`, `2014-07`).
    pub period: String,
    /// The units (police stations), any order.
    pub units: Vec<UnitInput>,
}

/// One unit's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitInput {
    /// Unit code (stable id of the station).
    pub code: String,
    /// Peer group for `peer_group_mean` imputation (e.g. the county code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_group: Option<String>,
    /// Indicator id → value. An absent indicator is missing data.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, IndicatorValue>,
    /// `jurisdiction.*` code → figure (e.g. growth in registered drug users, 1.0 = +100%).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub jurisdiction: BTreeMap<String, f64>,
    /// Rank uncertainty of the basis ranking, when computed elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncertainty: Option<RankUncertainty>,
}

/// A raw indicator value and what stands behind it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IndicatorValue {
    /// The raw value in the indicator's own unit (shares as 0..1).
    pub value: f64,
    /// Standard error, used by the built-in Monte Carlo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub se: Option<f64>,
    /// Numerator of a rate, for display and drill-down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerator: Option<f64>,
    /// Denominator of a rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denominator: Option<f64>,
    /// Opaque references to the records behind the value (ids or query keys).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drill_down: Vec<String>,
}

/// Rank uncertainty for one unit, as computed by minyi-stats.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RankUncertainty {
    /// Lower end of the rank interval (best plausible rank).
    pub rank_low: u32,
    /// Upper end of the rank interval (worst plausible rank).
    pub rank_high: u32,
    /// k → P(rank ≤ k).
    #[serde(default)]
    pub p_top: BTreeMap<u32, f64>,
    /// k → P(among the bottom k).
    #[serde(default)]
    pub p_bottom: BTreeMap<u32, f64>,
}

impl RunInput {
    /// Canonical JSON of the input as given (call [`RunInput::canonicalised`] first to
    /// get the form a run records).
    pub fn canonical_json(&self) -> Result<String, CanonicalError> {
        canonical_json(self)
    }

    /// SHA-256 of the canonical JSON of the canonicalised input: the run's input hash.
    pub fn hash(&self) -> Result<String, CanonicalError> {
        Ok(sha256_hex(
            self.canonicalised().canonical_json()?.as_bytes(),
        ))
    }

    /// Units sorted by code, drill-down references kept in given order, every number
    /// rounded to 12 significant digits.
    pub fn canonicalised(&self) -> RunInput {
        let mut units: Vec<UnitInput> = self
            .units
            .iter()
            .map(|u| UnitInput {
                code: u.code.clone(),
                peer_group: u.peer_group.clone(),
                values: u
                    .values
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            IndicatorValue {
                                value: quantise(v.value),
                                se: v.se.map(quantise),
                                numerator: v.numerator.map(quantise),
                                denominator: v.denominator.map(quantise),
                                drill_down: v.drill_down.clone(),
                            },
                        )
                    })
                    .collect(),
                jurisdiction: u
                    .jurisdiction
                    .iter()
                    .map(|(k, v)| (k.clone(), quantise(*v)))
                    .collect(),
                uncertainty: u.uncertainty.as_ref().map(|r| RankUncertainty {
                    rank_low: r.rank_low,
                    rank_high: r.rank_high,
                    p_top: r.p_top.iter().map(|(k, p)| (*k, quantise(*p))).collect(),
                    p_bottom: r.p_bottom.iter().map(|(k, p)| (*k, quantise(*p))).collect(),
                }),
            })
            .collect();
        units.sort_by(|a, b| a.code.cmp(&b.code));
        RunInput {
            period: self.period.clone(),
            units,
        }
    }

    /// Checks the input against a scheme: known indicators, finite numbers, unique
    /// units, sensible uncertainty figures, a period of the scheme's cadence.
    pub fn validate(&self, scheme: &Scheme) -> Result<(), RunError> {
        if !scheme.period.accepts(&self.period) {
            return Err(RunError::PeriodMismatch {
                period: self.period.clone(),
                expected: scheme.period.code().to_owned(),
            });
        }
        if self.units.is_empty() {
            return Err(RunError::NoUnits);
        }
        let mut seen = BTreeSet::new();
        for u in &self.units {
            if u.code.trim().is_empty() {
                return Err(RunError::EmptyUnitCode);
            }
            if !seen.insert(u.code.as_str()) {
                return Err(RunError::DuplicateUnit {
                    unit: u.code.clone(),
                });
            }
            for (id, v) in &u.values {
                if scheme.indicator(id).is_none() {
                    return Err(RunError::UnknownIndicator {
                        unit: u.code.clone(),
                        indicator: id.clone(),
                    });
                }
                check_finite(&u.code, &format!("values.{id}.value"), v.value)?;
                if let Some(se) = v.se {
                    check_finite(&u.code, &format!("values.{id}.se"), se)?;
                    if se < 0.0 {
                        return Err(invalid(
                            &u.code,
                            format!("values.{id}.se"),
                            se,
                            "must be >= 0",
                        ));
                    }
                }
                if let Some(n) = v.numerator {
                    check_finite(&u.code, &format!("values.{id}.numerator"), n)?;
                }
                if let Some(d) = v.denominator {
                    check_finite(&u.code, &format!("values.{id}.denominator"), d)?;
                }
            }
            for (key, v) in &u.jurisdiction {
                if !source::is_jurisdiction_source(key) {
                    return Err(RunError::InvalidJurisdictionCode {
                        unit: u.code.clone(),
                        key: key.clone(),
                    });
                }
                check_finite(&u.code, &format!("jurisdiction.{key}"), *v)?;
            }
            if let Some(r) = &u.uncertainty {
                if r.rank_low == 0 || r.rank_low > r.rank_high {
                    return Err(RunError::InvalidRankInterval {
                        unit: u.code.clone(),
                        low: r.rank_low,
                        high: r.rank_high,
                    });
                }
                for (k, p) in r.p_top.iter().chain(r.p_bottom.iter()) {
                    if !(p.is_finite() && (0.0..=1.0).contains(p)) {
                        return Err(invalid(
                            &u.code,
                            format!("uncertainty.p.{k}"),
                            *p,
                            "a probability in [0, 1]",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn invalid(unit: &str, field: String, value: f64, requirement: &'static str) -> RunError {
    RunError::InvalidNumber {
        unit: unit.to_owned(),
        field,
        value,
        requirement,
    }
}

/// Largest magnitude accepted for any input number: rates and counts are far below it,
/// and keeping sums and squares finite keeps every score finite.
pub const MAX_ABS_VALUE: f64 = 1e12;

fn check_finite(unit: &str, field: &str, v: f64) -> Result<(), RunError> {
    if v.is_finite() && v.abs() <= MAX_ABS_VALUE {
        Ok(())
    } else {
        Err(invalid(
            unit,
            field.to_owned(),
            v,
            "a finite number of magnitude at most 1e12",
        ))
    }
}

/// One changed input value between two runs (for appeals: what changed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputChange {
    /// Unit code.
    pub unit: String,
    /// Indicator id, or `jurisdiction.*` code.
    pub key: String,
    /// Value before (None = missing).
    pub before: Option<f64>,
    /// Value after (None = missing).
    pub after: Option<f64>,
}

/// Lists the indicator values and jurisdiction figures that differ between two
/// inputs, by unit code then key. Units present in only one input list all their values.
pub fn diff_inputs(before: &RunInput, after: &RunInput) -> Vec<InputChange> {
    let b = before.canonicalised();
    let a = after.canonicalised();
    let index = |r: &RunInput| -> BTreeMap<(String, String), f64> {
        let mut m = BTreeMap::new();
        for u in &r.units {
            for (k, v) in &u.values {
                m.insert((u.code.clone(), k.clone()), v.value);
            }
            for (k, v) in &u.jurisdiction {
                m.insert((u.code.clone(), k.clone()), *v);
            }
        }
        m
    };
    let bi = index(&b);
    let ai = index(&a);
    let keys: BTreeSet<&(String, String)> = bi.keys().chain(ai.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let before = bi.get(key).copied();
            let after = ai.get(key).copied();
            (before != after).then(|| InputChange {
                unit: key.0.clone(),
                key: key.1.clone(),
                before,
                after,
            })
        })
        .collect()
}
