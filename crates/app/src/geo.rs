//! Area boundaries: importing a GeoJSON FeatureCollection onto existing areas, and the
//! shapes a principal's map may draw.
//!
//! Parsing and checking shapes is `minyi_core::geo`; this module matches features to
//! areas by code, writes the valid ones in one transaction, audits the import, and cuts
//! the map to the principal's scope. It must not create or rename areas: an import only
//! draws areas the organisation tree already has.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use minyi_core::Code;
use minyi_core::access::{Permission, Scope};
use minyi_core::geo::{Geometry, parse_feature_collection};
use minyi_core::org::AreaKind;

use crate::auth::Principal;
use crate::{App, AppError, Result};

/// A feature that was not imported, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RejectedFeature {
    /// Position in the file's `features` array, from 0.
    pub index: usize,
    /// The area code the feature named, if it named one.
    pub code: Option<String>,
    pub reason: String,
}

/// What an import did. Unknown codes and rejected features are reported, not fatal.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImportReport {
    /// Features in the file.
    pub features: usize,
    /// Areas whose boundary was written.
    pub updated: u64,
    /// Codes that name no area, in file order, each once.
    pub unknown_codes: Vec<String>,
    pub rejected: Vec<RejectedFeature>,
}

/// Imports boundaries from a GeoJSON FeatureCollection whose features carry
/// `properties.code` (or `properties.area_code`) naming existing areas. Every valid
/// feature is written in one transaction; a file that is not a FeatureCollection is
/// `Invalid`. The import is audited as `actor` whatever it found.
pub async fn import_areas_geojson(
    app: &App,
    text: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let features = parse_feature_collection(text).map_err(|e| AppError::Invalid(e.to_string()))?;
    let areas: HashMap<String, i64> = app
        .store
        .areas()
        .await?
        .into_iter()
        .map(|a| (a.code.to_string(), a.id))
        .collect();
    let mut report = ImportReport {
        features: features.len(),
        updated: 0,
        unknown_codes: Vec::new(),
        rejected: Vec::new(),
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut unknown: HashSet<String> = HashSet::new();
    let mut items: Vec<(i64, String)> = Vec::new();
    for f in features {
        let reject = |reason: String| RejectedFeature {
            index: f.index,
            code: f.code.clone(),
            reason,
        };
        let Some(code) = f.code.as_deref() else {
            report.rejected.push(reject(
                "no area code (properties.code or properties.area_code)".into(),
            ));
            continue;
        };
        if let Err(e) = Code::parse(code) {
            report.rejected.push(reject(e.to_string()));
            continue;
        }
        let Some(&area_id) = areas.get(code) else {
            if unknown.insert(code.to_owned()) {
                report.unknown_codes.push(code.to_owned());
            }
            continue;
        };
        if let Some(first) = seen.get(code) {
            report.rejected.push(reject(format!(
                "area {code} already has a boundary in features[{first}]"
            )));
            continue;
        }
        match &f.geometry {
            Ok(g) => {
                seen.insert(code.to_owned(), f.index);
                items.push((area_id, g.to_geojson()));
            }
            Err(e) => report.rejected.push(reject(e.to_string())),
        }
    }
    report.updated = app.store.set_area_geometry(&items).await?;
    crate::audit::record(
        app,
        now,
        actor,
        crate::audit::AuditAction::Import,
        "areas",
        &format!(
            "area boundaries (GeoJSON): {} features, {} areas updated, {} unknown codes, {} rejected",
            report.features,
            report.updated,
            report.unknown_codes.len(),
            report.rejected.len()
        ),
    )
    .await?;
    Ok(report)
}

/// An area the map may draw.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AreaShape {
    pub id: i64,
    pub code: Code,
    pub kind: AreaKind,
    pub name: String,
    pub parent_id: Option<i64>,
    pub station_id: Option<i64>,
    /// Residents, for rates per 10,000.
    pub population: i64,
    pub synthetic: bool,
    pub geometry: Geometry,
}

