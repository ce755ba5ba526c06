//! Triage at intake and near-duplicate merging, on a small city of its own: a pair from
//! two channels is proposed, accepted and answered once for both residents; different
//! matters are not proposed; a conduct complaint lands at the county bureau; a non-police
//! matter at its linked department; urgent text gets the same-day deadline; a sender's
//! own category is kept with the classifier's suggestion beside it.

use chrono::{DateTime, Duration, TimeZone, Utc};
use minyi_app::App;
use minyi_app::auth::{Operator, Principal};
use minyi_app::handling::{Act, act};
use minyi_app::intake::{Submission, submit};
use minyi_app::merge::Decision;
use minyi_app::privacy::ContactInput;
use minyi_core::access::Role;
use minyi_core::event::SubjectKind;
use minyi_core::opinion::{Escalation, OpinionState, OpinionText, TrackingCode};
use minyi_core::org::{AreaKind, NewArea, NewUnit, UnitKind};
use minyi_core::taxonomy::{Category, Channel, DepartmentKind, Urgency, Verdict};
use minyi_core::{Code, PhoneNumber};
use minyi_store::testing::TestDb;
use minyi_store::{OpinionRow, ProposalState};

const PASSWORD: &str = "merge story passphrase";

/// Tuesday 12 May 2026, 10:00 in Shanghai: an ordinary working week.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 12, 2, 0, 0).unwrap()
}

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

struct City {
    app: App,
    analyst: Principal,
    station: Principal,
    s1: i64,
    county: i64,
    county_labour: i64,
}

async fn city(db: &TestDb) -> City {
    let app = super::app_for(db).await;
    let unit = |c: &str, kind, parent: Option<&str>, dept: Option<DepartmentKind>| NewUnit {
        code: code(c),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(code),
        window: None,
        department: dept,
        synthetic: false,
    };
    app.store
        .insert_units(&[
            unit("Q", UnitKind::CityBureau, None, None),
            unit("Q-C", UnitKind::CountyBureau, Some("Q"), None),
            unit("Q-C-S1", UnitKind::Station, Some("Q-C"), None),
            unit("Q-C-S2", UnitKind::Station, Some("Q-C"), None),
            unit(
                "Q-D-LABOUR",
                UnitKind::Department,
                Some("Q"),
                Some(DepartmentKind::Labour),
            ),
            unit(
                "Q-C-D-LABOUR",
                UnitKind::Department,
                Some("Q-C"),
                Some(DepartmentKind::Labour),
            ),
        ])
        .await
        .unwrap();
    let area = |c: &str, kind, parent: Option<&str>, station: Option<&str>| NewArea {
        code: code(c),
        kind,
        name: format!("地{c}"),
        parent: parent.map(code),
        station: station.map(code),
        population: 1000,
        centre: None,
        synthetic: false,
    };
    app.store
        .insert_areas(&[
            area("QA", AreaKind::County, None, None),
            area("QA-1", AreaKind::Township, Some("QA"), Some("Q-C-S1")),
            area("QA-2", AreaKind::Township, Some("QA"), Some("Q-C-S2")),
        ])
        .await
        .unwrap();
    let mut ps = Vec::new();
    for (name, role, at) in [
        ("m_analyst", Role::CountyAnalyst, "Q-C"),
        ("m_station", Role::StationStaff, "Q-C-S1"),
    ] {
        minyi_app::auth::create_account(
            &app,
            Operator::Cli,
            name,
            "测试",
            role,
            at,
            PASSWORD,
            false,
            false,
            t0(),
        )
        .await
        .unwrap();
        let s = minyi_app::auth::sign_in(&app, name, PASSWORD, t0())
            .await
            .unwrap()
            .unwrap();
        ps.push(s.principal);
    }
    let id = |c: &'static str| {
        let store = app.store.clone();
        async move { store.unit_by_code(c).await.unwrap().unwrap().id }
    };
    let (s1, county, county_labour) = (
        id("Q-C-S1").await,
        id("Q-C").await,
        id("Q-C-D-LABOUR").await,
    );
    let station = ps.pop().unwrap();
    let analyst = ps.pop().unwrap();
    City {
        app,
        analyst,
        station,
        s1,
        county,
        county_labour,
    }
}

