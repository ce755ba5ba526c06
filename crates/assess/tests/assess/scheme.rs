//! Scheme parsing: the default scheme, hashes, and every rejection with its key and line.

use minyi_assess::{Basis, Scheme, SchemeErrorKind, WeightChange};

use crate::header;

fn two_groups(w_a: f64, w_b: f64, x_weight: f64) -> String {
    header(&format!(
        r#"
[[group]]
id = "a"
weight = {w_a}

[[group.indicator]]
id = "x"
source = "business.x"
weight = {x_weight}
direction = "higher"
normalisation = "min_max"

[[group]]
id = "b"
weight = {w_b}

[[group.indicator]]
id = "y"
source = "survey.security"
weight = 1.0
direction = "higher"
normalisation = "z_score"
"#
    ))
}

#[test]
fn default_scheme_parses_with_49_51_and_2014_rules() {
    let s = Scheme::default_2014().expect("default scheme");
    assert_eq!(s.groups.len(), 2);
    let bt = s
        .groups
        .iter()
        .find(|g| g.id == "business_and_team")
        .expect("group");
    let po = s
        .groups
        .iter()
        .find(|g| g.id == "public_opinion")
        .expect("group");
    assert_eq!((bt.weight, po.weight), (0.49, 0.51));
    // Three survey indicators shrunk by default.
    for id in ["security", "satisfaction", "chief_awareness"] {
        let i = s.indicator(id).expect("indicator");
        assert_eq!(i.estimate, Some(minyi_assess::Estimate::Shrunk));
    }
    assert_eq!(
        s.ranking,
        Basis::Indicators {
            indicators: vec![
                "security".into(),
                "satisfaction".into(),
                "chief_awareness".into()
            ]
        }
    );
    let ks: Vec<(String, u32)> = s.rules.iter().map(|r| (r.id.clone(), r.k)).collect();
    assert_eq!(
        ks,
        vec![
            ("merit".into(), 6),
            ("award_ineligible".into(), 10),
            ("accountability".into(), 3)
        ]
    );
    assert_eq!(s.hash().len(), 64);
    let inputs = s.required_inputs();
    assert_eq!(inputs.len(), 16);
    assert!(inputs.iter().any(|i| i.indicator == "security"
        && i.source == "survey.security"
        && i.group == "public_opinion"));
    // Effective weight of security: 0.51 × 0.20 = 0.102.
    let eff = po.weight * s.indicator("security").expect("security").weight;
    assert!((eff - 0.102).abs() < 1e-12);
    assert_eq!(
        s.jurisdiction_sources().into_iter().collect::<Vec<_>>(),
        vec![
            "jurisdiction.drug_users_growth",
            "jurisdiction.named_crimes_growth"
        ]
    );
}

#[test]
fn hash_ignores_comments_and_layout_but_not_meaning() {
    let a = Scheme::parse(&two_groups(0.49, 0.51, 1.0)).expect("a");
    let text = format!("# a comment\n\n{}", two_groups(0.49, 0.51, 1.0)).replace(" = ", "=");
    let b = Scheme::parse(&text).expect("b");
    assert_eq!(a.hash(), b.hash());
    let c = Scheme::parse(&two_groups(0.5, 0.5, 1.0)).expect("c");
    assert_ne!(a.hash(), c.hash());
}

#[test]
fn weights_not_summing_are_rejected_with_key_and_line() {
    let e = Scheme::parse(&two_groups(0.49, 0.50, 1.0)).expect_err("groups sum 0.99");
    assert_eq!(e.code(), "scheme.weight_sum");
    assert!(matches!(e.kind, SchemeErrorKind::WeightSum { declared, .. } if declared == 1.0));
    assert_eq!(e.key, "group.*.weight");

    let e = Scheme::parse(&two_groups(0.49, 0.51, 0.9)).expect_err("indicators sum 0.9");
    assert_eq!(e.key, "group.a.indicator.*.weight");
    // Group `a`'s `[[group]]` header is line 6 (4 header lines and a blank line).
    assert_eq!(e.line, Some(6));
}

#[test]
fn tolerance_is_1e9() {
    assert!(Scheme::parse(&two_groups(0.49, 0.51 + 5e-10, 1.0)).is_ok());
    assert!(Scheme::parse(&two_groups(0.49, 0.51 + 5e-9, 1.0)).is_err());
}

