//! The dashboard of a city, county or station (or a liaison's department): headline
//! figures, twelve months by channel and by category, verdicts, window ratings, callbacks,
//! and the units below — every figure a link to the records behind it. Charts are SVG
//! drawn here on the server (`crate::svg`), each with a table of the same numbers.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minyi_app::App;
use minyi_app::dashboard::{Dashboard, Series};
use minyi_core::access::Permission;

use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::{Lang, t};
use crate::pages::staff::group_digits;
use crate::respond::{self, url_encode};
use crate::svg;

/// The most series a chart shows; the rest are summed into "other".
const TOP: usize = 6;

fn pct(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| 100.0 * num as f64 / den as f64)
}

fn pct_text(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}%")).unwrap_or_else(|| "—".into())
}

/// The largest series by total, then one "other" series with the rest.
fn top_series(series: &[Series], other_label: &str) -> Vec<(String, Vec<f64>, Option<String>)> {
    let mut sorted: Vec<&Series> = series.iter().collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.values.iter().sum::<i64>()));
    let mut out: Vec<(String, Vec<f64>, Option<String>)> = sorted
        .iter()
        .take(TOP)
        .map(|s| {
            (
                s.key.clone(),
                s.values.iter().map(|v| *v as f64).collect(),
                None,
            )
        })
        .collect();
    if sorted.len() > TOP {
        let n = sorted[0].values.len();
        let mut rest = vec![0.0; n];
        for s in &sorted[TOP..] {
            for (i, v) in s.values.iter().enumerate() {
                rest[i] += *v as f64;
            }
        }
        out.push((other_label.to_owned(), rest, None));
    }
    out
}

pub async fn home(Extension(ctx): Extension<Ctx>) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    if p.may(Permission::ViewOpinions) {
        return Redirect::to(&format!("/dashboard/{}", url_encode(&p.unit_code))).into_response();
    }
    let body = format!(
        "<h2>{}</h2><p>{}</p>",
        esc(t(lang, "home_title")),
        esc(&t(lang, "home_no_opinions")
            .replace("{role}", t(lang, &format!("role.{}", p.role.code()))))
    );
    respond::html(&ctx, StatusCode::OK, t(lang, "home_title"), "/", &body)
}

