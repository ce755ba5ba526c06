//! Stories for schema 5: the notification outbox (enqueue, claim, send, back-off, dead)
//! and residents' verdicts, on SQLite and (when configured) PostgreSQL.

use chrono::{DateTime, Duration, TimeZone, Utc};
use minyi_core::event::SubjectKind;
use minyi_core::opinion::{Escalation, NewOpinion, OpinionState, OpinionText, TrackingCode};
use minyi_core::taxonomy::{Category, Channel, Sentiment, Urgency, Verdict};
use minyi_store::testing::TestDb;
use minyi_store::{Backoff, InsertOutcome, NewOutbox, OutboxState, Store, StoreError};

conformance!(
    outbox:
    enqueue_is_deduplicated_on_its_key,
    claim_takes_only_due_messages_and_leases_them,
    concurrent_claimers_never_share_a_message,
    failures_back_off_then_die,
    sent_messages_answer_reply_lookups,
    verdict_is_stored_with_its_event,
);

fn t(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 1, 8, minute, 0).unwrap()
}

fn msg(n: usize, dedup: Option<&str>) -> NewOutbox {
    NewOutbox {
        kind: "sms".into(),
        recipient_enc: format!("v1:ciphertext-{n}"),
        recipient_hash: format!("hash-{}", n % 3),
        template: "received".into(),
        body: format!("您的诉求已受理，查询码CODE{n}。"),
        subject: Some(format!("opinion:CODE{n}")),
        dedup_key: dedup.map(str::to_owned),
    }
}

pub async fn enqueue_is_deduplicated_on_its_key(store: &Store, _db: &TestDb) {
    let a = store
        .enqueue_outbox(&msg(1, Some("received:A")), t(0))
        .await
        .unwrap();
    assert!(a.is_some());
    let again = store
        .enqueue_outbox(&msg(1, Some("received:A")), t(1))
        .await
        .unwrap();
    assert_eq!(again, None, "the same key queues nothing new");
    // Without a key nothing is deduplicated.
    assert!(
        store
            .enqueue_outbox(&msg(2, None), t(0))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .enqueue_outbox(&msg(2, None), t(0))
            .await
            .unwrap()
            .is_some()
    );
    let all = store.outbox_recent(10).await.unwrap();
    assert_eq!(all.len(), 3);
    let first = store.outbox_message(a.unwrap()).await.unwrap().unwrap();
    assert_eq!(first.state, OutboxState::Pending);
    assert_eq!(first.attempts, 0);
    assert_eq!(first.next_attempt_at, t(0));
    assert_eq!(first.recipient_enc, "v1:ciphertext-1");
    assert_eq!(first.subject.as_deref(), Some("opinion:CODE1"));
}

