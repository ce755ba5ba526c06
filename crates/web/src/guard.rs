//! The one gate every request passes: it finds the route's access rule in the route
//! table (a route without one is refused — deny by default), applies the rate limit,
//! resolves who is asking (session cookie or API key), checks the role's permission and
//! the CSRF token of state-changing forms, and hands the handler a [`Ctx`].
//!
//! Object-level scope (is this unit, matter or account in the caller's subtree?) is
//! checked by `minyi-app` where the data is read, and answers 404 so existence does not leak.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use minyi_app::auth::{ActiveSession, Machine, Principal};
use minyi_core::access::KeyPurpose;

use crate::i18n::Lang;
use crate::routes::{Access, Limit, Route};
use crate::{AppState, respond};

pub const SESSION_COOKIE: &str = "minyi_session";
/// Double-submit token for forms shown before sign-in (sign-in itself, the public form).
pub const FORM_COOKIE: &str = "minyi_form";

/// What a handler knows about the request beyond its own parameters.
#[derive(Clone)]
pub struct Ctx {
    pub lang: Lang,
    /// `?lang=` was given: remember it in a cookie.
    pub lang_chosen: bool,
    pub session: Option<Arc<ActiveSession>>,
    /// The raw session token, to sign out.
    pub token: Option<String>,
    pub machine: Option<Arc<Machine>>,
    /// The CSRF token forms on this page must carry.
    pub csrf: String,
    pub secure_cookies: bool,
    /// The store holds the synthetic demo: every page says so.
    pub synthetic: bool,
}

// A refusal is a whole response by design: handlers return it as it is, and it is built
// once per refused request, so its size on the error path does not matter.
#[allow(clippy::result_large_err)]
impl Ctx {
    /// The signed-in principal. The guard admits a `Signed`/`Perm` route only with one,
    /// so `None` here is a route-table mistake, answered as 401 rather than a panic.
    pub fn principal(&self) -> Result<&Principal, Response> {
        self.session
            .as_ref()
            .map(|s| &s.principal)
            .ok_or_else(|| respond::status_page(self, StatusCode::UNAUTHORIZED, "unauthorized"))
    }

    pub fn machine(&self) -> Result<&Machine, Response> {
        self.machine.as_deref().ok_or_else(|| {
            respond::problem(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "an API key is required",
            )
        })
    }
}

pub type Rules = Arc<HashMap<(Method, String), Route>>;

pub fn rules(routes: &[Route]) -> Rules {
    Arc::new(
        routes
            .iter()
            .map(|r| ((r.method.clone(), r.path.to_owned()), r.clone()))
            .collect(),
    )
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then_some(v)
    })
}

pub fn lang_of(headers: &HeaderMap, query: Option<&str>) -> (Lang, bool) {
    let q = query_param(query, "lang");
    (Lang::negotiate(q, cookie(headers, "lang")), q.is_some())
}

/// The API key a machine presents: `Authorization: Bearer KEY`, `X-Api-Key: KEY`, or (as
/// Open311 clients send it) an `api_key` parameter.
fn presented_key(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(k) = v.strip_prefix("Bearer ")
    {
        return Some(k.trim().to_owned());
    }
    if let Some(v) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_owned());
    }
    query_param(query, "api_key").map(str::to_owned)
}

