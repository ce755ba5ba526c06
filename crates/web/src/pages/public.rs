//! Residents' pages: leave an opinion (with optional contact details, which are sealed
//! before storage) and follow it by tracking code. No sign-in; rate-limited per address.

use axum::extract::{Extension, Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use minyi_app::App;
use minyi_app::intake::Submission;
use minyi_app::privacy::ContactInput;
use minyi_core::PhoneNumber;
use minyi_core::identity::{Address, IdNumber, ResidentName};
use minyi_core::opinion::{OpinionText, TrackingCode};
use minyi_core::taxonomy::{Category, Channel};

use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::t;
use crate::respond::{self, csrf_field, local};

#[derive(serde::Deserialize, Default, Clone)]
pub struct ReportForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    area: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    address: String,
    /// The form's own idempotency key: a double click submits one opinion.
    #[serde(default)]
    submission: String,
    /// Set when the form was opened from a contact card's QR code: the station whose
    /// places the area list offers, and `via = qr`, which records the channel as
    /// `qr_card`. Neither is trusted for more: the area is checked by intake as always.
    #[serde(default)]
    station: String,
    #[serde(default)]
    via: String,
}

impl ReportForm {
    fn came_from_card(&self) -> bool {
        self.via.trim() == "qr"
    }
}

/// What a card's scan address puts in the form's address (see `pages::cards`).
#[derive(serde::Deserialize, Default)]
pub struct PresetQuery {
    #[serde(default)]
    station: String,
    #[serde(default)]
    area: String,
    #[serde(default)]
    via: String,
}

/// The area field: with a card's preset, a choice among the station's places (still
/// changeable, or left to the police); otherwise the plain code field.
fn area_field(
    lang: crate::i18n::Lang,
    f: &ReportForm,
    preset: Option<&minyi_app::cards::FormPreset>,
) -> String {
    let Some(p) = preset else {
        return format!(
            "<label for=\"area\">{la}</label><input id=\"area\" name=\"area\" value=\"{av}\" aria-describedby=\"area-hint\"><p id=\"area-hint\" class=\"hint\">{ah}</p>",
            la = esc(t(lang, "report_area")),
            av = esc(&f.area),
            ah = esc(t(lang, "report_area_hint")),
        );
    };
    let chosen = f.area.trim();
    let place = p
        .areas
        .iter()
        .find(|(c, _, _)| c.as_str() == chosen)
        .map_or(p.station_name.as_str(), |(_, n, _)| n.as_str());
    let mut out = format!(
        "<p class=\"notice cards-preset\" data-preset-station=\"{}\">{}</p>\
         <input type=\"hidden\" name=\"station\" value=\"{}\">",
        esc(p.station_code.as_str()),
        esc(&t(lang, "cards.form_preset")
            .replace("{place}", place)
            .replace("{station}", &p.station_name)),
        esc(p.station_code.as_str()),
    );
    out.push_str(&format!(
        "<label for=\"area\">{}</label><select id=\"area\" name=\"area\" aria-describedby=\"area-hint\">",
        esc(t(lang, "report_area"))
    ));
    let mut any = false;
    for (code, name, kind) in &p.areas {
        let sel = code.as_str() == chosen;
        any |= sel;
        out.push_str(&format!(
            "<option value=\"{}\"{}>{} ({})</option>",
            esc(code.as_str()),
            if sel { " selected" } else { "" },
            esc(name),
            esc(t(lang, &format!("area_kind.{}", kind.code())))
        ));
    }
    out.push_str(&format!(
        "<option value=\"\"{}>{}</option></select><p id=\"area-hint\" class=\"hint\">{}</p>",
        if any { "" } else { " selected" },
        esc(t(lang, "cards.form_area_other")),
        esc(t(lang, "cards.form_area_hint")),
    ));
    out
}

