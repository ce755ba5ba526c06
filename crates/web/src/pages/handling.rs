//! The handling forms on a matter's page and the one route they post to, and the
//! resident's verdict on the tracking page.

use axum::extract::{Extension, Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minyi_app::App;
use minyi_app::handling::{Act, Refusal};
use minyi_core::taxonomy::{Category, Urgency, Verdict};

use crate::guard::Ctx;
use crate::html::esc;
use crate::i18n::{Lang, t};
use crate::respond::{self, csrf_field, url_encode};

/// The forms for the acts offered on this matter.
pub fn forms(
    ctx: &Ctx,
    o: &minyi_store::OpinionRow,
    offered: &[&str],
    units: &[minyi_store::UnitRow],
) -> String {
    let lang = ctx.lang;
    if offered.is_empty() {
        return String::new();
    }
    let code = esc(o.tracking_code.as_str());
    let mut out = format!(
        "<section class=\"handling\"><h3>{}</h3>",
        esc(t(lang, "act_title"))
    );
    for act in offered {
        let label = esc(t(lang, &format!("act.{act}")));
        let fields = match *act {
            "triage" => format!(
                "{}{}",
                select(
                    lang,
                    "category",
                    "col_category",
                    Category::ALL
                        .iter()
                        .map(|c| (c.code(), format!("category.{}", c.code())))
                        .collect(),
                    o.category.code()
                ),
                select(
                    lang,
                    "urgency",
                    "act_urgency",
                    Urgency::ALL
                        .iter()
                        .map(|u| (u.code(), format!("urgency.{}", u.code())))
                        .collect(),
                    o.urgency.code()
                ),
            ),
            "assign" => {
                let mut opts = String::new();
                for u in units {
                    opts.push_str(&format!(
                        "<option value=\"{}\">{} ({})</option>",
                        esc(u.code.as_str()),
                        esc(&u.name),
                        esc(u.code.as_str())
                    ));
                }
                format!(
                    "<label for=\"unit-{act}\">{}</label><select id=\"unit-{act}\" name=\"unit\">{opts}</select>",
                    esc(t(lang, "col_unit"))
                )
            }
            "return" | "reopen" | "escalate" => {
                text_field(lang, act, "reason", "act_reason", false)
            }
            "respond" => text_field(lang, act, "text", "act_response", true),
            "close" => select(
                lang,
                "verdict",
                "act_verdict",
                Verdict::ALL
                    .iter()
                    .map(|v| (v.code(), format!("verdict.{}", v.code())))
                    .collect(),
                "",
            ),
            "request_extension" => format!(
                "<label for=\"days-{act}\">{}</label><input id=\"days-{act}\" name=\"days\" type=\"number\" min=\"1\" max=\"15\" value=\"5\" required>{}",
                esc(t(lang, "act_days")),
                text_field(lang, act, "reason", "act_reason", false)
            ),
            "extend" => format!(
                "<label for=\"days-{act}\">{}</label><input id=\"days-{act}\" name=\"days\" type=\"number\" min=\"1\" max=\"15\" value=\"5\" required>",
                esc(t(lang, "act_days"))
            ),
            _ => String::new(),
        };
        out.push_str(&format!(
            "<form method=\"post\" action=\"/opinions/{code}/act\" class=\"stack narrow act\" data-act=\"{act}\">{}<input type=\"hidden\" name=\"act\" value=\"{act}\">{fields}<button type=\"submit\">{label}</button></form>",
            csrf_field(ctx)
        ));
    }
    out.push_str("</section>");
    out
}

fn select(
    lang: Lang,
    name: &str,
    label_key: &str,
    options: Vec<(&str, String)>,
    current: &str,
) -> String {
    let mut s = format!(
        "<label for=\"f-{name}\">{}</label><select id=\"f-{name}\" name=\"{name}\">",
        esc(t(lang, label_key))
    );
    for (v, key) in options {
        let sel = if v == current { " selected" } else { "" };
        s.push_str(&format!(
            "<option value=\"{v}\"{sel}>{}</option>",
            esc(t(lang, &key))
        ));
    }
    s.push_str("</select>");
    s
}

fn text_field(lang: Lang, act: &str, name: &str, label_key: &str, long: bool) -> String {
    let id = format!("{name}-{act}");
    if long {
        format!(
            "<label for=\"{id}\">{}</label><textarea id=\"{id}\" name=\"{name}\" rows=\"4\" maxlength=\"5000\" required></textarea>",
            esc(t(lang, label_key))
        )
    } else {
        format!(
            "<label for=\"{id}\">{}</label><input id=\"{id}\" name=\"{name}\" maxlength=\"500\" required>",
            esc(t(lang, label_key))
        )
    }
}

#[derive(serde::Deserialize)]
pub struct ActForm {
    act: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    days: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    urgency: String,
}

fn parse_act(f: &ActForm) -> Result<Act, &'static str> {
    let days = || {
        f.days
            .trim()
            .parse::<u32>()
            .map_err(|_| "act_extension_days")
    };
    let opt = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_owned())
    };
    Ok(match f.act.as_str() {
        "triage" => Act::Triage {
            category: opt(&f.category)
                .map(|c| Category::parse(&c).map_err(|_| "act_bad_value"))
                .transpose()?,
            urgency: opt(&f.urgency)
                .map(|u| Urgency::parse(&u).map_err(|_| "act_bad_value"))
                .transpose()?,
        },
        "assign" => Act::Assign {
            unit_code: f.unit.clone(),
        },
        "accept" => Act::Accept,
        "return" => Act::Return {
            reason: f.reason.clone(),
        },
        "respond" => Act::Respond {
            text: f.text.clone(),
        },
        "notify" => Act::Notify,
        "close" => Act::Close {
            verdict: Verdict::parse(&f.verdict).map_err(|_| "act_bad_value")?,
        },
        "reopen" => Act::Reopen {
            reason: f.reason.clone(),
        },
        "escalate" => Act::Escalate {
            reason: f.reason.clone(),
        },
        "mark_key" => Act::MarkKey,
        "request_extension" => Act::RequestExtension {
            days: days()?,
            reason: f.reason.clone(),
        },
        "extend" => Act::ApproveExtension { days: days()? },
        _ => return Err("act_bad_value"),
    })
}

