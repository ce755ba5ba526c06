//! Stories for the import bulk path (`Store::import_opinions`): opinions, their sealed
//! contacts and `receive` events written together, idempotent on the client key, with no
//! contact left behind by a row that was not written.

use chrono::{DateTime, TimeZone, Utc};
use minyi_core::event::SubjectKind;
use minyi_core::opinion::{Escalation, NewOpinion, OpinionState, OpinionText, TrackingCode};
use minyi_core::taxonomy::{Category, Channel, Sentiment, Urgency};
use minyi_store::testing::TestDb;
use minyi_store::{ImportItem, InsertOutcome, NewContact, Store};

conformance!(
    import:
    import_writes_contacts_events_once,
    collisions_and_repeats_leave_no_contact,
);

fn t() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 2, 0, 0).unwrap()
}

fn item(i: u64, key: &str, contact: bool) -> ImportItem {
    ImportItem {
        opinion: NewOpinion {
            tracking_code: TrackingCode::from_bits(1_000 + i),
            client_key: Some(key.to_owned()),
            channel: Channel::SuggestionBox,
            text: OpinionText::parse(&format!("意见{i}")).unwrap(),
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
            received_at: t(),
            due_at: Some(t()),
            closed_at: None,
            verdict: None,
            synthetic: false,
        },
        contact: contact.then(|| NewContact {
            phone_enc: Some(format!("sealed-{i}")),
            phone_hash: Some(format!("hash-{i}")),
            phone_masked: Some("139****0000".into()),
            ..NewContact::default()
        }),
    }
}

/// Contact rows in the database, linked or not: an orphan would be a leaked identity.
async fn contacts(db: &TestDb) -> i64 {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM contacts")
        .fetch_one(&mut c)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    c.close().await.unwrap();
    n
}

pub async fn import_writes_contacts_events_once(store: &Store, db: &TestDb) {
    // More rows than one multi-row statement holds, every third with a contact.
    let items: Vec<ImportItem> = (0..2_500)
        .map(|i| item(i, &format!("import:{i}"), i % 3 == 0))
        .collect();
    let out = store.import_opinions(&items, t()).await.unwrap();
    assert!(out.iter().all(|o| matches!(o, InsertOutcome::Created(_))));
    let InsertOutcome::Created(first) = out[0] else {
        unreachable!()
    };
    let o = store.opinion(first).await.unwrap().unwrap();
    let c = store.contact_of_opinion(first).await.unwrap().unwrap();
    assert_eq!(c.phone_enc.as_deref(), Some("sealed-0"));
    assert_eq!(o.text, "意见0");
    let events = store.events_of(SubjectKind::Opinion, first).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].action.as_str(), events[0].actor.as_str()),
        ("receive", "suggestion_box")
    );
    assert_eq!(contacts(db).await, 834);

    // The same keys again, with fresh codes: nothing new, not even a contact.
    let again: Vec<ImportItem> = (0..2_500)
        .map(|i| item(100_000 + i, &format!("import:{i}"), true))
        .collect();
    let out2 = store.import_opinions(&again, t()).await.unwrap();
    for (a, b) in out.iter().zip(&out2) {
        let InsertOutcome::Created(id) = a else {
            unreachable!()
        };
        assert_eq!(*b, InsertOutcome::Existing(*id));
    }
    assert_eq!(store.counts().await.unwrap().opinions, 2_500);
    assert_eq!(contacts(db).await, 834);
    let known = store
        .existing_client_keys(&["import:7".into(), "import:nope".into()])
        .await
        .unwrap();
    assert_eq!(known.len(), 1);
    assert!(known.contains_key("import:7"));
}

pub async fn collisions_and_repeats_leave_no_contact(store: &Store, db: &TestDb) {
    let out = store
        .import_opinions(&[item(1, "import:a", true)], t())
        .await
        .unwrap();
    let InsertOutcome::Created(a) = out[0] else {
        unreachable!()
    };
    // Row 0 takes a's tracking code with a new key; row 2 repeats row 1's key.
    let batch = vec![
        item(1, "import:b", true),
        item(2, "import:c", true),
        item(3, "import:c", true),
        item(4, "import:a", true),
    ];
    let out = store.import_opinions(&batch, t()).await.unwrap();
    assert_eq!(out[0], InsertOutcome::CodeTaken);
    let InsertOutcome::Created(c) = out[1] else {
        panic!("{out:?}")
    };
    assert_eq!(out[2], InsertOutcome::Existing(c));
    assert_eq!(out[3], InsertOutcome::Existing(a));
    assert_eq!(store.counts().await.unwrap().opinions, 2);
    // Exactly the two stored opinions' contacts: the collided row's was rolled back.
    let mut sealed = Vec::new();
    for id in [a, c] {
        let row = store.contact_of_opinion(id).await.unwrap().unwrap();
        sealed.extend(row.phone_enc);
    }
    assert_eq!(sealed, ["sealed-1", "sealed-2"]);
    assert_eq!(contacts(db).await, 2);
}