async fn receive(
    app: &App,
    channel: Channel,
    text: &str,
    category: Option<Category>,
    area: &str,
    phone: Option<&str>,
    at: DateTime<Utc>,
) -> OpinionRow {
    let r = submit(
        app,
        Submission {
            channel,
            text: OpinionText::parse(text).unwrap(),
            category,
            area_code: Some(area.into()),
            client_key: None,
            contact: ContactInput {
                phone: phone.map(|p| PhoneNumber::parse(p).unwrap()),
                ..Default::default()
            },
            limit_to_units: None,
        },
        "resident",
        at,
    )
    .await
    .unwrap();
    // What `minyi serve` does every few seconds, here at once: propose near-duplicates
    // for what was stored.
    minyi_app::merge::sweep(app, at).await.unwrap();
    app.store.opinion(r.id).await.unwrap().unwrap()
}

async fn duplicates_from_two_channels_merge_and_answer_both(db: TestDb) {
    let c = city(&db).await;
    let app = &c.app;
    let web = receive(
        app,
        Channel::WebForm,
        "新街菜市场后面那个棚子里天天晚上有人聚众赌博，吵到半夜，还有人放高利贷",
        None,
        "QA-1",
        None,
        t0(),
    )
    .await;
    assert_eq!(web.category, Category::PublicOrder);
    let sms = receive(
        app,
        Channel::Sms,
        "新街菜市场后面的棚子每天晚上都有一帮人在赌博，吵得睡不着觉",
        None,
        "QA-1",
        Some("13800138000"),
        t0() + Duration::hours(20),
    )
    .await;
    let props = app.store.proposals_of(sms.id).await.unwrap();
    assert_eq!(props.len(), 1, "{props:?}");
    // The sweep keeps its place: a second pass proposes nothing again.
    assert_eq!(
        minyi_app::merge::sweep(app, t0() + Duration::hours(20))
            .await
            .unwrap(),
        0
    );
    let p = &props[0];
    assert_eq!((p.opinion_id, p.candidate_id), (sms.id, web.id));
    assert!(p.score_permille >= 200, "{}", p.score_permille);
    assert_eq!(p.state, ProposalState::Proposed);

    // Station staff may not decide; the county analyst may, from either matter's page.
    let refused = minyi_app::merge::decide(
        app,
        &c.station,
        web.tracking_code.as_str(),
        p.id,
        Decision::Accept,
        t0() + Duration::hours(21),
    )
    .await
    .unwrap();
    assert!(refused.is_err());
    let listed = minyi_app::merge::open_in_scope(app, &c.analyst, 50)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].primary.id, web.id);
    let done = minyi_app::merge::decide(
        app,
        &c.analyst,
        web.tracking_code.as_str(),
        p.id,
        Decision::Accept,
        t0() + Duration::hours(21),
    )
    .await
    .unwrap();
    assert_eq!(done, Ok(Decision::Accept));
    let merged = app.store.opinion(sms.id).await.unwrap().unwrap();
    assert_eq!(merged.state, OpinionState::Merged);
    assert_eq!(merged.merged_into, Some(web.id));
    assert!(
        minyi_app::merge::open_in_scope(app, &c.analyst, 50)
            .await
            .unwrap()
            .is_empty()
    );

    // The primary is handled and answered; the original gets the same answer and closing.
    let at = t0() + Duration::days(1);
    let code = web.tracking_code.as_str();
    let answer = "已联合治安大队查处赌博窝点，今后加强夜间巡逻。";
    for (who, step) in [
        (
            &c.analyst,
            Act::Triage {
                category: None,
                urgency: None,
            },
        ),
        (
            &c.analyst,
            Act::Assign {
                unit_code: "Q-C-S1".into(),
            },
        ),
        (&c.station, Act::Accept),
        (
            &c.station,
            Act::Respond {
                text: answer.into(),
            },
        ),
    ] {
        let r = act(app, who, code, step.clone(), at).await.unwrap();
        assert!(r.is_ok(), "{step:?}: {r:?}");
    }
    let events = app
        .store
        .events_of(SubjectKind::Opinion, sms.id)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.action == "respond" && e.detail.as_deref() == Some(answer)),
        "{events:?}"
    );
    let outbox = app.store.outbox_recent(50).await.unwrap();
    let sms_subject = format!("opinion:{}", sms.tracking_code);
    assert!(
        outbox
            .iter()
            .any(|m| m.template == "answered" && m.subject.as_deref() == Some(&sms_subject)),
        "{outbox:?}"
    );
    assert!(
        !outbox
            .iter()
            .any(|m| m.body.contains("13800138000") || m.body.contains(answer)),
        "no number and no words of the matter in a message body"
    );
    // The SMS resident following their own code sees the matter being answered.
    let seen = minyi_app::merge::as_seen_by_resident(app, merged.clone())
        .await
        .unwrap();
    assert_eq!(seen.state, OpinionState::Responded);
    assert_eq!(seen.tracking_code, sms.tracking_code);

    let r = act(
        app,
        &c.station,
        code,
        Act::Close {
            verdict: Verdict::Satisfied,
        },
        at + Duration::hours(1),
    )
    .await
    .unwrap();
    assert_eq!(r, Ok(OpinionState::Closed));
    let original = app.store.opinion(sms.id).await.unwrap().unwrap();
    assert_eq!(original.closed_at, Some(at + Duration::hours(1)));
    let events = app
        .store
        .events_of(SubjectKind::Opinion, sms.id)
        .await
        .unwrap();
    assert!(events.iter().any(|e| e.action == "close"));
    let seen = minyi_app::merge::as_seen_by_resident(app, original)
        .await
        .unwrap();
    assert_eq!(seen.state, OpinionState::Closed);
    // Both decisions are on the audit record.
    let audit = app.store.audit_recent(100).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.detail.starts_with("act=merge ") && a.subject == sms_subject),
        "{audit:?}"
    );
    c.app.store.close().await;
    db.drop_db().await;
}

