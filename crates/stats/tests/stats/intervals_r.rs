//! Unweighted proportion intervals against R (binom.test, prop.test, qbeta) at 1e-9.

use minyi_stats::intervals::{clopper_pearson, jeffreys, wilson};

use crate::fixtures::{Expected, assert_close};

#[test]
fn unweighted_intervals_match_r() {
    let e = Expected::load();
    let keys = e.all("binom", "cp_lower");
    assert_eq!(keys.len(), 10);
    for (key, _) in keys {
        let (x, n) = key.split_once('/').expect("x/n");
        let (x, n): (u64, u64) = (x.parse().expect("x"), n.parse().expect("n"));
        let cp = clopper_pearson(x, n, 0.95).expect("cp");
        let wi = wilson(x, n, 0.95).expect("wilson");
        let je = jeffreys(x, n, 0.95).expect("jeffreys");
        for (name, got) in [
            ("cp_lower", cp.lower),
            ("cp_upper", cp.upper),
            ("wilson_lower", wi.lower),
            ("wilson_upper", wi.upper),
            ("jeffreys_lower", je.lower),
            ("jeffreys_upper", je.upper),
        ] {
            assert_close(
                &format!("{name} {key}"),
                got,
                e.get("binom", name, &key),
                1e-9,
            );
        }
    }
}

#[test]
fn interval_errors_are_reported() {
    assert!(wilson(3, 0, 0.95).is_err());
    assert!(clopper_pearson(5, 4, 0.95).is_err());
    assert!(jeffreys(1, 4, 1.0).is_err());
    assert_eq!(
        wilson(5, 4, 0.95).map_err(|e| e.code()),
        Err("stats.outside_support")
    );
}
