//! Dashboards on the small demo city: levels add up, scopes cut, liaisons see routing.

use chrono::{DateTime, TimeZone, Utc};
use minyi_app::auth::Principal;
use minyi_app::dashboard::{Dashboard, dashboard};
use minyi_app::{App, AppError};
use minyi_core::access::{Role, Scope};
use minyi_core::org::UnitKind;
use minyi_store::testing::TestDb;

/// Inside the demo's fixed period, so the figures do not depend on the day tests run.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 4, 0, 0).unwrap()
}

async fn demo_app(db: &TestDb) -> App {
    let app = super::app_for(db).await;
    minyi_app::demo::load(&app, 3, super::small(), &|_| {})
        .await
        .unwrap();
    app
}

/// Every demo account at once (create_accounts makes them only the first time).
async fn principals(app: &App) -> Vec<Principal> {
    let accounts = minyi_app::demo::create_accounts(app, now()).await.unwrap();
    let mut out = Vec::new();
    for a in accounts {
        match minyi_app::auth::sign_in(app, &a.username, &a.password, now())
            .await
            .unwrap()
        {
            Ok(s) => out.push(s.principal),
            Err(refusal) => panic!("{} refused: {refusal:?}", a.username),
        }
    }
    out
}

fn by_name<'a>(ps: &'a [Principal], username: &str) -> &'a Principal {
    ps.iter()
        .find(|p| p.username == username)
        .unwrap_or_else(|| panic!("no principal {username}"))
}

fn series_total(d: &Dashboard) -> i64 {
    d.by_channel.iter().flat_map(|s| s.values.iter()).sum()
}

async fn levels_add_up(db: TestDb) {
    let app = demo_app(&db).await;
    let ps = principals(&app).await;
    let city_p = by_name(&ps, "demo_city");
    let city = dashboard(&app, city_p, "BS", now()).await.unwrap();
    assert_eq!(city.months.len(), 12);
    assert_eq!(city.months.last().map(String::as_str), Some("2026-11"));
    assert!(city.synthetic && !city.by_department);
    let opinions: i64 = city.children.iter().map(|c| c.opinions).sum();
    assert!(
        opinions > 1000,
        "the period holds most of the demo: {opinions}"
    );
    // The demo routes every matter to a station, a county or (beside its station) a
    // department, never to the city itself: the city is exactly the sum of its children.
    assert_eq!(series_total(&city), opinions);
    let cat_total: i64 = city.by_category.iter().flat_map(|s| s.values.iter()).sum();
    assert_eq!(cat_total, opinions);
    let sum = |f: fn(&minyi_app::dashboard::ChildSummary) -> i64| -> i64 {
        city.children.iter().map(f).sum()
    };
    assert_eq!(city.open, sum(|c| c.open));
    assert_eq!(city.overdue, sum(|c| c.overdue));
    assert_eq!(city.answered, sum(|c| c.answered));
    assert_eq!(city.answered_on_time, sum(|c| c.answered_on_time));
    let verdicts: i64 = city.verdicts.iter().map(|(_, n)| n).sum();
    assert_eq!(verdicts, sum(|c| c.verdicts_total));
    assert!(city.answered > 0 && city.answered_on_time <= city.answered);
    assert!(city.open > 0 && city.overdue <= city.open && city.due_soon <= city.open);
    assert!(city.ratings.total > 0);
    assert_eq!(
        city.ratings.by_level.iter().map(|(_, n)| n).sum::<i64>(),
        city.ratings.total
    );
    assert_eq!(
        city.children
            .iter()
            .filter(|c| c.unit.kind == UnitKind::CountyBureau)
            .count(),
        5
    );

    // One level down: a county's own dashboard equals its row on the city's, and its
    // stations add up to it less what the county handles itself.
    let county_p = by_name(&ps, "demo_county");
    let county_row = city
        .children
        .iter()
        .find(|c| c.unit.id == county_p.unit_id)
        .expect("the demo county is a child of the city");
    let county = dashboard(&app, county_p, county_row.unit.code.as_str(), now())
        .await
        .unwrap();
    assert_eq!(series_total(&county), county_row.opinions);
    assert_eq!(county.open, county_row.open);
    assert_eq!(county.overdue, county_row.overdue);
    assert_eq!(county.answered, county_row.answered);
    // The city analyst sees the same county figures as the county analyst.
    let same = dashboard(&app, city_p, county_row.unit.code.as_str(), now())
        .await
        .unwrap();
    assert_eq!(same.open, county.open);
    assert_eq!(same.by_channel, county.by_channel);
    assert!(
        county
            .children
            .iter()
            .any(|c| c.unit.kind == UnitKind::Station && c.opinions > 0)
    );
    let stations: i64 = county.children.iter().map(|c| c.opinions).sum();
    assert!(stations <= county_row.opinions);
    app.store.close().await;
    db.drop_db().await;
}

