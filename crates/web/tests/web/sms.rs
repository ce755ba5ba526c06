//! The SMS channel end to end, on SQLite and PostgreSQL: the inbound webhook (both body
//! shapes, idempotency, verdict replies, refusals) and the outbox worker with its `log`
//! and `http` providers (a gateway served from this test), back-off and giving up.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use minyi_app::App;
use minyi_app::config::{Secret, SmsProvider};
use minyi_app::notify::{OUTBOX_LOG, process_due};
use minyi_core::PhoneNumber;
use minyi_core::access::KeyPurpose;
use minyi_core::event::SubjectKind;
use minyi_core::opinion::TrackingCode;
use minyi_core::taxonomy::{Channel, Verdict};
use minyi_store::OutboxState;
use minyi_store::testing::TestDb;
use serde_json::Value;

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
    json_and_form_messages_become_opinions_once,
    digit_replies_to_an_invitation_become_verdicts,
    malformed_and_invalid_messages_are_refused,
    log_provider_writes_masked_numbers,
    http_provider_retries_until_the_gateway_accepts,
    failing_messages_back_off_then_die,
);

const PHONE: &str = "13812345678";

/// An app with a root unit and an SMS gateway key: (app, key).
async fn setup(db: &TestDb) -> (App, String) {
    let app = open_app(db).await;
    let now = Utc::now();
    minyi_app::auth::ensure_first_admin(&app, now)
        .await
        .unwrap();
    let (_, key) = minyi_app::auth::create_api_key(
        &app,
        minyi_app::auth::Operator::Cli,
        "bureau",
        KeyPurpose::Sms,
        "gateway",
        now,
    )
    .await
    .unwrap();
    (app, key)
}

fn client(app: &App) -> Client {
    Client::from(minyi_web::router(app.clone()), "203.0.113.80:1")
}

