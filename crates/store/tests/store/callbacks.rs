//! Callback stories: one callback per record and rule, created once and kept up to date
//! only while nobody has called; attempts with their history and conflicts; the
//! planner's cursor over changed records; the worklist of a set of units.

use chrono::{DateTime, Duration, TimeZone, Utc};
use minyi_core::Code;
use minyi_core::callback::Exclusion;
use minyi_core::event::{NewEvent, SubjectKind};
use minyi_core::org::{NewUnit, UnitKind, WindowKind};
use minyi_core::records::{
    CallbackOutcome, CallbackSource, CallbackState, CaseKind, NewCase, NewIncident, RecordAction,
};
use minyi_core::taxonomy::{Category, Verdict};
use minyi_store::testing::TestDb;
use minyi_store::{AttemptChange, CallbackQuery, NewCallback, Store, StoreError};
use sqlx::Connection;

conformance!(
    callbacks:
    callbacks_once_per_record_and_rule,
    attempts_keep_history_and_refuse_stale_writes,
    planner_cursor_walks_changed_records,
    worklist_is_scoped_and_due_first,
);

fn t(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

async fn units(store: &Store) -> (i64, i64, i64) {
    let u = |c: &str, kind, parent: Option<&str>| NewUnit {
        code: Code::parse(c).unwrap(),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(|p| Code::parse(p).unwrap()),
        window: (kind == UnitKind::Window).then_some(WindowKind::Household),
        department: None,
        synthetic: false,
    };
    let ids = store
        .insert_units(&[
            u("K", UnitKind::CityBureau, None),
            u("K-1", UnitKind::CountyBureau, Some("K")),
            u("K-1-S1", UnitKind::Station, Some("K-1")),
            u("K-1-S2", UnitKind::Station, Some("K-1")),
        ])
        .await
        .unwrap();
    (ids[1], ids[2], ids[3])
}

fn incident(id: &str, unit: i64) -> NewIncident {
    NewIncident {
        external_id: id.into(),
        received_at: t(2, 9),
        area_id: None,
        unit_id: Some(unit),
        category: Category::Emergency110,
        police_matter: true,
        department: None,
        summary: "求助".into(),
        closed_at: Some(t(2, 11)),
        resolved: Some(true),
        synthetic: false,
    }
}

fn planned(source_id: i64, rule: &str, unit: i64, state: CallbackState) -> NewCallback {
    NewCallback {
        source: CallbackSource::Case,
        source_id,
        rule: rule.into(),
        unit_id: unit,
        trigger_at: t(3, 9),
        due_at: t(6, 15),
        state,
        exclusion: (state == CallbackState::Excluded).then_some(Exclusion::NoContact),
        contact_id: None,
        synthetic: false,
    }
}

async fn exec(db: &TestDb, sql: &str, binds: &[i64]) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    for b in binds {
        q = q.bind(*b);
    }
    q.execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

pub async fn callbacks_once_per_record_and_rule(store: &Store, _db: &TestDb) {
    let (_, s1, s2) = units(store).await;
    let now = t(3, 10);
    let batch = [
        planned(1, "case_filed", s1, CallbackState::Pending),
        planned(1, "case_solved", s1, CallbackState::Pending),
        planned(2, "case_filed", s1, CallbackState::Excluded),
    ];
    assert_eq!(store.upsert_callbacks(&batch, now).await.unwrap(), (3, 0));
    // Again: nothing new, nothing changed.
    assert_eq!(store.upsert_callbacks(&batch, now).await.unwrap(), (0, 0));
    // A contact appears for case 2 and case 1 moves to another station: both follow.
    let mut later = batch.clone();
    later[2].state = CallbackState::Pending;
    later[2].exclusion = None;
    later[0].unit_id = s2;
    assert_eq!(store.upsert_callbacks(&later, now).await.unwrap(), (0, 2));
    let rows = store
        .callbacks_of_record(CallbackSource::Case, 1)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].rule.as_str(), rows[0].unit_id), ("case_filed", s2));
    assert_eq!(rows[0].trigger_at, Some(t(3, 9)));
    assert_eq!(rows[0].next_attempt_at, Some(t(3, 9)));
    let two = store
        .callbacks_of_record(CallbackSource::Case, 2)
        .await
        .unwrap();
    assert_eq!(
        (two[0].state, two[0].excluded_reason),
        (CallbackState::Pending, None)
    );

    // Once someone has called, the plan no longer changes the callback.
    let id = rows[0].id;
    store
        .record_callback_attempt(
            id,
            &AttemptChange {
                expected_attempts: 0,
                at: t(4, 9),
                actor: "user:a".into(),
                outcome: CallbackOutcome::NoAnswer,
                verdict: None,
                state: CallbackState::Pending,
                next_attempt_at: Some(t(4, 13)),
            },
        )
        .await
        .unwrap();
    let mut excluded = later.clone();
    excluded[0].state = CallbackState::Excluded;
    excluded[0].exclusion = Some(Exclusion::OngoingDanger);
    assert_eq!(
        store.upsert_callbacks(&excluded, now).await.unwrap(),
        (0, 0)
    );
    let c = store.callback(id).await.unwrap().unwrap();
    assert_eq!((c.state, c.attempts), (CallbackState::Pending, 1));
}

