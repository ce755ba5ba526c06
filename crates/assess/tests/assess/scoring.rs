//! Hand-computed scores, ties, missing data under each treatment, jurisdiction
//! conditions, and bad inputs.

use minyi_assess::{
    ConditionStatus, ExclusionReason, IndicatorValue, MissingApplied, RunError, Scheme, run,
};

use crate::{close, header, identity_scheme, input, unit};

/// Three indicators over two groups:
/// group a (0.4): x min_max higher;
/// group b (0.6): y target 0.5→1.0 (weight 0.5), z rank lower-is-better (weight 0.5).
fn three_indicator_scheme() -> Scheme {
    Scheme::parse(&header(
        r#"
[uncertainty]
monte_carlo = false

[[group]]
id = "a"
weight = 0.4

[[group.indicator]]
id = "x"
source = "business.x"
weight = 1.0
direction = "higher"
normalisation = "min_max"

[[group]]
id = "b"
weight = 0.6

[[group.indicator]]
id = "y"
source = "survey.satisfaction"
weight = 0.5
direction = "higher"
normalisation = "target"
floor = 0.5
target = 1.0

[[group.indicator]]
id = "z"
source = "team.discipline"
weight = 0.5
direction = "lower"
normalisation = "rank"
"#,
    ))
    .expect("scheme")
}

#[test]
fn hand_computed_three_units() {
    // x: A 10, B 20, C 30        → min_max: A 0, B 0.5, C 1
    // y: A 0.9, B 0.7, C 0.5     → target (y − 0.5)/0.5: A 0.8, B 0.4, C 0
    // z: A 1, B 3, C 2 (lower)   → mid-rank worse/(n−1): A 2/2 = 1, B 0, C 1/2
    // weights: x 0.4, y 0.3, z 0.3
    // A = 100 (0.4·0 + 0.3·0.8 + 0.3·1)   = 54
    // B = 100 (0.4·0.5 + 0.3·0.4 + 0.3·0) = 32
    // C = 100 (0.4·1 + 0.3·0 + 0.3·0.5)   = 55
    let s = three_indicator_scheme();
    let r = run(
        &s,
        &input(vec![
            unit("A", &[("x", 10.0), ("y", 0.9), ("z", 1.0)]),
            unit("B", &[("x", 20.0), ("y", 0.7), ("z", 3.0)]),
            unit("C", &[("x", 30.0), ("y", 0.5), ("z", 2.0)]),
        ]),
    )
    .expect("run");
    let order: Vec<(&str, u32, f64)> = r
        .units
        .iter()
        .map(|u| (u.unit.as_str(), u.rank, u.score))
        .collect();
    assert_eq!(order, vec![("C", 1, 55.0), ("A", 2, 54.0), ("B", 3, 32.0)]);
    let a = r.unit("A").expect("A");
    let norm: Vec<Option<f64>> = a.indicators.iter().map(|i| i.normalised).collect();
    assert_eq!(norm, vec![Some(0.0), Some(0.8), Some(1.0)]);
    let w: Vec<f64> = a.indicators.iter().map(|i| i.weight).collect();
    assert!(close(w[0], 0.4) && close(w[1], 0.3) && close(w[2], 0.3));
    let contrib: Vec<f64> = a.indicators.iter().map(|i| i.contribution).collect();
    assert!(close(contrib[0], 0.0) && close(contrib[1], 24.0) && close(contrib[2], 30.0));
    assert!(close(a.groups[0].subtotal, 0.0) && close(a.groups[1].subtotal, 54.0));
    assert!(close(a.groups[0].weight, 0.4) && close(a.groups[1].weight, 0.6));
    assert_eq!(a.indicators[0].raw, Some(10.0));
    assert!(a.indicators.iter().all(|i| i.missing.is_none()));
    assert_eq!(r.ranked, 3);
    assert!(r.monte_carlo.is_none());
}

