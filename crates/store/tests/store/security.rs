//! Stories for schema 2: accounts, sessions, API keys, residents' contacts and the audit
//! chain, each run on SQLite and (when configured) PostgreSQL like the main suite.

use chrono::{DateTime, Duration, TimeZone, Utc};
use minyi_core::Code;
use minyi_core::access::{KeyPurpose, Role};
use minyi_core::opinion::{
    Escalation, NewOpinion, OpinionAction, OpinionState, OpinionText, TrackingCode,
};
use minyi_core::org::{NewUnit, UnitKind};
use minyi_core::taxonomy::{Category, Channel, DepartmentKind, Sentiment, Urgency};
use minyi_store::testing::TestDb;
use minyi_store::{
    ANONYMISED, AUDIT_GENESIS, InsertOutcome, NewAccount, NewApiKey, NewAudit, NewContact, Store,
    StoreError,
};

conformance!(
    security:
    accounts_insert_disable_and_reset,
    login_failures_count_atomically_and_lock,
    sessions_touch_purge_and_delete,
    api_keys_lookup_revoke_and_touch,
    submit_with_contact_is_atomic_and_idempotent,
    anonymise_touches_only_finished_old_matters,
    audit_chain_is_contiguous_under_concurrency,
    malformed_audit_head_is_corrupt,
    scoped_opinion_reads,
);