#[test]
fn declared_totals_may_be_percent() {
    let text = two_groups(49.0, 51.0, 1.0).replace(
        "period = \"year\"\n",
        "period = \"year\"\nweight_total = 100\n",
    );
    let s = Scheme::parse(&text).expect("percent weights");
    assert_eq!(s.weight_total, 100.0);
}

#[test]
fn unknown_source_is_rejected_with_line() {
    let text = two_groups(0.49, 0.51, 1.0).replace("survey.security", "survey.safety");
    let e = Scheme::parse(&text).expect_err("unknown");
    assert_eq!(
        e.kind,
        SchemeErrorKind::UnknownSource {
            code: "survey.safety".into()
        }
    );
    assert_eq!(e.key, "group.b.indicator.y.source");
    let line = text
        .lines()
        .position(|l| l.contains("survey.safety"))
        .expect("line")
        + 1;
    assert_eq!(e.line, Some(line));
}

#[test]
fn open_sources_must_be_well_formed() {
    let text = two_groups(0.49, 0.51, 1.0).replace("business.x", "business.");
    assert_eq!(
        Scheme::parse(&text).expect_err("bad").code(),
        "scheme.unknown_source"
    );
    let text = two_groups(0.49, 0.51, 1.0).replace("business.x", "team.Building");
    assert_eq!(
        Scheme::parse(&text).expect_err("bad").code(),
        "scheme.unknown_source"
    );
}

#[test]
fn duplicate_ids_are_rejected() {
    let text = two_groups(0.49, 0.51, 1.0).replace("id = \"y\"", "id = \"x\"");
    let e = Scheme::parse(&text).expect_err("dup");
    assert_eq!(e.kind, SchemeErrorKind::DuplicateId { id: "x".into() });
    let text = two_groups(0.49, 0.51, 1.0).replace("id = \"b\"", "id = \"a\"");
    assert_eq!(
        Scheme::parse(&text).expect_err("dup").code(),
        "scheme.duplicate_id"
    );
}

#[test]
fn empty_group_is_rejected() {
    let text = header("[[group]]\nid = \"a\"\nweight = 1.0\n");
    let e = Scheme::parse(&text).expect_err("empty");
    assert_eq!(e.kind, SchemeErrorKind::EmptyGroup);
    assert_eq!(e.key, "group.a");
    assert_eq!(e.line, Some(5));
}

#[test]
fn syntax_and_unknown_keys_carry_a_line() {
    let text = two_groups(0.49, 0.51, 1.0).replace(
        "direction = \"higher\"\nnormalisation = \"z_score\"",
        "direction = \"higher\"\nnormalization = \"z_score\"",
    );
    let e = Scheme::parse(&text).expect_err("unknown key");
    assert_eq!(e.code(), "scheme.syntax");
    assert!(e.line.is_some());
    let e = Scheme::parse("id = ").expect_err("broken");
    assert_eq!(e.line, Some(1));
}

#[test]
fn bad_enumerations_and_parameters_are_rejected() {
    let base = two_groups(0.49, 0.51, 1.0);
    let cases = [
        (
            base.replace("\"min_max\"", "\"minmax\""),
            "scheme.unknown_value",
        ),
        (
            base.replace(
                "direction = \"higher\"\nnormalisation = \"min_max\"",
                "direction = \"up\"\nnormalisation = \"min_max\"",
            ),
            "scheme.unknown_value",
        ),
        (
            base.replace(
                "normalisation = \"min_max\"",
                "normalisation = \"min_max\"\ntarget = 1.0",
            ),
            "scheme.inconsistent",
        ),
        (
            base.replace(
                "normalisation = \"min_max\"",
                "normalisation = \"target\"\nfloor = 1.0",
            ),
            "scheme.inconsistent",
        ),
        (
            base.replace(
                "normalisation = \"min_max\"",
                "normalisation = \"target\"\nfloor = 1.0\ntarget = 0.5",
            ),
            "scheme.inconsistent",
        ),
        (
            base.replace(
                "normalisation = \"min_max\"",
                "normalisation = \"min_max\"\nmin = 1.0",
            ),
            "scheme.inconsistent",
        ),
        (
            base.replace(
                "normalisation = \"min_max\"",
                "normalisation = \"min_max\"\nestimate = \"direct\"",
            ),
            "scheme.inconsistent",
        ),
        (
            base.replace("period = \"year\"", "period = \"decade\""),
            "scheme.unknown_value",
        ),
        (
            base.replace("weight = 0.49", "weight = -0.49"),
            "scheme.out_of_range",
        ),
        (
            base.replace("id = \"test\"", "id = \"Test Scheme\""),
            "scheme.invalid_id",
        ),
    ];
    for (text, code) in cases {
        let e = Scheme::parse(&text).expect_err(code);
        assert_eq!(e.code(), code, "{e}");
    }
}

