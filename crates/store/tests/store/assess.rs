//! Assessment storage: a run reads back byte for byte; the newest run per period; an
//! appeal is decided once, its new run stored in the same transaction; metric imports
//! insert, replace and leave equal values alone, per unit, period and code.

use chrono::{TimeZone, Utc};
use minyi_core::Code;
use minyi_core::org::{NewUnit, UnitKind};
use minyi_store::testing::TestDb;
use minyi_store::{
    AppealQuery, AppealResolution, MetricValue, NewAppeal, NewMetricBatch, NewRun, Store,
};

conformance!(
    assess:
    runs_round_trip_and_latest_per_period,
    appeal_is_decided_once_with_its_run,
    metric_imports_are_idempotent_per_unit_period_code,
);

async fn stations(store: &Store) -> (i64, i64) {
    let unit = |c: &str, kind, parent: Option<&str>| NewUnit {
        code: Code::parse(c).unwrap(),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(|p| Code::parse(p).unwrap()),
        window: None,
        department: None,
        synthetic: false,
    };
    let ids = store
        .insert_units(&[
            unit("Z", UnitKind::CityBureau, None),
            unit("Z-1", UnitKind::CountyBureau, Some("Z")),
            unit("Z-1-S1", UnitKind::Station, Some("Z-1")),
            unit("Z-1-S2", UnitKind::Station, Some("Z-1")),
        ])
        .await
        .unwrap();
    (ids[2], ids[3])
}

fn run(period: &str, tag: &str) -> NewRun {
    NewRun {
        period: period.into(),
        scheme_id: "s".into(),
        scheme_version: "1".into(),
        scheme_hash: format!("sh-{tag}"),
        // Real scheme texts have comments, Chinese and newlines: keep them exactly.
        scheme_text: "# 方案\nid = \"s\"\n\tweight = 0.49\n".into(),
        input_hash: format!("ih-{tag}"),
        input_json: "{\"period\":\"2026\",\"units\":[{\"code\":\"Z-1-S1\"}]}".into(),
        result_hash: format!("rh-{tag}"),
        result_json: "{\"score\":12.345678901234}".into(),
        created_at: Utc.with_ymd_and_hms(2026, 11, 2, 3, 4, 5).unwrap(),
        created_by: "cli".into(),
        parent_id: None,
        reason: None,
    }
}

