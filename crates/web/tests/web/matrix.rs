//! The authorization matrix, generated from the router's own route table: every route ×
//! every identity (anonymous, each role, machine keys of two purposes) × an object inside
//! and one outside the caller's subtree, checked against an oracle written from the rules
//! of `minyi_core::access` — not from the guard's code. A route without a request recipe
//! here fails the test, so a new route cannot skip the matrix; a route registered around
//! the table is refused by the guard (tested below) and found by the source check.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use minyi_app::App;
use minyi_app::auth::Operator;
use minyi_core::access::{KeyPurpose, Role};
use minyi_core::opinion::{Escalation, NewOpinion, OpinionState, OpinionText, TrackingCode};
use minyi_core::org::{AreaKind, NewArea, NewUnit, UnitKind};
use minyi_core::taxonomy::{Category, Channel, DepartmentKind, Sentiment, Urgency};
use minyi_core::{Code, PhoneNumber};
use minyi_store::testing::TestDb;
use minyi_web::routes::{Access, Route, Target};

use crate::{Client, Resp, open_app};

const PASSWORD: &str = "matrix passphrase 1";

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

fn unit(c: &str, kind: UnitKind, parent: Option<&str>) -> NewUnit {
    NewUnit {
        code: code(c),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(code),
        window: None,
        department: (kind == UnitKind::Department).then_some(DepartmentKind::Petition),
        synthetic: false,
    }
}

