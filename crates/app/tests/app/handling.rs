//! The closed loop on one matter, across the 2026 National Day holiday (1–7 October off,
//! Saturday 10 October a make-up working day): triage, assignment, sign-off starting the
//! clock, an extension approved by the county and capped at 15 working days, the answer,
//! the resident's verdict, reopening under supervision, and the refusals in between.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use minyi_app::auth::Principal;
use minyi_app::handling::{Act, Refusal, act, resident_verdict};
use minyi_app::intake::{Submission, submit};
use minyi_core::opinion::{Escalation, OpinionState, OpinionText};
use minyi_core::taxonomy::{Category, Channel, Verdict};
use minyi_store::testing::TestDb;

fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// The end of a Shanghai day, as deadlines fall.
fn end_of(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    shanghai(y, m, d, 23, 59) + chrono::Duration::milliseconds(59_999)
}

async fn signed_in(app: &minyi_app::App, now: DateTime<Utc>) -> Vec<Principal> {
    let mut out = Vec::new();
    for a in minyi_app::demo::create_accounts(app, now).await.unwrap() {
        match minyi_app::auth::sign_in(app, &a.username, &a.password, now)
            .await
            .unwrap()
        {
            Ok(s) => out.push(s.principal),
            Err(r) => panic!("{} refused: {r:?}", a.username),
        }
    }
    out
}

fn who<'a>(ps: &'a [Principal], name: &str) -> &'a Principal {
    ps.iter().find(|p| p.username == name).unwrap()
}

async fn state_of(app: &minyi_app::App, code: &str) -> minyi_store::OpinionRow {
    let tc = minyi_core::opinion::TrackingCode::parse(code).unwrap();
    app.store
        .opinion_by_tracking_code(&tc)
        .await
        .unwrap()
        .unwrap()
}

/// The small demo city, every demo account signed in, and the code of the demo station.
async fn demo_with_accounts(
    db: &TestDb,
    now: DateTime<Utc>,
) -> (minyi_app::App, Vec<Principal>, String) {
    let app = super::app_for(db).await;
    minyi_app::demo::load(&app, 3, super::small(), &|_| {})
        .await
        .unwrap();
    let ps = signed_in(&app, now).await;
    let station = who(&ps, "demo_station").unit_id;
    let station_code = app
        .store
        .units()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.id == station)
        .unwrap()
        .code
        .to_string();
    (app, ps, station_code)
}

/// A new matter from a resident, received at `at`.
async fn received(
    app: &minyi_app::App,
    channel: Channel,
    text: &str,
    category: Category,
    area_code: Option<String>,
    at: DateTime<Utc>,
) -> String {
    let receipt = submit(
        app,
        Submission {
            channel,
            text: OpinionText::parse(text).unwrap(),
            category: Some(category),
            area_code,
            client_key: None,
            contact: Default::default(),
            limit_to_units: None,
        },
        "resident",
        at,
    )
    .await
    .unwrap();
    receipt.tracking_code.to_string()
}