pub async fn act(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(code): Path<String>,
    Form(f): Form<ActForm>,
) -> Response {
    let p = match ctx.principal() {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    let refused = |key: &str| {
        respond::app_error(
            &ctx,
            minyi_app::AppError::Invalid(t(ctx.lang, key).to_owned()),
        )
    };
    let act = match parse_act(&f) {
        Ok(a) => a,
        Err(key) => return refused(key),
    };
    match minyi_app::handling::act(&app, &p, &code, act, chrono::Utc::now()).await {
        // Post/redirect/get: a reload never repeats the act.
        Ok(Ok(_)) => {
            Redirect::to(&format!("/opinions/{}", url_encode(code.trim()))).into_response()
        }
        Ok(Err(Refusal(key))) => {
            let mut r = refused(key);
            *r.status_mut() = StatusCode::CONFLICT;
            r
        }
        Err(e) => respond::app_error(&ctx, e),
    }
}

#[derive(serde::Deserialize)]
pub struct VerdictForm {
    code: String,
    verdict: String,
}

/// The resident's verdict from the tracking page.
pub async fn resident_verdict(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Form(f): Form<VerdictForm>,
) -> Response {
    let Ok(verdict) = Verdict::parse(&f.verdict) else {
        return respond::app_error(
            &ctx,
            minyi_app::AppError::Invalid(t(ctx.lang, "act_bad_value").to_owned()),
        );
    };
    match minyi_app::handling::resident_verdict(&app, &f.code, verdict, chrono::Utc::now()).await {
        Ok(Ok(_)) => Redirect::to(&format!(
            "/track?code={}&thanks=1",
            url_encode(f.code.trim())
        ))
        .into_response(),
        Ok(Err(Refusal(key))) => {
            let mut r = respond::app_error(
                &ctx,
                minyi_app::AppError::Invalid(t(ctx.lang, key).to_owned()),
            );
            *r.status_mut() = StatusCode::CONFLICT;
            r
        }
        Err(minyi_app::AppError::NotFound) => {
            respond::status_page(&ctx, StatusCode::NOT_FOUND, "not_found")
        }
        Err(e) => respond::app_error(&ctx, e),
    }
}
