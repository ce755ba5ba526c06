//! Assessment runs on a hand-made city: gathered inputs equal hand-computed values (metrics,
//! window ratings, peer groups, drill-down paths, missing data); a run with a tie and a
//! missing value gets the scheme's documented treatment and reruns byte-identically; an
//! upheld appeal makes a new run from the stored input with the change recorded; bad
//! metric files are refused whole; and the demo city ranks its 72 stations with the
//! default scheme.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use minyi_app::App;
use minyi_app::assess::{self, Actor, AppealFilter, AppealInput, Decision};
use minyi_app::auth::Principal;
use minyi_app::import::{Table, TableRow};
use minyi_app::{AppError, surveys};
use minyi_assess::{InputChange, MissingApplied, OutcomeCode, Scheme};
use minyi_core::Code;
use minyi_core::access::{Role, Scope};
use minyi_core::org::{NewUnit, UnitKind, WindowKind};
use minyi_core::records::{NewRating, RatingLevel, RatingScale};
use minyi_core::taxonomy::Channel;
use minyi_store::testing::TestDb;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 4, 0, 0).unwrap()
}

/// Two counties: S1 (with a window) and S2 in county C1, S3 in C2.
async fn city(db: &TestDb) -> App {
    let app = super::app_for(db).await;
    let u = |c: &str, kind, parent: Option<&str>| NewUnit {
        code: Code::parse(c).unwrap(),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(|p| Code::parse(p).unwrap()),
        window: (kind == UnitKind::Window).then_some(WindowKind::Household),
        department: None,
        synthetic: false,
    };
    app.store
        .insert_units(&[
            u("AC", UnitKind::CityBureau, None),
            u("AC-1", UnitKind::CountyBureau, Some("AC")),
            u("AC-1-S1", UnitKind::Station, Some("AC-1")),
            u("AC-1-S1-W", UnitKind::Window, Some("AC-1-S1")),
            u("AC-1-S2", UnitKind::Station, Some("AC-1")),
            u("AC-2", UnitKind::CountyBureau, Some("AC")),
            u("AC-2-S3", UnitKind::Station, Some("AC-2")),
        ])
        .await
        .unwrap();
    app
}

async fn principal(app: &App, role: Role, unit: &str) -> Principal {
    let units = app.store.units().await.unwrap();
    let tree: Vec<(i64, Option<i64>)> = units.iter().map(|u| (u.id, u.parent_id)).collect();
    let u = units.iter().find(|u| u.code.as_str() == unit).unwrap();
    Principal {
        account_id: 0,
        username: format!("{}_{unit}", role.code()),
        display_name: "test".into(),
        role,
        unit_id: u.id,
        unit_name: u.name.clone(),
        unit_code: unit.into(),
        scope: Arc::new(Scope::subtree(u.id, &tree)),
        scope_is_city: u.parent_id.is_none(),
        must_change_password: false,
    }
}

fn table(rows: &[&[&str]]) -> Table {
    Table {
        header: vec!["unit".into(), "metric".into(), "value".into()],
        rows: rows
            .iter()
            .enumerate()
            .map(|(i, r)| TableRow {
                row: i + 2,
                cells: Ok(r.iter().map(|s| s.to_string()).collect()),
            })
            .collect(),
    }
}

async fn import(app: &App, rows: &[&[&str]]) -> assess::MetricImportReport {
    assess::import_metrics_table(
        app,
        &table(rows),
        "test.csv",
        "2026",
        Actor::Cli,
        now(),
        false,
    )
    .await
    .unwrap()
}

const GATHER_SCHEME: &str = r#"
format = 1
id = "hand_gather"
version = "1"
period = "year"

[[group]]
id = "g"
weight = 1.0

[[group.indicator]]
id = "solved"
source = "business.cases_solved"
weight = 0.5
direction = "higher"
normalisation = "min_max"

[[group.indicator]]
id = "windows"
source = "ratings.satisfaction"
weight = 0.3
direction = "higher"
normalisation = "min_max"

