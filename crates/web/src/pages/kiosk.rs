//! The window rating device (电子评价器): the full-screen page a tablet at a service
//! window shows, its script and offline worker, and the device API — its configuration
//! and the ratings batch.
//!
//! The page is a shell rendered here with every word from the catalogue; `kiosk.js` only
//! shows and hides what is already there, keeps ratings in the browser until the server
//! acknowledges them, and never builds markup from data. Checking and storing ratings is
//! `minyi_app::kiosk`'s; nothing here decides what a rating may be.

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minyi_app::kiosk::{DeviceConfig, RatingItem, RatingReason};
use minyi_app::{App, AppError};
use minyi_core::records::{RatingLevel, RatingScale};

use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::{Lang, t};
use crate::respond::{app_problem, problem};

const KIOSK_JS: &str = include_str!("../../assets/kiosk.js");
const KIOSK_SW: &str = include_str!("../../assets/kiosk-sw.js");

/// The messages the script shows, handed over as `data-msg-*` attributes (no inline script).
const SCRIPT_MESSAGES: &[&str] = &[
    "pending",
    "synced",
    "offline",
    "bad_token",
    "not_window",
    "setup_empty",
    "setup_checking",
    "setup_unreachable",
    "device",
];

/// The level buttons of one scale, best first, labelled from the catalogue.
fn levels(lang: Lang, scale: RatingScale) -> String {
    let n = scale.levels();
    let mut out =
        format!("<div class=\"kiosk-levels kiosk-levels-{n}\" data-scale=\"{n}\" hidden>");
    for l in 1..=n {
        let dissatisfied = RatingLevel::parse(scale, i64::from(l))
            .map(RatingLevel::is_dissatisfied)
            .unwrap_or(false);
        out.push_str(&format!(
            "<button type=\"button\" class=\"kiosk-level kiosk-level-{n}-{l}\" data-level=\"{l}\" data-dissatisfied=\"{}\">{}</button>",
            dissatisfied,
            esc(t(lang, &format!("kiosk.level_{n}_{l}")))
        ));
    }
    out.push_str("</div>");
    out
}

/// `GET /kiosk`: the shell. Setup, the buttons, the reasons and the thanks are all here,
/// hidden until the script knows which to show.
pub async fn page(Extension(ctx): Extension<Ctx>) -> Response {
    let lang = ctx.lang;
    let msg = |k: &str| esc(t(lang, &format!("kiosk.msg_{k}")));
    let data: String = SCRIPT_MESSAGES
        .iter()
        .map(|k| format!(" data-msg-{}=\"{}\"", k.replace('_', "-"), msg(k)))
        .collect();
    let mut reasons = String::new();
    for r in RatingReason::ALL {
        reasons.push_str(&format!(
            "<button type=\"button\" class=\"kiosk-reason\" data-reason=\"{}\">{}</button>",
            r.code(),
            esc(t(lang, &format!("kiosk.reason_{}", r.code())))
        ));
    }
    let k = |key: &str| esc(t(lang, &format!("kiosk.{key}")));
    let other = lang.other();
    let doc = format!(
        "<!doctype html>\n<html lang=\"{tag}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1, maximum-scale=1, user-scalable=no\">\n\
         <meta name=\"robots\" content=\"noindex\">\n\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"/assets/minyi.css\">\n\
         <link rel=\"icon\" href=\"/assets/icon.svg\" type=\"image/svg+xml\">\n\
         <script src=\"/assets/kiosk.js\" defer></script>\n</head>\n<body class=\"kiosk-body\">\n\
         <main id=\"kiosk\" class=\"kiosk\" data-lang=\"{tag}\"{data}>\n\
         <p id=\"kiosk-loading\" class=\"kiosk-loading\">{loading}</p>\n\
         <noscript><p class=\"kiosk-error\">{noscript}</p></noscript>\n\
         <section id=\"kiosk-setup\" class=\"kiosk-screen kiosk-setup\" hidden>\n\
         <h1>{setup_title}</h1>\n<p>{setup_help}</p>\n\
         <form id=\"kiosk-setup-form\" class=\"stack narrow\" autocomplete=\"off\">\n\
         <label for=\"kiosk-token\">{setup_token}</label>\n\
         <input id=\"kiosk-token\" name=\"token\" type=\"password\" autocomplete=\"off\" spellcheck=\"false\">\n\
         <button type=\"submit\">{setup_save}</button>\n\
         <button type=\"button\" id=\"kiosk-setup-back\" class=\"kiosk-secondary\" hidden>{setup_back}</button>\n</form>\n\
         <p id=\"kiosk-setup-status\" class=\"kiosk-error\" role=\"alert\" hidden></p>\n\
         <p class=\"kiosk-device\" id=\"kiosk-device\" hidden></p>\n\
         <p><a href=\"/kiosk?lang={other_tag}\" lang=\"{other_tag}\">{switch}</a></p>\n</section>\n\
         <section id=\"kiosk-rate\" class=\"kiosk-screen kiosk-rate\" hidden>\n\
         <h1 id=\"kiosk-window\" class=\"kiosk-window\"></h1>\n\
         <p class=\"kiosk-prompt\">{prompt}</p>\n{three}{five}\n</section>\n\
         <section id=\"kiosk-reasons\" class=\"kiosk-screen kiosk-reasons\" hidden>\n\
         <h1>{reason_title}</h1>\n<div class=\"kiosk-reason-list\">{reasons}</div>\n\
         <button type=\"button\" class=\"kiosk-skip\" data-reason=\"\">{skip}</button>\n</section>\n\
         <section id=\"kiosk-thanks\" class=\"kiosk-screen kiosk-thanks\" hidden>\n\
         <h1>{thanks}</h1>\n<p>{thanks_more}</p>\n</section>\n\
         <p id=\"kiosk-status\" class=\"kiosk-status\" role=\"status\" data-state=\"idle\"></p>\n\
         </main>\n</body>\n</html>\n",
        tag = lang.tag(),
        title = k("title"),
        loading = k("loading"),
        noscript = k("noscript"),
        setup_title = k("setup_title"),
        setup_help = k("setup_help"),
        setup_token = k("setup_token"),
        setup_save = k("setup_save"),
        setup_back = k("setup_back"),
        other_tag = other.tag(),
        switch = esc(t(lang, "lang_switch")),
        prompt = k("prompt"),
        three = levels(lang, RatingScale::Three),
        five = levels(lang, RatingScale::Five),
        reason_title = k("reason_title"),
        skip = k("reason_skip"),
        thanks = k("thanks"),
        thanks_more = k("thanks_more"),
    );
    let mut resp = (StatusCode::OK, Html(doc)).into_response();
    // The shell must be fetched fresh when online (the worker keeps a copy for offline).
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-cache".parse().expect("static header"),
    );
    resp
}

pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        KIOSK_JS,
    )
        .into_response()
}

/// The offline worker. Served from the root so it may control `/kiosk` (a worker's scope
/// is at most its own directory), and never cached by HTTP so updates reach devices.
pub async fn worker() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        KIOSK_SW,
    )
        .into_response()
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

fn kiosk_problem(e: AppError) -> Response {
    match e {
        AppError::Refused(m) => problem(StatusCode::CONFLICT, "not_a_window", &m),
        other => app_problem(other),
    }
}

fn config_json(c: &DeviceConfig) -> serde_json::Value {
    let levels: Vec<_> = (1..=c.scale.levels())
        .map(|l| {
            let dissatisfied = RatingLevel::parse(c.scale, i64::from(l))
                .map(RatingLevel::is_dissatisfied)
                .unwrap_or(false);
            serde_json::json!({"level": l, "dissatisfied": dissatisfied})
        })
        .collect();
    serde_json::json!({
        "window": {
            "code": c.window.code.as_str(),
            "name": c.window.name,
            "kind": c.window.window.map(|w| w.code()),
        },
        "device": c.device,
        "scale": c.scale.levels(),
        "levels": levels,
        "reasons": c.reasons.iter().map(|r| r.code()).collect::<Vec<_>>(),
        "stored": c.stored,
        "max_batch": minyi_app::kiosk::MAX_BATCH,
    })
}

/// `GET /api/v1/kiosk/config`: which window this device serves and what it shows.
pub async fn config(State(app): State<App>, Extension(ctx): Extension<Ctx>) -> Response {
    let machine = match ctx.machine() {
        Ok(m) => m.clone(),
        Err(r) => return r,
    };
    match minyi_app::kiosk::device_config(&app, &machine).await {
        Ok(c) => json(StatusCode::OK, config_json(&c)),
        Err(e) => kiosk_problem(e),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchJson {
    ratings: Vec<serde_json::Value>,
}

/// `POST /api/v1/ratings`: a device's batch, answered item by item.
pub async fn ratings(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let machine = match ctx.machine() {
        Ok(m) => m.clone(),
        Err(r) => return r,
    };
    let batch: BatchJson = match crate::respond::json_body(
        &headers,
        &body,
        "the ratings",
        "the body is not a ratings batch {\"ratings\": [...]}",
    ) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let max = minyi_app::kiosk::MAX_BATCH;
    if batch.ratings.len() > max {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            &format!(
                "{} ratings in one batch; send at most {max} at a time",
                batch.ratings.len()
            ),
        );
    }
    let items = batch
        .ratings
        .into_iter()
        .map(|v| {
            let shown = v
                .get("client_event_id")
                .and_then(|s| s.as_str())
                .filter(|s| s.len() <= 128)
                .map(str::to_owned);
            let item = serde_json::from_value::<RatingItem>(v).map_err(|e| e.to_string());
            (shown, item)
        })
        .collect();
    match minyi_app::kiosk::submit_batch(&app, &machine, items, chrono::Utc::now()).await {
        Ok(outcomes) => {
            let count = |s| outcomes.iter().filter(|o| o.status == s).count();
            use minyi_app::kiosk::ItemStatus as S;
            json(
                StatusCode::OK,
                serde_json::json!({
                    "stored": count(S::Stored),
                    "duplicate": count(S::Duplicate),
                    "rejected": count(S::Rejected),
                    "results": outcomes,
                }),
            )
        }
        Err(e) => kiosk_problem(e),
    }
}