fn form_page(
    ctx: &Ctx,
    status: StatusCode,
    f: &ReportForm,
    preset: Option<&minyi_app::cards::FormPreset>,
    errors: &[(&str, String)],
) -> Response {
    let lang = ctx.lang;
    let mut summary = String::new();
    if !errors.is_empty() {
        summary.push_str(&format!(
            "<div class=\"error-summary\" role=\"alert\" tabindex=\"-1\"><h3>{}</h3><ul>",
            esc(t(lang, "form_errors"))
        ));
        for (field, msg) in errors {
            summary.push_str(&format!("<li><a href=\"#{field}\">{}</a></li>", esc(msg)));
        }
        summary.push_str("</ul></div>");
    }
    let mut cats = format!(
        "<option value=\"\">{}</option>",
        esc(t(lang, "report_category_any"))
    );
    for c in Category::ALL {
        let sel = if f.category == c.code() {
            " selected"
        } else {
            ""
        };
        cats.push_str(&format!(
            "<option value=\"{}\"{sel}>{}</option>",
            c.code(),
            esc(t(lang, &format!("category.{}", c.code())))
        ));
    }
    let submission = if f.submission.is_empty() {
        minyi_vault::new_secret_token()
    } else {
        f.submission.clone()
    };
    let body = format!(
        "<h2>{title}</h2><p>{intro}</p>{summary}\
         <form method=\"post\" action=\"/report\" class=\"stack\">{csrf}\
         <input type=\"hidden\" name=\"submission\" value=\"{sub}\">{via}\
         <label for=\"text\">{lt}</label><textarea id=\"text\" name=\"text\" rows=\"6\" maxlength=\"5000\" required>{tv}</textarea>\
         <label for=\"category\">{lc}</label><select id=\"category\" name=\"category\">{cats}</select>\
         {area}\
         <fieldset><legend>{lcontact}</legend><p class=\"hint\">{privacy}</p>\
         <label for=\"name\">{ln}</label><input id=\"name\" name=\"name\" autocomplete=\"name\" maxlength=\"40\" value=\"{nv}\">\
         <label for=\"phone\">{lp}</label><input id=\"phone\" name=\"phone\" type=\"tel\" autocomplete=\"tel\" value=\"{pv}\">\
         <label for=\"id_number\">{li}</label><input id=\"id_number\" name=\"id_number\" maxlength=\"18\" value=\"{iv}\">\
         <label for=\"address\">{lad}</label><input id=\"address\" name=\"address\" maxlength=\"200\" value=\"{adv}\"></fieldset>\
         <button type=\"submit\">{submit}</button></form>\
         <p><a href=\"/track\">{track}</a></p>",
        title = esc(t(lang, "report_title")),
        intro = esc(t(lang, "report_intro")),
        csrf = csrf_field(ctx),
        sub = esc(&submission),
        lt = esc(t(lang, "report_text")),
        tv = esc(&f.text),
        lc = esc(t(lang, "report_category")),
        via = if f.came_from_card() {
            "<input type=\"hidden\" name=\"via\" value=\"qr\">"
        } else {
            ""
        },
        area = area_field(lang, f, preset),
        lcontact = esc(t(lang, "contact_title")),
        privacy = esc(t(lang, "report_privacy")),
        ln = esc(t(lang, "contact_name")),
        nv = esc(&f.name),
        lp = esc(t(lang, "contact_phone")),
        pv = esc(&f.phone),
        li = esc(t(lang, "contact_id_number")),
        iv = esc(&f.id_number),
        lad = esc(t(lang, "contact_address")),
        adv = esc(&f.address),
        submit = esc(t(lang, "report_submit")),
        track = esc(t(lang, "track_link")),
    );
    respond::html(ctx, status, t(lang, "report_title"), "/report", &body)
}

pub async fn report_form(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    crate::extract::Q(q): crate::extract::Q<PresetQuery>,
) -> Response {
    // Only the place and the card marker come from the address: a link cannot put words
    // in a resident's mouth.
    let f = ReportForm {
        area: q.area.trim().to_owned(),
        station: q.station.trim().to_owned(),
        via: q.via.trim().to_owned(),
        ..ReportForm::default()
    };
    let preset = match preset_of(&app, &f).await {
        Ok(p) => p,
        Err(e) => return respond::app_error(&ctx, e),
    };
    form_page(&ctx, StatusCode::OK, &f, preset.as_ref(), &[])
}

