//! The route table: every route with its access rule, its rate limit and the kind of object
//! its path names. The router is built from this table and nothing else, the guard looks
//! rules up in it, and the authorization-matrix test walks it — so a route cannot exist
//! without a rule, and a rule cannot go untested.

use axum::http::Method;
use axum::routing::{MethodRouter, get, post};
use minyi_core::access::{KeyPurpose, Permission};

use crate::{AppState, pages};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: probes, assets, sign-in, residents' own pages.
    Public,
    /// Any signed-in account.
    Signed,
    /// A signed-in account whose role holds the permission; objects named in the path
    /// must also lie in its scope (checked where the data is read).
    Perm(Permission),
    /// A machine presenting an unrevoked API key issued for this purpose.
    Key(KeyPurpose),
}

/// Which per-address rate limit applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Login,
    Intake,
}

/// What the `{…}` parameter of the path names, so tests can fill it with an object inside
/// and outside the caller's subtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    None,
    Unit,
    Opinion,
    Account,
    ApiKey,
    Area,
    Officer,
    /// A callback task by id; in scope when its calling unit is.
    Callback,
    /// A briefing by id; in scope when its unit is (and, for a draft, only to analysts).
    Briefing,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub limit: Option<Limit>,
    pub target: Target,
}

fn r(
    method: Method,
    path: &'static str,
    access: Access,
    target: Target,
    handler: MethodRouter<AppState>,
) -> (Route, MethodRouter<AppState>) {
    (
        Route {
            method,
            path,
            access,
            limit: None,
            target,
        },
        handler,
    )
}

fn limited(
    mut x: (Route, MethodRouter<AppState>),
    limit: Limit,
) -> (Route, MethodRouter<AppState>) {
    x.0.limit = Some(limit);
    x
}

