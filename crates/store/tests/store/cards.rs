//! Stories for schema 6: counting QR scans of contact cards per target and day, and
//! summing them per station, on SQLite and (when configured) PostgreSQL.

use minyi_core::Code;
use minyi_core::org::{AreaKind, NewArea, NewUnit, UnitKind};
use minyi_store::testing::TestDb;
use minyi_store::{ScanCount, ScanTarget, StationScans, Store};

conformance!(
    cards:
    scans_add_up_per_target_and_day,
    concurrent_scans_are_all_counted,
);

const DAY: i64 = 86_400_000;

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

fn unit(c: &str, kind: UnitKind, parent: Option<&str>) -> NewUnit {
    NewUnit {
        code: code(c),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(code),
        window: None,
        department: None,
        synthetic: true,
    }
}

fn area(c: &str, kind: AreaKind, parent: Option<&str>, station: Option<&str>) -> NewArea {
    NewArea {
        code: code(c),
        kind,
        name: format!("地区{c}"),
        parent: parent.map(code),
        station: station.map(code),
        population: 100,
        centre: None,
        synthetic: true,
    }
}

/// Two stations; the first is responsible for a township and a village in it.
async fn city(store: &Store) -> (i64, i64, i64, i64) {
    store
        .insert_units(&[
            unit("Q", UnitKind::CityBureau, None),
            unit("Q-1", UnitKind::CountyBureau, Some("Q")),
            unit("Q-1-S1", UnitKind::Station, Some("Q-1")),
            unit("Q-1-S2", UnitKind::Station, Some("Q-1")),
        ])
        .await
        .unwrap();
    store
        .insert_areas(&[
            area("QA", AreaKind::County, None, None),
            area("QA-1", AreaKind::Township, Some("QA"), Some("Q-1-S1")),
            area("QA-1-1", AreaKind::Village, Some("QA-1"), Some("Q-1-S1")),
            area("QA-2", AreaKind::Township, Some("QA"), Some("Q-1-S2")),
        ])
        .await
        .unwrap();
    let u = |c: &'static str| async move { store.unit_by_code(c).await.unwrap().unwrap().id };
    let a = |c: &'static str| async move { store.area_by_code(c).await.unwrap().unwrap().id };
    (
        u("Q-1-S1").await,
        u("Q-1-S2").await,
        a("QA-1-1").await,
        a("QA-2").await,
    )
}

pub async fn scans_add_up_per_target_and_day(store: &Store, _db: &TestDb) {
    let (s1, s2, village, other_township) = city(store).await;
    let d0 = 1_775_000_000_000 - 1_775_000_000_000 % DAY;
    // Station 1's own card: twice on day 0, once on day 10; its village: three times on
    // day 10. Station 2's township: once on day 10.
    for day in [d0, d0, d0 + 10 * DAY] {
        store
            .record_qr_scan(ScanTarget::Unit, s1, day)
            .await
            .unwrap();
    }
    for _ in 0..3 {
        store
            .record_qr_scan(ScanTarget::Area, village, d0 + 10 * DAY)
            .await
            .unwrap();
    }
    store
        .record_qr_scan(ScanTarget::Area, other_township, d0 + 10 * DAY)
        .await
        .unwrap();

    let since = d0 + 5 * DAY;
    let got = store.qr_scans_of_station(s1, since).await.unwrap();
    assert_eq!(
        got,
        vec![
            ScanCount {
                target: ScanTarget::Unit,
                target_id: s1,
                recent: 1,
                total: 3
            },
            ScanCount {
                target: ScanTarget::Area,
                target_id: village,
                recent: 3,
                total: 3
            },
        ]
    );
    // Another station's cards are not mixed in; a station never scanned has nothing.
    let got = store.qr_scans_of_station(s2, since).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].target, got[0].total), (ScanTarget::Area, 1));
    assert!(
        store
            .qr_scans_of_station(9_999, since)
            .await
            .unwrap()
            .is_empty()
    );
    // Everything counts when the window starts at the first day.
    let all = store.qr_scans_of_station(s1, d0).await.unwrap();
    assert!(all.iter().all(|c| c.recent == c.total), "{all:?}");

    let by_station = store.qr_scans_by_station(since).await.unwrap();
    assert_eq!(
        by_station,
        vec![
            StationScans {
                station_id: s1,
                recent: 4,
                total: 6
            },
            StationScans {
                station_id: s2,
                recent: 1,
                total: 1
            },
        ]
    );
}

pub async fn concurrent_scans_are_all_counted(store: &Store, _db: &TestDb) {
    let (s1, _, _, _) = city(store).await;
    let day = 1_775_000_000_000 - 1_775_000_000_000 % DAY;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.record_qr_scan(ScanTarget::Unit, s1, day).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let got = store.qr_scans_of_station(s1, day).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].recent, got[0].total), (16, 16));
}