/// Two cities. City A: counties C1 and C2 with a station each, and a department.
/// City B: one county, one station, one department. Everyone works in city A.
async fn fixture(app: &App) -> Fixture {
    use UnitKind::*;
    app.store
        .insert_units(&[
            unit("MA", CityBureau, None),
            unit("MA-C1", CountyBureau, Some("MA")),
            unit("MA-C2", CountyBureau, Some("MA")),
            unit("MA-C1-S1", Station, Some("MA-C1")),
            unit("MA-C2-S1", Station, Some("MA-C2")),
            unit("MA-D1", Department, Some("MA")),
            unit("MB", CityBureau, None),
            unit("MB-C1", CountyBureau, Some("MB")),
            unit("MB-C1-S1", Station, Some("MB-C1")),
            unit("MB-D1", Department, Some("MB")),
        ])
        .await
        .unwrap();
    app.store
        .insert_areas(&[
            NewArea {
                code: code("A-MA"),
                kind: AreaKind::County,
                name: "甲县".into(),
                parent: None,
                station: None,
                population: 1000,
                centre: None,
                synthetic: false,
            },
            NewArea {
                code: code("A-MA-V1"),
                kind: AreaKind::Township,
                name: "甲镇".into(),
                parent: Some(code("A-MA")),
                station: Some(code("MA-C1-S1")),
                population: 1000,
                centre: None,
                synthetic: false,
            },
            NewArea {
                code: code("A-MA-V2"),
                kind: AreaKind::Township,
                name: "乙镇".into(),
                parent: Some(code("A-MA")),
                station: Some(code("MA-C2-S1")),
                population: 1000,
                centre: None,
                synthetic: false,
            },
            NewArea {
                code: code("A-MB"),
                kind: AreaKind::County,
                name: "丙县".into(),
                parent: None,
                station: None,
                population: 1000,
                centre: None,
                synthetic: false,
            },
            NewArea {
                code: code("A-MB-V1"),
                kind: AreaKind::Township,
                name: "丙镇".into(),
                parent: Some(code("A-MB")),
                station: Some(code("MB-C1-S1")),
                population: 1000,
                centre: None,
                synthetic: false,
            },
        ])
        .await
        .unwrap();
    let officer = |unit: &str, name: &str| minyi_core::org::NewOfficer {
        unit: code(unit),
        name: name.into(),
        role: minyi_core::org::OfficerRole::CommunityOfficer,
        duty_phone: Some(PhoneNumber::parse("0875-2123456").unwrap()),
        synthetic: false,
    };
    app.store
        .insert_officers(&[
            officer("MA-C1-S1", "甲警"),
            officer("MA-C2-S1", "乙警"),
            officer("MB-C1-S1", "丙警"),
            officer("MA-D1", "丁联络"),
        ])
        .await
        .unwrap();
    let mut officers = HashMap::new();
    for (unit_code, key) in [
        ("MA-C1-S1", "of_a1"),
        ("MA-C2-S1", "of_a2"),
        ("MB-C1-S1", "of_b1"),
        ("MA-D1", "of_da"),
    ] {
        let u = app.store.unit_by_code(unit_code).await.unwrap().unwrap();
        let o = app.store.officers_of(u.id).await.unwrap();
        officers.insert(key, o[0].id.to_string());
    }
    let id = |c: &str| {
        let c = c.to_owned();
        let store = app.store.clone();
        async move { store.unit_by_code(&c).await.unwrap().unwrap().id }
    };
    let (s_a1, s_a2, s_b1, d_a, d_b) = (
        id("MA-C1-S1").await,
        id("MA-C2-S1").await,
        id("MB-C1-S1").await,
        id("MA-D1").await,
        id("MB-D1").await,
    );
    let mut opinions = HashMap::new();
    for (name, unit_id, dept) in [
        ("op_a1", s_a1, Some(d_a)),
        ("op_a2", s_a2, None),
        ("op_b1", s_b1, Some(d_b)),
    ] {
        let tc = TrackingCode::from_bits(unit_id as u64 * 7919 + 13);
        let contact = minyi_app::privacy::seal(
            &app.key,
            &minyi_app::privacy::ContactInput {
                phone: Some(PhoneNumber::parse("13700001111").unwrap()),
                ..Default::default()
            },
        );
        let o = NewOpinion {
            tracking_code: tc.clone(),
            client_key: None,
            channel: Channel::WebForm,
            text: OpinionText::parse("矩阵测试的民意").unwrap(),
            category: Category::Other,
            sentiment: Sentiment::Neutral,
            urgency: Urgency::Normal,
            department: None,
            area_id: None,
            unit_id: Some(unit_id),
            department_id: dept,
            state: OpinionState::Received,
            escalation: Escalation::Station,
            key_opinion: false,
            received_at: chrono::Utc::now(),
            due_at: None,
            closed_at: None,
            verdict: None,
            synthetic: false,
        };
        app.store
            .submit_opinion(&o, Some(&contact), chrono::Utc::now())
            .await
            .unwrap();
        opinions.insert(name, tc.to_string());
    }
    let now = chrono::Utc::now();
    for (role, unit_code) in [
        (Role::Admin, "MA"),
        (Role::CityAnalyst, "MA"),
        (Role::Leader, "MA"),
        (Role::SurveyAgency, "MA"),
        (Role::CountyAnalyst, "MA-C1"),
        (Role::StationStaff, "MA-C1-S1"),
        (Role::DepartmentLiaison, "MA-D1"),
    ] {
        minyi_app::auth::create_account(
            app,
            Operator::Cli,
            &format!("m_{}", role.code()),
            "矩阵",
            role,
            unit_code,
            PASSWORD,
            false,
            false,
            now,
        )
        .await
        .unwrap();
    }
    let (_, open311) =
        minyi_app::auth::create_api_key(app, Operator::Cli, "MA", KeyPurpose::Open311, "m", now)
            .await
            .unwrap();
    let (_, kiosk) =
        minyi_app::auth::create_api_key(app, Operator::Cli, "MA", KeyPurpose::Kiosk, "m", now)
            .await
            .unwrap();
    // A callback owed by each station and by a department, with a number to call.
    let contact_id = {
        let tc = TrackingCode::parse(&opinions["op_a1"]).unwrap();
        let o = app
            .store
            .opinion_by_tracking_code(&tc)
            .await
            .unwrap()
            .unwrap();
        app.store
            .contact_of_opinion(o.id)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let mut callbacks = HashMap::new();
    for (i, (name, unit_id)) in [
        ("cb_a1", s_a1),
        ("cb_a2", s_a2),
        ("cb_b1", s_b1),
        ("cb_da", d_a),
    ]
    .into_iter()
    .enumerate()
    {
        let planned = minyi_store::NewCallback {
            source: minyi_core::records::CallbackSource::Case,
            source_id: 9000 + i as i64,
            rule: "case_filed".into(),
            unit_id,
            trigger_at: now,
            due_at: now + chrono::Duration::days(3),
            state: minyi_core::records::CallbackState::Pending,
            exclusion: None,
            contact_id: Some(contact_id),
            synthetic: false,
        };
        app.store.upsert_callbacks(&[planned], now).await.unwrap();
        let row = app
            .store
            .callbacks_of_record(minyi_core::records::CallbackSource::Case, 9000 + i as i64)
            .await
            .unwrap();
        callbacks.insert(name, row[0].id.to_string());
    }
    // A published briefing of each county, and one of city B's county.
    let mut briefings = HashMap::new();
    for (name, unit_code) in [("br_a1", "MA-C1"), ("br_a2", "MA-C2"), ("br_b1", "MB-C1")] {
        let d = minyi_app::briefings::draft(app, unit_code, &this_month(now), now)
            .await
            .unwrap();
        let row = minyi_app::briefings::store_draft(app, &d, "cli", now)
            .await
            .unwrap();
        app.store
            .publish_briefing(row.id, row.revision, "cli", now)
            .await
            .unwrap();
        briefings.insert(name, row.id.to_string());
    }
    Fixture {
        opinions,
        officers,
        callbacks,
        briefings,
        open311,
        kiosk,
    }
}

/// The Shanghai month of `now` as a briefing period code.
fn this_month(now: chrono::DateTime<chrono::Utc>) -> String {
    let day = minyi_core::calendar::shanghai_date(now).unwrap();
    minyi_core::period::Period::containing(minyi_core::period::PeriodKind::Month, day).code()
}

struct Fixture {
    opinions: HashMap<&'static str, String>,
    callbacks: HashMap<&'static str, String>,
    briefings: HashMap<&'static str, String>,
    officers: HashMap<&'static str, String>,
    open311: String,
    kiosk: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Staff(Role),
    Machine(KeyPurpose),
}

impl Who {
    fn all() -> Vec<Who> {
        let mut v = vec![Who::Anonymous];
        v.extend(Role::ALL.iter().map(|r| Who::Staff(*r)));
        v.push(Who::Machine(KeyPurpose::Open311));
        v.push(Who::Machine(KeyPurpose::Kiosk));
        v
    }

    /// The unit the account sits at.
    fn home(self) -> &'static str {
        match self {
            Who::Staff(Role::CountyAnalyst) => "MA-C1",
            Who::Staff(Role::StationStaff) => "MA-C1-S1",
            Who::Staff(Role::DepartmentLiaison) => "MA-D1",
            _ => "MA",
        }
    }

    /// A unit inside the subtree, and one outside it (as near as possible).
    fn units(self) -> (&'static str, &'static str) {
        match self {
            Who::Staff(Role::CountyAnalyst) | Who::Staff(Role::StationStaff) => {
                ("MA-C1-S1", "MA-C2-S1")
            }
            Who::Staff(Role::DepartmentLiaison) => ("MA-D1", "MB-D1"),
            _ => ("MA-C1-S1", "MB-C1-S1"),
        }
    }

    /// Areas: a liaison has none (it sees matters by department), so both are foreign.
    fn areas(self) -> (&'static str, &'static str) {
        match self {
            Who::Staff(Role::CountyAnalyst) | Who::Staff(Role::StationStaff) => {
                ("A-MA-V1", "A-MA-V2")
            }
            _ => ("A-MA-V1", "A-MB-V1"),
        }
    }

    fn officers(self) -> (&'static str, &'static str) {
        match self {
            Who::Staff(Role::CountyAnalyst) | Who::Staff(Role::StationStaff) => ("of_a1", "of_a2"),
            Who::Staff(Role::DepartmentLiaison) => ("of_da", "of_a1"),
            _ => ("of_a1", "of_b1"),
        }
    }

    /// Callbacks are seen through the unit tree of the calling unit.
    fn callbacks(self) -> (&'static str, &'static str) {
        match self {
            Who::Staff(Role::CountyAnalyst) | Who::Staff(Role::StationStaff) => ("cb_a1", "cb_a2"),
            Who::Staff(Role::DepartmentLiaison) => ("cb_da", "cb_a1"),
            _ => ("cb_a1", "cb_b1"),
        }
    }

    /// Briefings are of county and city bureaus: a county analyst's own county and its
    /// neighbour; everyone else's own city's county and city B's.
    fn briefings(self) -> (&'static str, &'static str) {
        match self {
            Who::Staff(Role::CountyAnalyst) => ("br_a1", "br_a2"),
            _ => ("br_a1", "br_b1"),
        }
    }

    fn opinions(self) -> (&'static str, &'static str) {
        match self {
            Who::Staff(Role::CountyAnalyst)
            | Who::Staff(Role::StationStaff)
            | Who::Staff(Role::DepartmentLiaison) => ("op_a1", "op_a2"),
            _ => ("op_a1", "op_b1"),
        }
    }
}

