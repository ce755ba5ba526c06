//! The stories the conformance suite runs on each backend.

use chrono::{DateTime, TimeZone, Utc};
use minyi_core::Code;
use minyi_core::event::SubjectKind;
use minyi_core::opinion::{
    Escalation, NewOpinion, OpinionAction, OpinionState, OpinionText, TrackingCode,
};
use minyi_core::org::{
    AreaKind, GeoPoint, NewArea, NewOfficer, NewUnit, OfficerRole, UnitKind, WindowKind,
};
use minyi_core::records::{
    CaseKind, NewCase, NewIncident, NewPermit, NewRating, PermitKind, RatingLevel, RatingScale,
};
use minyi_core::taxonomy::{Category, Channel, DepartmentKind, Sentiment, Urgency};
use minyi_store::testing::TestDb;
use minyi_store::{Backend, InsertOutcome, Store, StoreError};

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

fn t(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

fn unit(c: &str, kind: UnitKind, name: &str, parent: Option<&str>) -> NewUnit {
    NewUnit {
        code: code(c),
        kind,
        name: name.into(),
        parent: parent.map(code),
        window: (kind == UnitKind::Window).then_some(WindowKind::Household),
        department: (kind == UnitKind::Department).then_some(DepartmentKind::Labour),
        synthetic: true,
    }
}

/// City → county → two stations with a window each, plus a linked department; a county
/// area with two townships and a village. Returns the ids of the two stations and the
/// first window.
async fn small_city(store: &Store) -> (i64, i64, i64) {
    let ids = store
        .insert_units(&[
            unit("C", UnitKind::CityBureau, "保山市公安局（合成）", None),
            unit("C-1", UnitKind::CountyBureau, "隆阳分局", Some("C")),
            unit("C-1-S1", UnitKind::Station, "甲镇派出所", Some("C-1")),
            unit("C-1-S2", UnitKind::Station, "乙镇派出所", Some("C-1")),
            unit("C-1-S1-W", UnitKind::Window, "户政窗口", Some("C-1-S1")),
            unit("C-D-LAB", UnitKind::Department, "人社局", Some("C")),
        ])
        .await
        .unwrap();
    let area = |c: &str, kind, parent: Option<&str>, station: Option<&str>| NewArea {
        code: code(c),
        kind,
        name: format!("区域{c}"),
        parent: parent.map(code),
        station: station.map(code),
        population: 1000,
        centre: Some(GeoPoint::parse(99.16, 25.12).unwrap()),
        synthetic: true,
    };
    store
        .insert_areas(&[
            area("A", AreaKind::County, None, None),
            area("A-1", AreaKind::Township, Some("A"), Some("C-1-S1")),
            area("A-2", AreaKind::Township, Some("A"), Some("C-1-S2")),
            area("A-1-1", AreaKind::Village, Some("A-1"), Some("C-1-S1")),
        ])
        .await
        .unwrap();
    (ids[2], ids[3], ids[4])
}

fn opinion(bits: u64, key: Option<&str>, unit_id: Option<i64>, text: &str) -> NewOpinion {
    NewOpinion {
        tracking_code: TrackingCode::from_bits(bits),
        client_key: key.map(str::to_owned),
        channel: Channel::WebForm,
        text: OpinionText::parse(text).unwrap(),
        category: Category::PublicOrder,
        sentiment: Sentiment::Negative,
        urgency: Urgency::Normal,
        department: None,
        area_id: None,
        unit_id,
        department_id: None,
        state: OpinionState::Received,
        escalation: Escalation::Station,
        key_opinion: false,
        received_at: t(2, 9),
        due_at: Some(t(9, 15)),
        closed_at: None,
        verdict: None,
        synthetic: true,
    }
}

pub async fn migrations_are_applied_once_and_marked(store: &Store, _db: &TestDb) {
    assert_eq!(
        store.meta_get("app").await.unwrap().as_deref(),
        Some("minyi")
    );
    store.ping().await.unwrap();
    // Opening the same database again applies nothing and fails nothing.
    let again = Store::open(&_db.url).await.unwrap();
    assert_eq!(
        again.meta_get("app").await.unwrap().as_deref(),
        Some("minyi")
    );
    again.close().await;
}

pub async fn reopening_keeps_data(store: &Store, db: &TestDb) {
    small_city(store).await;
    store.meta_set("note", "第一次").await.unwrap();
    store.meta_set("note", "第二次").await.unwrap();
    let again = Store::open(&db.url).await.unwrap();
    assert_eq!(again.units().await.unwrap().len(), 6);
    assert_eq!(
        again.meta_get("note").await.unwrap().as_deref(),
        Some("第二次")
    );
    again.close().await;
}

pub async fn foreign_database_is_refused(store: &Store, db: &TestDb) {
    // A second, empty database beside this one gets someone else's table first.
    let other = match db.backend {
        Backend::Sqlite => TestDb::sqlite(),
        Backend::Postgres => TestDb::postgres().await.unwrap(),
    };
    {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(&format!(
            "{}{}",
            other.url,
            if other.backend == Backend::Sqlite {
                "?mode=rwc"
            } else {
                ""
            }
        ))
        .await
        .unwrap();
        sqlx::raw_sql("CREATE TABLE payroll (id BIGINT PRIMARY KEY, amount BIGINT)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let err = Store::open(&other.url).await.unwrap_err();
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
    assert!(err.to_string().contains("payroll"), "{err}");
    other.drop_db().await;
    store.ping().await.unwrap();
}

pub async fn newer_schema_is_refused(store: &Store, db: &TestDb) {
    let pool_url = db.url.clone();
    {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(&pool_url).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO minyi_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let err = Store::open(&pool_url).await.unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 999, .. }),
        "{err}"
    );
    store.ping().await.unwrap();
}

pub async fn unit_and_area_trees(store: &Store, _db: &TestDb) {
    let (s1, _s2, w) = small_city(store).await;
    let units = store.units().await.unwrap();
    assert_eq!(units.len(), 6);
    let window = units.iter().find(|u| u.id == w).unwrap();
    assert_eq!(window.parent_id, Some(s1));
    assert_eq!(window.window, Some(WindowKind::Household));
    let dept = store.unit_by_code("C-D-LAB").await.unwrap().unwrap();
    assert_eq!(dept.department, Some(DepartmentKind::Labour));
    assert!(store.unit_by_code("nope").await.unwrap().is_none());
    let areas = store.areas().await.unwrap();
    assert_eq!(areas.len(), 4);
    let village = areas.iter().find(|a| a.code.as_str() == "A-1-1").unwrap();
    assert_eq!(village.station_id, Some(s1));
    assert_eq!(village.kind, AreaKind::Village);
    assert_eq!(village.lon, Some(99.16));
    assert!(village.synthetic);
    // An area without a centre, then one with: the coordinates bind the same way both times.
    let plain = NewArea {
        code: code("A-9"),
        kind: AreaKind::Township,
        name: "无中心点".into(),
        parent: Some(code("A")),
        station: Some(code("C-1-S1")),
        population: 10,
        centre: None,
        synthetic: true,
    };
    let placed = NewArea {
        code: code("A-10"),
        centre: Some(GeoPoint::parse(99.2, 25.1).unwrap()),
        ..plain.clone()
    };
    store.insert_areas(&[plain, placed]).await.unwrap();
    let areas = store.areas().await.unwrap();
    let find = |c: &str| areas.iter().find(|a| a.code.as_str() == c).unwrap().clone();
    assert_eq!((find("A-9").lon, find("A-9").lat), (None, None));
    assert_eq!(
        (find("A-10").lon, find("A-10").lat),
        (Some(99.2), Some(25.1))
    );
}

pub async fn tree_errors_change_nothing(store: &Store, _db: &TestDb) {
    small_city(store).await;
    // The second unit's parent does not exist: the first must not be stored either.
    let err = store
        .insert_units(&[
            unit("C-2", UnitKind::CountyBureau, "施甸县局", Some("C")),
            unit("C-9-S", UnitKind::Station, "丙所", Some("C-9")),
        ])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("C-9"), "{err}");
    // A station cannot contain a department.
    let err = store
        .insert_units(&[unit(
            "C-1-S1-D",
            UnitKind::Department,
            "部门",
            Some("C-1-S1"),
        )])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot sit under"), "{err}");
    // A duplicate code is refused.
    assert!(
        store
            .insert_units(&[unit("C-1", UnitKind::CountyBureau, "重复", Some("C"))])
            .await
            .is_err()
    );
    assert_eq!(store.units().await.unwrap().len(), 6);
    // A village whose responsible unit is not a station is refused.
    let bad = NewArea {
        code: code("A-2-1"),
        kind: AreaKind::Village,
        name: "丁村".into(),
        parent: Some(code("A-2")),
        station: Some(code("C-1")),
        population: 10,
        centre: None,
        synthetic: true,
    };
    let err = store.insert_areas(&[bad]).await.unwrap_err();
    assert!(err.to_string().contains("not a station"), "{err}");
    assert_eq!(store.areas().await.unwrap().len(), 4);
}