async fn different_matters_are_not_proposed(db: TestDb) {
    let c = city(&db).await;
    let app = &c.app;
    let a = receive(
        app,
        Channel::WebForm,
        "新街菜市场后面那个棚子里天天晚上有人聚众赌博，吵到半夜",
        None,
        "QA-1",
        None,
        t0(),
    )
    .await;
    let b = receive(
        app,
        Channel::WebForm,
        "身份证丢了，补办需要带什么材料，多久能拿到",
        None,
        "QA-1",
        None,
        t0() + Duration::hours(2),
    )
    .await;
    // The same words at another station's township are another place's matter.
    let elsewhere = receive(
        app,
        Channel::WebForm,
        "新街菜市场后面那个棚子里天天晚上有人聚众赌博，吵到半夜",
        None,
        "QA-2",
        None,
        t0() + Duration::hours(3),
    )
    .await;
    // And the same words after the window are a new matter.
    let later = receive(
        app,
        Channel::WebForm,
        "新街菜市场后面那个棚子里天天晚上有人聚众赌博，吵到半夜",
        None,
        "QA-1",
        None,
        t0() + Duration::days(9),
    )
    .await;
    for o in [&a, &b, &elsewhere, &later] {
        assert!(
            app.store.proposals_of(o.id).await.unwrap().is_empty(),
            "{}",
            o.text
        );
    }
    c.app.store.close().await;
    db.drop_db().await;
}

