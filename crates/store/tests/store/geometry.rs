//! Stories for schema 3: area boundaries, each run on SQLite and (when configured)
//! PostgreSQL like the main suite.

use minyi_core::Code;
use minyi_core::geo::Geometry;
use minyi_core::org::{AreaKind, NewArea, NewUnit, UnitKind};
use minyi_store::testing::TestDb;
use minyi_store::{Store, StoreError};

conformance!(
    geometry:
    area_geometry_round_trips_and_survives_reopening,
    bad_geometry_batch_changes_nothing,
);

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

/// A city, a county bureau and a station; a county area with a township and two
/// villages. Returns the area ids in that order.
async fn areas(store: &Store) -> Vec<i64> {
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
            unit("C", UnitKind::CityBureau, None),
            unit("C-1", UnitKind::CountyBureau, Some("C")),
            unit("C-1-S1", UnitKind::Station, Some("C-1")),
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
            area("A-1", AreaKind::Township, Some("A"), Some("C-1-S1")),
            area("A-1-1", AreaKind::Village, Some("A-1"), Some("C-1-S1")),
            area("A-1-2", AreaKind::Village, Some("A-1"), Some("C-1-S1")),
        ])
        .await
        .unwrap()
}

fn square(x: f64, y: f64) -> String {
    format!(
        r#"{{"type":"Polygon","coordinates":[[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]]}}"#,
        x + 0.1,
        x + 0.1,
        y + 0.1,
        y + 0.1
    )
}

pub async fn area_geometry_round_trips_and_survives_reopening(store: &Store, db: &TestDb) {
    let ids = areas(store).await;
    assert!(store.area_geometries().await.unwrap().is_empty());
    let v1 = Geometry::parse_geojson(&square(99.0, 25.0)).unwrap();
    let v2 = Geometry::parse_geojson(&square(99.1, 25.0)).unwrap();
    let township = Geometry::merge([&v1, &v2]).unwrap();
    let n = store
        .set_area_geometry(&[
            (ids[2], v1.to_geojson()),
            (ids[3], v2.to_geojson()),
            (ids[1], township.to_geojson()),
        ])
        .await
        .unwrap();
    assert_eq!(n, 3);
    let again = Store::open(&db.url).await.unwrap();
    let stored = again.area_geometries().await.unwrap();
    assert_eq!(
        stored.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![ids[1], ids[2], ids[3]],
        "ordered by id, only areas with a boundary"
    );
    let back: Vec<Geometry> = stored
        .iter()
        .map(|(_, g)| Geometry::parse_geojson(g).unwrap())
        .collect();
    assert_eq!(back, vec![township, v1.clone(), v2]);
    // Setting again replaces; an open ring is stored closed.
    let open = r#"{"type":"Polygon","coordinates":[[[99,25],[99.2,25],[99.2,25.2],[99,25.2]]]}"#;
    assert_eq!(
        again
            .set_area_geometry(&[(ids[2], open.to_owned())])
            .await
            .unwrap(),
        1
    );
    let stored = again.area_geometries().await.unwrap();
    let g = Geometry::parse_geojson(&stored[1].1).unwrap();
    assert_eq!(g.polygons[0][0].len(), 5);
    assert_ne!(g, v1);
    // Other columns of the area are untouched.
    let village = again
        .areas()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.id == ids[2])
        .unwrap();
    assert_eq!(village.code.as_str(), "A-1-1");
    assert_eq!(village.population, 100);
    again.close().await;
}

pub async fn bad_geometry_batch_changes_nothing(store: &Store, _db: &TestDb) {
    let ids = areas(store).await;
    store
        .set_area_geometry(&[(ids[2], square(99.0, 25.0))])
        .await
        .unwrap();
    let before = store.area_geometries().await.unwrap();
    // An unknown area id after a good item: the good item is not written either.
    let err = store
        .set_area_geometry(&[
            (ids[3], square(99.1, 25.0)),
            (9_999_999, square(99.2, 25.0)),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("9999999"), "{err}");
    assert_eq!(store.area_geometries().await.unwrap(), before);
    // An invalid geometry is refused before anything is written, naming the area.
    let bad = r#"{"type":"Polygon","coordinates":[[[99,25],[99.1,25],[99.1,95.2],[99,25]]]}"#;
    let err = store
        .set_area_geometry(&[(ids[3], square(99.1, 25.0)), (ids[1], bad.to_owned())])
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("area id {}", ids[1])) && text.contains("latitude 95.2"),
        "{text}"
    );
    let err = store
        .set_area_geometry(&[(ids[1], "not json".to_owned())])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    assert_eq!(store.area_geometries().await.unwrap(), before);
    // Nothing to do is not an error.
    assert_eq!(store.set_area_geometry(&[]).await.unwrap(), 0);
}
