//! The inbound SMS webhook (`POST /sms/inbound`), called by the bureau's SMS gateway with
//! an API key of purpose `sms`. Free text becomes an opinion (channel `sms`, the sender's
//! phone sealed as its contact, idempotent on the gateway's message id) and is answered
//! with a `received` SMS; a lone 1/2/3 answering a rating invitation sent to the same
//! phone within seven days becomes the resident's verdict on that opinion.
//!
//! Two body shapes (docs/formats.md): the provider-neutral JSON
//! `{"from", "text", "received_at", "message_id"}`, and form fields as gateways post them —
//! Twilio-style `From`/`Body`/`MessageSid`, or `mobile`/`content`/`msgid`. Nothing here
//! logs a number or a text.

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Form, FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use minyi_app::App;
use minyi_app::intake::Submission;
use minyi_app::privacy::{ContactInput, phone_lookup};
use minyi_core::PhoneNumber;
use minyi_core::opinion::{OpinionText, TrackingCode};
use minyi_core::taxonomy::{Channel, Verdict};

use crate::guard::Ctx;
use crate::respond::{app_problem, problem};

/// How long a rating invitation accepts a reply.
pub const REPLY_WINDOW_DAYS: i64 = 7;

/// One inbound message, whatever shape it came in.
struct Inbound {
    from: String,
    text: String,
    received_at: Option<String>,
    message_id: String,
}

#[derive(serde::Deserialize)]
struct InboundJson {
    from: Option<String>,
    text: Option<String>,
    received_at: Option<String>,
    message_id: Option<String>,
}

fn bad(field: &str, why: &str) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        "malformed_sms",
        &format!("{field}: {why}"),
    )
}

fn invalid(field: &str, e: impl std::fmt::Display) -> Response {
    problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        &format!("{field}: {e}"),
    )
}

// The refusal is boxed: a Response is large, and the happy path should not carry it.
async fn parse(headers: &HeaderMap, body: Bytes) -> Result<Inbound, Box<Response>> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    // Required fields, named as the sender's shape names them.
    let required = |v: Option<String>, field: &str| {
        v.filter(|s| !s.trim().is_empty())
            .ok_or_else(|| Box::new(bad(field, "missing or empty")))
    };
    if ctype.starts_with("application/json") {
        let j: InboundJson = serde_json::from_slice(&body).map_err(|e| {
            Box::new(problem(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                &format!("the body is not an SMS message object: {e}"),
            ))
        })?;
        return Ok(Inbound {
            from: required(j.from, "from")?,
            text: required(j.text, "text")?,
            received_at: j.received_at.filter(|s| !s.trim().is_empty()),
            message_id: required(j.message_id, "message_id")?,
        });
    }
    if ctype.starts_with("application/x-www-form-urlencoded") {
        let req = Request::builder()
            .method("POST")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .map_err(|_| Box::new(bad("body", "unreadable")))?;
        let Form(fields) = Form::<Vec<(String, String)>>::from_request(req, &())
            .await
            .map_err(|e| Box::new(bad("body", &format!("not form-encoded: {e}"))))?;
        let get = |names: &[&str]| {
            fields
                .iter()
                .find(|(k, _)| names.contains(&k.as_str()))
                .map(|(_, v)| v.clone())
        };
        return Ok(Inbound {
            from: required(get(&["From", "mobile"]), "From (or mobile)")?,
            text: required(get(&["Body", "content"]), "Body (or content)")?,
            received_at: None,
            message_id: required(get(&["MessageSid", "msgid"]), "MessageSid (or msgid)")?,
        });
    }
    Err(Box::new(problem(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send the message as application/json or application/x-www-form-urlencoded",
    )))
}

/// A reply that is exactly one rating digit (full-width digits too, as Chinese phones
/// often send them).
fn rating_digit(text: &str) -> Option<Verdict> {
    match text.trim() {
        "1" | "１" => Some(Verdict::Satisfied),
        "2" | "２" => Some(Verdict::BasicallySatisfied),
        "3" | "３" => Some(Verdict::Dissatisfied),
        _ => None,
    }
}

