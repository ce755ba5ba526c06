//! Stories for record imports (`Store::apply_records`) and the hard indicators
//! (`Store::indicator_counts`, `Store::indicator_records`): a batch writes records, their
//! events and contacts together and sets `changed_at`; a failing batch writes nothing;
//! every indicator counts exactly the records its drill-down lists.

use chrono::{DateTime, Duration, TimeZone, Utc};
use minyi_core::Code;
use minyi_core::event::SubjectKind;
use minyi_core::org::{NewUnit, UnitKind, WindowKind};
use minyi_core::records::{
    CaseKind, ImportedCase, ImportedIncident, ImportedPermit, Indicator, NewCase, NewIncident,
    NewPermit, PermitKind, RecordAction, RecordChange, RecordFlags,
};
use minyi_core::taxonomy::Category;
use minyi_store::testing::TestDb;
use minyi_store::{IndicatorWindow, NewContact, RecordWrite, Store};

conformance!(
    records:
    a_batch_writes_records_events_and_contacts_together,
    a_failing_batch_writes_nothing,
    reserved_ids_do_not_collide_with_other_writers,
    indicators_count_what_their_drill_down_lists,
);

fn t(d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap()
}

fn unit(code: &str, kind: UnitKind, parent: Option<&str>) -> NewUnit {
    NewUnit {
        code: Code::parse(code).unwrap(),
        kind,
        name: code.into(),
        parent: parent.map(|p| Code::parse(p).unwrap()),
        window: (kind == UnitKind::Window).then_some(WindowKind::Household),
        department: None,
        synthetic: false,
    }
}

/// City, a station S with a window W, a second station T. Returns (S, W, T).
async fn city(store: &Store) -> (i64, i64, i64) {
    let ids = store
        .insert_units(&[
            unit("C", UnitKind::CityBureau, None),
            unit("C-1", UnitKind::CountyBureau, Some("C")),
            unit("C-1-S", UnitKind::Station, Some("C-1")),
            unit("C-1-S-W", UnitKind::Window, Some("C-1-S")),
            unit("C-1-T", UnitKind::Station, Some("C-1")),
        ])
        .await
        .unwrap();
    (ids[2], ids[3], ids[4])
}

fn incident(id: &str, unit: i64, at: DateTime<Utc>) -> ImportedIncident {
    ImportedIncident {
        incident: NewIncident {
            external_id: id.into(),
            received_at: at,
            area_id: None,
            unit_id: Some(unit),
            category: Category::Emergency110,
            police_matter: true,
            department: None,
            summary: "求助".into(),
            closed_at: None,
            resolved: None,
            synthetic: false,
        },
        flags: RecordFlags::default(),
    }
}

fn change(action: RecordAction, at: DateTime<Utc>) -> RecordChange {
    RecordChange {
        action,
        at,
        from_state: None,
        to_state: None,
        detail: None,
    }
}

fn sealed(i: u32) -> NewContact {
    NewContact {
        phone_enc: Some(format!("sealed-{i}")),
        phone_hash: Some(format!("hash-{i}")),
        phone_masked: Some("139****0000".into()),
        ..NewContact::default()
    }
}

async fn scalar(db: &TestDb, sql: &str) -> i64 {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&mut c)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    c.close().await.unwrap();
    n
}

