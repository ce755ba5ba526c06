//! minyi-web: the HTTP face of minyi — health and readiness probes, the home page, and
//! (as the feature issues land) the JSON API, Open311, resident pages and the kiosk.
//!
//! Thin by design: handlers parse the request, call `minyi-app`, and render. No business
//! rule lives here.

pub mod html;
pub mod i18n;
pub mod protect;

use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use minyi_app::App;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::html::{esc, page};
use crate::i18n::{Lang, t};

const CSS: &str = include_str!("../assets/minyi.css");

/// Request bodies larger than this are refused with 413 before a handler runs.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The whole application as one router.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/assets/minyi.css", get(css))
        .fallback(not_found)
        .with_state(app)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(TraceLayer::new_for_http())
}

/// Serves until Ctrl-C or SIGTERM, then lets requests in flight finish.
pub async fn serve(app: App, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(app): State<App>) -> Response {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

#[derive(serde::Deserialize, Default)]
struct LangQuery {
    lang: Option<String>,
}

fn lang_of(q: &LangQuery, headers: &HeaderMap) -> Lang {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("lang=").map(str::to_owned));
    Lang::negotiate(q.lang.as_deref(), cookie.as_deref())
}

/// An HTML response that remembers an explicit language choice in a cookie.
fn html_response(status: StatusCode, lang: Lang, remember: bool, body: String) -> Response {
    let mut resp = (status, Html(body)).into_response();
    if remember
        && let Ok(v) = HeaderValue::from_str(&format!(
            "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.tag()
        ))
    {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn home(State(app): State<App>, Query(q): Query<LangQuery>, headers: HeaderMap) -> Response {
    let lang = lang_of(&q, &headers);
    let now = chrono::Utc::now();
    let overview = match minyi_app::overview::overview(&app, now, 2).await {
        Ok(o) => o,
        Err(e) => return server_error(lang, &e.to_string()),
    };
    let c = &overview.counts;
    let mut body = format!("<h2>{}</h2>\n", esc(t(lang, "home_title")));
    body.push_str(&format!(
        "<section aria-labelledby=\"counts\"><h3 id=\"counts\">{}</h3><ul class=\"cards\">",
        esc(t(lang, "counts_title"))
    ));
    let cards: [(&str, i64); 11] = [
        ("count_opinions", c.opinions),
        ("count_open", c.open_opinions),
        ("count_events", c.events),
        ("count_ratings", c.ratings),
        ("count_incidents", c.incidents),
        ("count_non_police", c.non_police_incidents),
        ("count_cases", c.cases),
        ("count_permits", c.permits),
        ("count_units", c.units),
        ("count_areas", c.areas),
        ("count_officers", c.officers),
    ];
    for (key, n) in cards {
        body.push_str(&format!(
            "<li><span class=\"n\" data-count=\"{key}\">{}</span><span class=\"l\">{}</span></li>",
            group_digits(n),
            esc(t(lang, key))
        ));
    }
    body.push_str("</ul></section>\n");
    if overview.tree.is_empty() {
        body.push_str(&format!("<p>{}</p>", esc(t(lang, "empty_store"))));
    } else {
        body.push_str(&format!(
            "<section aria-labelledby=\"tree\"><h3 id=\"tree\">{}</h3><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
             <th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th></tr></thead><tbody>",
            esc(t(lang, "tree_title")),
            esc(t(lang, "col_unit")),
            esc(t(lang, "col_kind")),
            esc(t(lang, "col_opinions")),
            esc(t(lang, "col_open")),
            esc(t(lang, "col_overdue")),
        ));
        for n in &overview.tree {
            let overdue_class = if n.overdue > 0 { " overdue" } else { "" };
            body.push_str(&format!(
                "<tr class=\"d{}\" data-unit=\"{}\"><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num{overdue_class}\">{}</td></tr>",
                n.depth.min(3),
                esc(n.unit.code.as_str()),
                esc(&n.unit.name),
                esc(t(lang, &format!("unit_kind.{}", n.unit.kind.code()))),
                group_digits(n.opinions),
                group_digits(n.open),
                group_digits(n.overdue),
            ));
        }
        body.push_str("</tbody></table></section>");
    }
    let shanghai = overview
        .generated_at
        .with_timezone(&minyi_core::calendar::SHANGHAI);
    body.push_str(&format!(
        "<p><small>{} {}</small></p>",
        esc(t(lang, "generated_at")),
        shanghai.format("%Y-%m-%d %H:%M")
    ));
    let html = page(lang, t(lang, "home_title"), overview.synthetic, "/", &body);
    html_response(StatusCode::OK, lang, q.lang.is_some(), html)
}

fn group_digits(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

async fn not_found(Query(q): Query<LangQuery>, headers: HeaderMap) -> Response {
    let lang = lang_of(&q, &headers);
    error_page(
        StatusCode::NOT_FOUND,
        lang,
        "not_found_title",
        "not_found_body",
    )
}

fn server_error(lang: Lang, detail: &str) -> Response {
    // The detail goes to the log, never to the page.
    tracing::error!(error = detail, "request failed");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        lang,
        "server_error_title",
        "server_error_body",
    )
}

/// Every error page: a title, one sentence and the way home, in the user's language.
fn error_page(status: StatusCode, lang: Lang, title_key: &str, body_key: &str) -> Response {
    let body = format!(
        "<h2>{}</h2><p>{}</p><p><a href=\"/\">{}</a></p>",
        esc(t(lang, title_key)),
        esc(t(lang, body_key)),
        esc(t(lang, "back_home"))
    );
    html_response(
        status,
        lang,
        false,
        page(lang, t(lang, title_key), false, "/", &body),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn groups_digits() {
        assert_eq!(super::group_digits(0), "0");
        assert_eq!(super::group_digits(1234567), "1,234,567");
        assert_eq!(super::group_digits(-1000), "-1,000");
        assert_eq!(super::group_digits(999), "999");
    }
}