pub async fn guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(matched) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
    else {
        // The fallback (404) has no matched path and needs no rule.
        return next.run(req).await;
    };
    let method = if req.method() == Method::HEAD {
        Method::GET
    } else {
        req.method().clone()
    };
    let (lang, lang_chosen) = lang_of(req.headers(), req.uri().query());
    let secure_cookies = st.app.config.security.secure_cookies;
    let mut ctx = Ctx {
        lang,
        lang_chosen,
        session: None,
        token: None,
        machine: None,
        csrf: String::new(),
        secure_cookies,
        synthetic: synthetic(&st).await,
    };
    let Some(rule) = st.rules.get(&(method.clone(), matched.clone())).cloned() else {
        tracing::error!(route = %matched, method = %method, "route has no access rule; refused");
        return respond::status_page(&ctx, StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    };

    if let Some(limit) = rule.limit {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let ip = crate::protect::client_ip(
            req.headers(),
            peer,
            st.app.config.security.trust_forwarded_for,
        );
        let limiter = match limit {
            Limit::Login => &st.limits.login,
            Limit::Intake => &st.limits.intake,
        };
        // No address at all (not over TCP) shares one bucket: still limited.
        let ip = ip.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        if let Err(wait) = limiter.check(ip, std::time::Instant::now()) {
            let mut resp = if matches!(rule.access, Access::Key(_)) || wants_json(req.headers()) {
                respond::problem(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "too many requests from this address; try again later",
                )
            } else {
                respond::status_page(&ctx, StatusCode::TOO_MANY_REQUESTS, "rate_limited")
            };
            let secs = wait.as_secs().max(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return resp;
        }
    }

    let now = chrono::Utc::now();
    let token = cookie(req.headers(), SESSION_COOKIE).map(str::to_owned);
    if let Some(t) = &token
        && !matches!(rule.access, Access::Key(_))
    {
        match minyi_app::auth::session(&st.app, t, now).await {
            Ok(s) => {
                ctx.session = s.map(Arc::new);
                ctx.token = ctx.session.as_ref().map(|_| t.clone());
            }
            // A public route (readiness, the residents' form) still answers when the
            // session cannot be looked up; it just does not know who is asking.
            Err(e) if rule.access == Access::Public => {
                tracing::warn!(error = %e, "session lookup failed on a public route");
            }
            Err(e) => return respond::app_error(&ctx, e),
        }
    }

    // Open311 clients send `api_key` in the form body of a POST. When neither the headers
    // nor the query carry a key, a key route's form body is read here and put back intact.
    let mut req = req;
    let mut body_key = None;
    if matches!(rule.access, Access::Key(_))
        && presented_key(req.headers(), req.uri().query()).is_none()
        && is_form(req.headers())
    {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, crate::MAX_BODY_BYTES).await else {
            return respond::problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the request body is too large",
            );
        };
        body_key = form_field(&bytes, "api_key");
        req = Request::from_parts(parts, Body::from(bytes));
    }

    match rule.access {
        Access::Public => {}
        Access::Signed | Access::Perm(_) => {
            let Some(s) = &ctx.session else {
                if method == Method::GET {
                    let next_path = req
                        .uri()
                        .path_and_query()
                        .map(|p| p.as_str())
                        .unwrap_or("/");
                    return Redirect::to(&format!(
                        "/login?next={}",
                        crate::respond::url_encode(next_path)
                    ))
                    .into_response();
                }
                return respond::status_page(&ctx, StatusCode::UNAUTHORIZED, "unauthorized");
            };
            if let Access::Perm(p) = rule.access
                && !s.principal.may(p)
            {
                return respond::status_page(&ctx, StatusCode::FORBIDDEN, "forbidden");
            }
            if s.principal.must_change_password
                && !matches!(
                    matched.as_str(),
                    "/account" | "/account/password" | "/logout"
                )
            {
                return Redirect::to("/account").into_response();
            }
        }
        Access::Key(purpose) => {
            let machine = match presented_key(req.headers(), req.uri().query()).or(body_key) {
                Some(k) => match minyi_app::auth::machine(&st.app, &k, purpose, now).await {
                    Ok(m) => m,
                    Err(e) => return respond::app_error(&ctx, e),
                },
                None => None,
            };
            let Some(m) = machine else {
                // Open311 prescribes 403 in its own error format.
                if let Some(resp) = crate::pages::open311::key_refused(req.uri().path(), ctx.lang) {
                    return resp;
                }
                return respond::problem(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    &format!(
                        "a valid, unrevoked API key for purpose `{}` is required (Authorization: Bearer KEY)",
                        purpose_code(purpose)
                    ),
                );
            };
            ctx.machine = Some(Arc::new(m));
        }
    }

    let form_cookie = cookie(req.headers(), FORM_COOKIE).map(str::to_owned);
    let mut set_form_cookie = None;
    ctx.csrf = match (&ctx.session, &form_cookie) {
        (Some(s), _) => s.csrf.clone(),
        (None, Some(c)) if c.len() >= 32 => c.clone(),
        (None, _) => {
            let t = minyi_vault::new_secret_token();
            set_form_cookie = Some(t.clone());
            t
        }
    };

    let safe = matches!(method, Method::GET | Method::OPTIONS);
    if !safe && !matches!(rule.access, Access::Key(_)) {
        if !crate::protect::same_origin(req.headers()) {
            return respond::status_page(&ctx, StatusCode::FORBIDDEN, "csrf_failed");
        }
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, crate::MAX_BODY_BYTES).await {
            Ok(b) => b,
            Err(_) => {
                return respond::status_page(&ctx, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
            }
        };
        let presented = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| form_field(&bytes, "csrf"));
        // Before sign-in the form's token must match the cookie it was issued with; after,
        // the session's. A token from another (or an ended) session never matches.
        let expected = match &ctx.session {
            Some(s) => Some(s.csrf.as_str()),
            None => form_cookie.as_deref(),
        };
        let ok = match (presented.as_deref(), expected) {
            (Some(p), Some(e)) => minyi_vault::constant_time_eq(p, e),
            _ => false,
        };
        if !ok {
            tracing::info!(route = %matched, "CSRF token missing or wrong; refused");
            return respond::status_page(&ctx, StatusCode::FORBIDDEN, "csrf_failed");
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }

    req.extensions_mut().insert(ctx);
    let mut resp = next.run(req).await;
    if let Some(t) = set_form_cookie {
        let secure = if secure_cookies { "; Secure" } else { "" };
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{FORM_COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict{secure}"
        )) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

async fn synthetic(st: &AppState) -> bool {
    use std::sync::atomic::Ordering;
    match st.synthetic.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => match st.app.store.meta_get("synthetic_demo").await {
            Ok(v) => {
                let yes = v.as_deref() == Some("true");
                st.synthetic
                    .store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                yes
            }
            Err(_) => false,
        },
    }
}

fn purpose_code(p: KeyPurpose) -> &'static str {
    p.code()
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

/// One field of an `application/x-www-form-urlencoded` body, decoded.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (percent_decode(k)? == name)
            .then(|| percent_decode(v))
            .flatten()
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_decode() {
        let body = b"a=1&csrf=x%2By+z&c=%E4%BD%A0";
        assert_eq!(form_field(body, "csrf").as_deref(), Some("x+y z"));
        assert_eq!(form_field(body, "c").as_deref(), Some("你"));
        assert_eq!(form_field(body, "missing"), None);
        assert_eq!(form_field(b"csrf=%zz", "csrf"), None);
        assert_eq!(form_field(b"csrf=%e", "csrf"), None);
        assert_eq!(form_field(&[0xff, b'='], "csrf"), None);
    }
}
