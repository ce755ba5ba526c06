//! Briefings: on a hand-made county the figures are exactly the counts put in (and the
//! change against the previous period); on the small demo city a briefing of the city
//! bureau and of a county has every section filled; the draft → edit → publish → frozen
//! life, with scope and roles, and its audit trail.

use chrono::{DateTime, Duration, TimeZone, Utc};
use minyi_app::auth::Principal;
use minyi_app::briefings::{Figures, SectionKind, create, draft, edit, list, open, publish};
use minyi_app::{App, AppError};
use minyi_core::Code;
use minyi_core::opinion::{
    Escalation, NewOpinion, OpinionAction, OpinionState, OpinionText, TrackingCode,
};
use minyi_core::org::{NewUnit, UnitKind};
use minyi_core::taxonomy::{Category, Channel, DepartmentKind, Sentiment, Urgency, Verdict};
use minyi_store::testing::TestDb;

/// 5 November 2026: October is over, September is the period before it.
fn after_october() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 5, 2, 0, 0).unwrap()
}

/// Noon in Shanghai on a day of 2026.
fn noon(month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, 4, 0, 0).unwrap()
}

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

struct Put {
    channel: Channel,
    category: Category,
    at: DateTime<Utc>,
    state: OpinionState,
    escalation: Escalation,
    verdict: Option<Verdict>,
    department: Option<DepartmentKind>,
    text: &'static str,
}

fn put(channel: Channel, category: Category, at: DateTime<Utc>) -> Put {
    Put {
        channel,
        category,
        at,
        // Closed without a history: never overdue, never counted as answered.
        state: OpinionState::Closed,
        escalation: Escalation::Station,
        verdict: None,
        department: None,
        text: "路口的路灯坏了很久",
    }
}

async fn store_opinion(app: &App, n: u64, unit: i64, p: &Put) -> i64 {
    let o = NewOpinion {
        tracking_code: TrackingCode::from_bits(n * 7_919 + 101),
        client_key: None,
        channel: p.channel,
        text: OpinionText::parse(p.text).unwrap(),
        category: p.category,
        sentiment: Sentiment::Neutral,
        urgency: Urgency::Normal,
        department: p.department,
        area_id: None,
        unit_id: Some(unit),
        department_id: None,
        state: p.state,
        escalation: p.escalation,
        key_opinion: false,
        received_at: p.at,
        due_at: Some(p.at + Duration::days(7)),
        closed_at: None,
        verdict: p.verdict,
        synthetic: false,
    };
    match app.store.submit_opinion(&o, None, p.at).await.unwrap() {
        minyi_store::InsertOutcome::Created(id) => id,
        other => panic!("{other:?}"),
    }
}

fn section(d: &[minyi_app::briefings::Section], kind: SectionKind) -> &Figures {
    &d.iter().find(|s| s.kind == kind).unwrap().figures
}