pub async fn claim_takes_only_due_messages_and_leases_them(store: &Store, _db: &TestDb) {
    let early = store
        .enqueue_outbox(&msg(1, None), t(0))
        .await
        .unwrap()
        .unwrap();
    let late = store
        .enqueue_outbox(&msg(2, None), t(10))
        .await
        .unwrap()
        .unwrap();
    let lease = Duration::seconds(60);
    let got = store.claim_outbox(t(5), lease, 10).await.unwrap();
    assert_eq!(got.iter().map(|m| m.id).collect::<Vec<_>>(), vec![early]);
    assert_eq!(got[0].attempts, 1);
    assert_eq!(got[0].next_attempt_at, t(5) + lease);
    // Leased: not claimable again before the lease ends, claimable after it.
    assert!(
        store
            .claim_outbox(t(5), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let after = store.claim_outbox(t(6) + lease, lease, 1).await.unwrap();
    assert_eq!(after.len(), 1, "the limit holds");
    assert_eq!(after[0].id, early, "the oldest due message first");
    assert_eq!(after[0].attempts, 2);
    // Sent messages are never claimed again.
    store.mark_outbox_sent(early, t(20)).await.unwrap();
    let rest = store.claim_outbox(t(30), lease, 10).await.unwrap();
    assert_eq!(rest.iter().map(|m| m.id).collect::<Vec<_>>(), vec![late]);
    let sent = store.outbox_message(early).await.unwrap().unwrap();
    assert_eq!(sent.state, OutboxState::Sent);
    assert_eq!(sent.sent_at, Some(t(20)));
    assert!(matches!(
        store.mark_outbox_sent(999_999, t(20)).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn concurrent_claimers_never_share_a_message(store: &Store, _db: &TestDb) {
    let total = 60;
    for n in 0..total {
        store.enqueue_outbox(&msg(n, None), t(0)).await.unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = s.claim_outbox(t(1), Duration::minutes(5), 3).await.unwrap();
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|m| m.id));
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let claimed = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), claimed, "a message was claimed twice");
    assert_eq!(claimed, total, "every message was claimed once");
    for m in store.outbox_recent(100).await.unwrap() {
        assert_eq!(
            m.attempts, 1,
            "message {} counted {} claims",
            m.id, m.attempts
        );
    }
}

pub async fn failures_back_off_then_die(store: &Store, _db: &TestDb) {
    let policy = Backoff {
        base: Duration::seconds(10),
        max: Duration::seconds(25),
        max_attempts: 3,
    };
    assert_eq!(policy.delay(1), Duration::seconds(10));
    assert_eq!(policy.delay(2), Duration::seconds(20));
    assert_eq!(policy.delay(3), Duration::seconds(25), "capped");
    assert_eq!(policy.delay(500), Duration::seconds(25), "no overflow");
    let id = store
        .enqueue_outbox(&msg(1, None), t(0))
        .await
        .unwrap()
        .unwrap();
    let lease = Duration::seconds(60);
    let mut now = t(0);
    let mut states = Vec::new();
    for attempt in 1..=3 {
        let got = store.claim_outbox(now, lease, 10).await.unwrap();
        assert_eq!(got.len(), 1, "attempt {attempt} was due at {now}");
        assert_eq!(got[0].attempts, attempt);
        let st = store
            .mark_outbox_failed(id, got[0].attempts, "gateway answered 500", now, &policy)
            .await
            .unwrap();
        states.push(st);
        let m = store.outbox_message(id).await.unwrap().unwrap();
        assert_eq!(m.last_error.as_deref(), Some("gateway answered 500"));
        if st == OutboxState::Failed {
            assert_eq!(m.next_attempt_at, now + policy.delay(attempt));
            // Not due one second before the back-off ends.
            let early = m.next_attempt_at - Duration::seconds(1);
            assert!(
                store
                    .claim_outbox(early, lease, 10)
                    .await
                    .unwrap()
                    .is_empty()
            );
            now = m.next_attempt_at;
        }
    }
    assert_eq!(
        states,
        vec![OutboxState::Failed, OutboxState::Failed, OutboxState::Dead]
    );
    let far = now + Duration::days(30);
    assert!(
        store.claim_outbox(far, lease, 10).await.unwrap().is_empty(),
        "a dead message is never claimed"
    );
}

pub async fn sent_messages_answer_reply_lookups(store: &Store, _db: &TestDb) {
    let mut answered = msg(1, None);
    answered.template = "answered".into();
    answered.recipient_hash = "phone-A".into();
    let id = store
        .enqueue_outbox(&answered, t(0))
        .await
        .unwrap()
        .unwrap();
    // Queued but not sent: no invitation yet.
    assert!(
        store
            .last_sent_to("phone-A", "answered", t(0) - Duration::days(7))
            .await
            .unwrap()
            .is_none()
    );
    store
        .claim_outbox(t(0), Duration::seconds(60), 10)
        .await
        .unwrap();
    store.mark_outbox_sent(id, t(1)).await.unwrap();
    let found = store
        .last_sent_to("phone-A", "answered", t(1) - Duration::days(7))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, id);
    // Another phone, another template, or too long ago: nothing.
    for (hash, template, since) in [
        ("phone-B", "answered", t(0)),
        ("phone-A", "received", t(0)),
        ("phone-A", "answered", t(2)),
    ] {
        assert!(
            store
                .last_sent_to(hash, template, since)
                .await
                .unwrap()
                .is_none(),
            "{hash} {template} {since}"
        );
    }
}

pub async fn verdict_is_stored_with_its_event(store: &Store, _db: &TestDb) {
    let o = NewOpinion {
        tracking_code: TrackingCode::from_bits(77),
        client_key: None,
        channel: Channel::Sms,
        text: OpinionText::parse("路灯不亮").unwrap(),
        category: Category::Other,
        sentiment: Sentiment::Neutral,
        urgency: Urgency::Normal,
        department: None,
        area_id: None,
        unit_id: None,
        department_id: None,
        state: OpinionState::Received,
        escalation: Escalation::Station,
        key_opinion: false,
        received_at: t(0),
        due_at: None,
        closed_at: None,
        verdict: None,
        synthetic: false,
    };
    let InsertOutcome::Created(id) = store.submit_opinion(&o, None, t(0)).await.unwrap() else {
        panic!("not created");
    };
    store
        .record_verdict(
            id,
            Verdict::BasicallySatisfied,
            "sms",
            t(3),
            Some("{\"reply\":\"2\"}"),
        )
        .await
        .unwrap();
    let row = store.opinion(id).await.unwrap().unwrap();
    assert_eq!(row.verdict, Some(Verdict::BasicallySatisfied));
    assert_eq!(row.state, OpinionState::Received, "the state is untouched");
    let events = store.events_of(SubjectKind::Opinion, id).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.action, "verdict");
    assert_eq!(last.actor, "sms");
    assert_eq!(last.detail.as_deref(), Some("{\"reply\":\"2\"}"));
    assert!(matches!(
        store
            .record_verdict(id + 1000, Verdict::Satisfied, "sms", t(3), None)
            .await,
        Err(StoreError::NotFound { .. })
    ));
}
