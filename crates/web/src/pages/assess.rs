//! Pages of the assessment: ranking, explanations, what-if, sensitivity, appeals, XLSX and print.
//!
//! Thin on purpose: runs, reruns and appeals are `minyi_app::assess` (stored, audited,
//! permission-checked there); scores, what-if and sensitivity are the pure
//! `minyi-assess` crate. This module reads forms and query strings, checks that a unit
//! named in the path lies in the caller's scope, and renders (`view`, `chart`, `xlsx`).
//! It must not compute scores itself or change a stored run.

mod chart;
pub mod view;
pub mod xlsx;

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Extension, Form, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minyi_app::assess::StoredRun;
use minyi_app::auth::Principal;
use minyi_app::{App, AppError};
use minyi_assess::{SensitivitySettings, WeightChange};
use minyi_core::access::{Permission, Role};

use crate::extract::Q;
use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::{Lang, t};
use crate::respond::{self, csrf_field, local};
use view::{Names, group_label, indicator_label, num, pct, pts};

const CSS: &str = include_str!("../../assets/assess.css");

/// The report's stylesheet (A4 print rules); served beside minyi.css.
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

/// A page in the frame with the assessment stylesheet (outcome colours, print rules).
fn page(ctx: &Ctx, status: StatusCode, title: &str, path: &str, body: &str) -> Response {
    let body = format!("<link rel=\"stylesheet\" href=\"/assets/assess.css\">{body}");
    respond::html(ctx, status, title, path, &body)
}

// The error is the finished response the handler returns at once, as in `guard`.
#[allow(clippy::result_large_err)]
fn principal(ctx: &Ctx) -> Result<Principal, Response> {
    ctx.principal().cloned()
}

fn parse_id(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok().filter(|i| *i > 0)
}

/// An optional number from a query field: empty is "none", anything else must be an id
/// (`not_an_id` words the refusal).
fn optional_id(field: &str, not_an_id: fn(&str) -> String) -> Result<Option<i64>, AppError> {
    match field.trim() {
        "" => Ok(None),
        s => parse_id(s)
            .map(Some)
            .ok_or_else(|| AppError::Invalid(not_an_id(s))),
    }
}

async fn names(app: &App) -> Result<Names, AppError> {
    Ok(Names::from_units(&app.store.units().await?))
}

/// The run named in the path, or the 404 page.
async fn load(app: &App, ctx: &Ctx, id: &str) -> Result<StoredRun, Response> {
    let Some(id) = parse_id(id) else {
        return Err(respond::app_error(ctx, AppError::NotFound));
    };
    minyi_app::assess::get(app, id)
        .await
        .map_err(|e| respond::app_error(ctx, e))
}

/// Unit codes the caller may open explanations of (their scope).
async fn in_scope_codes(app: &App, p: &Principal) -> Result<BTreeSet<String>, AppError> {
    Ok(app
        .store
        .units()
        .await?
        .into_iter()
        .filter(|u| p.scope.contains(u.id))
        .map(|u| u.code.as_str().to_owned())
        .collect())
}

fn hashes(lang: Lang, run: &StoredRun) -> String {
    format!(
        "<dl class=\"facts assess-hashes\"><dt>{}</dt><dd>{} · {}</dd><dt>{}</dt><dd><code>{}</code></dd>\
         <dt>{}</dt><dd><code id=\"input-hash\">{}</code></dd><dt>{}</dt><dd><code id=\"result-hash\">{}</code></dd>\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{} · {}</dd>{}</dl>",
        esc(t(lang, "assess.scheme")),
        esc(&run.scheme.id),
        esc(&run.scheme.version),
        esc(t(lang, "assess.scheme_hash")),
        esc(&run.record.scheme_hash),
        esc(t(lang, "assess.input_hash")),
        esc(&run.record.input_hash),
        esc(t(lang, "assess.result_hash")),
        esc(&run.record.result_hash),
        esc(t(lang, "assess.period")),
        esc(&run.period),
        esc(t(lang, "assess.created")),
        local(run.created_at),
        esc(&run.created_by),
        match run.parent {
            Some(parent) => format!(
                "<dt>{}</dt><dd><a href=\"/assessment/runs/{parent}\">#{parent}</a> — {}</dd>",
                esc(t(lang, "assess.parent")),
                esc(run.reason.as_deref().unwrap_or(""))
            ),
            None => String::new(),
        }
    )
}

fn run_links(lang: Lang, id: i64) -> String {
    format!(
        "<p class=\"assess-links\"><a href=\"/assessment/runs/{id}\">{}</a> · <a href=\"/assessment/runs/{id}/whatif\">{}</a> · \
         <a href=\"/assessment/runs/{id}/sensitivity\">{}</a> · <a href=\"/assessment/runs/{id}/report\">{}</a> · \
         <a href=\"/assessment/runs/{id}.xlsx\" download>{}</a> · <a href=\"/assessment/appeals?run={id}\">{}</a></p>",
        esc(t(lang, "assess.link_ranking")),
        esc(t(lang, "assess.link_whatif")),
        esc(t(lang, "assess.link_sensitivity")),
        esc(t(lang, "assess.link_report")),
        esc(t(lang, "assess.link_xlsx")),
        esc(t(lang, "assess.link_appeals")),
    )
}

/// The ranking of a stored run; the ranking is published to every viewer, the
/// explanations follow the unit tree, so only units in the caller's scope are linked.
fn ranking(lang: Lang, run: &StoredRun, names: &Names, scope: &BTreeSet<String>) -> String {
    let links = view::Links {
        run: run.id,
        units: scope,
    };
    view::ranking_table(lang, &run.result, names, Some(&links))
}

