//! The window rating device end to end, on SQLite and PostgreSQL: the kiosk page and its
//! script, the device's configuration, and the ratings batch — stored once however often
//! it is resent, answered item by item, refused whole only when it cannot be read.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::{Duration, Utc};
use minyi_app::App;
use minyi_app::auth::Operator;
use minyi_core::Code;
use minyi_core::access::KeyPurpose;
use minyi_core::org::{NewUnit, UnitKind, WindowKind};
use minyi_core::records::RatingScale;
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

both!(
    page_and_script_are_served_under_the_policy,
    batch_is_stored_once_however_often_it_is_sent,
    mixed_items_are_answered_one_by_one,
    keys_of_other_purposes_and_other_units_are_refused,
    five_level_scale_by_configuration,
    unreadable_and_oversized_batches_are_refused_whole,
    two_devices_never_collide,
);

struct Fx {
    app: App,
    /// A kiosk key of window W1, of window W2, and one misissued to the station.
    w1: String,
    w2: String,
    station: String,
    open311: String,
    w1_id: i64,
    w2_id: i64,
}

async fn setup(db: &TestDb, scale: RatingScale) -> Fx {
    let mut app = open_app(db).await;
    app.config.kiosk.scale = scale;
    let unit = |c: &str, kind, parent: Option<&str>, window| NewUnit {
        code: Code::parse(c).unwrap(),
        kind,
        name: match c {
            "KC-1-S1-W1" => "甲镇派出所户政窗口".to_owned(),
            _ => format!("单位{c}"),
        },
        parent: parent.map(|p| Code::parse(p).unwrap()),
        window,
        department: None,
        synthetic: false,
    };
    let ids = app
        .store
        .insert_units(&[
            unit("KC", UnitKind::CityBureau, None, None),
            unit("KC-1", UnitKind::CountyBureau, Some("KC"), None),
            unit("KC-1-S1", UnitKind::Station, Some("KC-1"), None),
            unit(
                "KC-1-S1-W1",
                UnitKind::Window,
                Some("KC-1-S1"),
                Some(WindowKind::Household),
            ),
            unit(
                "KC-1-S1-W2",
                UnitKind::Window,
                Some("KC-1-S1"),
                Some(WindowKind::Vehicle),
            ),
        ])
        .await
        .unwrap();
    let now = Utc::now();
    let key = |unit: &'static str, purpose| {
        let app = app.clone();
        async move {
            minyi_app::auth::create_api_key(&app, Operator::Cli, unit, purpose, "tablet", now)
                .await
                .unwrap()
                .1
        }
    };
    Fx {
        w1: key("KC-1-S1-W1", KeyPurpose::Kiosk).await,
        w2: key("KC-1-S1-W2", KeyPurpose::Kiosk).await,
        station: key("KC-1-S1", KeyPurpose::Kiosk).await,
        open311: key("KC-1-S1-W1", KeyPurpose::Open311).await,
        w1_id: ids[3],
        w2_id: ids[4],
        app,
    }
}

fn client(app: &App) -> Client {
    Client::from(minyi_web::router(app.clone()), "203.0.113.90:1")
}

