//! Records from the police systems and the hard indicators measured on them: the import
//! API (`POST /api/v1/incidents|cases|permits`, JSON, API key of purpose `import`), the
//! indicator block of a unit's page, and the indicator pages with the records behind each
//! figure (`GET /units/{code}/indicators`).
//!
//! Thin: parsing the rows and applying them is `minyi_app::records`, counting is
//! `minyi_app::indicators`. Nothing personal is shown: records are listed by external id.

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minyi_app::App;
use minyi_app::auth::Principal;
use minyi_app::import::RowError;
use minyi_app::indicators::{self, Ratio, UnitIndicators};
use minyi_app::records::{ImportOptions, RecordKind, RecordReport};
use minyi_core::records::{Indicator, ReportPeriod};

use crate::extract::Q;
use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::{Lang, t};
use crate::respond::{self, app_problem, local, problem, url_encode};

pub async fn post_incidents(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    import(&app, &ctx, &headers, &body, RecordKind::Incidents).await
}

pub async fn post_cases(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    import(&app, &ctx, &headers, &body, RecordKind::Cases).await
}

pub async fn post_permits(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    import(&app, &ctx, &headers, &body, RecordKind::Permits).await
}

fn rows_json(rows: &[RowError]) -> serde_json::Value {
    rows.iter()
        .map(|r| serde_json::json!({"row": r.row, "column": r.column, "reason": r.reason}))
        .collect()
}

fn report_json(r: &RecordReport) -> serde_json::Value {
    serde_json::json!({
        "records": r.rows,
        "created": r.created,
        "changed": r.changed,
        "unchanged": r.unchanged,
        "events": r.events,
        "rejected": rows_json(&r.rejected),
        "flagged": rows_json(&r.flagged),
    })
}

/// One record or an array of them; the answer is the import report. A request none of
/// whose records could be applied is a 422 problem listing why, row by row (rows count
/// the records of the request from 1).
async fn import(
    app: &App,
    ctx: &Ctx,
    headers: &HeaderMap,
    body: &[u8],
    kind: RecordKind,
) -> Response {
    let machine = match ctx.machine() {
        Ok(m) => m.clone(),
        Err(r) => return r,
    };
    let value: serde_json::Value =
        match crate::respond::json_body(headers, body, "the records", "the body is not valid JSON")
        {
            Ok(v) => v,
            Err(r) => return r,
        };
    let (header_row, rows) = match minyi_app::records::json_rows(kind, &value) {
        Ok(x) => x,
        Err(e) => return problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid", &e),
    };
    let opts = ImportOptions {
        actor: machine.actor(),
        scope: Some(machine.scope.clone()),
        dry_run: false,
    };
    let report = match minyi_app::records::import_rows(
        app,
        kind,
        &header_row,
        rows,
        &opts,
        chrono::Utc::now(),
        &|_| {},
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return app_problem(e),
    };
    if report.created + report.changed + report.unchanged == 0 {
        let first = report
            .rejected
            .first()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "no record was given".into());
        let body = serde_json::json!({
            "type": "https://minyi.invalid/problems/invalid",
            "title": "Unprocessable Entity",
            "status": 422,
            "code": "invalid",
            "detail": format!("no record could be applied; the first reason: {first}"),
            "errors": rows_json(&report.rejected),
        });
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response();
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        report_json(&report).to_string(),
    )
        .into_response()
}

fn percent(r: Ratio) -> String {
    match r.rate() {
        Some(x) => format!("{:.1}%", x * 100.0),
        None => "—".into(),
    }
}

/// Numerator and denominator as shown: fen as yuan for the loss recovery rate.
fn amounts(i: Indicator, r: Ratio) -> String {
    if i == Indicator::LossRecovery {
        format!(
            "¥{} / ¥{}",
            minyi_core::records::yuan(r.numerator),
            minyi_core::records::yuan(r.denominator)
        )
    } else {
        format!("{} / {}", r.numerator, r.denominator)
    }
}

