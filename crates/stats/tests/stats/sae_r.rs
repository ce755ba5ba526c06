//! Fay–Herriot and beta-binomial against the independent R implementations in
//! `r/fixtures.R`. REML (iterative; R's `optimize` is only √ε-accurate at a flat
//! maximum) at 1e-6 relative; the A = 0 case and the beta-binomial moments (closed
//! forms) at 1e-9.

use minyi_stats::sae::{BetaBinomialNote, beta_binomial_eb, fay_herriot};

use crate::fixtures::{BB_UNITS, Expected, FH_AREAS, Table, assert_close};

fn areas() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let t = Table::parse(FH_AREAS);
    let x: Vec<f64> = t.col("x1").iter().flat_map(|v| [1.0, *v]).collect();
    (t.col("direct").to_vec(), t.col("vardir").to_vec(), x)
}

#[test]
fn fay_herriot_reml_matches_r() {
    let e = Expected::load();
    let (y, d, x) = areas();
    let fit = fay_herriot(&y, &d, &x, 2).expect("fit");
    assert!(!fit.at_zero);
    assert_close("A", fit.model_variance, e.get("fh", "A", "all"), 1e-6);
    assert_close("beta0", fit.beta[0], e.get("fh", "beta", "0"), 1e-6);
    assert_close("beta1", fit.beta[1], e.get("fh", "beta", "1"), 1e-6);
    for (i, a) in fit.areas.iter().enumerate() {
        let key = (i + 1).to_string();
        assert_close(
            &format!("eblup {key}"),
            a.eblup,
            e.get("fh", "eblup", &key),
            1e-6,
        );
        assert_close(&format!("mse {key}"), a.mse, e.get("fh", "mse", &key), 1e-6);
        // Shrinkage never makes the MSE worse than the direct variance by much.
        assert!(
            a.mse < d[i] * 1.05,
            "area {key}: mse {} vs vardir {}",
            a.mse,
            d[i]
        );
    }
}

#[test]
fn fay_herriot_zero_variance_matches_r() {
    let e = Expected::load();
    let (y, d, x) = areas();
    let d40: Vec<f64> = d[..8].iter().map(|v| v * 40.0).collect();
    let fit = fay_herriot(&y[..8], &d40, &x[..16], 2).expect("fit");
    assert!(fit.at_zero);
    assert_eq!(e.get("fh_zero", "A", "all"), 0.0);
    for (i, a) in fit.areas.iter().enumerate() {
        let key = (i + 1).to_string();
        assert_close(
            &format!("eblup {key}"),
            a.eblup,
            e.get("fh_zero", "eblup", &key),
            1e-9,
        );
        assert_close(
            &format!("mse {key}"),
            a.mse,
            e.get("fh_zero", "mse", &key),
            1e-9,
        );
    }
}

#[test]
fn fay_herriot_rejects_bad_input() {
    let (y, d, x) = areas();
    assert_eq!(
        fay_herriot(&y, &d[1..], &x, 2)
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("stats.length_mismatch")
    );
    let mut bad = d.clone();
    bad[3] = 0.0;
    assert_eq!(
        fay_herriot(&y, &bad, &x, 2)
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("stats.not_positive")
    );
    // Collinear covariates.
    let x2: Vec<f64> = y.iter().flat_map(|_| [1.0, 2.0]).collect();
    assert_eq!(
        fay_herriot(&y, &d, &x2, 2)
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("stats.singular")
    );
    let mut ynan = y.clone();
    ynan[0] = f64::NAN;
    assert!(fay_herriot(&ynan, &d, &x, 2).is_err());
}

#[test]
fn beta_binomial_matches_r() {
    let e = Expected::load();
    let t = Table::parse(BB_UNITS);
    let x: Vec<u64> = t.col("x").iter().map(|v| *v as u64).collect();
    let n: Vec<u64> = t.col("n").iter().map(|v| *v as u64).collect();
    let fit = beta_binomial_eb(&x, &n, 0.95).expect("fit");
    assert_eq!(fit.note, None);
    assert_close("mu", fit.prior_mean, e.get("bb", "mu", "all"), 1e-9);
    assert_close("rho", fit.rho, e.get("bb", "rho", "all"), 1e-9);
    assert_close("M", fit.prior_strength, e.get("bb", "M", "all"), 1e-9);
    for (i, u) in fit.units.iter().enumerate() {
        let key = (i + 1).to_string();
        assert_close(
            "post mean",
            u.posterior_mean,
            e.get("bb", "post_mean", &key),
            1e-9,
        );
        assert_close("post lower", u.lower, e.get("bb", "post_lower", &key), 1e-9);
        assert_close("post upper", u.upper, e.get("bb", "post_upper", &key), 1e-9);
    }
}

#[test]
fn beta_binomial_degenerate_cases_are_finite() {
    // Identical rates: no overdispersion, capped prior strength.
    let fit = beta_binomial_eb(&[90, 45, 180], &[100, 50, 200], 0.95).expect("fit");
    assert_eq!(fit.note, Some(BetaBinomialNote::NoOverdispersion));
    assert_eq!(fit.prior_strength, 350.0);
    // All successes.
    let fit = beta_binomial_eb(&[10, 20], &[10, 20], 0.95).expect("fit");
    assert_eq!(fit.note, Some(BetaBinomialNote::BoundaryRate));
    // Extreme spread.
    let fit = beta_binomial_eb(&[0, 100, 0, 100], &[100, 100, 100, 100], 0.95).expect("fit");
    assert_eq!(fit.note, Some(BetaBinomialNote::ExtremeOverdispersion));
    for f in [fit] {
        for u in &f.units {
            for v in [u.posterior_mean, u.lower, u.upper, u.shrinkage] {
                assert!(v.is_finite() && (0.0..=1.0).contains(&v));
            }
        }
    }
    assert!(beta_binomial_eb(&[3], &[0], 0.95).is_err());
    assert!(beta_binomial_eb(&[5], &[4], 0.95).is_err());
    assert!(beta_binomial_eb(&[1, 2], &[4], 0.95).is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    #[test]
    fn fay_herriot_is_finite_or_an_error(
        areas in proptest::collection::vec((0.5f64..1.0, 1e-5f64..0.01, -1.0f64..1.0), 3..40)
    ) {
        let y: Vec<f64> = areas.iter().map(|a| a.0).collect();
        let d: Vec<f64> = areas.iter().map(|a| a.1).collect();
        let x: Vec<f64> = areas.iter().flat_map(|a| [1.0, a.2]).collect();
        if let Ok(fit) = fay_herriot(&y, &d, &x, 2) {
            proptest::prop_assert!(fit.model_variance.is_finite() && fit.model_variance >= 0.0);
            for a in &fit.areas {
                proptest::prop_assert!(a.eblup.is_finite() && a.mse.is_finite() && a.mse > 0.0);
                proptest::prop_assert!((0.0..=1.0).contains(&a.gamma));
            }
            let json = serde_json::to_string(&fit).expect("json");
            proptest::prop_assert!(json.contains("model_variance"));
        }
        let x: Vec<u64> = areas.iter().map(|a| (a.0 * 100.0) as u64).collect();
        let n: Vec<u64> = vec![100; areas.len()];
        let bb = beta_binomial_eb(&x, &n, 0.9).expect("bb");
        for u in &bb.units {
            proptest::prop_assert!(u.lower <= u.posterior_mean && u.posterior_mean <= u.upper);
        }
    }
}