fn t(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

fn unit(c: &str, kind: UnitKind, parent: Option<&str>) -> NewUnit {
    NewUnit {
        code: Code::parse(c).unwrap(),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(|p| Code::parse(p).unwrap()),
        window: None,
        department: (kind == UnitKind::Department).then_some(DepartmentKind::Labour),
        synthetic: true,
    }
}

/// City → county → two stations, and a department. Returns (city, s1, s2, department).
async fn units(store: &Store) -> (i64, i64, i64, i64) {
    let ids = store
        .insert_units(&[
            unit("C", UnitKind::CityBureau, None),
            unit("C-1", UnitKind::CountyBureau, Some("C")),
            unit("C-1-S1", UnitKind::Station, Some("C-1")),
            unit("C-1-S2", UnitKind::Station, Some("C-1")),
            unit("C-D-LAB", UnitKind::Department, Some("C")),
        ])
        .await
        .unwrap();
    (ids[0], ids[2], ids[3], ids[4])
}

fn account(username: &str, unit_id: i64) -> NewAccount {
    NewAccount {
        username: username.into(),
        display_name: format!("{username}（合成）"),
        role: Role::StationStaff,
        unit_id,
        password_hash: "$argon2id$SECRET-HASH".into(),
        must_change_password: true,
        synthetic: true,
    }
}

fn opinion(bits: u64, key: Option<&str>, unit_id: Option<i64>, at: DateTime<Utc>) -> NewOpinion {
    NewOpinion {
        tracking_code: TrackingCode::from_bits(bits),
        client_key: key.map(str::to_owned),
        channel: Channel::WebForm,
        text: OpinionText::parse("路灯坏了").unwrap(),
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
        received_at: at,
        due_at: None,
        closed_at: None,
        verdict: None,
        synthetic: true,
    }
}

fn contact(tag: &str) -> NewContact {
    NewContact {
        name_enc: Some(format!("v1:name-{tag}")),
        name_hash: Some(format!("nh-{tag}")),
        name_masked: Some("张*".into()),
        phone_enc: Some(format!("v1:phone-{tag}")),
        phone_hash: Some(format!("ph-{tag}")),
        phone_masked: Some("138****0000".into()),
        id_number_enc: None,
        id_number_hash: None,
        id_number_masked: None,
        address_enc: Some(format!("v1:addr-{tag}")),
        address_masked: Some("保山市隆阳区****".into()),
    }
}

async fn submit(store: &Store, o: &NewOpinion, c: Option<&NewContact>) -> i64 {
    match store.submit_opinion(o, c, o.received_at).await.unwrap() {
        InsertOutcome::Created(id) => id,
        other => panic!("expected a new opinion, got {other:?}"),
    }
}

pub async fn accounts_insert_disable_and_reset(store: &Store, _db: &TestDb) {
    let (city, s1, _, _) = units(store).await;
    assert_eq!(store.count_accounts().await.unwrap(), 0);
    let wang = store
        .insert_account(&account("wang", s1), t(1, 8))
        .await
        .unwrap();
    let li = store
        .insert_account(&account("li", s1), t(1, 9))
        .await
        .unwrap();
    let err = store
        .insert_account(&account("li", city), t(1, 10))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(err.to_string(), "username `li` is taken");
    assert_eq!(store.count_accounts().await.unwrap(), 2);

    let a = store.account(wang).await.unwrap().unwrap();
    assert_eq!(
        (a.username.as_str(), a.role, a.unit_id, a.created_at),
        ("wang", Role::StationStaff, s1, t(1, 8))
    );
    assert!(a.must_change_password && a.synthetic && !a.disabled);
    assert_eq!(
        (a.failed_logins, a.locked_until, a.last_login_at),
        (0, None, None)
    );
    let shown = format!("{a:?}");
    assert!(
        !shown.contains("SECRET-HASH") && !shown.contains("合成"),
        "{shown}"
    );
    assert_eq!(
        store.account_by_username("li").await.unwrap().unwrap().id,
        li
    );
    assert!(store.account_by_username("nobody").await.unwrap().is_none());
    assert!(store.account(9999).await.unwrap().is_none());
    let names: Vec<String> = store
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(names, ["li", "wang"]);

    assert!(store.set_account_disabled(li, true).await.unwrap());
    assert!(store.account(li).await.unwrap().unwrap().disabled);
    assert!(store.set_account_disabled(li, false).await.unwrap());
    assert!(!store.account(li).await.unwrap().unwrap().disabled);
    assert!(!store.set_account_disabled(9999, true).await.unwrap());

    assert!(
        store
            .set_account_role(li, Role::CityAnalyst, city)
            .await
            .unwrap()
    );
    let l = store.account(li).await.unwrap().unwrap();
    assert_eq!((l.role, l.unit_id), (Role::CityAnalyst, city));
    assert!(
        !store
            .set_account_role(9999, Role::Leader, city)
            .await
            .unwrap()
    );

    // A reset replaces the hash and lifts a lock.
    store
        .record_login_failure(wang, t(2, 8), Some(t(2, 9)))
        .await
        .unwrap();
    assert!(
        store
            .set_password(wang, "$argon2id$NEW", false)
            .await
            .unwrap()
    );
    let w = store.account(wang).await.unwrap().unwrap();
    assert_eq!(w.password_hash, "$argon2id$NEW");
    assert!(!w.must_change_password);
    assert_eq!((w.failed_logins, w.locked_until), (0, None));
    assert_eq!(w.last_failed_at, Some(t(2, 8)));
    assert!(!store.set_password(9999, "x", false).await.unwrap());
}

pub async fn login_failures_count_atomically_and_lock(store: &Store, _db: &TestDb) {
    let (_, s1, _, _) = units(store).await;
    let id = store
        .insert_account(&account("zhao", s1), t(1, 8))
        .await
        .unwrap();
    // Guesses arriving at once are each counted: the increment happens in the database.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .record_login_failure(id, t(2, 8) + Duration::seconds(i), None)
                .await
                .unwrap()
        }));
    }
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=10).collect::<Vec<i64>>());
    let a = store.account(id).await.unwrap().unwrap();
    assert_eq!((a.failed_logins, a.locked_until), (10, None));
    assert!(a.last_failed_at.is_some());

    let n = store
        .record_login_failure(id, t(2, 9), Some(t(2, 10)))
        .await
        .unwrap();
    assert_eq!(n, 11);
    // A later failure without a lock keeps the lock already set.
    store.record_login_failure(id, t(2, 9), None).await.unwrap();
    let a = store.account(id).await.unwrap().unwrap();
    assert_eq!(
        (a.failed_logins, a.last_failed_at, a.locked_until),
        (12, Some(t(2, 9)), Some(t(2, 10)))
    );

    store.record_login_success(id, t(2, 11)).await.unwrap();
    let a = store.account(id).await.unwrap().unwrap();
    assert_eq!(
        (a.failed_logins, a.locked_until, a.last_login_at),
        (0, None, Some(t(2, 11)))
    );
    assert!(matches!(
        store.record_login_failure(9999, t(2, 8), None).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.record_login_success(9999, t(2, 8)).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn sessions_touch_purge_and_delete(store: &Store, _db: &TestDb) {
    let (_, s1, _, _) = units(store).await;
    let a = store
        .insert_account(&account("a", s1), t(1, 8))
        .await
        .unwrap();
    let b = store
        .insert_account(&account("b", s1), t(1, 8))
        .await
        .unwrap();
    store
        .insert_session("h-a1", a, "CSRF-SECRET", t(3, 8), t(3, 10))
        .await
        .unwrap();
    store
        .insert_session("h-a2", a, "c2", t(3, 8), t(3, 20))
        .await
        .unwrap();
    store
        .insert_session("h-b1", b, "c3", t(3, 8), t(3, 9))
        .await
        .unwrap();
    let s = store.session("h-a1").await.unwrap().unwrap();
    assert_eq!(
        (
            s.account_id,
            s.csrf_token.as_str(),
            s.created_at,
            s.last_seen_at,
            s.expires_at
        ),
        (a, "CSRF-SECRET", t(3, 8), t(3, 8), t(3, 10))
    );
    assert!(!format!("{s:?}").contains("CSRF-SECRET"));
    assert!(store.session("nope").await.unwrap().is_none());

    store
        .touch_session("h-a1", t(3, 9), t(3, 12))
        .await
        .unwrap();
    let s = store.session("h-a1").await.unwrap().unwrap();
    assert_eq!((s.last_seen_at, s.expires_at), (t(3, 9), t(3, 12)));
    // Touching a session that is gone is not an error.
    store
        .touch_session("nope", t(3, 9), t(3, 12))
        .await
        .unwrap();

    // At 11:00 only b's session (expired 09:00) goes; a1 was extended to 12:00.
    assert_eq!(store.purge_expired_sessions(t(3, 11)).await.unwrap(), 1);
    assert!(store.session("h-b1").await.unwrap().is_none());
    assert!(store.session("h-a1").await.unwrap().is_some());
    // Expiry exactly now counts as expired.
    assert_eq!(store.purge_expired_sessions(t(3, 12)).await.unwrap(), 1);
    assert!(store.session("h-a1").await.unwrap().is_none());

    store
        .insert_session("h-a3", a, "c4", t(3, 8), t(3, 20))
        .await
        .unwrap();
    store.delete_session("h-a3").await.unwrap();
    assert!(store.session("h-a3").await.unwrap().is_none());
    store.delete_session("h-a3").await.unwrap();
    store
        .insert_session("h-a4", a, "c5", t(3, 8), t(3, 20))
        .await
        .unwrap();
    assert_eq!(store.delete_sessions_of(a).await.unwrap(), 2);
    assert!(store.session("h-a2").await.unwrap().is_none());
    assert_eq!(store.delete_sessions_of(a).await.unwrap(), 0);
}

pub async fn api_keys_lookup_revoke_and_touch(store: &Store, _db: &TestDb) {
    let (city, s1, _, _) = units(store).await;
    let admin = store
        .insert_account(&account("admin", city), t(1, 8))
        .await
        .unwrap();
    let key = |prefix: &str, purpose| NewApiKey {
        prefix: prefix.into(),
        key_hash: format!("KEYHASH-{prefix}"),
        unit_id: s1,
        purpose,
        label: format!("标签{prefix}"),
        created_by: Some(admin),
    };
    let k1 = store
        .insert_api_key(&key("mk_aaaa", KeyPurpose::Open311), t(4, 8))
        .await
        .unwrap();
    let k2 = store
        .insert_api_key(
            &NewApiKey {
                created_by: None,
                ..key("mk_bbbb", KeyPurpose::Kiosk)
            },
            t(4, 9),
        )
        .await
        .unwrap();
    let err = store
        .insert_api_key(&key("mk_aaaa", KeyPurpose::Sms), t(4, 10))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let r = store.api_key_by_prefix("mk_aaaa").await.unwrap().unwrap();
    assert_eq!(
        (
            r.id,
            r.key_hash.as_str(),
            r.unit_id,
            r.purpose,
            r.created_at,
            r.created_by
        ),
        (
            k1,
            "KEYHASH-mk_aaaa",
            s1,
            KeyPurpose::Open311,
            t(4, 8),
            Some(admin)
        )
    );
    assert_eq!((r.revoked_at, r.last_used_at), (None, None));
    assert!(!format!("{r:?}").contains("KEYHASH"));
    assert!(store.api_key_by_prefix("mk_zzzz").await.unwrap().is_none());
    let r2 = store.api_key(k2).await.unwrap().unwrap();
    assert_eq!((r2.purpose, r2.created_by), (KeyPurpose::Kiosk, None));
    let order: Vec<i64> = store
        .api_keys()
        .await
        .unwrap()
        .iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(order, [k2, k1], "newest first");

    store.touch_api_key(k1, t(4, 11)).await.unwrap();
    assert_eq!(
        store.api_key(k1).await.unwrap().unwrap().last_used_at,
        Some(t(4, 11))
    );
    assert!(store.revoke_api_key(k1, t(4, 12)).await.unwrap());
    assert!(!store.revoke_api_key(k1, t(4, 13)).await.unwrap(), "twice");
    assert!(!store.revoke_api_key(9999, t(4, 13)).await.unwrap());
    assert_eq!(
        store.api_key(k1).await.unwrap().unwrap().revoked_at,
        Some(t(4, 12)),
        "the first revocation time is kept"
    );
    assert_eq!(store.api_key(k2).await.unwrap().unwrap().revoked_at, None);
}

pub async fn submit_with_contact_is_atomic_and_idempotent(store: &Store, _db: &TestDb) {
    let (_, s1, _, _) = units(store).await;
    let o = opinion(1001, Some("form-1"), Some(s1), t(5, 8));
    let c = contact("a");
    let id = submit(store, &o, Some(&c)).await;
    let row = store.opinion(id).await.unwrap().unwrap();
    let cid = row.contact_id.expect("opinion points at its contact");
    let stored = store.contact_of_opinion(id).await.unwrap().unwrap();
    assert_eq!(stored.id, cid);
    assert_eq!(stored.name_enc.as_deref(), Some("v1:name-a"));
    assert_eq!(stored.phone_hash.as_deref(), Some("ph-a"));
    assert_eq!(stored.address_masked.as_deref(), Some("保山市隆阳区****"));
    assert_eq!(
        (stored.id_number_enc, stored.id_number_masked),
        (None, None)
    );
    assert_eq!((stored.created_at, stored.anonymised_at), (t(5, 8), None));
    assert_eq!(store.contact(cid).await.unwrap().unwrap().id, cid);
    let shown = format!("{:?}", store.contact(cid).await.unwrap().unwrap());
    assert!(
        !shown.contains("v1:") && !shown.contains("ph-a") && shown.contains("138****0000"),
        "{shown}"
    );
    let events = store
        .events_of(minyi_core::event::SubjectKind::Opinion, id)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].action.as_str(), events[0].to_state.as_deref()),
        ("receive", Some("received"))
    );

    // The same form sent again (a retry after a lost answer), under a fresh code.
    let again = opinion(1002, Some("form-1"), Some(s1), t(5, 8));
    assert_eq!(
        store
            .submit_opinion(&again, Some(&c), t(5, 8))
            .await
            .unwrap(),
        InsertOutcome::Existing(id)
    );
    assert_eq!(store.count_contacts_by_phone_hash("ph-a").await.unwrap(), 1);

    // A code collision writes nothing at all: no contact, no opinion, no event.
    let clash = opinion(1001, Some("form-2"), Some(s1), t(5, 9));
    assert_eq!(
        store
            .submit_opinion(&clash, Some(&contact("b")), t(5, 9))
            .await
            .unwrap(),
        InsertOutcome::CodeTaken
    );
    assert_eq!(store.count_contacts_by_phone_hash("ph-b").await.unwrap(), 0);
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.opinions, counts.events), (1, 1));

    // Anonymous: no contact row, and none to find.
    let anon = submit(store, &opinion(1003, None, Some(s1), t(5, 10)), None).await;
    assert_eq!(store.opinion(anon).await.unwrap().unwrap().contact_id, None);
    assert!(store.contact_of_opinion(anon).await.unwrap().is_none());
    assert!(store.contact_of_opinion(9999).await.unwrap().is_none());

    // A repeat caller: the same phone hash on a second matter.
    let mut same_phone = contact("c");
    same_phone.phone_hash = Some("ph-a".into());
    submit(
        store,
        &opinion(1004, Some("form-4"), Some(s1), t(5, 11)),
        Some(&same_phone),
    )
    .await;
    assert_eq!(store.count_contacts_by_phone_hash("ph-a").await.unwrap(), 2);
}

