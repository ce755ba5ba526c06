//! `minyi stats estimate|fh|ranks` on files: numbers against R's fixtures from
//! crates/stats (survey package, REML, integrate) and against the library itself, and
//! one clear line for every kind of bad input.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;

use super::{minyi, one_line_error, scratch, stderr, stdout};

fn fixture(name: &str) -> String {
    format!(
        "{}/../stats/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// R's numbers: (design, stat, domain) → value.
fn expected() -> HashMap<(String, String, String), f64> {
    let text = std::fs::read_to_string(fixture("expected.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let v = f.get(3)?.parse().ok()?;
            Some(((f[0].into(), f[1].into(), f[2].into()), v))
        })
        .collect()
}

fn r(e: &HashMap<(String, String, String), f64>, design: &str, stat: &str, dom: &str) -> f64 {
    *e.get(&(design.into(), stat.into(), dom.into()))
        .unwrap_or_else(|| panic!("no {design},{stat},{dom} in expected.csv"))
}

fn close(got: f64, want: f64, rel: f64, what: &str) {
    let tol = rel * want.abs().max(1e-300);
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} (rel tol {rel})"
    );
}

/// Equal up to the last bit or two lost when JSON text is parsed back.
fn same(got: f64, want: f64) {
    close(got, want, 1e-15, "same number");
}