#[test]
fn z_score_normalisation_by_hand() {
    // x = 1, 2, 3: mean 2, population sd √(2/3) ≈ 0.8165; z = ∓1.2247, 0.
    // clip 3 → (z + 3)/6: 0.29588, 0.5, 0.70412. Score = 100 × that.
    let s = Scheme::parse(&header(
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
normalisation = "z_score"
"#,
    ))
    .expect("scheme");
    let r = run(
        &s,
        &input(vec![
            unit("A", &[("x", 1.0)]),
            unit("B", &[("x", 2.0)]),
            unit("C", &[("x", 3.0)]),
        ]),
    )
    .expect("run");
    let z = 1.0 / (2.0f64 / 3.0).sqrt();
    assert!((r.unit("C").expect("C").score - 100.0 * (z + 3.0) / 6.0).abs() < 1e-6);
    assert!(close(r.unit("B").expect("B").score, 50.0));
    assert!((r.unit("A").expect("A").score - 100.0 * (3.0 - z) / 6.0).abs() < 1e-6);
}

#[test]
fn ties_share_the_best_rank_and_display_by_code() {
    // Scores equal raw values: 90, 80, 80, 70 → ranks 1, 2, 2, 4 ("1224").
    let s = Scheme::parse(&identity_scheme("")).expect("scheme");
    let r = run(
        &s,
        &input(vec![
            unit("D", &[("x", 70.0)]),
            unit("C", &[("x", 80.0)]),
            unit("B", &[("x", 80.0)]),
            unit("A", &[("x", 90.0)]),
        ]),
    )
    .expect("run");
    let order: Vec<(&str, u32)> = r.units.iter().map(|u| (u.unit.as_str(), u.rank)).collect();
    assert_eq!(order, vec![("A", 1), ("B", 2), ("C", 2), ("D", 4)]);
}

#[test]
fn sums_that_differ_in_the_last_bit_still_tie() {
    // 0.1 + 0.2 and 0.3 differ in floating point; scores are compared at 9 decimals.
    let s = Scheme::parse(&identity_scheme("")).expect("scheme");
    let r = run(
        &s,
        &input(vec![
            unit("A", &[("x", 0.1 + 0.2)]),
            unit("B", &[("x", 0.3)]),
        ]),
    )
    .expect("run");
    assert!(r.units.iter().all(|u| u.rank == 1));
}

/// group g1 (0.5): p (0.5), q (0.5); group g2 (0.5): r (1.0); identity normalisation
/// (target 0 → 100) so normalised = raw / 100. `missing_p` sets p's treatment.
fn missing_scheme(missing_p: &str, r_norm: &str) -> Scheme {
    Scheme::parse(&header(&format!(
        r#"
[uncertainty]
monte_carlo = false
[[group]]
id = "g1"
weight = 0.5
[[group.indicator]]
id = "p"
source = "business.p"
weight = 0.5
direction = "higher"
normalisation = "target"
floor = 0.0
target = 100.0
missing = "{missing_p}"
[[group.indicator]]
id = "q"
source = "business.q"
weight = 0.5
direction = "higher"
normalisation = "target"
floor = 0.0
target = 100.0
[[group]]
id = "g2"
weight = 0.5
[[group.indicator]]
id = "r"
source = "team.r"
weight = 1.0
direction = "higher"
{r_norm}
"#
    )))
    .expect("scheme")
}

const R_IDENTITY: &str = "normalisation = \"target\"\nfloor = 0.0\ntarget = 100.0";

#[test]
fn missing_group_reweight_within_group() {
    // M lacks p: q takes g1's whole 0.5 → score = 0.5·q + 0.5·r = 0.5·60 + 0.5·20 = 40.
    let s = missing_scheme("group_reweight", R_IDENTITY);
    let r = run(
        &s,
        &input(vec![
            unit("A", &[("p", 40.0), ("q", 40.0), ("r", 40.0)]),
            unit("M", &[("q", 60.0), ("r", 20.0)]),
        ]),
    )
    .expect("run");
    let m = r.unit("M").expect("M");
    assert!(close(m.score, 40.0));
    let p = &m.indicators[0];
    assert_eq!(p.missing, Some(MissingApplied::GroupReweight));
    assert_eq!((p.raw, p.normalised), (None, None));
    assert!(close(p.weight, 0.25) && close(p.applied_weight, 0.0));
    assert!(close(m.indicators[1].applied_weight, 0.5));
    assert!(close(m.groups[0].applied_weight, 0.5));
}

