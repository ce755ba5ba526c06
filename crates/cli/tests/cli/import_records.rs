//! `minyi import incidents|cases|permits FILE` as an operator uses it: bad rows named with
//! row and column on stderr and in FILE.rejected.csv, rows without a phone in
//! FILE.flagged.csv, a later export applied as events, the same file again changing
//! nothing, XLSX read like CSV, and no phone number in the raw database file.

use std::path::Path;

use minyi_core::Code;
use minyi_core::org::{NewUnit, UnitKind, WindowKind};
use minyi_store::Store;
use sqlx::{AnyConnection, Connection, Row};

use super::{minyi, scratch, stderr, stdout};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(f)
}

fn seed(url: &str) {
    block_on(async {
        let store = Store::open(url).await.unwrap();
        let unit = |c: &str, kind, parent: Option<&str>| NewUnit {
            code: Code::parse(c).unwrap(),
            kind,
            name: format!("单位{c}"),
            parent: parent.map(|p| Code::parse(p).unwrap()),
            window: (kind == UnitKind::Window).then_some(WindowKind::Household),
            department: None,
            synthetic: true,
        };
        store
            .insert_units(&[
                unit("bureau", UnitKind::CityBureau, None),
                unit("county", UnitKind::CountyBureau, Some("bureau")),
                unit("station", UnitKind::Station, Some("county")),
                unit("station-w", UnitKind::Window, Some("station")),
            ])
            .await
            .unwrap();
        store.close().await;
    });
}

fn count(url: &str, sql: &str) -> i64 {
    block_on(async {
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
    })
}

fn import(dir: &Path, url: &str, kind: &str, file: &Path) -> std::process::Output {
    minyi(&[
        "import",
        kind,
        file.to_str().unwrap(),
        "--data-dir",
        dir.to_str().unwrap(),
        "--database-url",
        url,
    ])
}

const PHONE: &str = "13912345678";

#[test]
fn incident_and_case_files_are_checked_and_applied_as_events() {
    let dir = scratch("import-records");
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("minyi.db").display());
    seed(&url);

    let file = dir.join("110警情.csv");
    std::fs::write(
        &file,
        format!(
            "\u{feff}警情编号,接警时间,处警单位,类别,公安类警情,办结时间,是否解决,报警电话,备注\n\
             JQ1,2026-05-01 08:30,station,emergency_110,是,2026-05-01 09:30,是,{PHONE},\n\
             JQ2,2026-05-01 09:00,station,public_order,1,,,,无电话\n\
             JQ3,2026-05-01 09:00,nowhere,other,1,,,,\n\
             JQ4,2026-05-01 09:00,station,other,1,2026-04-30 09:00,,,\n\
             JQ5,2026-05-01 09:00,station,other,也许,,,,\n"
        ),
    )
    .unwrap();
    let out = import(&dir, &url, "incidents", &file);
    assert!(out.status.success(), "{}", stderr(&out));
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(
        o.contains("5 rows; created 2 incidents, changed 0, 0 unchanged; 3 events, 1 contacts; 3 rejected, 1 flagged"),
        "{o}"
    );
    assert!(o.contains("ignored columns: 备注"), "{o}");
    for needle in [
        "row 4, column unit: unknown unit `nowhere`",
        "row 5, column -: impossible timeline",
        "row 6, column police_matter:",
        "flagged: row 3, column phone: no phone number",
    ] {
        assert!(e.contains(needle), "{needle}: {e}");
    }
    let rejected = std::fs::read_to_string(dir.join("110警情.csv.rejected.csv")).unwrap();
    assert!(
        rejected.starts_with("row,column,reason\n4,unit,"),
        "{rejected}"
    );
    assert_eq!(rejected.lines().count(), 4);
    let flagged = std::fs::read_to_string(dir.join("110警情.csv.flagged.csv")).unwrap();
    assert!(
        flagged.starts_with("row,column,reason\n3,phone,"),
        "{flagged}"
    );

    // The next export: JQ2 closed. JQ1 repeated. A changed reception time is refused.
    let next = dir.join("110警情-2.csv");
    std::fs::write(
        &next,
        format!(
            "external_id,received_at,unit,category,police_matter,closed_at,resolved,phone\n\
             JQ1,2026-05-01 08:30,station,emergency_110,1,2026-05-01 09:30,1,{PHONE}\n\
             JQ2,2026-05-01 09:00,station,public_order,1,2026-05-01 12:00,0,\n\
             JQ1,2026-05-01 08:31,station,emergency_110,1,2026-05-01 09:30,1,{PHONE}\n"
        ),
    )
    .unwrap();
    let out = import(&dir, &url, "incidents", &next);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("created 0 incidents, changed 1, 1 unchanged; 1 events, 0 contacts; 1 rejected, 0 flagged"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("row 4, column received_at: conflicts with the stored record"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join("110警情-2.csv.flagged.csv").exists());
    assert_eq!(count(&url, "SELECT COUNT(*) FROM incidents"), 2);
    assert_eq!(
        count(
            &url,
            "SELECT COUNT(*) FROM events WHERE subject = 'incident' AND action = 'closed'"
        ),
        2
    );
    assert_eq!(
        count(&url, "SELECT COUNT(*) FROM incidents WHERE resolved = 0"),
        1
    );

    // Cases from XLSX, amounts in yuan.
    let xlsx = dir.join("案件.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let rows = [
        [
            "案件编号",
            "案件类别",
            "办案单位",
            "报案时间",
            "立案时间",
            "损失金额",
            "挽回金额",
            "电话",
        ],
        [
            "AJ1",
            "盗窃",
            "station",
            "2026-05-02 10:00",
            "2026-05-03 10:00",
            "1200.5",
            "200",
            PHONE,
        ],
        [
            "AJ2",
            "诈骗",
            "station-w",
            "2026-05-02 10:00",
            "",
            "",
            "",
            PHONE,
        ],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                sheet.write_string(r as u32, c as u16, *v).unwrap();
            }
        }
    }
    book.save(&xlsx).unwrap();
    let out = import(&dir, &url, "cases", &xlsx);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("created 1 cases"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("row 3, column station: is a window, not a police station"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        count(
            &url,
            "SELECT recovered_fen FROM cases WHERE external_id = 'AJ1'"
        ),
        20_000
    );
    assert_eq!(
        count(&url, "SELECT COUNT(*) FROM events WHERE subject = 'case'"),
        3,
        "received, filed, loss_recovered"
    );

    // A file with nothing valid fails; a wrong header is refused before anything is read.
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "external_id,received_at\n,2026-05-01 08:00\n").unwrap();
    let out = import(&dir, &url, "incidents", &bad);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no row was valid"),
        "{}",
        stderr(&out)
    );
    std::fs::write(&bad, "external_id,kind\nX,id_card\n").unwrap();
    let out = import(&dir, &url, "permits", &bad);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("required column `window` is missing"),
        "{}",
        stderr(&out)
    );

    // The caller's number is sealed: it is nowhere in the database file.
    let mut raw = std::fs::read(dir.join("minyi.db")).unwrap();
    raw.extend(std::fs::read(dir.join("minyi.db-wal")).unwrap_or_default());
    assert!(!raw.windows(PHONE.len()).any(|w| w == PHONE.as_bytes()));
    let _ = std::fs::remove_dir_all(&dir);
}
