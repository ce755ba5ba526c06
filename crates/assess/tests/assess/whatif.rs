//! What-if (new weights → new ranking, who moved how far) and sensitivity to weights.

use minyi_assess::{Scheme, SensitivitySettings, WeightChange, sensitivity, what_if};

use crate::{header, input, unit};

/// One group, u and v at 0.5 each, identity normalisation (raw / 100).
fn uv_scheme() -> Scheme {
    let ind = |id: &str, src: &str| {
        format!(
            "[[group.indicator]]\nid = \"{id}\"\nsource = \"{src}\"\nweight = 0.5\ndirection = \"higher\"\nnormalisation = \"target\"\nfloor = 0.0\ntarget = 100.0\n"
        )
    };
    Scheme::parse(&header(&format!(
        "[uncertainty]\nmonte_carlo = false\n[[group]]\nid = \"g\"\nweight = 1.0\n{}{}",
        ind("u", "business.u"),
        ind("v", "team.v")
    )))
    .expect("scheme")
}

fn abc() -> minyi_assess::RunInput {
    // Scores at 0.5/0.5: A 50, B 45, C 40.
    input(vec![
        unit("A", &[("u", 100.0), ("v", 0.0)]),
        unit("B", &[("u", 0.0), ("v", 90.0)]),
        unit("C", &[("u", 40.0), ("v", 40.0)]),
    ])
}

#[test]
fn what_if_reports_new_ranking_and_moves() {
    // New weights u 0.2, v 0.8: A 20, B 72, C 40 → B 1, C 2, A 3.
    let mut change = WeightChange::default();
    change.indicators.insert("u".into(), 0.2);
    change.indicators.insert("v".into(), 0.8);
    let w = what_if(&uv_scheme(), &abc(), &change).expect("what-if");
    assert_ne!(w.before.scheme.hash, w.after.scheme.hash);
    assert_eq!(w.before.input_hash, w.after.input_hash);
    type Move<'a> = (&'a str, Option<u32>, Option<u32>, Option<i64>);
    let moves: Vec<Move> = w
        .comparison
        .units
        .iter()
        .map(|m| (m.unit.as_str(), m.rank_before, m.rank_after, m.moved))
        .collect();
    assert_eq!(
        moves,
        vec![
            ("B", Some(2), Some(1), Some(1)),
            ("C", Some(3), Some(2), Some(1)),
            ("A", Some(1), Some(3), Some(-2)),
        ]
    );
    assert_eq!(w.comparison.moved, 3);
    let a = &w.comparison.units[2];
    assert_eq!((a.score_before, a.score_after), (Some(50.0), Some(20.0)));
}

#[test]
fn what_if_rejects_weights_that_do_not_sum_unless_asked_to_renormalise() {
    let mut change = WeightChange::default();
    change.indicators.insert("u".into(), 2.0);
    let e = what_if(&uv_scheme(), &abc(), &change).expect_err("sum 2.5");
    assert_eq!(e.code(), "scheme.weight_sum");
    change.renormalise = true;
    // u 2.0, v 0.5 → shares 0.8, 0.2: A 80, B 18, C 40.
    let w = what_if(&uv_scheme(), &abc(), &change).expect("renormalised");
    let order: Vec<(&str, f64)> = w
        .after
        .units
        .iter()
        .map(|u| (u.unit.as_str(), u.score))
        .collect();
    assert_eq!(order, vec![("A", 80.0), ("C", 40.0), ("B", 18.0)]);
}

#[test]
fn sensitivity_reports_rank_stability() {
    // C scores 40 under any weights, B at least 40.5: C is always third. A beats B
    // unless u's share falls below 0.4737 — with factors a, b ~ U(0.9, 1.1), P(a < 0.9 b)
    // ≈ 0.11 — so A keeps rank 1 in roughly 89% of draws and ranges over 1..2.
    let settings = SensitivitySettings {
        draws: 2000,
        magnitude: 0.10,
        seed: 11,
    };
    let s = sensitivity(&uv_scheme(), &abc(), &settings).expect("sensitivity");
    let c = s.units.iter().find(|u| u.unit == "C").expect("C");
    assert_eq!(
        (c.score.same_rank_share, c.score.rank_min, c.score.rank_max),
        (1.0, 3, 3)
    );
    let a = s.units.iter().find(|u| u.unit == "A").expect("A");
    assert!(
        a.score.same_rank_share > 0.83 && a.score.same_rank_share < 0.95,
        "{a:?}"
    );
    assert_eq!(
        (a.score.rank, a.score.rank_min, a.score.rank_max),
        (1, 1, 2)
    );
    assert!(a.basis.is_none());
    // Seeded and reproducible.
    assert_eq!(
        sensitivity(&uv_scheme(), &abc(), &settings).expect("again"),
        s
    );
    // No perturbation, no movement.
    let still = SensitivitySettings {
        draws: 10,
        magnitude: 0.0,
        seed: 1,
    };
    let s0 = sensitivity(&uv_scheme(), &abc(), &still).expect("sensitivity");
    assert!(s0.units.iter().all(|u| u.score.same_rank_share == 1.0));
    let bad = SensitivitySettings {
        draws: 0,
        ..SensitivitySettings::default()
    };
    assert_eq!(
        sensitivity(&uv_scheme(), &abc(), &bad)
            .expect_err("draws")
            .code(),
        "run.invalid_setting"
    );
}

#[test]
fn an_empty_what_if_moves_nobody() {
    let w = what_if(&uv_scheme(), &abc(), &WeightChange::default()).expect("what-if");
    assert_eq!(w.before, w.after);
    assert_eq!((w.comparison.moved, w.comparison.outcome_changes), (0, 0));
    assert!(w.comparison.units.iter().all(|m| m.moved == Some(0)));
}
