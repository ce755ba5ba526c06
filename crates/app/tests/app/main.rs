//! Use cases against a real store, on SQLite and (when configured) PostgreSQL.

use minyi_app::{App, Config};
use minyi_demo::Volumes;
use minyi_store::testing::TestDb;

mod analysis;
mod assess;
mod briefings;
mod callbacks;
mod dashboard;
mod handling;
mod merge;
mod records;
mod surveys;

fn small() -> Volumes {
    Volumes {
        opinions: 1500,
        ratings: 3000,
        incidents: 800,
        cases: 200,
        permits: 300,
    }
}

async fn app_for(db: &TestDb) -> App {
    // The test database's own directory (SQLite); PostgreSQL tests write only a probe file.
    let dir = db
        .dir()
        .map(|d| d.join("data"))
        .unwrap_or_else(std::env::temp_dir);
    let mut config = Config::defaults(dir);
    config.database_url = Some(db.url.clone());
    App::open(config).await.expect("open app")
}

async fn demo_story(db: TestDb) {
    let app = app_for(&db).await;
    let steps = std::sync::Mutex::new(Vec::new());
    let report = minyi_app::demo::load(&app, 5, small(), &|s| {
        steps.lock().unwrap().push(s.to_owned())
    })
    .await
    .unwrap();
    let c = &report.counts;
    assert_eq!(
        (
            c.areas,
            c.opinions,
            c.ratings,
            c.incidents,
            c.cases,
            c.permits
        ),
        (948, 1500, 3000, 800, 200, 300)
    );
    assert!(c.events > c.opinions * 4, "histories were written: {c:?}");
    assert!(c.non_police_incidents * 100 > c.incidents * 40);
    assert_eq!(c.synthetic_units, c.units);
    assert!(steps.lock().unwrap().len() >= 4);
    assert_eq!(
        app.store
            .meta_get("synthetic_demo")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );

    // Every stored opinion's state matches the last event of its history.
    let units = app.store.units().await.unwrap();
    let mut checked = 0;
    for station in units
        .iter()
        .filter(|u| u.kind == minyi_core::org::UnitKind::Station)
        .take(10)
    {
        for o in app.store.opinions_of_unit(station.id, 5).await.unwrap() {
            let events = app
                .store
                .events_of(minyi_core::event::SubjectKind::Opinion, o.id)
                .await
                .unwrap();
            assert_eq!(
                events.last().and_then(|e| e.to_state.clone()).as_deref(),
                Some(o.state.code()),
                "{o:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} opinions checked");

    // The overview sums opinions up the tree: the city holds them all.
    let ov = minyi_app::overview::overview(&app, chrono::Utc::now(), 2)
        .await
        .unwrap();
    assert!(ov.synthetic);
    assert_eq!(ov.tree[0].unit.code.as_str(), "BS");
    assert_eq!(ov.tree[0].opinions, 1500);
    assert!(ov.tree.iter().all(|n| n.depth <= 2));
    assert_eq!(
        ov.tree
            .iter()
            .filter(|n| n.unit.kind == minyi_core::org::UnitKind::Station)
            .count(),
        72
    );

    // A second demo into the same store is refused and adds nothing.
    let err = minyi_app::demo::load(&app, 6, small(), &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("already has units"), "{err}");
    assert_eq!(app.store.counts().await.unwrap().opinions, 1500);

    // An interrupted load is named as such.
    app.store.meta_set("demo_state", "loading").await.unwrap();
    let err = minyi_app::demo::load(&app, 6, small(), &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("interrupted"), "{err}");
    app.store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_loads_once_sqlite() {
    demo_story(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_loads_once_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    demo_story(db).await;
}

#[test]
fn data_dir_that_is_a_file_is_refused() {
    let path = std::env::temp_dir().join(format!("minyi-not-a-dir-{}", std::process::id()));
    std::fs::write(&path, b"x").unwrap();
    let err = minyi_app::prepare_data_dir(&path).unwrap_err().to_string();
    assert!(
        err.contains("not a directory") && err.contains(&path.display().to_string()),
        "{err}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn bad_calendar_file_names_the_file() {
    let path = std::env::temp_dir().join(format!("minyi-bad-cal-{}.toml", std::process::id()));
    std::fs::write(&path, "this is = not [ a calendar").unwrap();
    let err = minyi_app::load_calendar(Some(&path))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    std::fs::remove_file(&path).unwrap();
    assert!(minyi_app::load_calendar(None).is_ok());
}