async fn post_raw(c: &mut Client, key: Option<&str>, ctype: &str, body: String) -> Resp {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/ratings")
        .header(header::CONTENT_TYPE, ctype);
    if let Some(k) = key {
        b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    c.send(b.body(Body::from(body)).unwrap()).await
}

async fn post(c: &mut Client, key: &str, ratings: Vec<Value>) -> Resp {
    post_raw(
        c,
        Some(key),
        "application/json",
        json!({ "ratings": ratings }).to_string(),
    )
    .await
}

async fn get_config(c: &mut Client, key: Option<&str>) -> Resp {
    let mut b = Request::get("/api/v1/kiosk/config");
    if let Some(k) = key {
        b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    c.send(b.body(Body::empty()).unwrap()).await
}

fn rating(id: &str, level: i64) -> Value {
    json!({
        "client_event_id": id,
        "level": level,
        "reason": null,
        "rated_at": (Utc::now() - Duration::minutes(2)).to_rfc3339(),
    })
}

fn body(r: &Resp) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

fn statuses(r: &Resp) -> Vec<String> {
    body(r)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap().to_owned())
        .collect()
}

fn problem(r: &Resp, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(
        r.headers[header::CONTENT_TYPE].to_str().unwrap(),
        "application/problem+json"
    );
    assert_eq!(body(r)["code"], code, "{}", r.body);
}

pub async fn page_and_script_are_served_under_the_policy(db: TestDb) {
    let fx = setup(&db, RatingScale::Three).await;
    let mut c = client(&fx.app);
    let r = c.get("/kiosk").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let page = &r.body;
    assert!(page.contains("<html lang=\"zh-CN\">"), "{page}");
    for word in [
        "满意",
        "基本满意",
        "不满意",
        "非常不满意",
        "等候时间长",
        "跳过",
        "谢谢您的评价",
    ] {
        assert!(page.contains(word), "{word} missing");
    }
    assert!(page.contains("<script src=\"/assets/kiosk.js\" defer></script>"));
    // Only our own script file: no inline script, no style attribute, no event handler
    // attribute (the CSP would block all of them).
    assert_eq!(page.matches("<script").count(), 1);
    assert!(
        !page.contains("style=") && !page.contains(" onclick="),
        "{page}"
    );
    assert!(page.contains("data-scale=\"3\"") && page.contains("data-scale=\"5\""));
    assert!(page.contains("data-reason=\"repeated_trips\""));
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");

    let r = c.get("/kiosk?lang=en").await;
    assert!(r.body.contains("<html lang=\"en\">") && r.body.contains("Dissatisfied"));

    let js = c.get("/assets/kiosk.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(
        js.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.body.contains("/api/v1/ratings") && js.body.contains("localStorage"));
    let sw = c.get("/kiosk-sw.js").await;
    assert_eq!(sw.status, StatusCode::OK);
    assert!(sw.body.contains("caches"));
}

pub async fn batch_is_stored_once_however_often_it_is_sent(db: TestDb) {
    let fx = setup(&db, RatingScale::Three).await;
    let mut c = client(&fx.app);

    let r = get_config(&mut c, Some(&fx.w1)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let cfg = body(&r);
    assert_eq!(cfg["window"]["code"], "KC-1-S1-W1");
    assert_eq!(cfg["window"]["name"], "甲镇派出所户政窗口");
    assert_eq!(cfg["window"]["kind"], "household");
    assert_eq!(cfg["scale"], 3);
    assert_eq!(
        cfg["levels"],
        json!([
            {"level": 1, "dissatisfied": false},
            {"level": 2, "dissatisfied": false},
            {"level": 3, "dissatisfied": true},
        ])
    );
    assert_eq!(
        cfg["reasons"],
        json!([
            "waiting",
            "attitude",
            "unclear_requirements",
            "repeated_trips",
            "other"
        ])
    );
    assert_eq!(cfg["stored"], 0);

    let mut bad = rating("kiosk-ev-0003", 3);
    bad["reason"] = json!("waiting");
    let batch = vec![rating("kiosk-ev-0001", 1), rating("kiosk-ev-0002", 2), bad];
    let r = post(&mut c, &fx.w1, batch.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(statuses(&r), ["stored", "stored", "stored"]);
    let b = body(&r);
    assert_eq!(
        (b["stored"].as_i64(), b["duplicate"].as_i64()),
        (Some(3), Some(0))
    );
    assert_eq!(b["results"][1]["client_event_id"], "kiosk-ev-0002");
    assert_eq!(b["results"][1]["index"], 1);
    assert_eq!(
        fx.app.store.count_window_ratings(fx.w1_id).await.unwrap(),
        3
    );

    // The answer was lost; the device sends the same batch again, twice.
    for _ in 0..2 {
        let r = post(&mut c, &fx.w1, batch.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(statuses(&r), ["duplicate", "duplicate", "duplicate"]);
    }
    assert_eq!(
        fx.app.store.count_window_ratings(fx.w1_id).await.unwrap(),
        3
    );
    assert_eq!(body(&get_config(&mut c, Some(&fx.w1)).await)["stored"], 3);
    assert_eq!(
        fx.app.store.count_window_ratings(fx.w2_id).await.unwrap(),
        0
    );
}

pub async fn mixed_items_are_answered_one_by_one(db: TestDb) {
    let fx = setup(&db, RatingScale::Three).await;
    let mut c = client(&fx.app);
    let mut satisfied_with_reason = rating("kiosk-mix-02", 1);
    satisfied_with_reason["reason"] = json!("attitude");
    let mut unknown_reason = rating("kiosk-mix-05", 3);
    unknown_reason["reason"] = json!("rude");
    let mut future = rating("kiosk-mix-06", 2);
    future["rated_at"] = json!((Utc::now() + Duration::hours(3)).to_rfc3339());
    let mut ancient = rating("kiosk-mix-07", 2);
    ancient["rated_at"] = json!("1970-01-01T00:00:00Z");
    let mut garbled_time = rating("kiosk-mix-08", 2);
    garbled_time["rated_at"] = json!("yesterday afternoon");
    let mut level_as_text = rating("kiosk-mix-09", 1);
    level_as_text["level"] = json!("1");
    let mut extra_field = rating("kiosk-mix-10", 1);
    extra_field["comment"] = json!("hello");
    let batch = vec![
        rating("kiosk-mix-01", 1),
        satisfied_with_reason,
        rating("kiosk-mix-03", 4),
        rating("short", 1),
        unknown_reason,
        future,
        ancient,
        garbled_time,
        level_as_text,
        extra_field,
        rating("kiosk-mix-01", 1),
        rating("bad id with spaces", 2),
        json!("not an object"),
    ];
    let r = post(&mut c, &fx.w1, batch).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let b = body(&r);
    let results = b["results"].as_array().unwrap();
    let expect = [
        ("stored", None, None),
        // A reason explains dissatisfaction: on a satisfied rating it is dropped, the
        // rating kept.
        ("stored", None, Some("reason_ignored")),
        ("rejected", Some("invalid_level"), None),
        ("rejected", Some("invalid_client_event_id"), None),
        ("rejected", Some("unknown_reason"), None),
        // A device clock gone wrong: the rating counts, at the server's time.
        ("stored", None, Some("rated_at_replaced")),
        ("stored", None, Some("rated_at_replaced")),
        ("rejected", Some("invalid_rated_at"), None),
        ("rejected", Some("malformed"), None),
        ("rejected", Some("malformed"), None),
        ("duplicate", None, None),
        ("rejected", Some("invalid_client_event_id"), None),
        ("rejected", Some("malformed"), None),
    ];
    assert_eq!(results.len(), expect.len());
    for (i, (o, (status, problem, note))) in results.iter().zip(expect).enumerate() {
        assert_eq!(o["index"], i);
        assert_eq!(o["status"], status, "item {i}: {o}");
        assert_eq!(o["problem"].as_str(), problem, "item {i}: {o}");
        if problem.is_some() {
            assert!(o["detail"].as_str().is_some_and(|d| !d.is_empty()), "{o}");
        }
        assert_eq!(
            o["notes"]
                .as_array()
                .and_then(|n| n.first())
                .and_then(Value::as_str),
            note,
            "item {i}: {o}"
        );
    }
    assert_eq!(results[3]["client_event_id"], "short");
    assert_eq!(results[12]["client_event_id"], Value::Null);
    assert_eq!(
        (
            b["stored"].as_i64(),
            b["duplicate"].as_i64(),
            b["rejected"].as_i64()
        ),
        (Some(4), Some(1), Some(8))
    );
    assert_eq!(
        fx.app.store.count_window_ratings(fx.w1_id).await.unwrap(),
        4
    );
}

pub async fn keys_of_other_purposes_and_other_units_are_refused(db: TestDb) {
    let fx = setup(&db, RatingScale::Three).await;
    let mut c = client(&fx.app);
    let one = || vec![rating("kiosk-key-01", 1)];

    // An Open311 key, no key, a made-up key: 401, in problem+json.
    let r = post(&mut c, &fx.open311, one()).await;
    problem(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(body(&r)["detail"].as_str().unwrap().contains("kiosk"));
    problem(
        &post_raw(
            &mut c,
            None,
            "application/json",
            json!({"ratings": one()}).to_string(),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    problem(
        &post(&mut c, "mk_notarealkey_0000000000000000", one()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    problem(
        &get_config(&mut c, Some(&fx.open311)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    problem(
        &get_config(&mut c, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    // A kiosk key issued for the station, not a window: refused at setup and at sync.
    let r = get_config(&mut c, Some(&fx.station)).await;
    problem(&r, StatusCode::CONFLICT, "not_a_window");
    assert!(
        body(&r)["detail"].as_str().unwrap().contains("KC-1-S1"),
        "{}",
        r.body
    );
    problem(
        &post(&mut c, &fx.station, one()).await,
        StatusCode::CONFLICT,
        "not_a_window",
    );

    // A revoked key stops at once.
    let prefix = minyi_vault::api_key_prefix(&fx.w1).unwrap().to_owned();
    minyi_app::auth::revoke_api_key(&fx.app, Operator::Cli, &prefix, Utc::now())
        .await
        .unwrap();
    problem(
        &post(&mut c, &fx.w1, one()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_eq!(fx.app.store.counts().await.unwrap().ratings, 0);
}

pub async fn five_level_scale_by_configuration(db: TestDb) {
    let fx = setup(&db, RatingScale::Five).await;
    let mut c = client(&fx.app);
    let cfg = body(&get_config(&mut c, Some(&fx.w1)).await);
    assert_eq!(cfg["scale"], 5);
    let dissatisfied: Vec<bool> = cfg["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["dissatisfied"].as_bool().unwrap())
        .collect();
    assert_eq!(dissatisfied, [false, false, false, true, true]);

    let mut very_bad = rating("kiosk-five-5", 5);
    very_bad["reason"] = json!("repeated_trips");
    let mut bad = rating("kiosk-five-4", 4);
    bad["reason"] = json!("unclear_requirements");
    let mut middling = rating("kiosk-five-3", 3);
    middling["reason"] = json!("waiting");
    // A rating queued under the old three-level scale says so and is kept on its scale.
    let mut three = rating("kiosk-five-t", 3);
    three["scale"] = json!(3);
    let mut nine = rating("kiosk-five-9", 1);
    nine["scale"] = json!(9);
    let r = post(
        &mut c,
        &fx.w1,
        vec![
            rating("kiosk-five-1", 1),
            very_bad,
            bad,
            middling,
            rating("kiosk-five-6", 6),
            three,
            nine,
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        statuses(&r),
        [
            "stored", "stored", "stored", "stored", "rejected", "stored", "rejected"
        ]
    );
    let b = body(&r);
    assert!(b["results"][1].get("notes").is_none(), "{}", r.body);
    assert!(b["results"][2].get("notes").is_none(), "{}", r.body);
    assert_eq!(b["results"][3]["notes"], json!(["reason_ignored"]));
    assert_eq!(b["results"][4]["problem"], "invalid_level");
    assert_eq!(b["results"][6]["problem"], "invalid_scale");
    assert_eq!(
        fx.app.store.count_window_ratings(fx.w1_id).await.unwrap(),
        5
    );
}

pub async fn unreadable_and_oversized_batches_are_refused_whole(db: TestDb) {
    let fx = setup(&db, RatingScale::Three).await;
    let mut c = client(&fx.app);
    let too_many: Vec<Value> = (0..=minyi_app::kiosk::MAX_BATCH)
        .map(|i| rating(&format!("kiosk-big-{i:04}"), 1))
        .collect();
    let r = post(&mut c, &fx.w1, too_many.clone()).await;
    problem(&r, StatusCode::PAYLOAD_TOO_LARGE, "batch_too_large");
    // Exactly the cap is fine.
    let r = post(
        &mut c,
        &fx.w1,
        too_many[..minyi_app::kiosk::MAX_BATCH].to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(body(&r)["stored"], 200);

    for bad in [
        "{\"ratings\": [",
        "not json at all",
        "{\"ratings\": 5}",
        "{\"items\": []}",
        "[]",
        "{\"ratings\": [], \"device\": \"x\"}",
    ] {
        let r = post_raw(&mut c, Some(&fx.w1), "application/json", bad.to_owned()).await;
        problem(&r, StatusCode::BAD_REQUEST, "malformed_json");
    }
    let r = post_raw(
        &mut c,
        Some(&fx.w1),
        "text/plain",
        json!({"ratings": [rating("kiosk-txt-01", 1)]}).to_string(),
    )
    .await;
    problem(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    // An empty batch is a no-op, not an error.
    let r = post(&mut c, &fx.w1, vec![]).await;
    assert_eq!(
        (r.status, body(&r)["results"].clone()),
        (StatusCode::OK, json!([]))
    );
    assert_eq!(
        fx.app.store.count_window_ratings(fx.w1_id).await.unwrap(),
        200
    );
}

pub async fn two_devices_never_collide(db: TestDb) {
    let fx = setup(&db, RatingScale::Three).await;
    let mut c = client(&fx.app);
    let batch = vec![rating("kiosk-same-01", 1), rating("kiosk-same-02", 3)];
    assert_eq!(
        statuses(&post(&mut c, &fx.w1, batch.clone()).await),
        ["stored", "stored"]
    );
    assert_eq!(
        statuses(&post(&mut c, &fx.w2, batch.clone()).await),
        ["stored", "stored"]
    );
    assert_eq!(
        statuses(&post(&mut c, &fx.w2, batch).await),
        ["duplicate", "duplicate"]
    );
    assert_eq!(
        fx.app.store.count_window_ratings(fx.w1_id).await.unwrap(),
        2
    );
    assert_eq!(
        fx.app.store.count_window_ratings(fx.w2_id).await.unwrap(),
        2
    );
}
