//! Pages of briefings (研判报告): the list with the "draft now" form (`/briefings`), one
//! briefing with its figures, charts and — for the unit's analysts while it is a draft —
//! the edit and publish forms (`/briefings/{id}`), the A4 print view with SVG charts
//! (`/briefings/{id}/print`), and the DOCX download (`/briefings/{id}.docx`, the same
//! route as the page, told apart by the suffix).
//!
//! Who may see and do what is `minyi_app::briefings`' decision; this module only parses
//! forms and renders. The document (title, headings, text) is Chinese whatever the page
//! language, because that is what is filed and printed; labels of the page around it and
//! of the figure tables follow the page language (DOCX: always zh-CN). It must not
//! compute figures, and it never prints anything the app did not mask.

use axum::extract::{Extension, Form, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minyi_app::App;
use minyi_app::briefings::{Briefing, Figures, Section, change_pct, may_edit};
use minyi_app::handling::Refusal;
use minyi_store::BriefingState;

use crate::docx::{self, Block};
use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::{Lang, t};
use crate::respond::{self, csrf_field, local};
use crate::svg;

/// Briefings listed on `/briefings`.
pub const LIST_LIMIT: i64 = 200;

/// The print stylesheet: A4 pages, serif body, tables and charts kept whole.
pub const PRINT_CSS: &str = include_str!("../../assets/briefing-print.css");

pub async fn print_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        PRINT_CSS,
    )
        .into_response()
}

/// A table of figures: caption, header row, rows.
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

fn pct(x: Option<f64>) -> String {
    match x {
        Some(v) if v > 0.0 => format!("+{v:.1}%"),
        Some(v) => format!("{v:.1}%"),
        None => "—".into(),
    }
}

fn rate(a: i64, b: i64) -> String {
    if b > 0 {
        format!("{:.1}%", a as f64 * 100.0 / b as f64)
    } else {
        "—".into()
    }
}

fn label(lang: Lang, prefix: &str, code: &str) -> String {
    let key = format!("{prefix}.{code}");
    let v = t(lang, &key);
    if v == key {
        code.to_owned()
    } else {
        v.to_owned()
    }
}

