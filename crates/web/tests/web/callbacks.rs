//! The callback worklist over HTTP: the list of the account's subtree and its filters, a
//! callback's page with its script and masked number, the audited reveal, the outcome
//! form (CSRF, refusals answered on the page, dissatisfaction opening a linked opinion),
//! and another station's callback answered 404.

use axum::http::{StatusCode, header};
use chrono::{Duration, Utc};
use minyi_app::App;
use minyi_app::auth::Operator;
use minyi_app::privacy::{ContactInput, seal};
use minyi_core::access::Role;
use minyi_core::org::{AreaKind, NewArea, NewUnit, UnitKind};
use minyi_core::records::{CallbackSource, CaseKind, NewCase};
use minyi_core::{Code, PhoneNumber};
use minyi_store::testing::TestDb;
use sqlx::Connection;

use crate::{Client, open_app};

const PASSWORD: &str = "worklist passphrase 1";

async fn fixture(app: &App, db: &TestDb) -> i64 {
    let u = |c: &str, kind, parent: Option<&str>| NewUnit {
        code: Code::parse(c).unwrap(),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(|p| Code::parse(p).unwrap()),
        window: None,
        department: None,
        synthetic: false,
    };
    let ids = app
        .store
        .insert_units(&[
            u("WB", UnitKind::CityBureau, None),
            u("WB-1", UnitKind::CountyBureau, Some("WB")),
            u("WB-1-S1", UnitKind::Station, Some("WB-1")),
            u("WB-1-S2", UnitKind::Station, Some("WB-1")),
        ])
        .await
        .unwrap();
    let areas = app
        .store
        .insert_areas(&[
            NewArea {
                code: Code::parse("WA").unwrap(),
                kind: AreaKind::County,
                name: "甲县".into(),
                parent: None,
                station: None,
                population: 1000,
                centre: None,
                synthetic: false,
            },
            NewArea {
                code: Code::parse("WA-1").unwrap(),
                kind: AreaKind::Township,
                name: "甲镇".into(),
                parent: Some(Code::parse("WA").unwrap()),
                station: Some(Code::parse("WB-1-S1").unwrap()),
                population: 1000,
                centre: None,
                synthetic: false,
            },
        ])
        .await
        .unwrap();
    for (name, unit) in [("wl_s1", "WB-1-S1"), ("wl_s2", "WB-1-S2")] {
        minyi_app::auth::create_account(
            app,
            Operator::Cli,
            name,
            "回访民警",
            Role::StationStaff,
            unit,
            PASSWORD,
            false,
            false,
            Utc::now(),
        )
        .await
        .unwrap();
    }
    // Filed two hours ago, imported an hour ago with the victim's phone.
    let filed = Utc::now() - Duration::hours(2);
    app.store
        .insert_cases(&[NewCase {
            external_id: "AJ-W1".into(),
            kind: CaseKind::Theft,
            station_id: ids[2],
            area_id: Some(areas[1]),
            reported_at: filed - Duration::hours(1),
            filed_at: Some(filed),
            solved_at: None,
            closed_at: None,
            loss_fen: 10_000,
            recovered_fen: 0,
            synthetic: false,
        }])
        .await
        .unwrap();
    let c = seal(
        &app.key,
        &ContactInput {
            phone: Some(PhoneNumber::parse("13912345678").unwrap()),
            ..Default::default()
        },
    );
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO contacts (id, phone_enc, phone_hash, phone_masked, created_at) VALUES (900, $1, $2, $3, 0)",
    )
    .bind(c.phone_enc.unwrap())
    .bind(c.phone_hash.unwrap())
    .bind(c.phone_masked.unwrap())
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("UPDATE cases SET contact_id = 900, changed_at = $1 WHERE external_id = 'AJ-W1'")
        .bind((Utc::now() - Duration::hours(1)).timestamp_millis())
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let r = minyi_app::callbacks::plan(app, Utc::now()).await.unwrap();
    assert_eq!(r.created, 1, "{r:?}");
    app.store
        .callbacks_of_record(CallbackSource::Case, 1)
        .await
        .unwrap()[0]
        .id
}