/// The areas with a boundary under `unit_code`, cut to the principal's scope, ordered by
/// code: those whose responsible station lies in the unit's subtree and in the scope,
/// and the station-less areas (counties) above any of them, since a county outline says
/// nothing a township inside it does not. A unit outside the scope is `NotFound`.
pub async fn map_shapes(app: &App, p: &Principal, unit_code: &str) -> Result<Vec<AreaShape>> {
    p.require(Permission::ViewOpinions)?;
    let unit = app
        .store
        .unit_by_code(unit_code.trim())
        .await?
        .ok_or(AppError::NotFound)?;
    if !p.scope.contains(unit.id) {
        return Err(AppError::NotFound);
    }
    let sub = Scope::subtree(unit.id, &app.store.unit_tree().await?);
    let areas = app.store.areas().await?;
    let by_id: HashMap<i64, usize> = areas.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
    let mut shown: HashSet<i64> = areas
        .iter()
        .filter(|a| {
            a.station_id
                .is_some_and(|s| sub.contains(s) && p.scope.contains(s))
        })
        .map(|a| a.id)
        .collect();
    // Station-less ancestors of what is shown; the walk is bounded by the tree's size so
    // a damaged parent chain cannot loop.
    let starts: Vec<i64> = shown.iter().copied().collect();
    for id in starts {
        let mut at = by_id.get(&id).and_then(|&i| areas[i].parent_id);
        for _ in 0..areas.len() {
            let Some(pid) = at else { break };
            let Some(&i) = by_id.get(&pid) else { break };
            if areas[i].station_id.is_none() {
                shown.insert(pid);
            }
            at = areas[i].parent_id;
        }
    }
    let geometries: HashMap<i64, String> = app.store.area_geometries().await?.into_iter().collect();
    let mut out = Vec::new();
    for a in areas.into_iter().filter(|a| shown.contains(&a.id)) {
        let Some(text) = geometries.get(&a.id) else {
            continue;
        };
        // The store checks boundaries on the way in, so this is damage, not input.
        let geometry = Geometry::parse_geojson(text).map_err(|e| {
            AppError::Store(minyi_store::StoreError::Corrupt(format!(
                "boundary of area {}: {e}",
                a.code
            )))
        })?;
        out.push(AreaShape {
            id: a.id,
            code: a.code,
            kind: a.kind,
            name: a.name,
            parent_id: a.parent_id,
            station_id: a.station_id,
            population: a.population,
            synthetic: a.synthetic,
            geometry,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use minyi_core::access::Role;
    use minyi_core::org::{NewArea, NewUnit, UnitKind};
    use minyi_store::testing::TestDb;
    use std::sync::Arc;

    fn code(s: &str) -> Code {
        Code::parse(s).unwrap()
    }

    /// City → county bureau → two stations; county area A with townships A-1 (station
    /// S1) and A-2 (S2), each with one village.
    async fn app_with_areas(db: &TestDb) -> App {
        let dir = db
            .dir()
            .map(|d| d.join("data"))
            .unwrap_or_else(std::env::temp_dir);
        let mut config = Config::defaults(dir);
        config.database_url = Some(db.url.clone());
        let app = App::open(config).await.unwrap();
        let unit = |c: &str, kind, parent: Option<&str>| NewUnit {
            code: code(c),
            kind,
            name: format!("单位{c}"),
            parent: parent.map(code),
            window: None,
            department: None,
            synthetic: true,
        };
        app.store
            .insert_units(&[
                unit("C", UnitKind::CityBureau, None),
                unit("C-1", UnitKind::CountyBureau, Some("C")),
                unit("S1", UnitKind::Station, Some("C-1")),
                unit("S2", UnitKind::Station, Some("C-1")),
            ])
            .await
            .unwrap();
        let area = |c: &str, kind, parent: Option<&str>, station: Option<&str>| NewArea {
            code: code(c),
            kind,
            name: format!("区域{c}"),
            parent: parent.map(code),
            station: station.map(code),
            population: 500,
            centre: None,
            synthetic: true,
        };
        app.store
            .insert_areas(&[
                area("A", AreaKind::County, None, None),
                area("A-1", AreaKind::Township, Some("A"), Some("S1")),
                area("A-2", AreaKind::Township, Some("A"), Some("S2")),
                area("A-1-1", AreaKind::Village, Some("A-1"), Some("S1")),
                area("A-2-1", AreaKind::Village, Some("A-2"), Some("S2")),
            ])
            .await
            .unwrap();
        app
    }

    fn feature(code_prop: &str, geometry: &str) -> String {
        format!(r#"{{"type":"Feature","properties":{{{code_prop}}},"geometry":{geometry}}}"#)
    }

    fn square(x: f64) -> String {
        format!(
            r#"{{"type":"Polygon","coordinates":[[[{x},25],[{},25],[{},25.1],[{x},25.1],[{x},25]]]}}"#,
            x + 0.1,
            x + 0.1
        )
    }

    async fn principal(app: &App, unit: &str) -> Principal {
        let u = app.store.unit_by_code(unit).await.unwrap().unwrap();
        let tree = app.store.unit_tree().await.unwrap();
        Principal {
            account_id: 1,
            username: "t".into(),
            display_name: "t".into(),
            role: Role::StationStaff,
            unit_id: u.id,
            unit_name: u.name,
            unit_code: u.code.to_string(),
            scope: Arc::new(Scope::subtree(u.id, &tree)),
            scope_is_city: unit == "C",
            must_change_password: false,
        }
    }

    async fn import_and_map(db: TestDb) {
        let app = app_with_areas(&db).await;
        let now = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let file = format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            [
                feature(r#""code":"A-1-1""#, &square(99.0)),
                feature(r#""area_code":"A-2-1""#, &square(99.2)),
                feature(r#""code":"ZZ-9""#, &square(99.4)),
                feature(r#""code":"A-1""#, r#"{"type":"Polygon","coordinates":[[[99,25],[99.1,95.2],[99,25.1],[99,25]]]}"#),
                feature(r#""name":"无编码""#, &square(99.6)),
                feature(r#""code":"A-1-1""#, &square(99.8)),
                feature(r#""code":"A""#, r#"{"type":"MultiPolygon","coordinates":[[[[99,25],[99.3,25],[99.3,25.1],[99,25.1],[99,25]]]]}"#),
                feature(r#""code":"ZZ-9""#, &square(99.4)),
            ]
            .join(",")
        );
        let r = import_areas_geojson(&app, &file, "cli", now).await.unwrap();
        assert_eq!((r.features, r.updated), (8, 3), "{r:?}");
        assert_eq!(r.unknown_codes, vec!["ZZ-9".to_owned()]);
        let rejected: Vec<(usize, Option<&str>)> = r
            .rejected
            .iter()
            .map(|x| (x.index, x.code.as_deref()))
            .collect();
        assert_eq!(
            rejected,
            vec![(3, Some("A-1")), (4, None), (5, Some("A-1-1"))]
        );
        assert!(r.rejected[0].reason.contains("latitude 95.2"), "{r:?}");
        assert!(r.rejected[2].reason.contains("features[0]"), "{r:?}");
        let audit = app.store.audit_recent(1).await.unwrap();
        assert_eq!(audit[0].action, "import");
        assert_eq!(audit[0].actor, "cli");
        assert!(
            audit[0].detail.contains("3 areas updated"),
            "{}",
            audit[0].detail
        );

        // Not a FeatureCollection: an error, nothing written.
        let e = import_areas_geojson(&app, &square(99.0), "cli", now)
            .await
            .unwrap_err();
        assert!(
            matches!(e, AppError::Invalid(_)) && e.to_string().contains("FeatureCollection"),
            "{e}"
        );

        let codes = |v: Vec<AreaShape>| {
            v.into_iter()
                .map(|s| s.code.to_string())
                .collect::<Vec<_>>()
        };
        let city = principal(&app, "C").await;
        assert_eq!(
            codes(map_shapes(&app, &city, "C").await.unwrap()),
            ["A", "A-1-1", "A-2-1"]
        );
        assert_eq!(
            codes(map_shapes(&app, &city, "S2").await.unwrap()),
            ["A", "A-2-1"]
        );
        let s1 = principal(&app, "S1").await;
        let mine = map_shapes(&app, &s1, "S1").await.unwrap();
        assert_eq!(
            mine[1].geometry,
            Geometry::parse_geojson(&square(99.0)).unwrap()
        );
        assert_eq!(codes(mine), ["A", "A-1-1"]);
        // Another station, the county above, or an unknown unit: all simply not found.
        for other in ["S2", "C-1", "nope"] {
            assert!(
                matches!(map_shapes(&app, &s1, other).await, Err(AppError::NotFound)),
                "{other}"
            );
        }
        app.store.close().await;
        db.drop_db().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn import_and_map_sqlite() {
        import_and_map(TestDb::sqlite()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn import_and_map_postgres() {
        if let Some(db) = TestDb::postgres().await {
            import_and_map(db).await;
        }
    }
}
