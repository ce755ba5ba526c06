//! Record imports and hard indicators on a hand-made city: a later row applies as events
//! and the same row again changes nothing; bad rows are rejected with row and column and
//! leave nothing behind; a record without a phone is flagged; every indicator's
//! numerator and denominator on hand-made data, at the station and rolled up the tree.

use chrono::{DateTime, TimeZone, Utc};
use minyi_app::App;
use minyi_app::indicators::{Ratio, for_units_at};
use minyi_app::records::{ImportOptions, RecordKind, RecordReport, import_rows, table_rows};
use minyi_core::Code;
use minyi_core::event::SubjectKind;
use minyi_core::org::{AreaKind, NewArea, NewUnit, UnitKind, WindowKind};
use minyi_core::records::{ImportedCase, Indicator, ReportPeriod};
use minyi_store::testing::TestDb;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 1, 4, 0, 0).unwrap()
}

async fn city(db: &TestDb) -> App {
    let app = super::app_for(db).await;
    let u = |c: &str, kind, parent: Option<&str>| NewUnit {
        code: Code::parse(c).unwrap(),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(|p| Code::parse(p).unwrap()),
        window: (kind == UnitKind::Window).then_some(WindowKind::Household),
        department: None,
        synthetic: false,
    };
    app.store
        .insert_units(&[
            u("RC", UnitKind::CityBureau, None),
            u("RC-1", UnitKind::CountyBureau, Some("RC")),
            u("RC-1-S1", UnitKind::Station, Some("RC-1")),
            u("RC-1-S1-W", UnitKind::Window, Some("RC-1-S1")),
            u("RC-1-S2", UnitKind::Station, Some("RC-1")),
        ])
        .await
        .unwrap();
    let a = |c: &str, kind, parent: Option<&str>, station: Option<&str>| NewArea {
        code: Code::parse(c).unwrap(),
        kind,
        name: format!("区域{c}"),
        parent: parent.map(|p| Code::parse(p).unwrap()),
        station: station.map(|s| Code::parse(s).unwrap()),
        population: 1000,
        centre: None,
        synthetic: false,
    };
    app.store
        .insert_areas(&[
            a("RA", AreaKind::County, None, None),
            a("RA-1", AreaKind::Township, Some("RA"), Some("RC-1-S2")),
        ])
        .await
        .unwrap();
    app
}

fn opts() -> ImportOptions {
    ImportOptions {
        actor: "test".into(),
        scope: None,
        dry_run: false,
    }
}

async fn import(app: &App, kind: RecordKind, csv: &str) -> RecordReport {
    let (header, rows) = table_rows(csv.as_bytes()).unwrap();
    import_rows(app, kind, &header, rows, &opts(), now(), &|_| {})
        .await
        .unwrap()
}

fn reasons(r: &[minyi_app::import::RowError]) -> Vec<(usize, String)> {
    r.iter().map(|e| (e.row, e.column.clone())).collect()
}

async fn case_id(app: &App, ext: &str) -> i64 {
    app.store
        .stored_records::<ImportedCase>(&[ext.to_owned()])
        .await
        .unwrap()[ext]
        .id
}

