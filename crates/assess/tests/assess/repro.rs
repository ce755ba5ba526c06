//! Reproducibility: byte-identical reruns, canonical JSON, hashes, appeals diffs, and
//! the default scheme on a synthetic 72-station city.

use minyi_assess::{
    OutcomeCode, RunResult, Scheme, SensitivitySettings, canonical_json, diff_inputs, rerun, run,
    run_and_record, sensitivity, verify,
};

use crate::synthetic_city;

#[test]
fn default_scheme_on_72_synthetic_stations() {
    let s = Scheme::default_2014().expect("default");
    let city = synthetic_city(72, 2014);
    let r = run(&s, &city).expect("run");
    assert_eq!(r.ranked, 72);
    assert!(r.excluded.is_empty());
    assert!(r.monte_carlo.is_some());
    for (i, u) in r.units.iter().enumerate() {
        assert_eq!(u.indicators.len(), 16);
        // Competition ranks: 1 + number of strictly higher scores.
        let higher = r.units.iter().filter(|v| v.score > u.score).count() as u32;
        assert_eq!(u.rank, higher + 1, "unit {i}");
        let sum: f64 = u.groups.iter().map(|g| g.subtotal).sum();
        let penalties: f64 = u.conditions.iter().map(|c| c.penalty).sum();
        assert!((sum - u.base_score).abs() < 1e-6);
        assert!((u.base_score - penalties - u.score).abs() < 1e-6);
        let b = u.basis.as_ref().expect("basis");
        assert_eq!(b.ranked, 72);
        let unc = u.uncertainty.as_ref().expect("simulated");
        assert!(unc.rank_low <= b.rank.max(unc.rank_low) && unc.rank_low <= unc.rank_high);
    }
    let count = |code: OutcomeCode| {
        r.units
            .iter()
            .flat_map(|u| u.outcomes.iter())
            .filter(|o| o.outcome == code)
            .count()
    };
    // Every basis rank 1..6 gets merit or review; 10 bottom units are award-ineligible.
    let top6 = r
        .units
        .iter()
        .filter(|u| u.basis.as_ref().is_some_and(|b| b.rank <= 6))
        .count();
    let merit_or_review = r
        .units
        .iter()
        .flat_map(|u| u.outcomes.iter())
        .filter(|o| o.rule == "merit")
        .count();
    assert_eq!(merit_or_review, top6);
    assert_eq!(count(OutcomeCode::AwardIneligible), 10);
    let acc = r
        .units
        .iter()
        .flat_map(|u| u.outcomes.iter())
        .filter(|o| o.rule == "accountability")
        .count();
    assert_eq!(acc, 3);
    // Missing window ratings were re-weighted; missing team building imputed from peers.
    let s001 = r.unit("S001").expect("S001");
    let wr = s001
        .indicators
        .iter()
        .find(|i| i.indicator == "window_ratings")
        .expect("wr");
    assert_eq!(
        wr.missing,
        Some(minyi_assess::MissingApplied::GroupReweight)
    );
}

#[test]
fn rerun_is_byte_identical() {
    let s = Scheme::default_2014().expect("default");
    let city = synthetic_city(72, 7);
    let (result, record) = run_and_record(&s, &city).expect("run");
    // From the stored texts alone.
    let re = rerun(Scheme::default_2014_text(), &record.input_json).expect("rerun");
    assert_eq!(re.result_json, record.result_json);
    assert_eq!(re, record);
    assert!(verify(&record, Scheme::default_2014_text()).expect("verify"));
    assert_eq!(result.input_hash, record.input_hash);
    assert_eq!(result.scheme.hash, record.scheme_hash);
    // The stored result reads back and re-serialises to the same bytes.
    let back: RunResult = serde_json::from_str(&record.result_json).expect("parse");
    assert_eq!(canonical_json(&back).expect("json"), record.result_json);
    // Unit order in the input does not matter.
    let mut shuffled = city.clone();
    shuffled.units.reverse();
    let (_, rec2) = run_and_record(&s, &shuffled).expect("shuffled");
    assert_eq!(rec2, record);
    // A tampered stored result is detected.
    let mut tampered = record.clone();
    tampered.result_json = tampered
        .result_json
        .replacen("\"rank\":1,", "\"rank\":2,", 1);
    assert!(!verify(&tampered, Scheme::default_2014_text()).expect("verify"));
}

#[test]
fn canonical_json_is_sorted_and_fixed() {
    #[derive(serde::Serialize)]
    struct T {
        zeta: f64,
        alpha: Vec<f64>,
        n: u32,
    }
    let t = T {
        zeta: 0.1 + 0.2,
        alpha: vec![-0.0, 1.0, 1e-20, 12.250000000000002],
        n: 3,
    };
    assert_eq!(
        canonical_json(&t).expect("json"),
        "{\"alpha\":[0,1,0.00000000000000000001,12.25],\"n\":3,\"zeta\":0.3}"
    );
}

