//! Triage and near-duplicate pages: on a matter's page, what the classifier said and why,
//! and the merge proposals naming the matter with both texts side by side and accept /
//! reject forms; the one route those forms post to; and an analyst's list of open
//! proposals in their subtree (`/merges`). Decisions are the app's (`minyi_app::merge`);
//! this module only renders and parses.

use axum::extract::{Extension, Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minyi_app::App;
use minyi_app::auth::Principal;
use minyi_app::handling::Refusal;
use minyi_app::merge::{Decision, ProposalView};
use minyi_core::access::{Permission, Role};
use minyi_store::{OpinionRow, ProposalState};

use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::{Lang, t};
use crate::respond::{self, csrf_field, local, url_encode};

/// How many open proposals the list shows.
pub const LIST_LIMIT: i64 = 100;

/// The block on a matter's page: triage record and merge proposals. Empty when there is
/// nothing to show; a read error shows as a short notice rather than breaking the page.
pub async fn block(app: &App, ctx: &Ctx, p: &Principal, o: &OpinionRow) -> String {
    let lang = ctx.lang;
    let mut out = String::new();
    match app.store.triage_of(o.id).await {
        Ok(Some(tr)) => out.push_str(&triage_block(lang, o, &tr)),
        Ok(None) => {}
        Err(_) => out.push_str(&format!(
            "<p class=\"notice\">{}</p>",
            esc(t(lang, "merge.unavailable"))
        )),
    }
    match minyi_app::merge::proposals_for(app, p, o).await {
        Ok(views) if !views.is_empty() => {
            out.push_str(&format!(
                "<section class=\"merge\"><h3>{}</h3>",
                esc(t(lang, "merge.title"))
            ));
            let may_decide = p.may(Permission::HandleOpinions)
                && matches!(p.role, Role::CountyAnalyst | Role::CityAnalyst);
            for v in &views {
                out.push_str(&pair(ctx, v, &o.tracking_code.to_string(), may_decide));
            }
            out.push_str("</section>");
        }
        Ok(_) => {}
        Err(_) => out.push_str(&format!(
            "<p class=\"notice\">{}</p>",
            esc(t(lang, "merge.unavailable"))
        )),
    }
    out
}

fn triage_block(lang: Lang, o: &OpinionRow, tr: &minyi_store::TriageRecord) -> String {
    let mut facts = vec![
        (
            "triage.source",
            esc(t(lang, &format!("triage.source.{}", tr.source))),
        ),
        (
            "triage.suggested",
            esc(t(lang, &format!("category.{}", tr.category.code()))),
        ),
        (
            "triage.confidence",
            format!("{:.0}%", tr.confidence_permille as f64 / 10.0),
        ),
        (
            "triage.sentiment",
            esc(t(
                lang,
                &format!("triage.sentiment.{}", tr.sentiment.code()),
            )),
        ),
        (
            "triage.urgency",
            esc(t(lang, &format!("urgency.{}", tr.urgency.code()))),
        ),
        (
            "triage.police",
            esc(t(
                lang,
                if tr.police {
                    "triage.police.yes"
                } else {
                    "triage.police.no"
                },
            )),
        ),
    ];
    if let Some(d) = tr.department {
        facts.push((
            "triage.department",
            esc(t(lang, &format!("triage.department.{}", d.code()))),
        ));
    }
    let mut out = format!(
        "<section class=\"triage\" data-triage-source=\"{}\"><h3>{}</h3><dl class=\"facts\">",
        esc(&tr.source),
        esc(t(lang, "triage.title"))
    );
    for (k, v) in facts {
        out.push_str(&format!("<dt>{}</dt><dd>{v}</dd>", esc(t(lang, k))));
    }
    out.push_str(&format!(
        "<dt>{}</dt><dd class=\"triage-why\">{}</dd></dl>",
        esc(t(lang, "triage.explanation")),
        esc(&tr.explanation)
    ));
    if tr.overridden && tr.category != o.category {
        out.push_str(&format!(
            "<p class=\"notice\">{}</p>",
            esc(t(lang, "triage.sender_kept"))
        ));
    }
    if tr.needs_review {
        out.push_str(&format!(
            "<p class=\"notice triage-review\">{}</p>",
            esc(t(lang, "triage.needs_review"))
        ));
    }
    out.push_str("</section>");
    out
}

fn side(lang: Lang, heading: &str, o: &OpinionRow) -> String {
    format!(
        "<div class=\"merge-side\"><h4>{} <a href=\"/opinions/{c}\">{c}</a></h4>\
         <p class=\"hint\">{} · {} · {}</p><p class=\"opinion-text\">{}</p></div>",
        esc(t(lang, heading)),
        local(o.received_at),
        esc(t(lang, &format!("channel.{}", o.channel.code()))),
        esc(t(lang, &format!("state.{}", o.state.code()))),
        esc(&o.text),
        c = esc(o.tracking_code.as_str()),
    )
}

/// One proposal: both texts side by side, the score, and the forms when undecided.
fn pair(ctx: &Ctx, v: &ProposalView, page_code: &str, may_decide: bool) -> String {
    let lang = ctx.lang;
    let pr = &v.proposal;
    let mut out = format!(
        "<article class=\"merge-pair\" data-proposal=\"{}\" data-state=\"{}\"><p>{} {:.0}% · {}</p><div class=\"merge-sides\">{}{}</div>",
        pr.id,
        pr.state.code(),
        esc(t(lang, "merge.similarity")),
        pr.score_permille as f64 / 10.0,
        esc(t(lang, &format!("merge.state.{}", pr.state.code()))),
        side(lang, "merge.duplicate", &v.duplicate),
        side(lang, "merge.primary", &v.primary),
    );
    let open = pr.state == ProposalState::Proposed
        && minyi_store::MERGEABLE.contains(&v.duplicate.state)
        && v.primary.state.is_open();
    if open && may_decide {
        for (decision, key) in [("accept", "merge.accept"), ("reject", "merge.reject")] {
            out.push_str(&format!(
                "<form method=\"post\" action=\"/opinions/{}/merge\" class=\"inline\">{}\
                 <input type=\"hidden\" name=\"proposal\" value=\"{}\">\
                 <input type=\"hidden\" name=\"decision\" value=\"{decision}\">\
                 <button type=\"submit\">{}</button></form> ",
                esc(page_code),
                csrf_field(ctx),
                pr.id,
                esc(t(lang, key))
            ));
        }
    }
    out.push_str("</article>");
    out
}

#[derive(serde::Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    proposal: String,
    #[serde(default)]
    decision: String,
}