pub async fn runs_round_trip_and_latest_per_period(store: &Store, _db: &TestDb) {
    let a = store.insert_run(&run("2026", "a")).await.unwrap();
    let b = store.insert_run(&run("2025", "b")).await.unwrap();
    let mut child = run("2026", "c");
    child.parent_id = Some(a);
    child.reason = Some("appeal 1".into());
    let c = store.insert_run(&child).await.unwrap();
    let got = store.assessment_run(a).await.unwrap().unwrap();
    assert_eq!(got.run, run("2026", "a"));
    assert_eq!(store.assessment_run(c).await.unwrap().unwrap().run, child);
    assert!(store.assessment_run(c + 100).await.unwrap().is_none());
    let list = store.assessment_runs().await.unwrap();
    assert_eq!(
        list.iter().map(|r| r.id).collect::<Vec<_>>(),
        [c, b, a],
        "newest first"
    );
    assert_eq!(list[0].parent_id, Some(a));
    assert_eq!(
        store
            .latest_assessment_run(Some("2026"))
            .await
            .unwrap()
            .unwrap()
            .id,
        c
    );
    assert_eq!(
        store
            .latest_assessment_run(Some("2025"))
            .await
            .unwrap()
            .unwrap()
            .id,
        b
    );
    assert!(
        store
            .latest_assessment_run(Some("2024"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.latest_assessment_run(None).await.unwrap().unwrap().id,
        c
    );
}

pub async fn appeal_is_decided_once_with_its_run(store: &Store, _db: &TestDb) {
    let (s1, s2) = stations(store).await;
    let original = store.insert_run(&run("2026", "a")).await.unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 3, 0, 0, 0).unwrap();
    let appeal = |unit| NewAppeal {
        run_id: original,
        unit_id: unit,
        indicator: "solved".into(),
        claimed_value: 0.9,
        reason: "漏统计十二月".into(),
        filed_by: "user:s1".into(),
        filed_at: at,
    };
    let x = store.insert_appeal(&appeal(s1)).await.unwrap();
    let y = store.insert_appeal(&appeal(s2)).await.unwrap();
    let filed = store.appeal(x).await.unwrap().unwrap();
    assert_eq!(
        (filed.state.as_str(), filed.claimed_value, filed.resolved_at),
        ("filed", 0.9, None)
    );
    let all = store.appeals(&AppealQuery::default()).await.unwrap();
    assert_eq!(all.iter().map(|a| a.id).collect::<Vec<_>>(), [y, x]);
    let only_s2 = store
        .appeals(&AppealQuery {
            unit_ids: Some(vec![s2]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(only_s2.len(), 1);
    assert!(
        store
            .appeals(&AppealQuery {
                unit_ids: Some(vec![]),
                ..Default::default()
            })
            .await
            .unwrap()
            .is_empty()
    );

    let upheld = AppealResolution {
        state: "upheld".into(),
        corrected_value: Some(0.85),
        resolution: "核实".into(),
        resolved_by: "user:city".into(),
        resolved_at: at,
    };
    let mut corrected = run("2026", "fix");
    corrected.parent_id = Some(original);
    corrected.reason = Some(format!("appeal {x}"));
    let new_id = store
        .resolve_appeal(x, &upheld, Some(&corrected))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let done = store.appeal(x).await.unwrap().unwrap();
    assert_eq!(done.state, "upheld");
    assert_eq!(done.corrected_value, Some(0.85));
    assert_eq!(done.result_run_id, Some(new_id));
    assert_eq!(done.resolved_at, Some(at));
    assert_eq!(
        store.assessment_run(new_id).await.unwrap().unwrap().run,
        corrected
    );
    // A second decision changes nothing, and its run is not stored either.
    let runs_before = store.assessment_runs().await.unwrap().len();
    assert_eq!(
        store
            .resolve_appeal(x, &upheld, Some(&run("2026", "again")))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.assessment_runs().await.unwrap().len(), runs_before);
    let rejected = AppealResolution {
        state: "rejected".into(),
        corrected_value: None,
        ..upheld.clone()
    };
    assert_eq!(
        store.resolve_appeal(y, &rejected, None).await.unwrap(),
        Some(None)
    );
    let by_state = store
        .appeals(&AppealQuery {
            state: Some("rejected".into()),
            run_id: Some(original),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_state.iter().map(|a| a.id).collect::<Vec<_>>(), [y]);
}

pub async fn metric_imports_are_idempotent_per_unit_period_code(store: &Store, _db: &TestDb) {
    let (s1, s2) = stations(store).await;
    let batch = |period: &str| NewMetricBatch {
        period: period.into(),
        source: "m.csv".into(),
        imported_at: Utc.with_ymd_and_hms(2026, 11, 3, 0, 0, 0).unwrap(),
        imported_by: "cli".into(),
        synthetic: false,
    };
    let v = |unit, code: &str, value| MetricValue {
        unit_id: unit,
        code: code.into(),
        value,
    };
    let rows = [
        v(s1, "business.cases_solved", 0.1 + 0.2),
        v(s2, "business.cases_solved", 0.5),
        v(s1, "team.building", 88.0),
    ];
    let o = store.import_metrics(&batch("2026"), &rows).await.unwrap();
    assert_eq!((o.inserted, o.updated, o.unchanged), (3, 0, 0));
    let o = store.import_metrics(&batch("2026"), &rows).await.unwrap();
    assert_eq!((o.inserted, o.updated, o.unchanged), (0, 0, 3));
    // Another period is another value.
    let o = store
        .import_metrics(&batch("2025"), &rows[..1])
        .await
        .unwrap();
    assert_eq!(o.inserted, 1);
    let o = store
        .import_metrics(&batch("2026"), &[v(s2, "business.cases_solved", 0.6)])
        .await
        .unwrap();
    assert_eq!((o.inserted, o.updated), (0, 1));
    let got = store.metrics("2026").await.unwrap();
    assert_eq!(
        got,
        [
            v(s1, "business.cases_solved", 0.1 + 0.2),
            v(s1, "team.building", 88.0),
            v(s2, "business.cases_solved", 0.6),
        ],
        "values read back exactly, by unit then code"
    );
    assert_eq!(store.metrics("2025").await.unwrap().len(), 1);
    assert_eq!(store.metric_batch_count().await.unwrap(), 4);
    // A non-finite value is refused and the whole batch with it.
    assert!(
        store
            .import_metrics(
                &batch("2026"),
                &[v(s1, "team.x", 1.0), v(s2, "team.y", f64::NAN)]
            )
            .await
            .is_err()
    );
    assert_eq!(store.metrics("2026").await.unwrap().len(), 3);
    assert_eq!(store.metric_batch_count().await.unwrap(), 4);
}
