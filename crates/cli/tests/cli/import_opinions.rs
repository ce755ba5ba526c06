//! `minyi import opinions FILE.csv|FILE.xlsx` as an operator uses it: every bad row named
//! with its row and column on stderr and in FILE.rejected.csv, good rows stored once
//! (a second run adds nothing, not even a contact), XLSX read like CSV, residents' phone
//! numbers absent from the raw database file, and the same on PostgreSQL.

use std::path::{Path, PathBuf};

use minyi_core::Code;
use minyi_core::org::{AreaKind, NewArea, NewUnit, UnitKind};
use minyi_store::Store;
use minyi_store::testing::TestDb;
use sqlx::{AnyConnection, Connection, Row};

use super::{minyi, scratch, stderr, stdout};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(f)
}

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

/// A bureau, a county, a station, and a village served by the station.
fn seed(url: &str) {
    block_on(async {
        let store = Store::open(url).await.unwrap();
        let unit = |c: &str, kind, parent: Option<&str>| NewUnit {
            code: code(c),
            kind,
            name: format!("单位{c}"),
            parent: parent.map(code),
            window: None,
            department: None,
            synthetic: true,
        };
        store
            .insert_units(&[
                unit("bureau", UnitKind::CityBureau, None),
                unit("county", UnitKind::CountyBureau, Some("bureau")),
                unit("station", UnitKind::Station, Some("county")),
            ])
            .await
            .unwrap();
        let area = |c: &str, kind, parent: Option<&str>| NewArea {
            code: code(c),
            kind,
            name: format!("区域{c}"),
            parent: parent.map(code),
            station: Some(code("station")),
            population: 100,
            centre: None,
            synthetic: true,
        };
        store
            .insert_areas(&[
                area("A", AreaKind::County, None),
                area("A-1", AreaKind::Township, Some("A")),
                area("A-1-1", AreaKind::Village, Some("A-1")),
            ])
            .await
            .unwrap();
        store.close().await;
    });
}

const PHONE: &str = "13912345678";

/// (text, received_at, channel, area, phone, external_id): five good rows, then four bad.
fn rows() -> Vec<[String; 6]> {
    let s = |v: &str| v.to_owned();
    vec![
        [
            s("路灯坏了三天"),
            s("2026-05-01 08:30"),
            s("suggestion_box"),
            s("A-1-1"),
            s(PHONE),
            s("SB-1"),
        ],
        [
            s("警察先生👮，謝謝你們的幫助！"),
            s("2026-05-02 09:00:00"),
            s("forum"),
            s(""),
            s(""),
            s(""),
        ],
        [
            "长".repeat(5000),
            s("2026-05-03T10:00:00+08:00"),
            s("visit"),
            s("A-1"),
            s(""),
            s("V-9"),
        ],
        [
            s("问卷：对派出所满意"),
            s("2026-05-04 10:00"),
            s("问卷"),
            s(""),
            s(""),
            s(""),
        ],
        [
            s("网格员上报：噪音扰民"),
            s("2026-05-05 11:00"),
            s("grid_platform"),
            s(""),
            s("0875-2123456"),
            s("G-1"),
        ],
        [
            s("日期写错了"),
            s("2026-02-30 10:00"),
            s("visit"),
            s(""),
            s(""),
            s(""),
        ],
        [
            s(""),
            s("2026-05-06 10:00"),
            s("visit"),
            s(""),
            s(""),
            s(""),
        ],
        [
            s("渠道不对"),
            s("2026-05-06 10:00"),
            s("telepathy"),
            s(""),
            s(""),
            s(""),
        ],
        [
            s("电话不对"),
            s("2026-05-06 10:00"),
            s("microblog"),
            s(""),
            s("139123"),
            s(""),
        ],
    ]
}

const HEADER: [&str; 6] = [
    "内容",
    "受理时间",
    "Channel",
    "村社代码",
    "电话",
    "external_id",
];
const GOOD: usize = 5;

fn write_csv(path: &Path) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(HEADER).unwrap();
    for r in rows() {
        w.write_record(&r).unwrap();
    }
    w.flush().unwrap();
}