fn json(status: StatusCode, v: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// `POST /sms/inbound`.
pub async fn inbound(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = ctx.machine() {
        return r;
    }
    let m = match parse(&headers, body).await {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let now = Utc::now();
    if m.message_id.chars().count() > 100 {
        return invalid("message_id", "at most 100 characters");
    }
    let phone = match PhoneNumber::parse(&m.from) {
        Ok(p) => p,
        Err(e) => return invalid("from", e),
    };
    let received_at = match m.received_at.as_deref() {
        None => now,
        Some(s) => match DateTime::parse_from_rfc3339(s.trim()) {
            Ok(t) if t.with_timezone(&Utc) <= now + Duration::minutes(5) => t.with_timezone(&Utc),
            Ok(_) => return invalid("received_at", "lies in the future"),
            Err(e) => return bad("received_at", &format!("not an RFC 3339 time: {e}")),
        },
    };
    if let Some(verdict) = rating_digit(&m.text) {
        match verdict_reply(&app, &phone, verdict, &m.message_id, received_at, now).await {
            Ok(Some(r)) => return r,
            Ok(None) => {} // no invitation: an ordinary opinion
            Err(e) => return app_problem(e),
        }
    }
    // `TD` / `退订`: stop case-progress notices and callbacks to this phone.
    if minyi_core::callback::is_opt_out_reply(&m.text) {
        return match minyi_app::callbacks::opt_out_by_sms(&app, &phone, now).await {
            Ok(n) => json(
                StatusCode::OK,
                serde_json::json!({"kind": "opt_out", "records": n}),
            ),
            Err(e) => app_problem(e),
        };
    }
    let text = match OpinionText::parse(&m.text) {
        Ok(t) => t,
        Err(e) => return invalid("text", e),
    };
    let submission = Submission {
        channel: Channel::Sms,
        text,
        category: None,
        // An SMS says nothing of where: triage places it.
        area_code: None,
        client_key: Some(format!("sms:{}", m.message_id.trim())),
        contact: ContactInput {
            phone: Some(phone.clone()),
            ..ContactInput::default()
        },
        limit_to_units: None,
    };
    let receipt = match minyi_app::intake::submit(&app, submission, "sms", received_at).await {
        Ok(r) => r,
        Err(e) => return app_problem(e),
    };
    // The "received" reply was queued with the opinion, in its transaction (once per
    // opinion however often the gateway repeats the message).
    json(
        if receipt.repeated {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        serde_json::json!({
            "kind": "opinion",
            "tracking_code": receipt.tracking_code.as_str(),
            "due_at": receipt.due_at.map(|d| d.to_rfc3339()),
            "repeated": receipt.repeated,
        }),
    )
}

/// The verdict a digit gives, when an `answered` message went to this phone within the
/// reply window; `None` when there is no such invitation. A message id seen before
/// changes nothing.
async fn verdict_reply(
    app: &App,
    phone: &PhoneNumber,
    verdict: Verdict,
    message_id: &str,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> minyi_app::Result<Option<Response>> {
    let since = received_at - Duration::days(REPLY_WINDOW_DAYS);
    let hash = phone_lookup(&app.key, phone);
    let Some(invite) = app.store.last_sent_to(&hash, "answered", since).await? else {
        return Ok(None);
    };
    let Some(code) = invite
        .subject
        .as_deref()
        .and_then(|s| s.strip_prefix("opinion:"))
        .and_then(|c| TrackingCode::parse(c).ok())
    else {
        return Ok(None);
    };
    let Some(opinion) = app.store.opinion_by_tracking_code(&code).await? else {
        return Ok(None);
    };
    let detail = serde_json::json!({
        "verdict": verdict.code(),
        "message_id": message_id.trim(),
        "invitation": invite.id,
    })
    .to_string();
    let seen = app
        .store
        .events_of(minyi_core::event::SubjectKind::Opinion, opinion.id)
        .await?
        .iter()
        .any(|e| e.action == "verdict" && e.detail.as_deref() == Some(detail.as_str()));
    if !seen {
        app.store
            .record_verdict(opinion.id, verdict, "sms", now, Some(&detail))
            .await?;
    }
    Ok(Some(json(
        if seen {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        serde_json::json!({
            "kind": "verdict",
            "tracking_code": code.as_str(),
            "verdict": verdict.code(),
            "repeated": seen,
        }),
    )))
}
