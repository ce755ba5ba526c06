//! Rules and their fairness guards, with supplied and simulated rank uncertainty.

use minyi_assess::{
    End, IndicatorValue, OutcomeCode, Reason, Scheme, UncertaintySource, UnitInput, run,
};

use crate::{identity_scheme, input, unc, unit};

const RULES: &str = r#"
[[rule]]
id = "merit"
outcome = "merit"
top = 1
min_probability = 0.5

[[rule]]
id = "award_ineligible"
outcome = "award_ineligible"
bottom = 2

[[rule]]
id = "accountability"
outcome = "accountability"
bottom = 1
min_probability = 0.8
floor = 30.0
"#;

fn five(top_p: Option<f64>, bottom_p: Option<f64>, bottom_score: f64) -> Vec<UnitInput> {
    let mut a = unit("A", &[("x", 90.0)]);
    let mut e = unit("E", &[("x", bottom_score)]);
    if let Some(p) = top_p {
        a.uncertainty = Some(unc(1, 2, &[(1, p)], &[(1, 0.0), (2, 0.0)]));
    }
    if let Some(p) = bottom_p {
        e.uncertainty = Some(unc(4, 5, &[(1, 0.0)], &[(1, p), (2, 1.0)]));
    }
    vec![
        a,
        unit("B", &[("x", 80.0)]),
        unit("C", &[("x", 70.0)]),
        unit("D", &[("x", 60.0)]),
        e,
    ]
}

fn outcomes(r: &minyi_assess::RunResult, code: &str) -> Vec<(String, OutcomeCode)> {
    r.unit(code)
        .expect("unit")
        .outcomes
        .iter()
        .map(|o| (o.rule.clone(), o.outcome))
        .collect()
}

#[test]
fn guards_met_give_the_outcomes() {
    let s = Scheme::parse(&identity_scheme(RULES)).expect("scheme");
    let r = run(&s, &input(five(Some(0.6), Some(0.9), 50.0))).expect("run");
    assert_eq!(
        outcomes(&r, "A"),
        vec![("merit".into(), OutcomeCode::Merit)]
    );
    assert_eq!(
        outcomes(&r, "E"),
        vec![
            ("award_ineligible".into(), OutcomeCode::AwardIneligible),
            ("accountability".into(), OutcomeCode::Accountability)
        ]
    );
    // D is in the bottom 2 (no guard) but not the bottom 1.
    assert_eq!(
        outcomes(&r, "D"),
        vec![("award_ineligible".into(), OutcomeCode::AwardIneligible)]
    );
    assert!(outcomes(&r, "B").is_empty() && outcomes(&r, "C").is_empty());
    let acc = &r.unit("E").expect("E").outcomes[1];
    assert_eq!(
        acc.reasons,
        vec![
            Reason::RankInSelection {
                end: End::Bottom,
                k: 1,
                rank: 5,
                ranked: 5
            },
            Reason::ProbabilityMet {
                probability: 0.9,
                threshold: 0.8,
                source: UncertaintySource::Supplied
            }
        ]
    );
    let inel = &r.unit("D").expect("D").outcomes[0];
    assert_eq!(inel.reasons[1], Reason::NoGuard);
}

#[test]
fn uncertain_units_go_to_review() {
    let s = Scheme::parse(&identity_scheme(RULES)).expect("scheme");
    let r = run(&s, &input(five(Some(0.4), Some(0.5), 50.0))).expect("run");
    assert_eq!(
        outcomes(&r, "A"),
        vec![("merit".into(), OutcomeCode::NotDistinguishableReview)]
    );
    let e = r.unit("E").expect("E");
    assert_eq!(e.outcomes[1].outcome, OutcomeCode::NotDistinguishableReview);
    assert_eq!(
        e.outcomes[1].reasons[1..],
        [
            Reason::ProbabilityBelowThreshold {
                probability: 0.5,
                threshold: 0.8,
                source: UncertaintySource::Supplied
            },
            Reason::FloorNotBreached {
                indicator: None,
                value: 50.0,
                floor: 30.0
            }
        ]
    );
    // Award ineligibility has no guard: still applies.
    assert_eq!(e.outcomes[0].outcome, OutcomeCode::AwardIneligible);
}