fn write_xlsx(path: &Path) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in rows().iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let (r, c) = (r as u32 + 1, c as u16);
            // Spreadsheets hold mobile numbers as numbers; the import must read them back.
            if c == 4 && v.len() == 11 && v.chars().all(|d| d.is_ascii_digit()) {
                sheet.write_number(r, c, v.parse::<f64>().unwrap()).unwrap();
            } else if !v.is_empty() {
                sheet.write_string(r, c, v).unwrap();
            }
        }
    }
    book.save(path).unwrap();
}

async fn count(url: &str, sql: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let mut c = AnyConnection::connect(url).await.unwrap();
    let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&mut c)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    c.close().await.unwrap();
    n
}

fn counts(url: &str) -> (i64, i64, i64) {
    block_on(async {
        (
            count(url, "SELECT COUNT(*) FROM opinions").await,
            count(url, "SELECT COUNT(*) FROM contacts").await,
            count(url, "SELECT COUNT(*) FROM events WHERE action = 'receive'").await,
        )
    })
}

fn import(dir: &Path, url: &str, file: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "import",
        "opinions",
        file.to_str().unwrap(),
        "--data-dir",
        dir.to_str().unwrap(),
        "--database-url",
        url,
    ];
    args.extend(extra);
    minyi(&args)
}

fn check_first_run(out: &std::process::Output, file: &Path) {
    assert!(out.status.success(), "{}", stderr(out));
    let (o, e) = (stdout(out), stderr(out));
    assert!(
        o.contains(&format!(
            "imported {GOOD} opinions (2 with a contact); 0 already present; 4 rejected"
        )),
        "{o}"
    );
    for (row, column) in [
        (7, "received_at"),
        (8, "text"),
        (9, "channel"),
        (10, "phone"),
    ] {
        assert!(
            e.contains(&format!("row {row}, column {column}:")),
            "row {row}: {e}"
        );
    }
    assert!(e.contains("telepathy"), "{e}");
    assert!(
        !e.contains("139123"),
        "a rejected phone number was printed: {e}"
    );
    let report = std::fs::read_to_string(rejected(file)).unwrap();
    assert_eq!(report.lines().count(), 5, "{report}");
    assert!(
        report.starts_with("row,column,reason\n7,received_at,"),
        "{report}"
    );
    assert!(!report.contains("139123") && !o.contains(PHONE) && !e.contains(PHONE));
}

fn check_second_run(out: &std::process::Output) {
    assert!(out.status.success(), "{}", stderr(out));
    assert!(
        stdout(out).contains(&format!(
            "imported 0 opinions (0 with a contact); {GOOD} already present; 4 rejected"
        )),
        "{}",
        stdout(out)
    );
}

fn rejected(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap().to_os_string();
    name.push(".rejected.csv");
    file.with_file_name(name)
}

/// Every byte of the SQLite database, its WAL included.
fn raw_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for f in ["minyi.db", "minyi.db-wal"] {
        if let Ok(b) = std::fs::read(dir.join(f)) {
            all.extend(b);
        }
    }
    all
}