/// Every route of the application.
pub fn table() -> Vec<(Route, MethodRouter<AppState>)> {
    use Access::*;
    use Method as M;
    use Permission as P;
    use Target as T;
    let mut t = vec![
        r(M::GET, "/healthz", Public, T::None, get(pages::healthz)),
        r(M::GET, "/readyz", Public, T::None, get(pages::readyz)),
        r(
            M::GET,
            "/assets/minyi.css",
            Public,
            T::None,
            get(pages::css),
        ),
        r(
            M::GET,
            "/assets/icon.svg",
            Public,
            T::None,
            get(pages::icon),
        ),
        r(
            M::GET,
            "/login",
            Public,
            T::None,
            get(pages::auth::login_form),
        ),
        limited(
            r(M::POST, "/login", Public, T::None, post(pages::auth::login)),
            Limit::Login,
        ),
        r(
            M::POST,
            "/logout",
            Signed,
            T::None,
            post(pages::auth::logout),
        ),
        r(
            M::GET,
            "/account",
            Signed,
            T::None,
            get(pages::auth::account),
        ),
        r(
            M::POST,
            "/account/password",
            Signed,
            T::None,
            post(pages::auth::change_password),
        ),
        r(M::GET, "/", Signed, T::None, get(pages::dashboard::home)),
        r(
            M::GET,
            "/dashboard/{code}",
            Perm(P::ViewOpinions),
            T::Unit,
            get(pages::dashboard::dashboard),
        ),
        r(
            M::GET,
            "/unit",
            Perm(P::ViewOpinions),
            T::None,
            get(pages::staff::own_unit),
        ),
        r(
            M::GET,
            "/units/{code}",
            Perm(P::ViewOpinions),
            T::Unit,
            get(pages::staff::unit),
        ),
        r(
            M::GET,
            "/queue",
            Perm(P::ViewOpinions),
            T::None,
            get(pages::lists::queue),
        ),
        r(
            M::GET,
            "/units/{code}/opinions",
            Perm(P::ViewOpinions),
            T::Unit,
            get(pages::lists::unit_opinions),
        ),
        r(
            M::GET,
            "/map/{code}",
            Perm(P::ViewOpinions),
            T::Unit,
            get(pages::map::map),
        ),
        r(
            M::GET,
            "/areas/{code}",
            Perm(P::ViewOpinions),
            T::Area,
            get(pages::places::area),
        ),
        r(
            M::GET,
            "/officers/{id}",
            Perm(P::ViewOpinions),
            T::Officer,
            get(pages::places::officer),
        ),
        r(
            M::GET,
            "/opinions/{code}",
            Perm(P::ViewOpinions),
            T::Opinion,
            get(pages::staff::opinion),
        ),
        r(
            M::POST,
            "/opinions/{code}/act",
            Perm(P::HandleOpinions),
            T::Opinion,
            post(pages::handling::act),
        ),
        r(
            M::POST,
            "/opinions/{code}/reveal",
            Perm(P::RevealPersonalData),
            T::Opinion,
            post(pages::staff::reveal),
        ),
        r(
            M::GET,
            "/admin/users",
            Perm(P::ManageAccounts),
            T::None,
            get(pages::admin::users),
        ),
        r(
            M::POST,
            "/admin/users",
            Perm(P::ManageAccounts),
            T::None,
            post(pages::admin::create_user),
        ),
        r(
            M::POST,
            "/admin/users/{username}/disable",
            Perm(P::ManageAccounts),
            T::Account,
            post(pages::admin::disable_user),
        ),
        r(
            M::POST,
            "/admin/users/{username}/enable",
            Perm(P::ManageAccounts),
            T::Account,
            post(pages::admin::enable_user),
        ),
        r(
            M::POST,
            "/admin/users/{username}/reset",
            Perm(P::ManageAccounts),
            T::Account,
            post(pages::admin::reset_user),
        ),
        r(
            M::GET,
            "/admin/keys",
            Perm(P::ManageApiKeys),
            T::None,
            get(pages::admin::keys),
        ),
        r(
            M::POST,
            "/admin/keys",
            Perm(P::ManageApiKeys),
            T::None,
            post(pages::admin::create_key),
        ),
        r(
            M::POST,
            "/admin/keys/{id}/revoke",
            Perm(P::ManageApiKeys),
            T::ApiKey,
            post(pages::admin::revoke_key),
        ),
        r(
            M::GET,
            "/admin/audit",
            Perm(P::ViewAudit),
            T::None,
            get(pages::admin::audit),
        ),
        r(
            M::GET,
            "/report",
            Public,
            T::None,
            get(pages::public::report_form),
        ),
        limited(
            r(
                M::POST,
                "/report",
                Public,
                T::None,
                post(pages::public::report),
            ),
            Limit::Intake,
        ),
        limited(
            r(M::GET, "/track", Public, T::None, get(pages::public::track)),
            Limit::Intake,
        ),
        limited(
            r(
                M::POST,
                "/track/verdict",
                Public,
                T::None,
                post(pages::handling::resident_verdict),
            ),
            Limit::Intake,
        ),
        r(
            M::POST,
            "/api/v1/opinions",
            Key(KeyPurpose::Open311),
            T::None,
            post(pages::api::submit),
        ),
        limited(
            r(
                M::POST,
                "/sms/inbound",
                Key(KeyPurpose::Sms),
                T::None,
                post(pages::sms::inbound),
            ),
            Limit::Intake,
        ),
        // Open311 GeoReport v2: each path names its format by extension (`.xml`, `.json`).
        r(
            M::GET,
            "/open311/v2/discovery.{format}",
            Public,
            T::None,
            get(pages::open311::discovery),
        ),
        r(
            M::GET,
            "/open311/v2/services.{format}",
            Public,
            T::None,
            get(pages::open311::services),
        ),
        r(
            M::GET,
            "/open311/v2/services/{file}",
            Public,
            T::None,
            get(pages::open311::service_definition),
        ),
        r(
            M::GET,
            "/open311/v2/requests.{format}",
            Public,
            T::None,
            get(pages::open311::requests),
        ),
        limited(
            r(
                M::POST,
                "/open311/v2/requests.{format}",
                Key(KeyPurpose::Open311),
                T::None,
                post(pages::open311::create),
            ),
            Limit::Intake,
        ),
        r(
            M::GET,
            "/open311/v2/requests/{file}",
            Public,
            T::None,
            get(pages::open311::request),
        ),
        r(
            M::GET,
            "/open311/v2/tokens/{file}",
            Public,
            T::None,
            get(pages::open311::token),
        ),
    ];
    // Each feature keeps its routes in its own function below, so features can grow
    // side by side without editing one long list.
    t.extend(cards());
    t.extend(kiosk());
    t.extend(merge());
    t.extend(records());
    t.extend(callbacks());
    t.extend(surveys());
    t.extend(assess());
    t.extend(analysis());
    t.extend(briefings());
    t
}

