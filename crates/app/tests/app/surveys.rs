//! Survey waves against a real store: allocation sums to the total, an agency's file is
//! checked row by row (bad rows named, good rows stored, a re-import adds nothing, a
//! comment becomes one opinion), estimates equal the stats crate's numbers, shrinkage
//! pulls small stations more, and an empty station is "no data", never NaN.

use chrono::{TimeZone, Utc};
use minyi_app::App;
use minyi_app::import::{Table, TableRow};
use minyi_app::surveys::{
    self, AgeBand, AllocationMethod, AllocationRequest, Indicator, IntervalChoice, Interview,
    NoData, Sex, Station, WaveConfig, WaveInput,
};
use minyi_core::Code;
use minyi_core::org::{AreaKind, NewArea, NewUnit, UnitKind};
use minyi_stats::intervals::PropCiMethod;
use minyi_stats::scoring::Answer;
use minyi_stats::survey::{Design, DesignSpec};
use minyi_store::testing::TestDb;

use crate::app_for;

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

/// A city of three stations with 6,000, 3,000 and 1,000 residents.
async fn city(app: &App) {
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
            unit("SV", UnitKind::CityBureau, None),
            unit("SV-1", UnitKind::CountyBureau, Some("SV")),
            unit("SV-1-S1", UnitKind::Station, Some("SV-1")),
            unit("SV-1-S2", UnitKind::Station, Some("SV-1")),
            unit("SV-1-S3", UnitKind::Station, Some("SV-1")),
        ])
        .await
        .unwrap();
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
    app.store
        .insert_areas(&[
            area("SA", AreaKind::County, None, None, 10_000),
            area(
                "SA-1",
                AreaKind::Township,
                Some("SA"),
                Some("SV-1-S1"),
                6000,
            ),
            area(
                "SA-2",
                AreaKind::Township,
                Some("SA"),
                Some("SV-1-S2"),
                3000,
            ),
            area(
                "SA-3",
                AreaKind::Township,
                Some("SA"),
                Some("SV-1-S3"),
                1000,
            ),
        ])
        .await
        .unwrap();
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 2, 0, 0).unwrap()
}

