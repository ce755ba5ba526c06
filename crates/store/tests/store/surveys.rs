//! Survey waves: codes are unique, an allocation is replaced whole, interviews are stored
//! once per wave and external id (an agency's re-import adds nothing), and a station's
//! population is counted over its leaf areas only.

use chrono::{TimeZone, Utc};
use minyi_core::Code;
use minyi_core::org::{AreaKind, NewArea, NewUnit, UnitKind};
use minyi_store::testing::TestDb;
use minyi_store::{AllocationRow, NewResponse, NewWave, Store};

conformance!(
    surveys:
    wave_codes_are_unique_and_round_trip,
    interviews_are_stored_once_per_wave,
    allocation_is_replaced_whole_and_population_counts_leaves,
);

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

async fn two_stations(store: &Store) -> (i64, i64) {
    let unit = |c: &str, kind, parent: Option<&str>| NewUnit {
        code: code(c),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(code),
        window: None,
        department: None,
        synthetic: false,
    };
    let ids = store
        .insert_units(&[
            unit("Q", UnitKind::CityBureau, None),
            unit("Q-1", UnitKind::CountyBureau, Some("Q")),
            unit("Q-1-S1", UnitKind::Station, Some("Q-1")),
            unit("Q-1-S2", UnitKind::Station, Some("Q-1")),
        ])
        .await
        .unwrap();
    (ids[2], ids[3])
}

fn wave(c: &str) -> NewWave {
    NewWave {
        code: c.into(),
        name: "2026年第三季度测评".into(),
        period: "2026-Q3".into(),
        state: "draft".into(),
        config: "{\"level\":0.95}".into(),
        margins: None,
        created_at: Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap(),
        synthetic: false,
    }
}

fn response(station: i64, ext: &str, security: &str) -> NewResponse {
    NewResponse {
        external_id: ext.into(),
        station_id: station,
        area_id: None,
        interviewer: "IV-07".into(),
        mode: "cati".into(),
        age_band: "30-44".into(),
        sex: "f".into(),
        security: security.into(),
        satisfaction: "dont_know".into(),
        chief: "named".into(),
        opinion_id: None,
        interviewed_at: Utc.with_ymd_and_hms(2026, 7, 3, 2, 0, 0).unwrap(),
        entered_at: Utc.with_ymd_and_hms(2026, 7, 4, 2, 0, 0).unwrap(),
        synthetic: false,
    }
}

pub async fn wave_codes_are_unique_and_round_trip(store: &Store, _db: &TestDb) {
    let id = store.insert_wave(&wave("W26Q3")).await.unwrap().unwrap();
    assert_eq!(store.insert_wave(&wave("W26Q3")).await.unwrap(), None);
    let mut w = wave("W26Q4");
    w.margins = Some("{\"age\":{}}".into());
    w.created_at = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
    store.insert_wave(&w).await.unwrap().unwrap();
    let all = store.waves().await.unwrap();
    assert_eq!(
        all.iter().map(|w| w.code.as_str()).collect::<Vec<_>>(),
        vec!["W26Q4", "W26Q3"],
        "newest first"
    );
    let got = store.wave_by_code("W26Q3").await.unwrap().unwrap();
    assert_eq!(got.id, id);
    assert_eq!(got.name, "2026年第三季度测评");
    assert_eq!(got.config, "{\"level\":0.95}");
    assert_eq!(got.margins, None);
    assert_eq!(got.created_at, wave("x").created_at);
    assert!(store.set_wave_state(id, "fielding").await.unwrap());
    assert_eq!(
        store.wave_by_code("W26Q3").await.unwrap().unwrap().state,
        "fielding"
    );
    assert!(!store.set_wave_state(id + 100, "closed").await.unwrap());
    assert!(store.wave_by_code("nope").await.unwrap().is_none());
}

pub async fn interviews_are_stored_once_per_wave(store: &Store, _db: &TestDb) {
    let (s1, s2) = two_stations(store).await;
    let a = store.insert_wave(&wave("A")).await.unwrap().unwrap();
    let b = store.insert_wave(&wave("B")).await.unwrap().unwrap();
    let batch = [
        response(s1, "R1", "5"),
        response(s2, "R2", "missing"),
        response(s1, "R1", "1"),
    ];
    assert_eq!(
        store.insert_responses(a, &batch).await.unwrap(),
        vec![true, true, false]
    );
    // The agency sends the file again: nothing new, and the first answers stay.
    assert_eq!(
        store.insert_responses(a, &batch[..2]).await.unwrap(),
        vec![false, false]
    );
    // The same id in another wave is another interview.
    assert_eq!(
        store.insert_responses(b, &batch[..1]).await.unwrap(),
        vec![true]
    );
    let rows = store.responses(a).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].response, batch[0]);
    assert_eq!(rows[1].response.security, "missing");
    assert_eq!(store.response_count(a).await.unwrap(), 2);
    assert_eq!(store.response_count(b).await.unwrap(), 1);
    // The bulk path skips what is there and adds the rest.
    let more: Vec<NewResponse> = (0..300)
        .map(|i| response(if i % 2 == 0 { s1 } else { s2 }, &format!("D{i}"), "4"))
        .chain([response(s1, "R1", "2")])
        .collect();
    assert_eq!(store.insert_responses_bulk(a, &more).await.unwrap(), 300);
    assert_eq!(store.response_count(a).await.unwrap(), 302);
}

pub async fn allocation_is_replaced_whole_and_population_counts_leaves(
    store: &Store,
    _db: &TestDb,
) {
    let (s1, s2) = two_stations(store).await;
    let area = |c: &str, kind, parent: Option<&str>, station: Option<&str>, population| NewArea {
        code: code(c),
        kind,
        name: format!("地{c}"),
        parent: parent.map(code),
        station: station.map(code),
        population,
        centre: None,
        synthetic: false,
    };
    store
        .insert_areas(&[
            area("QA", AreaKind::County, None, None, 9000),
            // A township with villages: counted through its villages only.
            area(
                "QA-T1",
                AreaKind::Township,
                Some("QA"),
                Some("Q-1-S1"),
                5000,
            ),
            area(
                "QA-T1-V1",
                AreaKind::Village,
                Some("QA-T1"),
                Some("Q-1-S1"),
                1200,
            ),
            area(
                "QA-T1-V2",
                AreaKind::Village,
                Some("QA-T1"),
                Some("Q-1-S1"),
                800,
            ),
            area(
                "QA-T2",
                AreaKind::Township,
                Some("QA"),
                Some("Q-1-S2"),
                3000,
            ),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.station_populations().await.unwrap(),
        vec![(s1, 2000), (s2, 3000)]
    );
    let w = store.insert_wave(&wave("W")).await.unwrap().unwrap();
    let first = [
        AllocationRow {
            station_id: s1,
            sample_size: 40,
            population: 2000,
        },
        AllocationRow {
            station_id: s2,
            sample_size: 60,
            population: 3000,
        },
    ];
    store.replace_allocation(w, &first).await.unwrap();
    assert_eq!(store.allocation(w).await.unwrap(), first.to_vec());
    let second = [AllocationRow {
        station_id: s2,
        sample_size: 100,
        population: 3000,
    }];
    store.replace_allocation(w, &second).await.unwrap();
    assert_eq!(store.allocation(w).await.unwrap(), second.to_vec());
}