fn table(lang: Lang, u: &UnitIndicators) -> String {
    let code = url_encode(u.unit.code.as_str());
    let period = url_encode(&u.period.label);
    let mut b = format!(
        "<table class=\"indicators-table\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(t(lang, "indicators.name")),
        esc(t(lang, "indicators.rate")),
        esc(t(lang, "indicators.counts")),
    );
    for (i, r) in &u.values {
        b.push_str(&format!(
            "<tr><td><a href=\"/units/{code}/indicators?period={period}&amp;indicator={}\">{}</a></td><td class=\"indicators-rate\">{}</td><td>{}</td></tr>",
            i.code(),
            esc(t(lang, &format!("indicators.{}", i.code()))),
            esc(&percent(*r)),
            esc(&amounts(*i, *r)),
        ));
    }
    b.push_str("</tbody></table>");
    b
}

fn period_links(lang: Lang, code: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let month = ReportPeriod::month_of(now).label;
    let year = month[..4].to_owned();
    let m: u32 = month[5..].parse().unwrap_or(1);
    let quarter = format!("{year}-Q{}", (m - 1) / 3 + 1);
    let code = url_encode(code);
    let mut b = format!(
        "<p class=\"indicators-periods\">{}",
        esc(t(lang, "indicators.periods"))
    );
    for (label, key) in [
        (&month, "indicators.this_month"),
        (&quarter, "indicators.this_quarter"),
        (&year, "indicators.this_year"),
    ] {
        b.push_str(&format!(
            " <a href=\"/units/{code}/indicators?period={}\">{}</a>",
            url_encode(label),
            esc(t(lang, key))
        ));
    }
    b.push_str("</p>");
    b
}

/// The indicator block of a unit's page: this year's figures, each linked to its records.
/// An error reads as a short note, so the rest of the page still shows.
pub async fn indicators_block(app: &App, p: &Principal, code: &str, lang: Lang) -> String {
    let now = chrono::Utc::now();
    let head = format!(
        "<section class=\"indicators\"><h3>{}</h3>",
        esc(t(lang, "indicators.title"))
    );
    let period = match indicators::period_or_default(None, now) {
        Ok(p) => p,
        Err(_) => return String::new(),
    };
    match indicators::for_unit(app, p, code, &period, now).await {
        Ok(u) => format!(
            "{head}<p class=\"period\">{}</p>{}{}</section>",
            esc(&t(lang, "indicators.period").replace("{period}", &period.label)),
            table(lang, &u),
            period_links(lang, code, now)
        ),
        Err(e) => {
            tracing::warn!(error = %e, "indicators block");
            format!(
                "{head}<p>{}</p></section>",
                esc(t(lang, "indicators.unavailable"))
            )
        }
    }
}

#[derive(serde::Deserialize, Default)]
pub struct IndicatorQuery {
    #[serde(default)]
    period: String,
    #[serde(default)]
    indicator: String,
    #[serde(default)]
    page: Option<i64>,
}

