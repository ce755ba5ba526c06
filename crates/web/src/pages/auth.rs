//! Sign-in, sign-out and the account page (own password).

use axum::extract::{Extension, Form, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minyi_app::App;
use minyi_app::auth::SignInRefusal;

use crate::guard::{Ctx, SESSION_COOKIE};
use crate::html::esc;
use crate::i18n::t;
use crate::respond::{self, csrf_field, local};

#[derive(serde::Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only a local path may be a redirect target: never `//host` or `https://…`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn login_page(
    ctx: &Ctx,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
    username: &str,
) -> Response {
    let lang = ctx.lang;
    let summary = error
        .map(|e| {
            format!(
                "<div class=\"error-summary\" role=\"alert\" tabindex=\"-1\"><p>{}</p></div>",
                esc(e)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h2>{title}</h2>{summary}\
         <form method=\"post\" action=\"/login\" class=\"stack narrow\">{csrf}\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <label for=\"username\">{u}</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required value=\"{uv}\">\
         <label for=\"password\">{p}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">{submit}</button></form>\
         <p><a href=\"/report\">{report}</a></p>",
        title = esc(t(lang, "login_title")),
        csrf = csrf_field(ctx),
        next = esc(next),
        u = esc(t(lang, "login_username")),
        uv = esc(username),
        p = esc(t(lang, "login_password")),
        submit = esc(t(lang, "login_submit")),
        report = esc(t(lang, "login_resident_hint")),
    );
    respond::html(ctx, status, t(lang, "login_title"), "/login", &body)
}

pub async fn login_form(
    Extension(ctx): Extension<Ctx>,
    crate::extract::Q(q): crate::extract::Q<NextQuery>,
) -> Response {
    if ctx.session.is_some() {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    login_page(
        &ctx,
        StatusCode::OK,
        &safe_next(q.next.as_deref()),
        None,
        "",
    )
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<LoginForm>,
) -> Response {
    let lang = ctx.lang;
    let next = safe_next(f.next.as_deref());
    if f.password.len() > 1024 {
        return login_page(
            &ctx,
            StatusCode::UNAUTHORIZED,
            &next,
            Some(t(lang, "login_failed")),
            &f.username,
        );
    }
    let now = chrono::Utc::now();
    match minyi_app::auth::sign_in(&app, &f.username, &f.password, now).await {
        Err(e) => respond::app_error(&ctx, e),
        Ok(Err(SignInRefusal::BadCredentials)) => login_page(
            &ctx,
            StatusCode::UNAUTHORIZED,
            &next,
            Some(t(lang, "login_failed")),
            &f.username,
        ),
        Ok(Err(SignInRefusal::Locked { until })) => {
            let msg = t(lang, "login_locked").replace("{until}", &local(until));
            let mut resp = login_page(
                &ctx,
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                Some(&msg),
                &f.username,
            );
            let secs = (until - now).num_seconds().max(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
        Ok(Err(SignInRefusal::TooSoon { wait_secs })) => {
            let msg = t(lang, "login_too_soon").replace("{secs}", &wait_secs.to_string());
            let mut resp = login_page(
                &ctx,
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                Some(&msg),
                &f.username,
            );
            if let Ok(v) = HeaderValue::from_str(&wait_secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
        Ok(Ok(session)) => {
            let target = if session.principal.must_change_password {
                "/account".to_owned()
            } else {
                next
            };
            let mut resp = Redirect::to(&target).into_response();
            let secure = if ctx.secure_cookies { "; Secure" } else { "" };
            let max_age = app.config.security.session_max_hours * 3600;
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
                session.token
            )) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
    }
}

pub async fn logout(State(app): State<App>, Extension(ctx): Extension<Ctx>) -> Response {
    let (Some(s), Some(token)) = (&ctx.session, &ctx.token) else {
        return Redirect::to("/login").into_response();
    };
    if let Err(e) = minyi_app::auth::sign_out(&app, token, &s.principal, chrono::Utc::now()).await {
        return respond::app_error(&ctx, e);
    }
    let mut resp = Redirect::to("/login").into_response();
    let secure = if ctx.secure_cookies { "; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn account_page(ctx: &Ctx, status: StatusCode, message: Option<(&str, bool)>) -> Response {
    let lang = ctx.lang;
    let Ok(p) = ctx.principal() else {
        return respond::status_page(ctx, StatusCode::UNAUTHORIZED, "unauthorized");
    };
    let notice = match message {
        Some((m, true)) => format!(
            "<div class=\"error-summary\" role=\"alert\"><p>{}</p></div>",
            esc(m)
        ),
        Some((m, false)) => format!("<p class=\"notice\" role=\"status\">{}</p>", esc(m)),
        None if p.must_change_password => format!(
            "<p class=\"notice\" role=\"status\">{}</p>",
            esc(t(lang, "account_must_change"))
        ),
        None => String::new(),
    };
    let body = format!(
        "<h2>{title}</h2>{notice}<dl class=\"facts\"><dt>{lu}</dt><dd>{user}</dd><dt>{lr}</dt><dd>{role}</dd><dt>{lunit}</dt><dd>{unit}</dd></dl>\
         <h3>{chg}</h3><form method=\"post\" action=\"/account/password\" class=\"stack narrow\">{csrf}\
         <label for=\"current\">{cur}</label><input id=\"current\" name=\"current\" type=\"password\" autocomplete=\"current-password\" required>\
         <label for=\"new\">{new}</label><input id=\"new\" name=\"new\" type=\"password\" autocomplete=\"new-password\" minlength=\"10\" required aria-describedby=\"new-hint\">\
         <p id=\"new-hint\" class=\"hint\">{hint}</p>\
         <button type=\"submit\">{save}</button></form>",
        title = esc(t(lang, "account_title")),
        lu = esc(t(lang, "login_username")),
        user = esc(&p.username),
        lr = esc(t(lang, "account_role")),
        role = esc(t(lang, &format!("role.{}", p.role.code()))),
        lunit = esc(t(lang, "col_unit")),
        unit = esc(&p.unit_name),
        chg = esc(t(lang, "account_change_password")),
        csrf = csrf_field(ctx),
        cur = esc(t(lang, "account_current_password")),
        new = esc(t(lang, "account_new_password")),
        hint = esc(t(lang, "account_password_hint")),
        save = esc(t(lang, "save")),
    );
    respond::html(ctx, status, t(lang, "account_title"), "/account", &body)
}

pub async fn account(Extension(ctx): Extension<Ctx>) -> Response {
    account_page(&ctx, StatusCode::OK, None)
}

#[derive(serde::Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
}

pub async fn change_password(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<PasswordForm>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    match minyi_app::auth::change_own_password(&app, &p, &f.current, &f.new, chrono::Utc::now())
        .await
    {
        Err(e) => respond::app_error(&ctx, e),
        Ok(Err(key)) => account_page(
            &ctx,
            StatusCode::BAD_REQUEST,
            Some((t(ctx.lang, key), true)),
        ),
        Ok(Ok(())) => {
            // The page was rendered from the session before the change; show the cleared state.
            let mut ctx2 = ctx.clone();
            if let Some(s) = &ctx.session {
                let mut s2 = (**s).clone();
                s2.principal.must_change_password = false;
                ctx2.session = Some(std::sync::Arc::new(s2));
            }
            account_page(
                &ctx2,
                StatusCode::OK,
                Some((t(ctx.lang, "account_password_changed"), false)),
            )
        }
    }
}
