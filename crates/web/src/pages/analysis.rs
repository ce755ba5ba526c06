//! Pages of the analysis workspaces: the county queue (`/analysis`: confirm, relabel,
//! merge, escalate), the city thematic workspace (`/analysis/city`: escalations, hotspots
//! with their map, trend alerts, joint assignment) and a liaison's jointly assigned
//! matters (`/analysis/joint`). Decisions and scope are `minyi_app::analysis`'s; this
//! module renders and parses forms, and must not decide who may do what.

use std::collections::HashMap;

use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minyi_app::App;
use minyi_app::analysis::{HotspotParams, HotspotReport, Relabel};
use minyi_app::handling::Refusal;
use minyi_core::taxonomy::{Category, DepartmentKind, Sentiment, Urgency};
use minyi_store::OpinionRow;

use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::{Lang, t};
use crate::respond::{self, csrf_field, local, url_encode};
use crate::svg;

/// How many matters the county queue shows.
pub const QUEUE_LIMIT: i64 = 50;

fn refused(ctx: &Ctx, key: &str) -> Response {
    let mut r = respond::app_error(
        ctx,
        minyi_app::AppError::Invalid(t(ctx.lang, key).to_owned()),
    );
    *r.status_mut() = StatusCode::CONFLICT;
    r
}

fn done(
    ctx: &Ctx,
    r: minyi_app::Result<std::result::Result<impl Sized, Refusal>>,
    back: &str,
) -> Response {
    match r {
        Ok(Ok(_)) => Redirect::to(back).into_response(),
        Ok(Err(Refusal(key))) => refused(ctx, key),
        Err(e) => respond::app_error(ctx, e),
    }
}

fn options<T: Copy + PartialEq>(
    lang: Lang,
    prefix: &str,
    all: &[T],
    code: fn(T) -> &'static str,
    chosen: Option<T>,
) -> String {
    let mut out = String::new();
    for &v in all {
        out.push_str(&format!(
            "<option value=\"{c}\"{sel}>{}</option>",
            esc(t(lang, &format!("{prefix}{}", code(v)))),
            c = code(v),
            sel = if Some(v) == chosen { " selected" } else { "" }
        ));
    }
    out
}

fn opinion_line(lang: Lang, o: &OpinionRow) -> String {
    format!(
        "<p><a href=\"/opinions/{c}\">{c}</a> · {} · {} · {}</p><p class=\"opinion-text\">{}</p>",
        local(o.received_at),
        esc(t(lang, &format!("category.{}", o.category.code()))),
        esc(t(lang, &format!("state.{}", o.state.code()))),
        esc(&o.text),
        c = esc(o.tracking_code.as_str()),
    )
}

#[derive(serde::Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    county: Option<String>,
}

