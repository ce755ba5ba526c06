//! Survey estimation: bad input, boundary treatments and properties.

use minyi_stats::intervals::{CiNote, PropCiMethod, korn_graubard, logit, prop_interval};
use minyi_stats::survey::{Design, DesignSpec, LonelyPsu, Margin};
use proptest::prelude::*;

fn code<T>(r: Result<T, minyi_stats::InputError>) -> Result<(), &'static str> {
    r.map(|_| ()).map_err(|e| e.code())
}

#[test]
fn bad_designs_are_errors() {
    let w = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(
        code(Design::new(DesignSpec::weighted(&[]))),
        Err("stats.empty")
    );
    assert_eq!(
        code(Design::new(DesignSpec::weighted(&[1.0, 0.0]))),
        Err("stats.not_positive")
    );
    assert_eq!(
        code(Design::new(DesignSpec::weighted(&[1.0, -2.0]))),
        Err("stats.not_positive")
    );
    assert_eq!(
        code(Design::new(DesignSpec::weighted(&[1.0, f64::NAN]))),
        Err("stats.not_finite")
    );
    let mut spec = DesignSpec::weighted(&w);
    spec.strata = Some(&[0, 0, 1]);
    assert_eq!(code(Design::new(spec)), Err("stats.length_mismatch"));
    // A stratum with one unit.
    spec.strata = Some(&[0, 0, 0, 1]);
    assert_eq!(code(Design::new(spec)), Err("stats.lonely_psu"));
    // ... unless it was sampled completely.
    spec.fpc = Some(&[100.0, 100.0, 100.0, 1.0]);
    assert!(Design::new(spec).is_ok());
    // fpc must be constant within a stratum and not below the sample.
    spec.fpc = Some(&[100.0, 90.0, 100.0, 1.0]);
    assert_eq!(code(Design::new(spec)), Err("stats.outside_support"));
    spec.fpc = Some(&[2.0, 2.0, 2.0, 1.0]);
    assert_eq!(code(Design::new(spec)), Err("stats.out_of_range"));
}

#[test]
fn bad_estimation_input_is_an_error() {
    let w = [1.0, 2.0, 3.0, 4.0];
    let d = Design::new(DesignSpec::weighted(&w)).expect("design");
    assert_eq!(
        code(d.mean(&[1.0, 2.0], None)),
        Err("stats.length_mismatch")
    );
    assert_eq!(
        code(d.mean(&[1.0, f64::NAN, 2.0, 3.0], None)),
        Err("stats.not_finite")
    );
    // A NaN outside the domain (a "don't know" coded as missing) is fine.
    let answered = [true, false, true, true];
    assert!(d.mean(&[1.0, f64::NAN, 2.0, 3.0], Some(&answered)).is_ok());
    assert_eq!(
        code(d.mean(&[1.0; 4], Some(&[false; 4]))),
        Err("stats.empty_cell")
    );
    assert_eq!(
        code(d.proportion(&[1.0, 2.0, 0.0, 1.0], None, PropCiMethod::Logit, 0.95)),
        Err("stats.outside_support")
    );
    assert_eq!(
        code(d.post_stratify(&[0, 1, 2, 0], &[10.0, 10.0])),
        Err("stats.unknown_cell")
    );
    assert_eq!(
        code(d.post_stratify(&[0, 0, 0, 0], &[10.0, 10.0])),
        Err("stats.empty_cell")
    );
    let a = [0, 1, 0, 1];
    assert_eq!(
        code(d.rake(&[
            Margin {
                cells: &a,
                totals: &[5.0, 5.0]
            },
            Margin {
                cells: &a,
                totals: &[5.0, 6.0]
            },
        ])),
        Err("stats.out_of_range")
    );
}

#[test]
fn boundary_proportions_fall_back_and_are_flagged() {
    let w = [1.5; 50];
    let d = Design::new(DesignSpec::weighted(&w)).expect("design");
    let ones = [1.0; 50];
    for method in [PropCiMethod::Logit, PropCiMethod::KornGraubard] {
        let e = d.proportion(&ones, None, method, 0.95).expect("estimate");
        assert_eq!(e.interval.note, Some(CiNote::BoundaryFallback));
        assert_eq!(e.interval.upper, 1.0);
        // Clopper–Pearson at x = n = 50: (0.025)^(1/50).
        assert!((e.interval.lower - 0.025f64.powf(1.0 / 50.0)).abs() < 1e-12);
        assert_eq!(e.mean.deff, None);
        let json = serde_json::to_value(e).expect("json");
        assert_eq!(json["interval"]["note"], "boundary_fallback");
    }
    let zeros = [0.0; 50];
    let e = d
        .proportion(&zeros, None, PropCiMethod::Logit, 0.95)
        .expect("estimate");
    assert_eq!(e.interval.lower, 0.0);
    assert!(e.interval.upper > 0.0 && e.interval.upper < 0.1);
}