#[test]
fn missing_group_reweight_whole_group_passes_weight_to_other_groups() {
    // N lacks r, g2 is empty for N: g1 takes everything → 0.5·p + 0.5·q = 0.5·80 + 0.5·40 = 60.
    let s = missing_scheme("group_reweight", R_IDENTITY);
    let r = run(
        &s,
        &input(vec![
            unit("A", &[("p", 40.0), ("q", 40.0), ("r", 40.0)]),
            unit("N", &[("p", 80.0), ("q", 40.0)]),
        ]),
    )
    .expect("run");
    let n = r.unit("N").expect("N");
    assert!(close(n.score, 60.0));
    assert!(close(n.groups[0].applied_weight, 1.0) && close(n.groups[1].applied_weight, 0.0));
    assert_eq!(n.indicators[2].missing, Some(MissingApplied::GroupReweight));
}

#[test]
fn missing_worst_observed() {
    // Observed p: 40, 60, 80 → normalised 0.4, 0.6, 0.8; worst 0.4 imputed for M.
    // M = 100 (0.25·0.4 + 0.25·q/100 + 0.5·r/100) = 10 + 0.25·20 + 0.5·20 = 25.
    let s = missing_scheme("worst_observed", R_IDENTITY);
    let r = run(
        &s,
        &input(vec![
            unit("A", &[("p", 40.0), ("q", 0.0), ("r", 0.0)]),
            unit("B", &[("p", 60.0), ("q", 0.0), ("r", 0.0)]),
            unit("C", &[("p", 80.0), ("q", 0.0), ("r", 0.0)]),
            unit("M", &[("q", 20.0), ("r", 20.0)]),
        ]),
    )
    .expect("run");
    let m = r.unit("M").expect("M");
    assert!(close(m.score, 25.0));
    assert_eq!(m.indicators[0].missing, Some(MissingApplied::WorstObserved));
    assert_eq!(m.indicators[0].normalised, Some(0.4));
    assert!(close(m.indicators[0].applied_weight, 0.25));
}

#[test]
fn missing_peer_group_mean_and_fallback() {
    // Peers in K1 with p: A 40, B 60 → mean normalised 0.5 imputed for M (K1).
    // N is in K2 where no unit has p → mean of all observed (0.4, 0.6, 0.8) = 0.6.
    // M = 100 (0.25·0.5) = 12.5; N = 100 (0.25·0.6) = 15 (q and r are 0).
    let s = missing_scheme("peer_group_mean", R_IDENTITY);
    let mut units = vec![
        unit("A", &[("p", 40.0), ("q", 0.0), ("r", 0.0)]),
        unit("B", &[("p", 60.0), ("q", 0.0), ("r", 0.0)]),
        unit("C", &[("p", 80.0), ("q", 0.0), ("r", 0.0)]),
        unit("M", &[("q", 0.0), ("r", 0.0)]),
        unit("N", &[("q", 0.0), ("r", 0.0)]),
    ];
    for (u, g) in units.iter_mut().zip(["K1", "K1", "K3", "K1", "K2"]) {
        u.peer_group = Some(g.to_owned());
    }
    let r = run(&s, &input(units)).expect("run");
    let m = r.unit("M").expect("M");
    assert!(close(m.score, 12.5));
    assert_eq!(
        m.indicators[0].missing,
        Some(MissingApplied::PeerGroupMean {
            peers: 2,
            fallback_all_units: false
        })
    );
    let n = r.unit("N").expect("N");
    assert!(close(n.score, 15.0));
    assert_eq!(
        n.indicators[0].missing,
        Some(MissingApplied::PeerGroupMean {
            peers: 3,
            fallback_all_units: true
        })
    );
}

