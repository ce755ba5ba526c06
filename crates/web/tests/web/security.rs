//! Personal data, CSRF, sessions, rate limits and API keys, driven through the router:
//! residents' identities are never stored or logged in plaintext, floods and guessing are
//! slowed per address and per account, forged or replayed forms change nothing, and the
//! API refuses keys, areas and bodies it should.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::{Duration, Utc};
use minyi_app::auth::Operator;
use minyi_app::{App, Config};
use minyi_core::access::{KeyPurpose, Scope};
use minyi_store::testing::TestDb;

use super::{Client, Resp, data_dir, form_encode, open_app};

// ---------------------------------------------------------------------------------------
// Helpers

/// The demo city with few records: the accounts and the unit tree are what these tests need.
async fn small_demo(db: &TestDb) -> App {
    let app = open_app(db).await;
    let volumes = minyi_demo::Volumes {
        opinions: 10,
        ratings: 10,
        incidents: 10,
        cases: 5,
        permits: 5,
    };
    minyi_app::demo::load(&app, 3, volumes, &|_| {})
        .await
        .unwrap();
    app
}

async fn demo_accounts(app: &App) -> Vec<minyi_app::demo::DemoAccount> {
    minyi_app::demo::create_accounts(app, Utc::now())
        .await
        .unwrap()
}

fn account<'a>(
    accounts: &'a [minyi_app::demo::DemoAccount],
    name: &str,
) -> &'a minyi_app::demo::DemoAccount {
    accounts
        .iter()
        .find(|a| a.username == name)
        .unwrap_or_else(|| panic!("demo account {name} exists"))
}

async fn opinions(app: &App) -> i64 {
    app.store.counts().await.unwrap().opinions
}

/// The id of a unit by code.
async fn unit_id(app: &App, code: &str) -> i64 {
    app.store.unit_by_code(code).await.unwrap().unwrap().id
}

/// An area whose station lies inside (`inside = true`) or outside the subtree of `unit`.
async fn area_relative_to(app: &App, unit: i64, inside: bool) -> String {
    let tree = app.store.unit_tree().await.unwrap();
    let scope = Scope::subtree(unit, &tree);
    app.store
        .areas()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.station_id.is_some_and(|s| scope.contains(s) == inside))
        .map(|a| a.code.as_str().to_owned())
        .expect("the demo city has such an area")
}

/// A GB 11643 identity number: 17 digits and their check character.
fn id_with_check(first17: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    let sum: u32 = first17
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    format!("{first17}{}", C[(sum % 11) as usize] as char)
}

async fn post_json(c: &mut Client, key: Option<&str>, body: &str, idem: Option<&str>) -> Resp {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/opinions")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(k) = key {
        b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    if let Some(i) = idem {
        b = b.header("idempotency-key", i);
    }
    c.send(b.body(Body::from(body.to_owned())).unwrap()).await
}

async fn post_form_with(
    c: &mut Client,
    uri: &str,
    fields: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> Resp {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    c.send(b.body(Body::from(form_encode(fields))).unwrap())
        .await
}

fn json(r: &Resp) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.body))
}

fn assert_problem(r: &Resp, status: StatusCode) -> serde_json::Value {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(
        r.headers[header::CONTENT_TYPE].to_str().unwrap(),
        "application/problem+json"
    );
    let j = json(r);
    assert!(j["code"].as_str().is_some_and(|c| !c.is_empty()), "{j}");
    j
}

/// Submits the public form as a resident: fetches it for the CSRF token first.
async fn report(c: &mut Client, fields: &[(&str, &str)]) -> Resp {
    let page = c.get("/report").await;
    let csrf = page.csrf().expect("the report form has a CSRF token");
    let sub = format!("sub-{}", minyi_vault_free_token());
    let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf), ("submission", &sub)];
    all.extend_from_slice(fields);
    c.post_form("/report", &all).await
}

/// A fresh submission key (the form's own idempotency key) without another dependency.
fn minyi_vault_free_token() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or(0),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

fn tracking_code_of(page: &str) -> String {
    let marker = "<strong data-tracking-code>";
    let i = page.find(marker).expect("a tracking code on the page") + marker.len();
    page[i..i + page[i..].find('<').unwrap()].to_owned()
}

