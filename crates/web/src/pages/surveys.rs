//! Survey pages: the list of waves, a wave's city page with the ranking drawn as
//! intervals (direct beside shrunk, the chance of being among the last three shaded),
//! the CSV downloads (estimates; the agency's allocation sheet), the interviewer's entry
//! form, and the survey block of a station's page.
//!
//! Thin: what is estimated and who may enter what is `minyi_app::surveys`. Every row
//! shown lies in the viewer's scope; ranks are still among all stations of the wave,
//! because that is what a rank means.

use axum::extract::{Extension, Form, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minyi_app::App;
use minyi_app::auth::Principal;
use minyi_app::surveys::{
    self, AgeBand, Chief, FormFields, Indicator, IndicatorEstimate, Mode, Sex, StationEstimate,
    Wave, WaveState,
};
use minyi_core::access::Permission;

use crate::extract::Q;
use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::{Lang, t};
use crate::respond::{self, csrf_field};

fn is_rate(w: &Wave, i: Indicator) -> bool {
    w.is_rate(i)
}

/// A rate as a percentage, an index as itself.
fn fmt(rate: bool, v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    if rate {
        format!("{:.1}%", v * 100.0)
    } else {
        format!("{v:.1}")
    }
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.0}%", v * 100.0)
    } else {
        "—".into()
    }
}