pub async fn dashboard(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let d = match minyi_app::dashboard::dashboard(&app, &p, &code, chrono::Utc::now()).await {
        Ok(d) => d,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let body = render(ctx.lang, &d);
    let title = format!("{} · {}", d.unit.name, t(ctx.lang, "dashboard_title"));
    let path = format!("/dashboard/{}", d.unit.code);
    respond::html_demo(&ctx, d.synthetic, &title, &path, &body)
}

fn render(lang: Lang, d: &Dashboard) -> String {
    let code = url_encode(d.unit.code.as_str());
    let list = format!("/units/{code}/opinions");
    let received: i64 = d.by_channel.iter().flat_map(|s| s.values.iter()).sum();
    let verdict_total: i64 = d.verdicts.iter().map(|(_, n)| n).sum();
    let verdict_ok: i64 = d
        .verdicts
        .iter()
        .filter(|(v, _)| v.code() != "dissatisfied")
        .map(|(_, n)| n)
        .sum();
    let callbacks_total: i64 = d.callbacks.iter().map(|(_, n)| n).sum();
    let callbacks_done: i64 = d
        .callbacks
        .iter()
        .filter(|(s, _)| s == "done")
        .map(|(_, n)| n)
        .sum();
    let period = format!(
        "{} – {}",
        d.months.first().cloned().unwrap_or_default(),
        d.months.last().cloned().unwrap_or_default()
    );
    let mut b = format!(
        "<h2>{} <small>{}</small></h2><p class=\"period\">{}</p>",
        esc(&d.unit.name),
        esc(t(lang, "dashboard_title")),
        esc(&t(lang, "dashboard_period").replace("{period}", &period)),
    );
    if d.by_department {
        b.push_str(&format!(
            "<p class=\"hint\">{}</p>",
            esc(t(lang, "dashboard_by_department"))
        ));
    }
    // Headline figures, each a link to its records.
    let cards: Vec<(&str, String, String)> = vec![
        ("dash_received", group_digits(received), list.clone()),
        (
            "count_open",
            group_digits(d.open),
            format!("{list}?sort=due&dir=asc"),
        ),
        (
            "col_overdue",
            group_digits(d.overdue),
            format!("{list}?overdue=1&sort=due&dir=asc"),
        ),
        (
            "dash_due_soon",
            group_digits(d.due_soon),
            format!("{list}?sort=due&dir=asc"),
        ),
        (
            "dash_on_time",
            pct_text(pct(d.answered_on_time, d.answered)),
            format!("{list}?state=responded"),
        ),
        (
            "dash_verdict_ok",
            pct_text(pct(verdict_ok, verdict_total)),
            format!("{list}?state=closed"),
        ),
        (
            "dash_window_ok",
            pct_text(pct(d.ratings.satisfied, d.ratings.total)),
            format!("/units/{code}"),
        ),
        (
            "dash_callbacks_done",
            pct_text(pct(callbacks_done, callbacks_total)),
            format!("/units/{code}"),
        ),
    ];
    b.push_str("<ul class=\"cards\">");
    for (key, value, href) in &cards {
        b.push_str(&format!(
            "<li><a href=\"{}\"><span class=\"n\" data-figure=\"{key}\">{}</span><span class=\"l\">{}</span></a></li>",
            esc(href),
            esc(value),
            esc(t(lang, key))
        ));
    }
    b.push_str("</ul>");

    let months: Vec<String> = d.months.clone();
    let other = t(lang, "dash_other");
    // Opinions by channel over the months, and by category stacked; each series links to
    // the list filtered to it.
    type Chart = fn(&str, &str, &str, &[String], &[svg::Series<'_>], &str) -> String;
    let figures: [(&[Series], &str, &str, &str, Chart); 2] = [
        (
            &d.by_channel,
            "channel",
            "by-channel",
            "dash_by_channel",
            svg::line_chart,
        ),
        (
            &d.by_category,
            "category",
            "by-category",
            "dash_by_category",
            svg::stacked_columns,
        ),
    ];
    for (data, dim, id, key, chart) in figures {
        let top = top_series(data, other);
        let labels: Vec<String> = top
            .iter()
            .map(|(k, _, _)| {
                if k == other {
                    k.clone()
                } else {
                    t(lang, &format!("{dim}.{k}")).to_owned()
                }
            })
            .collect();
        let hrefs: Vec<Option<String>> = top
            .iter()
            .map(|(k, _, _)| (k != other).then(|| format!("{list}?{dim}={}", url_encode(k))))
            .collect();
        let series: Vec<svg::Series> = top
            .iter()
            .enumerate()
            .map(|(i, (_, v, _))| svg::Series {
                label: &labels[i],
                values: v,
                href: hrefs[i].as_deref(),
            })
            .collect();
        let desc_key = format!("{key}_desc");
        b.push_str(&format!(
            "<section class=\"figure\"><h3>{}</h3>{}</section>",
            esc(t(lang, key)),
            chart(
                id,
                t(lang, key),
                t(lang, &desc_key),
                &months,
                &series,
                t(lang, "chart_no_data"),
            )
        ));
    }
    // Residents' verdicts and window ratings side by side.
    let verdict_labels: Vec<(String, String)> = d
        .verdicts
        .iter()
        .map(|(v, n)| {
            (
                t(lang, &format!("verdict.{}", v.code())).to_owned(),
                group_digits(*n),
            )
        })
        .collect();
    let verdict_href = format!("{list}?state=closed");
    let bars: Vec<svg::Bar> = d
        .verdicts
        .iter()
        .enumerate()
        .map(|(i, (_, n))| svg::Bar {
            label: &verdict_labels[i].0,
            value: *n as f64,
            display: &verdict_labels[i].1,
            href: Some(&verdict_href),
        })
        .collect();
    b.push_str("<div class=\"pair\">");
    b.push_str(&format!(
        "<section class=\"figure\"><h3>{}</h3>{}</section>",
        esc(t(lang, "dash_verdicts")),
        svg::bar_chart(
            "verdicts",
            t(lang, "dash_verdicts"),
            t(lang, "dash_verdicts_desc"),
            &bars,
            None,
            t(lang, "chart_no_data"),
        )
    ));
    let rating_labels: Vec<(String, String)> = d
        .ratings
        .by_level
        .iter()
        .map(|(level, n)| {
            (
                t(lang, &format!("rating_level.{level}")).to_owned(),
                group_digits(*n),
            )
        })
        .collect();
    let bars: Vec<svg::Bar> = d
        .ratings
        .by_level
        .iter()
        .enumerate()
        .map(|(i, (_, n))| svg::Bar {
            label: &rating_labels[i].0,
            value: *n as f64,
            display: &rating_labels[i].1,
            href: None,
        })
        .collect();
    b.push_str(&format!(
        "<section class=\"figure\"><h3>{}</h3>{}</section></div>",
        esc(t(lang, "dash_ratings")),
        svg::bar_chart(
            "ratings",
            t(lang, "dash_ratings"),
            t(lang, "dash_ratings_desc"),
            &bars,
            None,
            t(lang, "chart_no_data"),
        )
    ));
    // Callbacks by state.
    if callbacks_total > 0 {
        b.push_str(&format!(
            "<section><h3>{}</h3><ul class=\"cards small\">",
            esc(t(lang, "dash_callbacks"))
        ));
        for (state, n) in &d.callbacks {
            b.push_str(&format!(
                "<li><span class=\"n\">{}</span><span class=\"l\">{}</span></li>",
                group_digits(*n),
                esc(t(lang, &format!("callback_state.{state}")))
            ));
        }
        b.push_str("</ul></section>");
    }
    // The units below: on-time rate ranked, and every figure in a table.
    if !d.children.is_empty() {
        let mut ranked: Vec<&minyi_app::dashboard::ChildSummary> = d.children.iter().collect();
        ranked.sort_by(|a, b| {
            let ra = pct(a.answered_on_time, a.answered).unwrap_or(-1.0);
            let rb = pct(b.answered_on_time, b.answered).unwrap_or(-1.0);
            rb.total_cmp(&ra)
        });
        let texts: Vec<(String, String)> = ranked
            .iter()
            .map(|c| {
                (
                    pct_text(pct(c.answered_on_time, c.answered)),
                    format!("/dashboard/{}", url_encode(c.unit.code.as_str())),
                )
            })
            .collect();
        let bars: Vec<svg::Bar> = ranked
            .iter()
            .enumerate()
            .map(|(i, c)| svg::Bar {
                label: &c.unit.name,
                value: pct(c.answered_on_time, c.answered).unwrap_or(f64::NAN),
                display: &texts[i].0,
                href: Some(&texts[i].1),
            })
            .collect();
        b.push_str(&format!(
            "<section class=\"figure\"><h3>{}</h3>{}</section>",
            esc(t(lang, "dash_children_on_time")),
            svg::bar_chart(
                "children-on-time",
                t(lang, "dash_children_on_time"),
                t(lang, "dash_children_on_time_desc"),
                &bars,
                Some(100.0),
                t(lang, "chart_no_data"),
            )
        ));
        b.push_str(&format!(
            "<section><h3>{}</h3><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th></tr></thead><tbody>",
            esc(t(lang, "dash_children")),
            esc(t(lang, "col_unit")),
            esc(t(lang, "dash_received")),
            esc(t(lang, "count_open")),
            esc(t(lang, "col_overdue")),
            esc(t(lang, "dash_on_time")),
            esc(t(lang, "dash_verdict_ok")),
        ));
        for c in &d.children {
            let cc = url_encode(c.unit.code.as_str());
            b.push_str(&format!(
                "<tr data-unit=\"{}\"><td><a href=\"/dashboard/{cc}\">{}</a></td><td class=\"num\"><a href=\"/units/{cc}/opinions\">{}</a></td><td class=\"num\">{}</td><td class=\"num{}\"><a href=\"/units/{cc}/opinions?overdue=1\">{}</a></td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(c.unit.code.as_str()),
                esc(&c.unit.name),
                group_digits(c.opinions),
                group_digits(c.open),
                if c.overdue > 0 { " overdue" } else { "" },
                group_digits(c.overdue),
                pct_text(pct(c.answered_on_time, c.answered)),
                pct_text(pct(c.verdicts_satisfied, c.verdicts_total)),
            ));
        }
        b.push_str("</tbody></table></section>");
    }
    b.push_str(&format!(
        "<p class=\"links\"><a href=\"{list}\">{}</a> · <a href=\"/map/{code}\">{}</a> · <a href=\"/units/{code}\">{}</a></p>",
        esc(t(lang, "unit_all_opinions")),
        esc(t(lang, "dash_map")),
        esc(t(lang, "dash_unit_page"))
    ));
    b
}
