//! The map of a unit's areas: townships or villages coloured by opinions received in the
//! last twelve months (count, or per 10,000 residents) or by overdue matters, the five
//! highest rates marked, every area a link to its page, and the same numbers as a table.

use std::collections::HashMap;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minyi_app::App;
use minyi_core::org::AreaKind;

use crate::extract::Q;
use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::t;
use crate::pages::staff::group_digits;
use crate::respond::{self, url_encode};
use crate::svg;

#[derive(serde::Deserialize, Default)]
pub struct MapQuery {
    #[serde(default)]
    level: String,
    #[serde(default)]
    metric: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Metric {
    Received,
    Rate,
    Overdue,
}

impl Metric {
    fn code(self) -> &'static str {
        match self {
            Metric::Received => "received",
            Metric::Rate => "rate",
            Metric::Overdue => "overdue",
        }
    }
}

pub async fn map(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Q(q): Q<MapQuery>,
) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let level = match q.level.as_str() {
        "" | "township" => AreaKind::Township,
        "village" => AreaKind::Village,
        other => {
            return respond::app_error(
                &ctx,
                minyi_app::AppError::Invalid(format!("level `{other}` is not township or village")),
            );
        }
    };
    let metric = match q.metric.as_str() {
        "" | "received" => Metric::Received,
        "rate" => Metric::Rate,
        "overdue" => Metric::Overdue,
        other => {
            return respond::app_error(
                &ctx,
                minyi_app::AppError::Invalid(format!(
                    "metric `{other}` is not received, rate or overdue"
                )),
            );
        }
    };
    let shapes = match minyi_app::geo::map_shapes(&app, &p, &code).await {
        Ok(s) => s,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let unit = match app.store.unit_by_code(code.trim()).await {
        Ok(Some(u)) => u,
        Ok(None) => return respond::status_page(&ctx, StatusCode::NOT_FOUND, "not_found"),
        Err(e) => return respond::app_error(&ctx, e.into()),
    };
    let now = chrono::Utc::now();
    let since = now - chrono::Duration::days(365);
    let scope_units: Vec<i64> = {
        let tree = match app.store.unit_tree().await {
            Ok(t) => t,
            Err(e) => return respond::app_error(&ctx, e.into()),
        };
        minyi_core::access::Scope::subtree(unit.id, &tree)
            .units()
            .filter(|u| p.scope.contains(*u))
            .collect()
    };
    let counts = match app
        .store
        .opinion_counts_by_area(&scope_units, since, now)
        .await
    {
        Ok(c) => c,
        Err(e) => return respond::app_error(&ctx, e.into()),
    };
    // Roll village counts up to their township when the map shows townships.
    let areas = match app.store.areas().await {
        Ok(a) => a,
        Err(e) => return respond::app_error(&ctx, e.into()),
    };
    let by_id: HashMap<i64, &minyi_store::AreaRow> = areas.iter().map(|a| (a.id, a)).collect();
    let mut totals: HashMap<i64, (i64, i64)> = HashMap::new();
    for c in &counts {
        let mut target = c.area_id;
        if level == AreaKind::Township
            && let Some(a) = by_id.get(&c.area_id)
            && a.kind == AreaKind::Village
            && let Some(pid) = a.parent_id
        {
            target = pid;
        }
        let e = totals.entry(target).or_default();
        e.0 += c.received;
        e.1 += c.overdue;
    }
    let drawn: Vec<&minyi_app::geo::AreaShape> =
        shapes.iter().filter(|s| s.kind == level).collect();
    let lat0 = {
        let lats: Vec<f64> = drawn
            .iter()
            .flat_map(|s| s.geometry.polygons.iter())
            .flat_map(|p| p.iter())
            .flat_map(|r| r.iter().map(|(_, lat)| *lat))
            .collect();
        if lats.is_empty() {
            0.0
        } else {
            lats.iter().sum::<f64>() / lats.len() as f64
        }
    };
    let value_of = |s: &minyi_app::geo::AreaShape| -> Option<f64> {
        let (received, overdue) = totals.get(&s.id).copied().unwrap_or_default();
        match metric {
            Metric::Received => Some(received as f64),
            Metric::Overdue => Some(overdue as f64),
            Metric::Rate => {
                (s.population > 0).then(|| 10_000.0 * received as f64 / s.population as f64)
            }
        }
    };
    let display = |v: Option<f64>| match (metric, v) {
        (_, None) => t(lang, "chart_no_data").to_owned(),
        (Metric::Rate, Some(v)) => format!("{v:.1}"),
        (_, Some(v)) => group_digits(v as i64),
    };
    let rings: Vec<Vec<Vec<(f64, f64)>>> = drawn
        .iter()
        .map(|s| {
            s.geometry
                .polygons
                .iter()
                .flat_map(|p| p.iter())
                .map(|r| {
                    r.iter()
                        .map(|(lon, lat)| svg::project(*lon, *lat, lat0))
                        .collect()
                })
                .collect()
        })
        .collect();
    let values: Vec<Option<f64>> = drawn.iter().map(|s| value_of(s)).collect::<Vec<_>>();
    let texts: Vec<String> = values.iter().map(|v| display(*v)).collect();
    let hrefs: Vec<String> = drawn
        .iter()
        .map(|s| format!("/areas/{}", url_encode(s.code.as_str())))
        .collect();
    let svg_shapes: Vec<svg::Shape> = drawn
        .iter()
        .enumerate()
        .map(|(i, s)| svg::Shape {
            code: s.code.as_str(),
            name: &s.name,
            rings: &rings[i],
            value: values[i],
            display: &texts[i],
            href: Some(&hrefs[i]),
        })
        .collect();
    // The five highest rates per 10,000 residents, as points at the areas' centroids.
    let mut ranked: Vec<(usize, f64)> = drawn
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let received = totals.get(&s.id).map(|t| t.0).unwrap_or(0);
            (s.population > 0 && received > 0)
                .then(|| (i, 10_000.0 * received as f64 / s.population as f64))
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.truncate(5);
    let hot_labels: Vec<String> = ranked
        .iter()
        .map(|(i, r)| {
            t(lang, "map_hotspot")
                .replace("{name}", &drawn[*i].name)
                .replace("{rate}", &format!("{r:.1}"))
        })
        .collect();
    let points: Vec<svg::Point> = ranked
        .iter()
        .enumerate()
        .map(|(k, (i, _))| {
            let (lon, lat) = drawn[*i].geometry.centroid();
            let (x, y) = svg::project(lon, lat, lat0);
            svg::Point {
                x,
                y,
                label: &hot_labels[k],
                href: Some(&hrefs[*i]),
            }
        })
        .collect();
    let metric_key = format!("map_metric_{}", metric.code());
    let level_key = format!("area_kind.{}", level.code());
    let title = format!(
        "{} · {} · {}",
        unit.name,
        t(lang, &level_key),
        t(lang, &metric_key)
    );
    let mut body = format!(
        "<h2>{} <small>{}</small></h2>",
        esc(&unit.name),
        esc(t(lang, "map_title"))
    );
    // Choices as links: the map works without script and each view has its own address.
    let base = format!("/map/{}", url_encode(unit.code.as_str()));
    body.push_str("<p class=\"choices\">");
    for (lv, key) in [
        ("township", "area_kind.township"),
        ("village", "area_kind.village"),
    ] {
        let current = lv == level.code();
        body.push_str(&format!(
            "<a href=\"{base}?level={lv}&amp;metric={}\"{}>{}</a> ",
            metric.code(),
            if current {
                " aria-current=\"page\""
            } else {
                ""
            },
            esc(t(lang, key))
        ));
    }
    body.push_str(" · ");
    for m in [Metric::Received, Metric::Rate, Metric::Overdue] {
        let current = m == metric;
        body.push_str(&format!(
            "<a href=\"{base}?level={}&amp;metric={}\"{}>{}</a> ",
            level.code(),
            m.code(),
            if current {
                " aria-current=\"page\""
            } else {
                ""
            },
            esc(t(lang, &format!("map_metric_{}", m.code())))
        ));
    }
    body.push_str("</p>");
    body.push_str(&format!(
        "<section class=\"figure map\">{}</section>",
        svg::choropleth(
            "area-map",
            &title,
            t(lang, "map_desc"),
            &svg_shapes,
            &points,
            t(lang, &metric_key),
            t(lang, "map_no_boundaries"),
        )
    ));
    // The same numbers as a table, for screen readers, printing and copying.
    body.push_str(&format!(
        "<details><summary>{}</summary><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\" class=\"num\">{}</th></tr></thead><tbody>",
        esc(t(lang, "map_table")),
        esc(t(lang, &level_key)),
        esc(t(lang, &metric_key)),
    ));
    for (i, s) in drawn.iter().enumerate() {
        body.push_str(&format!(
            "<tr><td><a href=\"{}\">{}</a></td><td class=\"num\">{}</td></tr>",
            esc(&hrefs[i]),
            esc(&s.name),
            esc(&texts[i])
        ));
    }
    body.push_str("</tbody></table></details>");
    let path = format!("/map/{}", unit.code);
    respond::html_demo(
        &ctx,
        shapes.iter().any(|s| s.synthetic),
        &title,
        &path,
        &body,
    )
}