#[test]
fn missing_unit_group_mean_and_fallback() {
    // M lacks p; its own observed value in g1 is q = 60 → p imputed 0.6.
    // M = 100 (0.25·0.6 + 0.25·0.6 + 0.5·0.2) = 40.
    // N lacks p and q: nothing of its own in g1 → p re-weighted (values 0), q re-weighted,
    // g2 takes everything → N = r = 30.
    let s = missing_scheme("unit_group_mean", R_IDENTITY);
    let r = run(
        &s,
        &input(vec![
            unit("A", &[("p", 10.0), ("q", 10.0), ("r", 10.0)]),
            unit("M", &[("q", 60.0), ("r", 20.0)]),
            unit("N", &[("r", 30.0)]),
        ]),
    )
    .expect("run");
    let m = r.unit("M").expect("M");
    assert!(close(m.score, 40.0));
    assert_eq!(
        m.indicators[0].missing,
        Some(MissingApplied::UnitGroupMean { values: 1 })
    );
    assert_eq!(m.indicators[0].normalised, Some(0.6));
    let n = r.unit("N").expect("N");
    assert!(close(n.score, 30.0));
    assert_eq!(
        n.indicators[0].missing,
        Some(MissingApplied::UnitGroupMean { values: 0 })
    );
    assert_eq!(n.indicators[0].normalised, None);
    assert!(close(n.groups[1].applied_weight, 1.0));
}

#[test]
fn missing_exclude_unit_leaves_normalisation_to_the_rest() {
    // r is min_max. M lacks p (exclude_unit) and has r = 1000; excluded before
    // normalisation, so A (r 0) and B (r 10) normalise to 0 and 1 on r alone.
    // A = 100 (0.25·0.1 + 0.25·0.1 + 0.5·0) = 5; B = 100 (0.25·0.2 + 0.25·0.2 + 0.5·1) = 60.
    let s = missing_scheme("exclude_unit", "normalisation = \"min_max\"");
    let r = run(
        &s,
        &input(vec![
            unit("A", &[("p", 10.0), ("q", 10.0), ("r", 0.0)]),
            unit("B", &[("p", 20.0), ("q", 20.0), ("r", 10.0)]),
            unit("M", &[("q", 50.0), ("r", 1000.0)]),
        ]),
    )
    .expect("run");
    assert_eq!(r.ranked, 2);
    assert!(close(r.unit("A").expect("A").score, 5.0));
    assert!(close(r.unit("B").expect("B").score, 60.0));
    assert!(r.unit("M").is_none());
    assert_eq!(r.excluded.len(), 1);
    assert_eq!(r.excluded[0].unit, "M");
    assert_eq!(
        r.excluded[0].reasons,
        vec![ExclusionReason::MissingIndicator {
            indicator: "p".into()
        }]
    );
}

#[test]
fn a_unit_with_no_data_is_excluded_not_ranked() {
    let s = missing_scheme("group_reweight", R_IDENTITY);
    let r = run(
        &s,
        &input(vec![
            unit("A", &[("p", 1.0), ("q", 1.0), ("r", 1.0)]),
            unit("E", &[]),
        ]),
    )
    .expect("run");
    assert_eq!(r.ranked, 1);
    assert_eq!(r.excluded[0].reasons, vec![ExclusionReason::NoWeightedData]);
}