/// What the rules say must happen. `Allowed` means the request reached its handler and was
/// answered on its merits (any status but 401, 403, 404, 405, 429 or 5xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    SignInRedirect,
    Unauthorized,
    Forbidden,
    NotFound,
}

fn oracle(route: &Route, who: Who, foreign: bool) -> Expect {
    let anonymous_answer = if route.method == Method::GET {
        Expect::SignInRedirect
    } else {
        Expect::Unauthorized
    };
    match (route.access, who) {
        (Access::Public, _) => Expect::Allowed,
        (Access::Key(p), Who::Machine(q)) if p == q => Expect::Allowed,
        // The Open311 spec prescribes 403 for a missing or invalid api_key.
        (Access::Key(_), _) if route.path.starts_with("/open311/") => Expect::Forbidden,
        (Access::Key(_), _) => Expect::Unauthorized,
        (Access::Signed | Access::Perm(_), Who::Anonymous | Who::Machine(_)) => anonymous_answer,
        (Access::Signed, Who::Staff(_)) => Expect::Allowed,
        (Access::Perm(p), Who::Staff(role)) => {
            if !role.may(p) {
                Expect::Forbidden
            } else if foreign && route.target != Target::None {
                Expect::NotFound
            } else if route.target == Target::Area && role == Role::DepartmentLiaison {
                // Liaisons see matters routed to their department, not places.
                Expect::NotFound
            } else if route.target == Target::Briefing
                && matches!(role, Role::StationStaff | Role::DepartmentLiaison)
            {
                // Briefings are of county and city bureaus, above a station's subtree;
                // a liaison sees matters by department and has no briefings.
                Expect::NotFound
            } else {
                Expect::Allowed
            }
        }
    }
}