async fn hand_made_figures(db: TestDb) {
    let app = super::app_for(&db).await;
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
            unit("K", UnitKind::CityBureau, None),
            unit("K-A", UnitKind::CountyBureau, Some("K")),
            unit("K-A-S1", UnitKind::Station, Some("K-A")),
            unit("K-A-S2", UnitKind::Station, Some("K-A")),
            unit("K-B", UnitKind::CountyBureau, Some("K")),
            unit("K-B-S1", UnitKind::Station, Some("K-B")),
        ])
        .await
        .unwrap();
    let id = |c: &'static str| {
        let store = app.store.clone();
        async move { store.unit_by_code(c).await.unwrap().unwrap().id }
    };
    let (a1, a2, b1) = (id("K-A-S1").await, id("K-A-S2").await, id("K-B-S1").await);
    use Category::*;
    use Channel::*;
    let mut n = 0;
    let mut add = |unit: i64, p: Put| {
        n += 1;
        let app = app.clone();
        async move { store_opinion(&app, n, unit, &p).await }
    };
    // October in county A: 4 traffic, 2 fraud, 1 non-police; 5 by web form, 2 by hotline.
    for day in [1, 2, 2, 20] {
        add(a1, put(WebForm, Traffic, noon(10, day))).await;
    }
    add(a2, put(Hotline, Fraud, noon(10, 3))).await;
    let escalated = add(
        a2,
        Put {
            escalation: Escalation::County,
            state: OpinionState::Accepted,
            text: "我叫王小明，被骗了两万元，电话13912345678，请尽快立案",
            ..put(Hotline, Fraud, noon(10, 4))
        },
    )
    .await;
    add(
        a1,
        Put {
            department: Some(DepartmentKind::HousingConstruction),
            state: OpinionState::Closed,
            verdict: Some(Verdict::Dissatisfied),
            ..put(WebForm, NonPolice, noon(10, 5))
        },
    )
    .await;
    // 31 October 23:30 in Shanghai is still October; 1 November 00:10 is not.
    add(
        a1,
        put(
            WebForm,
            Traffic,
            Utc.with_ymd_and_hms(2026, 10, 31, 15, 30, 0).unwrap(),
        ),
    )
    .await;
    add(
        a1,
        put(
            WebForm,
            Traffic,
            Utc.with_ymd_and_hms(2026, 10, 31, 16, 10, 0).unwrap(),
        ),
    )
    .await;
    // September in county A: 2 traffic, 4 fraud.
    for day in [1, 30] {
        add(a1, put(WebForm, Traffic, noon(9, day))).await;
    }
    for day in [3, 4, 5, 6] {
        add(a2, put(WebForm, Fraud, noon(9, day))).await;
    }
    // County B: never counted in A's briefing.
    for day in [1, 2, 3] {
        add(b1, put(Sms, Drugs, noon(10, day))).await;
    }
    app.store
        .transition_opinion(
            escalated,
            OpinionAction::Respond,
            "user:s",
            noon(10, 6),
            Some("已立案侦查，请保持电话13912345678畅通"),
        )
        .await
        .unwrap();

    let d = draft(&app, "K-A", "2026-10", after_october())
        .await
        .unwrap();
    assert_eq!(d.title, "单位K-A2026年10月民意研判报告");
    let kinds: Vec<SectionKind> = d.sections.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, SectionKind::ALL.to_vec());
    let Figures::Headline(h) = section(&d.sections, SectionKind::Headline) else {
        panic!()
    };
    assert_eq!((h.received, h.previous_received, h.partial), (8, 6, false));
    let channels: Vec<(&str, i64, i64)> = h
        .by_channel
        .iter()
        .map(|c| (c.code.as_str(), c.count, c.previous))
        .collect();
    assert_eq!(channels, vec![("web_form", 6, 6), ("hotline", 2, 0)]);
    assert_eq!(
        (h.satisfied, h.basically_satisfied, h.dissatisfied),
        (0, 0, 1)
    );
    assert_eq!((h.answered, h.answered_on_time), (1, 1));

    let Figures::TopIssues(t) = section(&d.sections, SectionKind::TopIssues) else {
        panic!()
    };
    let rows: Vec<(&str, i64, i64, Option<f64>)> = t
        .rows
        .iter()
        .map(|r| (r.code.as_str(), r.count, r.previous, r.change_pct()))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("traffic", 5, 2, Some(150.0)),
            ("fraud", 2, 4, Some(-50.0)),
            ("non_police", 1, 0, None),
        ]
    );

    let Figures::Trends(tr) = section(&d.sections, SectionKind::Trends) else {
        panic!()
    };
    assert_eq!(tr.step, "day");
    assert_eq!(tr.labels.len(), 31);
    assert_eq!(tr.labels[0], "10-01");
    assert_eq!(tr.counted, 31);
    assert_eq!(tr.lines[0].key, "total");
    assert_eq!(tr.lines[0].values.iter().sum::<i64>(), 8);
    assert_eq!(tr.lines[0].values[1], 2, "two on 2 October");
    assert_eq!(tr.lines[0].values[30], 1, "23:30 on 31 October");
    assert_eq!(tr.lines[1].key, "traffic");

    let Figures::KeyOpinions(k) = section(&d.sections, SectionKind::KeyOpinions) else {
        panic!()
    };
    assert_eq!(
        k.rows.len(),
        2,
        "the escalated one and the dissatisfied one"
    );
    let first = &k.rows[0];
    assert_eq!(first.reason, "escalated");
    assert!(first.excerpt.starts_with("我叫王**"), "{}", first.excerpt);
    assert!(!first.excerpt.contains("13912345678") && !first.excerpt.contains("小明"));
    let answer = first.answer.as_deref().unwrap();
    assert!(
        answer.contains("已立案侦查") && !answer.contains("13912345678"),
        "{answer}"
    );
    assert_eq!(k.rows[1].reason, "dissatisfied");

    let Figures::Departments(dep) = section(&d.sections, SectionKind::Departments) else {
        panic!()
    };
    assert_eq!(dep.rows.len(), 1);
    assert_eq!(dep.rows[0].department, "housing_construction");
    assert_eq!(
        (
            dep.rows[0].received,
            dep.rows[0].answered,
            dep.rows[0].dissatisfied
        ),
        (1, 1, 1)
    );

    let head = &d.sections[0].body;
    assert!(
        head.contains("共受理群众民意8件") && head.contains("较上期增长33.3%"),
        "{head}"
    );
    let summary = &d.sections.last().unwrap().body;
    assert!(
        summary.contains("综合研判") && summary.contains("交通管理"),
        "{summary}"
    );

    // While October runs (3 October, 13:00 in Shanghai), it is compared with the same
    // stretch of September: 1 September 00:00 to 3 September 13:00.
    let running = Utc.with_ymd_and_hms(2026, 10, 3, 5, 0, 0).unwrap();
    let early = draft(&app, "K-A", "2026-10", running).await.unwrap();
    let Figures::Headline(he) = section(&early.sections, SectionKind::Headline) else {
        panic!()
    };
    assert!(he.partial);
    assert_eq!((he.received, he.previous_received), (4, 2));
    assert!(
        early.sections[0].body.contains("上期同期"),
        "{}",
        early.sections[0].body
    );
    let Figures::Trends(te) = section(&early.sections, SectionKind::Trends) else {
        panic!()
    };
    assert_eq!(te.counted, 3, "1, 2 and 3 October have begun");

    // County B's own briefing sees only its three; the city sees all eleven.
    let b = draft(&app, "K-B", "2026-10", after_october())
        .await
        .unwrap();
    let Figures::Headline(hb) = section(&b.sections, SectionKind::Headline) else {
        panic!()
    };
    assert_eq!((hb.received, hb.previous_received), (3, 0));
    let city = draft(&app, "K", "2026-10", after_october()).await.unwrap();
    let Figures::Headline(hc) = section(&city.sections, SectionKind::Headline) else {
        panic!()
    };
    assert_eq!(hc.received, 11);

    // Bad requests say what is wrong.
    for (unit, period, why) in [
        ("K-A-S1", "2026-10", "county or city bureau"),
        ("K-A", "2026-13", "2026-13"),
        ("K-A", "2026-12", "has not begun"),
    ] {
        match draft(&app, unit, period, after_october()).await {
            Err(AppError::Invalid(msg)) => assert!(msg.contains(why), "{msg}"),
            other => panic!("{unit} {period}: {other:?}"),
        }
    }
    assert!(matches!(
        draft(&app, "NOPE", "2026-10", after_october()).await,
        Err(AppError::NotFound)
    ));
    db.drop_db().await;
}