fn csv_response(name: &str, body: String) -> Response {
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        // A BOM so that spreadsheet programs read the Chinese names as UTF-8.
        format!("\u{feff}{body}"),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `GET /surveys`: the waves, with what the viewer may do with each.
pub async fn list(State(app): State<App>, Extension(ctx): Extension<Ctx>) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let waves = match surveys::waves(&app).await {
        Ok(w) => w,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let mut body = format!("<h2>{}</h2>", esc(t(lang, "surveys.title")));
    if waves.is_empty() {
        body.push_str(&format!("<p>{}</p>", esc(t(lang, "surveys.none"))));
    } else {
        body.push_str(&format!(
            "<table class=\"survey-waves\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
            esc(t(lang, "surveys.code")),
            esc(t(lang, "surveys.name")),
            esc(t(lang, "surveys.period")),
            esc(t(lang, "surveys.state")),
            esc(t(lang, "surveys.respondents")),
        ));
        for w in &waves {
            let n = app.store.response_count(w.row.id).await.unwrap_or(0);
            let code = esc(&w.row.code);
            let mut links = Vec::new();
            if p.may(Permission::ViewOpinions) {
                links.push(format!(
                    "<a href=\"/surveys/{code}\">{}</a>",
                    esc(t(lang, "surveys.estimates"))
                ));
            }
            if p.may(Permission::SurveyWork) {
                links.push(format!(
                    "<a href=\"/surveys/{code}/allocation.csv\">{}</a>",
                    esc(t(lang, "surveys.allocation_csv"))
                ));
                if w.state != WaveState::Closed {
                    links.push(format!(
                        "<a href=\"/surveys/{code}/responses/new\">{}</a>",
                        esc(t(lang, "surveys.enter"))
                    ));
                }
            }
            body.push_str(&format!(
                "<tr><td>{code}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{n}</td><td>{}</td></tr>",
                esc(&w.row.name),
                if w.row.synthetic {
                    format!(
                        " <span class=\"badge\">{}</span>",
                        esc(t(lang, "surveys.synthetic"))
                    )
                } else {
                    String::new()
                },
                esc(&w.row.period),
                esc(t(lang, &format!("surveys.state.{}", w.state.code()))),
                links.join(" · ")
            ));
        }
        body.push_str("</tbody></table>");
    }
    respond::html(
        &ctx,
        StatusCode::OK,
        t(lang, "surveys.title"),
        "/surveys",
        &body,
    )
}

async fn scoped_estimates(
    app: &App,
    p: &Principal,
    code: &str,
) -> minyi_app::Result<(Wave, Vec<StationEstimate>)> {
    let w = surveys::wave(app, code).await?;
    let all = surveys::estimates_of(app, &w).await?;
    Ok((
        w,
        all.into_iter()
            .filter(|e| p.scope.contains(e.station.id))
            .collect(),
    ))
}

/// `GET /surveys/{wave}`: the city page (the viewer's stations only).
pub async fn wave_page(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let (w, rows) = match scoped_estimates(&app, &p, &code).await {
        Ok(x) => x,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let code = esc(&w.row.code);
    let mut body = format!(
        "<h2>{} <small>{}</small></h2><p>{} · {}</p>",
        esc(&w.row.name),
        esc(&w.row.period),
        esc(t(lang, &format!("surveys.state.{}", w.state.code()))),
        esc(&t(lang, "surveys.level").replace("{level}", &pct(w.config.level)))
    );
    if w.row.synthetic {
        body.push_str(&format!(
            "<p class=\"notice\">{}</p>",
            esc(t(lang, "surveys.synthetic_notice"))
        ));
    }
    body.push_str(&format!(
        "<p class=\"hint\">{}</p><p><a href=\"/surveys/{code}/estimates.csv\" data-link=\"estimates-csv\">{}</a></p>",
        esc(t(lang, "surveys.chart_help")),
        esc(t(lang, "surveys.estimates_csv"))
    ));
    if rows.iter().all(|r| r.respondents == 0) {
        body.push_str(&format!("<p>{}</p>", esc(t(lang, "surveys.no_responses"))));
    }
    for ind in Indicator::ALL {
        body.push_str(&format!(
            "<section class=\"survey-indicator\" data-indicator=\"{}\"><h3>{}</h3>",
            ind.code(),
            esc(t(lang, &format!("surveys.indicator.{}", ind.code())))
        ));
        body.push_str(&interval_chart(lang, &w, *ind, &rows));
        body.push_str(&no_data_list(lang, *ind, &rows));
        body.push_str("</section>");
    }
    respond::html_demo(
        &ctx,
        w.row.synthetic,
        &w.row.name,
        &format!("/surveys/{}", w.row.code),
        &body,
    )
}

fn no_data_list(lang: Lang, ind: Indicator, rows: &[StationEstimate]) -> String {
    let missing: Vec<String> = rows
        .iter()
        .filter_map(|s| {
            let e = s.indicator(ind)?;
            let why = e.no_data.as_ref()?;
            Some(format!(
                "<li>{} — {}</li>",
                esc(&s.station.name),
                esc(t(lang, &format!("surveys.no_data.{}", why.code())))
            ))
        })
        .collect();
    if missing.is_empty() {
        String::new()
    } else {
        format!(
            "<details class=\"survey-no-data\"><summary>{} ({})</summary><ul>{}</ul></details>",
            esc(t(lang, "surveys.no_data")),
            missing.len(),
            missing.concat()
        )
    }
}

/// A dot-and-whisker chart: one row per station, sorted by the shrunk estimate (best
/// first); the thin grey whisker and hollow dot are the direct estimate and its
/// interval, the dark ones the shrunk estimate ± 1.96 √MSE; a row is shaded by its
/// probability of being among the last three. No style attributes (CSP).
pub fn interval_chart(lang: Lang, w: &Wave, ind: Indicator, rows: &[StationEstimate]) -> String {
    let rate = is_rate(w, ind);
    let mut items: Vec<(&StationEstimate, &IndicatorEstimate)> = rows
        .iter()
        .filter_map(|s| {
            let e = s.indicator(ind)?;
            e.direct.as_ref()?;
            Some((s, e))
        })
        .collect();
    if items.is_empty() {
        return format!("<p>{}</p>", esc(t(lang, "surveys.no_data_indicator")));
    }
    let centre = |e: &IndicatorEstimate| {
        e.shrunk
            .as_ref()
            .map(|s| s.estimate)
            .or(e.direct.as_ref().map(|d| d.estimate))
            .unwrap_or(0.0)
    };
    items.sort_by(|a, b| centre(b.1).total_cmp(&centre(a.1)));
    // The scale spans every interval drawn.
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for (_, e) in &items {
        if let Some(d) = &e.direct {
            lo = lo.min(d.lower);
            hi = hi.max(d.upper);
        }
        if let Some(s) = &e.shrunk {
            let h = 1.96 * s.mse.sqrt();
            lo = lo.min(s.estimate - h);
            hi = hi.max(s.estimate + h);
        }
    }
    if rate {
        lo = lo.max(0.0);
        hi = hi.min(1.0);
    }
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        lo = if rate { 0.0 } else { lo.min(0.0) };
        hi = if rate { 1.0 } else { lo + 1.0 };
    }
    let pad = (hi - lo) * 0.04;
    let (lo, hi) = (lo - pad, hi + pad);
    let (left, width, row_h, top) = (170.0, 440.0, 18.0, 22.0);
    let x = |v: f64| left + (v.clamp(lo, hi) - lo) / (hi - lo) * width;
    let height = top + row_h * items.len() as f64 + 24.0;
    let mut s = format!(
        "<figure class=\"chart survey-chart\"><svg viewBox=\"0 0 640 {height:.0}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(t(lang, &format!("surveys.indicator.{}", ind.code())))
    );
    // Axis: five ticks.
    for k in 0..=4 {
        let v = lo + (hi - lo) * k as f64 / 4.0;
        let xv = x(v);
        s.push_str(&format!(
            "<line x1=\"{xv:.1}\" y1=\"{:.1}\" x2=\"{xv:.1}\" y2=\"{:.1}\" stroke=\"#d8dee5\"/>\
             <text x=\"{xv:.1}\" y=\"14\" font-size=\"11\" text-anchor=\"middle\" fill=\"#5b6673\">{}</text>",
            top - 4.0,
            height - 20.0,
            esc(&fmt(rate, v))
        ));
    }
    for (k, (st, e)) in items.iter().enumerate() {
        let y = top + row_h * k as f64 + row_h / 2.0;
        let p3 = e.rank.as_ref().map(|r| r.p_bottom3).unwrap_or(0.0);
        if p3 > 0.05 {
            s.push_str(&format!(
                "<rect class=\"survey-bottom3\" x=\"0\" y=\"{:.1}\" width=\"640\" height=\"{row_h:.1}\" fill=\"#D55E00\" fill-opacity=\"{:.2}\"><title>{}</title></rect>",
                y - row_h / 2.0,
                (p3 * 0.45).min(0.45),
                esc(&t(lang, "surveys.p_bottom3_is").replace("{p}", &pct(p3)))
            ));
        }
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#1d2733\">{}</text>",
            left - 8.0,
            y + 4.0,
            esc(&st.station.name)
        ));
        if let Some(d) = &e.direct {
            s.push_str(&format!(
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#9aa5b1\" stroke-width=\"1.5\"/>\
                 <circle class=\"survey-direct\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#ffffff\" stroke=\"#5b6673\"><title>{}</title></circle>",
                x(d.lower),
                y - 3.0,
                x(d.upper),
                y - 3.0,
                x(d.estimate),
                y - 3.0,
                esc(&format!(
                    "{} {} [{}, {}]",
                    t(lang, "surveys.direct"),
                    fmt(rate, d.estimate),
                    fmt(rate, d.lower),
                    fmt(rate, d.upper)
                ))
            ));
        }
        if let Some(sh) = &e.shrunk {
            let h = 1.96 * sh.mse.sqrt();
            s.push_str(&format!(
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#0072B2\" stroke-width=\"2.5\"/>\
                 <circle class=\"survey-shrunk\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#0072B2\"><title>{}</title></circle>",
                x(sh.estimate - h),
                y + 3.0,
                x(sh.estimate + h),
                y + 3.0,
                x(sh.estimate),
                y + 3.0,
                esc(&format!(
                    "{} {} ± {}",
                    t(lang, "surveys.shrunk"),
                    fmt(rate, sh.estimate),
                    fmt(rate, h)
                ))
            ));
        }
    }
    s.push_str(&format!(
        "<text x=\"{left:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#5b6673\">○ {} · ● {} · ▮ {}</text></svg>",
        height - 6.0,
        esc(t(lang, "surveys.direct")),
        esc(t(lang, "surveys.shrunk")),
        esc(t(lang, "surveys.p_bottom3"))
    ));
    s.push_str("</figure>");
    // The numbers behind the figure, for screen readers and for checking.
    s.push_str(&numbers_table(lang, rate, &items));
    s
}