struct Case<'a> {
    route: &'a Route,
    who: Who,
    foreign: bool,
}

/// Builds the request a real client would send for this route. A route without a recipe
/// stops the test: add one when you add a route.
async fn request(
    app: &App,
    fx: &Fixture,
    c: &mut Client,
    case: &Case<'_>,
    n: usize,
) -> Request<Body> {
    let r = case.route;
    let who = case.who;
    let (own_unit, foreign_unit) = who.units();
    let (own_op, foreign_op) = who.opinions();
    let now = chrono::Utc::now();
    let param = match r.target {
        Target::None => String::new(),
        Target::Unit => (if case.foreign { foreign_unit } else { own_unit }).to_owned(),
        Target::Opinion => fx.opinions[if case.foreign { foreign_op } else { own_op }].clone(),
        Target::Area => {
            let (own, foreign) = who.areas();
            (if case.foreign { foreign } else { own }).to_owned()
        }
        Target::Officer => {
            let (own, foreign) = who.officers();
            fx.officers[if case.foreign { foreign } else { own }].clone()
        }
        Target::Callback => {
            let (own, foreign) = who.callbacks();
            fx.callbacks[if case.foreign { foreign } else { own }].clone()
        }
        Target::Briefing => {
            let (own, foreign) = who.briefings();
            fx.briefings[if case.foreign { foreign } else { own }].clone()
        }
        Target::Account => {
            // A fresh victim each time, so disabling one does not change the next case.
            let name = format!("victim{n}");
            let at = if case.foreign { "MB" } else { who.home() };
            minyi_app::auth::create_account(
                app,
                Operator::Cli,
                &name,
                "受试",
                Role::Leader,
                at,
                PASSWORD,
                false,
                false,
                now,
            )
            .await
            .unwrap();
            name
        }
        Target::ApiKey => {
            let at = if case.foreign { "MB" } else { who.home() };
            let (id, _) = minyi_app::auth::create_api_key(
                app,
                Operator::Cli,
                at,
                KeyPurpose::Import,
                "victim",
                now,
            )
            .await
            .unwrap();
            id.to_string()
        }
    };
    // A card's public scan address names a station (a department has no card); whose
    // subtree it is in does not matter to a public route.
    let param = if r.path.starts_with("/q/u/") {
        (if case.foreign { "MB-C1-S1" } else { "MA-C1-S1" }).to_owned()
    } else {
        param
    };
    // Survey routes name a wave, which every unit shares: one made on first use.
    if r.path.contains("{wave}") && minyi_app::surveys::wave(app, "MATRIX-W").await.is_err() {
        let input = minyi_app::surveys::WaveInput {
            code: "MATRIX-W".into(),
            name: "矩阵测试测评".into(),
            period: "2026-Q3".into(),
            config: Default::default(),
            margins: None,
            synthetic: false,
        };
        minyi_app::surveys::create_wave(app, input, now)
            .await
            .unwrap();
    }
    // Survey routes name a wave, which every unit shares: one made on first use.
    if r.path.contains("{wave}") && minyi_app::surveys::wave(app, "MATRIX-W").await.is_err() {
        let input = minyi_app::surveys::WaveInput {
            code: "MATRIX-W".into(),
            name: "矩阵测试测评".into(),
            period: "2026-Q3".into(),
            config: Default::default(),
            margins: None,
            synthetic: false,
        };
        minyi_app::surveys::create_wave(app, input, now)
            .await
            .unwrap();
    }
    // Assessment routes (`/assessment/…`, `/assess/…`) name a run or an appeal: made on
    // first use (see `assessment`).
    let uri = if r.path.starts_with("/assess") && r.path.contains("{id}") {
        let (run, appeal) = assessment(app).await;
        let id = if r.path.contains("/appeals/") {
            appeal
        } else {
            run
        };
        r.path.replace("{id}", &id.to_string())
    } else {
        r.path.to_owned()
    };
    let uri = uri
        .replace("{wave}", "MATRIX-W")
        .replace("{code}", &param)
        .replace("{username}", &param)
        .replace("{id}", &param);
    // Open311 paths name a file with its format: a service code or a tracking code, `.json`.
    let open311_file = if r.path.starts_with("/open311/v2/services/") {
        "other.json".to_owned()
    } else {
        format!("{}.json", fx.opinions[own_op])
    };
    let uri = uri
        .replace("{format}", "json")
        .replace("{file}", &open311_file);
    let machine_key = match who {
        Who::Machine(KeyPurpose::Open311) => Some(fx.open311.clone()),
        Who::Machine(_) => Some(fx.kiosk.clone()),
        _ => None,
    };
    let mut b = Request::builder().method(r.method.clone()).uri(&uri);
    if let Some(k) = &machine_key {
        b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    if r.method == Method::GET {
        return b.body(Body::empty()).unwrap();
    }
    if r.path == "/api/v1/opinions" {
        return b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                serde_json::json!({"text": "矩阵测试：路灯坏了", "area": "A-MA-V1"}).to_string(),
            ))
            .unwrap();
    }
    if r.path == "/api/v1/ratings" {
        return b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                serde_json::json!({"ratings": [{"client_event_id": format!("matrix-{n:06}"), "level": 1}]})
                    .to_string(),
            ))
            .unwrap();
    }
    if matches!(
        r.path,
        "/api/v1/incidents" | "/api/v1/cases" | "/api/v1/permits"
    ) {
        let id = format!("MX-{n}");
        let record = match r.path {
            "/api/v1/incidents" => serde_json::json!({
                "external_id": id, "received_at": "2026-05-01 08:00", "unit": "MA-C1-S1"
            }),
            "/api/v1/cases" => serde_json::json!({
                "external_id": id, "kind": "theft", "station": "MA-C1-S1",
                "reported_at": "2026-05-01 08:00"
            }),
            _ => serde_json::json!({
                "external_id": id, "kind": "id_card", "window": "MA-C1-S1-W",
                "applied_at": "2026-05-01 08:00", "promised_at": "2026-05-08 17:00"
            }),
        };
        return b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(record.to_string()))
            .unwrap();
    }
    if r.path == "/sms/inbound" {
        return b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                serde_json::json!({"from": "13800138000", "text": "矩阵测试：噪音扰民", "message_id": format!("m{n}")})
                    .to_string(),
            ))
            .unwrap();
    }
    if r.path == "/open311/v2/requests.{format}" {
        let form = crate::form_encode(&[
            ("service_code", "other"),
            ("address_id", "A-MA-V1"),
            ("description", "矩阵测试：路灯坏了"),
        ]);
        return b
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
    }
    // Every other state-changing route is a form carrying the page's CSRF token.
    let csrf = if matches!(who, Who::Staff(_)) {
        c.csrf().await
    } else {
        c.get("/login").await.csrf().unwrap_or_default()
    };
    let unique = format!("m{n}");
    let fields: Vec<(&str, String)> = match r.path {
        "/login" => vec![("csrf", csrf)],
        "/logout" => vec![("csrf", csrf)],
        "/account/password" => vec![
            ("csrf", csrf),
            ("current", "not the password".into()),
            ("new", "another long passphrase".into()),
        ],
        "/opinions/{code}/act" => vec![("csrf", csrf), ("act", "mark_key".into())],
        // No proposal names the fixture's matters: answered on its merits (409).
        "/opinions/{code}/merge" => vec![
            ("csrf", csrf),
            ("proposal", "1".into()),
            ("decision", "reject".into()),
        ],
        // Unanswered calls until the callback fails; later ones are answered 422.
        "/callbacks/{id}/outcome" => vec![("csrf", csrf), ("outcome", "no_answer".into())],
        "/callbacks/{id}/reveal" => vec![("csrf", csrf), ("reason", "矩阵测试回访".into())],
        "/track/verdict" => vec![
            ("csrf", csrf),
            ("code", fx.opinions["op_a1"].clone()),
            ("verdict", "satisfied".into()),
        ],
        "/opinions/{code}/reveal" => vec![
            ("csrf", csrf),
            ("field", "phone".into()),
            ("reason", "矩阵测试回访".into()),
        ],
        "/admin/users" => vec![
            ("csrf", csrf),
            ("username", unique.clone()),
            ("display_name", "新账号".into()),
            ("role", "leader".into()),
            ("unit", who.home().into()),
        ],
        "/admin/users/{username}/disable"
        | "/admin/users/{username}/enable"
        | "/admin/users/{username}/reset"
        | "/admin/keys/{id}/revoke" => vec![("csrf", csrf)],
        "/admin/keys" => vec![
            ("csrf", csrf),
            ("purpose", "kiosk".into()),
            ("unit", who.home().into()),
            ("label", unique.clone()),
        ],
        "/surveys/{wave}/responses/new" => vec![
            ("csrf", csrf),
            ("submission", unique.clone()),
            ("station", "MA-C1-S1".into()),
            ("mode", "cati".into()),
            ("age_band", "30-44".into()),
            ("sex", "f".into()),
            ("security", "4".into()),
            ("satisfaction", "5".into()),
            ("chief", "named".into()),
        ],
        // Analysts draft their own unit's briefing (303).
        "/briefings" => vec![
            ("csrf", csrf),
            ("unit", who.home().into()),
            ("period", this_month(now)),
        ],
        // The fixture's briefings are published: answered 409 (frozen) when reachable.
        "/briefings/{id}/edit" => vec![
            ("csrf", csrf),
            ("revision", "1".into()),
            ("s0", "矩阵测试改写".into()),
        ],
        "/briefings/{id}/publish" => vec![("csrf", csrf), ("revision", "1".into())],
        "/report" => vec![
            ("csrf", csrf),
            ("text", "矩阵测试：路口积水".into()),
            ("submission", unique.clone()),
        ],
        "/assessment/runs" => vec![
            ("csrf", csrf),
            ("period", "2026".into()),
            ("scheme", MATRIX_SCHEME.into()),
        ],
        "/assessment/runs/{id}/rerun" => vec![("csrf", csrf)],
        "/assessment/runs/{id}/units/{code}/appeal" => vec![
            ("csrf", csrf),
            ("indicator", "cases_solved".into()),
            ("value", "12".into()),
            ("reason", "矩阵测试申诉".into()),
        ],
        "/assessment/appeals/{id}/resolve" => vec![
            ("csrf", csrf),
            ("decision", "reject".into()),
            ("note", "矩阵测试驳回".into()),
        ],
        "/analysis/opinions/{code}/confirm" => vec![("csrf", csrf)],
        // To a non-police matter of the fixture's department kind, so the liaison (walked
        // later) still sees its matter.
        "/analysis/opinions/{code}/relabel" => vec![
            ("csrf", csrf),
            ("category", "non_police".into()),
            ("sentiment", "negative".into()),
            ("urgency", "normal".into()),
            ("department", "petition".into()),
        ],
        "/analysis/opinions/{code}/escalate" => {
            vec![("csrf", csrf), ("reason", "矩阵测试上报".into())]
        }
        // Into itself: answered on its merits (409).
        "/analysis/opinions/{code}/merge" => vec![("csrf", csrf), ("primary", param.clone())],
        "/analysis/opinions/{code}/decide" => vec![
            ("csrf", csrf),
            ("decision", "return".into()),
            ("note", "矩阵测试退回".into()),
        ],
        "/analysis/opinions/{code}/assign" => vec![
            ("csrf", csrf),
            ("department.MA-D1", "1".into()),
            ("note", "矩阵测试交办".into()),
        ],
        "/analysis/opinions/{code}/reply" => vec![("csrf", csrf), ("reply", "矩阵测试回复".into())],
        other => {
            panic!("route POST {other} has no request recipe in the authorization matrix: add one")
        }
    };
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(crate::form_encode(&refs)))
        .unwrap()
}