/// Survey waves, responses and the three indicators.
fn surveys() -> Vec<(Route, MethodRouter<AppState>)> {
    use Access::*;
    use Method as M;
    use Permission as P;
    use Target as T;
    use pages::surveys as s;
    // The path names a wave, which every signed-in unit shares; what lies in the
    // viewer's scope (the station rows) is cut where the estimates are read.
    let view = Perm(P::ViewOpinions);
    let work = Perm(P::SurveyWork);
    vec![
        r(M::GET, "/surveys", Signed, T::None, get(s::list)),
        r(M::GET, "/surveys/{wave}", view, T::None, get(s::wave_page)),
        r(
            M::GET,
            "/surveys/{wave}/estimates.csv",
            view,
            T::None,
            get(s::estimates_csv),
        ),
        r(
            M::GET,
            "/surveys/{wave}/allocation.csv",
            work,
            T::None,
            get(s::allocation_csv),
        ),
        r(
            M::GET,
            "/surveys/{wave}/responses/new",
            work,
            T::None,
            get(s::new_response),
        ),
        r(
            M::POST,
            "/surveys/{wave}/responses/new",
            work,
            T::None,
            post(s::post_response),
        ),
    ]
}

/// Contact cards and boards.
fn cards() -> Vec<(Route, MethodRouter<AppState>)> {
    use Access::*;
    use Method as M;
    use Permission as P;
    use Target as T;
    use pages::cards as c;
    let view = Perm(P::ViewOpinions);
    vec![
        // The address in a card's QR code: public, and limited like intake, since each
        // scan is counted and opens the residents' form.
        limited(
            r(M::GET, "/q/u/{code}", Public, T::Unit, get(c::scan_unit)),
            Limit::Intake,
        ),
        limited(
            r(M::GET, "/q/a/{code}", Public, T::Area, get(c::scan_area)),
            Limit::Intake,
        ),
        r(
            M::GET,
            "/units/{code}/cards",
            view,
            T::Unit,
            get(c::print_page),
        ),
        r(
            M::GET,
            "/units/{code}/card.svg",
            view,
            T::Unit,
            get(c::unit_card),
        ),
        r(
            M::GET,
            "/units/{code}/board.svg",
            view,
            T::Unit,
            get(c::unit_board),
        ),
        r(
            M::GET,
            "/areas/{code}/card.svg",
            view,
            T::Area,
            get(c::area_card),
        ),
        r(
            M::GET,
            "/areas/{code}/board.svg",
            view,
            T::Area,
            get(c::area_board),
        ),
    ]
}

/// Window rating devices.
fn kiosk() -> Vec<(Route, MethodRouter<AppState>)> {
    use Access::*;
    use Method as M;
    use Target as T;
    use pages::kiosk as k;
    vec![
        r(M::GET, "/kiosk", Public, T::None, get(k::page)),
        r(M::GET, "/assets/kiosk.js", Public, T::None, get(k::script)),
        // At the root so that the offline worker may control `/kiosk`.
        r(M::GET, "/kiosk-sw.js", Public, T::None, get(k::worker)),
        r(
            M::GET,
            "/api/v1/kiosk/config",
            Key(KeyPurpose::Kiosk),
            T::None,
            get(k::config),
        ),
        limited(
            r(
                M::POST,
                "/api/v1/ratings",
                Key(KeyPurpose::Kiosk),
                T::None,
                post(k::ratings),
            ),
            Limit::Intake,
        ),
    ]
}

/// Near-duplicate merging.
fn merge() -> Vec<(Route, MethodRouter<AppState>)> {
    use Access::*;
    use Method as M;
    use Permission as P;
    use Target as T;
    vec![
        r(
            M::GET,
            "/merges",
            Perm(P::ViewOpinions),
            T::None,
            get(pages::merge::list),
        ),
        r(
            M::POST,
            "/opinions/{code}/merge",
            Perm(P::HandleOpinions),
            T::Opinion,
            post(pages::merge::decide),
        ),
    ]
}