#[test]
fn mean_by_with_dont_know_mask_is_a_domain() {
    let w = [10.0, 20.0, 10.0, 30.0, 10.0, 20.0];
    let y = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
    let g = [7, 7, 7, 9, 9, 9];
    let answered = [true, true, false, true, true, true];
    let d = Design::new(DesignSpec::weighted(&w)).expect("design");
    let by = d.mean_by(&y, &g, Some(&answered)).expect("by");
    assert_eq!(by.len(), 2);
    assert_eq!(by[0].group, 7);
    assert!((by[0].mean.estimate - 10.0 / 30.0).abs() < 1e-15);
    assert_eq!(by[0].mean.n_obs, 2);
    assert!((by[1].mean.estimate - 50.0 / 60.0).abs() < 1e-15);
    let json = serde_json::to_string(&by).expect("json");
    assert!(json.contains("\"group\":7") && json.contains("\"deff\""));
}

#[test]
fn srs_with_equal_weights_has_design_effect_near_one() {
    let y: Vec<f64> = (0..200).map(|i| f64::from(i % 5)).collect();
    let w = vec![50.0; 200];
    let d = Design::new(DesignSpec::weighted(&w)).expect("design");
    let m = d.mean(&y, None).expect("mean");
    // Linearisation variance s²/n against s²(N−n)/(Nn): deff = N/(N−n).
    assert!((m.deff.expect("deff") - 10_000.0 / 9_800.0).abs() < 1e-12);
    assert!((m.deff_replace.expect("replace") - 1.0).abs() < 1e-12);
    assert_eq!(m.df, 199);
}

#[test]
fn unweighted_methods_through_a_design_use_counts() {
    let w: Vec<f64> = (0..100).map(|i| 1.0 + f64::from(i % 3)).collect();
    let y: Vec<f64> = (0..100)
        .map(|i| if i % 10 == 0 { 0.0 } else { 1.0 })
        .collect();
    let d = Design::new(DesignSpec::weighted(&w)).expect("design");
    let e = d
        .proportion(&y, None, PropCiMethod::Wilson, 0.95)
        .expect("estimate");
    let direct = minyi_stats::intervals::wilson(90, 100, 0.95).expect("wilson");
    assert_eq!(e.interval.lower, direct.lower);
    assert_eq!(e.interval.upper, direct.upper);
}

#[test]
fn lonely_psu_options_on_domains_keep_full_design() {
    let w = [1.0, 1.0, 1.0, 1.0, 1.0];
    let strata = [0, 0, 1, 1, 2];
    let y = [1.0, 2.0, 3.0, 5.0, 4.0];
    let mut spec = DesignSpec::weighted(&w);
    spec.strata = Some(&strata);
    spec.lonely_psu = LonelyPsu::Certainty;
    let d = Design::new(spec).expect("design");
    let m = d.mean(&y, None).expect("mean");
    assert!(m.variance > 0.0 && m.variance.is_finite());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn weighted_intervals_are_never_nan(p in 0.0f64..=1.0, v in 0.0f64..0.05, n in 1usize..500, df in 1.0f64..500.0) {
        for iv in [korn_graubard(p, v, n, df, 0.95), logit(p, v, n, df, 0.95)] {
            let iv = iv.expect("interval");
            prop_assert!(iv.lower.is_finite() && iv.upper.is_finite());
            prop_assert!(0.0 <= iv.lower && iv.lower <= p && p <= iv.upper && iv.upper <= 1.0);
        }
        for m in [PropCiMethod::Wilson, PropCiMethod::ClopperPearson, PropCiMethod::Jeffreys] {
            let iv = prop_interval(m, p, 0.0, n, 1.0, 0.95).expect("interval");
            prop_assert!(0.0 <= iv.lower && iv.lower <= iv.upper && iv.upper <= 1.0);
        }
    }

    #[test]
    fn estimates_are_finite_and_invariant_to_weight_scale(
        rows in proptest::collection::vec((0.1f64..10.0, 0usize..3, 0usize..4, 0.0f64..5.0), 12..60),
        scale in 0.01f64..100.0,
    ) {
        let w: Vec<f64> = rows.iter().map(|r| r.0).collect();
        let strata: Vec<usize> = rows.iter().map(|r| r.1).collect();
        let clusters: Vec<usize> = rows.iter().map(|r| r.2).collect();
        let y: Vec<f64> = rows.iter().map(|r| r.3).collect();
        let mut spec = DesignSpec::weighted(&w);
        spec.strata = Some(&strata);
        spec.clusters = Some(&clusters);
        spec.lonely_psu = LonelyPsu::Adjust;
        let d = Design::new(spec).expect("design");
        let m = d.mean(&y, None).expect("mean");
        prop_assert!(m.estimate.is_finite() && m.variance.is_finite() && m.variance >= 0.0);
        let ws: Vec<f64> = w.iter().map(|x| x * scale).collect();
        let mut spec2 = spec;
        spec2.weights = &ws;
        let m2 = Design::new(spec2).expect("design").mean(&y, None).expect("mean");
        prop_assert!((m.estimate - m2.estimate).abs() <= 1e-9 * m.estimate.abs().max(1.0));
        prop_assert!((m.variance - m2.variance).abs() <= 1e-9 * m.variance.max(1e-12));
    }
}
