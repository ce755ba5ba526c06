//! Callbacks and case-progress notices planned from imported records and their events,
//! across the 2026 National Day holiday (1–7 October off): due times on the working-day
//! calendar, the supervising bureau for conduct, exclusions, idempotence, notices once per
//! milestone with opt-out, attempts to failure, and a dissatisfied resident's opinion.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use minyi_app::App;
use minyi_app::auth::{Operator, Principal};
use minyi_app::callbacks::{OutcomeInput, plan, record_outcome, reveal_phone, visible};
use minyi_app::privacy::{ContactInput, seal};
use minyi_core::access::Role;
use minyi_core::callback::Exclusion;
use minyi_core::event::{NewEvent, SubjectKind};
use minyi_core::org::{AreaKind, NewArea, NewUnit, UnitKind, WindowKind};
use minyi_core::records::{
    CallbackOutcome, CallbackSource, CallbackState, CaseKind, NewCase, NewIncident, NewPermit,
    PermitKind,
};
use minyi_core::taxonomy::{Category, Channel, Verdict};
use minyi_core::{Code, PhoneNumber};
use minyi_store::testing::TestDb;
use sqlx::Connection;

fn sh(m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(2026, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn end_of(m: u32, d: u32) -> DateTime<Utc> {
    sh(m, d, 23, 59) + Duration::milliseconds(59_999)
}

const PASSWORD: &str = "callback passphrase 1";

/// A contact with a phone, sealed like every resident's identity.
async fn contact(app: &App, db: &TestDb, id: i64, phone: &str) -> i64 {
    let c = seal(
        &app.key,
        &ContactInput {
            phone: Some(PhoneNumber::parse(phone).unwrap()),
            ..Default::default()
        },
    );
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO contacts (id, phone_enc, phone_hash, phone_masked, created_at) VALUES ($1, $2, $3, $4, 0)",
    )
    .bind(id)
    .bind(c.phone_enc.unwrap())
    .bind(c.phone_hash.unwrap())
    .bind(c.phone_masked.unwrap())
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    id
}

/// What an import sets on a record it changes: the contact, the flags, `changed_at`.
async fn touch(
    db: &TestDb,
    table: &str,
    external_id: &str,
    contact: Option<i64>,
    flags: &str,
    at: DateTime<Utc>,
) {
    let sql = format!(
        "UPDATE {table} SET contact_id = $1, changed_at = $2{flags} WHERE external_id = '{external_id}'"
    );
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(contact)
        .bind(at.timestamp_millis())
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

struct City {
    county: i64,
    s1: i64,
    window: i64,
    area: i64,
}

async fn city(app: &App) -> City {
    let u = |c: &str, kind, parent: Option<&str>| NewUnit {
        code: Code::parse(c).unwrap(),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(|p| Code::parse(p).unwrap()),
        window: (kind == UnitKind::Window).then_some(WindowKind::Household),
        department: None,
        synthetic: false,
    };
    let ids = app
        .store
        .insert_units(&[
            u("HB", UnitKind::CityBureau, None),
            u("HB-1", UnitKind::CountyBureau, Some("HB")),
            u("HB-1-S1", UnitKind::Station, Some("HB-1")),
            u("HB-1-S2", UnitKind::Station, Some("HB-1")),
            u("HB-1-S1-W", UnitKind::Window, Some("HB-1-S1")),
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
    let areas = app
        .store
        .insert_areas(&[
            a("HA", AreaKind::County, None, None),
            a("HA-1", AreaKind::Township, Some("HA"), Some("HB-1-S1")),
        ])
        .await
        .unwrap();
    for (name, role, unit) in [
        ("cb_s1", Role::StationStaff, "HB-1-S1"),
        ("cb_s2", Role::StationStaff, "HB-1-S2"),
        ("cb_county", Role::CountyAnalyst, "HB-1"),
        ("cb_leader", Role::Leader, "HB"),
    ] {
        minyi_app::auth::create_account(
            app,
            Operator::Cli,
            name,
            "回访测试",
            role,
            unit,
            PASSWORD,
            false,
            false,
            sh(9, 1, 9, 0),
        )
        .await
        .unwrap();
    }
    City {
        county: ids[1],
        s1: ids[2],
        window: ids[4],
        area: areas[1],
    }
}

async fn principal(app: &App, name: &str) -> Principal {
    minyi_app::auth::sign_in(app, name, PASSWORD, sh(9, 1, 9, 0))
        .await
        .unwrap()
        .unwrap()
        .principal
}

fn incident(
    id: &str,
    unit: i64,
    area: i64,
    category: Category,
    closed: DateTime<Utc>,
) -> NewIncident {
    NewIncident {
        external_id: id.into(),
        received_at: closed - Duration::hours(2),
        area_id: Some(area),
        unit_id: Some(unit),
        category,
        police_matter: true,
        department: None,
        summary: "报警求助".into(),
        closed_at: Some(closed),
        resolved: Some(true),
        synthetic: false,
    }
}

fn case(id: &str, station: i64, area: i64, filed: DateTime<Utc>) -> NewCase {
    NewCase {
        external_id: id.into(),
        kind: CaseKind::Burglary,
        station_id: station,
        area_id: Some(area),
        reported_at: filed - Duration::hours(3),
        filed_at: Some(filed),
        solved_at: None,
        closed_at: None,
        loss_fen: 500_000,
        recovered_fen: 0,
        synthetic: false,
    }
}

async fn callback_of(
    app: &App,
    source: CallbackSource,
    external: &str,
    rule: &str,
) -> minyi_store::CallbackRow {
    let table = match source {
        CallbackSource::Incident => "incident",
        CallbackSource::Case => "case",
        _ => "permit",
    };
    // Ids follow insertion order; find the record through its callbacks' external id.
    for id in 1..50 {
        for c in app.store.callbacks_of_record(source, id).await.unwrap() {
            if c.external_id.as_deref() == Some(external) && c.rule == rule {
                return c;
            }
        }
    }
    panic!("no {table} callback {rule} for {external}");
}

async fn outbox_keys(app: &App) -> Vec<(String, String)> {
    let mut v: Vec<_> = app
        .store
        .outbox_recent(100)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.dedup_key.unwrap_or_default(), m.body))
        .collect();
    v.sort();
    v
}

async fn story(db: TestDb) {
    let app = super::app_for(&db).await;
    let c = city(&app).await;
    // The imports of 30 September 2026 (Wednesday, the last working day before National Day).
    let closed = sh(9, 30, 20, 0);
    app.store
        .insert_incidents(&[
            incident("JQ-1", c.s1, c.area, Category::Emergency110, closed),
            incident("JQ-CONDUCT", c.s1, c.area, Category::Conduct, closed),
            incident("JQ-NOPHONE", c.s1, c.area, Category::PublicOrder, closed),
        ])
        .await
        .unwrap();
    app.store
        .insert_cases(&[
            case("AJ-1", c.s1, c.area, sh(9, 30, 10, 0)),
            case("AJ-DV", c.s1, c.area, sh(9, 30, 10, 0)),
            case("AJ-OPTOUT", c.s1, c.area, sh(9, 30, 10, 0)),
        ])
        .await
        .unwrap();
    app.store
        .insert_permits(&[NewPermit {
            external_id: "ZZ-1".into(),
            kind: PermitKind::IdCard,
            window_id: c.window,
            applied_at: sh(9, 10, 9, 0),
            promised_at: sh(10, 9, 17, 0),
            issued_at: Some(sh(9, 30, 16, 0)),
            synthetic: false,
        }])
        .await
        .unwrap();
    let changed = sh(9, 30, 21, 0);
    let k1 = contact(&app, &db, 501, "13800001111").await;
    let k2 = contact(&app, &db, 502, "13800002222").await;
    let k3 = contact(&app, &db, 503, "13800003333").await;
    let k4 = contact(&app, &db, 504, "13800004444").await;
    let k5 = contact(&app, &db, 505, "13800005555").await;
    touch(&db, "incidents", "JQ-1", Some(k1), "", changed).await;
    touch(&db, "incidents", "JQ-CONDUCT", Some(k2), "", changed).await;
    touch(&db, "incidents", "JQ-NOPHONE", None, "", changed).await;
    let assigned = format!(
        ", investigator_assigned_at = {}",
        sh(9, 30, 12, 0).timestamp_millis()
    );
    touch(&db, "cases", "AJ-1", Some(k3), &assigned, changed).await;
    touch(
        &db,
        "cases",
        "AJ-DV",
        Some(k4),
        ", domestic_violence = 1",
        changed,
    )
    .await;
    touch(
        &db,
        "cases",
        "AJ-OPTOUT",
        Some(k5),
        ", notices_opt_out = 1",
        changed,
    )
    .await;
    touch(&db, "permits", "ZZ-1", Some(k1), "", changed).await;

    // Too early: the changes have not settled yet.
    let r = plan(&app, changed + Duration::minutes(1)).await.unwrap();
    assert_eq!(r.created, 0, "{r:?}");

    let now = sh(10, 1, 10, 0);
    let r = plan(&app, now).await.unwrap();
    assert_eq!(r.records, 7, "{r:?}");
    // 3 incidents, 3 case filings, 1 permit.
    assert_eq!(r.created, 7, "{r:?}");
    // AJ-1: filed and investigator assigned; the DV and opted-out cases hear nothing.
    assert_eq!(r.notices, 2, "{r:?}");

    // One working day after Wednesday 30 September is Thursday 8 October.
    let jq1 = callback_of(&app, CallbackSource::Incident, "JQ-1", "incident_closed").await;
    assert_eq!(jq1.due_at, end_of(10, 8));
    assert_eq!(jq1.unit_id, c.s1);
    assert_eq!(jq1.state, CallbackState::Pending);
    assert_eq!(jq1.phone_masked.as_deref(), Some("138****1111"));
    // A complaint about the station's own conduct: its county bureau calls.
    let conduct = callback_of(
        &app,
        CallbackSource::Incident,
        "JQ-CONDUCT",
        "incident_closed",
    )
    .await;
    assert_eq!(conduct.unit_id, c.county);
    let nophone = callback_of(
        &app,
        CallbackSource::Incident,
        "JQ-NOPHONE",
        "incident_closed",
    )
    .await;
    assert_eq!(
        (nophone.state, nophone.excluded_reason),
        (CallbackState::Excluded, Some(Exclusion::NoContact))
    );
    let dv = callback_of(&app, CallbackSource::Case, "AJ-DV", "case_filed").await;
    assert_eq!(dv.excluded_reason, Some(Exclusion::DomesticViolence));
    let opt = callback_of(&app, CallbackSource::Case, "AJ-OPTOUT", "case_filed").await;
    assert_eq!(opt.excluded_reason, Some(Exclusion::OptedOut));
    // Filed Wednesday 30 September with 3 working days: 8, 9 and Saturday 10 October
    // (a make-up working day).
    let aj1 = callback_of(&app, CallbackSource::Case, "AJ-1", "case_filed").await;
    assert_eq!(aj1.due_at, end_of(10, 10));
    // Issued 30 September with 2 working days: 8 and 9 October; the window calls.
    let zz = callback_of(&app, CallbackSource::Permit, "ZZ-1", "permit_issued").await;
    assert_eq!((zz.due_at, zz.unit_id), (end_of(10, 9), c.window));

    let notices = outbox_keys(&app).await;
    assert_eq!(notices.len(), 2);
    let aj1_id = aj1.source_id;
    assert_eq!(notices[0].0, format!("notice:case:{aj1_id}:filed"));
    assert_eq!(
        notices[1].0,
        format!("notice:case:{aj1_id}:investigator_assigned")
    );
    for (_, body) in &notices {
        assert!(
            body.contains("AJ-1") && !body.contains("13800003333"),
            "{body}"
        );
    }

    // Idempotent: a second pass, and a pass that re-reads everything, create nothing.
    let again = plan(&app, now + Duration::minutes(1)).await.unwrap();
    assert_eq!(
        (again.created, again.updated, again.notices),
        (0, 0, 0),
        "{again:?}"
    );
    for source in ["incident", "case", "permit"] {
        app.store
            .meta_set(&format!("callbacks.cursor.{source}"), "-1:0")
            .await
            .unwrap();
    }
    let reread = plan(&app, now + Duration::minutes(2)).await.unwrap();
    assert_eq!(
        (
            reread.records,
            reread.created,
            reread.updated,
            reread.notices
        ),
        (7, 0, 0, 0)
    );

    // A later import: AJ-1 recovers part of the loss and is closed; the victim hears both once.
    let later = sh(10, 9, 15, 0);
    app.store
        .insert_events(&[NewEvent {
            subject: SubjectKind::Case,
            subject_id: aj1_id,
            at: later,
            actor: "import".into(),
            action: "loss_recovered".into(),
            from_state: None,
            to_state: None,
            detail: None,
        }])
        .await
        .unwrap();
    touch(
        &db,
        "cases",
        "AJ-1",
        Some(k3),
        &format!(
            ", recovered_fen = 120000, closed_at = {}",
            later.timestamp_millis()
        ),
        later,
    )
    .await;
    let r = plan(&app, later + Duration::hours(1)).await.unwrap();
    assert_eq!((r.records, r.created, r.notices), (1, 1, 2), "{r:?}");
    let r = plan(&app, later + Duration::hours(2)).await.unwrap();
    assert_eq!((r.created, r.notices), (0, 0));
    let notices = outbox_keys(&app).await;
    assert!(notices.iter().any(|(k, b)| k
        == &format!("notice:case:{aj1_id}:loss_recovered:120000")
        && b.contains("1200.00元")));
    assert!(
        notices
            .iter()
            .any(|(k, _)| k == &format!("notice:case:{aj1_id}:closed"))
    );
    let closing = callback_of(&app, CallbackSource::Case, "AJ-1", "case_closed").await;
    // Closed Friday 9 October: Saturday 10 (make-up), Monday 12, Tuesday 13.
    assert_eq!(closing.due_at, end_of(10, 13));

    // Scope: another station does not see S1's callbacks, nor S1 the county's.
    let s1 = principal(&app, "cb_s1").await;
    let s2 = principal(&app, "cb_s2").await;
    let county = principal(&app, "cb_county").await;
    let leader = principal(&app, "cb_leader").await;
    assert!(matches!(
        visible(&app, &s2, jq1.id).await,
        Err(minyi_app::AppError::NotFound)
    ));
    assert!(matches!(
        visible(&app, &s1, conduct.id).await,
        Err(minyi_app::AppError::NotFound)
    ));
    assert!(visible(&app, &county, conduct.id).await.is_ok());
    let (list, total) = minyi_app::callbacks::worklist(
        &app,
        &s1,
        &minyi_store::CallbackQuery {
            limit: 50,
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        total, 7,
        "S1 and its window, without the county's: {list:?}"
    );

    // Three unanswered calls, four working hours apart, then failed.
    let no_answer = || OutcomeInput {
        outcome: CallbackOutcome::NoAnswer,
        verdict: None,
        comment: None,
    };
    let r1 = record_outcome(&app, &s1, jq1.id, no_answer(), sh(10, 8, 9, 0))
        .await
        .unwrap();
    assert_eq!(
        (r1.state, r1.next_attempt_at),
        (CallbackState::Pending, Some(sh(10, 8, 13, 0)))
    );
    let r2 = record_outcome(&app, &s1, jq1.id, no_answer(), sh(10, 8, 16, 0))
        .await
        .unwrap();
    // 1.5 hours left on Thursday, 2.5 more on Friday from 08:30.
    assert_eq!(r2.next_attempt_at, Some(sh(10, 9, 11, 0)));
    let r3 = record_outcome(&app, &s1, jq1.id, no_answer(), sh(10, 9, 11, 0))
        .await
        .unwrap();
    assert_eq!(
        (r3.state, r3.next_attempt_at),
        (CallbackState::Failed, None)
    );
    assert!(matches!(
        record_outcome(&app, &s1, jq1.id, no_answer(), sh(10, 9, 12, 0)).await,
        Err(minyi_app::AppError::Invalid(k)) if k == "callbacks.not_pending"
    ));
    // A leader reads but does not call.
    assert!(matches!(
        record_outcome(&app, &leader, zz.id, no_answer(), sh(10, 9, 12, 0)).await,
        Err(minyi_app::AppError::Forbidden)
    ));
    // Reached without a verdict is refused and changes nothing.
    assert!(
        record_outcome(
            &app,
            &s1,
            aj1.id,
            OutcomeInput {
                outcome: CallbackOutcome::Reached,
                verdict: None,
                comment: None
            },
            sh(10, 9, 12, 0)
        )
        .await
        .is_err()
    );
    assert_eq!(visible(&app, &s1, aj1.id).await.unwrap().attempts, 0);

    // The number is revealed for a reason, on the record.
    assert!(
        reveal_phone(&app, &s1, aj1.id, "短", sh(10, 9, 12, 0))
            .await
            .is_err()
    );
    let phone = reveal_phone(&app, &s1, aj1.id, "回访拨号", sh(10, 9, 12, 0))
        .await
        .unwrap();
    assert_eq!(phone, "13800003333");
    let audit = app.store.audit_recent(10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "reveal" && a.subject == format!("callback:{}", aj1.id))
    );

    // Reached and dissatisfied: an opinion opens on the callback channel, routed to the
    // record's area, linked to the callback; the comment is its text.
    let done = record_outcome(
        &app,
        &s1,
        aj1.id,
        OutcomeInput {
            outcome: CallbackOutcome::Reached,
            verdict: Some(Verdict::Dissatisfied),
            comment: Some("立案后一直没有人联系我，不知道案子办得怎样".into()),
        },
        sh(10, 9, 14, 0),
    )
    .await
    .unwrap();
    assert_eq!(done.state, CallbackState::Done);
    let code = done.opinion.expect("an opinion was opened");
    let o = app
        .store
        .opinion_by_tracking_code(&code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.channel, Channel::Callback);
    assert_eq!(o.category, Category::CaseProgress);
    assert_eq!(o.unit_id, Some(c.s1));
    assert!(o.text.contains("没有人联系我"));
    let linked = visible(&app, &s1, aj1.id).await.unwrap();
    assert_eq!(linked.opinion_code.as_deref(), Some(code.as_str()));
    assert_eq!(linked.verdict, Some(Verdict::Dissatisfied));

    // The caller of JQ-1, who also applied for ZZ-1, replies TD: the permit callback
    // nobody has called yet becomes excluded; the failed one stays as it was.
    let n = minyi_app::callbacks::opt_out_by_sms(
        &app,
        &PhoneNumber::parse("13800001111").unwrap(),
        sh(10, 9, 15, 0),
    )
    .await
    .unwrap();
    assert_eq!(n, 2);
    let r = plan(&app, sh(10, 9, 16, 0)).await.unwrap();
    assert_eq!((r.records, r.created, r.updated), (2, 0, 1), "{r:?}");
    let zz = visible(&app, &s1, zz.id).await.unwrap();
    assert_eq!(
        (zz.state, zz.excluded_reason),
        (CallbackState::Excluded, Some(Exclusion::OptedOut))
    );
    assert_eq!(
        visible(&app, &s1, jq1.id).await.unwrap().state,
        CallbackState::Failed
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_and_notices_across_national_day_sqlite() {
    story(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_and_notices_across_national_day_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    story(db).await;
}

/// A wrong `[callbacks]` key in minyi.toml stops start-up with the key named.
#[test]
fn bad_callback_config_names_the_key() {
    let dir = std::env::temp_dir().join(format!("minyi-cb-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("minyi.toml");
    std::fs::write(
        &file,
        "[callbacks]\nattempts = 3\n[callbacks.rules.case_filed]\nsource = \"case\"\non = \"issued\"\nwithin_working_days = 2\n",
    )
    .unwrap();
    let err = minyi_app::Config::load(dir.clone(), Some(&file), &|_| None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("callbacks.rules.case_filed.on"), "{err}");
    std::fs::write(
        &file,
        "[callbacks]\nattempts = 5\nspacing_working_hours = 2\n",
    )
    .unwrap();
    let c = minyi_app::Config::load(dir.clone(), Some(&file), &|_| None).unwrap();
    assert_eq!(
        (c.callbacks.attempts, c.callbacks.spacing_working_hours),
        (5, 2)
    );
    assert_eq!(c.callbacks.rules.len(), 5);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The demo city: every record is read once, nothing breaks, and a second pass creates
/// nothing (records older than `plan_within_days` get no callback; the demo's records
/// carry no contact, so those planned are excluded as `no_contact`).
async fn demo_story(db: TestDb) {
    let app = super::app_for(&db).await;
    minyi_app::demo::load(&app, 3, super::small(), &|_| {})
        .await
        .unwrap();
    // The day after the demo period (which ends on 20 November 2026).
    let now = sh(11, 21, 9, 0);
    let first = plan(&app, now).await.unwrap();
    assert_eq!(first.records, 800 + 200 + 300, "{first:?}");
    assert!(first.created > 0 && first.too_old > 0, "{first:?}");
    assert_eq!(first.notices, 0);
    let second = plan(&app, now + Duration::minutes(1)).await.unwrap();
    assert_eq!((second.records, second.created, second.updated), (0, 0, 0));
    let leader = app
        .store
        .units()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.parent_id.is_none())
        .unwrap();
    let ids: Vec<i64> = app
        .store
        .units()
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    let (rows, total) = app
        .store
        .callback_worklist(
            &ids,
            &minyi_store::CallbackQuery {
                limit: 20,
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
    // The demo also carries its own synthetic callbacks (rule `demo_synthetic`, already
    // called: done or failed) so the assessment's callback indicators have figures.
    let mut synthetic = 0;
    for state in [CallbackState::Done, CallbackState::Failed] {
        let (called, n) = app
            .store
            .callback_worklist(
                &ids,
                &minyi_store::CallbackQuery {
                    state: Some(state),
                    limit: 500,
                    ..Default::default()
                },
                now,
            )
            .await
            .unwrap();
        assert!(called.iter().all(|r| r.rule == "demo_synthetic"));
        synthetic += n as u64;
    }
    assert!(synthetic > 0);
    assert_eq!(
        total as u64,
        first.created + synthetic,
        "under {}",
        leader.name
    );
    assert!(
        rows.iter()
            .filter(|r| r.rule != "demo_synthetic")
            .all(|r| r.state == CallbackState::Excluded
                && r.excluded_reason == Some(Exclusion::NoContact))
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_city_is_planned_once_sqlite() {
    demo_story(TestDb::sqlite()).await;
}
