//! `minyi import areas FILE.geojson` as an operator uses it: a report listing what was
//! updated, which codes are unknown and which features were refused and why; a failing
//! exit only when nothing could be imported; one clear line for a missing file.

use minyi_core::Code;
use minyi_core::geo::Geometry;
use minyi_core::org::{AreaKind, NewArea, NewUnit, UnitKind};
use minyi_store::Store;

use super::{minyi, one_line_error, scratch, stderr, stdout};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Runtime::new().unwrap().block_on(f)
}

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

/// A fresh data directory whose store holds a city bureau, a county bureau, a station,
/// and a township with one village.
fn site(name: &str) -> (std::path::PathBuf, String) {
    let dir = scratch(&format!("import-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("minyi.db").display());
    block_on(async {
        let store = Store::open(&url).await.unwrap();
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
        let area = |c: &str, kind, parent: Option<&str>, station: Option<&str>| NewArea {
            code: code(c),
            kind,
            name: format!("区域{c}"),
            parent: parent.map(code),
            station: station.map(code),
            population: 100,
            centre: None,
            synthetic: true,
        };
        store
            .insert_areas(&[
                area("A", AreaKind::County, None, None),
                area("A-1", AreaKind::Township, Some("A"), Some("station")),
                area("A-1-1", AreaKind::Village, Some("A-1"), Some("station")),
            ])
            .await
            .unwrap();
        store.close().await;
    });
    (dir, url)
}

const GOOD: &str = r#"{"type":"Polygon","coordinates":[[[99.1,25.1],[99.2,25.1],[99.2,25.2],[99.1,25.2],[99.1,25.1]]]}"#;
const BROKEN: &str =
    r#"{"type":"Polygon","coordinates":[[[99.1,25.1],[99.2,25.1],[99.2,95.2],[99.1,25.1]]]}"#;

fn collection(features: &[(&str, &str)]) -> String {
    let fs: Vec<String> = features
        .iter()
        .map(|(c, g)| {
            format!(
                r#"{{"type":"Feature","properties":{{"code":"{c}","name":"某地"}},"geometry":{g}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        fs.join(",")
    )
}

#[test]
fn import_areas_reports_updated_unknown_and_rejected() {
    let (dir, url) = site("report");
    let file = dir.join("areas.geojson");
    std::fs::write(
        &file,
        collection(&[("A-1-1", GOOD), ("NO-SUCH-AREA", GOOD), ("A-1", BROKEN)]),
    )
    .unwrap();
    let out = minyi(&[
        "import",
        "areas",
        file.to_str().unwrap(),
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}\n{text}", stderr(&out));
    assert!(
        text.contains("3 features; updated 1 area boundaries"),
        "{text}"
    );
    assert!(
        text.contains("unknown area codes (1, skipped): NO-SUCH-AREA"),
        "{text}"
    );
    let rejected = text
        .lines()
        .find(|l| l.contains("features[2]"))
        .unwrap_or_else(|| panic!("no rejected line in:\n{text}"));
    assert!(
        rejected.contains("A-1") && rejected.contains("polygon 1, ring 1, point 3: latitude 95.2"),
        "{rejected}"
    );
    // What the report says is what the store holds.
    let stored = block_on(async {
        let store = Store::open(&url).await.unwrap();
        let areas = store.areas().await.unwrap();
        let g = store.area_geometries().await.unwrap();
        store.close().await;
        g.into_iter()
            .map(|(id, text)| {
                let a = areas.iter().find(|a| a.id == id).unwrap();
                (a.code.to_string(), Geometry::parse_geojson(&text).unwrap())
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(
        stored,
        vec![("A-1-1".to_owned(), Geometry::parse_geojson(GOOD).unwrap())]
    );

    // Nothing valid: the same kind of report, then a failing exit.
    std::fs::write(
        &file,
        collection(&[("NO-SUCH-AREA", GOOD), ("A-1", BROKEN)]),
    )
    .unwrap();
    let out = minyi(&[
        "import",
        "areas",
        file.to_str().unwrap(),
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(stdout(&out).contains("features[1]"), "{}", stdout(&out));
    one_line_error(&out, &["nothing was imported"]);

    // Not GeoJSON: one line naming the file.
    std::fs::write(&file, "<kml></kml>").unwrap();
    let out = minyi(&[
        "import",
        "areas",
        file.to_str().unwrap(),
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    one_line_error(&out, &["areas.geojson", "not JSON"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_of_a_missing_file_is_one_clear_line() {
    let (dir, _) = site("missing");
    let out = minyi(&[
        "import",
        "areas",
        "missing.json",
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    one_line_error(&out, &["cannot read missing.json"]);
    // A data directory without a store is refused, not created.
    let empty = scratch("import-empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("a.geojson"), collection(&[("A-1-1", GOOD)])).unwrap();
    let out = minyi(&[
        "import",
        "areas",
        empty.join("a.geojson").to_str().unwrap(),
        "--data-dir",
        empty.to_str().unwrap(),
    ]);
    one_line_error(&out, &["no minyi database"]);
    assert!(!empty.join("minyi.db").exists());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}