async fn post(c: &mut Client, key: Option<&str>, ctype: &str, body: String) -> Resp {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri("/sms/inbound")
        .header(header::CONTENT_TYPE, ctype);
    if let Some(k) = key {
        b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    c.send(b.body(Body::from(body)).unwrap()).await
}

async fn post_json(c: &mut Client, key: &str, v: Value) -> Resp {
    post(c, Some(key), "application/json", v.to_string()).await
}

fn sms(from: &str, text: &str, id: &str) -> Value {
    serde_json::json!({"from": from, "text": text, "message_id": id})
}

fn body(r: &Resp) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

fn code_of(r: &Resp) -> TrackingCode {
    TrackingCode::parse(body(r)["tracking_code"].as_str().unwrap()).unwrap()
}

fn problem(r: &Resp, status: StatusCode, field: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(
        r.headers[header::CONTENT_TYPE].to_str().unwrap(),
        "application/problem+json"
    );
    assert!(
        body(r)["detail"].as_str().unwrap().contains(field),
        "{field}: {}",
        r.body
    );
}

pub async fn json_and_form_messages_become_opinions_once(db: TestDb) {
    let (app, key) = setup(&db).await;
    let mut c = client(&app);
    let before = app.store.counts().await.unwrap().opinions;

    let mut first = sms(PHONE, "小区门口路灯坏了一个月", "gw-1");
    first["received_at"] = Value::from((Utc::now() - Duration::minutes(3)).to_rfc3339());
    let a = post_json(&mut c, &key, first.clone()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(body(&a)["kind"], "opinion");
    // The gateway repeats itself: the same message id is the same opinion.
    let again = post_json(&mut c, &key, first).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(body(&again)["repeated"], true);
    assert_eq!(code_of(&again), code_of(&a));

    let twilio = crate::form_encode(&[
        ("From", "+8613900001111"),
        ("Body", "夜里有人飙车，很吵"),
        ("MessageSid", "SM0001"),
    ]);
    let b = post(
        &mut c,
        Some(&key),
        "application/x-www-form-urlencoded",
        twilio,
    )
    .await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.body);
    let chinese = crate::form_encode(&[
        ("mobile", "13700002222"),
        ("content", "希望派出所延长办证时间"),
        ("msgid", "20260401-7"),
    ]);
    let d = post(
        &mut c,
        Some(&key),
        "application/x-www-form-urlencoded; charset=utf-8",
        chinese,
    )
    .await;
    assert_eq!(d.status, StatusCode::CREATED, "{}", d.body);
    assert_eq!(app.store.counts().await.unwrap().opinions, before + 3);

    for (r, phone) in [(&a, PHONE), (&b, "13900001111"), (&d, "13700002222")] {
        let o = app
            .store
            .opinion_by_tracking_code(&code_of(r))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(o.channel, Channel::Sms);
        let contact = app.store.contact_of_opinion(o.id).await.unwrap().unwrap();
        let enc = contact.phone_enc.unwrap();
        assert!(!enc.contains(phone), "the phone is sealed");
        assert_eq!(
            contact.phone_masked.as_deref(),
            Some(PhoneNumber::parse(phone).unwrap().masked().as_str())
        );
    }

    // One `received` notice per opinion, the repeat included; the number only encrypted.
    let queued = app.store.outbox_recent(50).await.unwrap();
    assert_eq!(queued.len(), 3, "{queued:?}");
    let first_notice = queued
        .iter()
        .find(|m| m.subject.as_deref() == Some(&format!("opinion:{}", code_of(&a))))
        .expect("a notice about the first opinion");
    assert_eq!(first_notice.template, "received");
    assert_eq!(first_notice.kind, "sms");
    assert_eq!(first_notice.state, OutboxState::Pending);
    assert!(first_notice.body.contains(code_of(&a).as_str()));
    assert!(first_notice.body.contains("已受理"));
    for m in &queued {
        for p in [PHONE, "13900001111", "13700002222"] {
            assert!(!m.recipient_enc.contains(p) && !m.body.contains(p));
            assert!(!m.recipient_hash.contains(p));
        }
    }
    assert_eq!(
        app.key
            .decrypt(minyi_vault::Field::Phone, &first_notice.recipient_enc)
            .unwrap(),
        PHONE
    );
    db.drop_db().await;
}

pub async fn digit_replies_to_an_invitation_become_verdicts(db: TestDb) {
    let (app, key) = setup(&db).await;
    let mut c = client(&app);
    let r = post_json(&mut c, &key, sms(PHONE, "楼下棋牌室噪音扰民", "v-1")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let code = code_of(&r);
    let phone = PhoneNumber::parse(PHONE).unwrap();
    let now = Utc::now();
    minyi_app::notify::enqueue_answered(&app, &code, &phone, now)
        .await
        .unwrap();

    // Queued but not yet sent: a digit is no reply to anything, so it is an opinion.
    let early = post_json(&mut c, &key, sms(PHONE, "1", "v-early")).await;
    assert_eq!(early.status, StatusCode::CREATED, "{}", early.body);
    assert_eq!(body(&early)["kind"], "opinion");

    let round = process_due(&app, now).await.unwrap();
    assert_eq!(round.sent, round.claimed);
    assert!(round.sent >= 2, "{round:?}");

    let v = post_json(&mut c, &key, sms("+86 138-1234-5678", "２", "v-2")).await;
    assert_eq!(v.status, StatusCode::CREATED, "{}", v.body);
    assert_eq!(body(&v)["kind"], "verdict");
    assert_eq!(body(&v)["tracking_code"], code.as_str());
    let o = app
        .store
        .opinion_by_tracking_code(&code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.verdict, Some(Verdict::BasicallySatisfied));
    // The same reply delivered twice records one verdict.
    let v2 = post_json(&mut c, &key, sms(PHONE, "2", "v-2")).await;
    assert_eq!(v2.status, StatusCode::OK, "{}", v2.body);
    assert_eq!(body(&v2)["repeated"], true);
    let events = app
        .store
        .events_of(SubjectKind::Opinion, o.id)
        .await
        .unwrap();
    let verdicts: Vec<_> = events.iter().filter(|e| e.action == "verdict").collect();
    assert_eq!(verdicts.len(), 1, "{events:?}");
    assert_eq!(verdicts[0].actor, "sms");
    // A later reply changes the resident's mind.
    let v3 = post_json(&mut c, &key, sms(PHONE, "3", "v-3")).await;
    assert_eq!(body(&v3)["verdict"], "dissatisfied", "{}", v3.body);
    let o = app.store.opinion(o.id).await.unwrap().unwrap();
    assert_eq!(o.verdict, Some(Verdict::Dissatisfied));

    // Another phone, or an invitation older than seven days: an ordinary opinion.
    let other = post_json(&mut c, &key, sms("13600003333", "1", "v-4")).await;
    assert_eq!(body(&other)["kind"], "opinion", "{}", other.body);
    let old_phone = PhoneNumber::parse("13500004444").unwrap();
    let old = minyi_app::notify::enqueue_answered(&app, &code, &old_phone, now)
        .await
        .unwrap()
        .unwrap();
    app.store
        .mark_outbox_sent(old, now - Duration::days(8))
        .await
        .unwrap();
    let stale = post_json(&mut c, &key, sms("13500004444", "1", "v-5")).await;
    assert_eq!(body(&stale)["kind"], "opinion", "{}", stale.body);
    db.drop_db().await;
}

pub async fn malformed_and_invalid_messages_are_refused(db: TestDb) {
    let (app, key) = setup(&db).await;
    let mut c = client(&app);
    let before = app.store.counts().await.unwrap().opinions;
    let no_from = serde_json::json!({"text": "路灯坏了", "message_id": "x1"});
    problem(
        &post_json(&mut c, &key, no_from).await,
        StatusCode::BAD_REQUEST,
        "from",
    );
    let no_id = serde_json::json!({"from": PHONE, "text": "路灯坏了"});
    problem(
        &post_json(&mut c, &key, no_id).await,
        StatusCode::BAD_REQUEST,
        "message_id",
    );
    let empty_text = sms(PHONE, "  ", "x2");
    problem(
        &post_json(&mut c, &key, empty_text).await,
        StatusCode::BAD_REQUEST,
        "text",
    );
    let r = post(&mut c, Some(&key), "application/json", "{\"from\": ".into()).await;
    problem(&r, StatusCode::BAD_REQUEST, "not an SMS message");
    let mut bad_time = sms(PHONE, "路灯坏了", "x3");
    bad_time["received_at"] = Value::from("yesterday");
    problem(
        &post_json(&mut c, &key, bad_time).await,
        StatusCode::BAD_REQUEST,
        "received_at",
    );
    let mut future = sms(PHONE, "路灯坏了", "x4");
    future["received_at"] = Value::from((Utc::now() + Duration::days(1)).to_rfc3339());
    problem(
        &post_json(&mut c, &key, future).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "received_at",
    );
    let form = crate::form_encode(&[("From", PHONE), ("MessageSid", "x5")]);
    let r = post(
        &mut c,
        Some(&key),
        "application/x-www-form-urlencoded",
        form,
    )
    .await;
    problem(&r, StatusCode::BAD_REQUEST, "Body");
    problem(
        &post_json(&mut c, &key, sms("not-a-phone", "路灯坏了", "x6")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "from",
    );
    problem(
        &post_json(&mut c, &key, sms("+1 202 555 0100", "路灯坏了", "x7")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "from",
    );
    let r = post(&mut c, Some(&key), "text/plain", "路灯坏了".into()).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // No key, or a key for another purpose: 401.
    let r = post(
        &mut c,
        None,
        "application/json",
        sms(PHONE, "路灯", "x8").to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let (_, kiosk) = minyi_app::auth::create_api_key(
        &app,
        minyi_app::auth::Operator::Cli,
        "bureau",
        KeyPurpose::Kiosk,
        "kiosk",
        Utc::now(),
    )
    .await
    .unwrap();
    let r = post_json(&mut c, &kiosk, sms(PHONE, "路灯", "x9")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.store.counts().await.unwrap().opinions,
        before,
        "nothing stored"
    );
    assert!(app.store.outbox_recent(10).await.unwrap().is_empty());
    db.drop_db().await;
}

pub async fn log_provider_writes_masked_numbers(db: TestDb) {
    let (app, key) = setup(&db).await;
    assert_eq!(app.config.sms.provider, SmsProvider::Log, "the default");
    let mut c = client(&app);
    let r = post_json(&mut c, &key, sms(PHONE, "公交站旁井盖丢失", "l-1")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let round = process_due(&app, Utc::now()).await.unwrap();
    assert_eq!((round.claimed, round.sent), (1, 1), "{round:?}");
    let log = std::fs::read_to_string(app.config.data_dir.join(OUTBOX_LOG)).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "{log}");
    let line: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(line["to"], "138****5678");
    assert_eq!(line["template"], "received");
    assert_eq!(line["kind"], "sms");
    assert!(
        line["text"]
            .as_str()
            .unwrap()
            .contains(code_of(&r).as_str())
    );
    assert!(!log.contains(PHONE), "{log}");
    let m = &app.store.outbox_recent(1).await.unwrap()[0];
    assert_eq!(m.state, OutboxState::Sent);
    assert!(m.sent_at.is_some());
    // Nothing is due any more.
    assert_eq!(process_due(&app, Utc::now()).await.unwrap().claimed, 0);
    db.drop_db().await;
}

/// Each request the test gateway received: its Authorization header and JSON body.
type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A gateway answering each request with the next status of `script` (the last one
/// repeats), remembering every request's Authorization header and body.
async fn gateway(script: Vec<u16>) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let handler = move |headers: HeaderMap, body: String| {
        let log = log.clone();
        let script = script.clone();
        async move {
            let auth = headers
                .get(header::AUTHORIZATION)
                .map(|v| v.to_str().unwrap().to_owned());
            let mut seen = log.lock().unwrap();
            seen.push((auth, serde_json::from_str(&body).unwrap_or(Value::Null)));
            let i = (seen.len() - 1).min(script.len() - 1);
            StatusCode::from_u16(script[i]).unwrap()
        }
    };
    let router = axum::Router::new().route("/send", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}/send"), seen)
}

async fn http_app(db: &TestDb, url: &str, max_attempts: i64) -> (App, String) {
    let (mut app, key) = setup(db).await;
    app.config.sms.provider = SmsProvider::Http;
    app.config.sms.gateway_url = Some(url.to_owned());
    app.config.sms.gateway_token = Some(Secret::new("gw-token"));
    app.config.sms.max_attempts = max_attempts;
    (app, key)
}

pub async fn http_provider_retries_until_the_gateway_accepts(db: TestDb) {
    let (url, seen) = gateway(vec![500, 200]).await;
    let (app, key) = http_app(&db, &url, 5).await;
    let mut c = client(&app);
    let r = post_json(&mut c, &key, sms(PHONE, "希望增加学校周边巡逻", "h-1")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let now = Utc::now();
    let first = process_due(&app, now).await.unwrap();
    assert_eq!((first.claimed, first.retrying), (1, 1), "{first:?}");
    let m = app.store.outbox_recent(1).await.unwrap().remove(0);
    assert_eq!(m.state, OutboxState::Failed);
    assert_eq!(m.last_error.as_deref(), Some("gateway answered 500"));
    assert!(m.next_attempt_at > now);
    // Not before the back-off ends; then it goes through.
    let before: DateTime<Utc> = m.next_attempt_at - Duration::seconds(1);
    assert_eq!(process_due(&app, before).await.unwrap().claimed, 0);
    let second = process_due(&app, m.next_attempt_at).await.unwrap();
    assert_eq!((second.claimed, second.sent), (1, 1), "{second:?}");
    let m = app.store.outbox_message(m.id).await.unwrap().unwrap();
    assert_eq!(m.state, OutboxState::Sent);
    assert_eq!(m.attempts, 2);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for (auth, b) in &seen {
        assert_eq!(auth.as_deref(), Some("Bearer gw-token"));
        assert_eq!(b["to"], PHONE, "the gateway needs the number");
        assert_eq!(b["id"], m.id);
        assert!(b["text"].as_str().unwrap().contains(code_of(&r).as_str()));
    }
    db.drop_db().await;
}

pub async fn failing_messages_back_off_then_die(db: TestDb) {
    let (url, seen) = gateway(vec![503]).await;
    let (app, key) = http_app(&db, &url, 3).await;
    let mut c = client(&app);
    let r = post_json(&mut c, &key, sms(PHONE, "红绿灯时间太短", "d-1")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // Whole milliseconds, as the store keeps times.
    let mut now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
    let mut waits = Vec::new();
    for _ in 0..2 {
        let round = process_due(&app, now).await.unwrap();
        assert_eq!(round.retrying, 1, "{round:?}");
        let m = app.store.outbox_recent(1).await.unwrap().remove(0);
        waits.push(m.next_attempt_at - now);
        now = m.next_attempt_at;
    }
    assert_eq!(waits[1], waits[0] * 2, "the wait doubles: {waits:?}");
    let last = process_due(&app, now).await.unwrap();
    assert_eq!(last.dead, 1, "{last:?}");
    let m = app.store.outbox_recent(1).await.unwrap().remove(0);
    assert_eq!(m.state, OutboxState::Dead);
    assert_eq!(m.attempts, 3);
    assert_eq!(m.last_error.as_deref(), Some("gateway answered 503"));
    assert_eq!(
        process_due(&app, now + Duration::days(1))
            .await
            .unwrap()
            .claimed,
        0
    );
    assert_eq!(seen.lock().unwrap().len(), 3);

    // An unreachable gateway is a failure like any other, and says where it was.
    let mut app2 = app.clone();
    app2.config.sms.gateway_url = Some("http://127.0.0.1:9/send".into());
    let id = minyi_app::notify::enqueue_answered(
        &app2,
        &code_of(&r),
        &PhoneNumber::parse(PHONE).unwrap(),
        now,
    )
    .await
    .unwrap()
    .unwrap();
    let round = process_due(&app2, now + Duration::days(1)).await.unwrap();
    assert_eq!(round.retrying, 1, "{round:?}");
    let m = app2.store.outbox_message(id).await.unwrap().unwrap();
    let err = m.last_error.unwrap();
    assert!(err.contains("127.0.0.1:9") && !err.contains(PHONE), "{err}");
    db.drop_db().await;
}
