//! Administration: accounts, API keys and the audit log, each limited to the
//! administrator's subtree. New passwords and keys are shown once, on the response page.

use axum::extract::{Extension, Form, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use minyi_app::App;
use minyi_app::auth::Operator;
use minyi_core::access::{KeyPurpose, Role};

use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::t;
use crate::respond::{self, csrf_field, local};

/// "name (code)" of a unit, for tables.
fn unit_label(units: &[minyi_store::UnitRow], id: i64) -> String {
    units
        .iter()
        .find(|u| u.id == id)
        .map(|u| format!("{} ({})", u.name, u.code))
        .unwrap_or_default()
}

/// The units of a scope as `<option>`s, for forms that place an account or key.
fn unit_options(units: &[minyi_store::UnitRow], scope: &minyi_core::access::Scope) -> String {
    let mut out = String::new();
    for u in units.iter().filter(|u| scope.contains(u.id)) {
        out.push_str(&format!(
            "<option value=\"{}\">{} ({})</option>",
            esc(u.code.as_str()),
            esc(&u.name),
            esc(u.code.as_str())
        ));
    }
    out
}

fn once(resp: Response) -> Response {
    let mut resp = resp;
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn users_page(app: &App, ctx: &Ctx, status: StatusCode, notice: Option<String>) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let accounts = match minyi_app::auth::accounts_visible(app, &Operator::User(&p)).await {
        Ok(a) => a,
        Err(e) => return respond::app_error(ctx, e),
    };
    let units = match app.store.units().await {
        Ok(u) => u,
        Err(e) => return respond::app_error(ctx, e.into()),
    };
    let unit_code = |id: i64| unit_label(&units, id);
    let mut body = format!("<h2>{}</h2>", esc(t(lang, "users_title")));
    if let Some(n) = notice {
        body.push_str(&n);
    }
    body.push_str(&format!(
        "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(t(lang, "login_username")),
        esc(t(lang, "users_display_name")),
        esc(t(lang, "account_role")),
        esc(t(lang, "col_unit")),
        esc(t(lang, "col_state")),
        esc(t(lang, "users_actions")),
    ));
    let now = chrono::Utc::now();
    for a in &accounts {
        let state = if a.disabled {
            t(lang, "users_disabled").to_owned()
        } else if a.locked_until.is_some_and(|u| u > now) {
            t(lang, "users_locked").to_owned()
        } else {
            t(lang, "users_active").to_owned()
        };
        let toggle = if a.disabled { "enable" } else { "disable" };
        body.push_str(&format!(
            "<tr data-user=\"{u}\"><td>{u}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>\
             <form method=\"post\" action=\"/admin/users/{u}/{toggle}\" class=\"inline\">{csrf}<button type=\"submit\">{tl}</button></form> \
             <form method=\"post\" action=\"/admin/users/{u}/reset\" class=\"inline\">{csrf}<button type=\"submit\">{rl}</button></form></td></tr>",
            esc(&a.display_name),
            esc(t(lang, &format!("role.{}", a.role.code()))),
            esc(&unit_code(a.unit_id)),
            esc(&state),
            u = esc(&a.username),
            csrf = csrf_field(ctx),
            tl = esc(t(lang, &format!("users_{toggle}"))),
            rl = esc(t(lang, "users_reset")),
        ));
    }
    body.push_str("</tbody></table>");
    let mut role_opts = String::new();
    for r in Role::ALL {
        role_opts.push_str(&format!(
            "<option value=\"{}\">{}</option>",
            r.code(),
            esc(t(lang, &format!("role.{}", r.code())))
        ));
    }
    let unit_opts = unit_options(&units, &p.scope);
    body.push_str(&format!(
        "<h3>{}</h3><form method=\"post\" action=\"/admin/users\" class=\"stack narrow\">{}\
         <label for=\"username\">{}</label><input id=\"username\" name=\"username\" required pattern=\"[a-z][a-z0-9._-]{{2,31}}\">\
         <label for=\"display_name\">{}</label><input id=\"display_name\" name=\"display_name\" required maxlength=\"60\">\
         <label for=\"role\">{}</label><select id=\"role\" name=\"role\">{role_opts}</select>\
         <label for=\"unit\">{}</label><select id=\"unit\" name=\"unit\">{unit_opts}</select>\
         <button type=\"submit\">{}</button></form>",
        esc(t(lang, "users_create")),
        csrf_field(ctx),
        esc(t(lang, "login_username")),
        esc(t(lang, "users_display_name")),
        esc(t(lang, "account_role")),
        esc(t(lang, "col_unit")),
        esc(t(lang, "users_create_submit")),
    ));
    once(respond::html(
        ctx,
        status,
        t(lang, "users_title"),
        "/admin/users",
        &body,
    ))
}

pub async fn users(State(app): State<App>, Extension(ctx): Extension<Ctx>) -> Response {
    users_page(&app, &ctx, StatusCode::OK, None).await
}

fn shown_once(ctx: &Ctx, label_key: &str, subject: &str, secret: &str) -> String {
    format!(
        "<div class=\"notice secret\" role=\"status\"><p>{}</p><p><code data-secret>{}</code></p><p>{}</p></div>",
        esc(&t(ctx.lang, label_key).replace("{subject}", subject)),
        esc(secret),
        esc(t(ctx.lang, "shown_once"))
    )
}

fn error_notice(msg: &str) -> String {
    format!(
        "<div class=\"error-summary\" role=\"alert\"><p>{}</p></div>",
        esc(msg)
    )
}

#[derive(serde::Deserialize)]
pub struct NewUserForm {
    username: String,
    display_name: String,
    role: String,
    unit: String,
}

pub async fn create_user(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<NewUserForm>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let Ok(role) = Role::parse(&f.role) else {
        return users_page(
            &app,
            &ctx,
            StatusCode::BAD_REQUEST,
            Some(error_notice(t(ctx.lang, "users_bad_role"))),
        )
        .await;
    };
    let password = minyi_app::auth::random_password();
    match minyi_app::auth::create_account(
        &app,
        Operator::User(&p),
        &f.username,
        &f.display_name,
        role,
        &f.unit,
        &password,
        true,
        false,
        chrono::Utc::now(),
    )
    .await
    {
        Ok(_) => {
            let n = shown_once(&ctx, "users_created", f.username.trim(), &password);
            users_page(&app, &ctx, StatusCode::OK, Some(n)).await
        }
        Err(minyi_app::AppError::Invalid(m)) => {
            users_page(&app, &ctx, StatusCode::BAD_REQUEST, Some(error_notice(&m))).await
        }
        Err(minyi_app::AppError::Store(minyi_store::StoreError::Conflict(m))) => {
            users_page(&app, &ctx, StatusCode::CONFLICT, Some(error_notice(&m))).await
        }
        Err(e) => respond::app_error(&ctx, e),
    }
}

async fn set_disabled(app: App, ctx: Ctx, username: String, disabled: bool) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    match minyi_app::auth::set_disabled(
        &app,
        Operator::User(&p),
        &username,
        disabled,
        chrono::Utc::now(),
    )
    .await
    {
        Ok(()) => users_page(&app, &ctx, StatusCode::OK, None).await,
        Err(minyi_app::AppError::Invalid(m)) => {
            users_page(&app, &ctx, StatusCode::BAD_REQUEST, Some(error_notice(&m))).await
        }
        Err(e) => respond::app_error(&ctx, e),
    }
}