/// `/assessment`: runs, the latest run's ranking and (for analysts) the form to start one.
pub async fn index(State(app): State<App>, Extension(ctx): Extension<Ctx>) -> Response {
    let lang = ctx.lang;
    let p = match principal(&ctx) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let runs = match minyi_app::assess::list(&app).await {
        Ok(r) => r,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let mut body = format!(
        "<h2>{}</h2><p class=\"hint\">{}</p><p><a href=\"/assessment/appeals\">{}</a></p>",
        esc(t(lang, "assess.title")),
        esc(t(lang, "assess.intro")),
        esc(t(lang, "assess.link_appeals")),
    );
    if p.may(Permission::RunAssessment) {
        let year = chrono::Utc::now()
            .with_timezone(&minyi_core::calendar::SHANGHAI)
            .format("%Y")
            .to_string();
        body.push_str(&format!(
            "<form method=\"post\" action=\"/assessment/runs\" class=\"assess-start\">{}\
             <h3>{}</h3><label for=\"as-period\">{}</label><input id=\"as-period\" name=\"period\" value=\"{}\" required>\
             <label for=\"as-scheme\">{}</label><textarea id=\"as-scheme\" name=\"scheme\" rows=\"4\" placeholder=\"{}\"></textarea>\
             <button type=\"submit\">{}</button></form>",
            csrf_field(&ctx),
            esc(t(lang, "assess.start_title")),
            esc(t(lang, "assess.period")),
            esc(&year),
            esc(t(lang, "assess.scheme_text")),
            esc(t(lang, "assess.scheme_default_hint")),
            esc(t(lang, "assess.start")),
        ));
    }
    if runs.is_empty() {
        body.push_str(&format!("<p>{}</p>", esc(t(lang, "assess.no_runs"))));
        return page(
            &ctx,
            StatusCode::OK,
            t(lang, "assess.title"),
            "/assessment",
            &body,
        );
    }
    body.push_str(&format!(
        "<h3>{}</h3><div class=\"table-wrap\"><table class=\"assess-runs\"><thead><tr><th scope=\"col\">#</th><th scope=\"col\">{}</th>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(t(lang, "assess.runs")),
        esc(t(lang, "assess.period")),
        esc(t(lang, "assess.scheme")),
        esc(t(lang, "assess.created")),
        esc(t(lang, "assess.parent")),
        esc(t(lang, "assess.result_hash")),
    ));
    for r in &runs {
        body.push_str(&format!(
            "<tr><td><a href=\"/assessment/runs/{id}\">#{id}</a></td><td>{}</td><td>{} · {}</td><td>{} · {}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&r.period),
            esc(&r.scheme_id),
            esc(&r.scheme_version),
            local(r.created_at),
            esc(&r.created_by),
            match r.parent_id {
                Some(pid) => format!(
                    "<a href=\"/assessment/runs/{pid}\">#{pid}</a> {}",
                    esc(r.reason.as_deref().unwrap_or(""))
                ),
                None => String::new(),
            },
            esc(r.result_hash.get(..12).unwrap_or(&r.result_hash)),
            id = r.id,
        ));
    }
    body.push_str("</tbody></table></div>");
    let latest = match runs.iter().max_by_key(|r| (r.created_at, r.id)) {
        Some(r) => r.id,
        None => {
            return page(
                &ctx,
                StatusCode::OK,
                t(lang, "assess.title"),
                "/assessment",
                &body,
            );
        }
    };
    let run = match minyi_app::assess::get(&app, latest).await {
        Ok(r) => r,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let (names, scope) = match (names(&app).await, in_scope_codes(&app, &p).await) {
        (Ok(n), Ok(s)) => (n, s),
        (Err(e), _) | (_, Err(e)) => return respond::app_error(&ctx, e),
    };
    body.push_str(&format!(
        "<h3>{}</h3>{}{}",
        esc(&t(lang, "assess.latest").replace("{id}", &run.id.to_string())),
        run_links(lang, run.id),
        ranking(lang, &run, &names, &scope)
    ));
    page(
        &ctx,
        StatusCode::OK,
        t(lang, "assess.title"),
        "/assessment",
        &body,
    )
}

#[derive(serde::Deserialize)]
pub struct StartForm {
    #[serde(default)]
    period: String,
    #[serde(default)]
    scheme: String,
}

/// Starts a run: the default scheme unless scheme text is pasted.
pub async fn start(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<StartForm>,
) -> Response {
    let p = match principal(&ctx) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let period = f.period.trim();
    if period.is_empty() {
        return respond::app_error(
            &ctx,
            AppError::Invalid(t(ctx.lang, "assess.period_required").to_owned()),
        );
    }
    let scheme = Some(f.scheme.trim()).filter(|s| !s.is_empty());
    match minyi_app::assess::run(&app, scheme, period, minyi_app::assess::Actor::User(&p)).await {
        Ok(run) => Redirect::to(&format!("/assessment/runs/{}", run.id)).into_response(),
        Err(e) => respond::app_error(&ctx, e),
    }
}

/// `/assessment/runs/{id}` (the ranking and the run's provenance) or `{id}.xlsx`.
pub async fn show(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    if let Some(n) = id.strip_suffix(".xlsx") {
        return export(&app, &ctx, n).await;
    }
    let lang = ctx.lang;
    let p = match principal(&ctx) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let run = match load(&app, &ctx, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let (names, scope) = match (names(&app).await, in_scope_codes(&app, &p).await) {
        (Ok(n), Ok(s)) => (n, s),
        (Err(e), _) | (_, Err(e)) => return respond::app_error(&ctx, e),
    };
    let title = t(lang, "assess.run_title").replace("{id}", &run.id.to_string());
    // A run made from another (an upheld appeal) shows what changed and who moved.
    let changes = match minyi_app::assess::changes(&app, &run).await {
        Ok(Some(c)) => changes_html(lang, &c, &names),
        Ok(None) => String::new(),
        Err(e) => return respond::app_error(&ctx, e),
    };
    let body = format!(
        "<h2>{}</h2>{}{}{changes}<form method=\"post\" action=\"/assessment/runs/{}/rerun\" class=\"inline\">{}<button type=\"submit\">{}</button> <small>{}</small></form>{}",
        esc(&title),
        run_links(lang, run.id),
        hashes(lang, &run),
        run.id,
        csrf_field(&ctx),
        esc(t(lang, "assess.rerun")),
        esc(t(lang, "assess.rerun_hint")),
        ranking(lang, &run, &names, &scope),
    );
    page(
        &ctx,
        StatusCode::OK,
        &title,
        &format!("/assessment/runs/{}", run.id),
        &body,
    )
}

fn changes_html(lang: Lang, c: &minyi_app::assess::RunChanges, names: &Names) -> String {
    let mut s = format!(
        "<section class=\"assess-changes\"><h3>{}</h3><p>{}</p><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(&t(lang, "assess.changes_title").replace("{parent}", &c.parent.to_string())),
        esc(c.reason.as_deref().unwrap_or("")),
        esc(t(lang, "assess.col_unit")),
        esc(t(lang, "assess.col_indicator")),
        esc(t(lang, "assess.value_before")),
        esc(t(lang, "assess.value_after")),
    );
    for ch in &c.inputs {
        s.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(names.name(&ch.unit)),
            esc(&indicator_label(lang, &ch.key)),
            ch.before.map(num).unwrap_or_else(|| "—".into()),
            ch.after.map(num).unwrap_or_else(|| "—".into()),
        ));
    }
    s.push_str("</tbody></table>");
    s.push_str(&view::moves_table(lang, &c.comparison, names));
    s.push_str("</section>");
    s
}

/// Reproduces a run from its stored scheme text and input and says whether the result
/// is byte-identical.
pub async fn rerun(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    let lang = ctx.lang;
    let Some(id) = parse_id(&id) else {
        return respond::app_error(&ctx, AppError::NotFound);
    };
    let r = match minyi_app::assess::rerun(&app, id).await {
        Ok(r) => r,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let title = t(lang, "assess.rerun_title").replace("{id}", &id.to_string());
    let verdict = if r.identical {
        format!(
            "<div class=\"notice\" role=\"status\" id=\"rerun-verdict\" data-identical=\"true\"><p>{}</p></div>",
            esc(t(lang, "assess.rerun_identical"))
        )
    } else {
        format!(
            "<div class=\"error-summary\" role=\"alert\" id=\"rerun-verdict\" data-identical=\"false\"><p>{}</p></div>",
            esc(t(lang, "assess.rerun_differs"))
        )
    };
    let row = |k: &str, a: &str, b: &str| {
        format!(
            "<tr><th scope=\"row\">{}</th><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            esc(t(lang, k)),
            esc(a),
            esc(b),
            if a == b { "=" } else { "≠" }
        )
    };
    let body = format!(
        "<h2>{}</h2>{}<table class=\"assess-rerun\"><thead><tr><th scope=\"col\"></th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\"></th></tr></thead><tbody>{}{}{}</tbody></table><p><a href=\"/assessment/runs/{id}\">{}</a></p>",
        esc(&title),
        verdict,
        esc(t(lang, "assess.stored")),
        esc(t(lang, "assess.again")),
        row(
            "assess.scheme_hash",
            &r.original.record.scheme_hash,
            &r.again.scheme_hash
        ),
        row(
            "assess.input_hash",
            &r.original.record.input_hash,
            &r.again.input_hash
        ),
        row(
            "assess.result_hash",
            &r.original.record.result_hash,
            &r.again.result_hash
        ),
        esc(t(lang, "assess.link_ranking")),
    );
    page(
        &ctx,
        StatusCode::OK,
        &title,
        &format!("/assessment/runs/{id}"),
        &body,
    )
}

/// The XLSX workbook of a run.
async fn export(app: &App, ctx: &Ctx, id: &str) -> Response {
    let run = match load(app, ctx, id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let names = match names(app).await {
        Ok(n) => n,
        Err(e) => return respond::app_error(ctx, e),
    };
    let info = xlsx::RunInfo {
        run_id: run.id,
        period: &run.period,
        scheme_id: &run.scheme.id,
        scheme_version: &run.scheme.version,
        scheme_hash: &run.record.scheme_hash,
        input_hash: &run.record.input_hash,
        result_hash: &run.record.result_hash,
        created_at: local(run.created_at),
        created_by: &run.created_by,
        parent: run.parent,
        reason: run.reason.as_deref(),
    };
    match xlsx::workbook(&run.result, &names, &info) {
        Ok(bytes) => {
            let disposition = format!(
                "attachment; filename=\"assessment-{}-{}.xlsx\"",
                run.id,
                run.period
                    .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_")
            );
            let mut resp = (
                [(
                    header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                )],
                bytes,
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
        Err(e) => respond::app_error(
            ctx,
            AppError::Refused(format!("xlsx export of run {}: {e}", run.id)),
        ),
    }
}

/// The printable report: headings, the ranking, the chart, the rules and the hashes.
pub async fn report(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    let lang = ctx.lang;
    let run = match load(&app, &ctx, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let names = match names(&app).await {
        Ok(n) => n,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let title = t(lang, "assess.report_title")
        .replace("{period}", &run.period)
        .replace("{id}", &run.id.to_string());
    let mut rules = String::from("<ul class=\"assess-rules\">");
    for r in &run.scheme.rules {
        let end = match r.end {
            minyi_assess::End::Top => t(lang, "assess.rule_top"),
            minyi_assess::End::Bottom => t(lang, "assess.rule_bottom"),
        };
        let mut line = end
            .replace("{k}", &r.k.to_string())
            .replace("{outcome}", &view::outcome_label(lang, r.outcome));
        if let Some(p) = r.min_probability {
            line.push_str(&t(lang, "assess.rule_guard").replace("{p}", &pct(p)));
        }
        if let Some(f) = &r.floor {
            let what = match &f.indicator {
                Some(i) => indicator_label(lang, i),
                None => t(lang, "assess.basis_score").to_owned(),
            };
            line.push_str(
                &t(lang, "assess.rule_floor")
                    .replace("{what}", &what)
                    .replace("{floor}", &num(f.value)),
            );
        }
        let count = run
            .result
            .units
            .iter()
            .flat_map(|u| u.outcomes.iter())
            .filter(|o| o.rule == r.id)
            .fold(BTreeMap::<&'static str, u32>::new(), |mut m, o| {
                *m.entry(view::outcome_code(o.outcome)).or_default() += 1;
                m
            });
        let counts: Vec<String> = count
            .iter()
            .map(|(code, n)| format!("{} {n}", t(lang, &format!("assess.outcome.{code}"))))
            .collect();
        rules.push_str(&format!(
            "<li>{} — {}</li>",
            esc(&line),
            esc(&if counts.is_empty() {
                t(lang, "assess.outcome.none").to_owned()
            } else {
                counts.join("，")
            })
        ));
    }
    rules.push_str("</ul>");
    let mut weights = String::from("<ul class=\"assess-weights\">");
    for g in &run.scheme.groups {
        let share: f64 = g.weight / run.scheme.weight_total;
        weights.push_str(&format!(
            "<li>{} {}：{}</li>",
            esc(&group_label(lang, &g.id)),
            pct(share),
            esc(&g
                .indicators
                .iter()
                .map(|i| format!(
                    "{} {}",
                    indicator_label(lang, &i.id),
                    pct(i.weight / g.indicator_weight_total)
                ))
                .collect::<Vec<_>>()
                .join("，"))
        ));
    }
    weights.push_str("</ul>");
    let body = format!(
        "<article class=\"assess-report\">\
         <h2>{}</h2><p class=\"no-print\"><a href=\"/assessment/runs/{}\">{}</a></p>\
         <section><h3>{}</h3>{}</section>\
         <section><h3>{}</h3>{}</section>\
         <section class=\"assess-chart-wrap\"><h3>{}</h3>{}<p class=\"hint\">{}</p></section>\
         <section><h3>{}</h3>{}</section>\
         <section><h3>{}</h3>{}</section></article>",
        esc(&title),
        run.id,
        esc(t(lang, "assess.link_ranking")),
        esc(t(lang, "assess.report_ranking")),
        view::ranking_table(lang, &run.result, &names, None),
        esc(t(lang, "assess.report_weights")),
        weights,
        esc(t(lang, "assess.report_chart")),
        chart::scores_with_intervals(lang, &run.result, &names),
        esc(t(lang, "assess.chart_legend")),
        esc(t(lang, "assess.report_rules")),
        rules,
        esc(t(lang, "assess.report_hashes")),
        hashes(lang, &run),
    );
    page(
        &ctx,
        StatusCode::OK,
        &title,
        &format!("/assessment/runs/{}/report", run.id),
        &body,
    )
}

/// The what-if form: every group and indicator weight prefilled with the run's scheme;
/// submitted (GET, so a what-if can be bookmarked and never changes anything) it shows
/// the new ranking and who moved.
pub async fn whatif(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Q(q): Q<BTreeMap<String, String>>,
) -> Response {
    let lang = ctx.lang;
    let run = match load(&app, &ctx, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let names = match names(&app).await {
        Ok(n) => n,
        Err(e) => return respond::app_error(&ctx, e),
    };
    // Read the submitted weights: `g.{group}` and `i.{indicator}`; a blank field keeps
    // the scheme's weight, anything else must be a number.
    let mut change = WeightChange {
        renormalise: q.get("renormalise").is_some_and(|v| !v.is_empty()),
        ..Default::default()
    };
    let mut errors = Vec::new();
    let submitted = q.contains_key("go");
    for (k, v) in &q {
        let v = v.trim();
        let target = if let Some(g) = k.strip_prefix("g.") {
            Some((&mut change.groups, g))
        } else {
            k.strip_prefix("i.").map(|i| (&mut change.indicators, i))
        };
        let Some((map, key)) = target else { continue };
        if v.is_empty() {
            continue;
        }
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => {
                map.insert(key.to_owned(), x);
            }
            _ => errors.push(
                t(lang, "assess.whatif_bad_weight")
                    .replace("{field}", key)
                    .replace("{value}", v),
            ),
        }
    }
    let value_of = |key: String, scheme_value: f64| -> String {
        q.get(&key)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| num(scheme_value))
    };
    let mut form = format!(
        "<form method=\"get\" action=\"/assessment/runs/{}/whatif\" class=\"assess-whatif\"><input type=\"hidden\" name=\"go\" value=\"1\">",
        run.id
    );
    for g in &run.scheme.groups {
        form.push_str(&format!(
            "<fieldset><legend><label for=\"w-g-{id}\">{}</label> <input id=\"w-g-{id}\" name=\"g.{id}\" value=\"{}\" inputmode=\"decimal\" size=\"6\"></legend>",
            esc(&group_label(lang, &g.id)),
            esc(&value_of(format!("g.{}", g.id), g.weight)),
            id = esc(&g.id),
        ));
        for i in &g.indicators {
            form.push_str(&format!(
                "<label for=\"w-i-{id}\">{}</label> <input id=\"w-i-{id}\" name=\"i.{id}\" value=\"{}\" inputmode=\"decimal\" size=\"6\"> ",
                esc(&indicator_label(lang, &i.id)),
                esc(&value_of(format!("i.{}", i.id), i.weight)),
                id = esc(&i.id),
            ));
        }
        form.push_str("</fieldset>");
    }
    form.push_str(&format!(
        "<label><input type=\"checkbox\" name=\"renormalise\" value=\"1\"{}> {}</label> <button type=\"submit\">{}</button></form>",
        if change.renormalise || !submitted { " checked" } else { "" },
        esc(t(lang, "assess.whatif_renormalise")),
        esc(t(lang, "assess.whatif_go")),
    ));
    let title = t(lang, "assess.whatif_title").replace("{id}", &run.id.to_string());
    let mut body = format!(
        "<h2>{}</h2>{}<p class=\"hint\">{}</p>",
        esc(&title),
        run_links(lang, run.id),
        esc(t(lang, "assess.whatif_intro"))
    );
    let mut status = StatusCode::OK;
    let mut outcome = String::new();
    if submitted && errors.is_empty() {
        match minyi_assess::what_if(&run.scheme, &run.input, &change) {
            Ok(w) => {
                outcome.push_str(&format!(
                    "<h3>{}</h3>{}<h3>{}</h3>{}",
                    esc(t(lang, "assess.whatif_moves")),
                    view::moves_table(lang, &w.comparison, &names),
                    esc(t(lang, "assess.whatif_ranking")),
                    view::ranking_table(lang, &w.after, &names, None),
                ));
            }
            // The usual slip: weights that no longer add up. Said in the page's language,
            // with the way out; anything else in the crate's own words.
            Err(minyi_assess::RunError::Scheme(minyi_assess::SchemeError {
                key,
                kind: minyi_assess::SchemeErrorKind::WeightSum { sum, declared },
                ..
            })) => errors.push(
                t(lang, "assess.whatif_weight_sum")
                    .replace("{key}", &key)
                    .replace("{sum}", &num(sum))
                    .replace("{declared}", &num(declared)),
            ),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        status = StatusCode::UNPROCESSABLE_ENTITY;
        body.push_str("<div class=\"error-summary\" role=\"alert\"><ul>");
        for e in &errors {
            body.push_str(&format!("<li>{}</li>", esc(e)));
        }
        body.push_str("</ul></div>");
    }
    body.push_str(&form);
    body.push_str(&outcome);
    page(
        &ctx,
        status,
        &title,
        &format!("/assessment/runs/{}/whatif", run.id),
        &body,
    )
}

/// Rank stability under random ±10% weight changes, seeded so the page is reproducible.
pub async fn sensitivity(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    let lang = ctx.lang;
    let run = match load(&app, &ctx, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let names = match names(&app).await {
        Ok(n) => n,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let settings = SensitivitySettings::default();
    // A thousand reruns of the whole scheme: off the async workers.
    let (scheme, input) = (run.scheme.clone(), run.input.clone());
    let sens = match tokio::task::spawn_blocking(move || {
        minyi_assess::sensitivity(&scheme, &input, &settings)
    })
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return respond::app_error(&ctx, AppError::Invalid(e.to_string())),
        Err(e) => {
            return respond::app_error(
                &ctx,
                AppError::Refused(format!("sensitivity of run {}: {e}", run.id)),
            );
        }
    };
    let title = t(lang, "assess.sens_title").replace("{id}", &run.id.to_string());
    let body = format!(
        "<h2>{}</h2>{}<p class=\"hint\">{}</p>{}",
        esc(&title),
        run_links(lang, run.id),
        esc(t(lang, "assess.sens_intro")),
        view::sensitivity_table(lang, &sens, &names),
    );
    page(
        &ctx,
        StatusCode::OK,
        &title,
        &format!("/assessment/runs/{}/sensitivity", run.id),
        &body,
    )
}

/// A unit's explanation in a run, with its appeals and the appeal form.
pub async fn unit(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path((id, code)): Path<(String, String)>,
) -> Response {
    let lang = ctx.lang;
    let p = match principal(&ctx) {
        Ok(p) => p,
        Err(r) => return r,
    };
    // The unit first: outside the caller's scope it does not exist for them.
    let unit = match app.store.unit_by_code(code.trim()).await {
        Ok(Some(u)) if p.scope.contains(u.id) => u,
        Ok(_) => return respond::app_error(&ctx, AppError::NotFound),
        Err(e) => return respond::app_error(&ctx, e.into()),
    };
    let run = match load(&app, &ctx, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let title = format!("{} · {}", unit.name, t(lang, "assess.explain_title"));
    let mut body = format!(
        "<h2>{}</h2><p><a href=\"/assessment/runs/{}\">{}</a> · {} {}</p>",
        esc(&title),
        run.id,
        esc(&t(lang, "assess.run_title").replace("{id}", &run.id.to_string())),
        esc(t(lang, "assess.period")),
        esc(&run.period),
    );
    let Some(u) = run.result.unit(unit.code.as_str()) else {
        let excluded = run
            .result
            .excluded
            .iter()
            .any(|x| x.unit == unit.code.as_str());
        body.push_str(&format!(
            "<p>{}</p>",
            esc(t(
                lang,
                if excluded {
                    "assess.unit_excluded"
                } else {
                    "assess.unit_not_in_run"
                }
            ))
        ));
        return page(&ctx, StatusCode::OK, &title, "/assessment", &body);
    };
    body.push_str(&view::explanation(lang, u));
    // The unit's appeals against this run.
    let appeals = match minyi_app::assess::appeals(
        &app,
        &p,
        &minyi_app::assess::AppealFilter {
            run_id: Some(run.id),
            state: None,
        },
    )
    .await
    {
        Ok(a) => a
            .into_iter()
            .filter(|a| a.row.unit_id == unit.id)
            .collect::<Vec<_>>(),
        Err(e) => return respond::app_error(&ctx, e),
    };
    body.push_str(&format!(
        "<h3>{}</h3>",
        esc(t(lang, "assess.appeals_title"))
    ));
    if appeals.is_empty() {
        body.push_str(&format!(
            "<p class=\"muted\">{}</p>",
            esc(t(lang, "assess.appeals_none"))
        ));
    } else {
        body.push_str(&appeals_table(lang, &ctx, &p, &appeals));
    }
    // Appeals are filed by the station or its county bureau; city analysts decide them.
    if matches!(p.role, Role::StationStaff | Role::CountyAnalyst) {
        let mut options = String::new();
        for i in &u.indicators {
            options.push_str(&format!(
                "<option value=\"{}\">{}</option>",
                esc(&i.indicator),
                esc(&indicator_label(lang, &i.indicator))
            ));
        }
        body.push_str(&format!(
            "<form method=\"post\" action=\"/assessment/runs/{}/units/{}/appeal\" class=\"assess-appeal\">{}\
             <h3>{}</h3><label for=\"ap-ind\">{}</label><select id=\"ap-ind\" name=\"indicator\">{}</select>\
             <label for=\"ap-val\">{}</label><input id=\"ap-val\" name=\"value\" inputmode=\"decimal\" required>\
             <label for=\"ap-reason\">{}</label><textarea id=\"ap-reason\" name=\"reason\" rows=\"3\" required></textarea>\
             <button type=\"submit\">{}</button></form>",
            run.id,
            esc(unit.code.as_str()),
            csrf_field(&ctx),
            esc(t(lang, "assess.appeal_title")),
            esc(t(lang, "assess.col_indicator")),
            options,
            esc(t(lang, "assess.appeal_value")),
            esc(t(lang, "assess.appeal_reason")),
            esc(t(lang, "assess.appeal_submit")),
        ));
    }
    page(
        &ctx,
        StatusCode::OK,
        &title,
        &format!("/assessment/runs/{}/units/{}", run.id, unit.code.as_str()),
        &body,
    )
}

#[derive(serde::Deserialize)]
pub struct AppealForm {
    #[serde(default)]
    indicator: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    reason: String,
}

/// Files an appeal against one indicator value of a unit in a run.
pub async fn appeal(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path((id, code)): Path<(String, String)>,
    Form(f): Form<AppealForm>,
) -> Response {
    let lang = ctx.lang;
    let p = match principal(&ctx) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(run_id) = parse_id(&id) else {
        return respond::app_error(&ctx, AppError::NotFound);
    };
    // Scope before anything else: a unit outside it does not exist for the caller.
    match app.store.unit_by_code(code.trim()).await {
        Ok(Some(u)) if p.scope.contains(u.id) => {}
        Ok(_) => return respond::app_error(&ctx, AppError::NotFound),
        Err(e) => return respond::app_error(&ctx, e.into()),
    }
    let value = match f.value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => v,
        _ => {
            return respond::app_error(
                &ctx,
                AppError::Invalid(
                    t(lang, "assess.appeal_bad_value").replace("{value}", f.value.trim()),
                ),
            );
        }
    };
    let input = minyi_app::assess::AppealInput {
        run_id,
        unit_code: code.trim().to_owned(),
        indicator: f.indicator.trim().to_owned(),
        claimed_value: value,
        reason: f.reason.trim().to_owned(),
    };
    match minyi_app::assess::file_appeal(&app, &p, &input, chrono::Utc::now()).await {
        Ok(a) => Redirect::to(&format!(
            "/assessment/runs/{run_id}/units/{}",
            respond::url_encode(&a.unit_code)
        ))
        .into_response(),
        // The role may handle matters, but appeals are the station's or its county's to
        // file (city analysts decide them): a refusal of this request, said in words.
        Err(AppError::Forbidden) => respond::app_error(
            &ctx,
            AppError::Invalid(t(lang, "assess.appeal_not_yours").to_owned()),
        ),
        Err(e) => respond::app_error(&ctx, e),
    }
}

fn appeals_table(
    lang: Lang,
    ctx: &Ctx,
    p: &Principal,
    rows: &[minyi_app::assess::Appeal],
) -> String {
    let resolver = p.may(Permission::RunAssessment);
    let mut s = format!(
        "<div class=\"table-wrap\"><table class=\"assess-appeals\"><thead><tr><th scope=\"col\">#</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(t(lang, "assess.col_run")),
        esc(t(lang, "assess.col_unit")),
        esc(t(lang, "assess.col_indicator")),
        esc(t(lang, "assess.appeal_value")),
        esc(t(lang, "assess.appeal_reason")),
        esc(t(lang, "assess.col_status")),
        esc(t(lang, "assess.col_resolution")),
    );
    for appeal in rows {
        let a = &appeal.row;
        let unit = appeal.unit_name.as_str();
        let resolution = match a.state.as_str() {
            "filed" if resolver => format!(
                "<form method=\"post\" action=\"/assessment/appeals/{id}/resolve\" class=\"assess-resolve\">{}\
                 <select name=\"decision\" aria-label=\"{}\"><option value=\"uphold\">{}</option><option value=\"reject\">{}</option></select>\
                 <input name=\"value\" value=\"{}\" inputmode=\"decimal\" size=\"8\" aria-label=\"{}\">\
                 <input name=\"note\" required aria-label=\"{}\" placeholder=\"{}\"><button type=\"submit\">{}</button></form>",
                csrf_field(ctx),
                esc(t(lang, "assess.decision")),
                esc(t(lang, "assess.uphold")),
                esc(t(lang, "assess.reject")),
                num(a.claimed_value),
                esc(t(lang, "assess.corrected_value")),
                esc(t(lang, "assess.note")),
                esc(t(lang, "assess.note")),
                esc(t(lang, "assess.resolve")),
                id = a.id,
            ),
            _ => {
                let mut s = esc(a.resolution.as_deref().unwrap_or(""));
                if let Some(v) = a.corrected_value {
                    s.push_str(&format!(
                        " ({} {})",
                        esc(t(lang, "assess.corrected_value")),
                        num(v)
                    ));
                }
                if let Some(r) = a.result_run_id {
                    s.push_str(&format!(" → <a href=\"/assessment/runs/{r}\">#{r}</a>"));
                }
                s
            }
        };
        s.push_str(&format!(
            "<tr data-appeal=\"{}\"><td>{}</td><td><a href=\"/assessment/runs/{run}\">#{run}</a></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            a.id,
            a.id,
            esc(unit),
            esc(&indicator_label(lang, &a.indicator)),
            num(a.claimed_value),
            esc(&a.reason),
            esc(&view::label(lang, &format!("assess.appeal_state.{}", a.state), &a.state)),
            resolution,
            run = a.run_id,
        ));
    }
    s.push_str("</tbody></table></div>");
    s
}

#[derive(serde::Deserialize, Default)]
pub struct AppealsQuery {
    #[serde(default)]
    run: String,
    #[serde(default)]
    state: String,
    /// One appeal by id (the drill-down of an upheld appeal); still cut to the scope.
    #[serde(default)]
    appeal: String,
}

/// Appeals in the caller's scope: analysts resolve, a unit sees its own.
pub async fn appeals(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Q(q): Q<AppealsQuery>,
) -> Response {
    let lang = ctx.lang;
    let p = match principal(&ctx) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let run_id = match optional_id(&q.run, |s| format!("run `{s}` is not a run number")) {
        Ok(id) => id,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let only = match optional_id(&q.appeal, |s| {
        format!("appeal `{s}` is not an appeal number")
    }) {
        Ok(id) => id,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let state = match q.state.trim() {
        "" => None,
        s @ ("filed" | "upheld" | "rejected") => Some(s.to_owned()),
        s => {
            return respond::app_error(
                &ctx,
                AppError::Invalid(format!("state `{s}` is not filed, upheld or rejected")),
            );
        }
    };
    let rows = match minyi_app::assess::appeals(
        &app,
        &p,
        &minyi_app::assess::AppealFilter { run_id, state },
    )
    .await
    {
        Ok(r) => r
            .into_iter()
            .filter(|a| only.is_none_or(|id| a.row.id == id))
            .collect::<Vec<_>>(),
        Err(e) => return respond::app_error(&ctx, e),
    };
    let title = t(lang, "assess.appeals_title");
    let mut body = format!(
        "<h2>{}</h2><p class=\"hint\">{}</p><p><a href=\"/assessment\">{}</a></p>",
        esc(title),
        esc(t(lang, "assess.appeals_intro")),
        esc(t(lang, "assess.title")),
    );
    if rows.is_empty() {
        body.push_str(&format!("<p>{}</p>", esc(t(lang, "assess.appeals_none"))));
    } else {
        body.push_str(&appeals_table(lang, &ctx, &p, &rows));
    }
    page(&ctx, StatusCode::OK, title, "/assessment/appeals", &body)
}

#[derive(serde::Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    note: String,
}

/// Upholds (with the corrected value: a new run) or rejects an appeal.
pub async fn resolve(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(f): Form<ResolveForm>,
) -> Response {
    let lang = ctx.lang;
    let p = match principal(&ctx) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(id) = parse_id(&id) else {
        return respond::app_error(&ctx, AppError::NotFound);
    };
    let decision = match f.decision.trim() {
        "uphold" => match f.value.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => minyi_app::assess::Decision::Upheld { corrected_value: v },
            _ => {
                return respond::app_error(
                    &ctx,
                    AppError::Invalid(
                        t(lang, "assess.appeal_bad_value").replace("{value}", f.value.trim()),
                    ),
                );
            }
        },
        "reject" => minyi_app::assess::Decision::Rejected,
        other => {
            return respond::app_error(
                &ctx,
                AppError::Invalid(t(lang, "assess.bad_decision").replace("{value}", other)),
            );
        }
    };
    match minyi_app::assess::resolve_appeal(
        &app,
        &p,
        id,
        decision,
        f.note.trim(),
        chrono::Utc::now(),
    )
    .await
    {
        Ok(r) => match r.new_run {
            Some(run) => Redirect::to(&format!("/assessment/runs/{}", run.id)).into_response(),
            None => Redirect::to("/assessment/appeals").into_response(),
        },
        // Decided meanwhile (a second click, another analyst): say so, not a server error.
        Err(AppError::Refused(m)) => conflict(&ctx, &m),
        Err(e) => respond::app_error(&ctx, e),
    }
}

/// A 409 page: the request was understood but the object's state does not allow it.
fn conflict(ctx: &Ctx, msg: &str) -> Response {
    let lang = ctx.lang;
    let title = t(lang, "assess.conflict_title");
    let body = format!(
        "<h2>{}</h2><div class=\"error-summary\" role=\"alert\"><p>{}</p></div><p><a href=\"/assessment/appeals\">{}</a></p>",
        esc(title),
        esc(msg),
        esc(t(lang, "assess.appeals_title"))
    );
    page(
        ctx,
        StatusCode::CONFLICT,
        title,
        "/assessment/appeals",
        &body,
    )
}

/// `/assess/appeals/{id}`, the reference an upheld appeal leaves in the corrected input:
/// the appeals list cut to that appeal (and to the caller's scope, so nothing leaks).
pub async fn appeal_ref(Extension(ctx): Extension<Ctx>, Path(id): Path<String>) -> Response {
    match parse_id(&id) {
        Some(id) => Redirect::to(&format!("/assessment/appeals?appeal={id}")).into_response(),
        None => respond::app_error(&ctx, AppError::NotFound),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct MetricQuery {
    #[serde(default)]
    period: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    metric: String,
}

/// `/assess/metrics?period=P&unit=U&metric=M`: the imported business, team-building and
/// jurisdiction figures of a unit in scope for a period, the one asked about marked —
/// the drill-down of an imported indicator.
pub async fn metric(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Q(q): Q<MetricQuery>,
) -> Response {
    let lang = ctx.lang;
    let p = match principal(&ctx) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (period, code, metric) = (q.period.trim(), q.unit.trim(), q.metric.trim());
    if period.is_empty() || code.is_empty() {
        return respond::app_error(
            &ctx,
            AppError::Invalid(t(lang, "assess.metrics_params").to_owned()),
        );
    }
    let unit = match app.store.unit_by_code(code).await {
        Ok(Some(u)) if p.scope.contains(u.id) => u,
        Ok(_) => return respond::app_error(&ctx, AppError::NotFound),
        Err(e) => return respond::app_error(&ctx, e.into()),
    };
    let values = match app.store.metrics(period).await {
        Ok(v) => v
            .into_iter()
            .filter(|m| m.unit_id == unit.id)
            .collect::<Vec<_>>(),
        Err(e) => return respond::app_error(&ctx, e.into()),
    };
    let title = format!("{} · {}", unit.name, t(lang, "assess.metrics_title"));
    let mut body = format!(
        "<h2>{}</h2><p>{} {}</p><p class=\"hint\">{}</p>",
        esc(&title),
        esc(t(lang, "assess.period")),
        esc(period),
        esc(t(lang, "assess.metrics_intro")),
    );
    if values.is_empty() {
        body.push_str(&format!("<p>{}</p>", esc(t(lang, "assess.metrics_none"))));
    } else {
        body.push_str(&format!(
            "<table class=\"assess-metrics\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            esc(t(lang, "assess.metrics_code")),
            esc(t(lang, "assess.metrics_value")),
        ));
        for m in &values {
            body.push_str(&format!(
                "<tr{}><th scope=\"row\"><code>{}</code></th><td class=\"num\">{}</td></tr>",
                if m.code == metric {
                    " class=\"moved\" aria-current=\"true\""
                } else {
                    ""
                },
                esc(&m.code),
                num(m.value)
            ));
        }
        body.push_str("</tbody></table>");
    }
    page(&ctx, StatusCode::OK, &title, "/assess/metrics", &body)
}

/// The block on a station's page: the latest run's score, rank and outcome, linked to
/// the explanation. Empty when there is no run or the unit is not ranked in it.
pub async fn station_block(app: &App, lang: Lang, code: &str) -> String {
    let Ok(Some(run)) = minyi_app::assess::latest(app, None).await else {
        return String::new();
    };
    let Some(u) = run.result.unit(code) else {
        return String::new();
    };
    let outcomes = if u.outcomes.is_empty() {
        t(lang, "assess.outcome.none").to_owned()
    } else {
        u.outcomes
            .iter()
            .map(|o| view::outcome_title(lang, o))
            .collect::<Vec<_>>()
            .join("；")
    };
    format!(
        "<section class=\"assess-block\"><h3>{}</h3><p>{}</p><p><a href=\"/assessment/runs/{}/units/{}\">{}</a></p></section>",
        esc(&t(lang, "assess.block_title").replace("{period}", &run.period)),
        esc(&t(lang, "assess.block_text")
            .replace("{score}", &pts(u.score))
            .replace("{rank}", &u.rank.to_string())
            .replace("{n}", &run.result.ranked.to_string())
            .replace(
                "{basis}",
                &u.basis
                    .as_ref()
                    .map(|b| format!("{}/{}", b.rank, b.ranked))
                    .unwrap_or_else(|| "—".into())
            )
            .replace("{outcome}", &outcomes)),
        run.id,
        esc(code),
        esc(t(lang, "assess.block_link")),
    )
}