/// `POST /opinions/{code}/merge`: accept or reject one proposal naming this matter.
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
    let refused = |key: &str| {
        let mut r = respond::app_error(
            &ctx,
            minyi_app::AppError::Invalid(t(ctx.lang, key).to_owned()),
        );
        *r.status_mut() = StatusCode::CONFLICT;
        r
    };
    let Some(decision) = Decision::parse(&f.decision) else {
        return respond::app_error(
            &ctx,
            minyi_app::AppError::Invalid(t(ctx.lang, "merge.bad_decision").to_owned()),
        );
    };
    // An id that is not a number names no proposal of this matter: the same answer as a
    // foreign one, after the matter itself has been checked by the app.
    let id: i64 = f.proposal.trim().parse().unwrap_or(0);
    match minyi_app::merge::decide(&app, &p, &code, id, decision, chrono::Utc::now()).await {
        Ok(Ok(_)) => {
            Redirect::to(&format!("/opinions/{}", url_encode(code.trim()))).into_response()
        }
        Ok(Err(Refusal(key))) => refused(key),
        Err(e) => respond::app_error(&ctx, e),
    }
}

/// `GET /merges`: the open proposals in the principal's subtree, newest first.
pub async fn list(State(app): State<App>, Extension(ctx): Extension<Ctx>) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let views = match minyi_app::merge::open_in_scope(&app, &p, LIST_LIMIT).await {
        Ok(v) => v,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let mut body = format!(
        "<h2>{}</h2><p class=\"hint\">{}</p>",
        esc(t(lang, "merge.list_title")),
        esc(t(lang, "merge.list_hint"))
    );
    if views.is_empty() {
        body.push_str(&format!("<p>{}</p>", esc(t(lang, "merge.none"))));
    }
    let may_decide = p.may(Permission::HandleOpinions)
        && matches!(p.role, Role::CountyAnalyst | Role::CityAnalyst);
    for v in &views {
        body.push_str(&pair(
            &ctx,
            v,
            &v.duplicate.tracking_code.to_string(),
            may_decide,
        ));
    }
    respond::html(
        &ctx,
        StatusCode::OK,
        t(lang, "merge.list_title"),
        "/merges",
        &body,
    )
}