pub async fn anonymise_touches_only_finished_old_matters(store: &Store, _db: &TestDb) {
    let (_, s1, _, _) = units(store).await;
    // Old and withdrawn; old and invalid; old but still open; withdrawn after the cutoff.
    let old_withdrawn = submit(
        store,
        &opinion(1, None, Some(s1), t(1, 8)),
        Some(&contact("w")),
    )
    .await;
    let old_invalid = submit(
        store,
        &opinion(2, None, Some(s1), t(1, 8)),
        Some(&contact("i")),
    )
    .await;
    let old_open = submit(
        store,
        &opinion(3, None, Some(s1), t(1, 8)),
        Some(&contact("o")),
    )
    .await;
    let recent = submit(
        store,
        &opinion(4, None, Some(s1), t(1, 8)),
        Some(&contact("r")),
    )
    .await;
    let mut no_phone = contact("n");
    no_phone.phone_enc = None;
    no_phone.phone_hash = None;
    no_phone.phone_masked = None;
    let old_no_phone = submit(store, &opinion(5, None, Some(s1), t(1, 8)), Some(&no_phone)).await;
    for (id, action, at) in [
        (old_withdrawn, OpinionAction::Withdraw, t(2, 8)),
        (old_invalid, OpinionAction::MarkInvalid, t(2, 8)),
        (old_no_phone, OpinionAction::Withdraw, t(2, 8)),
        (recent, OpinionAction::Withdraw, t(20, 8)),
    ] {
        store
            .transition_opinion(id, action, "t", at, None)
            .await
            .unwrap();
    }
    let cutoff = t(10, 0);
    let now = t(25, 3);
    assert_eq!(store.anonymise_closed_before(cutoff, now).await.unwrap(), 3);

    for id in [old_withdrawn, old_invalid] {
        let c = store.contact_of_opinion(id).await.unwrap().unwrap();
        assert_eq!(
            (
                &c.name_enc,
                &c.name_hash,
                &c.phone_enc,
                &c.phone_hash,
                &c.address_enc
            ),
            (&None, &None, &None, &None, &None)
        );
        for masked in [&c.name_masked, &c.phone_masked, &c.address_masked] {
            assert_eq!(masked.as_deref(), Some(ANONYMISED));
        }
        assert_eq!(c.id_number_masked, None, "a field never given stays empty");
        assert_eq!(c.anonymised_at, Some(now));
    }
    let n = store
        .contact_of_opinion(old_no_phone)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (n.phone_masked, n.name_masked.as_deref()),
        (None, Some(ANONYMISED))
    );
    for (id, tag) in [(old_open, "o"), (recent, "r")] {
        let c = store.contact_of_opinion(id).await.unwrap().unwrap();
        assert_eq!(c.name_enc, Some(format!("v1:name-{tag}")));
        assert_eq!(c.anonymised_at, None);
    }
    assert_eq!(store.count_contacts_by_phone_hash("ph-w").await.unwrap(), 0);
    assert_eq!(store.count_contacts_by_phone_hash("ph-o").await.unwrap(), 1);
    // Already anonymised rows are not counted again.
    assert_eq!(
        store
            .anonymise_closed_before(cutoff, t(26, 0))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .contact_of_opinion(old_withdrawn)
            .await
            .unwrap()
            .unwrap()
            .anonymised_at,
        Some(now)
    );
}