pub async fn disable_user(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(username): Path<String>,
) -> Response {
    set_disabled(app, ctx, username, true).await
}

pub async fn enable_user(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(username): Path<String>,
) -> Response {
    set_disabled(app, ctx, username, false).await
}

pub async fn reset_user(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(username): Path<String>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    match minyi_app::auth::reset_password(&app, Operator::User(&p), &username, chrono::Utc::now())
        .await
    {
        Ok(pw) => {
            let n = shown_once(&ctx, "users_reset_done", username.trim(), &pw);
            users_page(&app, &ctx, StatusCode::OK, Some(n)).await
        }
        Err(e) => respond::app_error(&ctx, e),
    }
}

async fn keys_page(app: &App, ctx: &Ctx, status: StatusCode, notice: Option<String>) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let keys = match minyi_app::auth::api_keys_visible(app, &Operator::User(&p)).await {
        Ok(k) => k,
        Err(e) => return respond::app_error(ctx, e),
    };
    let units = match app.store.units().await {
        Ok(u) => u,
        Err(e) => return respond::app_error(ctx, e.into()),
    };
    let unit_code = |id: i64| unit_label(&units, id);
    let mut body = format!("<h2>{}</h2>", esc(t(lang, "keys_title")));
    if let Some(n) = notice {
        body.push_str(&n);
    }
    body.push_str(&format!(
        "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(t(lang, "keys_prefix")),
        esc(t(lang, "keys_purpose")),
        esc(t(lang, "col_unit")),
        esc(t(lang, "keys_label")),
        esc(t(lang, "keys_created")),
        esc(t(lang, "keys_last_used")),
        esc(t(lang, "col_state")),
    ));
    for k in &keys {
        let state = match k.revoked_at {
            Some(at) => format!("{} {}", esc(t(lang, "keys_revoked")), local(at)),
            None => format!(
                "<form method=\"post\" action=\"/admin/keys/{}/revoke\" class=\"inline\">{}<button type=\"submit\">{}</button></form>",
                k.id,
                csrf_field(ctx),
                esc(t(lang, "keys_revoke"))
            ),
        };
        body.push_str(&format!(
            "<tr data-key=\"{}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&k.prefix),
            esc(&k.prefix),
            esc(t(lang, &format!("purpose.{}", k.purpose.code()))),
            esc(&unit_code(k.unit_id)),
            esc(&k.label),
            local(k.created_at),
            k.last_used_at.map(local).unwrap_or_default(),
            state
        ));
    }
    body.push_str("</tbody></table>");
    let mut purpose_opts = String::new();
    for k in KeyPurpose::ALL {
        purpose_opts.push_str(&format!(
            "<option value=\"{}\">{}</option>",
            k.code(),
            esc(t(lang, &format!("purpose.{}", k.code())))
        ));
    }
    let unit_opts = unit_options(&units, &p.scope);
    body.push_str(&format!(
        "<h3>{}</h3><form method=\"post\" action=\"/admin/keys\" class=\"stack narrow\">{}\
         <label for=\"purpose\">{}</label><select id=\"purpose\" name=\"purpose\">{purpose_opts}</select>\
         <label for=\"unit\">{}</label><select id=\"unit\" name=\"unit\">{unit_opts}</select>\
         <label for=\"label\">{}</label><input id=\"label\" name=\"label\" maxlength=\"100\">\
         <button type=\"submit\">{}</button></form>",
        esc(t(lang, "keys_create")),
        csrf_field(ctx),
        esc(t(lang, "keys_purpose")),
        esc(t(lang, "col_unit")),
        esc(t(lang, "keys_label")),
        esc(t(lang, "keys_create_submit")),
    ));
    once(respond::html(
        ctx,
        status,
        t(lang, "keys_title"),
        "/admin/keys",
        &body,
    ))
}

