//! The JSON API for integrations (`/api/v1`), authenticated by API key. Errors are
//! `application/problem+json` with a stable `code`. The intake issue grows this into the
//! full API with its OpenAPI document; today it receives opinions.

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minyi_app::App;
use minyi_app::intake::Submission;
use minyi_app::privacy::ContactInput;
use minyi_core::PhoneNumber;
use minyi_core::identity::{Address, IdNumber, ResidentName};
use minyi_core::opinion::OpinionText;
use minyi_core::taxonomy::{Category, Channel};

use crate::guard::Ctx;
use crate::respond::{app_problem, problem};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactJson {
    name: Option<String>,
    phone: Option<String>,
    id_number: Option<String>,
    address: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OpinionJson {
    text: String,
    category: Option<String>,
    area: Option<String>,
    contact: Option<ContactJson>,
}

fn invalid(field: &str, e: impl std::fmt::Display) -> Response {
    problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        &format!("{field}: {e}"),
    )
}

/// `POST /api/v1/opinions`: one opinion; idempotent on the `Idempotency-Key` header.
pub async fn submit(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let machine = match ctx.machine() {
        Ok(m) => m.clone(),
        Err(r) => return r,
    };
    let j: OpinionJson = match crate::respond::json_body(
        &headers,
        &body,
        "the opinion",
        "the body is not a valid opinion",
    ) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let text = match OpinionText::parse(&j.text) {
        Ok(t) => t,
        Err(e) => return invalid("text", e),
    };
    let category = match j
        .category
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        None => None,
        Some(c) => match Category::parse(c) {
            Ok(c) => Some(c),
            Err(e) => return invalid("category", e),
        },
    };
    let mut contact = ContactInput::default();
    if let Some(c) = j.contact {
        let some = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        if let Some(v) = some(c.name) {
            match ResidentName::parse(&v) {
                Ok(x) => contact.name = Some(x),
                Err(e) => return invalid("contact.name", e),
            }
        }
        if let Some(v) = some(c.phone) {
            match PhoneNumber::parse(&v) {
                Ok(x) => contact.phone = Some(x),
                Err(e) => return invalid("contact.phone", e),
            }
        }
        if let Some(v) = some(c.id_number) {
            match IdNumber::parse(&v) {
                Ok(x) => contact.id_number = Some(x),
                Err(e) => return invalid("contact.id_number", e),
            }
        }
        if let Some(v) = some(c.address) {
            match Address::parse(&v) {
                Ok(x) => contact.address = Some(x),
                Err(e) => return invalid("contact.address", e),
            }
        }
    }
    let idem = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty());
    if idem.is_some_and(|k| k.len() > 100) {
        return invalid("Idempotency-Key", "at most 100 characters");
    }
    let submission = Submission {
        channel: Channel::Api,
        text,
        category,
        area_code: j.area,
        // Keys of different clients never collide: each key's namespace is its own.
        client_key: idem.map(|k| format!("{}:{k}", machine.actor())),
        contact,
        limit_to_units: Some(machine.scope.clone()),
    };
    match minyi_app::intake::submit(&app, submission, &machine.actor(), chrono::Utc::now()).await {
        Ok(r) => {
            let status = if r.repeated {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            let body = serde_json::json!({
                "tracking_code": r.tracking_code.as_str(),
                "due_at": r.due_at.map(|d| d.to_rfc3339()),
                "repeated": r.repeated,
            });
            (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
        Err(e) => app_problem(e),
    }
}