/// Any function will do as the seal: the store must only order and keep what it returns.
fn seal(seq: i64, prev: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (seq, prev).hash(&mut h);
    format!("{:016x}{seq}", h.finish())
}

pub async fn audit_chain_is_contiguous_under_concurrency(store: &Store, db: &TestDb) {
    assert_eq!(store.audit_head().await.unwrap(), None);
    assert!(store.audit_page(0, 10).await.unwrap().is_empty());
    // Two handles on one database stand in for two processes.
    let other = Store::open(&db.url).await.unwrap();
    let base = DateTime::from_timestamp_millis(1_772_000_000_123).unwrap();
    let mut tasks = Vec::new();
    for i in 0..8i64 {
        let s = if i % 2 == 0 {
            store.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            let e = NewAudit {
                at: base + Duration::milliseconds(i),
                actor: format!("user{i}"),
                action: "login".into(),
                subject: format!("account:{i}"),
                detail: "{}".into(),
            };
            s.append_audit(&e, &seal).await.unwrap()
        }));
    }
    let mut returned = Vec::new();
    for task in tasks {
        returned.push(task.await.unwrap());
    }
    other.close().await;

    let rows = store.audit_page(0, 100).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<i64>>()
    );
    let mut prev = AUDIT_GENESIS.to_owned();
    for r in &rows {
        assert_eq!(
            r.prev_hash, prev,
            "entry {} chains to the one before",
            r.seq
        );
        assert_eq!(r.hash, seal(r.seq, &r.prev_hash));
        prev = r.hash.clone();
    }
    // Each caller got back exactly what was stored, `at` to the millisecond.
    for r in &returned {
        assert_eq!(Some(r), rows.iter().find(|x| x.seq == r.seq));
        let i: i64 = r.actor.trim_start_matches("user").parse().unwrap();
        assert_eq!(r.at, base + Duration::milliseconds(i));
    }
    assert_eq!(AUDIT_GENESIS.len(), 64);
    assert_eq!(store.audit_head().await.unwrap(), Some((8, prev)));
    assert_eq!(
        store
            .audit_recent(3)
            .await
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect::<Vec<_>>(),
        [8, 7, 6]
    );
    assert_eq!(
        store
            .audit_page(5, 2)
            .await
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect::<Vec<_>>(),
        [6, 7]
    );
}

