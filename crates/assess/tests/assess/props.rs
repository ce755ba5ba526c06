//! Properties: scores do not depend on unit order, raising a higher-is-better value never
//! lowers a unit's score, ranks follow scores, and stored results re-serialise identically.

use minyi_assess::{RunResult, Scheme, canonical_json, run};
use proptest::prelude::*;

use crate::{header, input, unit};

fn scheme(method: &str) -> Scheme {
    let params = match method {
        "min_max" => "",
        "z_score" => "clip = 2.0\n",
        "target" => "floor = 10.0\ntarget = 90.0\n",
        "threshold" => "threshold = 50.0\n",
        _ => "",
    };
    Scheme::parse(&header(&format!(
        r#"
[uncertainty]
monte_carlo = true
draws = 20
seed = 3
[[group]]
id = "a"
weight = 0.3
[[group.indicator]]
id = "x"
source = "business.x"
weight = 1.0
direction = "higher"
normalisation = "{method}"
{params}
[[group]]
id = "b"
weight = 0.7
[[group.indicator]]
id = "y"
source = "survey.security"
weight = 0.6
direction = "higher"
normalisation = "rank"
missing = "peer_group_mean"
[[group.indicator]]
id = "z"
source = "team.z"
weight = 0.4
direction = "lower"
normalisation = "min_max"
missing = "unit_group_mean"
[[rule]]
id = "merit"
outcome = "merit"
top = 2
min_probability = 0.5
"#
    )))
    .expect("scheme")
}

const METHODS: [&str; 5] = ["min_max", "z_score", "target", "threshold", "rank"];

type Row = (f64, Option<f64>, Option<f64>, u8);

fn rows() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(
        (
            0.0f64..100.0,
            prop::option::weighted(0.8, 0.0f64..1.0),
            prop::option::weighted(0.8, 0.0f64..10.0),
            0u8..3,
        ),
        2..10,
    )
}

fn build(rows: &[Row]) -> minyi_assess::RunInput {
    let mut units: Vec<_> = rows
        .iter()
        .enumerate()
        .map(|(i, (x, y, z, g))| {
            let mut vals = vec![("x", *x)];
            if let Some(y) = y {
                vals.push(("y", *y));
            }
            if let Some(z) = z {
                vals.push(("z", *z));
            }
            let mut u = unit(&format!("U{i:02}"), &vals);
            u.peer_group = Some(format!("K{g}"));
            if let Some(v) = u.values.get_mut("y") {
                v.se = Some(0.05);
            }
            u
        })
        .collect();
    // At least one observed y and z so every indicator can be normalised.
    if let Some(u) = units.first_mut() {
        u.values.entry("y".into()).or_default().value = 0.5;
        u.values.entry("z".into()).or_default().value = 5.0;
    }
    input(units)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn results_do_not_depend_on_unit_order(rows in rows(), m in 0usize..5, rot in 0usize..10) {
        let s = scheme(METHODS[m]);
        let a = build(&rows);
        let mut b = a.clone();
        let k = rot % b.units.len();
        b.units.rotate_left(k);
        let last = b.units.len() - 1;
        b.units.swap(0, last);
        let ra = canonical_json(&run(&s, &a).expect("run")).expect("json");
        let rb = canonical_json(&run(&s, &b).expect("run")).expect("json");
        prop_assert_eq!(ra, rb);
    }

    #[test]
    fn raising_a_higher_is_better_value_never_lowers_the_score(
        rows in rows(), m in 0usize..5, who in 0usize..10, bump in 0.0f64..50.0,
    ) {
        let s = scheme(METHODS[m]);
        let a = build(&rows);
        let i = who % a.units.len();
        let mut b = a.clone();
        let code = b.units[i].code.clone();
        if let Some(v) = b.units[i].values.get_mut("x") {
            v.value += bump;
        }
        let before = run(&s, &a).expect("run");
        let after = run(&s, &b).expect("run");
        let sa = before.unit(&code).expect("unit").score;
        let sb = after.unit(&code).expect("unit").score;
        prop_assert!(sb >= sa - 1e-9, "{} → {}", sa, sb);
    }

    #[test]
    fn ranks_follow_scores_and_results_round_trip(rows in rows(), m in 0usize..5) {
        let s = scheme(METHODS[m]);
        let r = run(&s, &build(&rows)).expect("run");
        for u in &r.units {
            let higher = r.units.iter().filter(|v| v.score > u.score).count() as u32;
            prop_assert_eq!(u.rank, higher + 1);
            prop_assert!(u.indicators.iter().all(|i| i.normalised.is_none_or(|n| (0.0..=1.0).contains(&n))));
        }
        let text = canonical_json(&r).expect("json");
        let back: RunResult = serde_json::from_str(&text).expect("parse");
        prop_assert_eq!(canonical_json(&back).expect("json"), text);
    }
}