#[test]
fn a_breached_floor_overrides_the_probability_guard() {
    let s = Scheme::parse(&identity_scheme(RULES)).expect("scheme");
    let r = run(&s, &input(five(Some(0.6), Some(0.5), 20.0))).expect("run");
    let e = r.unit("E").expect("E");
    assert_eq!(e.outcomes[1].outcome, OutcomeCode::Accountability);
    assert_eq!(
        e.outcomes[1].reasons[2],
        Reason::FloorBreached {
            indicator: None,
            value: 20.0,
            floor: 30.0
        }
    );
}

#[test]
fn no_probability_and_no_simulation_means_review() {
    let s = Scheme::parse(&identity_scheme(RULES)).expect("scheme");
    let r = run(&s, &input(five(None, None, 50.0))).expect("run");
    let a = r.unit("A").expect("A");
    assert!(a.uncertainty.is_none());
    assert_eq!(a.outcomes[0].outcome, OutcomeCode::NotDistinguishableReview);
    assert_eq!(
        a.outcomes[0].reasons[1],
        Reason::ProbabilityUnavailable { threshold: 0.5 }
    );
}

#[test]
fn floor_on_an_indicator_respects_its_direction() {
    // Lower-is-better indicator d (days): floor 10 is breached by 12 days.
    let text = crate::header(
        r#"
[uncertainty]
monte_carlo = false
[[group]]
id = "g"
weight = 1.0
[[group.indicator]]
id = "d"
source = "opinions.timeliness"
weight = 1.0
direction = "lower"
normalisation = "min_max"
[[rule]]
id = "acc"
outcome = "accountability"
bottom = 1
min_probability = 0.8
floor_indicator = "d"
floor = 10.0
"#,
    );
    let s = Scheme::parse(&text).expect("scheme");
    let r = run(
        &s,
        &input(vec![unit("A", &[("d", 2.0)]), unit("B", &[("d", 12.0)])]),
    )
    .expect("run");
    let b = r.unit("B").expect("B");
    assert_eq!(b.rank, 2);
    assert_eq!(b.outcomes[0].outcome, OutcomeCode::Accountability);
    assert_eq!(
        b.outcomes[0].reasons[2],
        Reason::FloorBreached {
            indicator: Some("d".into()),
            value: 12.0,
            floor: 10.0
        }
    );
}

#[test]
fn ties_at_the_boundary_are_spared_from_bottom_and_share_the_top() {
    // Scores 90, 90, 50, 50: ranks 1, 1, 3, 3. Top 1 holds both leaders; bottom 1
    // (rank > 3) holds nobody, since the tied last pair shares rank 3.
    let rules = r#"
[[rule]]
id = "merit"
outcome = "merit"
top = 1
[[rule]]
id = "acc"
outcome = "accountability"
bottom = 1
"#;
    let s = Scheme::parse(&identity_scheme(rules)).expect("scheme");
    let r = run(
        &s,
        &input(vec![
            unit("A", &[("x", 90.0)]),
            unit("B", &[("x", 90.0)]),
            unit("C", &[("x", 50.0)]),
            unit("D", &[("x", 50.0)]),
        ]),
    )
    .expect("run");
    assert_eq!(
        outcomes(&r, "A"),
        vec![("merit".into(), OutcomeCode::Merit)]
    );
    assert_eq!(
        outcomes(&r, "B"),
        vec![("merit".into(), OutcomeCode::Merit)]
    );
    assert!(outcomes(&r, "C").is_empty() && outcomes(&r, "D").is_empty());
}

fn with_se(code: &str, x: f64, se: f64) -> UnitInput {
    let mut u = unit(code, &[]);
    u.values.insert(
        "x".into(),
        IndicatorValue {
            value: x,
            se: Some(se),
            ..IndicatorValue::default()
        },
    );
    u
}

