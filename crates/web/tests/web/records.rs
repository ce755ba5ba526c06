//! The record import API and the indicator pages over HTTP, on SQLite and PostgreSQL:
//! `POST /api/v1/incidents|cases|permits` with an `import` key (one record or an array; a
//! report of what was applied; problem+json when nothing could be; rows outside the
//! key's units refused), then the station page's indicator block and the drill-down.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::Utc;
use minyi_app::App;
use minyi_core::Code;
use minyi_core::access::KeyPurpose;
use minyi_core::org::{NewUnit, UnitKind, WindowKind};
use minyi_store::testing::TestDb;
use serde_json::{Value, json};

use crate::{Client, Resp, open_app};

macro_rules! both {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    super::$story(minyi_store::testing::TestDb::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    let Some(db) = minyi_store::testing::TestDb::postgres().await else { return };
                    super::$story(db).await;
                }
            )*
        }
    };
}

both!(records_through_the_api_then_indicators_on_the_pages);

/// The bureau with two counties, a station (with a window) in each, and an import key for
/// county A.
async fn setup(db: &TestDb) -> (App, String) {
    let app = open_app(db).await;
    let now = Utc::now();
    // The first start creates the bureau the other units hang from.
    minyi_app::auth::ensure_first_admin(&app, now)
        .await
        .unwrap()
        .expect("first administrator");
    let u = |c: &str, kind, parent: &str| NewUnit {
        code: Code::parse(c).unwrap(),
        kind,
        name: format!("单位{c}"),
        parent: Some(Code::parse(parent).unwrap()),
        window: (kind == UnitKind::Window).then_some(WindowKind::Household),
        department: None,
        synthetic: false,
    };
    app.store
        .insert_units(&[
            u("ca", UnitKind::CountyBureau, "bureau"),
            u("ca-s", UnitKind::Station, "ca"),
            u("ca-s-w", UnitKind::Window, "ca-s"),
            u("cb", UnitKind::CountyBureau, "bureau"),
            u("cb-s", UnitKind::Station, "cb"),
        ])
        .await
        .unwrap();
    let (_, key) = minyi_app::auth::create_api_key(
        &app,
        minyi_app::auth::Operator::Cli,
        "ca",
        KeyPurpose::Import,
        "police systems",
        now,
    )
    .await
    .unwrap();
    (app, key)
}