pub async fn keys(State(app): State<App>, Extension(ctx): Extension<Ctx>) -> Response {
    keys_page(&app, &ctx, StatusCode::OK, None).await
}

#[derive(serde::Deserialize)]
pub struct NewKeyForm {
    purpose: String,
    unit: String,
    #[serde(default)]
    label: String,
}

pub async fn create_key(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<NewKeyForm>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let Ok(purpose) = KeyPurpose::parse(&f.purpose) else {
        return keys_page(
            &app,
            &ctx,
            StatusCode::BAD_REQUEST,
            Some(error_notice(t(ctx.lang, "keys_bad_purpose"))),
        )
        .await;
    };
    match minyi_app::auth::create_api_key(
        &app,
        Operator::User(&p),
        &f.unit,
        purpose,
        &f.label,
        chrono::Utc::now(),
    )
    .await
    {
        Ok((_, key)) => {
            let n = shown_once(&ctx, "keys_created", purpose.code(), &key);
            keys_page(&app, &ctx, StatusCode::OK, Some(n)).await
        }
        Err(minyi_app::AppError::Invalid(m)) => {
            keys_page(&app, &ctx, StatusCode::BAD_REQUEST, Some(error_notice(&m))).await
        }
        Err(e) => respond::app_error(&ctx, e),
    }
}

pub async fn revoke_key(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    if id.parse::<i64>().is_err() {
        return respond::status_page(&ctx, StatusCode::NOT_FOUND, "not_found");
    }
    match minyi_app::auth::revoke_api_key(&app, Operator::User(&p), &id, chrono::Utc::now()).await {
        Ok(()) => keys_page(&app, &ctx, StatusCode::OK, None).await,
        Err(minyi_app::AppError::Invalid(m)) => {
            keys_page(&app, &ctx, StatusCode::BAD_REQUEST, Some(error_notice(&m))).await
        }
        Err(e) => respond::app_error(&ctx, e),
    }
}

pub async fn audit(State(app): State<App>, Extension(ctx): Extension<Ctx>) -> Response {
    let lang = ctx.lang;
    // The log spans the whole bureau; only accounts scoped at the root may read it.
    match ctx.principal() {
        Ok(p) if p.scope_is_city => {}
        Ok(_) => return respond::status_page(&ctx, StatusCode::FORBIDDEN, "forbidden"),
        Err(r) => return r,
    }
    let verdict = match minyi_app::audit::verify(&app).await {
        Ok(v) => v,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let rows = match app.store.audit_recent(200).await {
        Ok(r) => r,
        Err(e) => return respond::app_error(&ctx, e.into()),
    };
    let mut body = format!("<h2>{}</h2>", esc(t(lang, "audit_title")));
    match verdict {
        minyi_app::audit::Verdict::Intact { entries } => body.push_str(&format!(
            "<p class=\"notice\" role=\"status\" data-audit=\"intact\">{}</p>",
            esc(&t(lang, "audit_intact").replace("{n}", &entries.to_string()))
        )),
        minyi_app::audit::Verdict::Broken(b) => body.push_str(&format!(
            "<div class=\"error-summary\" role=\"alert\" data-audit=\"broken\"><p>{}</p><p>{}</p></div>",
            esc(t(lang, "audit_broken")),
            esc(&b.to_string())
        )),
    }
    body.push_str(&format!(
        "<table><thead><tr><th scope=\"col\" class=\"num\">#</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(t(lang, "audit_at")),
        esc(t(lang, "audit_actor")),
        esc(t(lang, "audit_action")),
        esc(t(lang, "audit_subject")),
        esc(t(lang, "audit_detail")),
    ));
    for r in &rows {
        body.push_str(&format!(
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.seq,
            local(r.at),
            esc(&r.actor),
            esc(t(lang, &format!("audit_action.{}", r.action))),
            esc(&r.subject),
            esc(&r.detail)
        ));
    }
    body.push_str("</tbody></table>");
    respond::html(
        &ctx,
        StatusCode::OK,
        t(lang, "audit_title"),
        "/admin/audit",
        &body,
    )
}