/// A one-indicator scheme on an imported metric, so the fixture can be assessed.
const MATRIX_SCHEME: &str = r#"
format = 1
id = "matrix"
version = "1"
period = "year"

[[group]]
id = "business_and_team"
weight = 1.0

[[group.indicator]]
id = "cases_solved"
source = "business.cases_solved"
weight = 1.0
direction = "higher"
normalisation = "min_max"
"#;

/// A stored assessment run of the fixture's stations and a filed appeal against it
/// (a fresh one whenever the last was decided), made on first use: (run id, appeal id).
async fn assessment(app: &App) -> (i64, i64) {
    use minyi_app::assess::{Actor, AppealFilter};
    let now = chrono::Utc::now();
    let run = match minyi_app::assess::list(app).await.unwrap().last() {
        Some(r) => r.id,
        None => {
            let table = minyi_app::import::read_csv(
                "unit,metric,value\nMA-C1-S1,business.cases_solved,10\n\
                 MA-C2-S1,business.cases_solved,20\nMB-C1-S1,business.cases_solved,30\n"
                    .as_bytes(),
            )
            .unwrap();
            let report = minyi_app::assess::import_metrics_table(
                app,
                &table,
                "matrix.csv",
                "2026",
                Actor::Cli,
                now,
                false,
            )
            .await
            .unwrap();
            assert!(report.stored.is_some(), "{:?}", report.rejected_lines());
            minyi_app::assess::run(app, Some(MATRIX_SCHEME), "2026", Actor::Cli)
                .await
                .unwrap()
                .id
        }
    };
    let filed = AppealFilter {
        run_id: Some(run),
        state: Some("filed".into()),
    };
    let appeal = match minyi_app::assess::all_appeals(app, &filed)
        .await
        .unwrap()
        .first()
    {
        Some(a) => a.row.id,
        None => {
            let unit = app.store.unit_by_code("MA-C1-S1").await.unwrap().unwrap();
            app.store
                .insert_appeal(&minyi_store::NewAppeal {
                    run_id: run,
                    unit_id: unit.id,
                    indicator: "cases_solved".into(),
                    claimed_value: 11.0,
                    reason: "矩阵测试".into(),
                    filed_by: "cli".into(),
                    filed_at: now,
                })
                .await
                .unwrap()
        }
    };
    (run, appeal)
}