/// Inside the demo's fixed period.
fn demo_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 4, 0, 0).unwrap()
}

async fn demo_principals(app: &App) -> Vec<Principal> {
    let accounts = minyi_app::demo::create_accounts(app, demo_now())
        .await
        .unwrap();
    let mut out = Vec::new();
    for a in accounts {
        match minyi_app::auth::sign_in(app, &a.username, &a.password, demo_now())
            .await
            .unwrap()
        {
            Ok(s) => out.push(s.principal),
            Err(r) => panic!("{} refused: {r:?}", a.username),
        }
    }
    out
}

fn named<'a>(ps: &'a [Principal], name: &str) -> &'a Principal {
    ps.iter().find(|p| p.username == name).unwrap()
}

async fn demo_city_and_lifecycle(db: TestDb) {
    let app = super::app_for(&db).await;
    minyi_app::demo::load(&app, 3, super::small(), &|_| {})
        .await
        .unwrap();
    let ps = demo_principals(&app).await;
    let county_p = named(&ps, "demo_county");
    let county = county_p.unit_code.clone();
    let city = named(&ps, "demo_city").unit_code.clone();

    // The small demo holds about 1,500 opinions a year, a county's month a few dozen: a
    // quarter is what gives a county its key opinions there.
    for unit in [city.as_str(), county.as_str()] {
        let d = draft(&app, unit, "2026-Q4", demo_now()).await.unwrap();
        assert!(d.synthetic);
        for s in &d.sections {
            assert!(
                !s.body.trim().is_empty(),
                "{unit}: empty text in {:?}",
                s.kind
            );
            let filled = match &s.figures {
                Figures::Headline(h) => h.received > 0 && h.answered > 0,
                Figures::TopIssues(t) => t.rows.len() >= 3,
                Figures::Trends(t) => {
                    t.lines.len() > 1 && t.lines[0].values.iter().sum::<i64>() > 0
                }
                Figures::Hotspots(h) => h.villages > 0,
                Figures::KeyOpinions(k) => !k.rows.is_empty(),
                Figures::Departments(d) => !d.rows.is_empty(),
                Figures::Summary => s.body.contains("建议"),
            };
            assert!(
                filled,
                "{unit}: {:?} has no figures: {:?}",
                s.kind, s.figures
            );
        }
    }

    // Draft → edit → publish → frozen, as the county analyst.
    let now = demo_now();
    let row = create(&app, county_p, &county, "2026-11", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.version, 1);
    let leader = named(&ps, "demo_leader");
    assert!(
        matches!(open(&app, leader, row.id).await, Err(AppError::NotFound)),
        "drafts are the analysts'"
    );
    assert!(list(&app, leader, 50).await.unwrap().is_empty());
    let station = named(&ps, "demo_station");
    assert!(matches!(
        open(&app, station, row.id).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        create(&app, station, &county, "2026-11", now).await,
        Err(AppError::Forbidden)
    ));
    assert!(matches!(
        create(&app, county_p, &city, "2026-11", now).await,
        Err(AppError::NotFound)
    ));
    assert!(matches!(
        create(&app, leader, &city, "2026-11", now).await,
        Err(AppError::Forbidden)
    ));

    let summary_pos = open(&app, county_p, row.id)
        .await
        .unwrap()
        .sections
        .last()
        .unwrap()
        .position;
    let rev = edit(
        &app,
        county_p,
        row.id,
        0,
        &[(summary_pos, "本县治安总体平稳。\r\n建议加强巡逻。".into())],
        now,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(rev, 1);
    // A stale revision, a control character and an unknown section are refused.
    let refused =
        |r: Result<Result<i64, minyi_app::handling::Refusal>, AppError>| r.unwrap().unwrap_err().0;
    assert_eq!(
        refused(
            edit(
                &app,
                county_p,
                row.id,
                0,
                &[(summary_pos, "另一版本".into())],
                now
            )
            .await
        ),
        "briefings_stale"
    );
    assert_eq!(
        refused(
            edit(
                &app,
                county_p,
                row.id,
                1,
                &[(summary_pos, "含\u{7}控制符".into())],
                now
            )
            .await
        ),
        "briefings_bad_text"
    );
    assert_eq!(
        refused(edit(&app, county_p, row.id, 1, &[(99, "无此节".into())], now).await),
        "briefings_unknown_section"
    );
    let b = open(&app, county_p, row.id).await.unwrap();
    assert_eq!(
        b.sections.last().unwrap().body,
        "本县治安总体平稳。\n建议加强巡逻。"
    );
    assert_eq!(
        b.sections.last().unwrap().edited_by.as_deref(),
        Some("user:demo_county")
    );

    publish(&app, county_p, row.id, 1, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        refused(
            edit(
                &app,
                county_p,
                row.id,
                2,
                &[(summary_pos, "发布后再改".into())],
                now
            )
            .await
        ),
        "briefings_frozen"
    );
    assert_eq!(
        publish(&app, county_p, row.id, 2, now)
            .await
            .unwrap()
            .unwrap_err()
            .0,
        "briefings_frozen"
    );
    let seen = open(&app, leader, row.id).await.unwrap();
    assert_eq!(seen.row.published_by.as_deref(), Some("user:demo_county"));
    assert_eq!(list(&app, leader, 50).await.unwrap().len(), 1);
    // A new draft of the same period is the next version, beside the frozen one.
    let next = create(&app, county_p, &county, "2026-11", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.version, 2);
    assert_eq!(
        open(&app, county_p, row.id)
            .await
            .unwrap()
            .sections
            .last()
            .unwrap()
            .body,
        "本县治安总体平稳。\n建议加强巡逻。"
    );

    let audit = app.store.audit_recent(50).await.unwrap();
    let acts: Vec<&str> = audit
        .iter()
        .filter(|a| a.action == "briefing" && a.subject == format!("briefing:{}", row.id))
        .map(|a| a.detail.split(' ').next().unwrap())
        .collect();
    for act in ["act=draft", "act=edit", "act=publish"] {
        assert!(acts.contains(&act), "{acts:?}");
    }
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn briefing_figures_on_hand_made_data_sqlite() {
    hand_made_figures(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn briefing_figures_on_hand_made_data_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    hand_made_figures(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn briefing_on_demo_city_and_lifecycle_sqlite() {
    demo_city_and_lifecycle(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn briefing_on_demo_city_and_lifecycle_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    demo_city_and_lifecycle(db).await;
}
