//! Pages: the callback worklist of the signed-in account's subtree (pending first, soonest
//! due first), one callback with its call script, attempts and outcome form, and the
//! audited reveal of the number to call. Rules and writes are `minyi_app::callbacks`;
//! this module only reads forms and renders.

use axum::extract::{Extension, Form, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minyi_app::callbacks::{OutcomeInput, view};
use minyi_app::{App, AppError};
use minyi_core::callback::milestones_of;
use minyi_core::records::{CallbackOutcome, CallbackSource, CallbackState};
use minyi_core::taxonomy::Verdict;
use minyi_store::{CallbackQuery, CallbackRow};

use crate::extract::Q;
use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::{Lang, t};
use crate::respond::{self, csrf_field, local, url_encode};

const PAGE_SIZE: i64 = 50;

#[derive(serde::Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    overdue: String,
    #[serde(default)]
    page: String,
}

fn parse_query(lq: &ListQuery) -> Result<(CallbackQuery, i64), String> {
    let state = match lq.state.trim() {
        "" => None,
        s => Some(CallbackState::parse(s).map_err(|e| e.to_string())?),
    };
    let source = match lq.source.trim() {
        "" => None,
        s => Some(CallbackSource::parse(s).map_err(|e| e.to_string())?),
    };
    let overdue = matches!(lq.overdue.trim(), "1" | "true" | "on");
    let page = match lq.page.trim() {
        "" => 1,
        p => p
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=10_000).contains(p))
            .ok_or_else(|| format!("page `{p}` is not a page number"))?,
    };
    Ok((
        CallbackQuery {
            state,
            source,
            overdue,
            limit: PAGE_SIZE,
            offset: (page - 1) * PAGE_SIZE,
        },
        page,
    ))
}

fn source_label(lang: Lang, s: CallbackSource) -> String {
    t(lang, &format!("callbacks.source.{}", s.code())).to_owned()
}

/// The milestone a rule follows, for the script and the list.
fn milestone_of(app: &App, c: &CallbackRow) -> Option<minyi_core::records::RecordAction> {
    app.config.callbacks.rule(&c.rule).map(|r| r.on)
}

fn milestone_label(lang: Lang, app: &App, c: &CallbackRow) -> String {
    match milestone_of(app, c) {
        Some(m) => t(lang, &format!("callbacks.milestone.{}", m.code())).to_owned(),
        None => c.rule.clone(),
    }
}