async fn post(c: &mut Client, key: &str, path: &str, content_type: &str, body: String) -> Resp {
    c.send(
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

async fn post_json(c: &mut Client, key: &str, path: &str, v: Value) -> Resp {
    post(c, key, path, "application/json", v.to_string()).await
}

fn body(r: &Resp) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

fn this_year(month_day: &str) -> String {
    format!("{}-{month_day}", Utc::now().format("%Y"))
}

async fn records_through_the_api_then_indicators_on_the_pages(db: TestDb) {
    let (app, key) = setup(&db).await;
    let mut c = Client::new(minyi_web::router(app.clone()));

    // One incident, closed and resolved, with the caller's phone.
    let jan = this_year("01-05 08:00");
    let jan_closed = this_year("01-05 09:00");
    let r = post_json(
        &mut c,
        &key,
        "/api/v1/incidents",
        json!({"external_id": "JQ-1", "received_at": jan, "unit": "ca-s", "closed_at": jan_closed,
               "resolved": true, "phone": "13900001111", "name": "王五"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let b = body(&r);
    assert_eq!(
        (b["created"].as_i64(), b["events"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(b["rejected"], json!([]));

    // A batch: a second incident without a phone (flagged), one with an unknown field,
    // one for another county's station, a repeat of the first (unchanged).
    let r = post_json(
        &mut c,
        &key,
        "/api/v1/incidents",
        json!([
            {"external_id": "JQ-2", "received_at": jan, "unit": "ca-s", "closed_at": jan_closed, "resolved": false},
            {"external_id": "JQ-3", "received_at": jan, "unit": "ca-s", "colour": "red"},
            {"external_id": "JQ-4", "received_at": jan, "unit": "cb-s"},
            {"external_id": "JQ-1", "received_at": jan, "unit": "ca-s", "closed_at": jan_closed, "resolved": true},
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let b = body(&r);
    assert_eq!(
        (
            b["records"].as_i64(),
            b["created"].as_i64(),
            b["unchanged"].as_i64()
        ),
        (Some(4), Some(1), Some(1))
    );
    let rejected = b["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{b}");
    assert_eq!(rejected[0]["row"], 2);
    assert!(rejected[0]["reason"].as_str().unwrap().contains("colour"));
    assert_eq!(
        (rejected[1]["row"].clone(), rejected[1]["column"].clone()),
        (json!(3), json!("unit"))
    );
    assert!(rejected[1]["reason"].as_str().unwrap().contains("outside"));
    assert_eq!(b["flagged"][0]["row"], 1);
    assert!(!r.body.contains("13900001111"));

    // Nothing applicable: 422 problem+json listing why.
    let r = post_json(
        &mut c,
        &key,
        "/api/v1/cases",
        json!({"external_id": "AJ-1", "kind": "theft", "station": "ca-s",
               "reported_at": this_year("01-05 08:00"), "solved_at": this_year("01-04 08:00"), "filed_at": this_year("01-03 08:00")}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(
        r.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/problem+json"
    );
    let b = body(&r);
    assert_eq!(b["errors"][0]["row"], 1);
    assert!(
        b["detail"]
            .as_str()
            .unwrap()
            .contains("impossible timeline"),
        "{b}"
    );

    // A case and a permit that count.
    let r = post_json(
        &mut c,
        &key,
        "/api/v1/cases",
        json!({"external_id": "AJ-2", "kind": "theft", "station": "ca-s",
               "reported_at": this_year("01-05 08:00"), "filed_at": this_year("01-06 08:00"),
               "loss_yuan": 1000, "recovered_yuan": "250.00", "phone": "13900002222"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = post_json(
        &mut c,
        &key,
        "/api/v1/permits",
        json!({"external_id": "ZZ-1", "kind": "id_card", "window": "ca-s-w",
               "applied_at": this_year("01-02 08:00"), "promised_at": this_year("01-10 17:00"),
               "issued_at": this_year("01-09 10:00"), "phone": "13900003333"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Malformed requests.
    let r = post(&mut c, &key, "/api/v1/permits", "text/csv", "a,b".into()).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = post(
        &mut c,
        &key,
        "/api/v1/permits",
        "application/json",
        "{".into(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("malformed_json"));
    let r = post_json(&mut c, &key, "/api/v1/permits", json!([])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = post_json(&mut c, "not-a-key", "/api/v1/permits", json!({})).await;
    assert!(r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::FORBIDDEN);

    // The station page shows this year's indicators; each links to its records.
    minyi_app::auth::create_account(
        &app,
        minyi_app::auth::Operator::Cli,
        "leader",
        "领导",
        minyi_core::access::Role::Leader,
        "bureau",
        "a long enough passphrase",
        false,
        false,
        Utc::now(),
    )
    .await
    .unwrap();
    c.sign_in("leader", "a long enough passphrase").await;
    let page = c.get("/units/ca-s").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("报警求助解决率"), "{}", page.body);
    assert!(
        page.body.contains("50.0%"),
        "help resolution 1 of 2: {}",
        page.body
    );
    assert!(page.body.contains("/units/ca-s/indicators?period="));
    let year = Utc::now().format("%Y").to_string();
    let d = c
        .get(&format!(
            "/units/ca-s/indicators?period={year}&indicator=help_resolution"
        ))
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    assert!(
        d.body.contains("JQ-1") && d.body.contains("JQ-2"),
        "{}",
        d.body
    );
    assert!(!d.body.contains("JQ-4"));
    let d = c
        .get(&format!(
            "/units/ca/indicators?period={year}-Q1&indicator=loss_recovery"
        ))
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    assert!(
        d.body.contains("AJ-2") && d.body.contains("¥250.00 / ¥1000.00"),
        "{}",
        d.body
    );
    let all = c
        .get(&format!("/units/bureau/indicators?period={year}"))
        .await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(all.body.contains("证照按时办结率") && all.body.contains("100.0%"));
    let bad = c.get("/units/ca-s/indicators?period=someday").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let bad = c.get("/units/ca-s/indicators?indicator=luck").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
