//! minyi-web: the HTTP face of minyi — sign-in, the staff pages of each role, the
//! residents' public form, the JSON API, health and readiness probes.
//!
//! Thin by design: handlers parse the request, call `minyi-app`, and render. No business
//! rule lives here; access rules live in one table (`routes`) enforced by one gate (`guard`).

pub mod cardsvg;
pub mod docx;
pub mod extract;
pub mod guard;
pub mod html;
pub mod i18n;
pub mod pages;
pub mod protect;
pub mod respond;
pub mod routes;
pub mod svg;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::http::StatusCode;
use minyi_app::App;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Request bodies larger than this are refused with 413 before a handler runs.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub limits: protect::RateLimits,
    pub rules: guard::Rules,
    /// Whether the store holds the synthetic demo: 0 not yet known, 1 no, 2 yes. The demo
    /// is only ever loaded before serving starts, so the first answer holds.
    pub synthetic: std::sync::Arc<std::sync::atomic::AtomicU8>,
}

impl FromRef<AppState> for App {
    fn from_ref(s: &AppState) -> App {
        s.app.clone()
    }
}

/// The whole application as one router, built from the route table only.
pub fn router(app: App) -> Router {
    let sec = &app.config.security;
    let limits = protect::RateLimits::new(sec.login_rate_per_minute, sec.intake_rate_per_minute);
    router_with(app, limits, routes::table())
}

/// The router from an explicit table (tests use it to show that a route without a rule is refused).
pub fn router_with(
    app: App,
    limits: protect::RateLimits,
    table: Vec<(routes::Route, axum::routing::MethodRouter<AppState>)>,
) -> Router {
    let rules = guard::rules(&table.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>());
    let state = AppState {
        app,
        limits,
        rules,
        synthetic: Default::default(),
    };
    let mut router: Router<AppState> = Router::new();
    for (route, handler) in table {
        router = router.route(route.path, handler);
    }
    with_layers(router, state)
}

/// The gate, limits and headers around any router of ours.
pub fn with_layers(router: Router<AppState>, state: AppState) -> Router {
    router
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::guard))
        .with_state(state)
        .layer(axum::middleware::from_fn(protect::security_headers))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(TraceLayer::new_for_http().make_span_with(
            // Method and path only: a query string may carry an api_key or a resident's words.
            |req: &axum::http::Request<axum::body::Body>| {
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
            },
        ))
}

/// Serves until Ctrl-C or SIGTERM, then lets requests in flight finish.
pub async fn serve(app: App, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