#[test]
fn monte_carlo_fills_in_when_nothing_is_supplied() {
    let rules = r#"
[[rule]]
id = "merit"
outcome = "merit"
top = 1
min_probability = 0.9
[[rule]]
id = "acc"
outcome = "accountability"
bottom = 1
min_probability = 0.8
"#;
    let text = identity_scheme(rules).replace(
        "monte_carlo = false",
        "monte_carlo = true\ndraws = 400\nseed = 7",
    );
    let s = Scheme::parse(&text).expect("scheme");
    // A and B are 1 point apart with se 5: indistinguishable. E is 40 points below
    // everyone with se 1: clearly last.
    let units = vec![
        with_se("A", 81.0, 5.0),
        with_se("B", 80.0, 5.0),
        with_se("C", 70.0, 1.0),
        with_se("E", 30.0, 1.0),
    ];
    let r = run(&s, &input(units.clone())).expect("run");
    assert_eq!(
        r.monte_carlo.as_ref().map(|m| (m.draws, m.seed)),
        Some((400, 7))
    );
    let a = r.unit("A").expect("A");
    let ua = a.uncertainty.as_ref().expect("simulated");
    assert_eq!(ua.source, UncertaintySource::MonteCarlo);
    let p = ua.p_top[&1];
    assert!(p > 0.3 && p < 0.8, "P(A top 1) = {p}");
    assert_eq!((ua.rank_low, ua.rank_high), (1, 2));
    assert_eq!(a.outcomes[0].outcome, OutcomeCode::NotDistinguishableReview);
    let e = r.unit("E").expect("E");
    let ue = e.uncertainty.as_ref().expect("simulated");
    assert_eq!(ue.p_bottom[&1], 1.0);
    assert_eq!((ue.rank_low, ue.rank_high), (4, 4));
    assert_eq!(e.outcomes[0].outcome, OutcomeCode::Accountability);
    // Seeded: the same again; a different seed moves the probabilities.
    assert_eq!(run(&s, &input(units.clone())).expect("again"), r);
    let s2 = Scheme::parse(&text.replace("seed = 7", "seed = 8")).expect("scheme");
    let p2 = run(&s2, &input(units))
        .expect("run")
        .unit("A")
        .expect("A")
        .uncertainty
        .clone();
    assert_ne!(p2.map(|u| u.p_top[&1]), Some(p));
}

#[test]
fn supplied_uncertainty_wins_over_simulation() {
    let text =
        identity_scheme(RULES).replace("monte_carlo = false", "monte_carlo = true\ndraws = 50");
    let s = Scheme::parse(&text).expect("scheme");
    let r = run(&s, &input(five(Some(0.6), None, 50.0))).expect("run");
    let a = r.unit("A").expect("A").uncertainty.as_ref().expect("u");
    assert_eq!(a.source, UncertaintySource::Supplied);
    // No standard errors at all: nothing to simulate, so E's uncertainty stays unknown
    // and the guarded accountability rule sends it to review rather than claiming P = 1.
    let e = r.unit("E").expect("E");
    assert!(e.uncertainty.is_none());
    assert!(r.monte_carlo.is_none());
    assert_eq!(e.outcomes[1].outcome, OutcomeCode::NotDistinguishableReview);
    assert_eq!(
        e.outcomes[1].reasons[1],
        Reason::ProbabilityUnavailable { threshold: 0.8 }
    );
    // With a standard error somewhere the simulation runs and fills E in.
    let mut units = five(Some(0.6), None, 50.0);
    if let Some(v) = units[1].values.get_mut("x") {
        v.se = Some(3.0);
    }
    let r = run(&s, &input(units)).expect("run");
    let e = r
        .unit("E")
        .expect("E")
        .uncertainty
        .as_ref()
        .expect("simulated");
    assert_eq!(e.source, UncertaintySource::MonteCarlo);
    assert_eq!(e.p_bottom[&1], 1.0);
}
