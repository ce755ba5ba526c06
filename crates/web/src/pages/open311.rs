//! Open311 GeoReport v2 (<http://wiki.open311.org/GeoReport_v2>) under `/open311/v2/`, so
//! existing Open311 clients can read our categories as services, file opinions and follow
//! them. Every path names its format by extension (`.xml` or `.json`); errors are the
//! spec's error list with 400, 403 or 404.
//!
//! What is public here is decided once, in [`public_fields`]: the requests list is public
//! by the spec's design, so it carries only what the bureau may publish — never a contact
//! field, never the text of an opinion that did not come in over Open311 itself, and not
//! withdrawn or invalid matters. This module must not reveal sealed contact data or accept
//! a request without the key check the guard already made.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use minyi_app::intake::Submission;
use minyi_app::privacy::ContactInput;
use minyi_app::{App, AppError};
use minyi_core::PhoneNumber;
use minyi_core::calendar::SHANGHAI;
use minyi_core::event::SubjectKind;
use minyi_core::identity::ResidentName;
use minyi_core::opinion::{OpinionText, TrackingCode};
use minyi_core::taxonomy::{Category, Channel};
use minyi_store::lists::{OpinionQuery, SortKey, Whose};
use minyi_store::{AreaRow, OpinionRow};

use crate::guard::{Ctx, form_field};
use crate::i18n::{Lang, t};