async fn story(db: TestDb) {
    let app = open_app(&db).await;
    let id = fixture(&app, &db).await;
    let router = minyi_web::router(app.clone());
    let mut s1 = Client::new(router.clone());
    s1.sign_in("wl_s1", PASSWORD).await;

    // The worklist, with its navigation link and the callback due.
    let r = s1.get("/callbacks").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("href=\"/callbacks\""), "nav link");
    assert!(r.body.contains("AJ-W1") && r.body.contains(&format!("href=\"/callbacks/{id}\"")));
    assert!(r.body.contains("共 1 条"));
    let r = s1.get("/callbacks?state=done").await;
    assert!(r.body.contains("共 0 条"), "{}", r.body);
    let r = s1.get("/callbacks?source=case&overdue=1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("共 0 条"),
        "due in working days, not overdue"
    );
    assert_eq!(
        s1.get("/callbacks?state=lost").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(s1.get("/callbacks/abc").await.status, StatusCode::NOT_FOUND);

    // The callback: script with the case number, the masked phone, never the number.
    let page = s1.get(&format!("/callbacks/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("您报案的案件（编号AJ-W1）"),
        "{}",
        page.body
    );
    assert!(page.body.contains("139****5678"));
    assert!(!page.body.contains("13912345678"));
    let csrf = page.csrf().unwrap();

    // Without the CSRF token nothing is recorded.
    let r = s1
        .post_form(
            &format!("/callbacks/{id}/outcome"),
            &[("outcome", "no_answer")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Reached without a verdict: the page again, with the reason.
    let r = s1
        .post_form(
            &format!("/callbacks/{id}/outcome"),
            &[("csrf", &csrf), ("outcome", "reached")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("接通后请选择群众的满意度"), "{}", r.body);

    // The full number, for a reason, kept out of caches.
    let r = s1
        .post_form(
            &format!("/callbacks/{id}/reveal"),
            &[("csrf", &csrf), ("reason", "回访拨号")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("tel:13912345678"));
    assert_eq!(r.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");

    // Another station: 404 for the page and the form.
    let mut s2 = Client::new(router.clone());
    s2.sign_in("wl_s2", PASSWORD).await;
    assert_eq!(
        s2.get(&format!("/callbacks/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let csrf2 = s2.csrf().await;
    let r = s2
        .post_form(
            &format!("/callbacks/{id}/outcome"),
            &[("csrf", &csrf2), ("outcome", "no_answer")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(s2.get("/callbacks").await.body.contains("共 0 条"));

    // Dissatisfied: recorded, and an opinion opens, linked from the callback and the list.
    let r = s1
        .post_form(
            &format!("/callbacks/{id}/outcome"),
            &[
                ("csrf", &csrf),
                ("outcome", "reached"),
                ("verdict", "dissatisfied"),
                ("comment", "报案后没人告诉我进展"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), Some(format!("/callbacks/{id}").as_str()));
    let cb = app.store.callback(id).await.unwrap().unwrap();
    let code = cb.opinion_code.expect("linked opinion");
    let page = s1.get(&format!("/callbacks/{id}")).await;
    assert!(page.body.contains(&format!("href=\"/opinions/{code}\"")));
    assert!(page.body.contains("已回访"));
    let list = s1.get("/callbacks").await;
    assert!(list.body.contains(&format!("href=\"/opinions/{code}\"")));
    let opinion = s1.get(&format!("/opinions/{code}")).await;
    assert_eq!(opinion.status, StatusCode::OK);
    assert!(opinion.body.contains("报案后没人告诉我进展"));
    // Finished: a further outcome is refused on the page.
    let r = s1
        .post_form(
            &format!("/callbacks/{id}/outcome"),
            &[("csrf", &csrf), ("outcome", "no_answer")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The victim replies TD to a notice: their records are opted out, no opinion opens.
    let (_, key) = minyi_app::auth::create_api_key(
        &app,
        Operator::Cli,
        "WB",
        minyi_core::access::KeyPurpose::Sms,
        "gateway",
        Utc::now(),
    )
    .await
    .unwrap();
    for (n, expected) in [(1, "1"), (2, "0")] {
        let req = axum::http::Request::builder()
            .method(axum::http::Method::POST)
            .uri("/sms/inbound")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(axum::body::Body::from(
                serde_json::json!({"from": "13912345678", "text": "ＴＤ", "message_id": format!("td{n}")})
                    .to_string(),
            ))
            .unwrap();
        let r = s1.send(req).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(
            r.body.contains("\"opt_out\"") && r.body.contains(&format!("\"records\":{expected}")),
            "{}",
            r.body
        );
    }
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_worklist_sqlite() {
    story(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_worklist_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    story(db).await;
}

/// On the demo city: the worklist holds the demo's simulated callbacks (the planner finds
/// nothing left to plan), a finished callback's page shows its calls and no outcome form,
/// and a station's indicator page shows the callback indicators with numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_pages_on_the_demo_city() {
    let db = TestDb::sqlite();
    let app = crate::app_with_demo(&db).await;
    // The day after the demo period (1 year to 20 November 2026).
    let after = chrono::DateTime::parse_from_rfc3339("2026-11-21T01:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let r = minyi_app::callbacks::plan(&app, after).await.unwrap();
    assert_eq!((r.created, r.notices), (0, 0), "{r:?}");
    let accounts = minyi_app::demo::create_accounts(&app, Utc::now())
        .await
        .unwrap();
    let city = accounts.iter().find(|a| a.username == "demo_city").unwrap();
    let mut c = Client::new(minyi_web::router(app.clone()));
    c.sign_in(&city.username, &city.password).await;
    let list = c.get("/callbacks?state=done").await;
    assert_eq!(list.status, StatusCode::OK);
    let i = list.body.find("href=\"/callbacks/").unwrap() + "href=\"/callbacks/".len();
    let id: String = list.body[i..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let page = c.get(&format!("/callbacks/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("/outcome"),
        "a finished callback is not called again"
    );
    assert!(
        ["已接通", "拒绝回访"].iter().any(|o| page.body.contains(o)),
        "its calls are listed"
    );
    // A callback nobody made (the demo leaves some): its page offers the synthetic
    // number, masked.
    let list = c.get("/callbacks?state=pending").await;
    let i = list
        .body
        .find("href=\"/callbacks/")
        .expect("a pending demo callback")
        + "href=\"/callbacks/".len();
    let id: String = list.body[i..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let page = c.get(&format!("/callbacks/{id}")).await;
    assert!(page.body.contains("0875****"), "{}", page.body);
    // The first station's indicators over the demo year: the callback ones have numbers.
    let station = accounts
        .iter()
        .find(|a| a.username == "demo_station")
        .unwrap();
    let page = c
        .get(&format!(
            "/units/{}/indicators?period=2026",
            station.unit_code
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    for label in ["callback_coverage", "reach_rate", "callback_satisfaction"] {
        let at = page
            .body
            .find(&format!("indicator={label}\""))
            .unwrap_or_else(|| panic!("{label}: {}", page.body));
        let row = &page.body[at..at + page.body[at..].find("</tr>").unwrap()];
        assert!(row.contains('%'), "{label} has a rate: {row}");
    }
    db.drop_db().await;
}
