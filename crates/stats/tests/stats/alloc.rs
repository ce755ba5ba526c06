//! Sample allocation and the sample-size calculator.

use minyi_stats::alloc::{
    AllocationRule, allocate, allocate_by_half_width, sample_size_for_half_width, sd_for_proportion,
};
use proptest::prelude::*;

#[test]
fn proportional_equal_and_neyman() {
    let pop = [5000.0, 3000.0, 2000.0];
    assert_eq!(
        allocate(1000, &pop, AllocationRule::Proportional, None, 0).unwrap(),
        vec![500, 300, 200]
    );
    assert_eq!(
        allocate(1000, &pop, AllocationRule::Equal, None, 0).unwrap(),
        vec![334, 333, 333]
    );
    // Neyman with sd 0.1, 0.2, 0.4: shares 500, 600, 800 of 1900.
    let n = allocate(190, &pop, AllocationRule::Neyman, Some(&[0.1, 0.2, 0.4]), 0).unwrap();
    assert_eq!(n, vec![50, 60, 80]);
    assert!(allocate(190, &pop, AllocationRule::Neyman, None, 0).is_err());
}

#[test]
fn minimum_and_caps() {
    let pop = [10000.0, 9000.0, 400.0, 60.0];
    let n = allocate(1000, &pop, AllocationRule::Proportional, None, 100).unwrap();
    assert_eq!(n.iter().sum::<u64>(), 1000);
    assert_eq!(n[2], 100);
    // A stratum smaller than the minimum is fully taken, not over-sampled.
    assert_eq!(n[3], 60);
    assert!(n[0] > n[1]);
    assert!(allocate(20000, &pop, AllocationRule::Proportional, None, 0).is_err());
    assert!(allocate(300, &pop, AllocationRule::Proportional, None, 100).is_err());
    assert!(allocate(10, &[-1.0], AllocationRule::Equal, None, 0).is_err());
}

#[test]
fn sample_size_calculator() {
    // Classic 385 for ±5% at 95%, p = 0.5.
    assert_eq!(
        sample_size_for_half_width(0.5, 0.05, 0.95, 1.0, None).unwrap(),
        385
    );
    // p = 0.9, ±3%: 1.96² · 0.09 / 0.0009 = 384.1 → 385.
    assert_eq!(
        sample_size_for_half_width(0.9, 0.03, 0.95, 1.0, None).unwrap(),
        385
    );
    // Finite population shrinks it; design effect grows it.
    assert!(sample_size_for_half_width(0.5, 0.05, 0.95, 1.0, Some(1000.0)).unwrap() < 300);
    assert_eq!(
        sample_size_for_half_width(0.5, 0.05, 0.95, 2.0, None).unwrap(),
        769
    );
    assert!(sample_size_for_half_width(0.5, 0.0, 0.95, 1.0, None).is_err());
    assert!(sample_size_for_half_width(1.5, 0.05, 0.95, 1.0, None).is_err());
    let n = allocate_by_half_width(&[0.9, 0.95], &[20000.0, 300.0], 0.03, 0.95, 1.0).unwrap();
    // 384.15 / (1 + 383.15/20000) = 376.9 → 377.
    assert_eq!(n[0], 377);
    assert!(n[1] < 200);
    assert!((sd_for_proportion(0.9) - 0.3).abs() < 1e-15);
}

proptest! {
    #[test]
    fn allocation_sums_and_respects_bounds(
        pop in proptest::collection::vec(1.0f64..5000.0, 1..30),
        frac in 0.0f64..1.0,
        min in 0u64..50,
        rule in 0usize..3,
    ) {
        let cap: f64 = pop.iter().map(|p| p.floor()).sum();
        let total = (cap * frac).floor() as u64;
        let rule = [AllocationRule::Proportional, AllocationRule::Equal, AllocationRule::Neyman][rule];
        let sd: Vec<f64> = pop.iter().map(|p| (p % 7.0) / 7.0).collect();
        match allocate(total, &pop, rule, Some(&sd), min) {
            Ok(n) => {
                prop_assert_eq!(n.iter().sum::<u64>(), total);
                for (ni, p) in n.iter().zip(&pop) {
                    prop_assert!((*ni as f64) <= p.floor());
                    prop_assert!(*ni >= min.min(p.floor() as u64));
                }
            }
            Err(_) => {
                let mins: f64 = pop.iter().map(|p| p.floor().min(min as f64)).sum();
                prop_assert!(mins > total as f64);
            }
        }
    }
}