#[test]
fn jurisdiction_conditions_penalise_and_cap() {
    // Base score = x. drug: at_least 1.0 → −5; crimes: above 0.2 → 10 per unit excess,
    // max 5; cap: below −0.5 (a made-up "fell sharply" figure) caps at 50 (unusual, but
    // shows the cap).
    let s = Scheme::parse(&identity_scheme(
        r#"
[[condition]]
id = "drugs"
source = "jurisdiction.drug_users_growth"
at_least = 1.0
penalty = 5.0

[[condition]]
id = "crimes"
source = "jurisdiction.crime_growth.robbery"
above = 0.2
penalty_per_excess = 10.0
penalty_max = 5.0

[[condition]]
id = "capped"
source = "jurisdiction.audit_flag"
at_least = 1.0
cap = 50.0
"#,
    ))
    .expect("scheme");
    let mut a = unit("A", &[("x", 90.0)]);
    a.jurisdiction
        .insert("jurisdiction.drug_users_growth".into(), 1.0);
    a.jurisdiction
        .insert("jurisdiction.crime_growth.robbery".into(), 0.5);
    // A: 90 − 5 − 10·0.3 = 82.
    let mut b = unit("B", &[("x", 90.0)]);
    b.jurisdiction
        .insert("jurisdiction.crime_growth.robbery".into(), 2.0);
    b.jurisdiction.insert("jurisdiction.audit_flag".into(), 1.0);
    // B: 90 − min(5, 18) = 85, capped at 50.
    let c = unit("C", &[("x", 70.0)]);
    let r = run(&s, &input(vec![a, b, c])).expect("run");
    let a = r.unit("A").expect("A");
    assert!(close(a.base_score, 90.0));
    assert!(close(a.score, 82.0));
    assert_eq!(a.rank, 1);
    assert_eq!(a.conditions[0].status, ConditionStatus::Triggered);
    assert!(close(a.conditions[1].penalty, 3.0));
    assert_eq!(a.conditions[2].status, ConditionStatus::NoData);
    let b = r.unit("B").expect("B");
    assert!(close(b.score, 50.0));
    assert_eq!(b.conditions[0].status, ConditionStatus::NoData);
    assert!(close(b.conditions[1].penalty, 5.0));
    assert_eq!(b.conditions[2].cap, Some(50.0));
    assert_eq!((r.unit("C").expect("C").rank, b.rank), (2, 3));
}

#[test]
fn drill_down_numerator_and_denominator_pass_through() {
    let s = Scheme::parse(&identity_scheme("")).expect("scheme");
    let mut a = unit("A", &[]);
    a.values.insert(
        "x".into(),
        IndicatorValue {
            value: 75.0,
            se: Some(2.0),
            numerator: Some(3.0),
            denominator: Some(4.0),
            drill_down: vec!["callbacks:2014:A".into()],
        },
    );
    let r = run(&s, &input(vec![a])).expect("run");
    let i = &r.units[0].indicators[0];
    assert_eq!(
        (i.numerator, i.denominator, i.se),
        (Some(3.0), Some(4.0), Some(2.0))
    );
    assert_eq!(i.drill_down, vec!["callbacks:2014:A".to_owned()]);
}

#[test]
fn bad_inputs_are_clear_errors() {
    let s = Scheme::parse(&identity_scheme("")).expect("scheme");
    let e = run(&s, &input(vec![unit("A", &[("y", 1.0)])])).expect_err("unknown");
    assert_eq!(
        e,
        RunError::UnknownIndicator {
            unit: "A".into(),
            indicator: "y".into()
        }
    );
    let e = run(
        &s,
        &input(vec![unit("A", &[("x", 1.0)]), unit("A", &[("x", 2.0)])]),
    )
    .expect_err("dup");
    assert_eq!(e.code(), "run.duplicate_unit");
    let e = run(&s, &input(vec![unit("A", &[("x", f64::NAN)])])).expect_err("nan");
    assert_eq!(e.code(), "run.invalid_number");
    let e = run(&s, &input(vec![])).expect_err("empty");
    assert_eq!(e, RunError::NoUnits);
    let e = run(&s, &input(vec![unit("A", &[])])).expect_err("no data");
    assert_eq!(
        e,
        RunError::IndicatorHasNoData {
            indicator: "x".into()
        }
    );
    let mut bad_period = input(vec![unit("A", &[("x", 1.0)])]);
    bad_period.period = "2014-Q1".into();
    assert_eq!(
        run(&s, &bad_period).expect_err("period").code(),
        "run.period_mismatch"
    );
    let mut j = unit("A", &[("x", 1.0)]);
    j.jurisdiction.insert("drug_users_growth".into(), 1.0);
    assert_eq!(
        run(&s, &input(vec![j])).expect_err("code").code(),
        "run.invalid_jurisdiction_code"
    );
    let mut u = unit("A", &[("x", 1.0)]);
    u.uncertainty = Some(crate::unc(3, 2, &[], &[]));
    assert_eq!(
        run(&s, &input(vec![u])).expect_err("interval").code(),
        "run.invalid_rank_interval"
    );
}