pub async fn officers_by_unit(store: &Store, _db: &TestDb) {
    let (s1, _, _) = small_city(store).await;
    let o = |name: &str, role| NewOfficer {
        unit: code("C-1-S1"),
        name: name.into(),
        role,
        duty_phone: (role == OfficerRole::Chief)
            .then(|| minyi_core::PhoneNumber::parse("0875-2000000").unwrap()),
        synthetic: true,
    };
    let n = store
        .insert_officers(&[
            o("李社区", OfficerRole::CommunityOfficer),
            o("王所长", OfficerRole::Chief),
            o("赵教导", OfficerRole::Instructor),
        ])
        .await
        .unwrap();
    assert_eq!(n, 3);
    let officers = store.officers_of(s1).await.unwrap();
    let roles: Vec<_> = officers.iter().map(|o| o.role).collect();
    assert_eq!(
        roles,
        [
            OfficerRole::Chief,
            OfficerRole::Instructor,
            OfficerRole::CommunityOfficer
        ]
    );
    assert_eq!(officers[0].duty_phone.as_deref(), Some("08752000000"));
    let err = store
        .insert_officers(&[NewOfficer {
            unit: code("XX"),
            ..o("无名", OfficerRole::Chief)
        }])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("XX"), "{err}");
}

pub async fn opinion_intake_is_idempotent(store: &Store, _db: &TestDb) {
    let (s1, _, _) = small_city(store).await;
    let first = store
        .insert_opinions(
            &[
                opinion(1, Some("k-1"), Some(s1), "路灯坏了"),
                opinion(2, None, Some(s1), "噪音扰民"),
            ],
            "test",
        )
        .await
        .unwrap();
    let InsertOutcome::Created(id1) = first[0] else {
        panic!("{first:?}")
    };
    assert!(matches!(first[1], InsertOutcome::Created(_)));
    // The same client key again, even with a new tracking code, is the same opinion.
    let again = store
        .insert_opinions(&[opinion(3, Some("k-1"), Some(s1), "路灯坏了")], "test")
        .await
        .unwrap();
    assert_eq!(again, vec![InsertOutcome::Existing(id1)]);
    assert_eq!(store.counts().await.unwrap().opinions, 2);
    let events = store.events_of(SubjectKind::Opinion, id1).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "receive");
    assert_eq!(events[0].to_state.as_deref(), Some("received"));
}