async fn actions(app: &App, subject: SubjectKind, id: i64) -> Vec<String> {
    app.store
        .events_of(subject, id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

const CASE_HEAD: &str = "案件编号,案件类别,办案单位,报案时间,立案时间,确定办案民警时间,抓获时间,破案时间,结案时间,损失金额,挽回金额,被害人,电话\n";

async fn reimport_applies_events_not_duplicates(db: TestDb) {
    let app = city(&db).await;
    let first =
        format!("{CASE_HEAD}AJ1,盗窃,RC-1-S1,2026-03-01 08:00,,,,,,1000,,李四,13900001111\n");
    let r = import(&app, RecordKind::Cases, &first).await;
    assert_eq!((r.created, r.changed, r.unchanged, r.events), (1, 0, 0, 1));
    assert!(
        r.rejected.is_empty() && r.flagged.is_empty(),
        "{:?}",
        r.rejected
    );
    let id = case_id(&app, "AJ1").await;

    // The same export a week later: filed, investigator, suspect caught, solved, part of
    // the loss recovered, closed — six events, no second case.
    let later = format!(
        "{CASE_HEAD}AJ1,theft,RC-1-S1,2026-03-01 08:00,2026-03-02 09:00,2026-03-02 10:00,2026-03-05 10:00,2026-03-06 10:00,2026-03-20 10:00,1000,400.50,李四,13900001111\n"
    );
    let r = import(&app, RecordKind::Cases, &later).await;
    assert_eq!((r.created, r.changed, r.unchanged, r.events), (0, 1, 0, 6));
    assert_eq!(
        actions(&app, SubjectKind::Case, id).await,
        [
            "received",
            "filed",
            "investigator_assigned",
            "suspect_caught",
            "solved",
            "closed",
            // Exports carry no date for a recovery: it is dated when the import learns of it.
            "loss_recovered"
        ]
    );
    let events = app.store.events_of(SubjectKind::Case, id).await.unwrap();
    let recovered = events
        .iter()
        .find(|e| e.action == "loss_recovered")
        .unwrap();
    assert_eq!(
        recovered.detail.as_deref(),
        Some("{\"recovered_fen\":40050,\"total_fen\":40050,\"loss_fen\":100000}")
    );
    assert_eq!(app.store.counts().await.unwrap().cases, 1);

    // Again: nothing changes.
    let r = import(&app, RecordKind::Cases, &later).await;
    assert_eq!((r.created, r.changed, r.unchanged, r.events), (0, 0, 1, 0));
    assert_eq!(actions(&app, SubjectKind::Case, id).await.len(), 7);

    // Two rows for one new record in one file: one record, both rows applied in order.
    let two = format!(
        "{CASE_HEAD}AJ2,fraud,RC-1-S1,2026-03-03 08:00,,,,,,,,,\nAJ2,fraud,RC-1-S1,2026-03-03 08:00,2026-03-04 08:00,,,,,,,,\n"
    );
    let r = import(&app, RecordKind::Cases, &two).await;
    assert_eq!((r.created, r.changed, r.events), (1, 1, 2));
    assert_eq!(r.flagged.len(), 1, "no phone: flagged once, when created");
    assert_eq!(
        actions(&app, SubjectKind::Case, case_id(&app, "AJ2").await).await,
        ["received", "filed"]
    );
    app.store.close().await;
    db.drop_db().await;
}

async fn bad_rows_are_named_and_leave_nothing(db: TestDb) {
    let app = city(&db).await;
    let r = import(
        &app,
        RecordKind::Cases,
        &format!(
            "{CASE_HEAD}AJ1,盗窃,RC-1-S1,2026-03-01 08:00,2026-03-02 08:00,,,,,500,,,13900001111\n"
        ),
    )
    .await;
    assert!(r.rejected.is_empty());
    let id = case_id(&app, "AJ1").await;
    let events_before = app.store.counts().await.unwrap().events;
    let contacts_before = contacts(&db).await;
    let csv = format!(
        "{CASE_HEAD}\
         AJ9,盗窃,NOPE,2026-03-01 08:00,,,,,,,,,13900001111\n\
         AJ9,盗窃,RC-1-S1-W,2026-03-01 08:00,,,,,,,,,13900001111\n\
         AJ9,盗窃,RC-1-S1,2026-03-05 08:00,2026-03-06 08:00,,,2026-03-04 08:00,,,,,13900001111\n\
         AJ9,盗窃,RC-1-S1,2026-03-05 08:00,,,,2026-03-06 08:00,,,,,13900001111\n\
         AJ1,诈骗,RC-1-S1,2026-03-01 08:00,2026-03-02 08:00,,,,,500,,,13900001111\n\
         AJ1,盗窃,RC-1-S1,2026-03-01 09:00,2026-03-02 08:00,,,,,500,,,13900001111\n\
         AJ1,盗窃,RC-1-S1,2026-03-01 08:00,,,,,,500,,,13900001111\n\
         AJ1,盗窃,RC-1-S1,2026-03-01 08:00,2026-03-02 08:00,,,2026-03-03 08:00,,500,600,,13900001111\n\
         AJ1,盗窃,RC-1-S1,2026-03-01 08:00,2026-03-02 08:00,,,,,500,,,1390000\n\
         AJ9,burglary,,2026-03-01 08:00,,,,,,,,,13900001111\n\
         AJ1,盗窃,RC-1-S1,2026-03-01 08:00,2026-03-02 08:00,,,,,五百,,,13900001111\n"
    );
    let r = import(&app, RecordKind::Cases, &csv).await;
    assert_eq!(r.rows, 11);
    assert_eq!(
        reasons(&r.rejected),
        [
            (2, "station".into()),
            (3, "station".into()),
            (4, "-".into()),
            (5, "-".into()),
            (6, "kind".into()),
            (7, "reported_at".into()),
            (8, "filed_at".into()),
            (9, "-".into()),
            (10, "phone".into()),
            (11, "station".into()),
            (12, "loss_yuan".into()),
        ]
    );
    assert!(r.rejected[0].reason.contains("unknown unit `NOPE`"));
    assert!(r.rejected[1].reason.contains("not a police station"));
    assert!(r.rejected[2].reason.contains("impossible timeline"));
    assert!(
        r.rejected[4]
            .reason
            .contains("conflicts with the stored record")
    );
    assert!(
        !r.rejected[8].reason.contains("1390000"),
        "never quote a phone"
    );
    assert_eq!((r.created, r.changed, r.events), (0, 0, 0));
    assert_eq!(app.store.counts().await.unwrap().events, events_before);
    assert_eq!(
        contacts(&db).await,
        contacts_before,
        "no contact left behind"
    );
    assert_eq!(
        actions(&app, SubjectKind::Case, id).await,
        ["received", "filed"]
    );
    assert_eq!(app.store.counts().await.unwrap().cases, 1);

    // Incidents: unknown area, a police matter without a unit; an area gives the station.
    let r = import(
        &app,
        RecordKind::Incidents,
        "external_id,received_at,unit,area,police_matter,closed_at,resolved,phone,domestic_violence\n\
         J1,2026-03-01 08:00,,RA-9,1,,,13900001111,\n\
         J2,2026-03-01 08:00,,,1,,,13900001111,\n\
         J3,2026-03-01 08:00,,RA-1,1,2026-03-01 09:00,是,13900001111,\n\
         J4,2026-03-01 08:00,RC-1-S1,,1,,,,是\n\
         J5,2026-03-01 08:00,RC-1-S1,,1,,,,\n\
         J6,2026-03-01 08:00,RC-1-S1,,1,2026-03-01 07:00,,,\n",
    )
    .await;
    assert_eq!(
        reasons(&r.rejected),
        [(2, "area".into()), (3, "unit".into()), (7, "-".into())]
    );
    assert_eq!(r.created, 3);
    assert_eq!(
        reasons(&r.flagged),
        [(6, "phone".into())],
        "domestic violence needs no phone: J4 is not flagged"
    );
    let counts = for_units_at(&app, &ReportPeriod::parse("2026-03").unwrap(), now())
        .await
        .unwrap();
    let s2 = counts
        .iter()
        .find(|u| u.unit.code.as_str() == "RC-1-S2")
        .unwrap();
    assert_eq!(
        s2.get(Indicator::HelpResolution),
        Ratio {
            numerator: 1,
            denominator: 1
        },
        "J3 was routed to the area's station"
    );
    app.store.close().await;
    db.drop_db().await;
}

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

async fn each_indicator_on_hand_made_data(db: TestDb) {
    let app = city(&db).await;
    // 110: S1 closes 4 police matters in March (3 resolved), 1 in February; 1 non-police.
    let r = import(
        &app,
        RecordKind::Incidents,
        "external_id,received_at,unit,police_matter,department,closed_at,resolved,phone\n\
         I1,2026-03-01 08:00,RC-1-S1,1,,2026-03-01 09:00,1,13900000001\n\
         I2,2026-03-02 08:00,RC-1-S1,1,,2026-03-02 09:00,1,13900000002\n\
         I3,2026-03-03 08:00,RC-1-S1,1,,2026-03-03 09:00,1,13900000003\n\
         I4,2026-03-04 08:00,RC-1-S1,1,,2026-03-04 09:00,0,13900000004\n\
         I5,2026-02-04 08:00,RC-1-S1,1,,2026-02-04 09:00,0,13900000005\n\
         I6,2026-03-04 08:00,,0,utilities,2026-03-04 09:00,1,13900000006\n",
    )
    .await;
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    // Permits at S1's window: 2 on time, 1 late, 1 overdue, 1 not yet due (promised after now).
    let r = import(
        &app,
        RecordKind::Permits,
        "external_id,kind,window,applied_at,promised_at,issued_at,phone\n\
         P1,id_card,RC-1-S1-W,2026-03-01 08:00,2026-03-08 17:00,2026-03-07 10:00,13900000011\n\
         P2,居住证,RC-1-S1-W,2026-03-01 08:00,2026-03-08 17:00,2026-03-08 17:00,13900000012\n\
         P3,id_card,RC-1-S1-W,2026-03-01 08:00,2026-03-08 17:00,2026-03-09 10:00,13900000013\n\
         P4,id_card,RC-1-S1-W,2026-03-01 08:00,2026-03-20 17:00,,13900000014\n\
         P5,id_card,RC-1-S1-W,2026-03-30 08:00,2026-04-20 17:00,,13900000015\n",
    )
    .await;
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    // Cases at S2: filed in time, filed on day 8, never filed (past 7 days), reported on
    // 30 March and not filed yet (still within its 7 days: not counted).
    let r = import(
        &app,
        RecordKind::Cases,
        &format!(
            "{CASE_HEAD}\
             K1,theft,RC-1-S2,2026-03-01 08:00,2026-03-03 08:00,,,,,2000,500,,13900000021\n\
             K2,theft,RC-1-S2,2026-03-01 08:00,2026-03-09 08:00,,,,,1000,,,13900000022\n\
             K3,fraud,RC-1-S2,2026-03-10 08:00,,,,,,,,,13900000023\n\
             K4,fraud,RC-1-S2,2026-03-30 08:00,,,,,,300,300,,13900000024\n"
        ),
    )
    .await;
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    // Callbacks of S1 due in March.
    {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        let s1 = app.store.unit_by_code("RC-1-S1").await.unwrap().unwrap().id;
        let due = |d: u32| Utc.with_ymd_and_hms(2026, 3, d, 2, 0, 0).unwrap();
        for (i, (d, state, attempts, outcome, verdict)) in [
            (2, "done", 1, Some("reached"), Some("satisfied")),
            (3, "done", 1, Some("reached"), Some("basically_satisfied")),
            (4, "done", 2, Some("reached"), Some("dissatisfied")),
            (5, "done", 1, Some("reached"), None),
            (6, "failed", 3, Some("wrong_number"), None),
            (7, "pending", 1, Some("no_answer"), None),
            (8, "excluded", 0, None, None),
        ]
        .into_iter()
        .enumerate()
        {
            sqlx::query(
                "INSERT INTO callbacks (source, source_id, unit_id, due_at, state, attempts, outcome, verdict) \
                 VALUES ('incident', $1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(i as i64 + 1)
            .bind(s1)
            .bind(due(d).timestamp_millis())
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

    let all = for_units_at(&app, &ReportPeriod::parse("2026-03").unwrap(), now())
        .await
        .unwrap();
    let of = |code: &str, i: Indicator| {
        let u = all.iter().find(|u| u.unit.code.as_str() == code).unwrap();
        let r = u.get(i);
        (r.numerator, r.denominator)
    };
    assert_eq!(of("RC-1-S1", Indicator::HelpResolution), (3, 4));
    assert_eq!(
        of("RC-1-S1", Indicator::PermitOnTime),
        (2, 4),
        "the window is the station's"
    );
    assert_eq!(of("RC-1-S1-W", Indicator::PermitOnTime), (2, 4));
    assert_eq!(of("RC-1-S2", Indicator::PermitOnTime), (0, 0));
    assert_eq!(of("RC-1-S2", Indicator::TimelyFiling), (1, 3));
    assert_eq!(of("RC-1-S2", Indicator::LossRecovery), (80_000, 330_000));
    assert_eq!(of("RC-1-S1", Indicator::CallbackCoverage), (4, 6));
    assert_eq!(of("RC-1-S1", Indicator::ReachRate), (4, 6));
    assert_eq!(of("RC-1-S1", Indicator::CallbackSatisfaction), (2, 3));
    // A station counts only its own; the county and the city add their subtree.
    assert_eq!(of("RC-1-S2", Indicator::HelpResolution), (0, 0));
    for code in ["RC-1", "RC"] {
        assert_eq!(of(code, Indicator::HelpResolution), (3, 4));
        assert_eq!(of(code, Indicator::TimelyFiling), (1, 3));
        assert_eq!(of(code, Indicator::PermitOnTime), (2, 4));
    }
    // A shorter filing limit (`[callbacks] filing_limit_days = 1`): K1, filed after two
    // days, is late, and K4, unfiled for two days, now counts (late).
    let mut strict = app.clone();
    strict.config.callbacks.filing_limit_days = 1;
    let march = for_units_at(&strict, &ReportPeriod::parse("2026-03").unwrap(), now())
        .await
        .unwrap();
    let s2 = march
        .iter()
        .find(|u| u.unit.code.as_str() == "RC-1-S2")
        .unwrap()
        .get(Indicator::TimelyFiling);
    assert_eq!((s2.numerator, s2.denominator), (0, 4));
    // February: only I5.
    let feb = for_units_at(&app, &ReportPeriod::parse("2026-02").unwrap(), now())
        .await
        .unwrap();
    let s1 = feb
        .iter()
        .find(|u| u.unit.code.as_str() == "RC-1-S1")
        .unwrap();
    assert_eq!(
        s1.get(Indicator::HelpResolution),
        Ratio {
            numerator: 0,
            denominator: 1
        }
    );
    app.store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_reimport_applies_events_not_duplicates_sqlite() {
    reimport_applies_events_not_duplicates(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_reimport_applies_events_not_duplicates_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    reimport_applies_events_not_duplicates(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_bad_rows_are_named_and_leave_nothing_sqlite() {
    bad_rows_are_named_and_leave_nothing(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_bad_rows_are_named_and_leave_nothing_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    bad_rows_are_named_and_leave_nothing(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicators_each_on_hand_made_data_sqlite() {
    each_indicator_on_hand_made_data(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicators_each_on_hand_made_data_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    each_indicator_on_hand_made_data(db).await;
}

/// The import flags a record without a phone exactly when the callback rules would call
/// someone about it (`CallbackRules::calls_about`): a non-police 110 call too under the
/// shipped rules, not when incidents are limited to police matters, never an opted-out
/// caller while `opted_out` is an exclusion.
async fn no_phone_flag_follows_the_callback_rules(db: TestDb) {
    let mut app = city(&db).await;
    let csv = "external_id,received_at,unit,police_matter,notices_opt_out\n\
               N1,2026-03-01 08:00,RC-1-S1,0,\n\
               N2,2026-03-01 08:00,RC-1-S1,1,\n\
               N3,2026-03-01 08:00,RC-1-S1,1,是\n";
    let r = import(&app, RecordKind::Incidents, csv).await;
    assert_eq!(r.created, 3);
    assert_eq!(
        reasons(&r.flagged),
        [(2, "phone".into()), (3, "phone".into())],
        "shipped rules: the non-police call N1 is called back, the opted-out N3 is not"
    );

    app.config.callbacks = minyi_core::callback::CallbackRules::from_toml(Some(
        &"exclusions = []\n[rules.incident_closed]\nsource = \"incident\"\non = \"closed\"\nwithin_working_days = 1\npolice_matters_only = true"
            .parse()
            .unwrap(),
    ))
    .unwrap();
    let r = import(&app, RecordKind::Incidents, &csv.replace('N', "P")).await;
    assert_eq!(r.created, 3);
    assert_eq!(
        reasons(&r.flagged),
        [(3, "phone".into()), (4, "phone".into())],
        "police matters only, no exclusions: P1 is not called, P3 is"
    );
    app.store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_no_phone_flag_follows_the_callback_rules_sqlite() {
    no_phone_flag_follows_the_callback_rules(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_no_phone_flag_follows_the_callback_rules_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    no_phone_flag_follows_the_callback_rules(db).await;
}

/// The phone number stored with the incident `ext`, decrypted.
async fn phone_of(app: &App, db: &TestDb, ext: &str) -> String {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let id: i64 = sqlx::query("SELECT contact_id FROM incidents WHERE external_id = $1")
        .bind(ext)
        .fetch_one(&mut c)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    c.close().await.unwrap();
    let contact = app.store.contact(id).await.unwrap().unwrap();
    app.key
        .decrypt(minyi_vault::Field::Phone, &contact.phone_enc.unwrap())
        .unwrap()
}

/// More rows than a batch, prepared on several threads while the batch before is
/// written: rows keep their numbers, each record its own contact, a repeated id in a later
/// batch applies to the record of the earlier one.
async fn large_import_keeps_rows_in_order(db: TestDb) {
    let app = city(&db).await;
    let n = minyi_app::records::BATCH_ROWS + 2_500;
    let mut csv = String::from("external_id,received_at,unit,closed_at,phone\n");
    for i in 0..n {
        match i {
            // Row 7 (i = 5) is impossible: closed before received.
            5 => csv.push_str("L5,2026-03-01 08:00,RC-1-S1,2026-03-01 07:00,13900000005\n"),
            // The last row repeats L100, now closed: a change, not a new record.
            _ if i == n - 1 => {
                csv.push_str("L100,2026-03-01 08:00,RC-1-S1,2026-03-01 09:00,13900000100\n")
            }
            _ => csv.push_str(&format!("L{i},2026-03-01 08:00,RC-1-S1,,139{i:08}\n")),
        }
    }
    let r = import(&app, RecordKind::Incidents, &csv).await;
    assert_eq!(r.rows, n);
    assert_eq!(reasons(&r.rejected), [(7, "-".into())]);
    assert_eq!((r.created, r.changed), (n - 2, 1));
    assert_eq!(r.contacts, n - 2);
    assert_eq!(contacts(&db).await, (n - 2) as i64);
    let b = minyi_app::records::BATCH_ROWS;
    for i in [0, 4, 6, 100, b - 1, b, b + 1, n - 2] {
        assert_eq!(
            phone_of(&app, &db, &format!("L{i}")).await,
            format!("139{i:08}")
        );
    }
    let id = app
        .store
        .stored_records::<minyi_core::records::ImportedIncident>(&["L100".to_owned()])
        .await
        .unwrap()["L100"]
        .id;
    assert_eq!(
        actions(&app, SubjectKind::Incident, id).await,
        ["received", "closed"]
    );
    app.store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_large_import_keeps_rows_in_order_sqlite() {
    large_import_keeps_rows_in_order(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_large_import_keeps_rows_in_order_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    large_import_keeps_rows_in_order(db).await;
}