pub async fn a_batch_writes_records_events_and_contacts_together(store: &Store, db: &TestDb) {
    let (s, _, _) = city(store).await;
    let now = t(10, 0);
    let ids = vec!["JQ1".to_owned(), "JQ2".to_owned()];
    let done = store
        .apply_records::<ImportedIncident, _>(&ids, "cli", now, |stored| {
            assert!(stored.is_empty());
            vec![
                RecordWrite {
                    id: None,
                    record: incident("JQ1", s, t(1, 8)),
                    contact: Some(sealed(1)),
                    changes: vec![change(RecordAction::Received, t(1, 8))],
                },
                RecordWrite {
                    id: None,
                    record: incident("JQ2", s, t(1, 9)),
                    contact: None,
                    changes: vec![change(RecordAction::Received, t(1, 9))],
                },
            ]
        })
        .await
        .unwrap();
    assert_eq!(
        (done.created, done.changed, done.events, done.contacts),
        (2, 0, 2, 1)
    );
    let stored = store
        .stored_records::<ImportedIncident>(&ids)
        .await
        .unwrap();
    let one = &stored["JQ1"];
    assert!(one.has_contact && !stored["JQ2"].has_contact);
    assert_eq!(one.record, incident("JQ1", s, t(1, 8)));
    assert_eq!(
        scalar(
            db,
            &format!(
                "SELECT COUNT(*) FROM incidents WHERE changed_at = {}",
                now.timestamp_millis()
            )
        )
        .await,
        2,
        "changed_at is the import time"
    );

    // The second batch closes JQ2 and gives it a contact: one update, one event.
    let later = t(11, 0);
    let id2 = stored["JQ2"].id;
    store
        .apply_records::<ImportedIncident, _>(&ids[1..], "cli", later, |stored| {
            let mut r = stored["JQ2"].record.clone();
            r.incident.closed_at = Some(t(1, 10));
            r.incident.resolved = Some(true);
            r.flags.notices_opt_out = true;
            vec![RecordWrite {
                id: Some(stored["JQ2"].id),
                record: r,
                contact: Some(sealed(2)),
                changes: vec![change(RecordAction::Closed, t(1, 10))],
            }]
        })
        .await
        .unwrap();
    let again = store
        .stored_records::<ImportedIncident>(&ids)
        .await
        .unwrap();
    let two = &again["JQ2"];
    assert!(two.has_contact && two.record.flags.notices_opt_out);
    assert_eq!(two.record.incident.resolved, Some(true));
    let events = store.events_of(SubjectKind::Incident, id2).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["received", "closed"]);
    assert_eq!(events[1].actor, "cli");
    assert_eq!(
        scalar(
            db,
            &format!("SELECT changed_at FROM incidents WHERE id = {id2}")
        )
        .await,
        later.timestamp_millis()
    );
    assert_eq!(scalar(db, "SELECT COUNT(*) FROM contacts").await, 2);
}

/// New incidents at unit `s`, each received on 1 March, the i-th with `contact(i)`.
fn received(
    ids: &[String],
    s: i64,
    contact: impl Fn(usize) -> Option<NewContact>,
) -> Vec<RecordWrite<ImportedIncident>> {
    ids.iter()
        .enumerate()
        .map(|(i, e)| RecordWrite {
            id: None,
            record: incident(e, s, t(1, 8)),
            contact: contact(i),
            changes: vec![change(RecordAction::Received, t(1, 8))],
        })
        .collect()
}

pub async fn a_failing_batch_writes_nothing(store: &Store, db: &TestDb) {
    let (s, _, _) = city(store).await;
    // The second record names a unit that does not exist: the foreign key fails the batch
    // after the first record, its event and its contact were written in the transaction.
    let err = store
        .apply_records::<ImportedIncident, _>(
            &["A".to_owned(), "B".to_owned()],
            "cli",
            t(10, 0),
            |_| {
                vec![
                    RecordWrite {
                        id: None,
                        record: incident("A", s, t(1, 8)),
                        contact: Some(sealed(1)),
                        changes: vec![change(RecordAction::Received, t(1, 8))],
                    },
                    RecordWrite {
                        id: None,
                        record: incident("B", 999_999, t(1, 8)),
                        contact: Some(sealed(2)),
                        changes: vec![change(RecordAction::Received, t(1, 8))],
                    },
                ]
            },
        )
        .await;
    assert!(err.is_err());
    let nothing_stored = || async {
        for table in ["incidents", "events", "contacts"] {
            assert_eq!(
                scalar(db, &format!("SELECT COUNT(*) FROM {table}")).await,
                0,
                "{table}"
            );
        }
    };
    nothing_stored().await;

    // A unique key failing in the middle of a multi-row statement (a record created by
    // someone else since the batch read the store looks the same): the rows before it in
    // the same statement, and the batch's contacts, go too.
    let ids: Vec<String> = ["C", "D", "C"].map(String::from).to_vec();
    let err = store
        .apply_records::<ImportedIncident, _>(&ids, "cli", t(10, 0), |_| {
            received(&ids, s, |i| Some(sealed(i as u32)))
        })
        .await;
    assert!(err.is_err());
    nothing_stored().await;

    // The store goes on: the next batch on the same pool is written.
    let done = store
        .apply_records::<ImportedIncident, _>(&ids[..1], "cli", t(10, 0), |_| {
            vec![RecordWrite {
                id: None,
                record: incident("C", s, t(1, 8)),
                contact: Some(sealed(9)),
                changes: vec![change(RecordAction::Received, t(1, 8))],
            }]
        })
        .await
        .unwrap();
    assert_eq!((done.created, done.contacts, done.events), (1, 1, 1));
}

async fn exec(db: &TestDb, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
}