async fn preset_of(
    app: &App,
    f: &ReportForm,
) -> Result<Option<minyi_app::cards::FormPreset>, minyi_app::AppError> {
    if f.station.trim().is_empty() {
        return Ok(None);
    }
    minyi_app::cards::form_preset(app, Some(&f.station), Some(&f.area)).await
}

pub async fn report(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<ReportForm>,
) -> Response {
    let lang = ctx.lang;
    let mut errors: Vec<(&str, String)> = Vec::new();
    let text = OpinionText::parse(&f.text)
        .map_err(|e| errors.push(("text", format!("{}: {e}", t(lang, "report_text")))))
        .ok();
    let category = if f.category.trim().is_empty() {
        None
    } else {
        Category::parse(&f.category)
            .map_err(|e| errors.push(("category", e.to_string())))
            .ok()
    };
    let mut contact = ContactInput::default();
    let opt = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_owned())
    };
    if let Some(v) = opt(&f.name) {
        contact.name = ResidentName::parse(&v)
            .map_err(|e| errors.push(("name", format!("{}: {e}", t(lang, "contact_name")))))
            .ok();
    }
    if let Some(v) = opt(&f.phone) {
        contact.phone = PhoneNumber::parse(&v)
            .map_err(|e| errors.push(("phone", format!("{}: {e}", t(lang, "contact_phone")))))
            .ok();
    }
    if let Some(v) = opt(&f.id_number) {
        contact.id_number = IdNumber::parse(&v)
            .map_err(|e| {
                errors.push((
                    "id_number",
                    format!("{}: {e}", t(lang, "contact_id_number")),
                ))
            })
            .ok();
    }
    if let Some(v) = opt(&f.address) {
        contact.address = Address::parse(&v)
            .map_err(|e| errors.push(("address", format!("{}: {e}", t(lang, "contact_address")))))
            .ok();
    }
    let preset = match preset_of(&app, &f).await {
        Ok(p) => p,
        Err(e) => return respond::app_error(&ctx, e),
    };
    let Some(text) = text else {
        return form_page(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &f,
            preset.as_ref(),
            &errors,
        );
    };
    if !errors.is_empty() {
        return form_page(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &f,
            preset.as_ref(),
            &errors,
        );
    }
    let submission = Submission {
        channel: if f.came_from_card() {
            Channel::QrCard
        } else {
            Channel::WebForm
        },
        text,
        category,
        area_code: opt(&f.area),
        client_key: opt(&f.submission)
            .filter(|s| s.len() <= 100)
            .map(|s| format!("web:{s}")),
        contact,
        limit_to_units: None,
    };
    match minyi_app::intake::submit(&app, submission, "resident", chrono::Utc::now()).await {
        Ok(receipt) => {
            let body = format!(
                "<h2>{}</h2><p>{}</p><p class=\"tracking\"><strong data-tracking-code>{}</strong></p><p>{}</p><p><a href=\"/track?code={}\">{}</a></p>",
                esc(t(lang, "report_thanks")),
                esc(t(lang, "report_keep_code")),
                esc(receipt.tracking_code.as_str()),
                esc(&t(lang, "report_due")
                    .replace("{due}", &receipt.due_at.map(local).unwrap_or_default())),
                esc(receipt.tracking_code.as_str()),
                esc(t(lang, "track_link")),
            );
            let status = if receipt.repeated {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            respond::html(&ctx, status, t(lang, "report_thanks"), "/report", &body)
        }
        Err(minyi_app::AppError::Invalid(m)) => form_page(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            &f,
            preset.as_ref(),
            &[("area", m)],
        ),
        Err(e) => respond::app_error(&ctx, e),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct TrackQuery {
    code: Option<String>,
    thanks: Option<String>,
}

/// A matter's public status by tracking code: state and deadline only — never the text
/// or who sent it, since a tracking code can be seen over a shoulder.
pub async fn track(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    crate::extract::Q(q): crate::extract::Q<TrackQuery>,
) -> Response {
    let lang = ctx.lang;
    let mut body = format!(
        "<h2>{}</h2><form method=\"get\" action=\"/track\" class=\"stack narrow\"><label for=\"code\">{}</label>\
         <input id=\"code\" name=\"code\" value=\"{}\" autocomplete=\"off\"><button type=\"submit\">{}</button></form>",
        esc(t(lang, "track_title")),
        esc(t(lang, "col_tracking_code")),
        esc(q.code.as_deref().unwrap_or("")),
        esc(t(lang, "track_submit")),
    );
    let mut status = StatusCode::OK;
    if let Some(code) = q.code.as_deref().filter(|c| !c.trim().is_empty()) {
        let found = match TrackingCode::parse(code) {
            Ok(tc) => match app.store.opinion_by_tracking_code(&tc).await {
                Ok(o) => o,
                Err(e) => return respond::app_error(&ctx, e.into()),
            },
            Err(_) => None,
        };
        // A merged original shows the one matter being handled (see `minyi_app::merge`).
        let found = match found {
            Some(o) => match minyi_app::merge::as_seen_by_resident(&app, o).await {
                Ok(o) => Some(o),
                Err(e) => return respond::app_error(&ctx, e),
            },
            None => None,
        };
        match found {
            Some(o) => {
                if q.thanks.is_some() {
                    body.push_str(&format!(
                        "<p class=\"notice\" role=\"status\">{}</p>",
                        esc(t(lang, "verdict_thanks"))
                    ));
                }
                body.push_str(&format!(
                    "<dl class=\"facts\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd data-state=\"{}\">{}</dd><dt>{}</dt><dd>{}</dd></dl>",
                    esc(t(lang, "col_received")),
                    local(o.received_at),
                    esc(t(lang, "col_state")),
                    o.state.code(),
                    esc(t(lang, &format!("state.{}", o.state.code()))),
                    esc(t(lang, "col_due")),
                    o.due_at.map(local).unwrap_or_default(),
                ));
                // The answer is the resident's to read: the latest response, as written.
                let events = match app
                    .store
                    .events_of(minyi_core::event::SubjectKind::Opinion, o.id)
                    .await
                {
                    Ok(e) => e,
                    Err(e) => return respond::app_error(&ctx, e.into()),
                };
                if let Some(answer) = events
                    .iter()
                    .rev()
                    .find(|e| e.action == "respond")
                    .and_then(|e| e.detail.clone())
                {
                    body.push_str(&format!(
                        "<h3>{}</h3><p class=\"opinion-text\">{}</p>",
                        esc(t(lang, "track_answer")),
                        esc(&answer)
                    ));
                }
                if matches!(
                    o.state,
                    minyi_core::opinion::OpinionState::Responded
                        | minyi_core::opinion::OpinionState::Notified
                ) {
                    body.push_str(&format!(
                        "<form method=\"post\" action=\"/track/verdict\" class=\"verdict\">{}<input type=\"hidden\" name=\"code\" value=\"{}\"><fieldset><legend>{}</legend>",
                        csrf_field(&ctx),
                        esc(o.tracking_code.as_str()),
                        esc(t(lang, "track_rate"))
                    ));
                    for v in minyi_core::taxonomy::Verdict::ALL {
                        body.push_str(&format!(
                            "<button type=\"submit\" name=\"verdict\" value=\"{}\">{}</button> ",
                            v.code(),
                            esc(t(lang, &format!("verdict.{}", v.code())))
                        ));
                    }
                    body.push_str("</fieldset></form>");
                }
            }
            None => {
                status = StatusCode::NOT_FOUND;
                body.push_str(&format!(
                    "<div class=\"error-summary\" role=\"alert\"><p>{}</p></div>",
                    esc(t(lang, "track_not_found"))
                ));
            }
        }
    }
    respond::html(&ctx, status, t(lang, "track_title"), "/track", &body)
}