/// The figure tables of a section, in the order they are shown.
pub fn tables(lang: Lang, s: &Section) -> Vec<Table> {
    let l = |k: &str| t(lang, k).to_owned();
    match &s.figures {
        Figures::Headline(h) => {
            let rated = h.satisfied + h.basically_satisfied + h.dissatisfied;
            let mut rows = vec![
                vec![
                    l("briefings_received"),
                    h.received.to_string(),
                    h.previous_received.to_string(),
                    pct(change_pct(h.received, h.previous_received)),
                ],
                vec![
                    l("briefings_answered"),
                    h.answered.to_string(),
                    String::new(),
                    String::new(),
                ],
                vec![
                    l("briefings_on_time_rate"),
                    rate(h.answered_on_time, h.answered),
                    String::new(),
                    String::new(),
                ],
                vec![
                    l("briefings_satisfied"),
                    h.satisfied.to_string(),
                    String::new(),
                    String::new(),
                ],
                vec![
                    l("briefings_basically_satisfied"),
                    h.basically_satisfied.to_string(),
                    String::new(),
                    String::new(),
                ],
                vec![
                    l("briefings_dissatisfied"),
                    h.dissatisfied.to_string(),
                    String::new(),
                    String::new(),
                ],
                vec![
                    l("briefings_satisfaction_rate"),
                    rate(h.satisfied + h.basically_satisfied, rated),
                    String::new(),
                    String::new(),
                ],
            ];
            for (state, n) in &h.callbacks {
                rows.push(vec![
                    format!(
                        "{} · {}",
                        l("briefings_callbacks"),
                        label(lang, "briefings_callback", state)
                    ),
                    n.to_string(),
                    String::new(),
                    String::new(),
                ]);
            }
            let channels = h
                .by_channel
                .iter()
                .map(|c| {
                    vec![
                        label(lang, "channel", &c.code),
                        c.count.to_string(),
                        c.previous.to_string(),
                        pct(c.change_pct()),
                    ]
                })
                .collect();
            vec![
                Table {
                    caption: l("briefings_key_figures"),
                    header: vec![
                        l("briefings_metric"),
                        l("briefings_this_period"),
                        l("briefings_previous"),
                        l("briefings_change"),
                    ],
                    rows,
                },
                Table {
                    caption: l("briefings_by_channel"),
                    header: vec![
                        l("briefings_channel"),
                        l("briefings_this_period"),
                        l("briefings_previous"),
                        l("briefings_change"),
                    ],
                    rows: channels,
                },
            ]
        }
        Figures::TopIssues(ti) => vec![Table {
            caption: l("briefings_top_issues"),
            header: vec![
                l("briefings_category"),
                l("briefings_this_period"),
                l("briefings_previous"),
                l("briefings_change"),
            ],
            rows: ti
                .rows
                .iter()
                .map(|r| {
                    vec![
                        label(lang, "category", &r.code),
                        r.count.to_string(),
                        r.previous.to_string(),
                        pct(r.change_pct()),
                    ]
                })
                .collect(),
        }],
        Figures::Trends(tr) => {
            let mut header = vec![l("briefings_date")];
            for line in &tr.lines {
                header.push(if line.key == "total" {
                    l("briefings_total")
                } else {
                    label(lang, "category", &line.key)
                });
            }
            let rows = tr
                .labels
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let mut r = vec![d.clone()];
                    r.extend(tr.lines.iter().map(|line| {
                        line.values
                            .get(i)
                            .map(|v| v.to_string())
                            .unwrap_or_default()
                    }));
                    r
                })
                .collect();
            vec![Table {
                caption: l(if tr.step == "week" {
                    "briefings_trend_weekly"
                } else {
                    "briefings_trend_daily"
                }),
                header,
                rows,
            }]
        }
        Figures::Hotspots(hs) => vec![
            Table {
                caption: l("briefings_clusters"),
                header: vec![
                    l("briefings_category"),
                    l("briefings_centre"),
                    l("briefings_villages"),
                    l("briefings_days"),
                    l("briefings_observed"),
                    l("briefings_expected"),
                    l("briefings_p_value"),
                ],
                rows: hs
                    .clusters
                    .iter()
                    .map(|c| {
                        let mut v: Vec<String> = c.villages.iter().take(5).cloned().collect();
                        if c.villages.len() > 5 {
                            v.push(format!("… ({})", c.villages.len()));
                        }
                        vec![
                            label(lang, "category", &c.category),
                            c.centre.clone(),
                            v.join("、"),
                            format!("{} – {}", c.first_day, c.last_day),
                            c.observed.to_string(),
                            format!("{:.1}", c.expected),
                            format!("{:.3}", c.p_value),
                        ]
                    })
                    .collect(),
            },
            Table {
                caption: l("briefings_alerts"),
                header: vec![
                    l("briefings_unit"),
                    l("briefings_category"),
                    l("briefings_since"),
                    l("briefings_last_week"),
                    l("briefings_baseline"),
                ],
                rows: hs
                    .alerts
                    .iter()
                    .map(|a| {
                        vec![
                            a.unit_name.clone(),
                            label(lang, "category", &a.category),
                            a.since.to_string(),
                            a.last_week.to_string(),
                            format!("{:.2}", a.baseline_mean),
                        ]
                    })
                    .collect(),
            },
        ],
        Figures::KeyOpinions(k) => vec![Table {
            caption: l("briefings_key_opinions"),
            header: vec![
                l("briefings_code"),
                l("briefings_received_at"),
                l("briefings_unit"),
                l("briefings_category"),
                l("briefings_reason"),
                l("briefings_state"),
                l("briefings_excerpt"),
                l("briefings_answer"),
            ],
            rows: k
                .rows
                .iter()
                .map(|o| {
                    vec![
                        o.tracking_code.clone(),
                        local(o.received_at),
                        o.unit_name.clone(),
                        label(lang, "category", &o.category),
                        label(lang, "briefings_reason", &o.reason),
                        label(lang, "state", &o.state),
                        o.excerpt.clone(),
                        o.answer
                            .clone()
                            .unwrap_or_else(|| l("briefings_not_answered")),
                    ]
                })
                .collect(),
        }],
        Figures::Departments(d) => vec![Table {
            caption: l("briefings_departments"),
            header: vec![
                l("briefings_department"),
                l("briefings_received"),
                l("briefings_answered"),
                l("briefings_dissatisfied"),
            ],
            rows: d
                .rows
                .iter()
                .map(|r| {
                    vec![
                        label(lang, "triage.department", &r.department),
                        r.received.to_string(),
                        r.answered.to_string(),
                        r.dissatisfied.to_string(),
                    ]
                })
                .collect(),
        }],
        Figures::Summary => Vec::new(),
    }
}