/// A batch reserves its contacts' and records' ids before it writes them: every record
/// gets its own contact and its own events, batch after batch, and rows that other paths
/// insert before and between batches (taking the next id themselves) never collide.
pub async fn reserved_ids_do_not_collide_with_other_writers(store: &Store, db: &TestDb) {
    let (s, _, _) = city(store).await;
    let other = "INSERT INTO contacts (phone_enc, created_at) VALUES ('other', 0)";
    exec(db, other).await;
    let mut n = 0u32;
    for round in 0..2 {
        let ids: Vec<String> = (0..5).map(|i| format!("R{round}-{i}")).collect();
        let first = n;
        let done = store
            .apply_records::<ImportedIncident, _>(&ids, "cli", t(10, 0), |_| {
                // The third record has no contact: the others must not shift.
                received(&ids, s, |i| (i != 2).then(|| sealed(first + i as u32)))
            })
            .await
            .unwrap();
        assert_eq!((done.created, done.contacts, done.events), (5, 4, 5));
        n += 5;
        exec(db, other).await;
    }
    for round in 0..2u32 {
        for i in 0..5u32 {
            let ext = format!("R{round}-{i}");
            let id = scalar(
                db,
                &format!("SELECT id FROM incidents WHERE external_id = '{ext}'"),
            )
            .await;
            let events = store.events_of(SubjectKind::Incident, id).await.unwrap();
            assert_eq!(events.len(), 1, "{ext} has its own event");
            let contact = scalar(
                db,
                &format!("SELECT COALESCE(contact_id, 0) FROM incidents WHERE id = {id}"),
            )
            .await;
            if i == 2 {
                assert_eq!(contact, 0, "{ext} has no contact");
                continue;
            }
            let row = store.contact(contact).await.unwrap().unwrap();
            assert_eq!(
                row.phone_enc,
                Some(format!("sealed-{}", round * 5 + i)),
                "{ext}"
            );
        }
    }
    assert_eq!(scalar(db, "SELECT COUNT(*) FROM contacts").await, 11);
    assert_eq!(
        scalar(
            db,
            "SELECT COUNT(*) FROM contacts WHERE phone_enc = 'other'"
        )
        .await,
        3
    );
    assert_eq!(scalar(db, "SELECT COUNT(*) FROM events").await, 10);
}

