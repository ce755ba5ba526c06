//! A unit's opinions as a table: filters (state, category, channel, overdue), sortable
//! columns, pages, and the same rows as CSV (UTF-8 with a byte-order mark, so the
//! spreadsheet programs of Chinese offices open it correctly). Residents' identities are
//! never in these tables; the contact is on the matter's own page, masked.

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minyi_app::App;
use minyi_core::opinion::OpinionState;
use minyi_core::taxonomy::{Category, Channel};
use minyi_store::lists::{OpinionQuery, SortKey};

use crate::extract::Q;
use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::t;
use crate::respond::{self, local, url_encode};

pub const PAGE_SIZE: i64 = 50;

#[derive(serde::Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    overdue: String,
    #[serde(default)]
    open: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
    #[serde(default)]
    page: String,
    #[serde(default)]
    format: String,
}

/// The query as the page understood it, to rebuild links.
struct Parsed {
    q: OpinionQuery,
    state: String,
    category: String,
    channel: String,
    overdue: bool,
    open: bool,
    page: i64,
    export: Export,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Export {
    None,
    Csv,
    Xlsx,
}

fn parse(lq: &ListQuery, now: chrono::DateTime<chrono::Utc>) -> Result<Parsed, String> {
    let opt = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_owned())
    };
    let state = opt(&lq.state)
        .map(|s| OpinionState::parse(&s).map_err(|e| e.to_string()))
        .transpose()?;
    let category = opt(&lq.category)
        .map(|s| Category::parse(&s).map_err(|e| e.to_string()))
        .transpose()?;
    let channel = opt(&lq.channel)
        .map(|s| Channel::parse(&s).map_err(|e| e.to_string()))
        .transpose()?;
    let overdue = matches!(lq.overdue.as_str(), "1" | "on" | "true");
    let open = matches!(lq.open.as_str(), "1" | "on" | "true");
    let sort = match opt(&lq.sort) {
        None => SortKey::Received,
        Some(s) => SortKey::parse(&s).ok_or_else(|| format!("unknown sort column `{s}`"))?,
    };
    let descending = match lq.dir.as_str() {
        "" => sort == SortKey::Received,
        "desc" => true,
        "asc" => false,
        other => return Err(format!("sort direction `{other}` is not asc or desc")),
    };
    let page = match opt(&lq.page) {
        None => 1,
        Some(p) => p
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=1_000_000).contains(p))
            .ok_or_else(|| format!("page `{p}` is not a page number"))?,
    };
    let export = match lq.format.as_str() {
        "" | "html" => Export::None,
        "csv" => Export::Csv,
        "xlsx" => Export::Xlsx,
        other => return Err(format!("format `{other}` is not html, csv or xlsx")),
    };
    let csv = export != Export::None;
    Ok(Parsed {
        q: OpinionQuery {
            state,
            category,
            channel,
            overdue_at: overdue.then_some(now),
            open_only: open,
            sort,
            descending,
            // An export is the whole filtered list, capped.
            limit: if csv { 10_000 } else { PAGE_SIZE },
            offset: if csv { 0 } else { (page - 1) * PAGE_SIZE },
        },
        state: state.map(|s| s.code().to_owned()).unwrap_or_default(),
        category: category.map(|c| c.code().to_owned()).unwrap_or_default(),
        channel: channel.map(|c| c.code().to_owned()).unwrap_or_default(),
        overdue,
        open,
        page,
        export,
    })
}

fn link(code: &str, p: &Parsed, sort: SortKey, desc: bool, page: i64, format: &str) -> String {
    let mut q = vec![
        format!("sort={}", sort.code()),
        format!("dir={}", if desc { "desc" } else { "asc" }),
    ];
    for (k, v) in [
        ("state", &p.state),
        ("category", &p.category),
        ("channel", &p.channel),
    ] {
        if !v.is_empty() {
            q.push(format!("{k}={}", url_encode(v)));
        }
    }
    if p.overdue {
        q.push("overdue=1".into());
    }
    if p.open {
        q.push("open=1".into());
    }
    if page > 1 {
        q.push(format!("page={page}"));
    }
    if !format.is_empty() {
        q.push(format!("format={format}"));
    }
    format!("/units/{}/opinions?{}", url_encode(code), q.join("&"))
}