/// Imports of 110 incidents, cases and permits through the API; hard indicators.
fn records() -> Vec<(Route, MethodRouter<AppState>)> {
    use Access::*;
    use Method as M;
    use Target as T;
    vec![
        r(
            M::POST,
            "/api/v1/incidents",
            Key(KeyPurpose::Import),
            T::None,
            post(pages::records::post_incidents),
        ),
        r(
            M::POST,
            "/api/v1/cases",
            Key(KeyPurpose::Import),
            T::None,
            post(pages::records::post_cases),
        ),
        r(
            M::POST,
            "/api/v1/permits",
            Key(KeyPurpose::Import),
            T::None,
            post(pages::records::post_permits),
        ),
        r(
            M::GET,
            "/units/{code}/indicators",
            Perm(Permission::ViewOpinions),
            T::Unit,
            get(pages::records::unit_indicators),
        ),
    ]
}

/// Callback worklist and outcomes.
fn callbacks() -> Vec<(Route, MethodRouter<AppState>)> {
    use Access::*;
    use Method as M;
    use Permission as P;
    use Target as T;
    vec![
        r(
            M::GET,
            "/callbacks",
            Perm(P::ViewOpinions),
            T::None,
            get(pages::callbacks::list),
        ),
        r(
            M::GET,
            "/callbacks/{id}",
            Perm(P::ViewOpinions),
            T::Callback,
            get(pages::callbacks::show),
        ),
        r(
            M::POST,
            "/callbacks/{id}/outcome",
            Perm(P::HandleOpinions),
            T::Callback,
            post(pages::callbacks::outcome),
        ),
        r(
            M::POST,
            "/callbacks/{id}/reveal",
            Perm(P::RevealPersonalData),
            T::Callback,
            post(pages::callbacks::reveal),
        ),
    ]
}

/// Assessment runs, rankings, explanations, appeals and exports (issue 8).
fn assess() -> Vec<(Route, MethodRouter<AppState>)> {
    use Access::*;
    use Method as M;
    use Permission as P;
    use Target as T;
    vec![
        r(
            M::GET,
            "/assets/assess.css",
            Public,
            T::None,
            get(pages::assess::css),
        ),
        r(
            M::GET,
            "/assessment",
            Perm(P::ViewOpinions),
            T::None,
            get(pages::assess::index),
        ),
        r(
            M::POST,
            "/assessment/runs",
            Perm(P::RunAssessment),
            T::None,
            post(pages::assess::start),
        ),
        // `{id}` is a run id, or `{id}.xlsx` for the workbook (one path segment).
        r(
            M::GET,
            "/assessment/runs/{id}",
            Perm(P::ViewOpinions),
            T::None,
            get(pages::assess::show),
        ),
        r(
            M::POST,
            "/assessment/runs/{id}/rerun",
            Perm(P::ViewOpinions),
            T::None,
            post(pages::assess::rerun),
        ),
        r(
            M::GET,
            "/assessment/runs/{id}/report",
            Perm(P::ViewOpinions),
            T::None,
            get(pages::assess::report),
        ),
        r(
            M::GET,
            "/assessment/runs/{id}/whatif",
            Perm(P::ViewOpinions),
            T::None,
            get(pages::assess::whatif),
        ),
        r(
            M::GET,
            "/assessment/runs/{id}/sensitivity",
            Perm(P::ViewOpinions),
            T::None,
            get(pages::assess::sensitivity),
        ),
        r(
            M::GET,
            "/assessment/runs/{id}/units/{code}",
            Perm(P::ViewOpinions),
            T::Unit,
            get(pages::assess::unit),
        ),
        r(
            M::POST,
            "/assessment/runs/{id}/units/{code}/appeal",
            Perm(P::HandleOpinions),
            T::Unit,
            post(pages::assess::appeal),
        ),
        r(
            M::GET,
            "/assessment/appeals",
            Perm(P::ViewOpinions),
            T::None,
            get(pages::assess::appeals),
        ),
        // Drill-down paths that stored run inputs carry (`app::assess::metric_path` and an
        // upheld appeal's reference): kept working for as long as runs are kept.
        r(
            M::GET,
            "/assess/metrics",
            Perm(P::ViewOpinions),
            T::None,
            get(pages::assess::metric),
        ),
        r(
            M::GET,
            "/assess/appeals/{id}",
            Perm(P::ViewOpinions),
            T::None,
            get(pages::assess::appeal_ref),
        ),
        r(
            M::POST,
            "/assessment/appeals/{id}/resolve",
            Perm(P::RunAssessment),
            T::None,
            post(pages::assess::resolve),
        ),
    ]
}

