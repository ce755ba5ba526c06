//! Turning outcomes into responses: pages in the frame with the role's navigation, status
//! pages in the user's language, problem+json for machines, and the mapping of app errors
//! to statuses (a foreign object is 404, never 403, so its existence does not leak).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minyi_app::AppError;
use minyi_core::access::Permission;

use crate::guard::Ctx;
use crate::html::{esc, page};
use crate::i18n::t;

/// Navigation for the signed-in principal: only what the role may use, plus who they are
/// and the sign-out button (a POST with the CSRF token).
pub fn nav(ctx: &Ctx) -> String {
    let lang = ctx.lang;
    let Some(s) = &ctx.session else {
        return format!(
            "<nav aria-label=\"{}\"><a href=\"/login\">{}</a> <a href=\"/report\">{}</a></nav>",
            esc(t(lang, "nav_label")),
            esc(t(lang, "nav_login")),
            esc(t(lang, "nav_report"))
        );
    };
    let p = &s.principal;
    let mut links = vec![("/", "nav_home")];
    if p.may(Permission::ViewOpinions) {
        links.push(("/queue", "nav_queue"));
        links.push(("/unit", "nav_my_unit"));
        links.push(("/callbacks", "callbacks.nav"));
    }
    // Near-duplicates are the analysts' to decide (`minyi_app::merge`).
    if p.may(Permission::HandleOpinions)
        && matches!(
            p.role,
            minyi_core::access::Role::CountyAnalyst | minyi_core::access::Role::CityAnalyst
        )
    {
        links.push(("/merges", "merge.nav"));
    }
    // Briefings are read through the unit tree; a liaison has none.
    if p.may(Permission::ViewOpinions) && !p.role.sees_by_department() {
        links.push(("/briefings", "briefings_nav"));
    }
    if p.may(Permission::AnalyseOpinions) {
        links.push(("/analysis", "analysis_nav"));
    }
    if p.role == minyi_core::access::Role::DepartmentLiaison {
        links.push(("/analysis/joint", "analysis_joint_nav"));
    }
    if p.may(Permission::ViewOpinions) || p.may(Permission::SurveyWork) {
        links.push(("/surveys", "surveys.nav"));
    }
    if p.may(Permission::ViewOpinions) {
        links.push(("/assessment", "assess.nav"));
    }
    if p.may(Permission::ManageAccounts) {
        links.push(("/admin/users", "nav_users"));
    }
    if p.may(Permission::ManageApiKeys) {
        links.push(("/admin/keys", "nav_keys"));
    }
    if p.may(Permission::ViewAudit) {
        links.push(("/admin/audit", "nav_audit"));
    }
    links.push(("/account", "nav_account"));
    let mut out = format!("<nav aria-label=\"{}\"><ul>", esc(t(lang, "nav_label")));
    for (href, key) in links {
        out.push_str(&format!(
            "<li><a href=\"{href}\">{}</a></li>",
            esc(t(lang, key))
        ));
    }
    out.push_str(&format!(
        "</ul><span class=\"who\">{} · {} · {}</span>\
         <form method=\"post\" action=\"/logout\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\">{}</button></form></nav>",
        esc(&p.display_name),
        esc(t(lang, &format!("role.{}", p.role.code()))),
        esc(&p.unit_name),
        esc(&ctx.csrf),
        esc(t(lang, "nav_logout"))
    ));
    out
}

/// A page in the frame. `path` is where the language switch points back to.
pub fn html(ctx: &Ctx, status: StatusCode, title: &str, path: &str, body: &str) -> Response {
    let full = format!("{}{}", nav(ctx), body);
    let doc = page(ctx.lang, title, ctx.synthetic, path, &full);
    let mut resp = (status, Html(doc)).into_response();
    if ctx.lang_chosen
        && let Ok(v) = HeaderValue::from_str(&format!(
            "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
            ctx.lang.tag()
        ))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// Like [`html`], with the synthetic-data banner when the store holds the demo city.
pub fn html_demo(ctx: &Ctx, synthetic: bool, title: &str, path: &str, body: &str) -> Response {
    let full = format!("{}{}", nav(ctx), body);
    let doc = page(ctx.lang, title, synthetic || ctx.synthetic, path, &full);
    let mut resp = (StatusCode::OK, Html(doc)).into_response();
    if ctx.lang_chosen
        && let Ok(v) = HeaderValue::from_str(&format!(
            "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
            ctx.lang.tag()
        ))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// A status page: `{key}_title` and `{key}_body` from the catalogue.
pub fn status_page(ctx: &Ctx, status: StatusCode, key: &str) -> Response {
    let lang = ctx.lang;
    let title_key = format!("{key}_title");
    let title = t(lang, &title_key);
    let body = format!(
        "<h2>{}</h2><p>{}</p><p><a href=\"/\">{}</a></p>",
        esc(title),
        esc(t(lang, &format!("{key}_body"))),
        esc(t(lang, "back_home"))
    );
    html(ctx, status, title, "/", &body)
}

/// `application/problem+json` with a stable `code`.
pub fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": format!("https://minyi.invalid/problems/{code}"),
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "code": code,
        "detail": detail,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// Reads a JSON API body: 415 unless the content type is `application/json`, 400
/// `malformed_json` when it does not parse. `what` names the payload in the 415 text
/// ("the opinion"); `not_json` is the 400 text before the parser's reason.
// The error is the finished response the handler returns at once, as in `guard`.
#[allow(clippy::result_large_err)]
pub fn json_body<T: serde::de::DeserializeOwned>(
    headers: &axum::http::HeaderMap,
    body: &[u8],
    what: &str,
    not_json: &str,
) -> Result<T, Response> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            &format!("send {what} as application/json"),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        problem(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            &format!("{not_json}: {e}"),
        )
    })
}

pub fn app_error(ctx: &Ctx, e: AppError) -> Response {
    match e {
        AppError::NotFound => status_page(ctx, StatusCode::NOT_FOUND, "not_found"),
        AppError::Forbidden => status_page(ctx, StatusCode::FORBIDDEN, "forbidden"),
        AppError::Invalid(msg) => {
            let lang = ctx.lang;
            let title = t(lang, "invalid_title");
            let body = format!(
                "<h2>{}</h2><div class=\"error-summary\" role=\"alert\"><p>{}</p></div><p><a href=\"/\">{}</a></p>",
                esc(title),
                esc(&msg),
                esc(t(lang, "back_home"))
            );
            html(ctx, StatusCode::BAD_REQUEST, title, "/", &body)
        }
        other => {
            // The detail goes to the log, never to the page.
            tracing::error!(error = %other, "request failed");
            status_page(ctx, StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        }
    }
}

pub fn app_problem(e: AppError) -> Response {
    match e {
        AppError::NotFound => problem(StatusCode::NOT_FOUND, "not_found", "not found"),
        AppError::Forbidden => problem(StatusCode::FORBIDDEN, "forbidden", "not allowed"),
        AppError::Invalid(msg) => problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &msg),
        other => {
            tracing::error!(error = %other, "request failed");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the request could not be completed; it has been logged",
            )
        }
    }
}

/// Percent-encodes for a query value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A hidden CSRF field for a form on this page.
pub fn csrf_field(ctx: &Ctx) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(&ctx.csrf)
    )
}

/// Shanghai wall-clock time for display.
pub fn local(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&minyi_core::calendar::SHANGHAI)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}
