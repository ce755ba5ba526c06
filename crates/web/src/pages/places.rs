//! Area and officer pages: who is responsible, how to reach them, the matters at hand.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minyi_app::App;

use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::t;
use crate::pages::staff::group_digits;
use crate::respond::{self, local};

pub fn opinion_rows(lang: crate::i18n::Lang, rows: &[minyi_store::OpinionRow]) -> String {
    let mut body = format!(
        "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(t(lang, "col_tracking_code")),
        esc(t(lang, "col_received")),
        esc(t(lang, "col_category")),
        esc(t(lang, "col_state")),
        esc(t(lang, "col_due")),
    );
    for o in rows {
        body.push_str(&format!(
            "<tr><td><a href=\"/opinions/{c}\">{c}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            local(o.received_at),
            esc(t(lang, &format!("category.{}", o.category.code()))),
            esc(t(lang, &format!("state.{}", o.state.code()))),
            o.due_at.map(local).unwrap_or_default(),
            c = esc(o.tracking_code.as_str()),
        ));
    }
    body.push_str("</tbody></table>");
    body
}

/// A heading and the areas as links, or nothing when there are none.
pub fn area_links(
    lang: crate::i18n::Lang,
    heading_key: &str,
    areas: &[minyi_store::AreaRow],
) -> String {
    if areas.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "<h3>{}</h3><ul class=\"columns\">",
        esc(t(lang, heading_key))
    );
    for a in areas {
        out.push_str(&format!(
            "<li><a href=\"/areas/{}\">{}</a></li>",
            esc(a.code.as_str()),
            esc(&a.name)
        ));
    }
    out.push_str("</ul>");
    out
}

pub fn officer_card(lang: crate::i18n::Lang, o: &minyi_store::OfficerRow) -> String {
    format!(
        "<li class=\"card\"><a href=\"/officers/{}\">{}</a> · {}{}</li>",
        o.id,
        esc(&o.name),
        esc(t(lang, &format!("officer_role.{}", o.role.code()))),
        o.duty_phone
            .as_deref()
            .map(|d| format!(
                " · {} <a href=\"tel:{d}\">{d}</a>",
                esc(t(lang, "duty_phone")),
                d = esc(d)
            ))
            .unwrap_or_default()
    )
}

pub async fn area(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let v = match minyi_app::scoped::area(&app, &p, &code, chrono::Utc::now()).await {
        Ok(v) => v,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let mut body = String::new();
    if !v.ancestors.is_empty() {
        let crumbs: Vec<String> = v
            .ancestors
            .iter()
            .map(|a| {
                format!(
                    "<a href=\"/areas/{}\">{}</a>",
                    esc(a.code.as_str()),
                    esc(&a.name)
                )
            })
            .collect();
        body.push_str(&format!(
            "<nav class=\"crumbs\" aria-label=\"breadcrumb\">{} › <span aria-current=\"page\">{}</span></nav>",
            crumbs.join(" › "),
            esc(&v.area.name)
        ));
    }
    body.push_str(&format!(
        "<h2>{} <small>{}</small></h2>",
        esc(&v.area.name),
        esc(t(lang, &format!("area_kind.{}", v.area.kind.code())))
    ));
    body.push_str("<ul class=\"cards\">");
    for (key, n) in [
        ("area_population", v.area.population),
        ("count_opinions", v.opinions_total),
        ("count_open", v.open),
        ("col_overdue", v.overdue),
    ] {
        body.push_str(&format!(
            "<li><span class=\"n\" data-count=\"{key}\">{}</span><span class=\"l\">{}</span></li>",
            group_digits(n),
            esc(t(lang, key))
        ));
    }
    body.push_str("</ul>");
    body.push_str(&format!("<h3>{}</h3>", esc(t(lang, "area_responsible"))));
    match &v.station {
        Some(s) => {
            body.push_str(&format!(
                "<p><a href=\"/units/{}\">{}</a></p><ul class=\"contact\">",
                esc(s.code.as_str()),
                esc(&s.name)
            ));
            for o in &v.officers {
                body.push_str(&officer_card(lang, o));
            }
            body.push_str("</ul>");
        }
        None => body.push_str(&format!("<p>{}</p>", esc(t(lang, "area_no_station")))),
    }
    body.push_str(&area_links(lang, "area_children", &v.children));
    body.push_str(&format!(
        "<h3>{}</h3>",
        esc(t(lang, "unit_recent_opinions"))
    ));
    if v.opinions.is_empty() {
        body.push_str(&format!("<p>{}</p>", esc(t(lang, "none_yet"))));
    } else {
        body.push_str(&opinion_rows(lang, &v.opinions));
    }
    let path = format!("/areas/{}", v.area.code);
    respond::html(&ctx, StatusCode::OK, &v.area.name.clone(), &path, &body)
}

pub async fn officer(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let v = match minyi_app::scoped::officer(&app, &p, &id).await {
        Ok(v) => v,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let o = &v.officer;
    let mut body = format!(
        "<h2>{} <small>{}</small></h2><dl class=\"facts\"><dt>{}</dt><dd><a href=\"/units/{}\">{}</a></dd>",
        esc(&o.name),
        esc(t(lang, &format!("officer_role.{}", o.role.code()))),
        esc(t(lang, "col_unit")),
        esc(v.unit.code.as_str()),
        esc(&v.unit.name),
    );
    if let Some(d) = &o.duty_phone {
        body.push_str(&format!(
            "<dt>{}</dt><dd><a href=\"tel:{d}\">{d}</a></dd>",
            esc(t(lang, "duty_phone")),
            d = esc(d)
        ));
    }
    body.push_str("</dl>");
    body.push_str(&area_links(lang, "officer_areas", &v.areas));
    if !v.colleagues.is_empty() {
        body.push_str(&format!(
            "<h3>{}</h3><ul class=\"contact\">",
            esc(t(lang, "officer_colleagues"))
        ));
        for c in &v.colleagues {
            body.push_str(&officer_card(lang, c));
        }
        body.push_str("</ul>");
    }
    body.push_str(&format!(
        "<p><a href=\"/units/{}/opinions\">{}</a></p>",
        esc(v.unit.code.as_str()),
        esc(t(lang, "unit_all_opinions"))
    ));
    let path = format!("/officers/{}", o.id);
    respond::html(&ctx, StatusCode::OK, &o.name.clone(), &path, &body)
}