/// `GET /analysis`: the county queue, least confident first, with the forms.
pub async fn county(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<QueueQuery>,
) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let queue =
        match minyi_app::analysis::county_queue(&app, &p, q.county.as_deref(), QUEUE_LIMIT).await {
            Ok(v) => v,
            Err(e) => return respond::app_error(&ctx, e),
        };
    let mut body = format!(
        "<h2>{} <small>{}</small></h2><p class=\"hint\">{}</p><p><a href=\"/analysis/city\">{}</a></p>",
        esc(t(lang, "analysis_county_title")),
        esc(&queue.scope.name),
        esc(t(lang, "analysis_county_hint")),
        esc(t(lang, "analysis_city_title")),
    );
    if queue.counties.len() > 1 {
        body.push_str(&format!("<form method=\"get\" action=\"/analysis\"><label>{} <select name=\"county\"><option value=\"\">—</option>", esc(t(lang, "analysis_pick_county"))));
        for c in &queue.counties {
            body.push_str(&format!(
                "<option value=\"{}\"{}>{}</option>",
                esc(c.code.as_str()),
                if c.id == queue.scope.id {
                    " selected"
                } else {
                    ""
                },
                esc(&c.name)
            ));
        }
        body.push_str(&format!(
            "</select></label> <button type=\"submit\">{}</button></form>",
            esc(t(lang, "analysis_show"))
        ));
    }
    if queue.items.is_empty() {
        body.push_str(&format!("<p>{}</p>", esc(t(lang, "analysis_queue_empty"))));
    }
    for item in &queue.items {
        let o = &item.opinion;
        let code = url_encode(o.tracking_code.as_str());
        let confidence = item.triage.as_ref().map_or("—".to_owned(), |tr| {
            format!("{:.0}%", tr.confidence_permille as f64 / 10.0)
        });
        body.push_str(&format!(
            "<article class=\"analysis-item\" data-opinion=\"{}\">{}<p>{} {} · {} {} · {} {}{}</p>",
            esc(o.tracking_code.as_str()),
            opinion_line(lang, o),
            esc(t(lang, "analysis_confidence")),
            confidence,
            esc(t(lang, "triage.sentiment")),
            esc(t(lang, &format!("triage.sentiment.{}", o.sentiment.code()))),
            esc(t(lang, "triage.urgency")),
            esc(t(lang, &format!("urgency.{}", o.urgency.code()))),
            if item.needs_analyst {
                format!(
                    " · <strong class=\"needs-analyst\">{}</strong>",
                    esc(t(lang, "analysis_needs_analyst"))
                )
            } else {
                String::new()
            }
        ));
        body.push_str(&format!(
            "<form method=\"post\" action=\"/analysis/opinions/{code}/confirm\" class=\"inline\">{}<button type=\"submit\">{}</button></form>",
            csrf_field(&ctx),
            esc(t(lang, "analysis_confirm"))
        ));
        body.push_str(&format!(
            "<form method=\"post\" action=\"/analysis/opinions/{code}/relabel\">{}\
             <label>{} <select name=\"category\">{}</select></label> \
             <label>{} <select name=\"sentiment\">{}</select></label> \
             <label>{} <select name=\"urgency\">{}</select></label> \
             <label>{} <select name=\"department\"><option value=\"\">—</option>{}</select></label> \
             <button type=\"submit\">{}</button></form>",
            csrf_field(&ctx),
            esc(t(lang, "analysis_category")),
            options(lang, "category.", Category::ALL, Category::code, Some(o.category)),
            esc(t(lang, "triage.sentiment")),
            options(lang, "triage.sentiment.", Sentiment::ALL, Sentiment::code, Some(o.sentiment)),
            esc(t(lang, "triage.urgency")),
            options(lang, "urgency.", Urgency::ALL, Urgency::code, Some(o.urgency)),
            esc(t(lang, "triage.department")),
            options(lang, "triage.department.", DepartmentKind::ALL, DepartmentKind::code, o.department),
            esc(t(lang, "analysis_relabel")),
        ));
        for v in &item.proposals {
            let other = if v.duplicate.id == o.id {
                &v.primary
            } else {
                &v.duplicate
            };
            body.push_str(&format!(
                "<p class=\"merge-inline\">{} <a href=\"/opinions/{c}\">{c}</a> {:.0}% — {}</p>",
                esc(t(lang, "analysis_proposal")),
                v.proposal.score_permille as f64 / 10.0,
                esc(&other.text),
                c = esc(other.tracking_code.as_str())
            ));
            for (decision, key) in [("accept", "merge.accept"), ("reject", "merge.reject")] {
                body.push_str(&format!(
                    "<form method=\"post\" action=\"/opinions/{code}/merge\" class=\"inline\">{}\
                     <input type=\"hidden\" name=\"proposal\" value=\"{}\">\
                     <input type=\"hidden\" name=\"decision\" value=\"{decision}\">\
                     <button type=\"submit\">{}</button></form> ",
                    csrf_field(&ctx),
                    v.proposal.id,
                    esc(t(lang, key))
                ));
            }
        }
        body.push_str(&format!(
            "<form method=\"post\" action=\"/analysis/opinions/{code}/merge\">{}\
             <label>{} <input name=\"primary\" size=\"14\"></label> <button type=\"submit\">{}</button></form>",
            csrf_field(&ctx),
            esc(t(lang, "analysis_merge_into")),
            esc(t(lang, "analysis_merge")),
        ));
        if !p.scope_is_city {
            body.push_str(&format!(
                "<form method=\"post\" action=\"/analysis/opinions/{code}/escalate\">{}\
                 <label>{} <input name=\"reason\" size=\"40\" required></label> <button type=\"submit\">{}</button></form>",
                csrf_field(&ctx),
                esc(t(lang, "analysis_reason")),
                esc(t(lang, "analysis_escalate")),
            ));
        }
        body.push_str("</article>");
    }
    respond::html(
        &ctx,
        StatusCode::OK,
        t(lang, "analysis_county_title"),
        "/analysis",
        &body,
    )
}

/// Where a form on the queue goes back to.
const BACK: &str = "/analysis";

/// `POST /analysis/opinions/{code}/confirm`.
pub async fn confirm(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let r = minyi_app::analysis::confirm(&app, &p, &code, chrono::Utc::now()).await;
    done(&ctx, r, BACK)
}

#[derive(serde::Deserialize)]
pub struct RelabelForm {
    #[serde(default)]
    category: String,
    #[serde(default)]
    sentiment: String,
    #[serde(default)]
    urgency: String,
    #[serde(default)]
    department: String,
}

