//! Contact cards and boards: the public scan address (`/q/u/{code}`, `/q/a/{code}`) that
//! counts a scan and opens the residents' form preset to the place, the card and board
//! SVGs of stations and communities, and a station's print page with its scan counts.
//!
//! What a card says and who may see it is `minyi_app::cards`; the drawing is
//! `crate::cardsvg`. Nothing here stores anything about the person scanning.

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minyi_app::App;
use minyi_app::cards::{CardContent, PrintSheet, RECENT_DAYS};
use minyi_store::ScanTarget;

use crate::cardsvg;
use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::t;
use crate::pages::staff::group_digits;
use crate::respond::{self, url_encode};

async fn scan(app: &App, ctx: &Ctx, target: ScanTarget, code: &str) -> Response {
    match minyi_app::cards::record_scan(app, target, code, chrono::Utc::now()).await {
        Ok(landing) => {
            // The marker only sets the channel and the preset place: forging it claims
            // nothing but "this came from a card".
            let mut to = format!(
                "/report?via=qr&station={}",
                url_encode(landing.station.as_str())
            );
            if let Some(a) = &landing.area {
                to.push_str(&format!("&area={}", url_encode(a.as_str())));
            }
            let mut resp = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(&to) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Err(minyi_app::AppError::NotFound) => {
            respond::status_page(ctx, StatusCode::NOT_FOUND, "cards.scan_unknown")
        }
        Err(e) => respond::app_error(ctx, e),
    }
}

/// `GET /q/u/{code}`: a station's card or board was scanned.
pub async fn scan_unit(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Response {
    scan(&app, &ctx, ScanTarget::Unit, &code).await
}

/// `GET /q/a/{code}`: a community's card was scanned.
pub async fn scan_area(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Response {
    scan(&app, &ctx, ScanTarget::Area, &code).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sheet {
    Card,
    Board,
}

impl Sheet {
    fn file(self) -> &'static str {
        match self {
            Sheet::Card => "card",
            Sheet::Board => "board",
        }
    }
}

fn svg_response(ctx: &Ctx, c: &CardContent, sheet: Sheet) -> Response {
    let drawn = match sheet {
        Sheet::Card => cardsvg::card(ctx.lang, c),
        Sheet::Board => cardsvg::board(ctx.lang, c),
    };
    match drawn {
        Ok(svg) => {
            let disposition = format!("inline; filename=\"{}-{}.svg\"", sheet.file(), c.code);
            let mut resp = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
                svg,
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
        Err(e) => respond::app_error(ctx, minyi_app::AppError::Refused(e)),
    }
}

async fn unit_sheet(app: &App, ctx: &Ctx, code: &str, sheet: Sheet) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    match minyi_app::cards::unit_card(app, &p, code).await {
        Ok(c) => svg_response(ctx, &c, sheet),
        Err(e) => respond::app_error(ctx, e),
    }
}

async fn area_sheet(app: &App, ctx: &Ctx, code: &str, sheet: Sheet) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    match minyi_app::cards::area_card(app, &p, code).await {
        Ok(c) => svg_response(ctx, &c, sheet),
        Err(e) => respond::app_error(ctx, e),
    }
}

pub async fn unit_card(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Response {
    unit_sheet(&app, &ctx, &code, Sheet::Card).await
}

pub async fn unit_board(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Response {
    unit_sheet(&app, &ctx, &code, Sheet::Board).await
}

pub async fn area_card(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Response {
    area_sheet(&app, &ctx, &code, Sheet::Card).await
}

pub async fn area_board(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
) -> Response {
    area_sheet(&app, &ctx, &code, Sheet::Board).await
}

#[derive(serde::Deserialize, Default)]
pub struct PrintQuery {
    /// `card` or `board` prints only that size; anything else prints both.
    only: Option<String>,
}

/// One sheet on the print page: the image at its printed size, and below it (on screen
/// only) what it is and where to download it.
fn figure(ctx: &Ctx, c: &CardContent, sheet: Sheet) -> String {
    let lang = ctx.lang;
    let base = match c.target {
        ScanTarget::Unit => "units",
        ScanTarget::Area => "areas",
    };
    let (size, key) = match sheet {
        Sheet::Card => ("a6", "cards.card_title"),
        Sheet::Board => ("a4", "cards.board_title"),
    };
    let src = format!(
        "/{base}/{}/{}.svg?lang={}",
        url_encode(c.code.as_str()),
        sheet.file(),
        lang.tag()
    );
    format!(
        "<figure class=\"cards-sheet cards-{size}\" data-sheet=\"{file}\" data-code=\"{code}\">\
         <img class=\"cards-{size}\" src=\"{src}\" alt=\"{alt}\">\
         <figcaption class=\"cards-noprint\">{alt} · <a href=\"{src}\" download>{dl}</a></figcaption></figure>",
        file = sheet.file(),
        code = esc(c.code.as_str()),
        src = esc(&src),
        alt = esc(&format!("{} · {}", t(lang, key), c.name)),
        dl = esc(t(lang, "cards.download")),
    )
}

/// `GET /units/{code}/cards`: a station's card, board and communities' cards ready to
/// print, with scan counts; for a bureau, its stations.
pub async fn print_page(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    crate::extract::Q(q): crate::extract::Q<PrintQuery>,
) -> Response {
    let lang = ctx.lang;
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let sheet = match minyi_app::cards::print_sheet(&app, &p, &code, chrono::Utc::now()).await {
        Ok(s) => s,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let recent_label = t(lang, "cards.col_recent").replace("{days}", &RECENT_DAYS.to_string());
    match sheet {
        PrintSheet::Stations { unit, stations } => {
            let mut body = format!(
                "<h2>{} <small>{}</small></h2><p>{}</p>",
                esc(&unit.name),
                esc(t(lang, "cards.page_title")),
                esc(t(lang, "cards.pick_station"))
            );
            if stations.is_empty() {
                body.push_str(&format!("<p>{}</p>", esc(t(lang, "cards.no_stations"))));
            } else {
                body.push_str(&format!(
                    "<table class=\"cards-scans\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th></tr></thead><tbody>",
                    esc(t(lang, "cards.col_station")),
                    esc(&recent_label),
                    esc(t(lang, "cards.col_total")),
                ));
                for (s, recent, total) in &stations {
                    body.push_str(&format!(
                        "<tr><td><a href=\"/units/{c}/cards\">{}</a></td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                        esc(&s.name),
                        group_digits(*recent),
                        group_digits(*total),
                        c = esc(s.code.as_str()),
                    ));
                }
                body.push_str("</tbody></table>");
            }
            let path = format!("/units/{}/cards", unit.code);
            respond::html(
                &ctx,
                StatusCode::OK,
                t(lang, "cards.page_title"),
                &path,
                &body,
            )
        }
        PrintSheet::Station {
            card,
            communities,
            scans,
        } => {
            let only = q.only.as_deref().map(str::trim);
            let (cards, boards) = match only {
                Some("card") => (true, false),
                Some("board") => (false, true),
                _ => (true, true),
            };
            let here = format!("/units/{}/cards", url_encode(card.code.as_str()));
            let mut body = format!(
                "<div class=\"cards-noprint\"><h2>{} <small>{}</small></h2>\
                 <p class=\"notice\">{}</p>",
                esc(&card.name),
                esc(t(lang, "cards.page_title")),
                esc(t(lang, "cards.print_hint")),
            );
            if app.config.public_url.is_none() {
                body.push_str(&format!(
                    "<p class=\"cards-warn\" role=\"note\">{}</p>",
                    esc(&t(lang, "cards.public_url_unset")
                        .replace("{url}", &app.config.public_base_url()))
                ));
            }
            body.push_str(&format!(
                "<p class=\"cards-only\"><a href=\"{here}?only=card\">{}</a> · <a href=\"{here}?only=board\">{}</a> · <a href=\"{here}\">{}</a> · <a href=\"/units/{here_code}\">{}</a></p>",
                esc(t(lang, "cards.only_cards")),
                esc(t(lang, "cards.only_boards")),
                esc(t(lang, "cards.all_sheets")),
                esc(t(lang, "cards.back_to_station")),
                here_code = url_encode(card.code.as_str()),
            ));
            body.push_str(&format!(
                "<h3>{}</h3><table class=\"cards-scans\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\" class=\"num\">{}</th><th scope=\"col\" class=\"num\">{}</th></tr></thead><tbody>",
                esc(t(lang, "cards.scans_title")),
                esc(t(lang, "cards.col_place")),
                esc(&recent_label),
                esc(t(lang, "cards.col_total")),
            ));
            for s in &scans {
                let kind = match s.target {
                    ScanTarget::Unit => "unit",
                    ScanTarget::Area => "area",
                };
                body.push_str(&format!(
                    "<tr data-scans=\"{kind}:{code}\"><td>{}</td><td class=\"num\" data-recent>{}</td><td class=\"num\" data-total>{}</td></tr>",
                    esc(&s.name),
                    group_digits(s.recent),
                    group_digits(s.total),
                    code = esc(s.code.as_str()),
                ));
            }
            body.push_str("</tbody></table></div><section class=\"cards-sheets\">");
            if boards {
                body.push_str(&figure(&ctx, &card, Sheet::Board));
            }
            if cards {
                body.push_str(&figure(&ctx, &card, Sheet::Card));
                for c in &communities {
                    body.push_str(&figure(&ctx, c, Sheet::Card));
                }
            }
            body.push_str("</section>");
            let path = format!("/units/{}/cards", card.code);
            respond::html(
                &ctx,
                StatusCode::OK,
                t(lang, "cards.page_title"),
                &path,
                &body,
            )
        }
    }
}