pub async fn tracking_code_collision_is_reported(store: &Store, _db: &TestDb) {
    small_city(store).await;
    store
        .insert_opinions(&[opinion(42, None, None, "第一条")], "test")
        .await
        .unwrap();
    let out = store
        .insert_opinions(
            &[
                opinion(42, None, None, "第二条"),
                opinion(43, None, None, "第三条"),
            ],
            "test",
        )
        .await
        .unwrap();
    assert_eq!(out[0], InsertOutcome::CodeTaken);
    assert!(matches!(out[1], InsertOutcome::Created(_)));
    let stored = store
        .opinion_by_tracking_code(&TrackingCode::from_bits(42))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.text, "第一条");
}

pub async fn opinion_text_round_trips_exactly(store: &Store, _db: &TestDb) {
    small_city(store).await;
    let texts = [
        "<script>alert('x')</script> 我们村的路灯坏了",
        "表扬民警😀👍，態度很好（繁體字）",
        "多行\n文字\t带制表符 and English, 'quotes' \"double\" ; DROP TABLE opinions; --",
        &"长".repeat(5000),
    ];
    for (i, text) in texts.iter().enumerate() {
        let out = store
            .insert_opinions(&[opinion(100 + i as u64, None, None, text)], "test")
            .await
            .unwrap();
        let InsertOutcome::Created(id) = out[0] else {
            panic!()
        };
        let row = store.opinion(id).await.unwrap().unwrap();
        assert_eq!(row.text, *text);
        assert_eq!(row.received_at, t(2, 9));
        assert_eq!(row.due_at, Some(t(9, 15)));
        assert_eq!(row.tracking_code, TrackingCode::from_bits(100 + i as u64));
    }
}

