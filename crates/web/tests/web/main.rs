//! The HTTP surface, driven through the router as a browser or integration would, on
//! SQLite and PostgreSQL: pages and language (here), the authorization matrix
//! (`matrix`), and personal data, CSRF, sessions and rate limits (`security`).

mod analysis;
mod assess;
mod briefings;
mod callbacks;
mod cards;
mod kiosk;
mod matrix;
mod merge;
mod open311;
mod pages;
mod records;
mod security;
mod sms;
mod surveys;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use minyi_app::{App, Config};
use minyi_store::testing::TestDb;
use tower::ServiceExt;

/// A data directory of its own for each test (the data key file lives there).
pub fn data_dir(db: &TestDb) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    match db.dir() {
        Some(d) => d.join("data"),
        None => std::env::temp_dir().join(format!(
            "minyi-web-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )),
    }
}

pub async fn open_app(db: &TestDb) -> App {
    let mut config = Config::defaults(data_dir(db));
    config.database_url = Some(db.url.clone());
    App::open(config).await.unwrap()
}

pub async fn app_with_demo(db: &TestDb) -> App {
    let app = open_app(db).await;
    let volumes = minyi_demo::Volumes {
        opinions: 400,
        ratings: 500,
        incidents: 200,
        cases: 50,
        permits: 50,
    };
    minyi_app::demo::load(&app, 3, volumes, &|_| {})
        .await
        .unwrap();
    app
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> Option<String> {
        let i = self.body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
        let rest = &self.body[i..];
        Some(rest[..rest.find('"')?].to_owned())
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get(header::LOCATION)?.to_str().ok()
    }
}

pub fn form_encode(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        let mut out = String::new();
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A browser in miniature: keeps cookies, comes from one address.
pub struct Client {
    pub router: Router,
    pub cookies: BTreeMap<String, String>,
    pub ip: SocketAddr,
}

impl Client {
    pub fn new(router: Router) -> Client {
        Client::from(router, "198.51.100.7:40000")
    }

    pub fn from(router: Router, ip: &str) -> Client {
        Client {
            router,
            cookies: BTreeMap::new(),
            ip: ip.parse().unwrap(),
        }
    }

    pub async fn send(&mut self, mut req: Request<Body>) -> Resp {
        if !self.cookies.is_empty() {
            let c = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            req.headers_mut().insert(header::COOKIE, c.parse().unwrap());
        }
        req.extensions_mut().insert(ConnectInfo(self.ip));
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        for v in headers.get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (kv, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") || val.is_empty() {
                self.cookies.remove(k.trim());
            } else {
                self.cookies.insert(k.trim().to_owned(), val.to_owned());
            }
        }
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    pub async fn get(&mut self, uri: &str) -> Resp {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    pub async fn post_form(&mut self, uri: &str, fields: &[(&str, &str)]) -> Resp {
        self.send(
            Request::builder()
                .method(Method::POST)
                .uri(uri)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form_encode(fields)))
                .unwrap(),
        )
        .await
    }

    /// Signs in through the form, as a person would. Panics unless it succeeds.
    pub async fn sign_in(&mut self, username: &str, password: &str) {
        let page = self.get("/login").await;
        let csrf = page.csrf().expect("login form has a CSRF token");
        let r = self
            .post_form(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("username", username),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "sign-in of {username}: {}",
            r.body
        );
    }

    /// A CSRF token for this client's current session (from its account page).
    pub async fn csrf(&mut self) -> String {
        let page = self.get("/account").await;
        page.csrf().expect("account page has a form")
    }
}

async fn http_story(db: TestDb) {
    let app = app_with_demo(&db).await;
    let accounts = minyi_app::demo::create_accounts(&app, chrono::Utc::now())
        .await
        .unwrap();
    let city = accounts.iter().find(|a| a.username == "demo_city").unwrap();
    let mut c = Client::new(minyi_web::router(app.clone()));

    let r = c.get("/healthz").await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "ok\n"));
    assert_eq!(c.get("/readyz").await.status, StatusCode::OK);

    // Signed out, the overview sends you to sign in and comes back afterwards.
    let r = c.get("/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/login?next=/"));
    c.sign_in(&city.username, &city.password).await;

    // Home is the dashboard of the account's own unit.
    let r = c.get("/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/dashboard/BS"));

    // zh-CN by default: headline figures, charts, the counties below, the synthetic banner.
    let r = c.get("/dashboard/BS").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = &r.body;
    assert!(body.contains("<html lang=\"zh-CN\">"), "{body}");
    assert!(body.contains("民意引领警务平台") && body.contains("演示数据"));
    assert!(body.contains("保山市公安局") && body.contains("民意工作看板"));
    assert!(body.contains("data-unit=\"BS-SD\"") && body.contains("施甸县公安局"));
    assert!(body.contains("data-figure=\"dash_received\""), "{body}");
    assert!(
        body.matches("<svg").count() >= 4,
        "charts are drawn on the server"
    );
    assert!(!body.contains("<script"), "no script needed");

    // English on request, remembered in a cookie; then the cookie alone keeps it.
    let r = c.get("/dashboard/BS?lang=en").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("<html lang=\"en\">")
            && r.body.contains("Dashboard")
            && r.body.contains("Demo data")
    );
    assert!(c.cookies.get("lang").is_some_and(|v| v == "en"));
    assert!(c.get("/dashboard/BS").await.body.contains("Units below"));
    c.cookies.remove("lang");
    // An English browser still gets Chinese until English is chosen.
    let mut req = Request::get("/dashboard/BS").body(Body::empty()).unwrap();
    req.headers_mut()
        .insert(header::ACCEPT_LANGUAGE, "en-GB,en;q=0.9".parse().unwrap());
    assert!(c.send(req).await.body.contains("<html lang=\"zh-CN\">"));

    // Unknown pages: a proper page in the user's language, no trace.
    let r = c.get("/no/such/page?x=%ZZ").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("页面不存在"));
    let r = c.get("/nope?lang=en").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("Page not found"));

    let r = c.get("/assets/minyi.css").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
            && r.body.contains("--accent")
    );

    // Readiness follows the database.
    app.store.close().await;
    assert_eq!(
        c.get("/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(c.get("/healthz").await.status, StatusCode::OK);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sqlite() {
    http_story(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    http_story(db).await;
}

#[tokio::test]
async fn first_administrator_on_an_empty_store_sees_what_to_do() {
    let db = TestDb::sqlite();
    let app = open_app(&db).await;
    let (user, password) = minyi_app::auth::ensure_first_admin(&app, chrono::Utc::now())
        .await
        .unwrap()
        .expect("an administrator is created on first start");
    assert!(
        minyi_app::auth::ensure_first_admin(&app, chrono::Utc::now())
            .await
            .unwrap()
            .is_none(),
        "only once"
    );
    let mut c = Client::new(minyi_web::router(app.clone()));
    let page = c.get("/login").await;
    let csrf = page.csrf().unwrap();
    let r = c
        .post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("username", &user),
                ("password", &password),
            ],
        )
        .await;
    // The printed password is temporary: the account page comes first.
    assert_eq!(r.location(), Some("/account"));
    assert_eq!(c.get("/").await.location(), Some("/account"));
    let csrf = c.csrf().await;
    let r = c
        .post_form(
            "/account/password",
            &[("csrf", &csrf), ("current", &password), ("new", "short")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("密码太短"));
    let r = c
        .post_form(
            "/account/password",
            &[
                ("csrf", &csrf),
                ("current", &password),
                ("new", "a new long passphrase"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = c.get("/").await;
    assert_eq!(r.location(), Some("/dashboard/bureau"));
    let r = c.get("/dashboard/bureau").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // An empty store: the dashboard says there is nothing yet, and it is not a demo.
    assert!(
        r.body.contains("市公安局") && !r.body.contains("演示数据："),
        "{}",
        r.body
    );
    assert!(r.body.contains("统计期内没有数据"), "{}", r.body);
    db.drop_db().await;
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let db = TestDb::sqlite();
    let app = open_app(&db).await;
    let big = vec![b'x'; minyi_web::MAX_BODY_BYTES + 1];
    let req = Request::post("/report")
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big))
        .unwrap();
    let resp = minyi_web::router(app).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    db.drop_db().await;
}