#[test]
fn an_appeal_changes_the_input_hash_and_the_diff_says_what() {
    let s = Scheme::default_2014().expect("default");
    let city = synthetic_city(12, 3);
    let mut corrected = city.clone();
    let u = corrected
        .units
        .iter_mut()
        .find(|u| u.code == "S005")
        .expect("S005");
    u.values.get_mut("permit_on_time").expect("value").value = 0.99;
    let (_, a) = run_and_record(&s, &city).expect("run");
    let (_, b) = run_and_record(&s, &corrected).expect("run");
    assert_ne!(a.input_hash, b.input_hash);
    let d = diff_inputs(&city, &corrected);
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].unit.as_str(), d[0].key.as_str(), d[0].after),
        ("S005", "permit_on_time", Some(0.99))
    );
}

#[test]
fn default_scheme_sensitivity_reports_basis_and_score() {
    let s = Scheme::default_2014().expect("default");
    let city = synthetic_city(24, 5);
    let settings = SensitivitySettings {
        draws: 200,
        ..SensitivitySettings::default()
    };
    let r = sensitivity(&s, &city, &settings).expect("sensitivity");
    assert_eq!(r.units.len(), 24);
    for u in &r.units {
        assert!(u.score.rank_min <= u.score.rank && u.score.rank <= u.score.rank_max);
        assert!((0.0..=1.0).contains(&u.score.same_rank_share));
        let b = u.basis.as_ref().expect("basis differs from score");
        assert!(b.rank_min <= b.rank && b.rank <= b.rank_max);
    }
}

/// The canonical form is a contract with every stored run: if this text or the default
/// scheme hash changes, stored runs no longer verify. Change them only on purpose.
#[test]
fn canonical_result_text_is_pinned() {
    let s = Scheme::parse(&crate::identity_scheme(
        "[[rule]]\nid = \"acc\"\noutcome = \"accountability\"\nbottom = 1\nmin_probability = 0.8\n",
    ))
    .expect("scheme");
    let mut b = crate::unit("B", &[("x", 20.5)]);
    b.uncertainty = Some(crate::unc(2, 2, &[], &[(1, 0.75)]));
    let r = run(&s, &crate::input(vec![b, crate::unit("A", &[("x", 90.0)])])).expect("run");
    let text = canonical_json(&r).expect("json");
    assert_eq!(text, PINNED_RESULT);
    assert_eq!(
        Scheme::default_2014().expect("default").hash(),
        PINNED_DEFAULT_HASH
    );
}

const PINNED_RESULT: &str = r#"{"excluded":[],"format":"minyi.assess.run.v1","input_hash":"a3af6491f5422313aaa433baf69d2ffa5e7dc1ad066c14394341526323104157","monte_carlo":null,"period":"2014","ranked":2,"scheme":{"hash":"f0bf4741845b75b69ae041f8f8d4463b207661d8e70e0e7f226147b043b13727","id":"test","period":"year","version":"1"},"units":[{"base_score":90,"basis":{"rank":1,"ranked":2,"score":90},"conditions":[],"groups":[{"applied_weight":1,"group":"g","subtotal":90,"weight":1}],"indicators":[{"applied_weight":1,"contribution":90,"denominator":null,"drill_down":[],"estimate":null,"group":"g","indicator":"x","missing":null,"normalised":0.9,"numerator":null,"raw":90,"se":null,"source":"business.x","weight":1}],"outcomes":[],"peer_group":null,"rank":1,"score":90,"uncertainty":null,"unit":"A"},{"base_score":20.5,"basis":{"rank":2,"ranked":2,"score":20.5},"conditions":[],"groups":[{"applied_weight":1,"group":"g","subtotal":20.5,"weight":1}],"indicators":[{"applied_weight":1,"contribution":20.5,"denominator":null,"drill_down":[],"estimate":null,"group":"g","indicator":"x","missing":null,"normalised":0.205,"numerator":null,"raw":20.5,"se":null,"source":"business.x","weight":1}],"outcomes":[{"outcome":"not_distinguishable_review","reasons":[{"code":"rank_in_selection","end":"bottom","k":1,"rank":2,"ranked":2},{"code":"probability_below_threshold","probability":0.75,"source":"supplied","threshold":0.8}],"rule":"acc"}],"peer_group":null,"rank":2,"score":20.5,"uncertainty":{"p_bottom":{"1":0.75},"p_top":{},"rank_high":2,"rank_low":2,"source":"supplied"},"unit":"B"}]}"#;
const PINNED_DEFAULT_HASH: &str =
    "63e3dec0b7f78f2051d3a6929c1d73aefd8d7f3e0e16aa282e08b013849189c8";