pub async fn list(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Q(lq): Q<ListQuery>,
) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let (q, page) = match parse_query(&lq) {
        Ok(x) => x,
        Err(m) => return respond::app_error(&ctx, AppError::Invalid(m)),
    };
    let now = chrono::Utc::now();
    let (rows, total) = match minyi_app::callbacks::worklist(&app, &p, &q, now).await {
        Ok(x) => x,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let mut body = format!(
        "<h2>{}</h2><p class=\"hint\">{}</p>",
        esc(t(lang, "callbacks.title")),
        esc(t(lang, "callbacks.intro"))
    );
    // Filters: a plain GET form, so a list can be bookmarked.
    body.push_str(&format!(
        "<form method=\"get\" action=\"/callbacks\" class=\"cb-filters\">\
         <label for=\"cb-state\">{}</label><select id=\"cb-state\" name=\"state\"><option value=\"\">{}</option>",
        esc(t(lang, "callbacks.col_state")),
        esc(t(lang, "callbacks.any"))
    ));
    for s in CallbackState::ALL {
        body.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            s.code(),
            if q.state == Some(*s) { " selected" } else { "" },
            esc(t(lang, &format!("callback_state.{}", s.code())))
        ));
    }
    body.push_str(&format!(
        "</select><label for=\"cb-source\">{}</label><select id=\"cb-source\" name=\"source\"><option value=\"\">{}</option>",
        esc(t(lang, "callbacks.col_source")),
        esc(t(lang, "callbacks.any"))
    ));
    for s in [
        CallbackSource::Incident,
        CallbackSource::Case,
        CallbackSource::Permit,
    ] {
        body.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            s.code(),
            if q.source == Some(s) { " selected" } else { "" },
            esc(&source_label(lang, s))
        ));
    }
    body.push_str(&format!(
        "</select><label><input type=\"checkbox\" name=\"overdue\" value=\"1\"{}> {}</label>\
         <button type=\"submit\">{}</button></form>",
        if q.overdue { " checked" } else { "" },
        esc(t(lang, "callbacks.overdue_only")),
        esc(t(lang, "callbacks.filter"))
    ));
    body.push_str(&format!(
        "<p>{}</p>",
        esc(&t(lang, "callbacks.count").replace("{n}", &total.to_string()))
    ));
    if rows.is_empty() {
        body.push_str(&format!("<p>{}</p>", esc(t(lang, "callbacks.empty"))));
    } else {
        body.push_str(&format!(
            "<div class=\"table-wrap\"><table class=\"cb-list\"><thead><tr>\
             <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
             <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            esc(t(lang, "callbacks.col_due")),
            esc(t(lang, "callbacks.col_source")),
            esc(t(lang, "callbacks.col_record")),
            esc(t(lang, "callbacks.col_milestone")),
            esc(t(lang, "callbacks.col_state")),
            esc(t(lang, "callbacks.col_attempts")),
            esc(t(lang, "callbacks.col_opinion")),
        ));
        for c in &rows {
            let overdue = c.state == CallbackState::Pending && c.due_at < now;
            body.push_str(&format!(
                "<tr{}><td><a href=\"/callbacks/{id}\">{}</a>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td></tr>",
                if overdue { " class=\"cb-overdue\"" } else { "" },
                local(c.due_at),
                if overdue {
                    format!(" <strong>{}</strong>", esc(t(lang, "callbacks.overdue")))
                } else {
                    String::new()
                },
                esc(&source_label(lang, c.source)),
                esc(c.external_id.as_deref().unwrap_or("")),
                esc(&milestone_label(lang, &app, c)),
                esc(t(lang, &format!("callback_state.{}", c.state.code()))),
                c.excluded_reason
                    .map(|e| format!(
                        " <small>({})</small>",
                        esc(t(lang, &format!("callbacks.exclusion.{}", e.code())))
                    ))
                    .unwrap_or_default(),
                c.attempts,
                c.opinion_code
                    .as_deref()
                    .map(|o| format!("<a href=\"/opinions/{0}\">{0}</a>", esc(o)))
                    .unwrap_or_default(),
                id = c.id,
            ));
        }
        body.push_str("</tbody></table></div>");
        let pages = (total + PAGE_SIZE - 1) / PAGE_SIZE;
        if pages > 1 {
            let link = |n: i64| {
                format!(
                    "/callbacks?state={}&source={}&overdue={}&page={n}",
                    url_encode(lq.state.trim()),
                    url_encode(lq.source.trim()),
                    if q.overdue { "1" } else { "" }
                )
            };
            body.push_str("<nav class=\"pager\">");
            if page > 1 {
                body.push_str(&format!(
                    "<a href=\"{}\">{}</a> ",
                    esc(&link(page - 1)),
                    esc(t(lang, "callbacks.prev"))
                ));
            }
            body.push_str(&format!("{page} / {pages}"));
            if page < pages {
                body.push_str(&format!(
                    " <a href=\"{}\">{}</a>",
                    esc(&link(page + 1)),
                    esc(t(lang, "callbacks.next"))
                ));
            }
            body.push_str("</nav>");
        }
    }
    respond::html(
        &ctx,
        StatusCode::OK,
        t(lang, "callbacks.title"),
        "/callbacks",
        &body,
    )
}

fn parse_id(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok().filter(|i| *i > 0)
}

pub async fn show(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = parse_id(&id) else {
        return respond::app_error(&ctx, AppError::NotFound);
    };
    render(&app, &ctx, id, None, None).await
}

/// The call script of a rule: catalogue text with the record type, the date and the
/// milestone filled in; no name, no number.
fn script(lang: Lang, app: &App, c: &CallbackRow) -> String {
    let milestone = milestone_of(app, c)
        .filter(|m| milestones_of(c.source).contains(m))
        .map(|m| m.code())
        .unwrap_or("any");
    let key = format!("callbacks.script.{}.{}", c.source.code(), milestone);
    let text = match t(lang, &key) {
        k if k == key => t(lang, "callbacks.script.generic"),
        s => s,
    };
    text.replace("{record}", &source_label(lang, c.source))
        .replace(
            "{date}",
            &c.trigger_at
                .map(|d| {
                    d.with_timezone(&minyi_core::calendar::SHANGHAI)
                        .format("%Y-%m-%d")
                        .to_string()
                })
                .unwrap_or_default(),
        )
        .replace("{milestone}", &milestone_label(lang, app, c))
        .replace("{ref}", c.external_id.as_deref().unwrap_or(""))
}