[[group.indicator]]
id = "help"
source = "hard.help_resolution"
weight = 0.2
direction = "higher"
normalisation = "min_max"

[[condition]]
id = "drugs"
source = "jurisdiction.drug_users_growth"
at_least = 1.0
penalty = 5.0
"#;

/// Solved cases and team building; a missing team score is the worst observed; drug
/// users doubling costs 5 points; the single best unit gets merit (no guard).
const RUN_SCHEME: &str = r#"
format = 1
id = "hand_run"
version = "1"
period = "year"

[[group]]
id = "g"
weight = 1.0

[[group.indicator]]
id = "solved"
source = "business.cases_solved"
weight = 0.6
direction = "higher"
normalisation = "min_max"

[[group.indicator]]
id = "team"
source = "team.building"
weight = 0.4
direction = "higher"
normalisation = "min_max"
missing = "worst_observed"

[[condition]]
id = "drugs"
source = "jurisdiction.drug_users_growth"
at_least = 1.0
penalty = 5.0

[[rule]]
id = "merit"
outcome = "merit"
top = 1

[uncertainty]
monte_carlo = false
"#;

async fn gathered_inputs_equal_hand_computed(db: TestDb) {
    let app = city(&db).await;
    let r = import(
        &app,
        &[
            &["AC-1-S1", "business.cases_solved", "0.8"],
            &["AC-1-S2", "business.cases_solved", "0.6"],
            &["AC-2-S3", "jurisdiction.drug_users_growth", "1.25"],
            // Not read by the scheme: not gathered.
            &["AC-2-S3", "jurisdiction.named_crimes_growth", "0.5"],
        ],
    )
    .await;
    assert!(r.rejected.is_empty(), "{:?}", r.rejected_lines());
    // Window ratings of S1 in 2026: three-level 1, 1, 2 and five-level 2 (satisfied),
    // five-level 4 (not): 3 of 5 satisfied. One from 2025 is outside the period.
    let w = app.store.unit_by_code("AC-1-S1-W").await.unwrap().unwrap();
    let rating = |id: &str, scale, level, year| NewRating {
        window_id: w.id,
        channel: Channel::RatingDevice,
        device: Some("dev".into()),
        client_event_id: Some(id.into()),
        level: RatingLevel::parse(scale, level).unwrap(),
        reason: None,
        rated_at: Utc.with_ymd_and_hms(year, 5, 6, 2, 30, 0).unwrap(),
        synthetic: false,
    };
    app.store
        .insert_device_ratings(&[
            rating("a", RatingScale::Three, 1, 2026),
            rating("b", RatingScale::Three, 1, 2026),
            rating("c", RatingScale::Three, 2, 2026),
            rating("d", RatingScale::Five, 2, 2026),
            rating("e", RatingScale::Five, 4, 2026),
            rating("f", RatingScale::Three, 1, 2025),
        ])
        .await
        .unwrap();

    let scheme = Scheme::parse(GATHER_SCHEME).unwrap();
    let input = assess::gather_at(&app, &scheme, "2026", now())
        .await
        .unwrap();
    assert_eq!(input.period, "2026");
    let codes: Vec<&str> = input.units.iter().map(|u| u.code.as_str()).collect();
    assert_eq!(codes, ["AC-1-S1", "AC-1-S2", "AC-2-S3"], "stations only");
    let s1 = &input.units[0];
    assert_eq!(s1.peer_group.as_deref(), Some("AC-1"));
    assert_eq!(s1.values["solved"].value, 0.8);
    assert_eq!(
        s1.values["solved"].drill_down,
        ["/assess/metrics?period=2026&unit=AC-1-S1&metric=business.cases_solved"]
    );
    let win = &s1.values["windows"];
    assert_eq!((win.numerator, win.denominator), (Some(3.0), Some(5.0)));
    assert_eq!(win.value, 0.6);
    // No 110 calls anywhere: the hard indicator is missing, not zero.
    assert!(!s1.values.contains_key("help"));
    assert!(s1.jurisdiction.is_empty());
    let s2 = &input.units[1];
    assert_eq!(s2.values["solved"].value, 0.6);
    assert!(!s2.values.contains_key("windows"), "no window, no ratings");
    let s3 = &input.units[2];
    assert_eq!(s3.peer_group.as_deref(), Some("AC-2"));
    assert!(s3.values.is_empty());
    assert_eq!(
        s3.jurisdiction.iter().collect::<Vec<_>>(),
        [(&"jurisdiction.drug_users_growth".to_owned(), &1.25)]
    );
    // The default scheme scores survey indicators: without a wave, a plain error.
    let err = assess::gather_at(&app, &Scheme::default_2014().unwrap(), "2026", now())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no closed or fielding survey wave"),
        "{err}"
    );
    // A period of the wrong cadence is refused before anything is read.
    let err = assess::gather_at(&app, &scheme, "2026-Q1", now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cadence"), "{err}");
    app.store.close().await;
    db.drop_db().await;
}