#[test]
fn rules_conditions_and_ranking_are_validated() {
    let base = two_groups(0.49, 0.51, 1.0);
    let cases = [
        (
            "[[rule]]\nid = \"r\"\noutcome = \"merit\"\ntop = 0\n",
            "scheme.out_of_range",
        ),
        (
            "[[rule]]\nid = \"r\"\noutcome = \"medal\"\ntop = 1\n",
            "scheme.unknown_value",
        ),
        (
            "[[rule]]\nid = \"r\"\noutcome = \"merit\"\ntop = 1\nbottom = 1\n",
            "scheme.inconsistent",
        ),
        (
            "[[rule]]\nid = \"r\"\noutcome = \"merit\"\ntop = 1\nfloor = 1.0\n",
            "scheme.inconsistent",
        ),
        (
            "[[rule]]\nid = \"r\"\noutcome = \"merit\"\ntop = 1\nmin_probability = 1.5\n",
            "scheme.out_of_range",
        ),
        (
            "[[rule]]\nid = \"r\"\noutcome = \"accountability\"\nbottom = 1\nfloor = 0.5\nfloor_indicator = \"nope\"\n",
            "scheme.unknown_reference",
        ),
        (
            "[[condition]]\nid = \"c\"\nsource = \"jurisdiction.drug_users_growth\"\nabove = 1.0\n",
            "scheme.inconsistent",
        ),
        (
            "[[condition]]\nid = \"c\"\nsource = \"business.x\"\nabove = 1.0\npenalty = 1.0\n",
            "scheme.unknown_source",
        ),
        (
            "[[condition]]\nid = \"c\"\nsource = \"jurisdiction.x\"\nabove = 1.0\nbelow = 0.0\npenalty = 1.0\n",
            "scheme.inconsistent",
        ),
        (
            "[ranking]\nbasis = \"indicators\"\nindicators = [\"x\", \"q\"]\n",
            "scheme.unknown_reference",
        ),
        (
            "[ranking]\nbasis = \"group\"\ngroup = \"zz\"\n",
            "scheme.unknown_reference",
        ),
        ("[uncertainty]\ndraws = 0\n", "scheme.out_of_range"),
    ];
    for (extra, code) in cases {
        let e = Scheme::parse(&format!("{base}\n{extra}")).expect_err(code);
        assert_eq!(e.code(), code, "{extra}: {e}");
    }
    let ok = Scheme::parse(&format!(
        "{base}\n[ranking]\nbasis = \"group\"\ngroup = \"b\"\n"
    ))
    .expect("group basis");
    assert_eq!(
        ok.ranking,
        Basis::Indicators {
            indicators: vec!["y".into()]
        }
    );
}

#[test]
fn with_weights_validates_and_renormalises() {
    let s = Scheme::parse(&two_groups(0.49, 0.51, 1.0)).expect("scheme");
    let mut change = WeightChange::default();
    change.groups.insert("a".into(), 0.6);
    assert_eq!(
        s.with_weights(&change).expect_err("sum 1.11").code(),
        "scheme.weight_sum"
    );
    change.renormalise = true;
    let t = s.with_weights(&change).expect("renormalised");
    // 0.6 and 0.51 rescaled to sum 1: 0.6/1.11 and 0.51/1.11.
    assert!((t.groups[0].weight - 0.6 / 1.11).abs() < 1e-12);
    assert_ne!(t.hash(), s.hash());
    change.groups.insert("nope".into(), 1.0);
    assert_eq!(
        s.with_weights(&change).expect_err("unknown").code(),
        "scheme.unknown_reference"
    );
}

#[test]
fn period_cadences() {
    use minyi_assess::Cadence;
    assert!(Cadence::Year.accepts("2014"));
    assert!(!Cadence::Year.accepts("2014-H1"));
    assert!(Cadence::HalfYear.accepts("2014-H2"));
    assert!(Cadence::Quarter.accepts("2026-Q4"));
    assert!(!Cadence::Quarter.accepts("2026-Q5"));
    assert!(Cadence::Month.accepts("2026-07"));
    assert!(!Cadence::Month.accepts("2026-13"));
    assert!(!Cadence::Year.accepts("14"));
}
