//! `minyi survey …` as an operator uses it: create a wave, write the agency's allocation
//! sheet, import its CATI file (bad rows named on stderr, the same file again adding
//! nothing), and print the estimates without NaN.

use minyi_core::Code;
use minyi_core::org::{AreaKind, NewArea, NewUnit, UnitKind};
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
        let area = |c: &str, station: &str, population| NewArea {
            code: Code::parse(c).unwrap(),
            kind: AreaKind::Township,
            name: format!("镇{c}"),
            parent: Some(Code::parse("cy").unwrap()),
            station: Some(Code::parse(station).unwrap()),
            population,
            centre: None,
            synthetic: true,
        };
        store
            .insert_areas(&[
                NewArea {
                    code: Code::parse("cy").unwrap(),
                    kind: AreaKind::County,
                    name: "县".into(),
                    parent: None,
                    station: None,
                    population: 10_000,
                    centre: None,
                    synthetic: true,
                },
                area("t1", "s1", 6000),
                area("t2", "s2", 3000),
                area("t3", "s3", 1000),
            ])
            .await
            .unwrap();
        store.close().await;
    });
}

#[test]
fn create_allocate_import_and_estimate() {
    let dir = scratch("survey");
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("minyi.db").display());
    seed(&url);
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = vec!["survey"];
        all.extend_from_slice(args);
        let d = dir.to_str().unwrap().to_owned();
        let mut v: Vec<String> = all.iter().map(|s| s.to_string()).collect();
        v.extend(["--data-dir".into(), d, "--database-url".into(), url.clone()]);
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        minyi(&refs)
    };
    let out = run(&["create", "W1", "--name", "第三季度", "--period", "2026-Q3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sheet = dir.join("sheet.csv");
    let out = run(&[
        "allocate",
        "W1",
        "--method",
        "proportional",
        "--total",
        "300",
        "--min",
        "60",
        "--out",
        sheet.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("3 stations, 300 interviews"),
        "{}",
        stdout(&out)
    );
    let text = std::fs::read_to_string(&sheet).unwrap();
    assert!(text.starts_with("\u{feff}station,name,county,allocated,population\n"));
    assert!(text.contains("s3,单位s3,单位county,60,1000"), "{text}");
    let bad = run(&["allocate", "W1", "--method", "best", "--out", "x.csv"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("allocation method"),
        "{}",
        stderr(&bad)
    );

    let mut csv =
        String::from("问卷编号,派出所,访员,访问方式,访问时间,年龄段,性别,安全感,满意度,所长知晓\n");
    for i in 0..30 {
        let station = ["s1", "s2", "s3"][i % 3];
        let sat = if i % 4 == 0 { 2 } else { 5 };
        csv.push_str(&format!(
            "R{i},{station},IV1,电话,2026-09-0{} 10:00,30-44,{},4,{sat},named\n",
            1 + i % 5,
            if i % 2 == 0 { "男" } else { "女" }
        ));
    }
    csv.push_str("R99,s9,IV1,电话,2026-09-01 10:00,30-44,男,7,5,named\n");
    let file = dir.join("cati.csv");
    std::fs::write(&file, &csv).unwrap();
    let out = run(&["import", "W1", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("31 rows; stored 30, already there 0, rejected 1 rows"),
        "{}",
        stdout(&out)
    );
    let e = stderr(&out);
    assert!(
        e.contains("row 32, column station: unknown station `s9`"),
        "{e}"
    );
    assert!(
        e.contains("row 32, column security: 7 is outside the scale"),
        "{e}"
    );
    let again = run(&["import", "W1", file.to_str().unwrap()]);
    assert!(
        stdout(&again).contains("stored 0, already there 30"),
        "{}",
        stdout(&again)
    );
    let est = run(&["estimates", "W1"]);
    assert!(est.status.success(), "{}", stderr(&est));
    let o = stdout(&est);
    assert_eq!(o.lines().count(), 1 + 3 * 3, "{o}");
    assert!(!o.to_lowercase().contains("nan"), "{o}");
    let _ = std::fs::remove_dir_all(&dir);
}