fn numbers_table(
    lang: Lang,
    rate: bool,
    items: &[(&StationEstimate, &IndicatorEstimate)],
) -> String {
    let mut out = format!(
        "<details class=\"survey-numbers\"><summary>{}</summary><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(t(lang, "surveys.numbers")),
        esc(t(lang, "surveys.station")),
        esc(t(lang, "surveys.answered")),
        esc(t(lang, "surveys.direct")),
        esc(t(lang, "surveys.interval")),
        esc(t(lang, "surveys.shrunk")),
        esc(t(lang, "surveys.rank_interval")),
        esc(t(lang, "surveys.p_top6")),
        esc(t(lang, "surveys.p_bottom3")),
    );
    for (s, e) in items {
        out.push_str(&format!(
            "<tr data-station=\"{}\"><td>{}</td><td>{}</td>{}</tr>",
            esc(&s.station.code),
            esc(&s.station.name),
            e.answered,
            indicator_cells(rate, e)
        ));
    }
    out.push_str("</tbody></table></details>");
    out
}

fn indicator_cells(rate: bool, e: &IndicatorEstimate) -> String {
    let (direct, interval) = match &e.direct {
        Some(d) => (
            fmt(rate, d.estimate),
            format!("{} – {}", fmt(rate, d.lower), fmt(rate, d.upper)),
        ),
        None => ("—".into(), "—".into()),
    };
    let shrunk = e
        .shrunk
        .as_ref()
        .map(|s| {
            format!(
                "{} ± {}",
                fmt(rate, s.estimate),
                fmt(rate, 1.96 * s.mse.sqrt())
            )
        })
        .unwrap_or_else(|| "—".into());
    let (ri, top, bottom) = match &e.rank {
        Some(r) => (
            format!("{}–{} / {}", r.lower, r.upper, r.of),
            pct(r.p_top6),
            pct(r.p_bottom3),
        ),
        None => ("—".into(), "—".into(), "—".into()),
    };
    format!(
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
        esc(&direct),
        esc(&interval),
        esc(&shrunk),
        esc(&ri),
        esc(&top),
        esc(&bottom)
    )
}

