//! Stories for schema 7: triage records, the bounded candidate query, merge proposals and
//! their decisions, and echoing a primary's steps onto its merged originals.

use chrono::{DateTime, Duration, TimeZone, Utc};
use minyi_core::Code;
use minyi_core::event::SubjectKind;
use minyi_core::opinion::{
    Escalation, NewOpinion, OpinionAction, OpinionState, OpinionText, TrackingCode,
};
use minyi_core::org::{NewUnit, UnitKind};
use minyi_core::taxonomy::{Category, Channel, DepartmentKind, Sentiment, Urgency};
use minyi_store::testing::TestDb;
use minyi_store::{InsertOutcome, MergeOutcome, ProposalState, Store, TriageRecord};

conformance!(
    merges:
    triage_record_round_trips_once,
    candidates_are_bounded_by_unit_area_time_and_state,
    accepting_merges_through_the_lifecycle_with_events_on_both,
    rejecting_and_deciding_twice,
    open_proposals_are_cut_to_the_scope,
    steps_echo_onto_merged_originals,
    department_units_by_kind,
);

fn t(day: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 2, 0, 0).unwrap() + Duration::days(day)
}

async fn units(store: &Store) -> (i64, i64) {
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
            u("M", UnitKind::CityBureau, None),
            u("M-C", UnitKind::CountyBureau, Some("M")),
            u("M-C-S1", UnitKind::Station, Some("M-C")),
            u("M-C-S2", UnitKind::Station, Some("M-C")),
            u("M-D", UnitKind::Department, Some("M")),
        ])
        .await
        .unwrap();
    let id = |c: &'static str| async move { store.unit_by_code(c).await.unwrap().unwrap().id };
    (id("M-C-S1").await, id("M-C-S2").await)
}

async fn opinion(store: &Store, n: u64, unit: i64, text: &str, at: DateTime<Utc>) -> i64 {
    let o = NewOpinion {
        tracking_code: TrackingCode::from_bits(n * 104_729 + 7),
        client_key: None,
        channel: Channel::WebForm,
        text: OpinionText::parse(text).unwrap(),
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

pub async fn triage_record_round_trips_once(store: &Store, _db: &TestDb) {
    let (s1, _) = units(store).await;
    let id = opinion(store, 1, s1, "老板拖欠工资", t(0)).await;
    assert_eq!(store.triage_of(id).await.unwrap(), None);
    let rec = TriageRecord {
        opinion_id: id,
        at: t(0),
        source: "rules".into(),
        category: Category::NonPolice,
        sentiment: Sentiment::Negative,
        urgency: Urgency::Normal,
        department: Some(DepartmentKind::Labour),
        police: false,
        confidence_permille: 640,
        needs_review: false,
        explanation: "department=labour(工资,拖欠)".into(),
        overridden: true,
    };
    store.record_triage(&rec).await.unwrap();
    // A retried intake records nothing new and changes nothing.
    let again = TriageRecord {
        explanation: "another".into(),
        ..rec.clone()
    };
    store.record_triage(&again).await.unwrap();
    assert_eq!(store.triage_of(id).await.unwrap(), Some(rec));
}

pub async fn candidates_are_bounded_by_unit_area_time_and_state(store: &Store, _db: &TestDb) {
    let (s1, s2) = units(store).await;
    let new = opinion(store, 1, s1, "新的", t(10)).await;
    let recent = opinion(store, 2, s1, "近的", t(8)).await;
    let old = opinion(store, 3, s1, "旧的", t(1)).await;
    let elsewhere = opinion(store, 4, s2, "别处", t(9)).await;
    let closed = opinion(store, 5, s1, "已撤回", t(9)).await;
    store
        .transition_opinion(closed, OpinionAction::Withdraw, "r", t(9), None)
        .await
        .unwrap();
    let got = store
        .merge_candidates(new, Some(s1), None, t(3), t(10), 50)
        .await
        .unwrap();
    let ids: Vec<i64> = got.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        vec![recent],
        "not itself, the old, the other unit's or the withdrawn"
    );
    assert_eq!(got[0].1, "近的");
    assert!(!ids.contains(&old) && !ids.contains(&elsewhere));
    let limited = store
        .merge_candidates(new, Some(s1), None, t(0), t(10), 1)
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);
    assert!(
        store
            .merge_candidates(new, None, None, t(0), t(10), 50)
            .await
            .unwrap()
            .is_empty(),
        "no key, no candidates"
    );
}

