//! Stories for schema 13: briefing versions, editing on a revision, publishing freezes,
//! and the reads only briefings use (key opinions with their answers, departments).

use chrono::{DateTime, Duration, TimeZone, Utc};
use minyi_core::Code;
use minyi_core::opinion::{
    Escalation, NewOpinion, OpinionAction, OpinionState, OpinionText, TrackingCode,
};
use minyi_core::org::{NewUnit, UnitKind};
use minyi_core::taxonomy::{Category, Channel, DepartmentKind, Sentiment, Urgency, Verdict};
use minyi_store::testing::TestDb;
use minyi_store::{BriefingChange, BriefingState, InsertOutcome, NewBriefing, NewSection, Store};

conformance!(
    briefings:
    drafts_are_versioned_and_read_back_exactly,
    edits_need_the_current_revision_and_publishing_freezes,
    an_edit_naming_a_missing_section_changes_nothing,
    key_opinions_answers_and_departments_are_cut_to_units_and_period,
);

fn t(day: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 31, 16, 0, 0).unwrap() + Duration::days(day)
}

async fn units(store: &Store) -> (i64, i64, i64) {
    let u = |c: &str, kind, parent: Option<&str>| NewUnit {
        code: Code::parse(c).unwrap(),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(|p| Code::parse(p).unwrap()),
        window: None,
        department: (kind == UnitKind::Department).then_some(DepartmentKind::Labour),
        synthetic: false,
    };
    store
        .insert_units(&[
            u("B", UnitKind::CityBureau, None),
            u("B-C", UnitKind::CountyBureau, Some("B")),
            u("B-C-S1", UnitKind::Station, Some("B-C")),
            u("B-C-S2", UnitKind::Station, Some("B-C")),
        ])
        .await
        .unwrap();
    let id = |c: &'static str| async move { store.unit_by_code(c).await.unwrap().unwrap().id };
    (id("B-C").await, id("B-C-S1").await, id("B-C-S2").await)
}

fn new_briefing(unit_id: i64) -> NewBriefing {
    NewBriefing {
        unit_id,
        period: "2026-11".into(),
        period_from: t(0),
        period_to: t(30),
        title: "某县公安局2026年11月民意研判报告".into(),
        sections: vec![
            NewSection {
                kind: "headline".into(),
                heading: "一、总体情况".into(),
                figures: r#"{"received":12}"#.into(),
                body: "本期受理民意12件。".into(),
            },
            NewSection {
                kind: "summary".into(),
                heading: "二、综述".into(),
                figures: "{}".into(),
                body: "总体平稳，含\"引号\"、<尖括号>与 emoji 🚓。".into(),
            },
        ],
        synthetic: false,
    }
}

