//! Coverage simulation at the demo's sizes: 100–400 respondents per station, true
//! satisfaction 0.85–0.95. Each replication draws its own n and p, because at any one
//! (n, p) the coverage of every interval for a discrete count oscillates (Wilson's
//! ranges from 0.933 to 0.967 on that grid); a station survey meets a spread of them.
//! 20,000 replications put the Monte Carlo standard error near 0.0015, so the 94–96%
//! band is about ±6.5 standard errors wide around 95%: a real check, not a formality.

use minyi_stats::intervals::{PropCiMethod, recommended_method, wilson};
use minyi_stats::survey::{Design, DesignSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};

const REPS: usize = 20_000;

fn in_band(name: &str, hits: usize, reps: usize) {
    let c = hits as f64 / reps as f64;
    println!("{name}: coverage {c:.4} over {reps} replications");
    assert!(
        (0.94..=0.96).contains(&c),
        "{name}: coverage {c:.4} outside 94–96%"
    );
}

#[test]
fn recommended_unweighted_interval_covers_95() {
    assert_eq!(recommended_method(false), PropCiMethod::Wilson);
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_126);
    let mut hits = 0;
    for _ in 0..REPS {
        let n: u64 = rng.random_range(100..=400);
        let p: f64 = rng.random_range(0.85..0.95);
        let x = Binomial::new(n, p).expect("binomial").sample(&mut rng);
        let ci = wilson(x, n, 0.95).expect("wilson");
        if ci.lower <= p && p <= ci.upper {
            hits += 1;
        }
    }
    in_band("wilson", hits, REPS);
}

/// A station survey stratified by age with disproportionate allocation (young people
/// over-sampled to half the interviews although they are 40% of residents), so the
/// weights differ by a factor of 1.5 between strata.
#[test]
fn recommended_weighted_interval_covers_95() {
    let method = recommended_method(true);
    assert_eq!(method, PropCiMethod::Logit);
    let mut rng = ChaCha8Rng::seed_from_u64(72_026);
    let mut hits = 0;
    let mut kg_hits = 0;
    let pop = 20_000.0;
    for _ in 0..REPS {
        let n: usize = rng.random_range(100..=400);
        let p: f64 = rng.random_range(0.85..0.95);
        // Stratum rates chosen so the population rate is exactly p.
        let (share_young, p_young, p_old) = (0.4, p - 0.03, p + 0.02);
        let n_young = n / 2;
        let mut y = Vec::with_capacity(n);
        let mut strata = Vec::with_capacity(n);
        let mut w = Vec::with_capacity(n);
        for i in 0..n {
            let young = i < n_young;
            let (rate, n_h, n_pop) = if young {
                (p_young, n_young, share_young * pop)
            } else {
                (p_old, n - n_young, (1.0 - share_young) * pop)
            };
            y.push(if rng.random::<f64>() < rate { 1.0 } else { 0.0 });
            strata.push(usize::from(young));
            w.push(n_pop / n_h as f64);
        }
        let mut spec = DesignSpec::weighted(&w);
        spec.strata = Some(&strata);
        let d = Design::new(spec).expect("design");
        let est = d.proportion(&y, None, method, 0.95).expect("estimate");
        if est.interval.lower <= p && p <= est.interval.upper {
            hits += 1;
        }
        let kg = d
            .proportion(&y, None, PropCiMethod::KornGraubard, 0.95)
            .expect("kg");
        if kg.interval.lower <= p && p <= kg.interval.upper {
            kg_hits += 1;
        }
    }
    in_band("logit (stratified, weighted)", hits, REPS);
    // Korn–Graubard is conservative by design: never below nominal here.
    let kg = kg_hits as f64 / REPS as f64;
    println!("korn-graubard: coverage {kg:.4}");
    assert!(kg >= 0.945, "korn-graubard coverage {kg:.4}");
}
