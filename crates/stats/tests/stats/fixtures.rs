//! Reading the committed fixtures (synthetic data and R's expected numbers, produced by
//! `crates/stats/r/fixtures.R`). Files are embedded at compile time, so tests need no R.

use std::collections::HashMap;

pub const SURVEY: &str = include_str!("../fixtures/survey.csv");
pub const EXPECTED: &str = include_str!("../fixtures/expected.csv");
#[allow(dead_code)]
pub const FH_AREAS: &str = include_str!("../fixtures/fh_areas.csv");
#[allow(dead_code)]
pub const BB_UNITS: &str = include_str!("../fixtures/bb_units.csv");

/// A numeric CSV table: column name → values.
pub struct Table {
    pub cols: HashMap<String, Vec<f64>>,
    pub _rows: usize,
}

impl Table {
    pub fn parse(text: &str) -> Table {
        let mut lines = text.lines();
        let header: Vec<String> = lines
            .next()
            .unwrap_or_default()
            .split(',')
            .map(|h| h.trim_matches('"').to_string())
            .collect();
        let mut cols: HashMap<String, Vec<f64>> =
            header.iter().map(|h| (h.clone(), Vec::new())).collect();
        let mut rows = 0;
        for line in lines.filter(|l| !l.trim().is_empty()) {
            for (h, v) in header.iter().zip(line.split(',')) {
                let x: f64 = v
                    .trim_matches('"')
                    .parse()
                    .unwrap_or_else(|_| panic!("bad number {v}"));
                cols.get_mut(h).expect("column").push(x);
            }
            rows += 1;
        }
        Table { cols, _rows: rows }
    }

    pub fn col(&self, name: &str) -> &[f64] {
        self.cols
            .get(name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    pub fn labels(&self, name: &str) -> Vec<usize> {
        self.col(name).iter().map(|v| *v as usize).collect()
    }
}

/// Expected values keyed by (design, stat, domain).
pub struct Expected(pub HashMap<(String, String, String), f64>);

impl Expected {
    pub fn load() -> Expected {
        let mut map = HashMap::new();
        for line in EXPECTED.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let parts: Vec<&str> = line.split(',').collect();
            assert_eq!(parts.len(), 4, "bad expected row {line}");
            let v: f64 = parts[3]
                .parse()
                .unwrap_or_else(|_| panic!("bad value {line}"));
            map.insert((parts[0].into(), parts[1].into(), parts[2].into()), v);
        }
        Expected(map)
    }

    pub fn get(&self, design: &str, stat: &str, domain: &str) -> f64 {
        *self
            .0
            .get(&(design.to_string(), stat.to_string(), domain.to_string()))
            .unwrap_or_else(|| panic!("no expected value {design}/{stat}/{domain}"))
    }

    /// All entries of one design and stat, by domain.
    pub fn all(&self, design: &str, stat: &str) -> Vec<(String, f64)> {
        let mut v: Vec<(String, f64)> = self
            .0
            .iter()
            .filter(|((d, s, _), _)| d == design && s == stat)
            .map(|((_, _, k), v)| (k.clone(), *v))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// Relative difference, with an absolute floor for values at or near zero.
#[track_caller]
pub fn assert_close(what: &str, got: f64, want: f64, rel: f64) {
    let scale = want.abs().max(1e-300);
    let err = (got - want).abs();
    assert!(
        err <= rel * scale || err <= rel * 1e-12,
        "{what}: got {got:.17e}, R gives {want:.17e} (rel err {:.3e}, tol {rel:e})",
        err / scale
    );
}