/// `GET /surveys/{wave}/estimates.csv`: the viewer's stations.
pub async fn estimates_csv(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    match scoped_estimates(&app, &p, &code).await {
        Ok((w, rows)) => match surveys::estimates_csv(&rows) {
            Ok(csv) => csv_response(&format!("{}-estimates.csv", w.row.code), csv),
            Err(e) => respond::app_error(&ctx, e),
        },
        Err(e) => respond::app_error(&ctx, e),
    }
}

/// `GET /surveys/{wave}/allocation.csv`: the agency's sheet.
pub async fn allocation_csv(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let w = match surveys::wave(&app, &code).await {
        Ok(w) => w,
        Err(e) => return respond::app_error(&ctx, e),
    };
    match surveys::allocation(&app, &code).await {
        Ok(lines) => {
            let lines: Vec<_> = lines
                .into_iter()
                .filter(|l| p.scope.contains(l.station.id))
                .collect();
            match surveys::allocation_csv(&lines) {
                Ok(csv) => csv_response(&format!("{}-allocation.csv", w.row.code), csv),
                Err(e) => respond::app_error(&ctx, e),
            }
        }
        Err(e) => respond::app_error(&ctx, e),
    }
}

/// The interviewer form as posted.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct EntryForm {
    station: String,
    area: String,
    mode: String,
    age_band: String,
    sex: String,
    security: String,
    satisfaction: String,
    chief: String,
    comment: String,
    submission: String,
    #[serde(skip)]
    saved: bool,
}

fn options(name: &str, values: &[(&str, String)], chosen: &str) -> String {
    let mut out =
        format!("<select id=\"f-{name}\" name=\"{name}\" required><option value=\"\"></option>");
    for (v, label) in values {
        out.push_str(&format!(
            "<option value=\"{}\"{}>{}</option>",
            esc(v),
            if *v == chosen { " selected" } else { "" },
            esc(label)
        ));
    }
    out.push_str("</select>");
    out
}