/// The specification every endpoint follows, as discovery names it.
const SPEC: &str = "http://wiki.open311.org/GeoReport_v2";
/// When this endpoint last changed in a way clients may care about.
const CHANGESET: &str = "2025-06-01T00:00:00+08:00";
/// The spec's defaults for the requests list.
const DEFAULT_DAYS: i64 = 90;
const MAX_REQUESTS: usize = 1000;
/// A point farther than this from every area centre is not ours to place.
const MAX_PLACE_KM: f64 = 50.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    fn parse(ext: &str) -> Option<Format> {
        match ext {
            "xml" => Some(Format::Xml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// `name.ext` → (name, format); `None` when the extension is missing or not ours.
fn split_file(file: &str) -> Option<(&str, Format)> {
    let (name, ext) = file.rsplit_once('.')?;
    Some((name, Format::parse(ext)?))
}

/// A response document, rendered to XML or JSON from one description so both formats
/// always carry the same fields.
enum V {
    S(String),
    B(bool),
    I(i64),
    F(f64),
    Null,
    /// A list; XML names each item with the given element.
    Arr(&'static str, Vec<V>),
    Obj(Vec<(&'static str, V)>),
}

impl V {
    fn s(s: impl Into<String>) -> V {
        V::S(s.into())
    }

    fn json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            V::S(s) => Value::String(s.clone()),
            V::B(b) => Value::Bool(*b),
            V::I(i) => Value::from(*i),
            V::F(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            V::Null => Value::Null,
            V::Arr(_, items) => Value::Array(items.iter().map(V::json).collect()),
            V::Obj(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.json()))
                    .collect(),
            ),
        }
    }

    fn xml(&self, name: &str, out: &mut String) {
        let leaf = |out: &mut String, text: &str| {
            out.push_str(&format!("<{name}>{}</{name}>", xml_esc(text)));
        };
        match self {
            V::S(s) => leaf(out, s),
            V::B(b) => leaf(out, if *b { "true" } else { "false" }),
            V::I(i) => leaf(out, &i.to_string()),
            V::F(f) => leaf(out, &f.to_string()),
            V::Null => out.push_str(&format!("<{name}/>")),
            V::Arr(item, items) => {
                out.push_str(&format!("<{name}>"));
                for v in items {
                    v.xml(item, out);
                }
                out.push_str(&format!("</{name}>"));
            }
            V::Obj(fields) => {
                out.push_str(&format!("<{name}>"));
                for (k, v) in fields {
                    v.xml(k, out);
                }
                out.push_str(&format!("</{name}>"));
            }
        }
    }
}

/// Escapes text for an XML element, dropping characters XML 1.0 cannot carry at all.
fn xml_esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

fn render(status: StatusCode, fmt: Format, root: &str, doc: &V) -> Response {
    match fmt {
        Format::Json => (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            doc.json().to_string(),
        )
            .into_response(),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
            doc.xml(root, &mut out);
            out.push('\n');
            (
                status,
                [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
                out,
            )
                .into_response()
        }
    }
}

/// The spec's error list: one error with its HTTP code and a description.
fn error(fmt: Format, status: StatusCode, description: &str) -> Response {
    let doc = V::Arr(
        "error",
        vec![V::Obj(vec![
            ("code", V::I(i64::from(status.as_u16()))),
            ("description", V::s(description)),
        ])],
    );
    render(status, fmt, "errors", &doc)
}

fn msg(lang: Lang, key: &str, param: &str) -> String {
    t(lang, key).replace("{param}", param)
}

fn bad(fmt: Format, lang: Lang, key: &str, param: &str) -> Response {
    error(fmt, StatusCode::BAD_REQUEST, &msg(lang, key, param))
}

fn not_found(fmt: Format, lang: Lang) -> Response {
    error(
        fmt,
        StatusCode::NOT_FOUND,
        t(lang, "open311_error_not_found"),
    )
}

/// An unknown or missing format extension: the spec has no format to answer in, so the
/// answer uses its default, XML.
fn unknown_format(lang: Lang) -> Response {
    error(
        Format::Xml,
        StatusCode::NOT_FOUND,
        t(lang, "open311_error_format"),
    )
}

fn server_error(fmt: Format, lang: Lang, e: impl std::fmt::Display) -> Response {
    // The detail goes to the log, never to the client.
    tracing::error!(error = %e, "open311 request failed");
    error(
        fmt,
        StatusCode::INTERNAL_SERVER_ERROR,
        t(lang, "open311_error_server"),
    )
}

/// The guard's refusal of a missing or invalid key on an Open311 path: the spec prescribes
/// 403 in its own error format. `None` for any other path.
pub fn key_refused(path: &str, lang: Lang) -> Option<Response> {
    let rest = path.strip_prefix("/open311/")?;
    let fmt = rest
        .rsplit_once('.')
        .and_then(|(_, ext)| Format::parse(ext))
        .unwrap_or(Format::Xml);
    Some(error(
        fmt,
        StatusCode::FORBIDDEN,
        t(lang, "open311_error_key"),
    ))
}

/// A query or form parameter, decoded and trimmed; an empty one counts as absent.
fn param(src: &str, name: &str) -> Option<String> {
    form_field(src.as_bytes(), name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn host_url(headers: &HeaderMap, ctx: &Ctx) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    let scheme = if ctx.secure_cookies { "https" } else { "http" };
    format!("{scheme}://{host}/open311/v2/")
}

fn w3c(t: DateTime<Utc>) -> String {
    t.with_timezone(&SHANGHAI)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A W3C datetime (RFC 3339), or a bare date taken as midnight in the bureau's time zone.
fn parse_w3c(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    d.and_hms_opt(0, 0, 0)?
        .and_local_timezone(SHANGHAI)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

fn service(lang: Lang, c: Category) -> V {
    V::Obj(vec![
        ("service_code", V::s(c.code())),
        (
            "service_name",
            V::s(t(lang, &format!("category.{}", c.code()))),
        ),
        (
            "description",
            V::s(t(lang, &format!("open311_service.{}", c.code()))),
        ),
        ("metadata", V::B(false)),
        ("type", V::s("realtime")),
        (
            "keywords",
            V::s(t(lang, &format!("open311_keywords.{}", c.code()))),
        ),
        (
            "group",
            V::s(t(lang, &format!("open311_group.{}", c.topic().code()))),
        ),
    ])
}

/// `GET /open311/v2/discovery.{format}`.
pub async fn discovery(
    Extension(ctx): Extension<Ctx>,
    Path(format): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(fmt) = Format::parse(&format) else {
        return unknown_format(ctx.lang);
    };
    let formats = V::Arr("format", vec![V::s("text/xml"), V::s("application/json")]);
    let doc = V::Obj(vec![
        ("changeset", V::s(CHANGESET)),
        ("contact", V::s(t(ctx.lang, "open311_contact"))),
        ("key_service", V::s(t(ctx.lang, "open311_key_service"))),
        (
            "endpoints",
            V::Arr(
                "endpoint",
                vec![V::Obj(vec![
                    ("specification", V::s(SPEC)),
                    ("url", V::s(host_url(&headers, &ctx))),
                    ("changeset", V::s(CHANGESET)),
                    ("type", V::s("production")),
                    ("formats", formats),
                ])],
            ),
        ),
    ]);
    render(StatusCode::OK, fmt, "discovery", &doc)
}

/// `GET /open311/v2/services.{format}`: every category is a service.
pub async fn services(Extension(ctx): Extension<Ctx>, Path(format): Path<String>) -> Response {
    let Some(fmt) = Format::parse(&format) else {
        return unknown_format(ctx.lang);
    };
    let doc = V::Arr(
        "service",
        Category::ALL
            .iter()
            .map(|c| service(ctx.lang, *c))
            .collect(),
    );
    render(StatusCode::OK, fmt, "services", &doc)
}

/// `GET /open311/v2/services/{service_code}.{format}`: no service has extra attributes.
pub async fn service_definition(
    Extension(ctx): Extension<Ctx>,
    Path(file): Path<String>,
) -> Response {
    let Some((code, fmt)) = split_file(&file) else {
        return unknown_format(ctx.lang);
    };
    let Ok(c) = Category::parse(code) else {
        return not_found(fmt, ctx.lang);
    };
    let doc = V::Obj(vec![
        ("service_code", V::s(c.code())),
        ("attributes", V::Arr("attribute", Vec::new())),
    ]);
    render(StatusCode::OK, fmt, "service_definition", &doc)
}

/// Whether an opinion appears in the public Open311 view at all: a withdrawn matter is the
/// resident's to take back, and an invalid one may be abuse.
fn listed(o: &OpinionRow) -> bool {
    minyi_core::opinion::publicly_listed(o.state)
}

fn description_public(o: &OpinionRow) -> bool {
    minyi_core::opinion::words_may_be_published(o.channel, o.category)
}

/// Everything the public view may need besides the opinion itself.
struct Places {
    areas: HashMap<i64, AreaRow>,
    units: HashMap<i64, String>,
}

async fn places(app: &App) -> minyi_app::Result<Places> {
    Ok(Places {
        areas: app
            .store
            .areas()
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect(),
        units: app
            .store
            .units()
            .await?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect(),
    })
}

/// The one place that decides which fields of an opinion are public. No contact field is
/// ever read here: the row carries only the id of its sealed contact, and that is not used.
async fn public_fields(app: &App, lang: Lang, p: &Places, o: &OpinionRow) -> minyi_app::Result<V> {
    let updated = app
        .store
        .events_of(SubjectKind::Opinion, o.id)
        .await?
        .iter()
        .map(|e| e.at)
        .chain(std::iter::once(o.received_at))
        .chain(o.closed_at)
        .max()
        .unwrap_or(o.received_at);
    let open = o.state.is_open();
    let mut f = vec![
        ("service_request_id", V::s(o.tracking_code.as_str())),
        ("status", V::s(if open { "open" } else { "closed" })),
        (
            "status_notes",
            V::s(t(lang, &format!("state.{}", o.state.code()))),
        ),
        (
            "service_name",
            V::s(t(lang, &format!("category.{}", o.category.code()))),
        ),
        ("service_code", V::s(o.category.code())),
    ];
    if description_public(o) {
        f.push(("description", V::s(o.text.clone())));
    }
    if let Some(name) = o.unit_id.and_then(|u| p.units.get(&u)) {
        f.push(("agency_responsible", V::s(name.clone())));
    }
    f.push(("service_notice", V::s(t(lang, "open311_notice_public"))));
    f.push(("requested_datetime", V::s(w3c(o.received_at))));
    f.push(("updated_datetime", V::s(w3c(updated))));
    if let Some(d) = o.due_at.filter(|_| open) {
        f.push(("expected_datetime", V::s(w3c(d))));
    }
    if let Some(a) = o.area_id.and_then(|id| p.areas.get(&id)) {
        f.push(("address", V::s(a.name.clone())));
        f.push(("address_id", V::s(a.code.as_str())));
        if let (Some(lat), Some(lon)) = (a.lat, a.lon) {
            f.push(("lat", V::F(lat)));
            f.push(("long", V::F(lon)));
        }
    }
    Ok(V::Obj(f))
}

async fn request_list(app: &App, lang: Lang, fmt: Format, rows: &[OpinionRow]) -> Response {
    let p = match places(app).await {
        Ok(p) => p,
        Err(e) => return server_error(fmt, lang, e),
    };
    let mut items = Vec::with_capacity(rows.len());
    for o in rows {
        match public_fields(app, lang, &p, o).await {
            Ok(v) => items.push(v),
            Err(e) => return server_error(fmt, lang, e),
        }
    }
    render(
        StatusCode::OK,
        fmt,
        "service_requests",
        &V::Arr("request", items),
    )
}

async fn by_code(app: &App, code: &str) -> minyi_app::Result<Option<OpinionRow>> {
    let Ok(tc) = TrackingCode::parse(code) else {
        return Ok(None);
    };
    let Some(o) = app
        .store
        .opinion_by_tracking_code(&tc)
        .await?
        .filter(listed)
    else {
        return Ok(None);
    };
    // A merged original answers with the matter it joined (see `minyi_app::merge`).
    Ok(Some(minyi_app::merge::as_seen_by_resident(app, o).await?))
}

/// `GET /open311/v2/requests.{format}` with the spec's filters.
pub async fn requests(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(format): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = ctx.lang;
    let Some(fmt) = Format::parse(&format) else {
        return unknown_format(lang);
    };
    let q = query.unwrap_or_default();
    // Ids given: the spec says every other filter is ignored.
    if let Some(ids) = param(&q, "service_request_id") {
        let mut rows = Vec::new();
        for id in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if rows.len() >= MAX_REQUESTS {
                break;
            }
            match by_code(&app, id).await {
                Ok(Some(o)) if !rows.iter().any(|r: &OpinionRow| r.id == o.id) => rows.push(o),
                Ok(_) => {}
                Err(e) => return server_error(fmt, lang, e),
            }
        }
        return request_list(&app, lang, fmt, &rows).await;
    }
    let category = match param(&q, "service_code") {
        None => None,
        Some(c) => match Category::parse(&c) {
            Ok(c) => Some(c),
            Err(_) => return bad(fmt, lang, "open311_error_unknown_service", "service_code"),
        },
    };
    // A bad value is answered with the name of its parameter.
    let date = |name: &'static str| -> Result<Option<DateTime<Utc>>, &'static str> {
        match param(&q, name) {
            None => Ok(None),
            Some(s) => parse_w3c(&s).map(Some).ok_or(name),
        }
    };
    let (start, end) = match (date("start_date"), date("end_date")) {
        (Err(name), _) | (_, Err(name)) => return bad(fmt, lang, "open311_error_date", name),
        (Ok(s), Ok(e)) => (s, e),
    };
    let end = end.unwrap_or_else(Utc::now);
    let start = start.unwrap_or(end - Duration::days(DEFAULT_DAYS));
    if start > end {
        return bad(fmt, lang, "open311_error_date_order", "start_date");
    }
    let (mut want_open, mut want_closed) = (true, true);
    if let Some(s) = param(&q, "status") {
        (want_open, want_closed) = (false, false);
        for part in s.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match part {
                "open" => want_open = true,
                "closed" => want_closed = true,
                _ => return bad(fmt, lang, "open311_error_status", "status"),
            }
        }
    }
    let units = match app.store.units().await {
        Ok(u) => u.into_iter().map(|u| u.id).collect::<Vec<_>>(),
        Err(e) => return server_error(fmt, lang, e),
    };
    // Newest first, a page at a time, until the window's start is passed or the spec's
    // maximum is reached.
    const PAGE: i64 = 500;
    let mut rows = Vec::new();
    let mut offset = 0;
    'pages: loop {
        let query = OpinionQuery {
            category,
            sort: SortKey::Received,
            descending: true,
            limit: PAGE,
            offset,
            ..Default::default()
        };
        let page = match app
            .store
            .opinion_list(&Whose::Units(units.clone()), &query)
            .await
        {
            Ok((page, _)) => page,
            Err(e) => return server_error(fmt, lang, e),
        };
        let n = page.len() as i64;
        for o in page {
            if o.received_at < start {
                break 'pages;
            }
            let open = o.state.is_open();
            if o.received_at <= end && listed(&o) && ((open && want_open) || (!open && want_closed))
            {
                rows.push(o);
                if rows.len() >= MAX_REQUESTS {
                    break 'pages;
                }
            }
        }
        if n < PAGE {
            break;
        }
        offset += PAGE;
    }
    request_list(&app, lang, fmt, &rows).await
}

/// `GET /open311/v2/requests/{service_request_id}.{format}`: a list of one, as the spec says.
pub async fn request(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(file): Path<String>,
) -> Response {
    let Some((code, fmt)) = split_file(&file) else {
        return unknown_format(ctx.lang);
    };
    match by_code(&app, code).await {
        Ok(Some(o)) => request_list(&app, ctx.lang, fmt, &[o]).await,
        Ok(None) => not_found(fmt, ctx.lang),
        Err(e) => server_error(fmt, ctx.lang, e),
    }
}

/// `GET /open311/v2/tokens/{token}.{format}`: ids are issued at once, so a token is the
/// tracking code itself.
pub async fn token(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(file): Path<String>,
) -> Response {
    let Some((code, fmt)) = split_file(&file) else {
        return unknown_format(ctx.lang);
    };
    match by_code(&app, code).await {
        Ok(Some(o)) => {
            let id = o.tracking_code.as_str().to_owned();
            let doc = V::Arr(
                "request",
                vec![V::Obj(vec![
                    ("service_request_id", V::s(id.clone())),
                    ("token", V::s(id)),
                ])],
            );
            render(StatusCode::OK, fmt, "service_requests", &doc)
        }
        Ok(None) => not_found(fmt, ctx.lang),
        Err(e) => server_error(fmt, ctx.lang, e),
    }
}

/// Distance in km on a sphere; plenty for choosing the nearest area centre.
fn km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().min(1.0).asin()
}

/// Where a report is placed: the area it names, the nearest area centre to its point, or
/// the area whose name its address mentions (longest name first). Only areas with a
/// station can take a matter.
fn place(
    areas: &[AreaRow],
    address_id: Option<&str>,
    point: Option<(f64, f64)>,
    address: Option<&str>,
) -> Option<String> {
    if let Some(id) = address_id {
        return Some(id.to_owned());
    }
    let served = || areas.iter().filter(|a| a.station_id.is_some());
    if let Some((lat, lon)) = point {
        return served()
            .filter_map(|a| Some((km(lat, lon, a.lat?, a.lon?), a)))
            .filter(|(d, _)| *d <= MAX_PLACE_KM)
            .min_by(|x, y| x.0.total_cmp(&y.0))
            .map(|(_, a)| a.code.as_str().to_owned());
    }
    let address = address?;
    served()
        .filter(|a| a.name.chars().count() >= 2 && address.contains(a.name.as_str()))
        .max_by_key(|a| a.name.chars().count())
        .map(|a| a.code.as_str().to_owned())
}

/// `POST /open311/v2/requests.{format}`: one report, form-encoded as the spec says. The
/// guard has checked the `api_key` (header, query or form field) before this runs.
pub async fn create(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(format): Path<String>,
    body: Bytes,
) -> Response {
    let lang = ctx.lang;
    let Some(fmt) = Format::parse(&format) else {
        return unknown_format(lang);
    };
    let Some(machine) = ctx.machine.clone() else {
        // The route table makes this a key route; a missing machine is a table mistake.
        return error(fmt, StatusCode::FORBIDDEN, t(lang, "open311_error_key"));
    };
    let Ok(form) = std::str::from_utf8(&body) else {
        return bad(fmt, lang, "open311_error_encoding", "body");
    };
    let get = |name: &str| param(form, name);
    let Some(service_code) = get("service_code") else {
        return bad(fmt, lang, "open311_error_missing", "service_code");
    };
    let Ok(category) = Category::parse(&service_code) else {
        return bad(fmt, lang, "open311_error_unknown_service", "service_code");
    };
    let coord = |name: &'static str, limit: f64| -> Result<Option<f64>, &'static str> {
        match get(name) {
            None => Ok(None),
            Some(s) => match s.parse::<f64>() {
                Ok(v) if v.is_finite() && v.abs() <= limit => Ok(Some(v)),
                _ => Err(name),
            },
        }
    };
    let point = match (coord("lat", 90.0), coord("long", 180.0)) {
        (Err(name), _) | (_, Err(name)) => {
            return bad(fmt, lang, "open311_error_coordinate", name);
        }
        (Ok(Some(lat)), Ok(Some(lon))) => Some((lat, lon)),
        (Ok(None), Ok(None)) => None,
        (Ok(None), Ok(Some(_))) => return bad(fmt, lang, "open311_error_missing", "lat"),
        (Ok(Some(_)), Ok(None)) => return bad(fmt, lang, "open311_error_missing", "long"),
    };
    let address_id = get("address_id");
    let address = get("address_string");
    if address_id.is_none() && point.is_none() && address.is_none() {
        return bad(fmt, lang, "open311_error_location", "lat/long");
    }
    let Some(description) = get("description") else {
        return bad(fmt, lang, "open311_error_missing", "description");
    };
    let areas = match app.store.areas().await {
        Ok(a) => a,
        Err(e) => return server_error(fmt, lang, e),
    };
    let Some(area_code) = place(&areas, address_id.as_deref(), point, address.as_deref()) else {
        return bad(fmt, lang, "open311_error_place", "lat/long");
    };
    // The location the sender gave stays with the words, so the station sees exactly where.
    let mut text = description;
    if let Some(a) = &address {
        text.push_str(&format!(
            "\n{}",
            t(lang, "open311_text_address").replace("{address}", a)
        ));
    }
    if let Some((lat, lon)) = point {
        text.push_str(&format!(
            "\n{}",
            t(lang, "open311_text_point").replace("{point}", &format!("{lat:.6},{lon:.6}"))
        ));
    }
    let text = match OpinionText::parse(&text) {
        Ok(t) => t,
        Err(e) => {
            return bad(
                fmt,
                lang,
                "open311_error_field",
                &format!("description: {e}"),
            );
        }
    };
    let mut contact = ContactInput::default();
    let (first, last) = (get("first_name"), get("last_name"));
    let name = match (&first, &last) {
        (None, None) => None,
        (Some(f), Some(l)) if f.is_ascii() && l.is_ascii() => Some(format!("{f} {l}")),
        // A Chinese name is family name first, written without a space.
        (Some(f), Some(l)) => Some(format!("{l}{f}")),
        (Some(n), None) | (None, Some(n)) => Some(n.clone()),
    };
    if let Some(n) = name {
        match ResidentName::parse(&n) {
            Ok(n) => contact.name = Some(n),
            Err(e) => {
                return bad(
                    fmt,
                    lang,
                    "open311_error_field",
                    &format!("first_name/last_name: {e}"),
                );
            }
        }
    }
    if let Some(p) = get("phone") {
        match PhoneNumber::parse(&p) {
            Ok(p) => contact.phone = Some(p),
            Err(e) => return bad(fmt, lang, "open311_error_field", &format!("phone: {e}")),
        }
    }
    // `email`, `media_url`, `device_id`, `account_id` and `attribute[…]` are accepted and
    // not kept: we have no field for them, and the spec lets a server ignore them.
    let submission = Submission {
        channel: Channel::Open311,
        text,
        category: Some(category),
        area_code: Some(area_code),
        client_key: None,
        contact,
        limit_to_units: Some(machine.scope.clone()),
    };
    match minyi_app::intake::submit(&app, submission, &machine.actor(), Utc::now()).await {
        Ok(r) => {
            let notice = match r.due_at {
                Some(d) => t(lang, "open311_notice_due")
                    .replace("{code}", r.tracking_code.as_str())
                    .replace("{due}", &crate::respond::local(d)),
                None => t(lang, "open311_notice").replace("{code}", r.tracking_code.as_str()),
            };
            let doc = V::Arr(
                "request",
                vec![V::Obj(vec![
                    ("service_request_id", V::s(r.tracking_code.as_str())),
                    ("service_notice", V::s(notice)),
                    ("account_id", V::Null),
                ])],
            );
            render(StatusCode::OK, fmt, "service_requests", &doc)
        }
        Err(AppError::Invalid(m)) => error(fmt, StatusCode::BAD_REQUEST, &m),
        Err(e) => server_error(fmt, lang, e),
    }
}
