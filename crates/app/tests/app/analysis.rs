//! Hotspots and trend alerts on a hand-made county: 25 villages on a 5 × 5 grid about
//! 3 km apart, two stations. A planted space-time cluster is found with a small p-value
//! and the tracking codes inside it; uniform data gives no significant cluster; a station
//! whose daily count jumps raises a trend alert, a steady one does not; the same data
//! gives the same report; scope is the county's villages only.

use chrono::{DateTime, Duration, TimeZone, Utc};
use minyi_app::App;
use minyi_app::analysis::{HotspotParams, hotspots};
use minyi_core::Code;
use minyi_core::opinion::{Escalation, NewOpinion, OpinionState, OpinionText, TrackingCode};
use minyi_core::org::{AreaKind, GeoPoint, NewArea, NewUnit, UnitKind};
use minyi_core::taxonomy::{Category, Channel, Sentiment, Urgency};
use minyi_store::testing::TestDb;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

/// Thursday 26 November 2026, 20:00 in Shanghai: the report's "now".
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
}

/// Noon in Shanghai, `days_ago` days before now's day.
fn noon(days_ago: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 4, 0, 0).unwrap() - Duration::days(days_ago)
}

pub(crate) struct County {
    pub app: App,
    /// Area ids of villages V00..V24, row by row; V00–V12 belong to S1, the rest to S2.
    pub villages: Vec<i64>,
    pub s1: i64,
    pub s2: i64,
}

pub(crate) async fn county(db: &TestDb) -> County {
    let app = super::app_for(db).await;
    let unit = |c: &str, kind, parent: Option<&str>| NewUnit {
        code: code(c),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(code),
        window: None,
        department: None,
        synthetic: false,
    };
    app.store
        .insert_units(&[
            unit("H", UnitKind::CityBureau, None),
            unit("H-C", UnitKind::CountyBureau, Some("H")),
            unit("H-C-S1", UnitKind::Station, Some("H-C")),
            unit("H-C-S2", UnitKind::Station, Some("H-C")),
            unit("H-E", UnitKind::CountyBureau, Some("H")),
            unit("H-E-S1", UnitKind::Station, Some("H-E")),
        ])
        .await
        .unwrap();
    let mut areas = vec![
        NewArea {
            code: code("HA"),
            kind: AreaKind::County,
            name: "测试县".into(),
            parent: None,
            station: None,
            population: 0,
            centre: None,
            synthetic: false,
        },
        NewArea {
            code: code("HA-T"),
            kind: AreaKind::Township,
            name: "测试镇".into(),
            parent: Some(code("HA")),
            station: Some(code("H-C-S1")),
            population: 0,
            centre: None,
            synthetic: false,
        },
    ];
    for i in 0..25 {
        areas.push(NewArea {
            code: code(&format!("HA-V{i:02}")),
            kind: AreaKind::Village,
            name: format!("村{i:02}"),
            parent: Some(code("HA-T")),
            station: Some(code(if i < 13 { "H-C-S1" } else { "H-C-S2" })),
            population: 1000,
            centre: Some(GeoPoint {
                lon: 99.0 + 0.03 * (i % 5) as f64,
                lat: 25.0 + 0.03 * (i / 5) as f64,
            }),
            synthetic: false,
        });
    }
    // A village of the other county, next to V00: never part of H-C's report.
    areas.push(NewArea {
        code: code("HA-X"),
        kind: AreaKind::Village,
        name: "邻县村".into(),
        parent: Some(code("HA-T")),
        station: Some(code("H-E-S1")),
        population: 1000,
        centre: Some(GeoPoint {
            lon: 98.99,
            lat: 25.0,
        }),
        synthetic: false,
    });
    let ids = app.store.insert_areas(&areas).await.unwrap();
    let s1 = app.store.unit_by_code("H-C-S1").await.unwrap().unwrap().id;
    let s2 = app.store.unit_by_code("H-C-S2").await.unwrap().unwrap().id;
    County {
        app,
        villages: ids[2..27].to_vec(),
        s1,
        s2,
    }
}

pub(crate) fn opinion(
    n: u64,
    category: Category,
    area_id: i64,
    unit_id: i64,
    at: DateTime<Utc>,
) -> NewOpinion {
    NewOpinion {
        tracking_code: TrackingCode::from_bits(1_000_000 + n),
        client_key: None,
        channel: Channel::Hotline,
        text: OpinionText::parse(&format!("测试意见{n}")).unwrap(),
        category,
        sentiment: Sentiment::Negative,
        urgency: Urgency::Normal,
        department: None,
        area_id: Some(area_id),
        unit_id: Some(unit_id),
        department_id: None,
        state: OpinionState::Received,
        escalation: Escalation::Station,
        key_opinion: false,
        received_at: at,
        due_at: None,
        closed_at: None,
        verdict: None,
        synthetic: false,
    }
}

fn params() -> HotspotParams {
    HotspotParams {
        window_days: 21,
        replications: 199,
        trend_baseline_days: 28,
        max_p_value: 1.0,
        ..HotspotParams::default()
    }
}