pub async fn attempts_keep_history_and_refuse_stale_writes(store: &Store, _db: &TestDb) {
    let (_, s1, _) = units(store).await;
    store
        .upsert_callbacks(
            &[planned(9, "case_closed", s1, CallbackState::Pending)],
            t(3, 10),
        )
        .await
        .unwrap();
    let id = store
        .callbacks_of_record(CallbackSource::Case, 9)
        .await
        .unwrap()[0]
        .id;
    let change = |expected, state, outcome, verdict| AttemptChange {
        expected_attempts: expected,
        at: t(4, 9) + Duration::hours(expected * 4),
        actor: "user:b".into(),
        outcome,
        verdict,
        state,
        next_attempt_at: None,
    };
    store
        .record_callback_attempt(
            id,
            &change(0, CallbackState::Pending, CallbackOutcome::NoAnswer, None),
        )
        .await
        .unwrap();
    // A second caller who loaded the page before the first attempt loses, whole.
    let stale = store
        .record_callback_attempt(
            id,
            &change(0, CallbackState::Failed, CallbackOutcome::WrongNumber, None),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    store
        .record_callback_attempt(
            id,
            &change(
                1,
                CallbackState::Done,
                CallbackOutcome::Reached,
                Some(Verdict::Dissatisfied),
            ),
        )
        .await
        .unwrap();
    let c = store.callback(id).await.unwrap().unwrap();
    assert_eq!(c.state, CallbackState::Done);
    assert_eq!(c.attempts, 2);
    assert_eq!(c.outcome, Some(CallbackOutcome::Reached));
    assert_eq!(c.verdict, Some(Verdict::Dissatisfied));
    assert_eq!(c.closed_at, Some(t(4, 13)));
    // Finished: no further attempt.
    assert!(matches!(
        store
            .record_callback_attempt(
                id,
                &change(2, CallbackState::Done, CallbackOutcome::Refused, None)
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    let attempts = store.callback_attempts(id).await.unwrap();
    let outcomes: Vec<_> = attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        vec![CallbackOutcome::NoAnswer, CallbackOutcome::Reached]
    );
    let events = store.events_of(SubjectKind::Callback, id).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].to_state.as_deref(), Some("done"));
}

pub async fn planner_cursor_walks_changed_records(store: &Store, db: &TestDb) {
    let (_, s1, _) = units(store).await;
    store
        .insert_incidents(&[
            incident("JQ-A", s1),
            incident("JQ-B", s1),
            incident("JQ-C", s1),
        ])
        .await
        .unwrap();
    store
        .insert_cases(&[NewCase {
            external_id: "AJ-A".into(),
            kind: CaseKind::Theft,
            station_id: s1,
            area_id: None,
            reported_at: t(2, 9),
            filed_at: Some(t(3, 9)),
            solved_at: None,
            closed_at: None,
            loss_fen: 1000,
            recovered_fen: 500,
            synthetic: false,
        }])
        .await
        .unwrap();
    let ids: Vec<i64> = store
        .records_to_plan(CallbackSource::Incident, (-1, 0), i64::MAX, 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        ids.len(),
        3,
        "rows from before schema 8 (changed_at 0) are read"
    );
    // B changes later, with a contact holding a phone and the danger flag.
    exec(
        db,
        "INSERT INTO contacts (id, phone_enc, phone_masked, created_at) VALUES (77, 'x', '138****0000', 0)",
        &[],
    )
    .await;
    exec(
        db,
        "UPDATE incidents SET changed_at = $1, contact_id = 77, ongoing_danger = 1 WHERE id = $2",
        &[t(5, 9).timestamp_millis(), ids[1]],
    )
    .await;
    let first = store
        .records_to_plan(CallbackSource::Incident, (-1, 0), i64::MAX, 2)
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ids[0], ids[2]]
    );
    let last = first.last().unwrap();
    let rest = store
        .records_to_plan(
            CallbackSource::Incident,
            (last.changed_at, last.id),
            i64::MAX,
            2,
        )
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    let b = &rest[0];
    assert_eq!(b.external_id, "JQ-B");
    assert!(b.has_phone && b.ongoing_danger && !b.domestic_violence);
    assert_eq!(b.contact_id, Some(77));
    assert!(b.milestones.contains(&(RecordAction::Closed, t(2, 11))));
    // Not settled yet: a change newer than `until` waits for the next pass.
    let unsettled = store
        .records_to_plan(
            CallbackSource::Incident,
            (last.changed_at, last.id),
            t(5, 8).timestamp_millis(),
            2,
        )
        .await
        .unwrap();
    assert!(unsettled.is_empty());
    // Cases carry their milestones; events add what the columns do not.
    let cases = store
        .records_to_plan(CallbackSource::Case, (-1, 0), i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(cases[0].recovered_fen, 500);
    assert!(
        cases[0]
            .milestones
            .contains(&(RecordAction::Filed, t(3, 9)))
    );
    store
        .insert_events(&[NewEvent {
            subject: SubjectKind::Case,
            subject_id: cases[0].id,
            at: t(6, 9),
            actor: "import".into(),
            action: "loss_recovered".into(),
            from_state: None,
            to_state: None,
            detail: None,
        }])
        .await
        .unwrap();
    let ev = store
        .record_milestone_events(SubjectKind::Case, &[cases[0].id])
        .await
        .unwrap();
    assert_eq!(
        ev,
        vec![(cases[0].id, RecordAction::LossRecovered, t(6, 9))]
    );
}