async fn scopes_cut(db: TestDb) {
    let app = demo_app(&db).await;
    let ps = principals(&app).await;
    let station_p = by_name(&ps, "demo_station");
    let units = app.store.units().await.unwrap();
    let own = units.iter().find(|u| u.id == station_p.unit_id).unwrap();
    let county_id = own.parent_id.unwrap();
    let other_station = units
        .iter()
        .find(|u| {
            u.kind == UnitKind::Station
                && u.parent_id
                    .and_then(|p| units.iter().find(|c| c.id == p))
                    .is_some_and(|c| c.id != county_id)
        })
        .expect("a station of another county");
    let county = units.iter().find(|u| u.id == county_id).unwrap();
    for code in [
        other_station.code.as_str(),
        county.code.as_str(),
        "BS",
        "NO-SUCH",
    ] {
        let r = dashboard(&app, station_p, code, now()).await;
        assert!(
            matches!(r, Err(AppError::NotFound)),
            "{code}: {:?}",
            r.err()
        );
    }
    let mine = dashboard(&app, station_p, own.code.as_str(), now())
        .await
        .unwrap();
    assert_eq!(mine.unit.id, own.id);
    assert!(series_total(&mine) > 0);
    // Its children are its windows (and teams), all inside its own subtree.
    assert!(
        mine.children
            .iter()
            .all(|c| c.unit.parent_id == Some(own.id))
    );
    // The survey agency holds no ViewOpinions at all.
    let survey = by_name(&ps, "demo_survey");
    assert!(matches!(
        dashboard(&app, survey, "BS", now()).await,
        Err(AppError::Forbidden)
    ));
    app.store.close().await;
    db.drop_db().await;
}

async fn liaison_counts_routing(db: TestDb) {
    let app = demo_app(&db).await;
    let ps = principals(&app).await;
    let liaison = by_name(&ps, "demo_liaison");
    let units = app.store.units().await.unwrap();
    let dept = units.iter().find(|u| u.id == liaison.unit_id).unwrap();
    assert_eq!(dept.kind, UnitKind::Department);
    let d = dashboard(&app, liaison, dept.code.as_str(), now())
        .await
        .unwrap();
    assert!(d.by_department);
    // By hand: the opinions routed to this department.
    let routed = app
        .store
        .opinions_of_department(dept.id, 1_000_000)
        .await
        .unwrap();
    assert!(!routed.is_empty(), "the demo routes matters to departments");
    let in_period = routed
        .iter()
        .filter(|o| o.received_at >= d.period_from && o.received_at < d.period_to)
        .count() as i64;
    let open = routed.iter().filter(|o| o.state.is_open()).count() as i64;
    let overdue = routed
        .iter()
        .filter(|o| o.state.is_open() && o.due_at.is_some_and(|t| t < now()))
        .count() as i64;
    assert_eq!(series_total(&d), in_period);
    assert_eq!((d.open, d.overdue), (open, overdue));
    // Through the unit tree the department handles nothing itself: the same unit seen by
    // the city analyst (who counts handling units) is empty.
    let city_p = by_name(&ps, "demo_city");
    let as_unit = dashboard(&app, city_p, dept.code.as_str(), now())
        .await
        .unwrap();
    assert!(!as_unit.by_department);
    assert_eq!((series_total(&as_unit), as_unit.open), (0, 0));
    // And the liaison sees nothing outside the department.
    assert!(matches!(
        dashboard(&app, liaison, "BS", now()).await,
        Err(AppError::NotFound)
    ));
    app.store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_levels_add_up_sqlite() {
    levels_add_up(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_levels_add_up_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    levels_add_up(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_station_sees_only_its_subtree_sqlite() {
    scopes_cut(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_liaison_counts_department_routing_sqlite() {
    liaison_counts_routing(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_liaison_counts_department_routing_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    liaison_counts_routing(db).await;
}

/// Not a test of speed (nothing asserts on time): prints how long the function takes on
/// the full demo city at DATA_DIR, e.g.
/// `MINYI_DASHBOARD_DATA_DIR=/tmp/h6demo cargo test --release -p minyi-app --test app dashboard_timing -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn dashboard_timing() {
    let Ok(dir) = std::env::var("MINYI_DASHBOARD_DATA_DIR") else {
        eprintln!("set MINYI_DASHBOARD_DATA_DIR to a demo data directory");
        return;
    };
    let app = App::open(minyi_app::Config::defaults(dir.into()))
        .await
        .unwrap();
    let units = app.store.units().await.unwrap();
    let tree: Vec<(i64, Option<i64>)> = units.iter().map(|u| (u.id, u.parent_id)).collect();
    let first = |kind: UnitKind| units.iter().find(|u| u.kind == kind).unwrap();
    let county = first(UnitKind::CountyBureau);
    let station = units
        .iter()
        .find(|u| u.kind == UnitKind::Station && u.parent_id == Some(county.id))
        .unwrap();
    let now = Utc::now();
    let plan = [
        (Role::CityAnalyst, first(UnitKind::CityBureau)),
        (Role::CountyAnalyst, county),
        (Role::StationStaff, station),
        (Role::DepartmentLiaison, first(UnitKind::Department)),
    ];
    for (role, unit) in plan {
        // Built directly: the accounts of a served demo have passwords we do not know.
        let p = Principal {
            account_id: 0,
            username: "timing".into(),
            display_name: "timing".into(),
            role,
            unit_id: unit.id,
            unit_name: unit.name.clone(),
            unit_code: unit.code.to_string(),
            scope: std::sync::Arc::new(Scope::subtree(unit.id, &tree)),
            scope_is_city: unit.parent_id.is_none(),
            must_change_password: false,
        };
        let (name, code) = (role.code(), unit.code.to_string());
        let p = &p;
        let mut times = Vec::new();
        for _ in 0..22 {
            let t = std::time::Instant::now();
            let d = dashboard(&app, p, &code, now).await.unwrap();
            std::hint::black_box(&d);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let mut times = times.split_off(2);
        times.sort_by(f64::total_cmp);
        println!(
            "{name:<14} {code:<12} p50 {:.1} ms  p95 {:.1} ms  max {:.1} ms",
            times[times.len() / 2],
            times[times.len() * 95 / 100],
            times[times.len() - 1]
        );
    }
}