/// The county and city analysis workspaces (issue 9).
fn analysis() -> Vec<(Route, MethodRouter<AppState>)> {
    use Access::*;
    use Method as M;
    use Permission as P;
    use Target as T;
    use pages::analysis as a;
    vec![
        r(
            M::GET,
            "/analysis",
            Perm(P::AnalyseOpinions),
            T::None,
            get(a::county),
        ),
        r(
            M::GET,
            "/analysis/city",
            Perm(P::AnalyseOpinions),
            T::None,
            get(a::city),
        ),
        r(
            M::GET,
            "/analysis/joint",
            Perm(P::ViewOpinions),
            T::None,
            get(a::joint),
        ),
        r(
            M::POST,
            "/analysis/opinions/{code}/confirm",
            Perm(P::AnalyseOpinions),
            T::Opinion,
            post(a::confirm),
        ),
        r(
            M::POST,
            "/analysis/opinions/{code}/relabel",
            Perm(P::AnalyseOpinions),
            T::Opinion,
            post(a::relabel),
        ),
        r(
            M::POST,
            "/analysis/opinions/{code}/escalate",
            Perm(P::AnalyseOpinions),
            T::Opinion,
            post(a::escalate),
        ),
        r(
            M::POST,
            "/analysis/opinions/{code}/merge",
            Perm(P::AnalyseOpinions),
            T::Opinion,
            post(a::merge),
        ),
        r(
            M::POST,
            "/analysis/opinions/{code}/decide",
            Perm(P::AnalyseOpinions),
            T::Opinion,
            post(a::decide),
        ),
        r(
            M::POST,
            "/analysis/opinions/{code}/assign",
            Perm(P::AnalyseOpinions),
            T::Opinion,
            post(a::assign),
        ),
        r(
            M::POST,
            "/analysis/opinions/{code}/reply",
            Perm(P::HandleOpinions),
            T::Opinion,
            post(a::reply),
        ),
    ]
}

/// Briefings (研判报告): drafts, editing, publishing, print and DOCX (issue 9).
fn briefings() -> Vec<(Route, MethodRouter<AppState>)> {
    use Access::*;
    use Method as M;
    use Permission as P;
    use Target as T;
    use pages::briefings as b;
    vec![
        r(
            M::GET,
            "/assets/briefing-print.css",
            Public,
            T::None,
            get(b::print_css),
        ),
        r(
            M::GET,
            "/briefings",
            Perm(P::ViewOpinions),
            T::None,
            get(b::list),
        ),
        r(
            M::POST,
            "/briefings",
            Perm(P::AnalyseOpinions),
            T::None,
            post(b::create),
        ),
        // `/briefings/{id}.docx` is this route too: the handler reads the suffix.
        r(
            M::GET,
            "/briefings/{id}",
            Perm(P::ViewOpinions),
            T::Briefing,
            get(b::view),
        ),
        r(
            M::GET,
            "/briefings/{id}/print",
            Perm(P::ViewOpinions),
            T::Briefing,
            get(b::print),
        ),
        r(
            M::POST,
            "/briefings/{id}/edit",
            Perm(P::AnalyseOpinions),
            T::Briefing,
            post(b::edit),
        ),
        r(
            M::POST,
            "/briefings/{id}/publish",
            Perm(P::AnalyseOpinions),
            T::Briefing,
            post(b::publish),
        ),
    ]
}

/// The table without handlers: for the guard, the tests and the docs.
pub fn routes() -> Vec<Route> {
    table().into_iter().map(|(r, _)| r).collect()
}