pub async fn lifecycle_writes_state_and_event_together(store: &Store, _db: &TestDb) {
    let (s1, _, _) = small_city(store).await;
    let out = store
        .insert_opinions(&[opinion(7, None, Some(s1), "门口有人聚众赌博")], "test")
        .await
        .unwrap();
    let InsertOutcome::Created(id) = out[0] else {
        panic!()
    };
    let path = [
        (OpinionAction::Triage, OpinionState::Triaged),
        (OpinionAction::Assign, OpinionState::Assigned),
        (OpinionAction::Accept, OpinionState::Accepted),
        (OpinionAction::Return, OpinionState::Triaged),
        (OpinionAction::Assign, OpinionState::Assigned),
        (OpinionAction::Accept, OpinionState::Accepted),
        (OpinionAction::Respond, OpinionState::Responded),
        (OpinionAction::Notify, OpinionState::Notified),
        (OpinionAction::Close, OpinionState::Closed),
        (OpinionAction::Reopen, OpinionState::Assigned),
    ];
    for (i, (action, want)) in path.iter().enumerate() {
        let got = store
            .transition_opinion(
                id,
                *action,
                "站所民警",
                t(3, i as u32),
                Some(r#"{"reason":"测试"}"#),
            )
            .await
            .unwrap();
        assert_eq!(got, *want);
    }
    let row = store.opinion(id).await.unwrap().unwrap();
    assert_eq!(row.state, OpinionState::Assigned);
    assert_eq!(row.closed_at, None, "reopening clears the closing time");
    let events = store.events_of(SubjectKind::Opinion, id).await.unwrap();
    assert_eq!(events.len(), path.len() + 1);
    let last = events.last().unwrap();
    assert_eq!(
        (
            last.action.as_str(),
            last.from_state.as_deref(),
            last.to_state.as_deref()
        ),
        ("reopen", Some("closed"), Some("assigned"))
    );
    assert_eq!(last.actor, "站所民警");
    assert_eq!(events[9].at, t(3, 8));
}

pub async fn refused_transition_changes_nothing(store: &Store, _db: &TestDb) {
    small_city(store).await;
    let out = store
        .insert_opinions(&[opinion(8, None, None, "咨询户口迁移")], "test")
        .await
        .unwrap();
    let InsertOutcome::Created(id) = out[0] else {
        panic!()
    };
    let err = store
        .transition_opinion(id, OpinionAction::Respond, "x", t(3, 1), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Transition(_)), "{err}");
    assert_eq!(
        store.opinion(id).await.unwrap().unwrap().state,
        OpinionState::Received
    );
    assert_eq!(
        store
            .events_of(SubjectKind::Opinion, id)
            .await
            .unwrap()
            .len(),
        1
    );
    let err = store
        .transition_opinion(999_999, OpinionAction::Triage, "x", t(3, 1), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

pub async fn ratings_are_counted_once(store: &Store, _db: &TestDb) {
    let (_, _, w) = small_city(store).await;
    let rating = |id: &str, level| NewRating {
        window_id: w,
        channel: Channel::RatingDevice,
        device: Some("dev-1".into()),
        client_event_id: Some(id.into()),
        level: RatingLevel::parse(RatingScale::Three, level).unwrap(),
        reason: (level == 3).then(|| "等太久了".into()),
        rated_at: t(5, 10),
        synthetic: true,
    };
    assert_eq!(
        store
            .insert_ratings(&[rating("e1", 1), rating("e2", 3)])
            .await
            .unwrap(),
        2
    );
    // The device retries after a lost answer: nothing is counted twice.
    assert_eq!(
        store
            .insert_ratings(&[rating("e1", 1), rating("e2", 3), rating("e3", 2)])
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.counts().await.unwrap().ratings, 3);
}

pub async fn records_idempotent_on_external_id(store: &Store, _db: &TestDb) {
    let (s1, _, w) = small_city(store).await;
    let incident = |id: &str, police| NewIncident {
        external_id: id.into(),
        received_at: t(4, 22),
        area_id: None,
        unit_id: Some(s1),
        category: if police {
            Category::Emergency110
        } else {
            Category::NonPolice
        },
        police_matter: police,
        department: (!police).then_some(DepartmentKind::Utilities),
        summary: "来电反映小区停水两天".into(),
        closed_at: Some(t(5, 1)),
        resolved: Some(true),
        synthetic: true,
    };
    assert_eq!(
        store
            .insert_incidents(&[incident("JQ1", true), incident("JQ2", false)])
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .insert_incidents(&[incident("JQ2", false)])
            .await
            .unwrap(),
        0
    );
    let permit = NewPermit {
        external_id: "ZZ1".into(),
        kind: PermitKind::IdCard,
        window_id: w,
        applied_at: t(2, 9),
        promised_at: t(20, 9),
        issued_at: Some(t(18, 9)),
        synthetic: true,
    };
    assert_eq!(
        store
            .insert_permits(std::slice::from_ref(&permit))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.insert_permits(&[permit]).await.unwrap(), 0);
    let c = store.counts().await.unwrap();
    assert_eq!((c.incidents, c.non_police_incidents, c.permits), (2, 1, 1));
}

pub async fn impossible_case_is_rejected_whole(store: &Store, _db: &TestDb) {
    let (s1, _, _) = small_city(store).await;
    let case = |id: &str, solved: DateTime<Utc>| NewCase {
        external_id: id.into(),
        kind: CaseKind::Theft,
        station_id: s1,
        area_id: None,
        reported_at: t(5, 8),
        filed_at: Some(t(5, 12)),
        solved_at: Some(solved),
        closed_at: None,
        loss_fen: 300_000,
        recovered_fen: 120_000,
        synthetic: true,
    };
    let err = store
        .insert_cases(&[case("AJ1", t(9, 8)), case("AJ2", t(1, 8))])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("AJ2"), "{err}");
    assert_eq!(
        store.counts().await.unwrap().cases,
        0,
        "nothing half-applied"
    );
    assert_eq!(
        store.insert_cases(&[case("AJ1", t(9, 8))]).await.unwrap(),
        1
    );
}

pub async fn counts_and_unit_activity(store: &Store, _db: &TestDb) {
    let (s1, s2, _) = small_city(store).await;
    let mut overdue = opinion(11, None, Some(s1), "一");
    overdue.due_at = Some(t(3, 0));
    let mut closed = opinion(12, None, Some(s1), "二");
    closed.state = OpinionState::Closed;
    closed.closed_at = Some(t(4, 0));
    closed.due_at = Some(t(3, 0));
    let open_later = opinion(13, None, Some(s2), "三");
    store
        .insert_opinions(&[overdue, closed, open_later], "test")
        .await
        .unwrap();
    let c = store.counts().await.unwrap();
    assert_eq!(
        (
            c.units,
            c.areas,
            c.opinions,
            c.open_opinions,
            c.events,
            c.synthetic_units
        ),
        (6, 4, 3, 2, 3, 6)
    );
    let act = store.unit_activity(t(5, 0)).await.unwrap();
    let a1 = act.iter().find(|a| a.unit_id == s1).unwrap();
    assert_eq!((a1.opinions, a1.open, a1.overdue), (2, 1, 1));
    let a2 = act.iter().find(|a| a.unit_id == s2).unwrap();
    assert_eq!((a2.opinions, a2.open, a2.overdue), (1, 1, 0));
}

pub async fn bulk_insert_spans_many_chunks(store: &Store, _db: &TestDb) {
    let (s1, _, _) = small_city(store).await;
    // More rows than one statement carries, so chunking and id mapping are exercised.
    let rows: Vec<NewOpinion> = (0..2500u64)
        .map(|i| {
            opinion(
                10_000 + i,
                Some(&format!("bulk-{i}")),
                Some(s1),
                &format!("第{i}条意见"),
            )
        })
        .collect();
    let out = store.insert_opinions(&rows, "import").await.unwrap();
    assert_eq!(out.len(), 2500);
    for (i, o) in out.iter().enumerate() {
        let InsertOutcome::Created(id) = *o else {
            panic!("row {i}: {o:?}")
        };
        if i % 499 == 0 {
            assert_eq!(
                store.opinion(id).await.unwrap().unwrap().text,
                format!("第{i}条意见")
            );
        }
    }
    let again = store.insert_opinions(&rows, "import").await.unwrap();
    assert!(
        again
            .iter()
            .all(|o| matches!(o, InsertOutcome::Existing(_)))
    );
    let c = store.counts().await.unwrap();
    assert_eq!((c.opinions, c.events), (2500, 2500));
}

pub async fn duplicate_codes_in_one_batch(store: &Store, _db: &TestDb) {
    small_city(store).await;
    let out = store
        .insert_opinions(
            &[
                opinion(77, None, None, "甲"),
                opinion(77, None, None, "乙"),
                opinion(78, None, None, "丙"),
            ],
            "t",
        )
        .await
        .unwrap();
    assert!(matches!(out[0], InsertOutcome::Created(_)));
    assert_eq!(out[1], InsertOutcome::CodeTaken);
    assert!(matches!(out[2], InsertOutcome::Created(_)));
    let c = store.counts().await.unwrap();
    assert_eq!(
        (c.opinions, c.events),
        (2, 2),
        "one receive event per stored opinion"
    );
}

pub async fn concurrent_transitions_never_half_apply(store: &Store, _db: &TestDb) {
    let (s1, _, _) = small_city(store).await;
    let mut ids = Vec::new();
    for i in 0..20u64 {
        let out = store
            .insert_opinions(&[opinion(500 + i, None, Some(s1), "并发")], "t")
            .await
            .unwrap();
        let InsertOutcome::Created(id) = out[0] else {
            panic!()
        };
        for a in [OpinionAction::Triage, OpinionAction::Assign] {
            store
                .transition_opinion(id, a, "t", t(3, 1), None)
                .await
                .unwrap();
        }
        ids.push(id);
    }
    // Two officers sign for each matter at once: exactly one wins, the other is told why.
    let mut tasks = Vec::new();
    for &id in &ids {
        for who in ["甲", "乙"] {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .transition_opinion(id, OpinionAction::Accept, who, t(3, 2), None)
                    .await
            }));
        }
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(state) => {
                assert_eq!(state, OpinionState::Accepted);
                ok += 1;
            }
            Err(StoreError::Transition(_) | StoreError::Conflict { .. }) => {}
            Err(other) => panic!("a lost race must be reported as such, not as {other}"),
        }
    }
    assert_eq!(ok, ids.len());
    for id in ids {
        let accepts = store
            .events_of(SubjectKind::Opinion, id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.action == "accept")
            .count();
        assert_eq!(accepts, 1);
    }
}