async fn entry_page(
    app: &App,
    ctx: &Ctx,
    p: &Principal,
    code: &str,
    f: &EntryForm,
    errors: &[minyi_app::import::RowError],
    status: StatusCode,
) -> Response {
    let lang = ctx.lang;
    let w = match surveys::wave(app, code).await {
        Ok(w) => w,
        Err(e) => return respond::app_error(ctx, e),
    };
    let stations = match surveys::stations(app).await {
        Ok(s) => s,
        Err(e) => return respond::app_error(ctx, e),
    };
    let mut body = format!(
        "<h2>{} <small>{}</small></h2>",
        esc(t(lang, "surveys.enter")),
        esc(&w.row.name)
    );
    if w.state == WaveState::Closed {
        body.push_str(&format!(
            "<p class=\"notice\">{}</p>",
            esc(t(lang, "surveys.closed"))
        ));
        return respond::html(
            ctx,
            StatusCode::OK,
            t(lang, "surveys.enter"),
            "/surveys",
            &body,
        );
    }
    if f.saved {
        body.push_str(&format!(
            "<p class=\"notice\" role=\"status\">{}</p>",
            esc(t(lang, "surveys.saved"))
        ));
    }
    if !errors.is_empty() {
        body.push_str("<div class=\"error-summary\" role=\"alert\"><ul>");
        for e in errors {
            body.push_str(&format!(
                "<li><a href=\"#f-{}\">{}</a>: {}</li>",
                esc(&e.column),
                esc(t(lang, &format!("surveys.field.{}", e.column))),
                esc(&e.reason)
            ));
        }
        body.push_str("</ul></div>");
    }
    let submission = if f.submission.is_empty() {
        minyi_vault::new_secret_token()
    } else {
        f.submission.clone()
    };
    let station_opts: Vec<(&str, String)> = stations
        .iter()
        .filter(|s| p.scope.contains(s.id))
        .map(|s| (s.code.as_str(), format!("{} ({})", s.name, s.county)))
        .collect();
    let scale: Vec<(&str, String)> = ["5", "4", "3", "2", "1", "dont_know"]
        .iter()
        .map(|v| (*v, t(lang, &format!("surveys.answer.{v}")).to_owned()))
        .collect();
    let codes = |all: Vec<&'static str>, prefix: &str| -> Vec<(&'static str, String)> {
        all.into_iter()
            .map(|c| (c, t(lang, &format!("{prefix}.{c}")).to_owned()))
            .collect()
    };
    let field = |name: &str, control: String| {
        format!(
            "<p><label for=\"f-{name}\">{}</label>{control}</p>",
            esc(t(lang, &format!("surveys.field.{name}")))
        )
    };
    body.push_str(&format!(
        "<p class=\"hint\">{}</p><form method=\"post\" action=\"/surveys/{}/responses/new\" class=\"survey-entry\">{}\
         <input type=\"hidden\" name=\"submission\" value=\"{}\">",
        esc(t(lang, "surveys.entry_help")),
        esc(&w.row.code),
        csrf_field(ctx),
        esc(&submission)
    ));
    body.push_str(&field(
        "station",
        options("station", &station_opts, &f.station),
    ));
    body.push_str(&field(
        "area",
        format!(
            "<input id=\"f-area\" name=\"area\" value=\"{}\" autocomplete=\"off\">",
            esc(&f.area)
        ),
    ));
    body.push_str(&field(
        "mode",
        options(
            "mode",
            &codes(Mode::ALL.iter().map(|m| m.code()).collect(), "surveys.mode"),
            &f.mode,
        ),
    ));
    body.push_str(&field(
        "age_band",
        options(
            "age_band",
            &AgeBand::ALL
                .iter()
                .map(|a| (a.code(), a.code().to_owned()))
                .collect::<Vec<_>>(),
            &f.age_band,
        ),
    ));
    body.push_str(&field(
        "sex",
        options(
            "sex",
            &codes(Sex::ALL.iter().map(|s| s.code()).collect(), "surveys.sex"),
            &f.sex,
        ),
    ));
    body.push_str(&field("security", options("security", &scale, &f.security)));
    body.push_str(&field(
        "satisfaction",
        options("satisfaction", &scale, &f.satisfaction),
    ));
    body.push_str(&field(
        "chief",
        options(
            "chief",
            &codes(
                Chief::ALL
                    .iter()
                    .filter(|c| **c != Chief::Missing)
                    .map(|c| c.code())
                    .collect(),
                "surveys.chief",
            ),
            &f.chief,
        ),
    ));
    body.push_str(&format!(
        "<p><label for=\"f-comment\">{}</label><textarea id=\"f-comment\" name=\"comment\" rows=\"3\" maxlength=\"2000\">{}</textarea><span class=\"hint\">{}</span></p>",
        esc(t(lang, "surveys.field.comment")),
        esc(&f.comment),
        esc(t(lang, "surveys.comment_help"))
    ));
    body.push_str(&format!(
        "<p><button type=\"submit\">{}</button></p></form>",
        esc(t(lang, "surveys.save"))
    ));
    let mut r = respond::html(
        ctx,
        status,
        t(lang, "surveys.enter"),
        &format!("/surveys/{}/responses/new", w.row.code),
        &body,
    );
    *r.status_mut() = status;
    r
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct SavedQuery {
    saved: String,
}

/// `GET /surveys/{wave}/responses/new`
pub async fn new_response(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Q(q): Q<SavedQuery>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let f = EntryForm {
        saved: q.saved == "1",
        ..EntryForm::default()
    };
    entry_page(&app, &ctx, &p, &code, &f, &[], StatusCode::OK).await
}