async fn closed_loop(db: TestDb) {
    let t0 = shanghai(2026, 9, 29, 9, 0);
    let (app, ps, station_code) = demo_with_accounts(&db, t0).await;
    let (county, station, leader) = (
        who(&ps, "demo_county"),
        who(&ps, "demo_station"),
        who(&ps, "demo_leader"),
    );
    let area = app
        .store
        .areas()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.station_id == Some(station.unit_id))
        .unwrap();
    let code = received(
        &app,
        Channel::WebForm,
        "小区门口路灯坏了一个月，晚上很黑",
        Category::PublicOrder,
        Some(area.code.to_string()),
        t0,
    )
    .await;
    let ok = |r: Result<Result<OpinionState, Refusal>, minyi_app::AppError>| match r {
        Ok(Ok(s)) => s,
        other => panic!("expected success, got {other:?}"),
    };
    let refused = |r: Result<Result<OpinionState, Refusal>, minyi_app::AppError>| match r {
        Ok(Err(Refusal(k))) => k,
        other => panic!("expected a refusal, got {other:?}"),
    };

    // Triage and assignment are the analysts' work.
    assert_eq!(
        refused(
            act(
                &app,
                station,
                &code,
                Act::Triage {
                    category: None,
                    urgency: None
                },
                t0
            )
            .await
        ),
        "act_analysts_only"
    );
    assert!(matches!(
        act(&app, leader, &code, Act::MarkKey, t0).await,
        Err(minyi_app::AppError::Forbidden)
    ));
    ok(act(
        &app,
        county,
        &code,
        Act::Triage {
            category: None,
            urgency: None,
        },
        t0,
    )
    .await);
    ok(act(
        &app,
        county,
        &code,
        Act::Assign {
            unit_code: station_code.clone(),
        },
        t0,
    )
    .await);

    // Signed off on Wednesday 30 September: seven working days skip the holiday and count
    // the make-up Saturday — 8, 9, 10, 12, 13, 14, 15 October.
    let signed = shanghai(2026, 9, 30, 10, 0);
    assert_eq!(
        ok(act(&app, station, &code, Act::Accept, signed).await),
        OpinionState::Accepted
    );
    assert_eq!(
        state_of(&app, &code).await.due_at,
        Some(end_of(2026, 10, 15))
    );

    // The station asks; only the supervising county approves, within 15 working days.
    let asked = shanghai(2026, 10, 12, 9, 0);
    ok(act(
        &app,
        station,
        &code,
        Act::RequestExtension {
            days: 5,
            reason: "需协调供电部门更换线路".into(),
        },
        asked,
    )
    .await);
    assert_eq!(
        refused(
            act(
                &app,
                station,
                &code,
                Act::ApproveExtension { days: 5 },
                asked
            )
            .await
        ),
        "act_supervisor_only"
    );
    ok(act(
        &app,
        county,
        &code,
        Act::ApproveExtension { days: 5 },
        asked,
    )
    .await);
    assert_eq!(
        state_of(&app, &code).await.due_at,
        Some(end_of(2026, 10, 22))
    );
    assert_eq!(
        refused(
            act(
                &app,
                county,
                &code,
                Act::ApproveExtension { days: 10 },
                asked
            )
            .await
        ),
        "act_extension_days",
        "past 15 working days from sign-off"
    );

    // The answer, the notice, the resident's verdict.
    let answered = shanghai(2026, 10, 20, 15, 0);
    ok(act(
        &app,
        station,
        &code,
        Act::Respond {
            text: "已联系供电部门，10月20日更换完毕。".into(),
        },
        answered,
    )
    .await);
    ok(act(&app, station, &code, Act::Notify, answered).await);
    assert_eq!(
        resident_verdict(&app, &code, Verdict::Dissatisfied, answered)
            .await
            .unwrap()
            .unwrap(),
        OpinionState::Closed
    );
    let o = state_of(&app, &code).await;
    assert_eq!(o.verdict, Some(Verdict::Dissatisfied));
    assert!(o.closed_at.is_some());
    assert_eq!(
        resident_verdict(&app, &code, Verdict::Satisfied, answered)
            .await
            .unwrap()
            .unwrap_err()
            .0,
        "verdict_not_now",
        "a matter is rated once"
    );

    // Dissatisfied: reopened under the county's supervision, open again.
    ok(act(
        &app,
        station,
        &code,
        Act::Reopen {
            reason: "群众反映仍有一盏未修".into(),
        },
        answered,
    )
    .await);
    let o = state_of(&app, &code).await;
    assert_eq!(o.state, OpinionState::Assigned);
    assert_eq!(o.escalation, Escalation::County);
    assert!(o.closed_at.is_none());

    // A complaint about conduct never goes to the station alone.
    ok(act(
        &app,
        station,
        &code,
        Act::Return {
            reason: "需重新分类".into(),
        },
        answered,
    )
    .await);
    ok(act(
        &app,
        county,
        &code,
        Act::Triage {
            category: Some(Category::Conduct),
            urgency: None,
        },
        answered,
    )
    .await);
    let o = state_of(&app, &code).await;
    assert_eq!(o.state, OpinionState::Triaged);
    assert_eq!(o.category, Category::Conduct);
    assert_eq!(
        refused(
            act(
                &app,
                county,
                &code,
                Act::Assign {
                    unit_code: station_code.clone()
                },
                answered
            )
            .await
        ),
        "act_conduct_to_county"
    );
    let county_code = app
        .store
        .units()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.id == county.unit_id)
        .unwrap()
        .code
        .to_string();
    ok(act(
        &app,
        county,
        &code,
        Act::Assign {
            unit_code: county_code,
        },
        answered,
    )
    .await);
    let o = state_of(&app, &code).await;
    assert_eq!(o.unit_id, Some(county.unit_id));

    // Every step is an event, in order, and audited.
    let events = app
        .store
        .events_of(minyi_core::event::SubjectKind::Opinion, o.id)
        .await
        .unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "receive",
            "triage",
            "assign",
            "accept",
            "request_extension",
            "extend",
            "respond",
            "notify",
            "close",
            "reopen",
            "return",
            "triage",
            "assign"
        ]
    );
    let audited = app
        .store
        .audit_recent(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.subject == format!("opinion:{code}"))
        .count();
    assert!(audited >= 10, "{audited}");
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_across_national_day_sqlite() {
    closed_loop(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_across_national_day_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    closed_loop(db).await;
}

/// The deadline watch over the holiday: a matter due on 30 September is overdue by one
/// working day on 8 October (a week of holiday does not count), reaches the county on the
/// make-up Saturday, the city two working days later; every mark is written once.
async fn watch_story(db: TestDb) {
    use minyi_app::watch::{WatchRules, run_once};
    let t0 = shanghai(2026, 9, 29, 9, 0);
    let (app, ps, station_code) = demo_with_accounts(&db, t0).await;
    let station = who(&ps, "demo_station");
    let code = received(
        &app,
        Channel::Hotline,
        "咨询户口迁移需要哪些材料",
        Category::Household,
        None,
        t0,
    )
    .await;
    act(
        &app,
        who(&ps, "demo_city"),
        &code,
        Act::Triage {
            category: None,
            urgency: None,
        },
        t0,
    )
    .await
    .unwrap()
    .unwrap();
    act(
        &app,
        who(&ps, "demo_city"),
        &code,
        Act::Assign {
            unit_code: station_code,
        },
        t0,
    )
    .await
    .unwrap()
    .unwrap();
    // A consultation: three working days from Thursday 24 September's sign-off; Friday 25
    // is the Mid-Autumn holiday, so 28, 29, 30 September → due at the end of the 30th.
    act(
        &app,
        station,
        &code,
        Act::Accept,
        shanghai(2026, 9, 24, 16, 0),
    )
    .await
    .unwrap()
    .unwrap();
    let o = state_of(&app, &code).await;
    assert_eq!(o.due_at, Some(end_of(2026, 9, 30)));
    let rules = WatchRules::default();
    let mine = |app: &minyi_app::App| {
        let app = app.clone();
        let code = code.clone();
        async move {
            let o = state_of(&app, &code).await;
            let events = app
                .store
                .events_of(minyi_core::event::SubjectKind::Opinion, o.id)
                .await
                .unwrap();
            (
                o.escalation,
                events
                    .iter()
                    .filter(|e| e.actor == "watch")
                    .map(|e| e.action.clone())
                    .collect::<Vec<_>>(),
            )
        }
    };
    // Nothing two days before; on the last day a reminder, once.
    run_once(&app, rules, shanghai(2026, 9, 28, 20, 0))
        .await
        .unwrap();
    assert!(mine(&app).await.1.is_empty());
    run_once(&app, rules, shanghai(2026, 9, 30, 8, 0))
        .await
        .unwrap();
    run_once(&app, rules, shanghai(2026, 9, 30, 9, 0))
        .await
        .unwrap();
    assert_eq!(mine(&app).await.1, ["remind"]);
    // 8 October: overdue one working day only, after seven days of holiday.
    run_once(&app, rules, shanghai(2026, 10, 8, 9, 0))
        .await
        .unwrap();
    assert_eq!(
        mine(&app).await,
        (Escalation::Station, vec!["remind".into(), "overdue".into()])
    );
    // Saturday 10 October is a working day: 8, 9, 10 → three working days late → county.
    let r = run_once(&app, rules, shanghai(2026, 10, 10, 9, 0))
        .await
        .unwrap();
    assert!(r.escalated_to_county >= 1, "{r:?}");
    assert_eq!(mine(&app).await.0, Escalation::County);
    // Sunday 11 October adds nothing; Wednesday 14 October is the fifth working day → city.
    run_once(&app, rules, shanghai(2026, 10, 11, 9, 0))
        .await
        .unwrap();
    assert_eq!(mine(&app).await.0, Escalation::County);
    run_once(&app, rules, shanghai(2026, 10, 14, 9, 0))
        .await
        .unwrap();
    let (level, marks) = mine(&app).await;
    assert_eq!(level, Escalation::City);
    assert_eq!(marks, ["remind", "overdue", "escalate", "escalate"]);
    // Nothing more to do for this matter, however often the watch runs.
    run_once(&app, rules, shanghai(2026, 10, 14, 10, 0))
        .await
        .unwrap();
    assert_eq!(mine(&app).await.1.len(), 4);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_watch_across_national_day_sqlite() {
    watch_story(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_watch_across_national_day_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    watch_story(db).await;
}
