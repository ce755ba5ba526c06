//! Stories for schema 12: the analysts' queue (least confident first, labelled matters
//! leave it), labels with the previous ones and the relabel's rerouting in one
//! transaction, the corrections export read, escalations decided once, joint
//! assignments with per-department replies, and the hotspot cases read.

use chrono::{DateTime, Duration, TimeZone, Utc};
use minyi_core::Code;
use minyi_core::event::SubjectKind;
use minyi_core::opinion::{Escalation, NewOpinion, OpinionState, OpinionText, TrackingCode};
use minyi_core::org::{NewUnit, UnitKind};
use minyi_core::taxonomy::{Category, Channel, DepartmentKind, Sentiment, Urgency};
use minyi_store::testing::TestDb;
use minyi_store::{InsertOutcome, Labels, NewLabels, Store, TriageRecord};

conformance!(
    analysis:
    queue_orders_by_confidence_and_drops_labelled,
    relabel_reroutes_and_keeps_previous_labels,
    escalations_are_decided_once,
    joint_assignments_with_replies,
    hotspot_cases_skip_merged_and_window,
);

fn t(hour: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 2, 0, 0).unwrap() + Duration::hours(hour)
}

async fn units(store: &Store) -> (i64, i64, i64, i64) {
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
            u("N", UnitKind::CityBureau, None),
            u("N-C", UnitKind::CountyBureau, Some("N")),
            u("N-C-S1", UnitKind::Station, Some("N-C")),
            u("N-C-S2", UnitKind::Station, Some("N-C")),
            u("N-D1", UnitKind::Department, Some("N")),
            u("N-D2", UnitKind::Department, Some("N")),
        ])
        .await
        .unwrap();
    let id = |c: &'static str| async move { store.unit_by_code(c).await.unwrap().unwrap().id };
    (
        id("N-C-S1").await,
        id("N-C-S2").await,
        id("N-D1").await,
        id("N-D2").await,
    )
}

async fn opinion(store: &Store, n: u64, unit: i64, at: DateTime<Utc>) -> i64 {
    let o = NewOpinion {
        tracking_code: TrackingCode::from_bits(n * 7_919 + 3),
        client_key: None,
        channel: Channel::WebForm,
        text: OpinionText::parse(&format!("第{n}条：拖欠工资，电话13912345678")).unwrap(),
        category: Category::Other,
        sentiment: Sentiment::Neutral,
        urgency: Urgency::Normal,
        department: None,
        area_id: None,
        unit_id: Some(unit),
        department_id: None,
        state: OpinionState::Received,
        escalation: Escalation::Station,
        key_opinion: false,
        received_at: at,
        due_at: None,
        closed_at: None,
        verdict: None,
        synthetic: false,
    };
    match store.submit_opinion(&o, None, at).await.unwrap() {
        InsertOutcome::Created(id) => id,
        other => panic!("{other:?}"),
    }
}

async fn triage(store: &Store, id: i64, permille: i64) {
    store
        .record_triage(&TriageRecord {
            opinion_id: id,
            at: t(0),
            source: "rules".into(),
            category: Category::Other,
            sentiment: Sentiment::Neutral,
            urgency: Urgency::Normal,
            department: None,
            police: true,
            confidence_permille: permille,
            needs_review: permille < 500,
            explanation: "test".into(),
            overridden: false,
        })
        .await
        .unwrap();
}

const OTHER: Labels = Labels {
    category: Category::Other,
    sentiment: Sentiment::Neutral,
    urgency: Urgency::Normal,
    department: None,
};

pub async fn queue_orders_by_confidence_and_drops_labelled(store: &Store, _db: &TestDb) {
    let (s1, s2, _, _) = units(store).await;
    let a = opinion(store, 1, s1, t(0)).await;
    let b = opinion(store, 2, s1, t(1)).await;
    let c = opinion(store, 3, s2, t(2)).await;
    let d = opinion(store, 4, s1, t(3)).await;
    triage(store, a, 900).await;
    triage(store, b, 200).await;
    triage(store, c, 100).await;
    // d has no triage record: treated as the least confident.
    assert_eq!(
        store.analysis_queue(&[s1], 10).await.unwrap(),
        vec![d, b, a]
    );
    assert_eq!(
        store.analysis_queue(&[s1, s2], 2).await.unwrap(),
        vec![d, c]
    );
    assert!(store.analysis_queue(&[], 10).await.unwrap().is_empty());
    store
        .record_labels(&NewLabels {
            opinion_id: b,
            at: t(5),
            actor: "user:ana".into(),
            relabel: false,
            labels: OTHER,
            previous: OTHER,
            unit_id: None,
            department_id: None,
        })
        .await
        .unwrap();
    assert_eq!(store.analysis_queue(&[s1], 10).await.unwrap(), vec![d, a]);
    // A confirmation changes nothing on the matter.
    let o = store.opinion(b).await.unwrap().unwrap();
    assert_eq!((o.category, o.unit_id), (Category::Other, Some(s1)));
}