pub async fn unit_opinions(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Q(lq): Q<ListQuery>,
) -> Response {
    let lang = ctx.lang;
    let principal = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let now = chrono::Utc::now();
    let parsed = match parse(&lq, now) {
        Ok(p) => p,
        Err(m) => return respond::app_error(&ctx, minyi_app::AppError::Invalid(m)),
    };
    let (unit, rows, total) =
        match minyi_app::scoped::opinion_list(&app, &principal, &code, &parsed.q).await {
            Ok(x) => x,
            Err(e) => return respond::app_error(&ctx, e),
        };
    let units = match app.store.units().await {
        Ok(u) => u,
        Err(e) => return respond::app_error(&ctx, e.into()),
    };
    let unit_name = |id: Option<i64>| {
        id.and_then(|id| units.iter().find(|u| u.id == id))
            .map(|u| u.name.clone())
            .unwrap_or_default()
    };
    let columns: [(&str, Option<SortKey>); 6] = [
        ("col_tracking_code", None),
        ("col_received", Some(SortKey::Received)),
        ("col_channel", Some(SortKey::Channel)),
        ("col_category", Some(SortKey::Category)),
        ("col_state", Some(SortKey::State)),
        ("col_due", Some(SortKey::Due)),
    ];
    if parsed.export != Export::None {
        let mut head: Vec<&str> = columns.iter().map(|(k, _)| t(lang, k)).collect();
        head.push(t(lang, "col_unit"));
        head.push(t(lang, "opinion_text"));
        let records: Vec<[String; 8]> = rows
            .iter()
            .map(|o| {
                [
                    o.tracking_code.as_str().to_owned(),
                    local(o.received_at),
                    t(lang, &format!("channel.{}", o.channel.code())).to_owned(),
                    t(lang, &format!("category.{}", o.category.code())).to_owned(),
                    t(lang, &format!("state.{}", o.state.code())).to_owned(),
                    o.due_at.map(local).unwrap_or_default(),
                    unit_name(o.unit_id),
                    o.text.clone(),
                ]
            })
            .collect();
        let (body, mime, ext) = if parsed.export == Export::Csv {
            let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
            let _ = w.write_record(&head);
            for r in &records {
                let _ = w.write_record(r);
            }
            (
                w.into_inner().unwrap_or_default(),
                "text/csv; charset=utf-8",
                "csv",
            )
        } else {
            match xlsx(&head, &records, t(lang, "list_title")) {
                Ok(b) => (
                    b,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "xlsx",
                ),
                Err(e) => {
                    return respond::app_error(&ctx, minyi_app::AppError::Refused(e.to_string()));
                }
            }
        };
        let mut resp = (StatusCode::OK, body).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
        if let Ok(v) = HeaderValue::from_str(&format!(
            "attachment; filename=\"opinions-{}.{ext}\"",
            unit.code
        )) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        return resp;
    }
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    if parsed.page > pages {
        let msg = t(lang, "list_no_such_page")
            .replace("{page}", &parsed.page.to_string())
            .replace("{pages}", &pages.to_string());
        return respond::app_error(&ctx, minyi_app::AppError::Invalid(msg));
    }
    let code = unit.code.to_string();
    let mut body = format!(
        "<h2>{} <small>{}</small></h2>",
        esc(&unit.name),
        esc(t(lang, "list_title"))
    );
    // Filters: a plain GET form, so it works without script and the URL can be shared.
    let select = |name: &str, label_key: &str, current: &str, options: Vec<(String, String)>| {
        let mut s = format!(
            "<label for=\"f-{name}\">{}</label><select id=\"f-{name}\" name=\"{name}\"><option value=\"\">{}</option>",
            esc(t(lang, label_key)),
            esc(t(lang, "list_any"))
        );
        for (v, l) in options {
            let sel = if v == current { " selected" } else { "" };
            s.push_str(&format!(
                "<option value=\"{}\"{sel}>{}</option>",
                esc(&v),
                esc(&l)
            ));
        }
        s.push_str("</select>");
        s
    };
    let vocab = |prefix: &str, codes: Vec<&'static str>| {
        codes
            .into_iter()
            .map(|c| (c.to_owned(), t(lang, &format!("{prefix}.{c}")).to_owned()))
            .collect::<Vec<_>>()
    };
    body.push_str(&format!(
        "<form method=\"get\" action=\"/units/{}/opinions\" class=\"filters\">{}{}{}\
         <label class=\"check\"><input type=\"checkbox\" name=\"open\" value=\"1\"{}> {}</label>\
         <label class=\"check\"><input type=\"checkbox\" name=\"overdue\" value=\"1\"{}> {}</label>\
         <button type=\"submit\">{}</button></form>",
        esc(&url_encode(&code)),
        select(
            "state",
            "col_state",
            &parsed.state,
            vocab(
                "state",
                OpinionState::ALL.iter().map(|s| s.code()).collect()
            )
        ),
        select(
            "category",
            "col_category",
            &parsed.category,
            vocab("category", Category::ALL.iter().map(|s| s.code()).collect())
        ),
        select(
            "channel",
            "col_channel",
            &parsed.channel,
            vocab("channel", Channel::ALL.iter().map(|s| s.code()).collect())
        ),
        if parsed.open { " checked" } else { "" },
        esc(t(lang, "list_open_only")),
        if parsed.overdue { " checked" } else { "" },
        esc(t(lang, "list_overdue_only")),
        esc(t(lang, "list_filter")),
    ));
    body.push_str(&format!(
        "<p class=\"list-meta\">{} · <a href=\"{}\" download>{}</a> · <a href=\"{}\" download>{}</a></p>",
        esc(&t(lang, "list_total").replace("{n}", &crate::pages::staff::group_digits(total))),
        esc(&link(
            &code,
            &parsed,
            parsed.q.sort,
            parsed.q.descending,
            1,
            "csv"
        )),
        esc(t(lang, "list_export_csv")),
        esc(&link(&code, &parsed, parsed.q.sort, parsed.q.descending, 1, "xlsx")),
        esc(t(lang, "list_export_xlsx")),
    ));
    if rows.is_empty() {
        body.push_str(&format!("<p>{}</p>", esc(t(lang, "list_empty"))));
    } else {
        body.push_str("<table class=\"sortable\"><thead><tr>");
        for (key, sort) in &columns {
            match sort {
                Some(s) => {
                    let active = *s == parsed.q.sort;
                    let desc = if active {
                        !parsed.q.descending
                    } else {
                        *s == SortKey::Received
                    };
                    let aria = if active {
                        if parsed.q.descending {
                            " aria-sort=\"descending\""
                        } else {
                            " aria-sort=\"ascending\""
                        }
                    } else {
                        ""
                    };
                    let arrow = if active {
                        if parsed.q.descending { " ▼" } else { " ▲" }
                    } else {
                        ""
                    };
                    body.push_str(&format!(
                        "<th scope=\"col\"{aria}><a href=\"{}\">{}{arrow}</a></th>",
                        esc(&link(&code, &parsed, *s, desc, 1, "")),
                        esc(t(lang, key))
                    ));
                }
                None => body.push_str(&format!("<th scope=\"col\">{}</th>", esc(t(lang, key)))),
            }
        }
        body.push_str(&format!(
            "<th scope=\"col\">{}</th></tr></thead><tbody>",
            esc(t(lang, "col_unit"))
        ));
        for o in &rows {
            let overdue = o.closed_at.is_none() && o.due_at.is_some_and(|d| d < now);
            body.push_str(&format!(
                "<tr><td><a href=\"/opinions/{c}\">{c}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td></tr>",
                local(o.received_at),
                esc(t(lang, &format!("channel.{}", o.channel.code()))),
                esc(t(lang, &format!("category.{}", o.category.code()))),
                esc(t(lang, &format!("state.{}", o.state.code()))),
                if overdue { " class=\"overdue\"" } else { "" },
                o.due_at.map(local).unwrap_or_default(),
                esc(&unit_name(o.unit_id)),
                c = esc(o.tracking_code.as_str()),
            ));
        }
        body.push_str("</tbody></table>");
        if pages > 1 {
            body.push_str(&format!(
                "<nav class=\"pager\" aria-label=\"{}\">",
                esc(t(lang, "list_pages"))
            ));
            if parsed.page > 1 {
                body.push_str(&format!(
                    "<a href=\"{}\" rel=\"prev\">{}</a> ",
                    esc(&link(
                        &code,
                        &parsed,
                        parsed.q.sort,
                        parsed.q.descending,
                        parsed.page - 1,
                        ""
                    )),
                    esc(t(lang, "list_prev"))
                ));
            }
            body.push_str(&format!(
                "<span>{}</span>",
                esc(&t(lang, "list_page_of")
                    .replace("{page}", &parsed.page.to_string())
                    .replace("{pages}", &pages.to_string()))
            ));
            if parsed.page < pages {
                body.push_str(&format!(
                    " <a href=\"{}\" rel=\"next\">{}</a>",
                    esc(&link(
                        &code,
                        &parsed,
                        parsed.q.sort,
                        parsed.q.descending,
                        parsed.page + 1,
                        ""
                    )),
                    esc(t(lang, "list_next"))
                ));
            }
            body.push_str("</nav>");
        }
    }
    let path = format!("/units/{}/opinions", code);
    let title = format!("{} · {}", unit.name, t(lang, "list_title"));
    respond::html(&ctx, StatusCode::OK, &title, &path, &body)
}

/// The rows as a one-sheet workbook: a bold header row, frozen, columns sized to fit.
fn xlsx(
    head: &[&str],
    rows: &[[String; 8]],
    sheet: &str,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(sheet)?;
    let bold = Format::new().set_bold();
    for (c, h) in head.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, v)?;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    for (c, w) in [14.0, 18.0, 12.0, 12.0, 10.0, 18.0, 20.0, 60.0]
        .iter()
        .enumerate()
    {
        ws.set_column_width(c as u16, *w)?;
    }
    wb.save_to_buffer()
}

/// The account's queue: its unit's open matters, due soonest first.
pub async fn queue(Extension(ctx): Extension<Ctx>) -> Response {
    match ctx.principal() {
        Ok(p) => axum::response::Redirect::to(&format!(
            "/units/{}/opinions?open=1&sort=due&dir=asc",
            url_encode(&p.unit_code)
        ))
        .into_response(),
        Err(r) => r,
    }
}
