//! Integration tests of minyi-assess: schemes, hand-computed scores, ties, missing data,
//! rules and their guards, what-if, sensitivity, reproducibility, and properties.
//! All unit data here is synthetic.

mod props;
mod repro;
mod rules;
mod scheme;
mod scoring;
mod whatif;

use std::collections::BTreeMap;

use minyi_assess::{IndicatorValue, RankUncertainty, RunInput, UnitInput};

/// A scheme header with Monte Carlo off unless a test turns it on.
pub fn header(extra: &str) -> String {
    format!("format = 1\nid = \"test\"\nversion = \"1\"\nperiod = \"year\"\n{extra}\n")
}

/// A unit with plain values.
pub fn unit(code: &str, values: &[(&str, f64)]) -> UnitInput {
    UnitInput {
        code: code.to_owned(),
        values: values
            .iter()
            .map(|(k, v)| {
                (
                    (*k).to_owned(),
                    IndicatorValue {
                        value: *v,
                        ..IndicatorValue::default()
                    },
                )
            })
            .collect(),
        ..UnitInput::default()
    }
}

/// An input for period 2014.
pub fn input(units: Vec<UnitInput>) -> RunInput {
    RunInput {
        period: "2014".to_owned(),
        units,
    }
}

/// Supplied rank uncertainty.
pub fn unc(low: u32, high: u32, top: &[(u32, f64)], bottom: &[(u32, f64)]) -> RankUncertainty {
    RankUncertainty {
        rank_low: low,
        rank_high: high,
        p_top: top.iter().copied().collect::<BTreeMap<_, _>>(),
        p_bottom: bottom.iter().copied().collect::<BTreeMap<_, _>>(),
    }
}

/// One indicator `x` (business.x) normalised with target floor 0, target 100, so the
/// score equals the raw value: easy to reason about in rule tests.
pub fn identity_scheme(rules: &str) -> String {
    header(&format!(
        r#"
[uncertainty]
monte_carlo = false

[[group]]
id = "g"
weight = 1.0

[[group.indicator]]
id = "x"
source = "business.x"
weight = 1.0
direction = "higher"
normalisation = "target"
floor = 0.0
target = 100.0

{rules}
"#
    ))
}

/// Approximate equality for hand-computed figures.
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// A synthetic city of `n` stations in 5 counties with every default-scheme indicator
/// (a small deterministic generator, not real data).
pub fn synthetic_city(n: usize, seed: u64) -> RunInput {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let mut units = Vec::new();
    for s in 0..n {
        let mut values = BTreeMap::new();
        let mut put = |k: &str, v: f64, se: Option<f64>| {
            values.insert(
                k.to_owned(),
                IndicatorValue {
                    value: v,
                    se,
                    drill_down: vec![format!("synthetic:{k}:{s}")],
                    ..IndicatorValue::default()
                },
            );
        };
        put("cases_solved", (40.0 + 200.0 * next()).round(), None);
        put("drug_control", (10.0 + 80.0 * next()).round(), None);
        if s % 9 != 4 {
            put("team_building", 60.0 + 40.0 * next(), None);
        }
        put("team_discipline", (5.0 * next()).floor(), None);
        put("security", 0.80 + 0.18 * next(), Some(0.02));
        put("satisfaction", 0.75 + 0.22 * next(), Some(0.025));
        put("chief_awareness", 0.30 + 0.50 * next(), Some(0.03));
        if s % 4 != 0 {
            put("window_ratings", 0.85 + 0.15 * next(), None);
        }
        put("callback_coverage", 0.6 + 0.4 * next(), None);
        put("callback_satisfaction", 0.7 + 0.3 * next(), None);
        put("opinion_timeliness", 0.7 + 0.3 * next(), None);
        put("verdict_satisfaction", 0.6 + 0.4 * next(), None);
        put("help_resolution", 0.7 + 0.3 * next(), None);
        put("permit_on_time", 0.85 + 0.15 * next(), None);
        put("timely_filing", 0.9 + 0.1 * next(), None);
        put("loss_recovery", 0.2 + 0.6 * next(), None);
        let mut jurisdiction = BTreeMap::new();
        jurisdiction.insert(
            "jurisdiction.drug_users_growth".to_owned(),
            1.3 * next() - 0.2,
        );
        jurisdiction.insert(
            "jurisdiction.named_crimes_growth".to_owned(),
            0.6 * next() - 0.1,
        );
        units.push(UnitInput {
            code: format!("S{:03}", s + 1),
            peer_group: Some(format!("C{}", s % 5 + 1)),
            values,
            jurisdiction,
            uncertainty: None,
        });
    }
    input(units)
}