pub async fn drafts_are_versioned_and_read_back_exactly(store: &Store, _db: &TestDb) {
    let (county, _, _) = units(store).await;
    let b1 = store
        .insert_briefing(&new_briefing(county), "user:a", t(31))
        .await
        .unwrap();
    assert_eq!(
        (b1.version, b1.state, b1.revision),
        (1, BriefingState::Draft, 0)
    );
    assert_eq!(b1.created_by, "user:a");
    assert_eq!(b1.period_from, t(0));
    let b2 = store
        .insert_briefing(&new_briefing(county), "user:b", t(32))
        .await
        .unwrap();
    assert_eq!(
        b2.version, 2,
        "a second draft of the same period is the next version"
    );
    let mut other = new_briefing(county);
    other.period = "2026-12".into();
    other.period_from = t(30);
    other.period_to = t(61);
    let b3 = store
        .insert_briefing(&other, "user:a", t(33))
        .await
        .unwrap();
    assert_eq!(b3.version, 1, "versions count per unit and period");

    let sections = store.briefing_sections(b1.id).await.unwrap();
    assert_eq!(sections.len(), 2);
    assert_eq!(sections[0].kind, "headline");
    assert_eq!(sections[0].figures, r#"{"received":12}"#);
    assert_eq!(
        sections[1].body,
        "总体平稳，含\"引号\"、<尖括号>与 emoji 🚓。"
    );
    assert_eq!(sections[1].generated, sections[1].body);
    assert_eq!(sections[1].edited_by, None);

    let listed = store.briefings_of_units(&[county], 10).await.unwrap();
    let ids: Vec<i64> = listed.iter().map(|b| b.id).collect();
    assert_eq!(
        ids,
        vec![b3.id, b2.id, b1.id],
        "newest period first, then newest version"
    );
    assert!(store.briefings_of_units(&[], 10).await.unwrap().is_empty());

    let mut backwards = new_briefing(county);
    backwards.period_to = backwards.period_from;
    assert!(
        store
            .insert_briefing(&backwards, "user:a", t(34))
            .await
            .is_err()
    );
}

pub async fn edits_need_the_current_revision_and_publishing_freezes(store: &Store, _db: &TestDb) {
    let (county, _, _) = units(store).await;
    let b = store
        .insert_briefing(&new_briefing(county), "user:a", t(31))
        .await
        .unwrap();
    let r = store
        .edit_briefing(b.id, 0, &[(1, "改写后的综述。".into())], "user:b", t(32))
        .await
        .unwrap();
    assert_eq!(r, BriefingChange::Done { revision: 1 });
    // A second editor still holding revision 0 loses, and changes nothing.
    let stale = store
        .edit_briefing(b.id, 0, &[(1, "另一人的改写".into())], "user:c", t(33))
        .await
        .unwrap();
    assert_eq!(stale, BriefingChange::Stale { current: 1 });
    let s = store.briefing_sections(b.id).await.unwrap();
    assert_eq!(s[1].body, "改写后的综述。");
    assert_eq!(
        s[1].generated,
        "总体平稳，含\"引号\"、<尖括号>与 emoji 🚓。"
    );
    assert_eq!(s[1].edited_by.as_deref(), Some("user:b"));
    assert_eq!(s[1].edited_at, Some(t(32)));
    assert_eq!(s[0].edited_by, None);

    assert_eq!(
        store
            .publish_briefing(b.id, 0, "user:b", t(34))
            .await
            .unwrap(),
        BriefingChange::Stale { current: 1 }
    );
    assert_eq!(
        store
            .publish_briefing(b.id, 1, "user:b", t(34))
            .await
            .unwrap(),
        BriefingChange::Done { revision: 2 }
    );
    let p = store.briefing(b.id).await.unwrap().unwrap();
    assert_eq!(p.state, BriefingState::Published);
    assert_eq!(p.published_by.as_deref(), Some("user:b"));
    assert_eq!(p.published_at, Some(t(34)));
    // Frozen: neither edits nor a second publication change anything.
    assert_eq!(
        store
            .edit_briefing(b.id, 2, &[(1, "发布后改写".into())], "user:b", t(35))
            .await
            .unwrap(),
        BriefingChange::Frozen
    );
    assert_eq!(
        store
            .publish_briefing(b.id, 2, "user:b", t(35))
            .await
            .unwrap(),
        BriefingChange::Frozen
    );
    assert_eq!(
        store.briefing_sections(b.id).await.unwrap()[1].body,
        "改写后的综述。"
    );
    assert!(
        store
            .edit_briefing(9_999, 0, &[], "user:b", t(35))
            .await
            .is_err()
    );
}

pub async fn an_edit_naming_a_missing_section_changes_nothing(store: &Store, _db: &TestDb) {
    let (county, _, _) = units(store).await;
    let b = store
        .insert_briefing(&new_briefing(county), "user:a", t(31))
        .await
        .unwrap();
    let err = store
        .edit_briefing(
            b.id,
            0,
            &[(0, "第一节改写".into()), (7, "不存在".into())],
            "user:b",
            t(32),
        )
        .await;
    assert!(err.is_err());
    let after = store.briefing(b.id).await.unwrap().unwrap();
    assert_eq!(after.revision, 0, "the revision bump was rolled back");
    assert_eq!(
        store.briefing_sections(b.id).await.unwrap()[0].body,
        "本期受理民意12件。"
    );
}

#[allow(clippy::too_many_arguments)]
async fn opinion(
    store: &Store,
    n: u64,
    unit: i64,
    at: DateTime<Utc>,
    state: OpinionState,
    escalation: Escalation,
    urgency: Urgency,
    verdict: Option<Verdict>,
    department: Option<DepartmentKind>,
) -> i64 {
    let o = NewOpinion {
        tracking_code: TrackingCode::from_bits(n * 104_729 + 11),
        client_key: None,
        channel: Channel::WebForm,
        text: OpinionText::parse(&format!("第{n}条民意")).unwrap(),
        category: if department.is_some() {
            Category::NonPolice
        } else {
            Category::PublicOrder
        },
        sentiment: Sentiment::Negative,
        urgency,
        department,
        area_id: None,
        unit_id: Some(unit),
        department_id: None,
        state,
        escalation,
        key_opinion: false,
        received_at: at,
        due_at: None,
        closed_at: None,
        verdict,
        synthetic: false,
    };
    match store.submit_opinion(&o, None, at).await.unwrap() {
        InsertOutcome::Created(id) => id,
        other => panic!("{other:?}"),
    }
}

pub async fn key_opinions_answers_and_departments_are_cut_to_units_and_period(
    store: &Store,
    _db: &TestDb,
) {
    use Escalation::{City, County, Station};
    use OpinionState::{Accepted, Closed, Received};
    let (_, s1, s2) = units(store).await;
    let plain = opinion(
        store,
        1,
        s1,
        t(1),
        Received,
        Station,
        Urgency::Normal,
        None,
        None,
    )
    .await;
    let escalated = opinion(
        store,
        2,
        s1,
        t(2),
        Accepted,
        County,
        Urgency::Normal,
        None,
        None,
    )
    .await;
    let urgent = opinion(
        store,
        3,
        s1,
        t(3),
        Received,
        Station,
        Urgency::Urgent,
        None,
        None,
    )
    .await;
    let unhappy = opinion(
        store,
        4,
        s1,
        t(4),
        Closed,
        Station,
        Urgency::Normal,
        Some(Verdict::Dissatisfied),
        None,
    )
    .await;
    let before = opinion(
        store,
        5,
        s1,
        t(-1),
        Received,
        City,
        Urgency::Urgent,
        None,
        None,
    )
    .await;
    let elsewhere = opinion(
        store,
        6,
        s2,
        t(5),
        Received,
        City,
        Urgency::Urgent,
        None,
        None,
    )
    .await;
    let dept = opinion(
        store,
        7,
        s1,
        t(6),
        Closed,
        Station,
        Urgency::Normal,
        Some(Verdict::Satisfied),
        Some(DepartmentKind::HousingConstruction),
    )
    .await;
    let dept2 = opinion(
        store,
        8,
        s1,
        t(7),
        Received,
        Station,
        Urgency::Normal,
        None,
        Some(DepartmentKind::HousingConstruction),
    )
    .await;
    let _ = (plain, before, elsewhere, dept, dept2);

    let keys = store
        .briefing_key_opinions(&[s1], t(0), t(30), t(0), 10)
        .await
        .unwrap();
    let ids: Vec<i64> = keys.iter().map(|o| o.id).collect();
    assert_eq!(
        ids,
        vec![escalated, urgent, unhappy],
        "escalated, then urgent, then dissatisfied"
    );
    assert_eq!(
        store
            .briefing_key_opinions(&[s1], t(0), t(30), t(0), 2)
            .await
            .unwrap()
            .len(),
        2
    );

    store
        .transition_opinion(
            escalated,
            OpinionAction::Respond,
            "user:s",
            t(8),
            Some("第一次答复"),
        )
        .await
        .unwrap();
    let answers = store.latest_answers(&[escalated, urgent]).await.unwrap();
    assert_eq!(
        answers,
        vec![(escalated, Some("第一次答复".to_owned()), t(8))]
    );
    assert!(store.latest_answers(&[]).await.unwrap().is_empty());

    let d = store
        .briefing_departments(&[s1, s2], t(0), t(30))
        .await
        .unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].department, DepartmentKind::HousingConstruction.code());
    assert_eq!((d[0].received, d[0].answered, d[0].dissatisfied), (2, 1, 0));
    assert!(
        store
            .briefing_departments(&[s2], t(0), t(30))
            .await
            .unwrap()
            .is_empty()
    );
}
