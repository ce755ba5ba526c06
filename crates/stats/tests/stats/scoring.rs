//! Scoring answers into rates and indices, with the "don't know" rule.

use minyi_stats::scoring::{Answer, DontKnowRule, Scoring, score};
use minyi_stats::survey::{Design, DesignSpec};

use Answer::{DontKnow, Missing, Scale};

#[test]
fn rate_and_index_with_dont_know_rules() {
    let answers = [Scale(5), Scale(4), Scale(3), DontKnow, Missing, Scale(1)];
    let rate = Scoring::Rate {
        scale_max: 5,
        top: 2,
    };
    let s = score(&answers, &rate, DontKnowRule::Exclude).expect("score");
    assert_eq!(s.values, vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(s.answered, vec![true, true, true, false, false, true]);
    assert_eq!((s.dont_know, s.missing), (1, 1));
    let s0 = score(&answers, &rate, DontKnowRule::Value(0.0)).expect("score");
    assert_eq!(s0.answered, vec![true, true, true, true, false, true]);

    // The mask is the domain: 2 of 4 answered are satisfied, 2 of 5 once "don't know"
    // counts as not satisfied.
    let w = [1.0; 6];
    let d = Design::new(DesignSpec::weighted(&w)).expect("design");
    let m = d.mean(&s.values, Some(&s.answered)).expect("mean");
    assert!((m.estimate - 0.5).abs() < 1e-15);
    let m0 = d.mean(&s0.values, Some(&s0.answered)).expect("mean");
    assert!((m0.estimate - 0.4).abs() < 1e-15);

    let index = Scoring::Index {
        weights: vec![0.0, 25.0, 50.0, 75.0, 100.0],
    };
    let s = score(&answers, &index, DontKnowRule::Exclude).expect("index");
    assert_eq!(&s.values[..3], &[100.0, 75.0, 50.0]);
    assert_eq!(s.values[5], 0.0);
}

#[test]
fn answers_outside_the_scale_are_errors() {
    let rate = Scoring::Rate {
        scale_max: 5,
        top: 2,
    };
    let e = score(&[Scale(3), Scale(6)], &rate, DontKnowRule::Exclude).expect_err("6 of 5");
    assert_eq!(e.code(), "stats.outside_support");
    assert!(e.to_string().contains("[1]"));
    assert!(score(&[Scale(0)], &rate, DontKnowRule::Exclude).is_err());
    let bad = Scoring::Rate {
        scale_max: 5,
        top: 5,
    };
    assert!(score(&[Scale(3)], &bad, DontKnowRule::Exclude).is_err());
    let nan = DontKnowRule::Value(f64::NAN);
    assert!(score(&[DontKnow], &rate, nan).is_err());
}

#[test]
fn mean_interval_uses_t_or_normal() {
    let w = [2.0; 10];
    let y: Vec<f64> = (0..10).map(f64::from).collect();
    let d = Design::new(DesignSpec::weighted(&w)).expect("design");
    let m = d.mean(&y, None).expect("mean");
    let (lo, hi) = m.interval(0.95, false).expect("normal");
    let (tlo, thi) = m.interval(0.95, true).expect("t");
    assert!(tlo < lo && hi < thi);
    // se = sqrt(s²/n) with s² = 55/6: t_{0.975, 9} = 2.2621571627982049.
    let se = (55.0f64 / 6.0 / 10.0).sqrt();
    let want = 4.5 + 2.262_157_162_798_205 * se;
    assert!((thi - want).abs() < 1e-12, "{thi} vs {want}");
}