fn check(expect: Expect, resp: &Resp) -> bool {
    let s = resp.status;
    match expect {
        Expect::Allowed => {
            !matches!(
                s,
                StatusCode::UNAUTHORIZED
                    | StatusCode::FORBIDDEN
                    | StatusCode::NOT_FOUND
                    | StatusCode::METHOD_NOT_ALLOWED
                    | StatusCode::TOO_MANY_REQUESTS
            ) && !s.is_server_error()
        }
        Expect::SignInRedirect => {
            s == StatusCode::SEE_OTHER
                && resp
                    .location()
                    .is_some_and(|l| l.starts_with("/login?next="))
        }
        Expect::Unauthorized => s == StatusCode::UNAUTHORIZED,
        Expect::Forbidden => s == StatusCode::FORBIDDEN,
        Expect::NotFound => s == StatusCode::NOT_FOUND,
    }
}

async fn matrix_story(db: TestDb) {
    let mut app = open_app(&db).await;
    // The matrix sends many sign-ins and submissions from each address; the limits have
    // their own test.
    app.config.security.login_rate_per_minute = 10_000;
    app.config.security.intake_rate_per_minute = 10_000;
    let fx = fixture(&app).await;
    let router = minyi_web::router(app.clone());
    let mut routes = minyi_web::routes::routes();
    // Signing out ends the identity's session: walk it last.
    routes.sort_by_key(|r| r.path == "/logout");
    assert!(routes.len() >= 20, "the table lists every route");

    let mut failures = Vec::new();
    let mut checked = 0;
    let mut n = 0;
    for (i, who) in Who::all().into_iter().enumerate() {
        let mut c = Client::from(router.clone(), &format!("192.0.2.{}:5000", i + 10));
        if let Who::Staff(role) = who {
            c.sign_in(&format!("m_{}", role.code()), PASSWORD).await;
        }
        for route in &routes {
            let sides: &[bool] = if route.target == Target::None {
                &[false]
            } else {
                &[false, true]
            };
            for &foreign in sides {
                n += 1;
                let case = Case {
                    route,
                    who,
                    foreign,
                };
                let req = request(&app, &fx, &mut c, &case, n).await;
                let resp = c.send(req).await;
                let expect = oracle(route, who, foreign);
                checked += 1;
                if !check(expect, &resp) {
                    failures.push(format!(
                        "{} {} as {:?} ({}): expected {:?}, got {}",
                        route.method,
                        route.path,
                        who,
                        if foreign { "foreign" } else { "own" },
                        expect,
                        resp.status
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases broke the access rules:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every identity × every route, objects inside and outside.
    assert!(checked >= Who::all().len() * routes.len());
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_sqlite() {
    matrix_story(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    matrix_story(db).await;
}

/// A route that bypasses the table has no rule, and the guard refuses it (fails closed).
#[tokio::test]
async fn a_route_without_an_access_rule_is_refused() {
    let db = TestDb::sqlite();
    let app = open_app(&db).await;
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = reached.clone();
    let rogue: axum::Router<minyi_web::AppState> = axum::Router::new().route(
        "/rogue",
        axum::routing::get(move || {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            async { "secret" }
        }),
    );
    let sec = &app.config.security;
    let state = minyi_web::AppState {
        limits: minyi_web::protect::RateLimits::new(
            sec.login_rate_per_minute,
            sec.intake_rate_per_minute,
        ),
        rules: minyi_web::guard::rules(&minyi_web::routes::routes()),
        app: app.clone(),
        synthetic: Default::default(),
    };
    let mut c = Client::new(minyi_web::with_layers(rogue, state));
    let r = c.get("/rogue").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!r.body.contains("secret"));
    assert!(!reached.load(std::sync::atomic::Ordering::SeqCst));
    db.drop_db().await;
}

/// Routes are registered in one place only — `router_with`, from the table — so the
/// matrix above sees every route there is.
#[test]
fn routes_are_registered_only_from_the_table() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    let mut offenders = Vec::new();
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                let uses = text.matches(".route(").count()
                    + text.matches(".nest(").count()
                    + text.matches(".merge(").count()
                    + text.matches(".route_service(").count();
                let allowed = usize::from(p.ends_with("lib.rs"));
                let in_tests = text
                    .find("#[cfg(test)]")
                    .map(|i| text[i..].matches(".route(").count())
                    .unwrap_or(0);
                if uses.saturating_sub(in_tests) > allowed {
                    offenders.push(p.display().to_string());
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "routes registered outside routes::table(): {offenders:?}"
    );
}