pub async fn worklist_is_scoped_and_due_first(store: &Store, _db: &TestDb) {
    let (county, s1, s2) = units(store).await;
    let mut items = Vec::new();
    for (i, (unit, day, state)) in [
        (s1, 9, CallbackState::Pending),
        (s1, 5, CallbackState::Pending),
        (s1, 4, CallbackState::Done),
        (s2, 3, CallbackState::Pending),
        (s1, 8, CallbackState::Excluded),
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = planned(100 + i as i64, "case_filed", unit, state);
        c.due_at = t(day, 15);
        items.push(c);
    }
    store.upsert_callbacks(&items, t(1, 9)).await.unwrap();
    let q = CallbackQuery {
        limit: 50,
        ..Default::default()
    };
    let (rows, total) = store.callback_worklist(&[s1], &q, t(6, 9)).await.unwrap();
    assert_eq!(total, 4);
    let order: Vec<_> = rows.iter().map(|r| (r.source_id, r.state)).collect();
    assert_eq!(
        order,
        vec![
            (101, CallbackState::Pending),
            (100, CallbackState::Pending),
            (102, CallbackState::Done),
            (104, CallbackState::Excluded),
        ]
    );
    let overdue = CallbackQuery {
        overdue: true,
        limit: 50,
        ..Default::default()
    };
    let (rows, total) = store
        .callback_worklist(&[s1, s2], &overdue, t(6, 9))
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(
        rows.iter().map(|r| r.source_id).collect::<Vec<_>>(),
        vec![103, 101]
    );
    let excluded = CallbackQuery {
        state: Some(CallbackState::Excluded),
        source: Some(CallbackSource::Case),
        limit: 1,
        ..Default::default()
    };
    let (rows, total) = store
        .callback_worklist(&[s1, s2, county], &excluded, t(6, 9))
        .await
        .unwrap();
    assert_eq!((rows.len(), total), (1, 1));
    assert_eq!(rows[0].excluded_reason, Some(Exclusion::NoContact));
    assert!(
        store
            .callback_worklist(&[], &q, t(6, 9))
            .await
            .unwrap()
            .0
            .is_empty()
    );
}