/// `POST /analysis/opinions/{code}/relabel`: every label must be a known code.
pub async fn relabel(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Form(f): Form<RelabelForm>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let bad = || {
        respond::app_error(
            &ctx,
            minyi_app::AppError::Invalid(t(ctx.lang, "analysis_bad_labels").to_owned()),
        )
    };
    let (Ok(category), Ok(sentiment), Ok(urgency)) = (
        Category::parse(f.category.trim()),
        Sentiment::parse(f.sentiment.trim()),
        Urgency::parse(f.urgency.trim()),
    ) else {
        return bad();
    };
    let department = match f.department.trim() {
        "" => None,
        d => match DepartmentKind::parse(d) {
            Ok(d) => Some(d),
            Err(_) => return bad(),
        },
    };
    let new = Relabel {
        category,
        sentiment,
        urgency,
        department,
    };
    let r = minyi_app::analysis::relabel(&app, &p, &code, new, chrono::Utc::now()).await;
    done(&ctx, r, BACK)
}

#[derive(serde::Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
}

/// `POST /analysis/opinions/{code}/escalate`.
pub async fn escalate(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Form(f): Form<ReasonForm>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let r = minyi_app::analysis::escalate(&app, &p, &code, &f.reason, chrono::Utc::now()).await;
    done(&ctx, r, BACK)
}

#[derive(serde::Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    primary: String,
}

/// `POST /analysis/opinions/{code}/merge`: merge this matter into the one named.
pub async fn merge(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Form(f): Form<MergeForm>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let r =
        minyi_app::analysis::merge_two(&app, &p, &code, f.primary.trim(), chrono::Utc::now()).await;
    done(&ctx, r, BACK)
}

#[derive(serde::Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

/// `POST /analysis/opinions/{code}/decide`: accept an escalation or return it.
pub async fn decide(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Form(f): Form<DecideForm>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let accept = match f.decision.trim() {
        "accept" => true,
        "return" => false,
        _ => {
            return respond::app_error(
                &ctx,
                minyi_app::AppError::Invalid(t(ctx.lang, "analysis_bad_decision").to_owned()),
            );
        }
    };
    let r = minyi_app::analysis::decide_escalation(
        &app,
        &p,
        &code,
        accept,
        &f.note,
        chrono::Utc::now(),
    )
    .await;
    done(&ctx, r, "/analysis/city")
}

/// `POST /analysis/opinions/{code}/assign`: departments are checkboxes
/// `department.CODE`; the note says what each should do.
pub async fn assign(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let mut codes: Vec<String> = f
        .keys()
        .filter_map(|k| k.strip_prefix("department."))
        .map(str::to_owned)
        .collect();
    codes.sort();
    let note = f.get("note").map(String::as_str).unwrap_or("");
    let r = minyi_app::analysis::assign_jointly(&app, &p, &code, &codes, note, chrono::Utc::now())
        .await;
    done(&ctx, r, "/analysis/city")
}

#[derive(serde::Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    reply: String,
}

/// `POST /analysis/opinions/{code}/reply`: a liaison answers for its department's part.
pub async fn reply(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let r = minyi_app::analysis::joint_reply(&app, &p, &code, &f.reply, chrono::Utc::now()).await;
    done(&ctx, r, "/analysis/joint")
}

/// `GET /analysis/joint`: a liaison's jointly assigned matters with the reply forms.
pub async fn joint(State(app): State<App>, Extension(ctx): Extension<Ctx>) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let items = match minyi_app::analysis::joint_queue(&app, &p, 100).await {
        Ok(v) => v,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let mut body = format!("<h2>{}</h2>", esc(t(lang, "analysis_joint_title")));
    if items.is_empty() {
        body.push_str(&format!("<p>{}</p>", esc(t(lang, "analysis_joint_empty"))));
    }
    for (j, o) in &items {
        body.push_str(&format!(
            "<article class=\"joint\" data-opinion=\"{}\" data-reply-state=\"{}\">{}<p>{} {}</p>",
            esc(o.tracking_code.as_str()),
            esc(&j.reply_state),
            opinion_line(lang, o),
            esc(t(lang, "analysis_joint_note")),
            esc(&j.note)
        ));
        match &j.reply {
            Some(r) => body.push_str(&format!("<p>{} {}</p>", esc(t(lang, "analysis_joint_reply")), esc(r))),
            None => body.push_str(&format!(
                "<form method=\"post\" action=\"/analysis/opinions/{}/reply\">{}\
                 <label>{} <input name=\"reply\" size=\"40\" required></label> <button type=\"submit\">{}</button></form>",
                url_encode(o.tracking_code.as_str()),
                csrf_field(&ctx),
                esc(t(lang, "analysis_joint_reply")),
                esc(t(lang, "analysis_send")),
            )),
        }
        body.push_str("</article>");
    }
    respond::html(
        &ctx,
        StatusCode::OK,
        t(lang, "analysis_joint_title"),
        "/analysis/joint",
        &body,
    )
}