pub async fn indicators_count_what_their_drill_down_lists(store: &Store, db: &TestDb) {
    let (s, w, other) = city(store).await;
    let now = t(31, 0);
    let window = IndicatorWindow {
        from: t(1, 0),
        to: t(1, 0) + Duration::days(30),
        now,
        filing_limit_ms: 7 * 86_400_000,
    };
    let before = t(1, 0) - Duration::days(3);

    // Incidents: 3 police matters closed in March at S (2 resolved, 1 unknown), one
    // closed before March, one non-police, one at the other station.
    let mut incidents = Vec::new();
    for (id, unit, at, closed, resolved, police) in [
        ("I1", s, t(2, 8), Some(t(2, 9)), Some(true), true),
        ("I2", s, t(3, 8), Some(t(3, 9)), Some(true), true),
        ("I3", s, t(4, 8), Some(t(4, 9)), None, true),
        ("I4", s, before, Some(before), Some(true), true),
        ("I5", s, t(5, 8), Some(t(5, 9)), Some(false), false),
        ("I6", other, t(5, 8), Some(t(5, 9)), Some(false), true),
        ("I7", s, t(6, 8), None, None, true),
    ] {
        let mut i = incident(id, unit, at);
        i.incident.closed_at = closed;
        i.incident.resolved = resolved;
        i.incident.police_matter = police;
        incidents.push(i);
    }
    write(store, incidents).await;

    // Permits at S's window: on time, late, overdue unissued, promised in the future.
    let permit =
        |id: &str, promised: DateTime<Utc>, issued: Option<DateTime<Utc>>| ImportedPermit {
            permit: NewPermit {
                external_id: id.into(),
                kind: PermitKind::IdCard,
                window_id: w,
                applied_at: t(1, 8),
                promised_at: promised,
                issued_at: issued,
                synthetic: false,
            },
            flags: RecordFlags::default(),
        };
    write(
        store,
        vec![
            permit("P1", t(10, 17), Some(t(9, 10))),
            permit("P2", t(10, 17), Some(t(12, 10))),
            permit("P3", t(20, 17), None),
            permit("P4", t(30, 17) + Duration::days(20), None),
        ],
    )
    .await;

    // Cases at S: filed in 2 days (loss 1000, recovered 400), filed after 9 days, not filed
    // after 10 days, reported yesterday and not filed (undecided), loss-free.
    let case =
        |id: &str, reported: DateTime<Utc>, filed: Option<DateTime<Utc>>, loss, rec| ImportedCase {
            case: NewCase {
                external_id: id.into(),
                kind: CaseKind::Theft,
                station_id: s,
                area_id: None,
                reported_at: reported,
                filed_at: filed,
                solved_at: None,
                closed_at: None,
                loss_fen: loss,
                recovered_fen: rec,
                synthetic: false,
            },
            investigator_assigned_at: None,
            suspect_caught_at: None,
            flags: RecordFlags::default(),
        };
    write(
        store,
        vec![
            case("K1", t(2, 8), Some(t(4, 8)), 100_000, 40_000),
            case("K2", t(3, 8), Some(t(12, 8)), 50_000, 0),
            case("K3", t(5, 8), None, 0, 0),
            case("K4", t(30, 8), None, 0, 0),
        ],
    )
    .await;

    // Callbacks of S: done/reached/satisfied, done/reached/basically, done/reached/
    // dissatisfied, failed/no answer, pending never tried, excluded, and one due in April.
    {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        for (i, (due, state, attempts, outcome, verdict)) in [
            (t(2, 8), "done", 1, Some("reached"), Some("satisfied")),
            (
                t(3, 8),
                "done",
                2,
                Some("reached"),
                Some("basically_satisfied"),
            ),
            (t(4, 8), "done", 1, Some("reached"), Some("dissatisfied")),
            (t(5, 8), "failed", 3, Some("no_answer"), None),
            (t(6, 8), "pending", 0, None, None),
            (t(7, 8), "excluded", 0, None, None),
            (
                t(31, 8) + Duration::days(5),
                "done",
                1,
                Some("reached"),
                Some("satisfied"),
            ),
        ]
        .into_iter()
        .enumerate()
        {
            sqlx::query(
                "INSERT INTO callbacks (source, source_id, unit_id, due_at, state, attempts, outcome, verdict) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind("incident")
            .bind(i as i64 + 1)
            .bind(s)
            .bind(due.timestamp_millis())
            .bind(state)
            .bind(attempts as i64)
            .bind(outcome)
            .bind(verdict)
            .execute(&mut conn)
            .await
            .unwrap();
        }
        conn.close().await.unwrap();
    }

    let counts = store.indicator_counts(&window).await.unwrap();
    let of = |i: Indicator, u: i64| {
        counts
            .iter()
            .find(|c| c.indicator == i && c.unit_id == u)
            .map(|c| (c.numerator, c.denominator))
    };
    let want = [
        (Indicator::HelpResolution, s, (2, 3)),
        (Indicator::HelpResolution, other, (0, 1)),
        (Indicator::PermitOnTime, w, (1, 3)),
        (Indicator::TimelyFiling, s, (1, 3)),
        (Indicator::LossRecovery, s, (40_000, 150_000)),
        (Indicator::CallbackCoverage, s, (3, 5)),
        (Indicator::ReachRate, s, (3, 4)),
        (Indicator::CallbackSatisfaction, s, (2, 3)),
    ];
    for (i, u, nd) in want {
        assert_eq!(of(i, u), Some(nd), "{i} of unit {u}");
        let (rows, total) = store
            .indicator_records(i, &[u], &window, 100, 0)
            .await
            .unwrap();
        let listed = if i == Indicator::LossRecovery {
            2
        } else {
            nd.1
        };
        assert_eq!(total, listed, "records of {i}");
        let num: i64 = rows.iter().map(|r| r.numerator).sum();
        let den: i64 = rows.iter().map(|r| r.denominator).sum();
        assert_eq!((num, den), nd, "drill-down of {i}");
    }
    assert_eq!(
        of(Indicator::PermitOnTime, s),
        None,
        "permits count at their window"
    );
    let (rows, total) = store
        .indicator_records(Indicator::HelpResolution, &[s], &window, 2, 0)
        .await
        .unwrap();
    assert_eq!((rows.len(), total), (2, 3));
    assert_eq!(rows[0].label, "I3", "newest first");
    let (rows, _) = store
        .indicator_records(Indicator::HelpResolution, &[s], &window, 2, 2)
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.label.as_str()).collect::<Vec<_>>(),
        ["I1"]
    );
    let (cb, _) = store
        .indicator_records(Indicator::CallbackCoverage, &[s], &window, 10, 0)
        .await
        .unwrap();
    assert!(cb.iter().all(|r| r.label.starts_with("incident:")));
}

async fn write<T: minyi_store::ImportRecord>(store: &Store, records: Vec<T>) {
    let ids: Vec<String> = records.iter().map(|r| r.external_id().to_owned()).collect();
    store
        .apply_records::<T, _>(&ids, "test", t(31, 0), |_| {
            records
                .into_iter()
                .map(|record| RecordWrite {
                    id: None,
                    record,
                    contact: None,
                    changes: Vec::new(),
                })
                .collect()
        })
        .await
        .unwrap();
}
