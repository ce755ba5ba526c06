//! Rank uncertainty: exact integration against R's integrate() (1e-8 absolute),
//! simulation against the exact distribution, KWW sets against R, and properties.

use minyi_stats::ranks::{exact, rank_confidence_sets, simulate};
use minyi_stats::special::normal_cdf;
use proptest::prelude::*;

use crate::fixtures::{Expected, assert_close};

const EST: [f64; 5] = [0.91, 0.885, 0.93, 0.87, 0.905];
const SE: [f64; 5] = [0.02, 0.03, 0.015, 0.025, 0.01];

#[test]
fn exact_rank_probabilities_match_r_integrate() {
    let e = Expected::load();
    let dist = exact(&EST, &SE, true).expect("exact");
    for i in 0..5 {
        for r in 0..5 {
            let want = e.get("ranks", &format!("p_rank_{}", r + 1), &(i + 1).to_string());
            let got = dist.probs[i][r];
            assert!(
                (got - want).abs() < 1e-8,
                "unit {i} rank {r}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn simulation_agrees_with_exact_and_is_reproducible() {
    let ex = exact(&EST, &SE, true).expect("exact");
    let draws = 40_000;
    let sim = simulate(&EST, &SE, draws, 42, true).expect("sim");
    for i in 0..5 {
        for r in 0..5 {
            let p = ex.probs[i][r];
            let sd = (p * (1.0 - p) / draws as f64).sqrt();
            assert!(
                (sim.probs[i][r] - p).abs() <= 5.0 * sd + 1e-4,
                "unit {i} rank {r}: sim {} exact {p}",
                sim.probs[i][r]
            );
        }
    }
    assert_eq!(sim, simulate(&EST, &SE, draws, 42, true).expect("again"));
    assert_ne!(
        sim.probs,
        simulate(&EST, &SE, draws, 43, true).expect("other").probs
    );
}

#[test]
fn kww_sets_match_r() {
    let e = Expected::load();
    for (kind, joint) in [("joint", true), ("marginal", false)] {
        let sets = rank_confidence_sets(&EST, &SE, 0.9, joint, true).expect("sets");
        for (i, s) in sets.iter().enumerate() {
            let key = (i + 1).to_string();
            assert_eq!(
                s.lower as f64,
                e.get("ranks", &format!("{kind}_lower"), &key)
            );
            assert_eq!(
                s.upper as f64,
                e.get("ranks", &format!("{kind}_upper"), &key)
            );
        }
    }
}

#[test]
fn lower_is_better_reverses_ranks() {
    let hi = exact(&EST, &SE, true).expect("hi");
    let lo = exact(&EST, &SE, false).expect("lo");
    for i in 0..5 {
        for r in 0..5 {
            assert!((hi.probs[i][r] - lo.probs[i][4 - r]).abs() < 1e-9);
        }
    }
}

#[test]
fn summary_and_intervals() {
    let dist = exact(&EST, &SE, true).expect("exact");
    let summary = dist.summary(0.95, &[1, 2], &[1]).expect("summary");
    assert_eq!(summary.len(), 5);
    // Unit 2 (0.93, se 0.015) is the likeliest leader.
    let best = summary
        .iter()
        .max_by(|a, b| a.p_top[0].1.total_cmp(&b.p_top[0].1))
        .expect("best");
    assert_eq!(best.unit, 2);
    for s in &summary {
        assert!(s.interval.lower <= s.interval.upper);
        assert!((s.interval.lower as f64) <= s.expected_rank + 1e-9);
        assert!(s.expected_rank <= s.interval.upper as f64 + 1e-9);
    }
    let json = serde_json::to_string(&summary).expect("json");
    assert!(json.contains("expected_rank"));
    assert!(dist.rank_intervals(1.5).is_err());
}

#[test]
fn bad_rank_input_is_an_error() {
    let code = |r: Result<minyi_stats::ranks::RankDistribution, minyi_stats::InputError>| {
        r.map(|_| ()).map_err(|e| e.code())
    };
    assert_eq!(
        code(exact(&EST, &SE[..4], true)),
        Err("stats.length_mismatch")
    );
    assert_eq!(
        code(exact(&[0.1, f64::NAN], &[0.1, 0.1], true)),
        Err("stats.not_finite")
    );
    assert_eq!(
        code(exact(&[0.1, 0.2], &[0.1, -0.1], true)),
        Err("stats.negative")
    );
    assert_eq!(code(simulate(&[], &[], 10, 1, true)), Err("stats.empty"));
    assert_eq!(
        code(simulate(&[0.1], &[0.1], 0, 1, true)),
        Err("stats.empty")
    );
    assert!(rank_confidence_sets(&[0.1, 0.2], &[0.1, f64::INFINITY], 0.9, true, true).is_err());
}

#[test]
fn zero_se_ties_are_broken_by_order_in_both_methods() {
    let est = [0.9, 0.9, 0.8];
    let se = [0.0, 0.0, 0.05];
    let ex = exact(&est, &se, true).expect("exact");
    let sim = simulate(&est, &se, 2000, 7, true).expect("sim");
    assert!(ex.probs[0][1] + ex.probs[0][0] > 0.999_999);
    assert!(ex.probs[0][0] > ex.probs[1][0]);
    assert_eq!(ex.probs[1][0], 0.0);
    assert_eq!(sim.probs[1][0], 0.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn exact_distribution_is_doubly_stochastic(
        units in proptest::collection::vec((0.7f64..1.0, prop_oneof![Just(0.0), 1e-7f64..1e-3, 0.0f64..0.05]), 2..9)
    ) {
        let est: Vec<f64> = units.iter().map(|u| u.0).collect();
        let se: Vec<f64> = units.iter().map(|u| u.1).collect();
        let dist = exact(&est, &se, true).expect("exact");
        let k = est.len();
        for i in 0..k {
            let row: f64 = dist.probs[i].iter().sum();
            prop_assert!((row - 1.0).abs() < 1e-7, "row {} sums to {}", i, row);
            let col: f64 = (0..k).map(|j| dist.probs[j][i]).sum();
            prop_assert!((col - 1.0).abs() < 1e-7, "column {} sums to {}", i, col);
        }
        let sets = rank_confidence_sets(&est, &se, 0.9, true, true).expect("sets");
        let marg = rank_confidence_sets(&est, &se, 0.9, false, true).expect("marg");
        for (j, m) in sets.iter().zip(&marg) {
            // Joint sets are never narrower than marginal ones.
            prop_assert!(j.lower <= m.lower && j.upper >= m.upper);
        }
    }

    #[test]
    fn two_units_match_closed_form(e1 in 0.0f64..1.0, e2 in 0.0f64..1.0, s1 in 0.001f64..0.2, s2 in 0.001f64..0.2) {
        let dist = exact(&[e1, e2], &[s1, s2], true).expect("exact");
        let want = normal_cdf((e1 - e2) / (s1 * s1 + s2 * s2).sqrt());
        prop_assert!((dist.probs[0][0] - want).abs() < 1e-9, "{} vs {}", dist.probs[0][0], want);
    }
}

#[test]
fn two_unit_closed_form_at_one_point() {
    let dist = exact(&[0.9, 0.88], &[0.02, 0.03], true).expect("exact");
    assert_close(
        "p",
        dist.probs[0][0],
        normal_cdf(0.02 / (0.0013f64).sqrt()),
        1e-9,
    );
}

/// Found by the property test: a unit 1000 times more precise than another makes a
/// step too narrow for the quadrature nodes unless breakpoints straddle it.
#[test]
fn very_precise_unit_beside_a_vague_one() {
    let est = [0.767_179_599_911_019, 0.7];
    let se = [3.809_640_214_522_491e-5, 0.047_044_011_794_522_49];
    let dist = exact(&est, &se, true).expect("exact");
    let want = normal_cdf((est[0] - est[1]) / (se[0] * se[0] + se[1] * se[1]).sqrt());
    assert_close("p0", dist.probs[0][0], want, 1e-9);
    assert_close("p1", dist.probs[1][1], want, 1e-9);
    // A point mass (se = 0) among uncertain units.
    let dist = exact(&[0.9, 0.88, 0.92], &[0.0, 0.02, 0.01], true).expect("exact");
    for r in 0..3 {
        let col: f64 = (0..3).map(|i| dist.probs[i][r]).sum();
        assert!((col - 1.0).abs() < 1e-9, "rank {r}: {col}");
    }
}
