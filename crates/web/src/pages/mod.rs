//! Handlers, one module per audience: sign-in and account, staff pages, administration,
//! residents' public pages, and the JSON API.

pub mod admin;
pub mod analysis;
pub mod api;
pub mod assess;
pub mod auth;
pub mod briefings;
pub mod callbacks;
pub mod cards;
pub mod dashboard;
pub mod handling;
pub mod kiosk;
pub mod lists;
pub mod map;
pub mod merge;
pub mod open311;
pub mod places;
pub mod public;
pub mod records;
pub mod sms;
pub mod staff;
pub mod surveys;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use minyi_app::App;

use crate::guard::{Ctx, lang_of};
use crate::respond;

const CSS: &str = include_str!("../../assets/minyi.css");
const ICON: &str = include_str!("../../assets/icon.svg");

pub async fn icon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        ICON,
    )
        .into_response()
}

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(app): State<App>) -> Response {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

pub async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

pub async fn not_found(req: Request) -> Response {
    let (lang, _) = lang_of(req.headers(), req.uri().query());
    let ctx = Ctx {
        lang,
        lang_chosen: false,
        session: None,
        token: None,
        machine: None,
        csrf: String::new(),
        secure_cookies: false,
        synthetic: false,
    };
    respond::status_page(&ctx, StatusCode::NOT_FOUND, "not_found")
}