async fn render(
    app: &App,
    ctx: &Ctx,
    id: i64,
    revealed: Option<String>,
    message: Option<(&str, String)>,
) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let v = match view(app, &p, id).await {
        Ok(v) => v,
        Err(e) => return respond::app_error(ctx, e),
    };
    let c = &v.callback;
    let unit = app.store.unit(c.unit_id).await.ok().flatten();
    let mut body = format!(
        "<h2>{} {}</h2>",
        esc(t(lang, "callbacks.one_title")),
        esc(c.external_id.as_deref().unwrap_or(""))
    );
    if let Some((class, text)) = &message {
        body.push_str(&format!(
            "<div class=\"{}\" role=\"{}\"><p>{}</p></div>",
            class,
            if *class == "error-summary" {
                "alert"
            } else {
                "status"
            },
            esc(text)
        ));
    }
    body.push_str(&format!(
        "<dl class=\"facts\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>",
        esc(t(lang, "callbacks.col_source")),
        esc(&source_label(lang, c.source)),
        esc(t(lang, "callbacks.col_milestone")),
        esc(&milestone_label(lang, app, c)),
        esc(t(lang, "callbacks.col_caller")),
        esc(unit.as_ref().map(|u| u.name.as_str()).unwrap_or("")),
        esc(t(lang, "callbacks.col_due")),
        local(c.due_at),
        esc(t(lang, "callbacks.col_state")),
        esc(t(lang, &format!("callback_state.{}", c.state.code()))),
        c.excluded_reason
            .map(|e| format!(
                " ({})",
                esc(t(lang, &format!("callbacks.exclusion.{}", e.code())))
            ))
            .unwrap_or_default(),
        esc(t(lang, "callbacks.col_attempts")),
        c.attempts,
        esc(t(lang, "callbacks.next_attempt")),
        c.next_attempt_at
            .filter(|_| c.state == CallbackState::Pending)
            .map(local)
            .unwrap_or_default(),
    ));
    if let Some(code) = &c.opinion_code {
        body.push_str(&format!(
            "<dt>{}</dt><dd><a href=\"/opinions/{code}\">{code}</a></dd>",
            esc(t(lang, "callbacks.col_opinion")),
            code = esc(code)
        ));
    }
    body.push_str("</dl>");
    if c.state == CallbackState::Pending {
        body.push_str(&format!(
            "<h3>{}</h3><p class=\"cb-script\">{}</p>",
            esc(t(lang, "callbacks.script_title")),
            esc(&script(lang, app, c))
        ));
        body.push_str(&format!(
            "<h3>{}</h3><p>{} <span data-masked=\"phone\">{}</span></p>",
            esc(t(lang, "callbacks.phone_title")),
            esc(t(lang, "contact_phone")),
            esc(c.phone_masked.as_deref().unwrap_or("—"))
        ));
        if let Some(phone) = &revealed {
            body.push_str(&format!(
                "<p class=\"notice revealed\" role=\"status\">{} <strong data-revealed=\"phone\"><a href=\"tel:{1}\">{1}</a></strong></p>",
                esc(t(lang, "contact_phone")),
                esc(phone)
            ));
        } else if v.may_reveal {
            body.push_str(&format!(
                "<form method=\"post\" action=\"/callbacks/{id}/reveal\" class=\"stack narrow\">{}\
                 <label for=\"reason\">{}</label><input id=\"reason\" name=\"reason\" required minlength=\"4\" maxlength=\"200\" value=\"{}\" aria-describedby=\"reason-hint\">\
                 <p id=\"reason-hint\" class=\"hint\">{}</p><button type=\"submit\">{}</button></form>",
                csrf_field(ctx),
                esc(t(lang, "reveal_reason")),
                esc(t(lang, "callbacks.reveal_default_reason")),
                esc(t(lang, "reveal_hint")),
                esc(t(lang, "callbacks.reveal")),
            ));
        }
        if v.may_call {
            body.push_str(&format!(
                "<h3>{}</h3><form method=\"post\" action=\"/callbacks/{id}/outcome\" class=\"stack narrow cb-outcome\">{}\
                 <fieldset><legend>{}</legend>",
                esc(t(lang, "callbacks.outcome_title")),
                csrf_field(ctx),
                esc(t(lang, "callbacks.outcome")),
            ));
            for o in CallbackOutcome::ALL {
                body.push_str(&format!(
                    "<label><input type=\"radio\" name=\"outcome\" value=\"{}\" required> {}</label>",
                    o.code(),
                    esc(t(lang, &format!("callbacks.outcome.{}", o.code())))
                ));
            }
            body.push_str(&format!(
                "</fieldset><fieldset><legend>{}</legend>",
                esc(t(lang, "callbacks.verdict"))
            ));
            for v in Verdict::ALL {
                body.push_str(&format!(
                    "<label><input type=\"radio\" name=\"verdict\" value=\"{}\"> {}</label>",
                    v.code(),
                    esc(t(lang, &format!("verdict.{}", v.code())))
                ));
            }
            body.push_str(&format!(
                "</fieldset><label for=\"comment\">{}</label><textarea id=\"comment\" name=\"comment\" rows=\"4\" maxlength=\"2000\" aria-describedby=\"comment-hint\"></textarea>\
                 <p id=\"comment-hint\" class=\"hint\">{}</p><button type=\"submit\">{}</button></form>",
                esc(t(lang, "callbacks.comment")),
                esc(t(lang, "callbacks.comment_hint")),
                esc(t(lang, "callbacks.save")),
            ));
        }
    }
    if !v.attempts.is_empty() {
        body.push_str(&format!(
            "<h3>{}</h3><ol class=\"timeline\">",
            esc(t(lang, "callbacks.attempts_title"))
        ));
        for a in &v.attempts {
            body.push_str(&format!(
                "<li><time>{}</time> {} {}</li>",
                local(a.at),
                esc(t(lang, &format!("callbacks.outcome.{}", a.outcome.code()))),
                a.verdict
                    .map(|v| esc(t(lang, &format!("verdict.{}", v.code()))))
                    .unwrap_or_default()
            ));
        }
        body.push_str("</ol>");
    }
    body.push_str(&format!(
        "<p><a href=\"/callbacks\">{}</a></p>",
        esc(t(lang, "callbacks.back"))
    ));
    let path = format!("/callbacks/{id}");
    let mut resp = respond::html(
        ctx,
        StatusCode::OK,
        t(lang, "callbacks.one_title"),
        &path,
        &body,
    );
    if revealed.is_some() {
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

#[derive(serde::Deserialize)]
pub struct OutcomeForm {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    comment: String,
}

pub async fn outcome(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(f): Form<OutcomeForm>,
) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let Some(id) = parse_id(&id) else {
        return respond::app_error(&ctx, AppError::NotFound);
    };
    let Ok(outcome) = CallbackOutcome::parse(&f.outcome) else {
        return form_error(&app, &ctx, id, "callbacks.outcome_required").await;
    };
    let verdict = match f.verdict.trim() {
        "" => None,
        v => match Verdict::parse(v) {
            Ok(v) => Some(v),
            Err(_) => return form_error(&app, &ctx, id, "callbacks.verdict_required").await,
        },
    };
    let input = OutcomeInput {
        outcome,
        // A verdict ticked before the caller chose "no answer" is not the resident's.
        verdict: verdict.filter(|_| outcome == CallbackOutcome::Reached),
        comment: Some(f.comment).filter(|c| !c.trim().is_empty()),
    };
    match minyi_app::callbacks::record_outcome(&app, &p, id, input, chrono::Utc::now()).await {
        Ok(_) => Redirect::to(&format!("/callbacks/{id}")).into_response(),
        Err(AppError::Invalid(k)) if k.starts_with("callbacks.") => {
            form_error(&app, &ctx, id, &k).await
        }
        Err(AppError::Invalid(m)) => {
            let text = format!("{}: {m}", t(lang, "callbacks.invalid"));
            let mut r = render(&app, &ctx, id, None, Some(("error-summary", text))).await;
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            r
        }
        Err(e) => respond::app_error(&ctx, e),
    }
}

/// The callback's page again with the error at the top, answered 422.
async fn form_error(app: &App, ctx: &Ctx, id: i64, key: &str) -> Response {
    let text = t(ctx.lang, key).to_owned();
    let mut r = render(app, ctx, id, None, Some(("error-summary", text))).await;
    if r.status() == StatusCode::OK {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    r
}

#[derive(serde::Deserialize)]
pub struct RevealForm {
    #[serde(default)]
    reason: String,
}

pub async fn reveal(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(f): Form<RevealForm>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let Some(id) = parse_id(&id) else {
        return respond::app_error(&ctx, AppError::NotFound);
    };
    match minyi_app::callbacks::reveal_phone(&app, &p, id, &f.reason, chrono::Utc::now()).await {
        Ok(phone) => render(&app, &ctx, id, Some(phone), None).await,
        Err(AppError::Invalid(k)) if k == "reveal_reason" => {
            form_error(&app, &ctx, id, "reveal_reason_required").await
        }
        Err(e) => respond::app_error(&ctx, e),
    }
}