/// `POST /surveys/{wave}/responses/new`
pub async fn post_response(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Form(f): Form<EntryForm>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let fields = FormFields {
        station: f.station.clone(),
        area: f.area.clone(),
        mode: f.mode.clone(),
        age_band: f.age_band.clone(),
        sex: f.sex.clone(),
        security: f.security.clone(),
        satisfaction: f.satisfaction.clone(),
        chief: f.chief.clone(),
        comment: f.comment.clone(),
    };
    match surveys::enter_response(&app, &p, &code, &fields, &f.submission, chrono::Utc::now()).await
    {
        Ok(Ok(_)) => Redirect::to(&format!(
            "/surveys/{}/responses/new?saved=1",
            respond::url_encode(code.trim())
        ))
        .into_response(),
        Ok(Err(errors)) => {
            entry_page(
                &app,
                &ctx,
                &p,
                &code,
                &f,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => respond::app_error(&ctx, e),
    }
}

/// The survey block of a station's page: the three indicators of the latest wave with
/// intervals, direct beside shrunk, rank interval and rank probabilities, and the trend
/// when the station has been surveyed in more than one wave. Empty for units that are
/// not stations and for viewers who cannot see the station.
pub async fn station_block(app: &App, p: &Principal, unit_id: i64, lang: Lang) -> String {
    if !p.may(Permission::ViewOpinions) || !p.scope.contains(unit_id) {
        return String::new();
    }
    let trend = match surveys::station_trend(app, unit_id).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "survey block");
            return format!(
                "<section class=\"survey-station\"><h3>{}</h3><p>{}</p></section>",
                esc(t(lang, "surveys.block_title")),
                esc(t(lang, "surveys.unavailable"))
            );
        }
    };
    let Some((w, latest)) = trend.last() else {
        return String::new();
    };
    let mut out = format!(
        "<section class=\"survey-station\" data-wave=\"{}\"><h3>{}</h3><p><a href=\"/surveys/{}\">{}</a> · {} {}</p>",
        esc(&w.row.code),
        esc(t(lang, "surveys.block_title")),
        esc(&w.row.code),
        esc(&w.row.name),
        esc(t(lang, "surveys.respondents")),
        latest.respondents
    );
    out.push_str(&format!(
        "<table class=\"survey-block\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(t(lang, "surveys.indicator")),
        esc(t(lang, "surveys.answered")),
        esc(t(lang, "surveys.direct")),
        esc(t(lang, "surveys.interval")),
        esc(t(lang, "surveys.shrunk")),
        esc(t(lang, "surveys.rank_interval")),
        esc(t(lang, "surveys.p_top6")),
        esc(t(lang, "surveys.p_bottom3")),
    ));
    for e in &latest.indicators {
        let rate = is_rate(w, e.indicator);
        let cells = match &e.no_data {
            Some(why) => format!(
                "<td colspan=\"6\">{}</td>",
                esc(t(lang, &format!("surveys.no_data.{}", why.code())))
            ),
            None => indicator_cells(rate, e),
        };
        out.push_str(&format!(
            "<tr data-indicator=\"{}\"><th scope=\"row\">{}</th><td>{}</td>{cells}</tr>",
            e.indicator.code(),
            esc(t(
                lang,
                &format!("surveys.indicator.{}", e.indicator.code())
            )),
            e.answered
        ));
    }
    out.push_str("</tbody></table>");
    if trend.len() > 1 {
        out.push_str(&format!(
            "<h4>{}</h4><table class=\"survey-trend\"><thead><tr><th>{}</th>",
            esc(t(lang, "surveys.trend")),
            esc(t(lang, "surveys.period"))
        ));
        for ind in Indicator::ALL {
            out.push_str(&format!(
                "<th>{}</th>",
                esc(t(lang, &format!("surveys.indicator.{}", ind.code())))
            ));
        }
        out.push_str("</tr></thead><tbody>");
        for (w, e) in &trend {
            out.push_str(&format!("<tr><td>{}</td>", esc(&w.row.period)));
            for ind in Indicator::ALL {
                let rate = is_rate(w, *ind);
                let cell = e
                    .indicator(*ind)
                    .and_then(|x| {
                        x.shrunk
                            .as_ref()
                            .map(|s| s.estimate)
                            .or(x.direct.as_ref().map(|d| d.estimate))
                    })
                    .map(|v| fmt(rate, v))
                    .unwrap_or_else(|| "—".into());
                out.push_str(&format!("<td>{}</td>", esc(&cell)));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
    out
}