fn json(args: &[&str]) -> Value {
    let out = minyi(args);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` not a number in {v}"))
}

fn group<'a>(report: &'a Value, label: &str) -> &'a Value {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == label)
        .unwrap_or_else(|| panic!("no group {label} in {report}"))
}

/// A scratch CSV with the given content.
fn csv_file(dir: &PathBuf, name: &str, content: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn estimate_mean_matches_r_for_stratified_clustered_design() {
    let e = expected();
    let survey = fixture("survey.csv");
    let rep = json(&[
        "stats",
        "estimate",
        "--input",
        &survey,
        "--var",
        "y",
        "--strata",
        "stratum",
        "--cluster",
        "cluster",
        "--weight",
        "w",
        "--by",
        "group",
        "--format",
        "json",
    ]);
    assert_eq!(rep["kind"], "mean");
    assert_eq!(rep["rows"], 439);
    let all = &rep["overall"];
    close(
        num(all, "estimate"),
        r(&e, "cluster", "y_mean", "all"),
        1e-9,
        "mean",
    );
    close(num(all, "se"), r(&e, "cluster", "y_se", "all"), 1e-9, "se");
    close(
        num(all, "deff"),
        r(&e, "cluster", "y_deff", "all"),
        1e-9,
        "deff",
    );
    close(
        num(all, "deff_replace"),
        r(&e, "cluster", "y_deff_replace", "all"),
        1e-9,
        "deff_replace",
    );
    assert_eq!(num(all, "df"), r(&e, "cluster", "df", "all"));
    // Normal-quantile interval, as R's confint(svymean(...)).
    let z = 1.959963984540054;
    close(
        num(all, "lower"),
        num(all, "estimate") - z * num(all, "se"),
        1e-12,
        "lower",
    );
    for g in ["1", "2", "3"] {
        let grp = group(&rep, g);
        close(
            num(grp, "estimate"),
            r(&e, "cluster", "y_mean", g),
            1e-9,
            "group mean",
        );
        close(
            num(grp, "se"),
            r(&e, "cluster", "y_se", g),
            1e-9,
            "group se",
        );
        close(
            num(grp, "deff"),
            r(&e, "cluster", "y_deff", g),
            1e-9,
            "group deff",
        );
        assert_eq!(num(grp, "df"), r(&e, "cluster", "df", g));
    }
}

#[test]
fn estimate_proportion_matches_r_with_fpc_and_korn_graubard() {
    let e = expected();
    let survey = fixture("survey.csv");
    let rep = json(&[
        "stats",
        "estimate",
        "--input",
        &survey,
        "--var",
        "sat",
        "--strata",
        "stratum",
        "--cluster",
        "cluster",
        "--weight",
        "w",
        "--fpc",
        "fpc_psu",
        "--by",
        "group",
        "--prop-ci",
        "korn-graubard",
    ]);
    assert_eq!(rep["kind"], "proportion");
    assert_eq!(rep["interval_method"], "korn-graubard");
    let all = &rep["overall"];
    close(
        num(all, "estimate"),
        r(&e, "cluster_fpc", "sat_mean", "all"),
        1e-9,
        "p",
    );
    close(
        num(all, "se"),
        r(&e, "cluster_fpc", "sat_se", "all"),
        1e-9,
        "se",
    );
    close(
        num(all, "lower"),
        r(&e, "cluster_fpc", "sat_beta_lower", "all"),
        1e-9,
        "lo",
    );
    close(
        num(all, "upper"),
        r(&e, "cluster_fpc", "sat_beta_upper", "all"),
        1e-9,
        "hi",
    );
    for g in ["1", "2", "3"] {
        let grp = group(&rep, g);
        close(
            num(grp, "lower"),
            r(&e, "cluster_fpc", "sat_beta_lower", g),
            1e-9,
            "lo",
        );
        close(
            num(grp, "upper"),
            r(&e, "cluster_fpc", "sat_beta_upper", g),
            1e-9,
            "hi",
        );
    }
}

#[test]
fn estimate_weighted_proportion_defaults_to_logit_as_r() {
    let e = expected();
    let survey = fixture("survey.csv");
    let rep = json(&[
        "stats", "estimate", "--input", &survey, "--var", "sat", "--weight", "w", "--by", "group",
    ]);
    assert_eq!(rep["interval_method"], "logit");
    let all = &rep["overall"];
    close(
        num(all, "lower"),
        r(&e, "weighted", "sat_logit_lower", "all"),
        1e-9,
        "lo",
    );
    close(
        num(all, "upper"),
        r(&e, "weighted", "sat_logit_upper", "all"),
        1e-9,
        "hi",
    );
    for g in ["1", "2", "3"] {
        let grp = group(&rep, g);
        close(
            num(grp, "lower"),
            r(&e, "weighted", "sat_xlogit_lower", g),
            1e-9,
            "lo",
        );
        close(
            num(grp, "upper"),
            r(&e, "weighted", "sat_xlogit_upper", g),
            1e-9,
            "hi",
        );
        assert_eq!(num(grp, "df"), r(&e, "weighted", "df", g));
    }
}

#[test]
fn missing_answers_are_a_domain_like_r_na_rm() {
    use minyi_stats::intervals::PropCiMethod;
    use minyi_stats::survey::{Design, DesignSpec};
    let dir = scratch("stats-missing");
    // SYNTHETIC: two stations, eight respondents, two of them without an answer.
    let f = csv_file(
        &dir,
        "s.csv",
        "station,w,ans\nA,10,1\nA,20,0\nA,15,\nA,12,1\nB,30,1\nB,25,NA\nB,10,1\nB,40,0\n",
    );
    let rep = json(&[
        "stats",
        "estimate",
        "--input",
        &f,
        "--var",
        "ans",
        "--weight",
        "w",
        "--by",
        "station",
        "--prop-ci",
        "logit",
    ]);
    let w = [10.0, 20.0, 15.0, 12.0, 30.0, 25.0, 10.0, 40.0];
    let y = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0];
    let answered = [true, true, false, true, true, false, true, true];
    let d = Design::new(DesignSpec::weighted(&w)).unwrap();
    let want = d
        .proportion(&y, Some(&answered), PropCiMethod::Logit, 0.95)
        .unwrap();
    let all = &rep["overall"];
    assert_eq!(all["n_missing"], 2);
    assert_eq!(all["n_obs"], 6);
    same(num(all, "estimate"), want.mean.estimate);
    same(num(all, "se"), want.mean.se);
    same(num(all, "lower"), want.interval.lower);
    let in_b: Vec<bool> = (0..8).map(|i| i >= 4 && answered[i]).collect();
    let want_b = d
        .proportion(&y, Some(&in_b), PropCiMethod::Logit, 0.95)
        .unwrap();
    let b = group(&rep, "B");
    assert_eq!(b["n_missing"], 1);
    same(num(b, "estimate"), want_b.mean.estimate);
    assert_eq!(num(b, "estimate"), 0.5);
    same(num(b, "se"), want_b.mean.se);
    same(num(b, "upper"), want_b.interval.upper);

    // Unweighted default is Wilson on the raw counts: station A has 2 of 3.
    let rep = json(&[
        "stats", "estimate", "--input", &f, "--var", "ans", "--by", "station",
    ]);
    assert_eq!(rep["interval_method"], "wilson");
    let a = group(&rep, "A");
    let wil = minyi_stats::intervals::wilson(2, 3, 0.95).unwrap();
    same(num(a, "lower"), wil.lower);
    same(num(a, "upper"), wil.upper);

    // The text and CSV forms carry the same groups.
    let out = minyi(&[
        "stats", "estimate", "--input", &f, "--var", "ans", "--by", "station", "--format", "text",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.lines().any(|l| l.starts_with("B ")), "{text}");
    let out = minyi(&[
        "stats", "estimate", "--input", &f, "--var", "ans", "--by", "station", "--format", "csv",
    ]);
    let csv = stdout(&out);
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(
        csv.starts_with("group,n_obs,n_missing,estimate,se,lower,upper"),
        "{csv}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fh_matches_reml_fixture_and_library() {
    let e = expected();
    let f = fixture("fh_areas.csv");
    let rep = json(&[
        "stats",
        "fh",
        "--input",
        &f,
        "--direct",
        "direct",
        "--variance",
        "vardir",
        "--covariates",
        "x1",
        "--area",
        "area",
    ]);
    // REML is iterative: the library holds it to R at 1e-6 (see sae.rs).
    close(
        num(&rep, "model_variance"),
        r(&e, "fh", "A", "all"),
        1e-6,
        "A",
    );
    assert_eq!(rep["beta"][1]["name"], "x1");
    close(
        num(&rep["beta"][1], "value"),
        r(&e, "fh", "beta", "1"),
        1e-6,
        "beta1",
    );
    let areas = rep["areas"].as_array().unwrap();
    assert_eq!(areas.len(), 30);
    for a in areas {
        let id = a["area"].as_str().unwrap();
        close(num(a, "eblup"), r(&e, "fh", "eblup", id), 1e-6, "eblup");
        close(num(a, "mse"), r(&e, "fh", "mse", id), 1e-6, "mse");
    }
    // And exactly the library's numbers.
    let text = std::fs::read_to_string(&f).unwrap();
    let (mut y, mut d, mut x) = (vec![], vec![], vec![]);
    for l in text.lines().skip(1) {
        let v: Vec<f64> = l.split(',').map(|s| s.parse().unwrap()).collect();
        x.extend([1.0, v[1]]);
        d.push(v[2]);
        y.push(v[3]);
    }
    let fit = minyi_stats::sae::fay_herriot(&y, &d, &x, 2).unwrap();
    same(num(&rep, "model_variance"), fit.model_variance);
    for (a, want) in areas.iter().zip(&fit.areas) {
        same(num(a, "eblup"), want.eblup);
        same(num(a, "mse"), want.mse);
        same(num(a, "gamma"), want.gamma);
    }
}

#[test]
fn ranks_exact_match_integrate_and_simulation_matches_library() {
    let e = expected();
    let dir = scratch("stats-ranks");
    // SYNTHETIC: the five units of the library's rank fixture.
    let f = csv_file(
        &dir,
        "u.csv",
        "unit,est,se\nu1,0.91,0.02\nu2,0.885,0.03\nu3,0.93,0.015\nu4,0.87,0.025\nu5,0.905,0.01\n",
    );
    let rep = json(&[
        "stats",
        "ranks",
        "--input",
        &f,
        "--estimate",
        "est",
        "--se",
        "se",
        "--unit",
        "unit",
        "--method",
        "exact",
        "--level",
        "0.9",
        "--top",
        "2",
        "--bottom",
        "1",
    ]);
    assert_eq!(rep["method"]["kind"], "exact");
    let units = rep["units"].as_array().unwrap();
    for (i, u) in units.iter().enumerate() {
        let id = (i + 1).to_string();
        assert_eq!(u["unit"], format!("u{id}"));
        let probs = u["rank_probabilities"].as_array().unwrap();
        let mut expected_rank = 0.0;
        for (k, p) in probs.iter().enumerate() {
            let want = r(&e, "ranks", &format!("p_rank_{}", k + 1), &id);
            assert!(
                (p.as_f64().unwrap() - want).abs() < 1e-8,
                "unit {id} rank {k}"
            );
            expected_rank += (k + 1) as f64 * want;
        }
        assert!((num(u, "expected_rank") - expected_rank).abs() < 1e-7);
        let p12 = r(&e, "ranks", "p_rank_1", &id) + r(&e, "ranks", "p_rank_2", &id);
        assert!((num(&u["p_top"], "2") - p12).abs() < 1e-8);
        let p5 = r(&e, "ranks", "p_rank_5", &id);
        assert!((num(&u["p_bottom"], "1") - p5).abs() < 1e-8);
        for kind in ["joint", "marginal"] {
            let set = &u[format!("{kind}_rank_set")];
            assert_eq!(
                num(set, "lower"),
                r(&e, "ranks", &format!("{kind}_lower"), &id)
            );
            assert_eq!(
                num(set, "upper"),
                r(&e, "ranks", &format!("{kind}_upper"), &id)
            );
        }
    }

    let args = [
        "stats",
        "ranks",
        "--input",
        &f,
        "--estimate",
        "est",
        "--se",
        "se",
        "--draws",
        "2000",
        "--seed",
        "7",
    ];
    let rep = json(&args);
    assert_eq!(rep, json(&args), "a seed reproduces the report");
    let est = [0.91, 0.885, 0.93, 0.87, 0.905];
    let se = [0.02, 0.03, 0.015, 0.025, 0.01];
    let dist = minyi_stats::ranks::simulate(&est, &se, 2000, 7, true).unwrap();
    let sum = dist.summary(0.95, &[6], &[10, 3]).unwrap();
    for (u, want) in rep["units"].as_array().unwrap().iter().zip(&sum) {
        same(num(u, "expected_rank"), want.expected_rank);
        assert_eq!(
            num(&u["rank_interval"], "lower") as usize,
            want.interval.lower
        );
        assert_eq!(
            num(&u["rank_interval"], "upper") as usize,
            want.interval.upper
        );
        same(num(&u["p_bottom"], "3"), want.p_bottom[1].1);
    }
    // Units default to row numbers.
    assert_eq!(rep["units"][4]["unit"], "5");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_files_get_one_line_naming_row_and_column() {
    let dir = scratch("stats-bad");
    let est = |name: &str, content: &str, extra: &[&str]| {
        let f = csv_file(&dir, name, content);
        let mut args = vec!["stats", "estimate", "--input", &f, "--var", "y"];
        args.extend_from_slice(extra);
        minyi(&args)
    };
    let w = ["--weight", "w"];
    let ok = "s,c,w,y,g\n1,1,10,1,a\n1,2,10,0,a\n2,3,10,1,b\n2,4,10,1,b\n";
    assert!(est("ok.csv", ok, &w).status.success());
    one_line_error(
        &est("u.csv", ok, &["--weight", "wt"]),
        &["unknown column `wt`", "--weight", "s, c, w, y, g"],
    );
    one_line_error(
        &est("z.csv", "w,y\n10,1\n0,1\n", &w),
        &["row 2 (line 3)", "column `w`", "greater than zero"],
    );
    one_line_error(
        &est("n.csv", "w,y\n10,1\n5,0\n-3,1\n", &w),
        &["row 3 (line 4)", "column `w`", "-3"],
    );
    one_line_error(
        &est("b.csv", "w,y\n10,1\n,1\n", &w),
        &["row 2 (line 3)", "column `w`", "missing"],
    );
    one_line_error(
        &est("t.csv", "w,y\n10,1\n10,yes\n", &w),
        &["row 2 (line 3)", "column `y`", "`yes` is not a number"],
    );
    one_line_error(
        &est("i.csv", "w,y\n10,1\n10,inf\n", &w),
        &["row 2 (line 3)", "column `y`", "not a finite number"],
    );
    one_line_error(
        &est("a.csv", "w,y\n10,\n10,NA\n", &w),
        &["column `y` has no answers"],
    );
    one_line_error(
        &est("s.csv", "s,w,y\n1,10,1\n,10,0\n", &["--strata", "s"]),
        &["row 2 (line 3)", "column `s`", "missing"],
    );
    one_line_error(
        &est(
            "l.csv",
            "s,w,y\n1,10,1\n1,10,0\n2,10,1\n",
            &["--strata", "s"],
        ),
        &[
            "stratum `2` (column `s`)",
            "single sampling unit",
            "--lonely-psu",
        ],
    );
    one_line_error(
        &est(
            "f.csv",
            "s,f,y\n1,100,1\n1,100,0\n1,90,1\n",
            &["--strata", "s", "--fpc", "f"],
        ),
        &["row 3 (line 4)", "column `f`", "differs from 100 on row 1"],
    );
    one_line_error(
        &est("r.csv", "w,y\n10,1\n10\n", &w),
        &["r.csv", "row 2 (line 3)", "1 fields", "header has 2"],
    );
    one_line_error(
        &minyi(&[
            "stats",
            "estimate",
            "--input",
            "/nonexistent/x.csv",
            "--var",
            "y",
        ]),
        &["cannot read /nonexistent/x.csv"],
    );
    one_line_error(&est("lv.csv", ok, &["--level", "95"]), &["--level 95"]);

    let fh = |name: &str, content: &str| {
        let f = csv_file(&dir, name, content);
        minyi(&[
            "stats",
            "fh",
            "--input",
            &f,
            "--direct",
            "d",
            "--variance",
            "v",
            "--area",
            "a",
        ])
    };
    one_line_error(
        &fh("fv.csv", "a,d,v\nx,1,0.5\ny,2,0\nz,3,1\n"),
        &["row 2 (line 3)", "column `v`", "greater than zero"],
    );
    one_line_error(
        &fh("fd.csv", "a,d,v\nx,1,0.5\nx,2,1\nz,3,1\n"),
        &["row 2 (line 3)", "column `a`", "repeats the label of row 1"],
    );
    one_line_error(&fh("f1.csv", "a,d,v\nx,1,0.5\n"), &["too few"]);

    let ranks = |name: &str, content: &str| {
        let f = csv_file(&dir, name, content);
        minyi(&[
            "stats",
            "ranks",
            "--input",
            &f,
            "--estimate",
            "e",
            "--se",
            "s",
        ])
    };
    one_line_error(
        &ranks("rs.csv", "e,s\n0.9,0.01\n0.8,-0.02\n"),
        &["row 2 (line 3)", "column `s`", "must not be negative"],
    );
    one_line_error(
        &ranks("re.csv", "e,s\n0.9,0.01\nNA,0.02\n"),
        &["row 2 (line 3)", "column `e`", "missing"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn edge_cases_get_documented_treatment_not_nan() {
    let dir = scratch("stats-edge");
    // SYNTHETIC: station C answered nothing; station B said yes every time.
    let f = csv_file(
        &dir,
        "e.csv",
        "station,w,ans\nA,10,1\nA,20,0\nB,15,1\nB,12,1\nC,30,NA\nC,25,\n",
    );
    let rep = json(&[
        "stats", "estimate", "--input", &f, "--var", "ans", "--weight", "w", "--by", "station",
    ]);
    assert_eq!(rep["groups_without_answers"], serde_json::json!(["C"]));
    assert_eq!(rep["groups"].as_array().unwrap().len(), 2);
    let b = group(&rep, "B");
    assert_eq!(num(b, "estimate"), 1.0);
    assert_eq!(b["note"], "boundary_fallback");
    assert!(num(b, "lower") < 1.0 && num(b, "upper") == 1.0);
    assert!(
        !stdout(&minyi(&[
            "stats", "estimate", "--input", &f, "--var", "ans"
        ]))
        .contains("NaN")
    );

    // Lower is better: the smallest estimate gets rank 1 for sure.
    let u = csv_file(&dir, "u.csv", "e,s\n5,0.1\n1,0.1\n9,0.1\n");
    let rep = json(&[
        "stats",
        "ranks",
        "--input",
        &u,
        "--estimate",
        "e",
        "--se",
        "s",
        "--method",
        "exact",
        "--lower-is-better",
        "--top",
        "1",
    ]);
    assert_eq!(rep["higher_is_better"], false);
    assert!((num(&rep["units"][1]["p_top"], "1") - 1.0).abs() < 1e-12);
    assert_eq!(rep["units"][2]["rank_interval"]["lower"], 3);
    let out = minyi(&[
        "stats",
        "ranks",
        "--input",
        &u,
        "--estimate",
        "e",
        "--se",
        "s",
        "--format",
        "text",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 5, "{}", stdout(&out));
    let _ = std::fs::remove_dir_all(&dir);
}