pub async fn malformed_audit_head_is_corrupt(store: &Store, _db: &TestDb) {
    for bad in ["garbage", "x:abc", "3:", "-1:abc"] {
        store.meta_set("audit_head", bad).await.unwrap();
        let err = store.audit_head().await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{bad}: {err:?}");
        assert!(err.to_string().contains("audit_head"), "{err}");
    }
}

pub async fn scoped_opinion_reads(store: &Store, _db: &TestDb) {
    let (city, s1, s2, dept) = units(store).await;
    let a = submit(store, &opinion(11, None, Some(s1), t(6, 8)), None).await;
    let b = submit(store, &opinion(12, None, Some(s2), t(6, 9)), None).await;
    let c = submit(store, &opinion(13, None, Some(s1), t(6, 10)), None).await;
    let mut routed = opinion(14, None, None, t(6, 11));
    routed.department_id = Some(dept);
    let d = submit(store, &routed, None).await;

    let ids = |rows: Vec<minyi_store::OpinionRow>| rows.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.opinions_in_units(&[s1], 10).await.unwrap()),
        [c, a]
    );
    assert_eq!(
        ids(store.opinions_in_units(&[s2, s1, s1], 10).await.unwrap()),
        [c, b, a]
    );
    assert_eq!(
        ids(store.opinions_in_units(&[s1, s2], 2).await.unwrap()),
        [c, b]
    );
    assert!(store.opinions_in_units(&[], 10).await.unwrap().is_empty());
    assert!(
        store
            .opinions_in_units(&[city], 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(store.opinions_of_department(dept, 10).await.unwrap()),
        [d]
    );
    assert!(
        store
            .opinions_of_department(s1, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let tree = store.unit_tree().await.unwrap();
    assert_eq!(tree.len(), 5);
    assert!(tree.contains(&(city, None)));
    let county = tree.iter().find(|(id, _)| *id == s1).unwrap().1.unwrap();
    assert!(tree.contains(&(county, Some(city))));
    assert!(tree.contains(&(s2, Some(county))));
}