async fn hotspots_story(db: TestDb) {
    let c = county(&db).await;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut rows = Vec::new();
    let station = |v: usize| if v < 13 { c.s1 } else { c.s2 };
    // Traffic and public order: 250 cases each, uniform over villages and the 21 days.
    for category in [Category::Traffic, Category::PublicOrder] {
        for _ in 0..250 {
            let v = rng.random_range(0..25);
            let ago = rng.random_range(0..21);
            rows.push((category, v, ago));
        }
    }
    // Planted: 24 more traffic cases in V00, V01 and V05 over the last three days.
    let planted_from = rows.len();
    for k in 0..24 {
        rows.push((Category::Traffic, [0, 1, 5][k % 3], ((k / 3) % 3) as i64));
    }
    let planted_to = rows.len();
    // Fraud: about one case a day at each station for 49 days; S1 jumps to 6 a day over
    // the last 4 days.
    for ago in 0..49 {
        for (v, extra) in [(2usize, ago < 4), (20usize, false)] {
            let n = if extra { 6 } else { rng.random_range(0..3) };
            for _ in 0..n {
                rows.push((Category::Fraud, v, ago));
            }
        }
    }
    let opinions: Vec<NewOpinion> = rows
        .iter()
        .enumerate()
        .map(|(n, &(cat, v, ago))| opinion(n as u64, cat, c.villages[v], station(v), noon(ago)))
        .collect();
    c.app
        .store
        .insert_opinions(&opinions, "test")
        .await
        .unwrap();
    // A case of the other county, in the planted place and time: not H-C's.
    let other = c.app.store.area_by_code("HA-X").await.unwrap().unwrap().id;
    let other_station = c
        .app
        .store
        .unit_by_code("H-E-S1")
        .await
        .unwrap()
        .unwrap()
        .id;
    c.app
        .store
        .insert_opinions(
            &[opinion(
                99_999,
                Category::Traffic,
                other,
                other_station,
                noon(0),
            )],
            "test",
        )
        .await
        .unwrap();

    let r = hotspots(&c.app, "H-C", &params(), now()).await.unwrap();
    assert_eq!((r.villages, r.unplaced), (25, 0));
    assert_eq!(r.last_day.to_string(), "2026-11-26");
    assert_eq!(r.first_day.to_string(), "2026-11-06");
    let traffic = r
        .categories
        .iter()
        .find(|s| s.category == Category::Traffic)
        .unwrap();
    assert_eq!(traffic.cases, 274);
    let top = &traffic.hotspots[0];
    assert!(top.p_value <= 0.01, "{top:?}");
    let names: Vec<&str> = top.villages.iter().map(|v| v.code.as_str()).collect();
    assert!(
        names.contains(&"HA-V00") && names.contains(&"HA-V01"),
        "{names:?}"
    );
    assert!(!names.contains(&"HA-X"));
    assert!(
        top.days <= 7 && top.observed as f64 > 2.5 * top.expected,
        "{top:?}"
    );
    assert_eq!(top.observed as usize, top.opinion_codes.len());
    // Every planted case is inside.
    for n in planted_from..planted_to {
        let code = TrackingCode::from_bits(1_000_000 + n as u64)
            .as_str()
            .to_owned();
        assert!(top.opinion_codes.contains(&code), "{code} missing");
    }
    let order = r
        .categories
        .iter()
        .find(|s| s.category == Category::PublicOrder)
        .unwrap();
    assert_eq!(order.cases, 250);
    assert!(
        order.hotspots.iter().all(|h| h.p_value > 0.05),
        "uniform data gave a significant cluster: {:?}",
        order.hotspots.first()
    );
    // The default cut-off reports the planted cluster and nothing of the uniform data.
    let cut = hotspots(
        &c.app,
        "H-C",
        &HotspotParams {
            max_p_value: 0.05,
            ..params()
        },
        now(),
    )
    .await
    .unwrap();
    assert!(cut.hotspots.iter().any(|h| h.category == Category::Traffic));
    assert!(
        cut.hotspots
            .iter()
            .all(|h| h.category != Category::PublicOrder)
    );

    // Trend: S1's fraud is alarming, S2's is not; nothing else is.
    let fraud: Vec<_> = r
        .trend_alerts
        .iter()
        .filter(|a| a.category == Category::Fraud)
        .collect();
    assert_eq!(fraud.len(), 1, "{:?}", r.trend_alerts);
    let a = fraud[0];
    assert_eq!(a.unit_id, c.s1);
    assert!(
        a.cusum >= a.cusum_threshold || a.ewma >= a.ewma_limit,
        "{a:?}"
    );
    assert!(a.since >= r.last_day - Duration::days(3), "{a:?}");
    assert_eq!(a.last_week, 24 + fraud_count_s1(&rows, 4..7));
    assert!(
        r.trend_alerts
            .iter()
            .all(|a| a.unit_id != c.s2 || a.category != Category::Fraud)
    );

    // Same data, same report.
    let again = hotspots(&c.app, "H-C", &params(), now()).await.unwrap();
    assert_eq!(again, r);
    // The city sees the other county's village too; a station is not a scope.
    let city = hotspots(&c.app, "H", &params(), now()).await.unwrap();
    assert_eq!(city.villages, 26);
    let e = hotspots(&c.app, "H-C-S1", &params(), now())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("county bureau"), "{e}");
    assert!(matches!(
        hotspots(&c.app, "NOPE", &params(), now()).await,
        Err(minyi_app::AppError::NotFound)
    ));
    let bad = HotspotParams {
        window_days: 2,
        ..params()
    };
    let e = hotspots(&c.app, "H-C", &bad, now()).await.unwrap_err();
    assert!(e.to_string().contains("window_days"), "{e}");
    c.app.store.close().await;
    db.drop_db().await;
}

fn fraud_count_s1(rows: &[(Category, usize, i64)], agos: std::ops::Range<i64>) -> u64 {
    rows.iter()
        .filter(|(c, v, ago)| *c == Category::Fraud && *v == 2 && agos.contains(ago))
        .count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hotspots_and_trend_alerts_sqlite() {
    hotspots_story(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hotspots_and_trend_alerts_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    hotspots_story(db).await;
}