/// `GET /units/{code}/indicators[?period=2026-Q1][&indicator=help_resolution][&page=2]`:
/// every indicator of the unit for the period, or the records behind one of them.
pub async fn unit_indicators(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Q(q): Q<IndicatorQuery>,
) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let now = chrono::Utc::now();
    let period = match indicators::period_or_default(Some(&q.period), now) {
        Ok(x) => x,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let indicator = match q.indicator.trim() {
        "" => None,
        s => match Indicator::parse(s) {
            Ok(i) => Some(i),
            Err(e) => {
                return respond::app_error(&ctx, minyi_app::AppError::Invalid(e.to_string()));
            }
        },
    };
    let Some(indicator) = indicator else {
        let u = match indicators::for_unit(&app, &p, &code, &period, now).await {
            Ok(u) => u,
            Err(e) => return respond::app_error(&ctx, e),
        };
        let body = format!(
            "<h2>{} <small>{}</small></h2><p class=\"period\">{}</p>{}{}<p class=\"muted\">{}</p>",
            esc(&u.unit.name),
            esc(t(lang, "indicators.title")),
            esc(&t(lang, "indicators.period").replace("{period}", &period.label)),
            table(lang, &u),
            period_links(lang, u.unit.code.as_str(), now),
            esc(t(lang, "indicators.rules")),
        );
        let title = format!("{} · {}", u.unit.name, t(lang, "indicators.title"));
        let path = format!("/units/{}/indicators", u.unit.code);
        return respond::html_demo(&ctx, u.unit.synthetic, &title, &path, &body);
    };
    let d = match indicators::drill(
        &app,
        &p,
        &code,
        indicator,
        &period,
        q.page.unwrap_or(1),
        now,
    )
    .await
    {
        Ok(d) => d,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let name = t(lang, &format!("indicators.{}", indicator.code())).to_owned();
    let ucode = url_encode(d.unit.code.as_str());
    let mut body = format!(
        "<h2>{} <small>{}</small></h2><p class=\"period\">{}</p><p><strong>{}</strong> {} · {}</p><p class=\"muted\">{}</p>",
        esc(&d.unit.name),
        esc(&name),
        esc(&t(lang, "indicators.period").replace("{period}", &period.label)),
        esc(&percent(d.ratio)),
        esc(&amounts(indicator, d.ratio)),
        esc(&t(lang, "indicators.records_total").replace("{n}", &d.total.to_string())),
        esc(t(lang, &format!("indicators.rule.{}", indicator.code()))),
    );
    if d.records.is_empty() {
        body.push_str(&format!("<p>{}</p>", esc(t(lang, "none_yet"))));
    } else {
        body.push_str(&format!(
            "<table class=\"indicators-records\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            esc(t(lang, "records.external_id")),
            esc(t(lang, "records.at")),
            esc(t(lang, "records.unit")),
            esc(t(lang, "indicators.counted")),
        ));
        for r in &d.records {
            let unit = d
                .unit_names
                .get(&r.unit_id)
                .map(|(c, n)| format!("<a href=\"/units/{}\">{}</a>", url_encode(c), esc(n)))
                .unwrap_or_default();
            let counted = if indicator == Indicator::LossRecovery {
                amounts(
                    indicator,
                    Ratio {
                        numerator: r.numerator,
                        denominator: r.denominator,
                    },
                )
            } else if r.numerator > 0 {
                t(lang, "indicators.yes").to_owned()
            } else {
                t(lang, "indicators.no").to_owned()
            };
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{unit}</td><td>{}</td></tr>",
                esc(&r.label),
                esc(&local(r.at)),
                esc(&counted)
            ));
        }
        body.push_str("</tbody></table>");
    }
    let link = |page: i64| {
        format!(
            "/units/{ucode}/indicators?period={}&amp;indicator={}&amp;page={page}",
            url_encode(&period.label),
            indicator.code()
        )
    };
    body.push_str("<p class=\"pager\">");
    if d.page > 1 {
        body.push_str(&format!(
            "<a href=\"{}\">{}</a> ",
            link(d.page - 1),
            esc(t(lang, "indicators.previous"))
        ));
    }
    body.push_str(&esc(&t(lang, "indicators.page")
        .replace("{page}", &d.page.to_string())
        .replace("{pages}", &d.pages.to_string())));
    if d.page < d.pages {
        body.push_str(&format!(
            " <a href=\"{}\">{}</a>",
            link(d.page + 1),
            esc(t(lang, "indicators.next"))
        ));
    }
    body.push_str(&format!(
        "</p><p><a href=\"/units/{ucode}/indicators?period={}\">{}</a></p>",
        url_encode(&period.label),
        esc(t(lang, "indicators.all"))
    ));
    let title = format!("{} · {}", d.unit.name, name);
    let path = format!("/units/{}/indicators", d.unit.code);
    respond::html_demo(&ctx, d.unit.synthetic, &title, &path, &body)
}
