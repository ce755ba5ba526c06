//! Special functions against R's pnorm, qnorm, qt, pbeta and qbeta (1e-9 relative).

use minyi_stats::special::{beta_quantile, inc_beta, normal_cdf, normal_quantile, t_quantile};

use crate::fixtures::{Expected, assert_close};

fn parse_ab(stat: &str, prefix: &str) -> (f64, f64) {
    let rest = stat.trim_start_matches(prefix);
    let mut it = rest.split('_').map(|s| s.parse::<f64>().expect("shape"));
    (it.next().expect("a"), it.next().expect("b"))
}

#[test]
fn special_functions_match_r() {
    let e = Expected::load();
    let mut checked = 0;
    for ((design, stat, domain), want) in e.0.iter() {
        if design != "special" {
            continue;
        }
        let arg: f64 = domain.parse().expect("arg");
        let got = if stat == "qnorm" {
            normal_quantile(arg)
        } else if stat == "pnorm" {
            normal_cdf(arg)
        } else if let Some(df) = stat.strip_prefix("qt_") {
            t_quantile(arg, df.parse().expect("df"))
        } else if stat.starts_with("qbeta_") {
            let (a, b) = parse_ab(stat, "qbeta_");
            beta_quantile(arg, a, b)
        } else if stat.starts_with("pbeta_") {
            let (a, b) = parse_ab(stat, "pbeta_");
            inc_beta(a, b, arg)
        } else {
            panic!("unknown special stat {stat}");
        };
        assert_close(&format!("{stat}({domain})"), got, *want, 1e-9);
        checked += 1;
    }
    assert!(checked > 100, "only {checked} special values checked");
}

#[test]
fn fast_normal_cdf_matches_accurate_one() {
    use minyi_stats::special::normal_cdf_abs;
    let mut worst: f64 = 0.0;
    for i in -20_000..=20_000 {
        let x = f64::from(i) * 0.000_45 + 0.000_013;
        worst = worst.max((normal_cdf_abs(x) - normal_cdf(x)).abs());
    }
    assert!(worst < 2e-15, "largest absolute difference {worst:e}");
}