pub async fn relabel_reroutes_and_keeps_previous_labels(store: &Store, _db: &TestDb) {
    let (s1, _, d1, _) = units(store).await;
    let a = opinion(store, 1, s1, t(0)).await;
    let labour = Labels {
        category: Category::NonPolice,
        sentiment: Sentiment::Negative,
        urgency: Urgency::Urgent,
        department: Some(DepartmentKind::Labour),
    };
    store
        .record_labels(&NewLabels {
            opinion_id: a,
            at: t(1),
            actor: "user:ana".into(),
            relabel: true,
            labels: labour,
            previous: OTHER,
            unit_id: Some(s1),
            department_id: Some(d1),
        })
        .await
        .unwrap();
    let o = store.opinion(a).await.unwrap().unwrap();
    assert_eq!(
        (
            o.category,
            o.sentiment,
            o.urgency,
            o.department,
            o.department_id
        ),
        (
            Category::NonPolice,
            Sentiment::Negative,
            Urgency::Urgent,
            Some(DepartmentKind::Labour),
            Some(d1)
        )
    );
    // Back to a police matter: the department is cleared.
    let fraud = Labels {
        category: Category::Fraud,
        ..OTHER
    };
    store
        .record_labels(&NewLabels {
            opinion_id: a,
            at: t(2),
            actor: "user:bob".into(),
            relabel: true,
            labels: fraud,
            previous: labour,
            unit_id: Some(s1),
            department_id: None,
        })
        .await
        .unwrap();
    let o = store.opinion(a).await.unwrap().unwrap();
    assert_eq!(
        (o.category, o.department, o.department_id),
        (Category::Fraud, None, None)
    );
    let ls = store.labels_of(a).await.unwrap();
    assert_eq!(ls.len(), 2);
    assert_eq!((ls[0].labels, ls[0].previous), (labour, OTHER));
    assert_eq!(
        (ls[1].labels, ls[1].previous, ls[1].actor.as_str()),
        (fraud, labour, "user:bob")
    );
    assert_eq!(ls[1].action, "relabel");
    let events = store.events_of(SubjectKind::Opinion, a).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.action == "relabel").count(), 2);
    // The export reads the latest decision per matter, with its text.
    let cs = store.corrections().await.unwrap();
    assert_eq!(cs.len(), 1);
    assert_eq!(cs[0].label.labels, fraud);
    assert!(cs[0].text.starts_with("第1条"));
}

pub async fn escalations_are_decided_once(store: &Store, _db: &TestDb) {
    let (s1, _, _, _) = units(store).await;
    let county = store.unit_by_code("N-C").await.unwrap().unwrap().id;
    let a = opinion(store, 1, s1, t(0)).await;
    let id = store
        .insert_escalation(a, county, t(1), "user:ana", "群体性诉求")
        .await
        .unwrap();
    assert!(id.is_some());
    // A second escalation while one is pending is refused.
    assert_eq!(
        store
            .insert_escalation(a, county, t(2), "user:ana", "再报")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.escalations(true, 10).await.unwrap().len(), 1);
    assert!(
        store
            .decide_escalation(a, "returned", t(3), "user:city", Some("请县局先核实"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .decide_escalation(a, "accepted", t(4), "user:city", None)
            .await
            .unwrap()
    );
    assert!(store.escalations(true, 10).await.unwrap().is_empty());
    let all = store.escalations_of(a).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (
            all[0].state.as_str(),
            all[0].note.as_deref(),
            all[0].decided_by.as_deref()
        ),
        ("returned", Some("请县局先核实"), Some("user:city"))
    );
    assert_eq!(all[0].decided_at, Some(t(3)));
    // Returned, it may be escalated again.
    assert!(
        store
            .insert_escalation(a, county, t(5), "user:ana", "已核实，再报")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.escalations(false, 10).await.unwrap().len(), 2);
}

pub async fn joint_assignments_with_replies(store: &Store, _db: &TestDb) {
    let (s1, _, d1, d2) = units(store).await;
    let a = opinion(store, 1, s1, t(0)).await;
    assert_eq!(
        store
            .assign_jointly(a, &[d1, d2], t(1), "user:city", "联合处置")
            .await
            .unwrap(),
        2
    );
    // Assigning again adds nothing and keeps each part.
    assert_eq!(
        store
            .assign_jointly(a, &[d1], t(2), "user:city", "again")
            .await
            .unwrap(),
        0
    );
    assert!(
        store
            .reply_joint(a, d1, "已派员处理", t(3), "user:liaison")
            .await
            .unwrap()
    );
    assert!(
        !store
            .reply_joint(a, d1, "twice", t(4), "user:liaison")
            .await
            .unwrap()
    );
    let parts = store.joint_of_opinion(a).await.unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(
        (
            parts[0].reply_state.as_str(),
            parts[0].reply.as_deref(),
            parts[0].note.as_str()
        ),
        ("replied", Some("已派员处理"), "联合处置")
    );
    assert_eq!(parts[1].reply_state, "pending");
    assert_eq!(store.joint_of_department(d2, 10).await.unwrap().len(), 1);
    assert_eq!(store.joint_of_department(s1, 10).await.unwrap().len(), 0);
}

pub async fn hotspot_cases_skip_merged_and_window(store: &Store, _db: &TestDb) {
    let (s1, _, _, _) = units(store).await;
    let a = opinion(store, 1, s1, t(0)).await;
    let b = opinion(store, 2, s1, t(1)).await;
    let _late = opinion(store, 3, s1, t(30)).await;
    store.propose_merges(b, &[(a, 900)], t(2)).await.unwrap();
    let pr = store.proposals_of(b).await.unwrap()[0].id;
    store.accept_merge(pr, "user:ana", t(2)).await.unwrap();
    let cases = store.analysis_cases(t(0), t(24)).await.unwrap();
    assert_eq!(cases.iter().map(|c| c.id).collect::<Vec<_>>(), vec![a]);
    assert_eq!(cases[0].received_at, t(0));
}
