//! `minyi assess …` as an operator uses it: import metrics (a bad file named row by row
//! and nothing stored; the same file again changes nothing; XLSX too), run a scheme,
//! rerun the stored run with byte-identical stdout, and a tampered run that no longer
//! reproduces exits non-zero.

use minyi_core::Code;
use minyi_core::org::{NewUnit, UnitKind};
use minyi_store::Store;

use super::{minyi, scratch, stderr, stdout};

fn seed(url: &str) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = Store::open(url).await.unwrap();
        let unit = |c: &str, kind, parent: Option<&str>| NewUnit {
            code: Code::parse(c).unwrap(),
            kind,
            name: format!("单位{c}"),
            parent: parent.map(|p| Code::parse(p).unwrap()),
            window: None,
            department: None,
            synthetic: true,
        };
        store
            .insert_units(&[
                unit("bureau", UnitKind::CityBureau, None),
                unit("county", UnitKind::CountyBureau, Some("bureau")),
                unit("s1", UnitKind::Station, Some("county")),
                unit("s2", UnitKind::Station, Some("county")),
                unit("s3", UnitKind::Station, Some("county")),
            ])
            .await
            .unwrap();
        store.close().await;
    });
}

const SCHEME: &str = r#"
format = 1
id = "cli_test"
version = "1"
period = "year"

[[group]]
id = "business"
weight = 1.0

[[group.indicator]]
id = "solved"
source = "business.cases_solved"
weight = 0.7
direction = "higher"
normalisation = "min_max"

[[group.indicator]]
id = "team"
source = "team.building"
weight = 0.3
direction = "higher"
normalisation = "z_score"

[[rule]]
id = "last"
outcome = "award_ineligible"
bottom = 1
"#;

#[test]
fn import_run_and_rerun_byte_identical() {
    let dir = scratch("assess");
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("minyi.db").display());
    seed(&url);
    let run = |args: &[&str]| {
        let mut v: Vec<String> = vec!["assess".into()];
        v.extend(args.iter().map(|s| s.to_string()));
        v.extend([
            "--data-dir".into(),
            dir.to_str().unwrap().to_owned(),
            "--database-url".into(),
            url.clone(),
        ]);
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        minyi(&refs)
    };

    // A bad file: every bad row named, nothing stored, non-zero exit.
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "单位代码,指标代码,数值\ns1,business.cases_solved,0.7\ns9,business.cases_solved,0.5\ns2,cases,0.5\ns3,team.building,很好\n",
    )
    .unwrap();
    let out = run(&["import-metrics", bad.to_str().unwrap(), "--period", "2026"]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("row 3, column 单位代码: unknown unit `s9`"),
        "{e}"
    );
    assert!(e.contains("row 4, column 指标代码"), "{e}");
    assert!(e.contains("row 5, column 数值"), "{e}");
    assert!(e.contains("nothing was stored"), "{e}");

    let good = dir.join("metrics.csv");
    std::fs::write(
        &good,
        "unit,metric,value\ns1,business.cases_solved,0.7\ns2,business.cases_solved,0.5\ns3,business.cases_solved,0.5\ns1,team.building,80\n",
    )
    .unwrap();
    let out = run(&["import-metrics", good.to_str().unwrap(), "--period", "2026"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("4 rows read for 2026; 4 new, 0 changed, 0 unchanged"),
        "{}",
        stdout(&out)
    );
    let out = run(&["import-metrics", good.to_str().unwrap(), "--period", "2026"]);
    assert!(
        stdout(&out).contains("0 new, 0 changed, 4 unchanged"),
        "{}",
        stdout(&out)
    );
    // XLSX: team scores of s2 and s3.
    let xlsx = dir.join("team.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["unit", "metric", "value"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, (unit, v)) in [("s2", 70.0), ("s3", 90.0)].iter().enumerate() {
        sheet.write_string(r as u32 + 1, 0, *unit).unwrap();
        sheet
            .write_string(r as u32 + 1, 1, "team.building")
            .unwrap();
        sheet.write_number(r as u32 + 1, 2, *v).unwrap();
    }
    book.save(&xlsx).unwrap();
    let out = run(&["import-metrics", xlsx.to_str().unwrap(), "--period", "2026"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("2 new"), "{}", stdout(&out));

    // A scheme with a wrong weight sum is refused before anything is opened.
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, SCHEME.replace("weight = 0.7", "weight = 0.8")).unwrap();
    let out = run(&[
        "run",
        "--scheme",
        broken.to_str().unwrap(),
        "--period",
        "2026",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("weight"), "{}", stderr(&out));

    let scheme = dir.join("scheme.toml");
    std::fs::write(&scheme, SCHEME).unwrap();
    let out = run(&[
        "run",
        "--scheme",
        scheme.to_str().unwrap(),
        "--period",
        "2026",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first = stdout(&out);
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["format"], "minyi.assess.cli.v1");
    assert_eq!(v["run"], 1);
    assert_eq!(v["ranked"], 3);
    let units = v["units"].as_array().unwrap();
    assert_eq!(units.len(), 3);
    // s1 leads on both; s2 and s3 tie on solved, s3 has the better team score.
    let order: Vec<&str> = units.iter().map(|u| u["unit"].as_str().unwrap()).collect();
    assert_eq!(order, ["s1", "s3", "s2"]);
    assert_eq!(units[0]["rank"], 1);
    assert_eq!(units[2]["outcomes"][0]["outcome"], "award_ineligible");
    assert!(units[0]["outcomes"].as_array().unwrap().is_empty());
    for u in units {
        assert!(u["score"].is_number() && u.get("rank_interval").is_some());
    }

    let out = run(&["rerun", "1", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), first, "rerun output is byte-identical");
    let text = run(&["rerun", "1"]);
    assert!(text.status.success());
    assert!(stdout(&text).contains("run 1\tperiod 2026\tscheme cli_test@1"));

    let out = run(&["list"]);
    assert!(
        stdout(&out).starts_with("1\t2026\tcli_test@1\t"),
        "{}",
        stdout(&out)
    );
    let out = run(&["appeals"]);
    assert!(out.status.success() && stdout(&out).is_empty());
    let out = run(&["rerun", "7"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));

    // Someone edits a stored result: the rerun no longer matches and says so.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        sqlx::any::install_default_drivers();
        use sqlx::Connection;
        let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query("UPDATE assessment_runs SET result_hash = 'edited' WHERE id = 1")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });
    let out = run(&["rerun", "1", "--format", "json"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("NOT reproduced"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}