fn table_html(lang: Lang, tb: &Table) -> String {
    let mut out = format!(
        "<table class=\"briefing-table\"><caption>{}</caption><thead><tr>",
        esc(&tb.caption)
    );
    for h in &tb.header {
        out.push_str(&format!("<th scope=\"col\">{}</th>", esc(h)));
    }
    out.push_str("</tr></thead><tbody>");
    if tb.rows.is_empty() {
        out.push_str(&format!(
            "<tr><td colspan=\"{}\">{}</td></tr>",
            tb.header.len().max(1),
            esc(t(lang, "briefings_no_rows"))
        ));
    }
    for r in &tb.rows {
        out.push_str("<tr>");
        for c in r {
            out.push_str(&format!("<td>{}</td>", esc(c)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// The SVG charts of a section: bars of the top issues, lines of the trend.
pub fn charts(lang: Lang, s: &Section) -> String {
    match &s.figures {
        Figures::TopIssues(ti) => {
            let labels: Vec<String> = ti
                .rows
                .iter()
                .map(|r| label(lang, "category", &r.code))
                .collect();
            let displays: Vec<String> = ti
                .rows
                .iter()
                .map(|r| format!("{} ({})", r.count, pct(r.change_pct())))
                .collect();
            let bars: Vec<svg::Bar<'_>> = ti
                .rows
                .iter()
                .enumerate()
                .map(|(i, r)| svg::Bar {
                    label: &labels[i],
                    value: r.count as f64,
                    display: &displays[i],
                    href: None,
                })
                .collect();
            svg::bar_chart(
                &format!("briefing-top-{}", s.position),
                t(lang, "briefings_chart_top"),
                t(lang, "briefings_chart_top_desc"),
                &bars,
                None,
                t(lang, "briefings_no_rows"),
            )
        }
        Figures::Trends(tr) => {
            let names: Vec<String> = tr
                .lines
                .iter()
                .map(|l| {
                    if l.key == "total" {
                        t(lang, "briefings_total").to_owned()
                    } else {
                        label(lang, "category", &l.key)
                    }
                })
                .collect();
            let values: Vec<Vec<f64>> = tr
                .lines
                .iter()
                .map(|l| l.values.iter().map(|v| *v as f64).collect())
                .collect();
            let series: Vec<svg::Series<'_>> = names
                .iter()
                .zip(&values)
                .map(|(n, v)| svg::Series {
                    label: n,
                    values: v,
                    href: None,
                })
                .collect();
            svg::line_chart(
                &format!("briefing-trend-{}", s.position),
                t(lang, "briefings_chart_trend"),
                t(lang, "briefings_chart_trend_desc"),
                &tr.labels,
                &series,
                t(lang, "briefings_no_rows"),
            )
        }
        _ => String::new(),
    }
}

/// The text of a section as paragraphs (each line one paragraph).
fn body_html(s: &Section) -> String {
    s.body
        .split('\n')
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("<p class=\"body\">{}</p>", esc(l)))
        .collect()
}

fn meta_line(lang: Lang, b: &Briefing) -> String {
    let state_key = format!("briefings_state_{}", b.row.state.code());
    let state = t(lang, &state_key);
    let mut s = format!(
        "{} · {} {} · {}",
        b.row.period,
        t(lang, "briefings_version"),
        b.row.version,
        state
    );
    if let (Some(by), Some(at)) = (&b.row.published_by, b.row.published_at) {
        s.push_str(&format!(
            " · {} {} {}",
            t(lang, "briefings_published_by"),
            by.trim_start_matches("user:"),
            local(at)
        ));
    }
    s
}

/// The whole printable document: title, meta line, each section with its text, charts
/// and tables. `inline_css` embeds the print stylesheet (a file written by the CLI);
/// otherwise it is linked (a served page, whose CSP forbids inline styles).
pub fn document_html(lang: Lang, b: &Briefing, inline_css: bool) -> String {
    let css = if inline_css {
        format!("<style>{PRINT_CSS}</style>")
    } else {
        "<link rel=\"stylesheet\" href=\"/assets/briefing-print.css\">".to_owned()
    };
    let mut body = format!(
        "<h1>{}</h1><p class=\"meta\">{}</p>",
        esc(&b.row.title),
        esc(&meta_line(lang, b))
    );
    if b.row.synthetic {
        body.push_str(&format!(
            "<p class=\"meta\">{}</p>",
            esc(t(lang, "synthetic_banner"))
        ));
    }
    for s in &b.sections {
        body.push_str(&format!(
            "<section class=\"briefing-section\" data-kind=\"{}\"><h2>{}</h2>{}{}",
            s.kind.code(),
            esc(&s.heading),
            body_html(s),
            charts(lang, s)
        ));
        for tb in tables(lang, s) {
            body.push_str(&table_html(lang, &tb));
        }
        body.push_str("</section>");
    }
    format!(
        "<!doctype html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n{css}\n</head>\n\
         <body class=\"briefing-print\">\n<p class=\"no-print\"><a href=\"/briefings/{}\">{}</a> · {}</p>\n{body}\n</body>\n</html>\n",
        lang.tag(),
        esc(&b.row.title),
        b.row.id,
        esc(t(lang, "briefings_back")),
        esc(t(lang, "briefings_print_hint")),
    )
}

/// The DOCX package of a briefing (labels in zh-CN, as filed).
pub fn docx_bytes(b: &Briefing) -> Result<Vec<u8>, zip::result::ZipError> {
    let lang = Lang::ZhCn;
    let mut blocks = vec![
        Block::Title(b.row.title.clone()),
        Block::Note(meta_line(lang, b)),
    ];
    if b.row.synthetic {
        blocks.push(Block::Note(t(lang, "synthetic_banner").to_owned()));
    }
    for s in &b.sections {
        blocks.push(Block::Heading(s.heading.clone()));
        blocks.push(Block::Paragraph(s.body.clone()));
        for tb in tables(lang, s) {
            blocks.push(Block::Note(tb.caption));
            blocks.push(Block::Table {
                header: tb.header,
                rows: tb.rows,
            });
        }
    }
    docx::write(&b.row.title, b.row.updated_at, &blocks)
}

/// The file name of the download: ASCII (headers), unit code and period.
fn docx_name(b: &Briefing) -> String {
    let safe: String = format!(
        "briefing-{}-{}-v{}",
        b.unit.code.as_str(),
        b.row.period,
        b.row.version
    )
    .chars()
    .map(|c| {
        if c.is_ascii_alphanumeric() || c == '-' {
            c
        } else {
            '_'
        }
    })
    .collect();
    format!("{safe}.docx")
}

fn refused(ctx: &Ctx, Refusal(key): Refusal) -> Response {
    let mut r = respond::app_error(
        ctx,
        minyi_app::AppError::Invalid(t(ctx.lang, key).to_owned()),
    );
    *r.status_mut() = StatusCode::CONFLICT;
    r
}

/// `GET /briefings`: the briefings in scope and, for analysts, the draft form.
pub async fn list(State(app): State<App>, Extension(ctx): Extension<Ctx>) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let rows = match minyi_app::briefings::list(&app, &p, LIST_LIMIT).await {
        Ok(r) => r,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let mut body = format!(
        "<h2>{}</h2><p class=\"hint\">{}</p>",
        esc(t(lang, "briefings_title")),
        esc(t(lang, "briefings_hint"))
    );
    if may_edit(&p) {
        body.push_str(&format!(
            "<form method=\"post\" action=\"/briefings\" class=\"briefing-draft\">{}\
             <label>{} <input name=\"unit\" value=\"{}\" required></label> \
             <label>{} <input name=\"period\" placeholder=\"2026-11\" required></label> \
             <button type=\"submit\">{}</button><p class=\"hint\">{}</p></form>",
            csrf_field(&ctx),
            esc(t(lang, "briefings_unit")),
            esc(&p.unit_code),
            esc(t(lang, "briefings_period")),
            esc(t(lang, "briefings_draft_now")),
            esc(t(lang, "briefings_period_hint")),
        ));
    }
    if rows.is_empty() {
        body.push_str(&format!("<p>{}</p>", esc(t(lang, "briefings_none"))));
    } else {
        body.push_str(&format!(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
            esc(t(lang, "briefings_unit")),
            esc(t(lang, "briefings_period")),
            esc(t(lang, "briefings_version")),
            esc(t(lang, "briefings_state")),
            esc(t(lang, "briefings_updated")),
            esc(t(lang, "briefings_doc_title")),
        ));
        for (b, u) in &rows {
            body.push_str(&format!(
                "<tr data-briefing=\"{id}\" data-state=\"{st}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td><a href=\"/briefings/{id}\">{}</a></td>\
                 <td><a href=\"/briefings/{id}/print\">{}</a> · <a href=\"/briefings/{id}.docx\">DOCX</a></td></tr>",
                esc(&u.name),
                esc(&b.period),
                b.version,
                esc(t(lang, &format!("briefings_state_{}", b.state.code()))),
                local(b.updated_at),
                esc(&b.title),
                esc(t(lang, "briefings_print")),
                id = b.id,
                st = b.state.code(),
            ));
        }
        body.push_str("</tbody></table>");
    }
    respond::html(
        &ctx,
        StatusCode::OK,
        t(lang, "briefings_title"),
        "/briefings",
        &body,
    )
}

#[derive(serde::Deserialize)]
pub struct DraftForm {
    #[serde(default)]
    unit: String,
    #[serde(default)]
    period: String,
}

/// `POST /briefings`: draft now; on success, to the new draft.
pub async fn create(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<DraftForm>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    match minyi_app::briefings::create(&app, &p, &f.unit, &f.period, chrono::Utc::now()).await {
        Ok(Ok(row)) => Redirect::to(&format!("/briefings/{}", row.id)).into_response(),
        Ok(Err(r)) => refused(&ctx, r),
        Err(e) => respond::app_error(&ctx, e),
    }
}

/// The id in a path: a number, or `N.docx` for the download. Anything else names no
/// briefing.
fn parse_id(raw: &str) -> Option<(i64, bool)> {
    let (num, docx) = match raw.strip_suffix(".docx") {
        Some(n) => (n, true),
        None => (raw, false),
    };
    num.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(|n| (n, docx))
}

/// `GET /briefings/{id}` (page) and `GET /briefings/{id}.docx` (download).
pub async fn view(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(raw): Path<String>,
) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let Some((id, docx)) = parse_id(raw.trim()) else {
        return respond::status_page(&ctx, StatusCode::NOT_FOUND, "not_found");
    };
    let b = match minyi_app::briefings::open(&app, &p, id).await {
        Ok(b) => b,
        Err(e) => return respond::app_error(&ctx, e),
    };
    if docx {
        return match docx_bytes(&b) {
            Ok(bytes) => (
                [
                    (
                        header::CONTENT_TYPE,
                        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                            .to_owned(),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{}\"", docx_name(&b)),
                    ),
                ],
                bytes,
            )
                .into_response(),
            Err(e) => {
                tracing::error!(error = %e, briefing = id, "DOCX export failed");
                respond::status_page(&ctx, StatusCode::INTERNAL_SERVER_ERROR, "server_error")
            }
        };
    }
    let editable = may_edit(&p) && b.row.state == BriefingState::Draft;
    let mut body = format!(
        "<h2>{}</h2><p class=\"hint\">{} · <a href=\"/briefings/{id}/print\">{}</a> · <a href=\"/briefings/{id}.docx\">DOCX</a></p>",
        esc(&b.row.title),
        esc(&meta_line(lang, &b)),
        esc(t(lang, "briefings_print")),
    );
    if b.row.state == BriefingState::Published {
        body.push_str(&format!(
            "<p class=\"notice\">{}</p>",
            esc(t(lang, "briefings_frozen_note"))
        ));
    }
    if editable {
        body.push_str(&format!(
            "<form method=\"post\" action=\"/briefings/{id}/edit\" class=\"briefing-edit\">{}\
             <input type=\"hidden\" name=\"revision\" value=\"{}\">",
            csrf_field(&ctx),
            b.row.revision
        ));
    }
    for s in &b.sections {
        body.push_str(&format!(
            "<section class=\"briefing-section\" data-kind=\"{}\"><h3>{}</h3>",
            s.kind.code(),
            esc(&s.heading)
        ));
        if editable {
            body.push_str(&format!(
                "<label class=\"block\">{}<textarea name=\"s{}\" rows=\"6\" cols=\"80\">{}</textarea></label>",
                esc(t(lang, "briefings_text")),
                s.position,
                esc(&s.body)
            ));
        } else {
            body.push_str(&body_html(s));
        }
        if let (Some(by), Some(at)) = (&s.edited_by, s.edited_at) {
            body.push_str(&format!(
                "<p class=\"hint\">{} {} {}</p>",
                esc(t(lang, "briefings_edited_by")),
                esc(by.trim_start_matches("user:")),
                local(at)
            ));
        }
        body.push_str(&charts(lang, s));
        for tb in tables(lang, s) {
            body.push_str(&table_html(lang, &tb));
        }
        body.push_str("</section>");
    }
    if editable {
        body.push_str(&format!(
            "<button type=\"submit\">{}</button></form>\
             <form method=\"post\" action=\"/briefings/{id}/publish\" class=\"briefing-publish\">{}\
             <input type=\"hidden\" name=\"revision\" value=\"{}\">\
             <p class=\"hint\">{}</p><button type=\"submit\">{}</button></form>",
            esc(t(lang, "briefings_save")),
            csrf_field(&ctx),
            b.row.revision,
            esc(t(lang, "briefings_publish_hint")),
            esc(t(lang, "briefings_publish")),
        ));
    }
    let path = format!("/briefings/{id}");
    respond::html_demo(&ctx, b.row.synthetic, &b.row.title, &path, &body)
}

fn revision_of(fields: &[(String, String)]) -> Option<i64> {
    fields
        .iter()
        .find(|(k, _)| k == "revision")
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// `POST /briefings/{id}/edit`: the texts of the sections (`s{position}` fields) at a
/// revision.
pub async fn edit(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(raw): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let Some((id, false)) = parse_id(raw.trim()) else {
        return respond::status_page(&ctx, StatusCode::NOT_FOUND, "not_found");
    };
    let Some(revision) = revision_of(&fields) else {
        return refused(&ctx, Refusal("briefings_stale"));
    };
    let mut edits = Vec::new();
    for (k, v) in &fields {
        if let Some(pos) = k.strip_prefix('s') {
            match pos.parse::<i64>() {
                Ok(pos) => edits.push((pos, v.clone())),
                Err(_) => return refused(&ctx, Refusal("briefings_unknown_section")),
            }
        }
    }
    match minyi_app::briefings::edit(&app, &p, id, revision, &edits, chrono::Utc::now()).await {
        Ok(Ok(_)) => Redirect::to(&format!("/briefings/{id}")).into_response(),
        Ok(Err(r)) => refused(&ctx, r),
        Err(e) => respond::app_error(&ctx, e),
    }
}

/// `POST /briefings/{id}/publish`: publishes the draft as it stood at the revision.
pub async fn publish(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(raw): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let Some((id, false)) = parse_id(raw.trim()) else {
        return respond::status_page(&ctx, StatusCode::NOT_FOUND, "not_found");
    };
    let Some(revision) = revision_of(&fields) else {
        return refused(&ctx, Refusal("briefings_stale"));
    };
    match minyi_app::briefings::publish(&app, &p, id, revision, chrono::Utc::now()).await {
        Ok(Ok(())) => Redirect::to(&format!("/briefings/{id}")).into_response(),
        Ok(Err(r)) => refused(&ctx, r),
        Err(e) => respond::app_error(&ctx, e),
    }
}

/// `GET /briefings/{id}/print`: the A4 print view.
pub async fn print(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(raw): Path<String>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let Some((id, false)) = parse_id(raw.trim()) else {
        return respond::status_page(&ctx, StatusCode::NOT_FOUND, "not_found");
    };
    match minyi_app::briefings::open(&app, &p, id).await {
        Ok(b) => Html(document_html(ctx.lang, &b, false)).into_response(),
        Err(e) => respond::app_error(&ctx, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_downloads_parse() {
        assert_eq!(parse_id("12"), Some((12, false)));
        assert_eq!(parse_id("12.docx"), Some((12, true)));
        for bad in ["", "0", "-3", "x.docx", "12.pdf", "12.docx.docx"] {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
    }
}