#[test]
fn csv_rows_are_checked_reported_and_imported_once() {
    let dir = scratch("import-opinions-csv");
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("minyi.db").display());
    seed(&url);
    let file = dir.join("意见箱 2026-05.csv");
    write_csv(&file);

    let out = import(&dir, &url, &file, &["--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("would import {GOOD} opinions")),
        "{}",
        stdout(&out)
    );
    assert_eq!(counts(&url), (0, 0, 0), "a dry run wrote something");

    let out = import(&dir, &url, &file, &[]);
    check_first_run(&out, &file);
    assert_eq!(counts(&url), (GOOD as i64, 2, GOOD as i64));
    block_on(async {
        // Triaged as intake does: the village's station, a deadline, the channel kept.
        assert_eq!(
            count(
                &url,
                "SELECT COUNT(*) FROM opinions o JOIN units u ON u.id = o.unit_id \
                         WHERE u.code = 'station' AND o.due_at > o.received_at"
            )
            .await,
            2
        );
        assert_eq!(count(&url, "SELECT COUNT(*) FROM opinions WHERE text = '警察先生👮，謝謝你們的幫助！' AND channel = 'forum'").await, 1);
        assert_eq!(
            count(
                &url,
                "SELECT COUNT(*) FROM opinions WHERE LENGTH(text) = 5000"
            )
            .await,
            1
        );
        assert_eq!(
            count(
                &url,
                "SELECT COUNT(*) FROM opinions WHERE channel = 'questionnaire'"
            )
            .await,
            1
        );
        assert_eq!(
            count(&url, "SELECT COUNT(*) FROM audit_log WHERE action = 'import' AND detail LIKE 'rows=9 created=5 existing=0 rejected=4%'").await,
            1
        );
    });

    let out = import(&dir, &url, &file, &[]);
    check_second_run(&out);
    assert_eq!(
        counts(&url),
        (GOOD as i64, 2, GOOD as i64),
        "a second run added rows"
    );

    let raw = raw_bytes(&dir);
    assert!(raw.len() > 10_000);
    for needle in [PHONE, "08752123456"] {
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} is in the database file in the clear"
        );
    }
    // Only the text of the opinion is stored; that is how the scan above can fail.
    assert!(
        raw.windows("路灯坏了三天".len())
            .any(|w| w == "路灯坏了三天".as_bytes())
    );

    // A file with no valid row fails, and says so.
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "text,received_at\n,2026-05-01 08:00\n").unwrap();
    let out = import(&dir, &url, &bad, &["--channel", "visit"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no row was valid"),
        "{}",
        stderr(&out)
    );
    // A header without the required columns is refused before anything is read.
    std::fs::write(&bad, "内容\nx\n").unwrap();
    let out = import(&dir, &url, &bad, &["--channel", "visit"]);
    assert!(stderr(&out).contains("received_at"), "{}", stderr(&out));
    let out = import(&dir, &url, &bad, &["--channel", "web_form"]);
    assert!(stderr(&out).contains("--channel"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn xlsx_imports_the_same_rows() {
    let dir = scratch("import-opinions-xlsx");
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("minyi.db").display());
    seed(&url);
    let file = dir.join("export.xlsx");
    write_xlsx(&file);
    let out = import(&dir, &url, &file, &[]);
    check_first_run(&out, &file);
    assert_eq!(counts(&url), (GOOD as i64, 2, GOOD as i64));
    check_second_run(&import(&dir, &url, &file, &[]));
    assert_eq!(counts(&url), (GOOD as i64, 2, GOOD as i64));

    // Exports hold times as date cells: read as the Shanghai wall time they show.
    let dates = dir.join("dates.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "text").unwrap();
    sheet.write_string(0, 1, "received_at").unwrap();
    sheet.write_string(1, 0, "日期单元格").unwrap();
    let when = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 5, 1)
        .unwrap()
        .and_hms(8, 30, 0)
        .unwrap();
    let format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm");
    sheet
        .write_datetime_with_format(1, 1, &when, &format)
        .unwrap();
    book.save(&dates).unwrap();
    let out = import(&dir, &url, &dates, &["--channel", "visit"]);
    assert!(
        stdout(&out).contains("imported 1 opinions"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        block_on(count(
            &url,
            "SELECT COUNT(*) FROM opinions WHERE text = '日期单元格' AND received_at = 1777595400000"
        )),
        1
    );

    // The CSV of the same rows is the same opinions: nothing new.
    let csv = dir.join("export.csv");
    write_csv(&csv);
    check_second_run(&import(&dir, &url, &csv, &[]));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn csv_import_on_postgres() {
    let Some(db) = block_on(TestDb::postgres()) else {
        return;
    };
    seed(&db.url);
    let dir = scratch("import-opinions-pg");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("forum.csv");
    write_csv(&file);
    check_first_run(&import(&dir, &db.url, &file, &[]), &file);
    assert_eq!(counts(&db.url), (GOOD as i64, 2, GOOD as i64));
    check_second_run(&import(&dir, &db.url, &file, &[]));
    assert_eq!(counts(&db.url), (GOOD as i64, 2, GOOD as i64));
    block_on(db.drop_db());
    let _ = std::fs::remove_dir_all(&dir);
}
