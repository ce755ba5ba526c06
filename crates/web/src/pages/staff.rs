//! Staff pages: the home overview of the own subtree, unit pages, a matter's page with the
//! masked contact, and revealing one field for a typed reason.

use axum::extract::{Extension, Form, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minyi_app::App;

use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::t;
use crate::respond::{self, csrf_field, local};

pub fn group_digits(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub async fn own_unit(State(app): State<App>, Extension(ctx): Extension<Ctx>) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    render_unit(&app, &ctx, &p.unit_code).await
}

pub async fn unit(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Response {
    render_unit(&app, &ctx, &code).await
}

async fn render_unit(app: &App, ctx: &Ctx, code: &str) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let v = match minyi_app::scoped::unit(app, &p, code).await {
        Ok(v) => v,
        Err(e) => return respond::app_error(ctx, e),
    };
    let mut body = format!(
        "<h2>{} <small>{}</small></h2>",
        esc(&v.unit.name),
        esc(t(lang, &format!("unit_kind.{}", v.unit.kind.code())))
    );
    if let Some(parent) = &v.parent {
        body.push_str(&format!(
            "<p>{} <a href=\"/units/{}\">{}</a></p>",
            esc(t(lang, "unit_parent")),
            esc(parent.code.as_str()),
            esc(&parent.name)
        ));
    }
    if matches!(
        v.unit.kind,
        minyi_core::org::UnitKind::Station
            | minyi_core::org::UnitKind::CountyBureau
            | minyi_core::org::UnitKind::CityBureau
    ) {
        body.push_str(&format!(
            "<p><a href=\"/units/{}/cards\" data-link=\"cards\">{}</a></p>",
            esc(v.unit.code.as_str()),
            esc(t(lang, "cards.link"))
        ));
    }
    if v.unit.kind == minyi_core::org::UnitKind::Station {
        body.push_str(&crate::pages::assess::station_block(app, lang, v.unit.code.as_str()).await);
    }
    if !v.officers.is_empty() {
        body.push_str(&format!(
            "<h3>{}</h3><ul class=\"contact\">",
            esc(t(lang, "unit_officers"))
        ));
        for o in &v.officers {
            body.push_str(&crate::pages::places::officer_card(lang, o));
        }
        body.push_str("</ul>");
    }
    body.push_str(&crate::pages::places::area_links(
        lang,
        "officer_areas",
        &v.areas,
    ));
    if !v.children.is_empty() {
        body.push_str(&format!("<h3>{}</h3><ul>", esc(t(lang, "unit_children"))));
        for c in &v.children {
            body.push_str(&format!(
                "<li><a href=\"/units/{}\">{}</a></li>",
                esc(c.code.as_str()),
                esc(&c.name)
            ));
        }
        body.push_str("</ul>");
    }
    if v.unit.kind == minyi_core::org::UnitKind::Station {
        body.push_str(&crate::pages::surveys::station_block(app, &p, v.unit.id, lang).await);
    }
    body.push_str(
        &crate::pages::records::indicators_block(app, &p, v.unit.code.as_str(), lang).await,
    );
    body.push_str(&format!(
        "<h3>{}</h3><p><a href=\"/units/{}/opinions\">{}</a></p>",
        esc(t(lang, "unit_recent_opinions")),
        esc(v.unit.code.as_str()),
        esc(t(lang, "unit_all_opinions"))
    ));
    if v.opinions.is_empty() {
        body.push_str(&format!("<p>{}</p>", esc(t(lang, "none_yet"))));
    } else {
        body.push_str(&crate::pages::places::opinion_rows(lang, &v.opinions));
    }
    let path = format!("/units/{}", v.unit.code);
    let title = v.unit.name.clone();
    respond::html(ctx, StatusCode::OK, &title, &path, &body)
}

pub async fn opinion(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Response {
    render_opinion(&app, &ctx, &code, None).await
}

async fn render_opinion(
    app: &App,
    ctx: &Ctx,
    code: &str,
    revealed: Option<(String, String)>,
) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let v = match minyi_app::scoped::opinion(app, &p, code).await {
        Ok(v) => v,
        Err(e) => return respond::app_error(ctx, e),
    };
    let o = &v.opinion;
    let mut body = format!(
        "<h2>{} {}</h2><dl class=\"facts\">\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>\
         <h3>{}</h3><p class=\"opinion-text\">{}</p>",
        esc(t(lang, "opinion_title")),
        esc(o.tracking_code.as_str()),
        esc(t(lang, "col_received")),
        local(o.received_at),
        esc(t(lang, "col_channel")),
        esc(t(lang, &format!("channel.{}", o.channel.code()))),
        esc(t(lang, "col_category")),
        esc(t(lang, &format!("category.{}", o.category.code()))),
        esc(t(lang, "col_state")),
        esc(t(lang, &format!("state.{}", o.state.code()))),
        esc(t(lang, "col_due")),
        o.due_at.map(local).unwrap_or_default(),
        esc(t(lang, "col_unit")),
        v.unit
            .as_ref()
            .map(|u| format!(
                "<a href=\"/units/{}\">{}</a>",
                esc(u.code.as_str()),
                esc(&u.name)
            ))
            .unwrap_or_else(|| esc(t(lang, "opinion_unassigned"))),
        esc(t(lang, "opinion_text")),
        esc(&o.text),
    );
    body.push_str(&format!("<h3>{}</h3>", esc(t(lang, "contact_title"))));
    match &v.contact {
        None => body.push_str(&format!("<p>{}</p>", esc(t(lang, "contact_anonymous")))),
        Some(c) => {
            body.push_str("<dl class=\"facts\">");
            for (key, val) in [
                ("contact_name", &c.name),
                ("contact_phone", &c.phone),
                ("contact_id_number", &c.id_number),
                ("contact_address", &c.address),
            ] {
                if let Some(val) = val {
                    body.push_str(&format!(
                        "<dt>{}</dt><dd data-masked=\"{key}\">{}</dd>",
                        esc(t(lang, key)),
                        esc(val)
                    ));
                }
            }
            body.push_str("</dl>");
            if let Some((field, value)) = &revealed {
                body.push_str(&format!(
                    "<p class=\"notice revealed\" role=\"status\">{}{} <strong data-revealed=\"{}\">{}</strong></p>",
                    esc(t(lang, &format!("contact_{field}"))),
                    if lang == crate::i18n::Lang::ZhCn { "：" } else { ":" },
                    esc(field),
                    esc(value)
                ));
            }
            if v.may_reveal {
                body.push_str(&format!(
                    "<form method=\"post\" action=\"/opinions/{code}/reveal\" class=\"stack narrow\">{csrf}\
                     <label for=\"field\">{lf}</label><select id=\"field\" name=\"field\">\
                     <option value=\"phone\">{ph}</option><option value=\"name\">{nm}</option>\
                     <option value=\"id_number\">{idn}</option><option value=\"address\">{ad}</option></select>\
                     <label for=\"reason\">{lr}</label><input id=\"reason\" name=\"reason\" required minlength=\"4\" maxlength=\"200\" aria-describedby=\"reason-hint\">\
                     <p id=\"reason-hint\" class=\"hint\">{hint}</p><button type=\"submit\">{go}</button></form>",
                    code = esc(o.tracking_code.as_str()),
                    csrf = csrf_field(ctx),
                    lf = esc(t(lang, "reveal_field")),
                    ph = esc(t(lang, "contact_phone")),
                    nm = esc(t(lang, "contact_name")),
                    idn = esc(t(lang, "contact_id_number")),
                    ad = esc(t(lang, "contact_address")),
                    lr = esc(t(lang, "reveal_reason")),
                    hint = esc(t(lang, "reveal_hint")),
                    go = esc(t(lang, "reveal_submit")),
                ));
            }
        }
    }
    if !v.events.is_empty() {
        body.push_str(&format!(
            "<h3>{}</h3><ol class=\"timeline\">",
            esc(t(lang, "timeline"))
        ));
        for e in &v.events {
            body.push_str(&format!(
                "<li><time>{}</time> {} {}{}</li>",
                local(e.at),
                esc(t(lang, &format!("event_action.{}", e.action))),
                e.to_state
                    .as_deref()
                    .map(|s| esc(t(lang, &format!("state.{s}"))))
                    .unwrap_or_default(),
                e.detail
                    .as_deref()
                    .filter(|d| !d.is_empty())
                    .map(|d| format!("<blockquote>{}</blockquote>", esc(d)))
                    .unwrap_or_default()
            ));
        }
        body.push_str("</ol>");
    }
    body.push_str(&crate::pages::merge::block(app, ctx, &p, o).await);
    let offered = minyi_app::handling::offered(&p, o);
    if !offered.is_empty() {
        // Assignment targets: stations, bureaus and departments in scope.
        let units: Vec<minyi_store::UnitRow> = match app.store.units().await {
            Ok(us) => us
                .into_iter()
                .filter(|u| {
                    p.scope.contains(u.id)
                        && !matches!(
                            u.kind,
                            minyi_core::org::UnitKind::Window | minyi_core::org::UnitKind::Team
                        )
                })
                .collect(),
            Err(e) => return respond::app_error(ctx, e.into()),
        };
        body.push_str(&crate::pages::handling::forms(ctx, o, &offered, &units));
    }
    let path = format!("/opinions/{}", o.tracking_code);
    let mut resp = respond::html(ctx, StatusCode::OK, t(lang, "opinion_title"), &path, &body);
    if revealed.is_some() {
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

#[derive(serde::Deserialize)]
pub struct RevealForm {
    field: String,
    reason: String,
}

pub async fn reveal(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Form(f): Form<RevealForm>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let Some(field) = minyi_app::privacy::parse_field(&f.field) else {
        return respond::app_error(
            &ctx,
            minyi_app::AppError::Invalid(t(ctx.lang, "reveal_bad_field").into()),
        );
    };
    let o = match minyi_app::scoped::visible_opinion(&app, &p, &code).await {
        Ok(o) => o,
        Err(e) => return respond::app_error(&ctx, e),
    };
    match minyi_app::privacy::reveal(&app, &p, o.id, field, &f.reason, chrono::Utc::now()).await {
        Ok(value) => {
            render_opinion(&app, &ctx, &code, Some((field.code().to_owned(), value))).await
        }
        Err(minyi_app::AppError::Invalid(k)) if k == "reveal_reason" => respond::app_error(
            &ctx,
            minyi_app::AppError::Invalid(t(ctx.lang, "reveal_reason_required").into()),
        ),
        Err(e) => respond::app_error(&ctx, e),
    }
    .into_response()
}