async fn run_ties_missing_rerun_and_appeal(db: TestDb) {
    let app = city(&db).await;
    let r = import(
        &app,
        &[
            &["AC-1-S1", "business.cases_solved", "0.8"],
            &["AC-1-S1", "team.building", "90"],
            &["AC-1-S2", "business.cases_solved", "0.8"],
            &["AC-1-S2", "team.building", "90"],
            &["AC-2-S3", "business.cases_solved", "0.4"],
            &["AC-2-S3", "jurisdiction.drug_users_growth", "1.2"],
        ],
    )
    .await;
    assert!(r.stored.is_some());

    // A leader may not run; the command line and a city analyst may.
    let leader = principal(&app, Role::Leader, "AC").await;
    assert!(matches!(
        assess::run_at(&app, Some(RUN_SCHEME), "2026", Actor::User(&leader), now()).await,
        Err(AppError::Forbidden)
    ));
    let analyst = principal(&app, Role::CityAnalyst, "AC").await;
    let run = assess::run_at(&app, Some(RUN_SCHEME), "2026", Actor::User(&analyst), now())
        .await
        .unwrap();
    assert_eq!(run.created_by, "user:city_analyst_AC");
    let res = &run.result;
    assert_eq!(res.ranked, 3);
    let unit = |c: &str| res.unit(c).unwrap();
    // S1 and S2 tie at 100 and share rank 1; both get the top-1 merit (ties at a
    // boundary all get a top outcome).
    assert_eq!((unit("AC-1-S1").score, unit("AC-1-S1").rank), (100.0, 1));
    assert_eq!((unit("AC-1-S2").score, unit("AC-1-S2").rank), (100.0, 1));
    for c in ["AC-1-S1", "AC-1-S2"] {
        let o: Vec<OutcomeCode> = unit(c).outcomes.iter().map(|o| o.outcome).collect();
        assert_eq!(o, [OutcomeCode::Merit], "{c}");
    }
    // S3: solved normalised 0, team missing → worst observed (1: no spread), 40 points,
    // minus 5 for drug users more than doubling.
    let s3 = unit("AC-2-S3");
    assert_eq!((s3.base_score, s3.score, s3.rank), (40.0, 35.0, 3));
    let team = s3
        .indicators
        .iter()
        .find(|i| i.indicator == "team")
        .unwrap();
    assert_eq!(team.raw, None);
    assert_eq!(team.missing, Some(MissingApplied::WorstObserved));
    assert!(s3.outcomes.is_empty());

    // Stored whole, read back, reproduced byte for byte from the stored texts.
    let again = assess::rerun(&app, run.id).await.unwrap();
    assert!(again.identical);
    assert_eq!(again.again.result_json, run.record.result_json);
    assert_eq!(assess::list(&app).await.unwrap().len(), 1);
    let latest = assess::latest(&app, Some("2026")).await.unwrap().unwrap();
    assert_eq!(latest.id, run.id);
    assert!(assess::latest(&app, Some("2025")).await.unwrap().is_none());
    // The audit log has the run.
    assert_eq!(
        minyi_app::audit::verify(&app).await.unwrap(),
        minyi_app::audit::Verdict::Intact { entries: 2 }
    );

    // Appeals: S3's own staff, or its county; not a neighbour's staff, not a leader.
    let appeal = |unit: &str, value| AppealInput {
        run_id: run.id,
        unit_code: unit.into(),
        indicator: "solved".into(),
        claimed_value: value,
        reason: "120 cases were cleared, not 48: the import missed December".into(),
    };
    let s1_staff = principal(&app, Role::StationStaff, "AC-1-S1").await;
    assert!(matches!(
        assess::file_appeal(&app, &s1_staff, &appeal("AC-2-S3", 0.9), now()).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        assess::file_appeal(&app, &leader, &appeal("AC-2-S3", 0.9), now()).await,
        Err(AppError::Forbidden)
    ));
    let s3_staff = principal(&app, Role::StationStaff, "AC-2-S3").await;
    let mut bad = appeal("AC-2-S3", 0.9);
    bad.indicator = "nonsense".into();
    let err = assess::file_appeal(&app, &s3_staff, &bad, now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nonsense"), "{err}");
    let filed = assess::file_appeal(&app, &s3_staff, &appeal("AC-2-S3", 0.9), now())
        .await
        .unwrap();
    assert_eq!(filed.row.state, "filed");
    let err = assess::appeals(
        &app,
        &s3_staff,
        &AppealFilter {
            state: Some("open".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("appeal state `open`"), "{err}");
    let county = principal(&app, Role::CountyAnalyst, "AC-2").await;
    let second = assess::file_appeal(&app, &county, &appeal("AC-2-S3", 0.5), now())
        .await
        .unwrap();
    // The neighbour county's analyst sees neither.
    let c1 = principal(&app, Role::CountyAnalyst, "AC-1").await;
    assert!(
        assess::appeals(&app, &c1, &AppealFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        assess::appeals(&app, &county, &AppealFilter::default())
            .await
            .unwrap()
            .len(),
        2
    );

    // Station staff cannot decide; the analyst upholds with the corrected value.
    assert!(matches!(
        assess::resolve_appeal(
            &app,
            &s3_staff,
            filed.row.id,
            Decision::Rejected,
            "no",
            now()
        )
        .await,
        Err(AppError::Forbidden)
    ));
    let resolved = assess::resolve_appeal(
        &app,
        &analyst,
        filed.row.id,
        Decision::Upheld {
            corrected_value: 0.9,
        },
        "records confirm 120 cleared cases",
        now(),
    )
    .await
    .unwrap();
    assert_eq!(resolved.appeal.row.state, "upheld");
    assert_eq!(resolved.appeal.row.corrected_value, Some(0.9));
    let new_run = resolved.new_run.unwrap();
    assert_eq!(resolved.appeal.row.result_run_id, Some(new_run.id));
    assert_eq!(new_run.parent, Some(run.id));
    assert!(
        new_run
            .reason
            .as_deref()
            .unwrap()
            .contains(&format!("appeal {}", filed.row.id))
    );
    // Same scheme, same stored input but the one value.
    assert_eq!(new_run.record.scheme_hash, run.record.scheme_hash);
    let changes = resolved.changes.unwrap();
    assert_eq!(
        changes.inputs,
        [InputChange {
            unit: "AC-2-S3".into(),
            key: "solved".into(),
            before: Some(0.4),
            after: Some(0.9),
        }]
    );
    // S3 now leads: solved 1, team worst observed 1 → 100 − 5 = 95; S1, S2 at 40.
    let m = changes
        .comparison
        .units
        .iter()
        .find(|u| u.unit == "AC-2-S3")
        .unwrap();
    assert_eq!(
        (m.rank_before, m.rank_after, m.moved),
        (Some(3), Some(1), Some(2))
    );
    assert_eq!(new_run.result.unit("AC-2-S3").unwrap().score, 95.0);
    // The changes are derivable later from the stored runs alone.
    let later = assess::changes(&app, &assess::get(&app, new_run.id).await.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(later.inputs, changes.inputs);
    // The corrected run reproduces too.
    assert!(assess::rerun(&app, new_run.id).await.unwrap().identical);

    // Deciding twice is refused; a rejection makes no run.
    assert!(matches!(
        assess::resolve_appeal(
            &app,
            &analyst,
            filed.row.id,
            Decision::Rejected,
            "again",
            now()
        )
        .await,
        Err(AppError::Refused(_))
    ));
    let rejected = assess::resolve_appeal(
        &app,
        &analyst,
        second.row.id,
        Decision::Rejected,
        "superseded by the upheld appeal",
        now(),
    )
    .await
    .unwrap();
    assert_eq!(rejected.appeal.row.state, "rejected");
    assert!(rejected.new_run.is_none());
    assert_eq!(assess::list(&app).await.unwrap().len(), 2);
    app.store.close().await;
    db.drop_db().await;
}

async fn bad_metric_files_store_nothing(db: TestDb) {
    let app = city(&db).await;
    let ok: &[&[&str]] = &[
        &["AC-1-S1", "business.cases_solved", "0.8"],
        &["AC-1-S2", "team.building", "75.5"],
    ];
    let first = import(&app, ok).await;
    let s = first.stored.unwrap();
    assert_eq!((s.inserted, s.updated, s.unchanged), (2, 0, 0));
    // The same file again changes nothing.
    let again = import(&app, ok).await.stored.unwrap();
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 2));
    let before = app.store.metrics("2026").await.unwrap();
    let batches = app.store.metric_batch_count().await.unwrap();

    let report = import(
        &app,
        &[
            &["AC-1-S1", "business.cases_solved", "0.9"],
            &["NOPE", "business.cases_solved", "0.5"],
            &["AC-1-S2", "Business Cases", "0.5"],
            &["AC-1-S2", "survey.security", "0.5"],
            &["AC-2-S3", "team.building", "high"],
            &["AC-2-S3", "team.building", "NaN"],
            &["AC-1-S1", "business.cases_solved", "0.7"],
            &["AC-1", "business.cases_solved", "0.7"],
        ],
    )
    .await;
    assert!(report.stored.is_none());
    let got: Vec<(usize, String)> = report
        .rejected
        .iter()
        .map(|e| (e.row, e.column.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (3, "unit".to_owned()),
            (4, "metric".to_owned()),
            (5, "metric".to_owned()),
            (6, "value".to_owned()),
            (7, "value".to_owned()),
            (8, "-".to_owned()),
            (9, "unit".to_owned()),
        ]
    );
    let lines = report.rejected_lines().join("\n");
    assert!(lines.contains("unknown unit `NOPE`"), "{lines}");
    assert!(lines.contains("first in row 2"), "{lines}");
    assert!(lines.contains("`AC-1` is a county_bureau"), "{lines}");
    // Nothing of it was stored, not even the good first row.
    assert_eq!(app.store.metrics("2026").await.unwrap(), before);
    assert_eq!(app.store.metric_batch_count().await.unwrap(), batches);

    // A header without the value column, a bad period: clear errors.
    let mut t = table(ok);
    t.header[2] = "amount".into();
    let err = assess::import_metrics_table(&app, &t, "x.csv", "2026", Actor::Cli, now(), false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no `value` column"), "{err}");
    let err =
        assess::import_metrics_table(&app, &table(ok), "x.csv", "26", Actor::Cli, now(), false)
            .await
            .unwrap_err();
    assert!(err.to_string().contains("period"), "{err}");
    // A leader may not import.
    let leader = principal(&app, Role::Leader, "AC").await;
    assert!(matches!(
        assess::import_metrics_table(
            &app,
            &table(ok),
            "x.csv",
            "2026",
            Actor::User(&leader),
            now(),
            false
        )
        .await,
        Err(AppError::Forbidden)
    ));
    // A changed value replaces the stored one.
    let changed = import(&app, &[&["AC-1-S1", "business.cases_solved", "0.85"]])
        .await
        .stored
        .unwrap();
    assert_eq!((changed.inserted, changed.updated), (0, 1));
    app.store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assess_gathered_inputs_equal_hand_computed_sqlite() {
    gathered_inputs_equal_hand_computed(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assess_gathered_inputs_equal_hand_computed_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    gathered_inputs_equal_hand_computed(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assess_run_ties_missing_rerun_and_appeal_sqlite() {
    run_ties_missing_rerun_and_appeal(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assess_run_ties_missing_rerun_and_appeal_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    run_ties_missing_rerun_and_appeal(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assess_bad_metric_files_store_nothing_sqlite() {
    bad_metric_files_store_nothing(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assess_bad_metric_files_store_nothing_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    bad_metric_files_store_nothing(db).await;
}

/// The default scheme on the demo city: 72 ranked stations, each with its breakdown,
/// the 2014 rules applied with their guards, and a byte-identical rerun.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assess_default_scheme_ranks_the_demo_city() {
    let db = TestDb::sqlite();
    let app = super::app_for(&db).await;
    minyi_app::demo::load(&app, 5, crate::small(), &|_| {})
        .await
        .unwrap();
    // The small demo has no survey wave; draw the synthetic one.
    surveys::load_demo_wave(&app, 5, 100).await.unwrap();
    // The demo invented every station's metrics for 2026.
    let metrics = app.store.metrics("2026").await.unwrap();
    assert_eq!(metrics.len(), 72 * assess::DEMO_METRICS.len());

    let run = assess::run(&app, None, "2026", Actor::Cli).await.unwrap();
    assert_eq!(run.scheme.id, "baoshan_default");
    assert_eq!(run.scheme_text, Scheme::default_2014_text());
    let res = &run.result;
    assert_eq!(res.ranked, 72, "excluded: {:?}", res.excluded);
    assert_eq!(res.units.len(), 72);
    assert!(res.excluded.is_empty());
    let n_ind = run.scheme.indicators().count();
    for u in &res.units {
        // The explanation: every indicator line, contributions adding up to the base.
        assert_eq!(u.indicators.len(), n_ind, "{}", u.unit);
        let sum: f64 = u.indicators.iter().map(|i| i.contribution).sum();
        assert!((sum - u.base_score).abs() < 1e-6, "{}", u.unit);
        let basis = u.basis.as_ref().expect("survey basis for every station");
        assert_eq!(basis.ranked, 72);
        assert!(u.uncertainty.is_some(), "{}: rank interval", u.unit);
        // The three survey indicators carry their standard error and a drill-down.
        for i in u
            .indicators
            .iter()
            .filter(|i| i.source.starts_with("survey."))
        {
            assert!(i.se.is_some() && !i.drill_down.is_empty(), "{}", u.unit);
        }
        for o in &u.outcomes {
            assert!(!o.reasons.is_empty(), "{}: {o:?}", u.unit);
        }
    }
    // The rules: bottom 10 of the basis are award-ineligible (no guard); the top 6 and
    // bottom 3 get their outcome or a review, never nothing.
    let with = |code: OutcomeCode| {
        res.units
            .iter()
            .filter(|u| u.outcomes.iter().any(|o| o.outcome == code))
            .count()
    };
    assert!(with(OutcomeCode::AwardIneligible) >= 10);
    for u in &res.units {
        let b = u.basis.as_ref().unwrap();
        if b.rank <= 6 || b.rank > 69 {
            assert!(!u.outcomes.is_empty(), "{} basis rank {}", u.unit, b.rank);
        }
    }
    // Jurisdiction conditions were read for every station.
    assert!(res.units.iter().all(|u| {
        u.conditions
            .iter()
            .all(|c| c.status != minyi_assess::ConditionStatus::NoData)
    }));
    let again = assess::rerun(&app, run.id).await.unwrap();
    assert!(again.identical);
    app.store.close().await;
    db.drop_db().await;
}