async fn routing_follows_triage(db: TestDb) {
    let c = city(&db).await;
    let app = &c.app;
    // A conduct complaint about the station goes to the county bureau above it.
    let conduct = receive(
        app,
        Channel::WebForm,
        "派出所的民警态度很差，骂人，报案还推诿不给立案",
        None,
        "QA-1",
        None,
        t0(),
    )
    .await;
    assert_eq!(conduct.category, Category::Conduct);
    assert_eq!(conduct.unit_id, Some(c.county));
    assert_eq!(conduct.escalation, Escalation::County);
    let tr = app.store.triage_of(conduct.id).await.unwrap().unwrap();
    assert!(tr.explanation.contains("态度很差"), "{}", tr.explanation);
    assert_eq!(tr.source, "rules");
    // So does one whose sender chose the category.
    let chosen = receive(
        app,
        Channel::Api,
        "上次去办事的经历",
        Some(Category::Conduct),
        "QA-1",
        None,
        t0(),
    )
    .await;
    assert_eq!(chosen.unit_id, Some(c.county));

    // Urgent words: due the same day; an ordinary matter gets its working days.
    let urgent = receive(
        app,
        Channel::Sms,
        "快来人！楼下有人正在持刀打人",
        None,
        "QA-1",
        None,
        t0(),
    )
    .await;
    assert_eq!(urgent.urgency, Urgency::Urgent);
    let normal = receive(
        app,
        Channel::WebForm,
        "建议在菜市场路口增设一个红绿灯",
        None,
        "QA-1",
        None,
        t0(),
    )
    .await;
    assert_eq!(normal.urgency, Urgency::Normal);
    assert_eq!(urgent.due_at, Some(app.calendar.deadline(t0(), 0).unwrap()));
    assert_eq!(normal.due_at, Some(app.calendar.deadline(t0(), 7).unwrap()));
    assert!(urgent.due_at < normal.due_at);

    // A non-police matter is routed to the linked department beside its county.
    let wages = receive(
        app,
        Channel::WebForm,
        "包工头拖欠我们农民工三个月工资不给，去找老板也不管",
        None,
        "QA-1",
        None,
        t0(),
    )
    .await;
    assert_eq!(wages.category, Category::NonPolice);
    assert_eq!(wages.department, Some(DepartmentKind::Labour));
    assert_eq!(wages.department_id, Some(c.county_labour));
    assert_eq!(wages.unit_id, Some(c.s1), "the station still knows of it");
    let liaison_queue = app
        .store
        .opinions_of_department(c.county_labour, 10)
        .await
        .unwrap();
    assert!(liaison_queue.iter().any(|o| o.id == wages.id));

    // The sender's explicit category wins; the classifier's suggestion is kept beside it.
    let kept = receive(
        app,
        Channel::Api,
        "接到冒充公检法的诈骗电话，让我把钱转到安全账户",
        Some(Category::Suggestion),
        "QA-1",
        None,
        t0(),
    )
    .await;
    assert_eq!(kept.category, Category::Suggestion);
    let tr = app.store.triage_of(kept.id).await.unwrap().unwrap();
    assert_eq!(tr.category, Category::Fraud);
    assert!(tr.overridden);

    // Unreadable text still arrives, as `other`, flagged for review.
    let emoji = receive(app, Channel::Sms, "🙏🙏🙏", None, "QA-1", None, t0()).await;
    assert_eq!(emoji.category, Category::Other);
    let tr = app.store.triage_of(emoji.id).await.unwrap().unwrap();
    assert!(tr.needs_review);
    let _ = TrackingCode::parse(emoji.tracking_code.as_str()).unwrap();
    c.app.store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_merge_and_answer_both_sqlite() {
    duplicates_from_two_channels_merge_and_answer_both(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_merge_and_answer_both_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    duplicates_from_two_channels_merge_and_answer_both(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_matters_are_not_proposed_sqlite() {
    different_matters_are_not_proposed(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_matters_are_not_proposed_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    different_matters_are_not_proposed(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_follows_triage_sqlite() {
    routing_follows_triage(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_follows_triage_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    routing_follows_triage(db).await;
}