fn hotspot_section(lang: Lang, r: &HotspotReport) -> String {
    let mut out = format!(
        "<section class=\"hotspots\"><h3>{}</h3><p class=\"hint\">{}</p>",
        esc(t(lang, "analysis_hotspots")),
        esc(&t(lang, "analysis_hotspots_hint")
            .replace("{from}", &r.first_day.to_string())
            .replace("{to}", &r.last_day.to_string())
            .replace("{villages}", &r.villages.to_string())
            .replace("{unplaced}", &r.unplaced.to_string()))
    );
    if r.hotspots.is_empty() {
        out.push_str(&format!("<p>{}</p>", esc(t(lang, "analysis_no_hotspots"))));
    } else {
        let lat0 = r.hotspots.iter().map(|h| h.centre.lat).sum::<f64>() / r.hotspots.len() as f64;
        let labels: Vec<String> = r
            .hotspots
            .iter()
            .map(|h| {
                format!(
                    "{} · {} · {}/{:.1}",
                    t(lang, &format!("category.{}", h.category.code())),
                    h.centre.name,
                    h.observed,
                    h.expected
                )
            })
            .collect();
        let hrefs: Vec<String> = r
            .hotspots
            .iter()
            .map(|h| format!("/areas/{}", url_encode(&h.centre.code)))
            .collect();
        let points: Vec<svg::Point> = r
            .hotspots
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let (x, y) = svg::project(h.centre.lon, h.centre.lat, lat0);
                svg::Point {
                    x,
                    y,
                    label: &labels[i],
                    href: Some(&hrefs[i]),
                }
            })
            .collect();
        out.push_str(&svg::choropleth(
            "analysis-hotspots",
            t(lang, "analysis_hotspots"),
            t(lang, "analysis_hotspots_map"),
            &[],
            &points,
            t(lang, "analysis_hotspots"),
            t(lang, "chart_no_data"),
        ));
        out.push_str(&format!(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            esc(t(lang, "analysis_category")),
            esc(t(lang, "analysis_villages")),
            esc(t(lang, "analysis_days")),
            esc(t(lang, "analysis_observed")),
            esc(t(lang, "analysis_expected")),
            esc(t(lang, "analysis_p_value")),
            esc(t(lang, "analysis_opinions")),
        ));
        for h in &r.hotspots {
            let villages: Vec<&str> = h.villages.iter().map(|v| v.name.as_str()).collect();
            let links: Vec<String> = h
                .opinion_codes
                .iter()
                .take(20)
                .map(|c| format!("<a href=\"/opinions/{c}\">{c}</a>", c = esc(c)))
                .collect();
            out.push_str(&format!(
                "<tr data-category=\"{}\"><td>{}</td><td>{}</td><td>{} – {}</td><td>{}</td><td>{:.1}</td><td>{:.3}</td><td>{}{}</td></tr>",
                h.category.code(),
                esc(t(lang, &format!("category.{}", h.category.code()))),
                esc(&villages.join("、")),
                h.first_day,
                h.last_day,
                h.observed,
                h.expected,
                h.p_value,
                links.join(" "),
                if h.opinion_codes.len() > 20 { " …" } else { "" }
            ));
        }
        out.push_str("</tbody></table>");
    }
    out.push_str(&format!("<h3>{}</h3>", esc(t(lang, "analysis_trends"))));
    if r.trend_alerts.is_empty() {
        out.push_str(&format!("<p>{}</p>", esc(t(lang, "analysis_no_trends"))));
    } else {
        out.push_str(&format!(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            esc(t(lang, "analysis_unit")),
            esc(t(lang, "analysis_category")),
            esc(t(lang, "analysis_since")),
            esc(t(lang, "analysis_last_week")),
            esc(t(lang, "analysis_cusum")),
            esc(t(lang, "analysis_ewma")),
        ));
        for a in &r.trend_alerts {
            out.push_str(&format!(
                "<tr><td><a href=\"/units/{}\">{}</a></td><td>{}</td><td>{}</td><td>{} ({:.2}/d)</td><td>{:.1} / {:.1}</td><td>{:.2} / {:.2}</td></tr>",
                url_encode(&a.unit_code),
                esc(&a.unit_name),
                esc(t(lang, &format!("category.{}", a.category.code()))),
                a.since,
                a.last_week,
                a.baseline_mean,
                a.cusum,
                a.cusum_threshold,
                a.ewma,
                a.ewma_limit
            ));
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
    out
}

/// `GET /analysis/city`: escalations with the decision and joint-assignment forms, then
/// hotspots and trend alerts of the principal's area (the city, or a county analyst's
/// own county).
pub async fn city(State(app): State<App>, Extension(ctx): Extension<Ctx>) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let ws = match minyi_app::analysis::city_workspace(&app, &p, 100).await {
        Ok(v) => v,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let mut body = format!(
        "<h2>{}</h2><p><a href=\"/analysis\">{}</a></p><section class=\"escalations\"><h3>{}</h3>",
        esc(t(lang, "analysis_city_title")),
        esc(t(lang, "analysis_county_title")),
        esc(t(lang, "analysis_escalations")),
    );
    if ws.escalations.is_empty() {
        body.push_str(&format!(
            "<p>{}</p>",
            esc(t(lang, "analysis_no_escalations"))
        ));
    }
    let may_decide = p.role == minyi_core::access::Role::CityAnalyst && p.scope_is_city;
    for v in &ws.escalations {
        let e = &v.escalation;
        let code = url_encode(v.opinion.tracking_code.as_str());
        body.push_str(&format!(
            "<article class=\"escalation\" data-opinion=\"{}\" data-state=\"{}\">{}<p>{} {} · {} · {}</p>",
            esc(v.opinion.tracking_code.as_str()),
            esc(&e.state),
            opinion_line(lang, &v.opinion),
            esc(t(lang, "analysis_from")),
            esc(v.from_unit.as_ref().map_or("", |u| u.name.as_str())),
            esc(&e.reason),
            esc(t(lang, &format!("analysis_state_{}", e.state))),
        ));
        if let Some(n) = &e.note {
            body.push_str(&format!(
                "<p>{} {}</p>",
                esc(t(lang, "analysis_note")),
                esc(n)
            ));
        }
        for (j, u) in &v.joint {
            body.push_str(&format!(
                "<p class=\"joint-part\" data-reply-state=\"{}\">{} · {}{}</p>",
                esc(&j.reply_state),
                esc(u.as_ref().map_or("", |u| u.name.as_str())),
                esc(t(lang, &format!("analysis_reply_{}", j.reply_state))),
                j.reply
                    .as_ref()
                    .map_or(String::new(), |r| format!(" — {}", esc(r)))
            ));
        }
        if may_decide && e.state == "pending" {
            for (d, key) in [("accept", "analysis_accept"), ("return", "analysis_return")] {
                body.push_str(&format!(
                    "<form method=\"post\" action=\"/analysis/opinions/{code}/decide\" class=\"inline\">{}\
                     <input type=\"hidden\" name=\"decision\" value=\"{d}\">\
                     <label>{} <input name=\"note\" size=\"30\"></label> <button type=\"submit\">{}</button></form> ",
                    csrf_field(&ctx),
                    esc(t(lang, "analysis_note")),
                    esc(t(lang, key))
                ));
            }
        }
        if may_decide && !ws.departments.is_empty() {
            body.push_str(&format!("<form method=\"post\" action=\"/analysis/opinions/{code}/assign\">{}<fieldset><legend>{}</legend>", csrf_field(&ctx), esc(t(lang, "analysis_assign"))));
            for d in &ws.departments {
                body.push_str(&format!(
                    "<label><input type=\"checkbox\" name=\"department.{}\" value=\"1\"> {}</label> ",
                    esc(d.code.as_str()),
                    esc(&d.name)
                ));
            }
            body.push_str(&format!(
                "<label>{} <input name=\"note\" size=\"40\" required></label> <button type=\"submit\">{}</button></fieldset></form>",
                esc(t(lang, "analysis_note")),
                esc(t(lang, "analysis_assign"))
            ));
        }
        body.push_str("</article>");
    }
    body.push_str("</section>");
    match minyi_app::analysis::hotspots(
        &app,
        &p.unit_code,
        &HotspotParams::default(),
        chrono::Utc::now(),
    )
    .await
    {
        Ok(r) => body.push_str(&hotspot_section(lang, &r)),
        Err(minyi_app::AppError::Invalid(_)) => {}
        Err(e) => return respond::app_error(&ctx, e),
    }
    respond::html(
        &ctx,
        StatusCode::OK,
        t(lang, "analysis_city_title"),
        "/analysis/city",
        &body,
    )
}