async fn new_wave(app: &App, c: &str, config: WaveConfig) {
    surveys::create_wave(
        app,
        WaveInput {
            code: c.into(),
            name: "测试测评".into(),
            period: "2026-Q3".into(),
            config,
            margins: None,
            synthetic: false,
        },
        now(),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocation_sums_to_the_total_and_exports() {
    let db = TestDb::sqlite();
    let app = app_for(&db).await;
    city(&app).await;
    new_wave(&app, "W1", WaveConfig::default()).await;
    let lines = surveys::allocate(
        &app,
        "W1",
        AllocationRequest {
            method: AllocationMethod::Proportional,
            total: Some(500),
            min_per_station: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let sizes: Vec<i64> = lines.iter().map(|l| l.sample_size).collect();
    assert_eq!(sizes.iter().sum::<i64>(), 500);
    assert!(sizes.iter().all(|n| *n >= 100), "{sizes:?}");
    assert!(sizes[0] > sizes[1] && sizes[1] >= sizes[2], "{sizes:?}");
    let equal = surveys::allocate(
        &app,
        "W1",
        AllocationRequest {
            method: AllocationMethod::Equal,
            total: Some(301),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(equal.iter().map(|l| l.sample_size).sum::<i64>(), 301);
    // The stored allocation is the latest one, and the sheet carries it.
    let stored = surveys::allocation(&app, "W1").await.unwrap();
    assert_eq!(stored, equal);
    let csv = surveys::allocation_csv(&stored).unwrap();
    assert!(
        csv.starts_with("station,name,county,allocated,population\n"),
        "{csv}"
    );
    assert!(
        csv.contains("SV-1-S1,单位SV-1-S1,单位SV-1,101,6000"),
        "{csv}"
    );
    // By target half-width: a larger station needs no fewer interviews than a smaller.
    let hw = surveys::allocate(
        &app,
        "W1",
        AllocationRequest {
            method: AllocationMethod::HalfWidth,
            half_width: Some(0.05),
            anticipated: 0.85,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(hw[0].sample_size >= hw[2].sample_size && hw[2].sample_size > 0);
    // A total is needed for the shares, and a bad method name is refused at the edge.
    assert!(
        surveys::allocate(&app, "W1", AllocationRequest::default())
            .await
            .is_err()
    );
    assert!(AllocationMethod::parse("best").is_err());
    db.drop_db().await;
}

fn table(rows: &[&[&str]]) -> Table {
    let header = [
        "response_id",
        "station",
        "area",
        "interviewer",
        "mode",
        "interviewed_at",
        "age_band",
        "sex",
        "security",
        "satisfaction",
        "chief",
        "comment",
    ]
    .map(String::from)
    .to_vec();
    Table {
        header,
        rows: rows
            .iter()
            .enumerate()
            .map(|(i, r)| TableRow {
                row: i + 2,
                cells: Ok(r.iter().map(|c| c.to_string()).collect()),
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_reports_bad_rows_stores_good_ones_once() {
    let db = TestDb::sqlite();
    let app = app_for(&db).await;
    city(&app).await;
    new_wave(&app, "W1", WaveConfig::default()).await;
    let at = "2026-09-01 10:00";
    let file = table(&[
        &[
            "R1", "SV-1-S1", "SA-1", "IV1", "cati", at, "30-44", "f", "5", "4", "named", "",
        ],
        &[
            "R2",
            "SV-1-S2",
            "",
            "IV1",
            "电话",
            at,
            "60+",
            "男",
            "dk",
            "",
            "不知道",
            "路灯坏了很久，希望派出所协调修好",
        ],
        // Unknown station, answer outside the scale, bad age and sex codes.
        &[
            "R3", "SV-9-S9", "", "IV1", "cati", at, "12-17", "x", "6", "4", "named", "",
        ],
        // An area of another station.
        &[
            "R4", "SV-1-S1", "SA-2", "IV1", "cati", at, "18-29", "m", "3", "3", "wrong", "",
        ],
        // The same id twice in one file.
        &[
            "R1", "SV-1-S1", "", "IV1", "cati", at, "18-29", "m", "1", "1", "wrong", "",
        ],
    ]);
    let report = surveys::import_table(&app, "W1", &file, "cli", now())
        .await
        .unwrap();
    assert_eq!((report.rows, report.stored, report.repeated), (5, 2, 0));
    assert_eq!(report.opinions, 1);
    let said: Vec<(usize, &str)> = report
        .rejected
        .iter()
        .map(|e| (e.row, e.column.as_str()))
        .collect();
    for want in [
        (4, "station"),
        (4, "age_band"),
        (4, "sex"),
        (4, "security"),
        (5, "area"),
        (6, "response_id"),
    ] {
        assert!(said.contains(&want), "{want:?} missing from {said:?}");
    }
    let security = report
        .rejected
        .iter()
        .find(|e| e.column == "security")
        .unwrap();
    assert!(security.reason.contains("outside the scale"), "{security}");
    // The agency sends the same file again: nothing new, no second opinion.
    let again = surveys::import_table(&app, "W1", &file, "cli", now())
        .await
        .unwrap();
    assert_eq!((again.stored, again.repeated, again.opinions), (0, 2, 0));
    let w = surveys::wave(&app, "W1").await.unwrap();
    let stored = app.store.responses(w.row.id).await.unwrap();
    assert_eq!(stored.len(), 2);
    let r2 = &stored[1].response;
    assert_eq!(
        (
            r2.security.as_str(),
            r2.satisfaction.as_str(),
            r2.chief.as_str(),
            r2.sex.as_str()
        ),
        ("dont_know", "missing", "dont_know", "m")
    );
    let opinion = app
        .store
        .opinion(r2.opinion_id.expect("the comment became an opinion"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(opinion.channel, minyi_core::taxonomy::Channel::Survey);
    assert!(stored[0].response.opinion_id.is_none());
    // A file that would bring in phone numbers is refused as a whole.
    let mut personal = table(&[]);
    personal.header.push("电话".into());
    let err = surveys::import_table(&app, "W1", &personal, "cli", now())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("personal data"), "{err}");
    // A closed wave takes no more interviews.
    surveys::set_state(&app, "W1", surveys::WaveState::Closed)
        .await
        .unwrap();
    assert!(
        surveys::import_table(&app, "W1", &file, "cli", now())
            .await
            .is_err()
    );
    db.drop_db().await;
}

fn station(id: i64, population: i64) -> (Station, Option<i64>) {
    (
        Station {
            id,
            code: format!("S{id}"),
            name: format!("所{id}"),
            county: "县".into(),
            population,
        },
        None,
    )
}

/// `yes` of `n` satisfied at a station (security and chief answered the same way).
fn interviews(station_id: i64, n: usize, yes: usize) -> Vec<Interview> {
    (0..n)
        .map(|i| {
            let a = if i < yes {
                Answer::Scale(5)
            } else {
                Answer::Scale(2)
            };
            Interview {
                station_id,
                age_band: AgeBand::ALL[i % 4],
                sex: Sex::ALL[i % 2],
                security: a,
                satisfaction: a,
                chief: if i < yes {
                    Answer::Scale(3)
                } else {
                    Answer::Scale(1)
                },
            }
        })
        .collect()
}

#[test]
fn estimates_equal_the_stats_crate() {
    let stations = vec![
        station(1, 5000),
        station(2, 2000),
        station(3, 800),
        station(4, 3000),
    ];
    let mut data = interviews(1, 120, 100);
    data.extend(interviews(2, 60, 45));
    data.extend(interviews(3, 30, 27));
    data.extend(interviews(4, 90, 60));
    for choice in [IntervalChoice::Wilson, IntervalChoice::KornGraubard] {
        let config = WaveConfig {
            interval: choice,
            ..WaveConfig::default()
        };
        let out = surveys::compute(&config, None, &stations, &data);
        let e = out[1].indicator(Indicator::Satisfaction).unwrap();
        let d = e.direct.as_ref().unwrap();
        let w = vec![2000.0 / 60.0; 60];
        let y: Vec<f64> = (0..60).map(|i| if i < 45 { 1.0 } else { 0.0 }).collect();
        let design = Design::new(DesignSpec::weighted(&w)).unwrap();
        let method = match choice {
            IntervalChoice::Wilson => PropCiMethod::Wilson,
            IntervalChoice::KornGraubard => PropCiMethod::KornGraubard,
        };
        let want = design.proportion(&y, None, method, 0.95).unwrap();
        assert_eq!(d.estimate, want.mean.estimate);
        assert_eq!(d.se, want.mean.se);
        assert_eq!(
            (d.lower, d.upper),
            (want.interval.lower, want.interval.upper)
        );
        assert_eq!(d.deff, want.mean.deff);
        if choice == IntervalChoice::Wilson {
            let wilson = minyi_stats::intervals::wilson(45, 60, 0.95).unwrap();
            assert_eq!((d.lower, d.upper), (wilson.lower, wilson.upper));
        }
        // The shrunk numbers are the Fay–Herriot fit of the four direct estimates.
        let direct: Vec<f64> = out
            .iter()
            .map(|s| s.indicators[1].direct.as_ref().unwrap().estimate)
            .collect();
        let var: Vec<f64> = out
            .iter()
            .map(|s| s.indicators[1].direct.as_ref().unwrap().se.powi(2))
            .collect();
        let fit = minyi_stats::sae::fay_herriot(&direct, &var, &[1.0; 4], 1).unwrap();
        for (s, a) in out.iter().zip(&fit.areas) {
            let sh = s.indicators[1].shrunk.as_ref().unwrap();
            assert_eq!((sh.estimate, sh.mse, sh.gamma), (a.eblup, a.mse, a.gamma));
        }
        // Rank probabilities are probabilities, and the rank interval is within 1..=4.
        for s in &out {
            let r = s.indicators[1].rank.as_ref().unwrap();
            assert_eq!(r.of, 4);
            assert!((1..=4).contains(&r.lower) && r.lower <= r.upper && r.upper <= 4);
            for p in [r.p_top6, r.p_bottom3, r.p_bottom10] {
                assert!((0.0..=1.0).contains(&p));
            }
            // Fewer than six stations: every one is in the top six.
            assert!((r.p_top6 - 1.0).abs() < 1e-9, "{}", r.p_top6);
        }
    }
}

#[test]
fn shrinkage_pulls_small_stations_more() {
    // Two stations equally far above the rest; one heard 400 people, the other 25.
    let stations: Vec<_> = (1..=8).map(|i| station(i, 4000)).collect();
    let mut data = interviews(1, 400, 380);
    data.extend(interviews(2, 25, 24));
    for i in 3..=8 {
        data.extend(interviews(i, 100, 75 + i as usize));
    }
    let out = surveys::compute(&WaveConfig::default(), None, &stations, &data);
    let big = &out[0].indicators[1];
    let small = &out[1].indicators[1];
    let pull = |e: &surveys::IndicatorEstimate| {
        (e.direct.as_ref().unwrap().estimate - e.shrunk.as_ref().unwrap().estimate).abs()
    };
    assert!(
        small.shrunk.as_ref().unwrap().gamma < big.shrunk.as_ref().unwrap().gamma,
        "{small:?} {big:?}"
    );
    assert!(pull(small) > pull(big));
}

#[test]
fn an_empty_station_is_no_data_never_nan() {
    let stations = vec![
        station(1, 5000),
        station(2, 2000),
        station(3, 800),
        station(4, 0),
    ];
    let mut data = interviews(1, 50, 40);
    data.extend(interviews(2, 50, 30));
    // Station 3: one respondent only; station 4: nobody. All satisfied at 4 would
    // otherwise be a zero variance: it takes part with a floored variance.
    data.extend(interviews(3, 1, 1));
    let out = surveys::compute(&WaveConfig::default(), None, &stations, &data);
    assert_eq!(out[3].indicators[0].no_data, Some(NoData::NoRespondents));
    assert_eq!(
        out[2].indicators[0].no_data,
        Some(NoData::TooFewAnswers { answered: 1 })
    );
    let csv = surveys::estimates_csv(&out).unwrap();
    assert!(
        !csv.to_lowercase().contains("nan") && !csv.contains("inf"),
        "{csv}"
    );
    assert!(csv.contains("no_respondents"));
    // Every number that is there is finite.
    let json = serde_json::to_string(&out).unwrap();
    assert!(!json.contains("null,\"se\""));
    for s in &out {
        for e in &s.indicators {
            if let Some(d) = &e.direct {
                assert!(d.estimate.is_finite() && d.se.is_finite());
            }
        }
    }
    // A station where everyone agrees still gets shrunk, through the floored variance.
    let mut all_yes = interviews(1, 50, 40);
    all_yes.extend(interviews(2, 50, 30));
    all_yes.extend(interviews(3, 40, 40));
    let out = surveys::compute(&WaveConfig::default(), None, &stations[..3], &all_yes);
    let s3 = out[2].indicators[1].shrunk.as_ref().unwrap();
    assert!(s3.estimate.is_finite() && s3.mse > 0.0 && s3.estimate < 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimates_read_the_stored_wave() {
    let db = TestDb::sqlite();
    let app = app_for(&db).await;
    city(&app).await;
    new_wave(&app, "W1", WaveConfig::default()).await;
    let at = "2026-09-01 10:00";
    let rows: Vec<Vec<String>> = (0..40)
        .map(|i| {
            let st = ["SV-1-S1", "SV-1-S2"][i % 2];
            let sat = if i % 5 == 0 { "2" } else { "5" };
            [
                format!("R{i}"),
                st.into(),
                String::new(),
                "IV".into(),
                "cati".into(),
                at.into(),
                AgeBand::ALL[i % 4].code().into(),
                Sex::ALL[(i / 2) % 2].code().into(),
                "4".into(),
                sat.into(),
                "picked".into(),
                String::new(),
            ]
            .to_vec()
        })
        .collect();
    let refs: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    let slices: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
    let report = surveys::import_table(&app, "W1", &table(&slices), "cli", now())
        .await
        .unwrap();
    assert_eq!(report.stored, 40, "{:?}", report.rejected);
    let est = surveys::estimates(&app, "W1").await.unwrap();
    assert_eq!(est.len(), 3);
    let s1 = &est[0];
    assert_eq!(s1.respondents, 20);
    let sat = s1.indicator(Indicator::Satisfaction).unwrap();
    assert!((sat.direct.as_ref().unwrap().estimate - 0.8).abs() < 1e-12);
    assert_eq!(
        est[2].indicator(Indicator::Security).unwrap().no_data,
        Some(NoData::NoRespondents)
    );
    let trend = surveys::station_trend(&app, s1.station.id).await.unwrap();
    assert_eq!(trend.len(), 1);
    db.drop_db().await;
}

/// The demo's synthetic wave: 100 interviews at every station, labelled synthetic, and
/// every station with an estimate and rank facts for all three indicators.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_wave_gives_every_station_estimates() {
    let db = TestDb::sqlite();
    let app = app_for(&db).await;
    minyi_app::demo::load(&app, 5, crate::small(), &|_| {})
        .await
        .unwrap();
    // A small demo has no wave: it is drawn only with the full city.
    assert!(surveys::waves(&app).await.unwrap().is_empty());
    let started = std::time::Instant::now();
    let w = surveys::load_demo_wave(&app, 5, 100).await.unwrap();
    eprintln!("demo survey wave: {:.3} s", started.elapsed().as_secs_f64());
    assert!(w.row.synthetic && w.state == surveys::WaveState::Closed);
    let est = surveys::estimates(&app, surveys::DEMO_WAVE).await.unwrap();
    assert!(est.len() >= 50);
    for s in &est {
        assert_eq!(s.respondents, 100);
        assert_eq!(s.allocated, Some(100));
        for e in &s.indicators {
            assert!(e.no_data.is_none(), "{s:?}");
            let d = e.direct.as_ref().unwrap();
            assert!(d.lower <= d.estimate && d.estimate <= d.upper);
            assert!(e.shrunk.is_some() && e.rank.is_some());
        }
    }
    // The next wave's Neyman allocation follows what this wave measured: stations whose
    // rates lie nearer 50% (more spread) get more interviews per resident than under
    // proportional allocation, so the two differ — with one flat rate they would not.
    new_wave(&app, "W2", WaveConfig::default()).await;
    let by = |method| AllocationRequest {
        method,
        total: Some(5_000),
        ..Default::default()
    };
    let prop = surveys::allocate(&app, "W2", by(AllocationMethod::Proportional))
        .await
        .unwrap();
    let ney = surveys::allocate(&app, "W2", by(AllocationMethod::Neyman))
        .await
        .unwrap();
    assert_eq!(ney.iter().map(|l| l.sample_size).sum::<i64>(), 5_000);
    assert_ne!(prop, ney);
    let spread = |id: i64| {
        let e = est.iter().find(|e| e.station.id == id).unwrap();
        e.indicators
            .iter()
            .filter_map(|x| x.shrunk.as_ref())
            .map(|s| s.estimate * (1.0 - s.estimate))
            .fold(0.0_f64, f64::max)
    };
    let per_head = |l: &surveys::AllocationLine| l.sample_size as f64 / l.station.population as f64;
    let (lo, hi) = ney.iter().filter(|l| l.station.population > 0).fold(
        (
            None::<&surveys::AllocationLine>,
            None::<&surveys::AllocationLine>,
        ),
        |(lo, hi), l| {
            let lo = match lo {
                Some(x) if spread(x.station.id) <= spread(l.station.id) => Some(x),
                _ => Some(l),
            };
            let hi = match hi {
                Some(x) if spread(x.station.id) >= spread(l.station.id) => Some(x),
                _ => Some(l),
            };
            (lo, hi)
        },
    );
    let (lo, hi) = (lo.unwrap(), hi.unwrap());
    assert!(spread(hi.station.id) > spread(lo.station.id));
    assert!(per_head(hi) > per_head(lo), "{hi:?} vs {lo:?}");
    db.drop_db().await;
}