// ---------------------------------------------------------------------------------------
// Captured logs

#[derive(Clone)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged by this test binary from the first call on, at every level.
fn log_buffer() -> Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let w = SharedBuf(buf.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || w.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this test binary");
        buf
    })
    .clone()
}

fn logs() -> String {
    let b = log_buffer();
    let g = b.lock().unwrap_or_else(|e| e.into_inner());
    String::from_utf8_lossy(&g).into_owned()
}

// ---------------------------------------------------------------------------------------
// 1. Personal data never in plaintext at rest or in logs

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn find_in_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn all_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

async fn personal_data_story(db: TestDb, variant: u8) {
    // Capture from before the first request of this story.
    log_buffer();
    let app = small_demo(&db).await;
    let accounts = demo_accounts(&app).await;
    let station = account(&accounts, "demo_station");
    let city = account(&accounts, "demo_city");
    let station_area = area_relative_to(&app, unit_id(&app, &station.unit_code).await, true).await;

    // Unique per backend, so the two runs sharing one log buffer never mistake each other.
    let name1 = format!("欧阳测试{}", ["甲", "乙"][variant as usize]);
    let phone1 = format!("1391234567{variant}");
    let id1 = if variant == 0 {
        "11010519491231002X".to_owned()
    } else {
        id_with_check("11010519491231003")
    };
    assert_eq!(id_with_check("11010519491231002"), "11010519491231002X");
    let addr1 = format!("保山市隆阳区测试路8{variant}号");
    let name2 = format!("司马测试{}", ["丙", "丁"][variant as usize]);
    let phone2 = format!("1368765432{variant}");
    let id2 = id_with_check(&format!("53050219800101{variant}12"));
    let addr2 = format!("保山市腾冲市测试街1{variant}号");
    let mut secrets: Vec<String> = vec![
        name1.clone(),
        phone1.clone(),
        id1.clone(),
        addr1.clone(),
        name2.clone(),
        phone2.clone(),
        id2.clone(),
        addr2.clone(),
    ];
    // The parts the masks hide, on their own.
    for s in [&name1, &name2] {
        secrets.push(s.chars().skip(1).collect());
    }
    for s in [&addr1, &addr2] {
        secrets.push(s.chars().skip(6).collect());
    }
    for s in [&id1, &id2] {
        secrets.push(s[6..14].to_owned());
    }

    let router = minyi_web::router(app.clone());
    // (a) The residents' form.
    let mut resident = Client::from(router.clone(), "203.0.113.50:1");
    let r = report(
        &mut resident,
        &[
            ("text", "路口的路灯坏了很久，晚上很危险。"),
            ("area", &station_area),
            ("name", &name1),
            ("phone", &phone1),
            ("id_number", &id1),
            ("address", &addr1),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let code1 = tracking_code_of(&r.body);
    for s in &secrets {
        assert!(!r.body.contains(s.as_str()), "the receipt repeats {s}");
    }

    // (b) The JSON API, with a key of the city bureau.
    let (_, key) = minyi_app::auth::create_api_key(
        &app,
        Operator::Cli,
        &city.unit_code,
        KeyPurpose::Open311,
        "test",
        Utc::now(),
    )
    .await
    .unwrap();
    let mut machine = Client::from(router.clone(), "203.0.113.51:1");
    let body = serde_json::json!({
        "text": "希望加强夜间巡逻。",
        "area": station_area,
        "contact": {"name": name2, "phone": phone2, "id_number": id2, "address": addr2},
    });
    let r = post_json(&mut machine, Some(&key), &body.to_string(), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let code2 = json(&r)["tracking_code"].as_str().unwrap().to_owned();
    for s in &secrets {
        assert!(!r.body.contains(s.as_str()));
    }

    // Open311 clients may send the key as a parameter: it must not reach the request log.
    let r = machine
        .send(
            Request::post(format!("/api/v1/opinions?api_key={key}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    serde_json::json!({"text": "参数中的密钥", "area": station_area}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // Staff see masks; one field, for a typed reason, is revealed and audited.
    let mut staff = Client::new(router.clone());
    staff.sign_in(&station.username, &station.password).await;
    for (code, phone, masked) in [
        (&code1, &phone1, format!("139****567{variant}")),
        (&code2, &phone2, format!("136****432{variant}")),
    ] {
        let r = staff.get(&format!("/opinions/{code}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains(&masked), "masked phone shown: {}", r.body);
        for s in &secrets {
            assert!(
                !r.body.contains(s.as_str()),
                "{s} shown on the page of {code}"
            );
        }
        assert!(!r.body.contains(phone.as_str()));
    }
    let csrf = staff.csrf().await;
    let reason = "电话回访核实情况";
    let r = staff
        .post_form(
            &format!("/opinions/{code1}/reveal"),
            &[("csrf", &csrf), ("field", "phone"), ("reason", reason)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body
            .contains(&format!("data-revealed=\"phone\">{phone1}<")),
        "{}",
        r.body
    );
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    assert!(!r.body.contains(&id1) && !r.body.contains(&name1));
    // Without a reason nothing is revealed.
    let r = staff
        .post_form(
            &format!("/opinions/{code1}/reveal"),
            &[("csrf", &csrf), ("field", "id_number"), ("reason", " ")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(!r.body.contains(&id1));

    let audit = app.store.audit_recent(200).await.unwrap();
    let reveals: Vec<_> = audit.iter().filter(|a| a.action == "reveal").collect();
    assert_eq!(
        reveals.len(),
        1,
        "exactly one reveal on record: {reveals:?}"
    );
    let rv = reveals[0];
    assert_eq!(rv.subject, format!("opinion:{code1}"));
    assert!(
        rv.detail.contains(reason) && rv.detail.contains("phone"),
        "{rv:?}"
    );
    assert!(rv.actor.contains(&station.username), "{rv:?}");
    for a in &audit {
        for s in &secrets {
            assert!(
                !a.detail.contains(s.as_str()) && !a.subject.contains(s.as_str()),
                "audit entry {} carries {s}",
                a.seq
            );
        }
    }

    // At rest.
    match db.dir() {
        Some(dir) => {
            app.store.close().await;
            let mut files = Vec::new();
            all_files(dir, &mut files);
            assert!(
                files
                    .iter()
                    .any(|f| f.extension().is_some_and(|e| e == "db")),
                "the SQLite file is in {files:?}"
            );
            let mut scanned = 0usize;
            for f in &files {
                let bytes = std::fs::read(f).unwrap();
                scanned += bytes.len();
                for s in &secrets {
                    assert!(
                        !find_in_bytes(&bytes, s.as_bytes()),
                        "{s} in plaintext in {}",
                        f.display()
                    );
                }
                // The non-personal text is there: the scan looks at the right file.
                if f.extension().is_some_and(|e| e == "db") {
                    assert!(find_in_bytes(&bytes, code1.as_bytes()), "{}", f.display());
                }
            }
            assert!(scanned > 0);
        }
        None => {
            use sqlx::{Connection, Row};
            let mut conn = sqlx::postgres::PgConnection::connect(&db.url)
                .await
                .unwrap();
            let tables: Vec<String> = sqlx::query(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(0))
            .collect();
            assert!(tables.iter().any(|t| t == "contacts"), "{tables:?}");
            let mut rows_seen = 0;
            let mut code_seen = false;
            for t in &tables {
                let sql = format!("SELECT t::text FROM \"{}\" t", t.replace('"', "\"\""));
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                for row in rows {
                    let text: String = row.get(0);
                    rows_seen += 1;
                    code_seen |= text.contains(&code1);
                    for s in &secrets {
                        assert!(
                            !text.contains(s.as_str()) && !text.contains(&hex(s)),
                            "{s} in plaintext in table {t}"
                        );
                    }
                }
            }
            assert!(rows_seen > 0 && code_seen);
            let _ = conn.close().await;
        }
    }

    // In the logs: something of this very test was captured, and no identity.
    let logged = logs();
    assert!(
        logged.contains(&format!("/opinions/{code1}/reveal")),
        "the request log of this test was captured"
    );
    for s in &secrets {
        assert!(!logged.contains(s.as_str()), "{s} in the logs");
    }
    // Nor any secret that would let a reader of the logs act as someone.
    assert!(!logged.contains(&key), "the API key is in the logs");
    assert!(
        !logged.contains(&station.password),
        "a password is in the logs"
    );
    for (name, value) in &staff.cookies {
        assert!(
            !logged.contains(value.as_str()),
            "cookie {name} is in the logs"
        );
    }
    assert!(!logged.contains(&csrf), "the CSRF token is in the logs");
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_never_in_plaintext_sqlite() {
    personal_data_story(TestDb::sqlite(), 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_never_in_plaintext_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    personal_data_story(db, 1).await;
}

// ---------------------------------------------------------------------------------------
// 2. Floods

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_from_one_address_is_limited_while_another_is_served() {
    let db = TestDb::sqlite();
    let mut config = Config::defaults(data_dir(&db));
    config.database_url = Some(db.url.clone());
    config.security.intake_rate_per_minute = 5;
    config.security.login_rate_per_minute = 3;
    let app = App::open(config).await.unwrap();
    let (admin, password) = minyi_app::auth::ensure_first_admin(&app, Utc::now())
        .await
        .unwrap()
        .unwrap();
    let router = minyi_web::router(app.clone());
    let mut a = Client::from(router.clone(), "203.0.113.1:1");
    let mut b = Client::from(router.clone(), "203.0.113.2:1");

    let mut limited = None;
    for i in 1..=6 {
        let r = report(&mut a, &[("text", "测试洪泛")]).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((i, r));
            break;
        }
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let (i, r) = limited.expect("429 within limit + 1 submissions");
    assert_eq!(i, 6, "exactly the allowance is served");
    let wait: u64 = r.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    assert!(
        r.body.contains("<html lang=\"zh-CN\">") && r.body.contains("请求过于频繁"),
        "{}",
        r.body
    );
    assert_eq!(opinions(&app).await, 5);
    let r = report(&mut b, &[("text", "另一个地址")]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A forged X-Forwarded-For does not buy a new allowance (no proxy is trusted by default).
    let csrf = a.get("/report").await.csrf().unwrap();
    let r = post_form_with(
        &mut a,
        "/report",
        &[("csrf", &csrf), ("text", "换个地址")],
        &[("x-forwarded-for", "198.18.0.77")],
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);

    // IPv6: one /64 is one address; the next /64 is another.
    let mut v6a = Client::from(router.clone(), "[2001:db8:0:1::1]:1");
    let mut v6b = Client::from(router.clone(), "[2001:db8:0:1::ffff]:1");
    let mut v6c = Client::from(router.clone(), "[2001:db8:0:2::1]:1");
    for _ in 0..5 {
        let r = report(&mut v6a, &[("text", "六")]).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let r = report(&mut v6b, &[("text", "六")]).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "same /64 shares the allowance"
    );
    let r = report(&mut v6c, &[("text", "六")]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // Sign-in: an unknown name, so it is the address limit (not the account's back-off).
    let mut limited = None;
    for i in 1..=4 {
        let csrf = a.get("/login").await.csrf().unwrap();
        let r = a
            .post_form(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("username", "nobody"),
                    ("password", "guess guess"),
                ],
            )
            .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((i, r));
            break;
        }
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    let (i, r) = limited.expect("429 within limit + 1 sign-ins");
    assert_eq!(i, 4);
    assert!(r.headers.contains_key(header::RETRY_AFTER));
    assert!(r.body.contains("请求过于频繁"), "{}", r.body);
    // Even the right password is not tried from the flooding address.
    let csrf = a.get("/login").await.csrf().unwrap();
    let r = a
        .post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("username", &admin),
                ("password", &password),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    b.sign_in(&admin, &password).await;
    db.drop_db().await;
}

// ---------------------------------------------------------------------------------------
// 3. CSRF and sessions

async fn csrf_story(db: TestDb) {
    let app = small_demo(&db).await;
    let accounts = demo_accounts(&app).await;
    let admin = account(&accounts, "demo_admin");
    let station = account(&accounts, "demo_station");
    let router = minyi_web::router(app.clone());
    let before = opinions(&app).await;

    // The public form: no token, or another browser's token, stores nothing.
    let mut a = Client::from(router.clone(), "198.51.100.20:1");
    let mut b = Client::from(router.clone(), "198.51.100.21:1");
    let token_a = a.get("/report").await.csrf().unwrap();
    let token_b = b.get("/report").await.csrf().unwrap();
    assert_ne!(token_a, token_b);
    let r = a.post_form("/report", &[("text", "无令牌")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("请求被拒绝"));
    let r = b
        .post_form("/report", &[("csrf", &token_a), ("text", "别人的令牌")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let mut c = Client::from(router.clone(), "198.51.100.22:1");
    let r = c
        .post_form("/report", &[("csrf", &token_a), ("text", "没有 cookie")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(opinions(&app).await, before, "nothing stored");
    let r = a
        .post_form("/report", &[("csrf", &token_a), ("text", "正常提交")])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(opinions(&app).await, before + 1);

    // A signed-in form.
    let mut adm = Client::new(router.clone());
    adm.sign_in(&admin.username, &admin.password).await;
    let good = adm.csrf().await;
    let new_user = |name: &str, csrf: Option<&str>, unit: &str| -> Vec<(String, String)> {
        let mut v = vec![
            ("username".to_owned(), name.to_owned()),
            ("display_name".to_owned(), "新民警".to_owned()),
            ("role".to_owned(), "station_staff".to_owned()),
            ("unit".to_owned(), unit.to_owned()),
        ];
        if let Some(c) = csrf {
            v.push(("csrf".to_owned(), c.to_owned()));
        }
        v
    };
    async fn post(c: &mut Client, v: Vec<(String, String)>, extra: &[(&str, &str)]) -> Resp {
        let f: Vec<(&str, &str)> = v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        post_form_with(c, "/admin/users", &f, extra).await
    }
    let unit = station.unit_code.clone();
    let exists = |app: App, n: &'static str| async move {
        app.store.account_by_username(n).await.unwrap().is_some()
    };
    let r = post(&mut adm, new_user("csrf_none", None, &unit), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(!exists(app.clone(), "csrf_none").await);
    let r = post(&mut adm, new_user("csrf_wrong", Some(&token_a), &unit), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!exists(app.clone(), "csrf_wrong").await);
    let r = post(
        &mut adm,
        new_user("csrf_cross", Some(&good), &unit),
        &[("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!exists(app.clone(), "csrf_cross").await);
    let r = post(
        &mut adm,
        new_user("csrf_origin", Some(&good), &unit),
        &[
            ("origin", "https://evil.example"),
            ("host", "minyi.example"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!exists(app.clone(), "csrf_origin").await);
    let r = post(&mut adm, new_user("csrf_ok", Some(&good), &unit), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(exists(app.clone(), "csrf_ok").await);

    // Sign out: the old cookie and the old token are worth nothing.
    let old_session = adm
        .cookies
        .get(minyi_web::guard::SESSION_COOKIE)
        .cloned()
        .unwrap();
    let r = adm.post_form("/logout", &[("csrf", &good)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/login"));
    assert!(!adm.cookies.contains_key(minyi_web::guard::SESSION_COOKIE));
    let mut replay = Client::from(router.clone(), "198.51.100.23:1");
    replay
        .cookies
        .insert(minyi_web::guard::SESSION_COOKIE.to_owned(), old_session);
    let r = replay.get("/admin/users").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.location().is_some_and(|l| l.starts_with("/login")),
        "{:?}",
        r.location()
    );
    let r = post(
        &mut replay,
        new_user("csrf_replay", Some(&good), &unit),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!exists(app.clone(), "csrf_replay").await);
    adm.sign_in(&admin.username, &admin.password).await;
    let fresh = adm.csrf().await;
    assert_ne!(fresh, good, "a new session has a new token");
    let r = post(&mut adm, new_user("csrf_old", Some(&good), &unit), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!exists(app.clone(), "csrf_old").await);
    let r = post(&mut adm, new_user("csrf_new", Some(&fresh), &unit), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(exists(app.clone(), "csrf_new").await);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_and_sessions_sqlite() {
    csrf_story(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_and_sessions_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    csrf_story(db).await;
}

// ---------------------------------------------------------------------------------------
// 4. Sign-in back-off and lock

async fn sign_in_story(db: TestDb) {
    let app = small_demo(&db).await;
    let accounts = demo_accounts(&app).await;
    let station = account(&accounts, "demo_station");
    let router = minyi_web::router(app.clone());
    let wrong = "Wr0ng-猜测-口令-h5";
    async fn attempt_at(
        router: &axum::Router,
        username: &str,
        password: &str,
        ip: &str,
    ) -> (Resp, Client) {
        let mut c = Client::from(router.clone(), ip);
        let csrf = c.get("/login").await.csrf().unwrap();
        let r = c
            .post_form(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("username", username),
                    ("password", password),
                ],
            )
            .await;
        (r, c)
    }
    let attempt = |password: &str, ip: &str| {
        let (router, username, password, ip) = (
            router.clone(),
            station.username.clone(),
            password.to_owned(),
            ip.to_owned(),
        );
        async move { attempt_at(&router, &username, &password, &ip).await }
    };
    // Each from its own address: the account's back-off, not the address limit, is tested.
    let ips = [
        "192.0.2.1:1",
        "192.0.2.2:1",
        "192.0.2.3:1",
        "192.0.2.4:1",
        "192.0.2.5:1",
        "192.0.2.6:1",
        "192.0.2.7:1",
        "192.0.2.8:1",
        "192.0.2.10:1",
        "192.0.2.11:1",
    ];
    for ip in &ips[..3] {
        let (r, _) = attempt(wrong, ip).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        assert!(r.body.contains("用户名或密码不正确"), "{}", r.body);
    }
    // The fourth attempt comes within the one-second back-off unless the machine stalls;
    // then later ones do, and the tenth failure locks at the latest — so no clock is assumed.
    let mut refused = None;
    for ip in &ips[3..] {
        let (r, c) = attempt(wrong, ip).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((r, c));
            break;
        }
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    let (r, c) = refused.expect("repeated failures are refused with 429");
    let wait: i64 = r.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    assert!(
        r.body.contains("秒后再试") || r.body.contains("临时锁定"),
        "{}",
        r.body
    );
    assert!(!c.cookies.contains_key(minyi_web::guard::SESSION_COOKIE));

    // Keep failing (time moved only through the app's own clock parameter) until locked.
    let mut locked = false;
    for k in 1..=12 {
        let at = Utc::now() + Duration::minutes(2 * k);
        match minyi_app::auth::sign_in(&app, &station.username, wrong, at)
            .await
            .unwrap()
        {
            Err(minyi_app::auth::SignInRefusal::Locked { .. }) => {
                locked = true;
                break;
            }
            Err(_) => {}
            Ok(_) => panic!("a wrong password signed in"),
        }
    }
    assert!(locked, "ten failures lock the account");
    // Locked: even the right password is refused, from a fresh address.
    let (r, c) = attempt(&station.password, "192.0.2.9:1").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.headers.contains_key(header::RETRY_AFTER));
    assert!(r.body.contains("临时锁定"), "{}", r.body);
    assert!(!c.cookies.contains_key(minyi_web::guard::SESSION_COOKIE));

    let audit = app.store.audit_recent(500).await.unwrap();
    let failed: Vec<_> = audit
        .iter()
        .filter(|a| {
            a.action == "sign_in_failed" && a.subject == format!("account:{}", station.username)
        })
        .collect();
    assert!(failed.len() >= 4, "{failed:?}");
    for a in &audit {
        assert!(!a.detail.contains(wrong) && !a.subject.contains(wrong));
        assert!(!a.detail.contains(station.password.as_str()));
    }
    assert!(
        !audit
            .iter()
            .any(|a| a.action == "sign_in" && a.subject == format!("account:{}", station.username))
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_backoff_and_lock_sqlite() {
    sign_in_story(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_backoff_and_lock_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    sign_in_story(db).await;
}

// ---------------------------------------------------------------------------------------
// 5. Revoked and wrong-purpose keys, areas outside the key's unit

async fn keys_story(db: TestDb) {
    let app = small_demo(&db).await;
    let accounts = demo_accounts(&app).await;
    let county = account(&accounts, "demo_county");
    let county_id = unit_id(&app, &county.unit_code).await;
    let inside = area_relative_to(&app, county_id, true).await;
    let outside = area_relative_to(&app, county_id, false).await;
    let now = Utc::now();
    let (open_id, open_key) = minyi_app::auth::create_api_key(
        &app,
        Operator::Cli,
        &county.unit_code,
        KeyPurpose::Open311,
        "county",
        now,
    )
    .await
    .unwrap();
    let (_, kiosk_key) = minyi_app::auth::create_api_key(
        &app,
        Operator::Cli,
        &county.unit_code,
        KeyPurpose::Kiosk,
        "kiosk",
        now,
    )
    .await
    .unwrap();
    let mut c = Client::new(minyi_web::router(app.clone()));
    let body = |area: &str| serde_json::json!({"text": "接口测试", "area": area}).to_string();
    let before = opinions(&app).await;

    let r = post_json(&mut c, Some(&open_key), &body(&inside), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = post_json(&mut c, Some(&open_key), &body(&outside), None).await;
    let j = assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(j["detail"].as_str().unwrap().contains("outside"), "{j}");
    let r = post_json(
        &mut c,
        Some(&open_key),
        &serde_json::json!({"text": "没有地区"}).to_string(),
        None,
    )
    .await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(opinions(&app).await, before + 1);

    let r = post_json(&mut c, Some(&kiosk_key), &body(&inside), None).await;
    assert_problem(&r, StatusCode::UNAUTHORIZED);
    for garbage in [
        "nonsense",
        "",
        "my_0000000000000000000000000000000000000000",
    ] {
        let r = post_json(&mut c, Some(garbage), &body(&inside), None).await;
        assert_problem(&r, StatusCode::UNAUTHORIZED);
    }
    let r = post_json(&mut c, None, &body(&inside), None).await;
    assert_problem(&r, StatusCode::UNAUTHORIZED);
    // A key with its secret part altered.
    let mut tampered = open_key.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'a' { 'b' } else { 'a' });
    let r = post_json(&mut c, Some(&tampered), &body(&inside), None).await;
    assert_problem(&r, StatusCode::UNAUTHORIZED);

    minyi_app::auth::revoke_api_key(&app, Operator::Cli, &open_id.to_string(), Utc::now())
        .await
        .unwrap();
    let r = post_json(&mut c, Some(&open_key), &body(&inside), None).await;
    assert_problem(&r, StatusCode::UNAUTHORIZED);
    assert_eq!(
        opinions(&app).await,
        before + 1,
        "nothing stored by refused keys"
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_refused_sqlite() {
    keys_story(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_refused_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    keys_story(db).await;
}

// ---------------------------------------------------------------------------------------
// 6. Bad input on the API

async fn api_input_story(db: TestDb) {
    let app = small_demo(&db).await;
    let accounts = demo_accounts(&app).await;
    let city = account(&accounts, "demo_city");
    let area = area_relative_to(&app, unit_id(&app, &city.unit_code).await, true).await;
    let (_, key) = minyi_app::auth::create_api_key(
        &app,
        Operator::Cli,
        &city.unit_code,
        KeyPurpose::Open311,
        "input",
        Utc::now(),
    )
    .await
    .unwrap();
    let mut c = Client::new(minyi_web::router(app.clone()));
    let before = opinions(&app).await;

    let r = post_json(&mut c, Some(&key), "{\"text\": ", None).await;
    let j = assert_problem(&r, StatusCode::BAD_REQUEST);
    assert_eq!(j["code"], "malformed_json");
    let r = post_json(&mut c, Some(&key), "[1, 2]", None).await;
    assert_problem(&r, StatusCode::BAD_REQUEST);
    let r = post_json(
        &mut c,
        Some(&key),
        &serde_json::json!({"text": "好", "area": area, "evil": true}).to_string(),
        None,
    )
    .await;
    let j = assert_problem(&r, StatusCode::BAD_REQUEST);
    assert!(j["detail"].as_str().unwrap().contains("evil"), "{j}");
    let r = post_json(
        &mut c,
        Some(&key),
        &serde_json::json!({"text": "好", "area": area, "contact": {"email": "x@y"}}).to_string(),
        None,
    )
    .await;
    assert_problem(&r, StatusCode::BAD_REQUEST);
    let r = post_json(
        &mut c,
        Some(&key),
        &serde_json::json!({"text": "字".repeat(5001), "area": area}).to_string(),
        None,
    )
    .await;
    let j = assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(j["detail"].as_str().unwrap().starts_with("text"), "{j}");
    let r = post_json(
        &mut c,
        Some(&key),
        &serde_json::json!({"text": "好", "area": area, "contact": {"phone": "call-me-maybe"}})
            .to_string(),
        None,
    )
    .await;
    let j = assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        j["detail"].as_str().unwrap().contains("contact.phone"),
        "{j}"
    );
    let r = post_json(
        &mut c,
        Some(&key),
        &serde_json::json!({"text": "好", "area": area, "contact": {"id_number": "110105194912310021"}}).to_string(),
        None,
    )
    .await;
    let j = assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        j["detail"].as_str().unwrap().contains("contact.id_number"),
        "{j}"
    );
    // Not JSON at all.
    let r = c
        .send(
            Request::post("/api/v1/opinions")
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Body::from("text=hi"))
                .unwrap(),
        )
        .await;
    assert_problem(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        opinions(&app).await,
        before,
        "nothing stored from bad input"
    );

    // The same Idempotency-Key twice: one opinion, the same code.
    let body = serde_json::json!({"text": "重复提交测试", "area": area}).to_string();
    let r1 = post_json(&mut c, Some(&key), &body, Some("idem-h5-1")).await;
    assert_eq!(r1.status, StatusCode::CREATED, "{}", r1.body);
    let j1 = json(&r1);
    assert_eq!(j1["repeated"], false);
    let r2 = post_json(&mut c, Some(&key), &body, Some("idem-h5-1")).await;
    assert_eq!(r2.status, StatusCode::OK, "{}", r2.body);
    let j2 = json(&r2);
    assert_eq!(j2["repeated"], true);
    assert_eq!(j1["tracking_code"], j2["tracking_code"]);
    assert_eq!(opinions(&app).await, before + 1);
    // Another key of its own namespace: not a repeat.
    let r3 = post_json(&mut c, Some(&key), &body, Some("idem-h5-2")).await;
    assert_eq!(r3.status, StatusCode::CREATED);
    assert_ne!(json(&r3)["tracking_code"], j1["tracking_code"]);
    let r = post_json(&mut c, Some(&key), &body, Some(&"k".repeat(101))).await;
    assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(opinions(&app).await, before + 2);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_bad_input_sqlite() {
    api_input_story(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_bad_input_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    api_input_story(db).await;
}

/// Wrong passwords for a real name and for an invented one get the same answers in the
/// same order (401s, then the back-off's 429), so sign-in does not reveal which names exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_does_not_reveal_which_names_exist() {
    let db = TestDb::sqlite();
    let app = small_demo(&db).await;
    demo_accounts(&app).await;
    let router = minyi_web::router(app.clone());
    let mut seen = Vec::new();
    for (i, name) in ["demo_station", "no_such_officer"].iter().enumerate() {
        let mut c = Client::from(router.clone(), &format!("192.0.2.{}:1", 200 + i));
        let mut statuses = Vec::new();
        for _ in 0..5 {
            let csrf = c.get("/login").await.csrf().unwrap();
            let r = c
                .post_form(
                    "/login",
                    &[
                        ("csrf", &csrf),
                        ("username", name),
                        ("password", "wrong password!"),
                    ],
                )
                .await;
            statuses.push(r.status.as_u16());
        }
        seen.push(statuses);
    }
    assert_eq!(seen[0], seen[1], "real vs invented name");
    assert_eq!(&seen[0][..3], &[401, 401, 401]);
    assert_eq!(seen[0][3], 429);
    db.drop_db().await;
}
