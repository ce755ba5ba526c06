//! The HTTP surface, driven through the router as a client would, on SQLite and (when
//! configured) PostgreSQL.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use minyi_app::{App, Config};
use minyi_store::testing::TestDb;
use tower::ServiceExt;

async fn app_with_demo(db: &TestDb) -> App {
    let dir = db
        .dir()
        .map(|d| d.join("data"))
        .unwrap_or_else(std::env::temp_dir);
    let mut config = Config::defaults(dir);
    config.database_url = Some(db.url.clone());
    let app = App::open(config).await.unwrap();
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

async fn get(
    app: &App,
    uri: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(k, *v);
    }
    let resp = minyi_web::router(app.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

async fn http_story(db: TestDb) {
    let app = app_with_demo(&db).await;

    let (s, _, body) = get(&app, "/healthz", &[]).await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, "ok\n"));
    let (s, _, _) = get(&app, "/readyz", &[]).await;
    assert_eq!(s, StatusCode::OK);

    // zh-CN by default: the unit tree with live counts and the synthetic banner.
    let (s, h, body) = get(&app, "/", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(body.contains("<html lang=\"zh-CN\">"), "{body}");
    assert!(body.contains("民意引领警务平台") && body.contains("演示数据"));
    assert!(body.contains("data-unit=\"BS\"") && body.contains("保山市公安局"));
    assert!(body.contains("施甸县公安局") && body.contains("派出所"));
    assert!(
        body.contains("<span class=\"n\" data-count=\"count_opinions\">400</span>"),
        "{body}"
    );
    assert!(
        !body.contains("data-unit=\"BS-LY-S01-WH\""),
        "windows are below the depth shown"
    );

    // English on request, remembered in a cookie; then the cookie alone keeps it.
    let (s, h, body) = get(&app, "/?lang=en", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        body.contains("<html lang=\"en\">")
            && body.contains("Police station")
            && body.contains("Demo data")
    );
    assert!(
        h[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .starts_with("lang=en")
    );
    let (_, _, body) = get(&app, "/", &[(header::COOKIE, "lang=en")]).await;
    assert!(body.contains("Units and their opinions"));
    // An English browser still gets Chinese until English is chosen.
    let (_, _, body) = get(&app, "/", &[(header::ACCEPT_LANGUAGE, "en-GB,en;q=0.9")]).await;
    assert!(body.contains("<html lang=\"zh-CN\">"));

    // Unknown pages: a proper page in the user's language, no trace.
    let (s, _, body) = get(&app, "/no/such/page?x=%ZZ", &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body.contains("页面不存在"));
    let (s, _, body) = get(&app, "/nope?lang=en", &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(body.contains("Page not found"));

    let (s, h, body) = get(&app, "/assets/minyi.css", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
            && body.contains("--accent")
    );

    // Readiness follows the database.
    app.store.close().await;
    let (s, _, _) = get(&app, "/readyz", &[]).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (s, _, _) = get(&app, "/healthz", &[]).await;
    assert_eq!(s, StatusCode::OK);
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
async fn empty_store_home_page_says_what_to_do() {
    let db = TestDb::sqlite();
    let mut config = Config::defaults(std::env::temp_dir());
    config.database_url = Some(db.url.clone());
    let app = App::open(config).await.unwrap();
    let (s, _, body) = get(&app, "/", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("minyi demo") && !body.contains("演示数据："));
    db.drop_db().await;
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let db = TestDb::sqlite();
    let mut config = Config::defaults(std::env::temp_dir());
    config.database_url = Some(db.url.clone());
    let app = App::open(config).await.unwrap();
    let big = vec![b'x'; minyi_web::MAX_BODY_BYTES + 1];
    let req = Request::post("/")
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big))
        .unwrap();
    let resp = minyi_web::router(app).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    db.drop_db().await;
}