pub async fn accepting_merges_through_the_lifecycle_with_events_on_both(
    store: &Store,
    _db: &TestDb,
) {
    let (s1, _) = units(store).await;
    let primary = opinion(store, 1, s1, "路口红绿灯坏了", t(0)).await;
    let dup = opinion(store, 2, s1, "那个路口的红绿灯不亮了", t(1)).await;
    assert_eq!(
        store
            .propose_merges(dup, &[(primary, 612)], t(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .propose_merges(dup, &[(primary, 700)], t(1))
            .await
            .unwrap(),
        0,
        "a pair is proposed once"
    );
    let props = store.proposals_of(primary).await.unwrap();
    assert_eq!(props.len(), 1);
    let p = &props[0];
    assert_eq!(
        (p.opinion_id, p.candidate_id, p.score_permille),
        (dup, primary, 612)
    );
    assert_eq!(p.state, ProposalState::Proposed);
    let out = store.accept_merge(p.id, "analyst", t(2)).await.unwrap();
    assert_eq!(
        out,
        MergeOutcome::Merged {
            duplicate: dup,
            primary
        }
    );
    let d = store.opinion(dup).await.unwrap().unwrap();
    assert_eq!(d.state, OpinionState::Merged);
    assert_eq!(d.merged_into, Some(primary));
    assert_eq!(d.closed_at, Some(t(2)));
    let pr = store.opinion(primary).await.unwrap().unwrap();
    assert_eq!(pr.state, OpinionState::Received);
    let ev = store.events_of(SubjectKind::Opinion, dup).await.unwrap();
    assert!(ev.iter().any(|e| {
        e.action == "merge"
            && e.to_state.as_deref() == Some("merged")
            && e.detail
                .as_deref()
                .is_some_and(|d| d.contains(pr.tracking_code.as_str()))
    }));
    let ev = store
        .events_of(SubjectKind::Opinion, primary)
        .await
        .unwrap();
    assert!(ev.iter().any(|e| {
        e.action == "merge_absorb"
            && e.detail
                .as_deref()
                .is_some_and(|x| x.contains(d.tracking_code.as_str()))
    }));
    let p = store.merge_proposal(p.id).await.unwrap().unwrap();
    assert_eq!(p.state, ProposalState::Accepted);
    assert_eq!(p.decided_by.as_deref(), Some("analyst"));
    assert_eq!(p.decided_at, Some(t(2)));
    assert_eq!(store.merged_into(primary).await.unwrap().len(), 1);
}

pub async fn rejecting_and_deciding_twice(store: &Store, _db: &TestDb) {
    let (s1, _) = units(store).await;
    let a = opinion(store, 1, s1, "甲", t(0)).await;
    let b = opinion(store, 2, s1, "乙", t(0)).await;
    let c = opinion(store, 3, s1, "丙", t(0)).await;
    store.propose_merges(b, &[(a, 300)], t(0)).await.unwrap();
    store.propose_merges(c, &[(a, 300)], t(0)).await.unwrap();
    let pb = store.proposals_of(b).await.unwrap()[0].id;
    let pc = store.proposals_of(c).await.unwrap()[0].id;
    assert!(store.reject_merge(pb, "analyst", t(1)).await.unwrap());
    assert!(!store.reject_merge(pb, "analyst", t(1)).await.unwrap());
    assert_eq!(
        store.accept_merge(pb, "analyst", t(1)).await.unwrap(),
        MergeOutcome::AlreadyDecided(ProposalState::Rejected)
    );
    assert_eq!(
        store.opinion(b).await.unwrap().unwrap().state,
        OpinionState::Received
    );
    // A primary that was withdrawn meanwhile absorbs nothing.
    store
        .transition_opinion(a, OpinionAction::Withdraw, "r", t(1), None)
        .await
        .unwrap();
    assert_eq!(
        store.accept_merge(pc, "analyst", t(2)).await.unwrap(),
        MergeOutcome::PrimaryGone(OpinionState::Withdrawn)
    );
    assert_eq!(
        store.opinion(c).await.unwrap().unwrap().state,
        OpinionState::Received
    );
    assert!(matches!(
        store.accept_merge(9_999, "analyst", t(2)).await,
        Err(minyi_store::StoreError::NotFound { .. })
    ));
}

pub async fn open_proposals_are_cut_to_the_scope(store: &Store, _db: &TestDb) {
    let (s1, s2) = units(store).await;
    let a = opinion(store, 1, s1, "甲", t(0)).await;
    let b = opinion(store, 2, s1, "乙", t(1)).await;
    let c = opinion(store, 3, s2, "丙", t(0)).await;
    let d = opinion(store, 4, s2, "丁", t(1)).await;
    store.propose_merges(b, &[(a, 500)], t(1)).await.unwrap();
    store.propose_merges(d, &[(c, 500)], t(1)).await.unwrap();
    let only_s1 = store.open_proposals_in_units(&[s1], 50).await.unwrap();
    assert_eq!(only_s1.len(), 1);
    assert_eq!(only_s1[0].opinion_id, b);
    assert_eq!(
        store
            .open_proposals_in_units(&[s1, s2], 50)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        store
            .open_proposals_in_units(&[], 50)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .transition_opinion(d, OpinionAction::Withdraw, "r", t(2), None)
        .await
        .unwrap();
    assert_eq!(
        store
            .open_proposals_in_units(&[s1, s2], 50)
            .await
            .unwrap()
            .len(),
        1,
        "a proposal whose matter is no longer mergeable is not open"
    );
}

pub async fn steps_echo_onto_merged_originals(store: &Store, _db: &TestDb) {
    let (s1, _) = units(store).await;
    let primary = opinion(store, 1, s1, "甲", t(0)).await;
    let x = opinion(store, 2, s1, "乙", t(0)).await;
    let lone = opinion(store, 3, s1, "丙", t(0)).await;
    store
        .propose_merges(x, &[(primary, 500)], t(0))
        .await
        .unwrap();
    let p = store.proposals_of(x).await.unwrap()[0].id;
    store.accept_merge(p, "analyst", t(1)).await.unwrap();
    let touched = store
        .echo_to_merged(primary, "respond", Some("已修好"), "staff", t(3), false)
        .await
        .unwrap();
    assert_eq!(touched.iter().map(|o| o.id).collect::<Vec<_>>(), vec![x]);
    store
        .echo_to_merged(
            primary,
            "close",
            Some("verdict=satisfied"),
            "staff",
            t(4),
            true,
        )
        .await
        .unwrap();
    let ev = store.events_of(SubjectKind::Opinion, x).await.unwrap();
    let answer = ev.iter().rev().find(|e| e.action == "respond").unwrap();
    assert_eq!(answer.detail.as_deref(), Some("已修好"));
    assert_eq!(answer.to_state.as_deref(), Some("merged"));
    assert!(ev.iter().any(|e| e.action == "close"));
    let xo = store.opinion(x).await.unwrap().unwrap();
    assert_eq!((xo.state, xo.closed_at), (OpinionState::Merged, Some(t(4))));
    assert!(
        store
            .echo_to_merged(lone, "respond", Some("x"), "staff", t(3), false)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .events_of(SubjectKind::Opinion, lone)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn department_units_by_kind(store: &Store, _db: &TestDb) {
    units(store).await;
    let d = store
        .department_units(DepartmentKind::Labour)
        .await
        .unwrap();
    let m = store.unit_by_code("M").await.unwrap().unwrap().id;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].1, Some(m));
    assert!(
        store
            .department_units(DepartmentKind::Land)
            .await
            .unwrap()
            .is_empty()
    );
}
