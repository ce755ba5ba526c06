//! Staff pages beyond the overview: the opinion list with filters, sorting, pages and CSV
//! export, and error pages for broken links.

use axum::http::{StatusCode, header};
use minyi_store::testing::TestDb;

use crate::{Client, app_with_demo};

async fn list_story(db: TestDb) {
    let app = app_with_demo(&db).await;
    let accounts = minyi_app::demo::create_accounts(&app, chrono::Utc::now())
        .await
        .unwrap();
    let city = accounts.iter().find(|a| a.username == "demo_city").unwrap();
    let mut c = Client::new(minyi_web::router(app.clone()));
    c.sign_in(&city.username, &city.password).await;

    let r = c.get("/units/BS/opinions").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("共 400 件"),
        "all 400 demo opinions are listed"
    );
    assert_eq!(
        r.body.matches("href=\"/opinions/").count(),
        50,
        "one page of 50"
    );
    assert!(r.body.contains("第 1 页，共 8 页"));

    // Filters narrow the total; the rows all carry the filtered state.
    let r = c.get("/units/BS/opinions?state=closed").await;
    let closed = r
        .body
        .split("共 ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.replace(',', "").parse::<i64>().ok())
        .unwrap();
    assert!(closed > 0 && closed < 400, "{closed}");
    assert!(!r.body.contains("<td>已受理</td>"));

    // Sorting by due date ascending: the first row's deadline is not after the second's.
    let r = c.get("/units/BS/opinions?sort=due&dir=asc").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("aria-sort=\"ascending\""));

    // CSV: a BOM, a header row in the user's language, every filtered row.
    let r = c.get("/units/BS/opinions?state=closed&format=csv").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(r.body.starts_with('\u{feff}'));
    assert!(r.body.lines().next().unwrap().contains("查询码"));
    let mut rd = csv::Reader::from_reader(r.body.trim_start_matches('\u{feff}').as_bytes());
    assert_eq!(rd.records().count() as i64, closed);

    // The queue: the account's unit's open matters, due soonest first.
    let r = c.get("/queue").await;
    assert_eq!(
        r.location(),
        Some("/units/BS/opinions?open=1&sort=due&dir=asc")
    );
    let r = c.get("/units/BS/opinions?open=1&sort=due&dir=asc").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        !r.body.contains("<td>已办结</td>"),
        "closed matters are not queued"
    );

    // The same rows as a workbook.
    let r = c.get("/units/BS/opinions?state=closed&format=xlsx").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("spreadsheetml")
    );
    assert!(r.body.starts_with("PK"), "an xlsx file is a zip archive");

    // Broken links get pages in the user's language, never a trace.
    for (uri, status, text) in [
        (
            "/units/BS/opinions?state=nonsense",
            StatusCode::BAD_REQUEST,
            "unknown",
        ),
        (
            "/units/BS/opinions?page=999999",
            StatusCode::BAD_REQUEST,
            "没有第 999999 页",
        ),
        (
            "/units/BS/opinions?page=99999999999999999999",
            StatusCode::BAD_REQUEST,
            "page",
        ),
        (
            "/units/BS/opinions?sort=password",
            StatusCode::BAD_REQUEST,
            "sort",
        ),
        (
            "/units/BS/opinions?state=%ZZ",
            StatusCode::BAD_REQUEST,
            "unknown",
        ),
        (
            "/units/BS/opinions?state=a&state=b",
            StatusCode::BAD_REQUEST,
            "链接有误",
        ),
        ("/units/NOPE/opinions", StatusCode::NOT_FOUND, "页面不存在"),
        ("/opinions/not-a-code", StatusCode::NOT_FOUND, "页面不存在"),
        ("/track?code=a&code=b", StatusCode::BAD_REQUEST, "链接有误"),
    ] {
        let r = c.get(uri).await;
        assert_eq!(r.status, status, "{uri}: {}", r.body);
        assert!(r.body.contains(text), "{uri}: {}", r.body);
        assert!(r.body.contains("<html lang=\"zh-CN\">"), "{uri}");
    }
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opinion_list_sqlite() {
    list_story(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opinion_list_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    list_story(db).await;
}

/// Unit → area → officer pages link up, show who is responsible, and stay in scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn area_and_officer_pages() {
    let db = TestDb::sqlite();
    let app = app_with_demo(&db).await;
    let accounts = minyi_app::demo::create_accounts(&app, chrono::Utc::now())
        .await
        .unwrap();
    let station = accounts
        .iter()
        .find(|a| a.username == "demo_station")
        .unwrap();
    let mut c = Client::new(minyi_web::router(app.clone()));
    c.sign_in(&station.username, &station.password).await;
    let unit = c.get("/unit").await;
    assert_eq!(unit.status, StatusCode::OK);
    assert!(
        unit.body.contains("演示数据："),
        "every page of a demo store says so"
    );
    let first_link = |body: &str, prefix: &str| {
        let i = body
            .find(prefix)
            .unwrap_or_else(|| panic!("no {prefix} link in {body}"))
            + prefix.len();
        body[i..i + body[i..].find('"').unwrap()].to_owned()
    };
    let area = first_link(&unit.body, "href=\"/areas/");
    let officer = first_link(&unit.body, "href=\"/officers/");
    let r = c.get(&format!("/areas/{area}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains(&station.unit_name),
        "the responsible station is named"
    );
    assert!(r.body.contains("常住人口"));
    let r = c.get(&format!("/officers/{officer}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("值班电话") || r.body.contains("责任辖区"));
    // Another county's area and officer are not there for a station account.
    let other_area = app
        .store
        .areas()
        .await
        .unwrap()
        .into_iter()
        .find(|a| {
            a.code.as_str().starts_with("A-")
                && !a.code.as_str().starts_with(&area[..4])
                && a.station_id.is_some()
        })
        .unwrap();
    assert_eq!(
        c.get(&format!("/areas/{}", other_area.code)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get("/officers/999999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(c.get("/officers/abc").await.status, StatusCode::NOT_FOUND);
    db.drop_db().await;
}

/// The map of the demo city: townships by default, villages on request, each area a link,
/// the same numbers as a table; a county account sees its county only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_of_the_demo_city() {
    let db = TestDb::sqlite();
    let app = app_with_demo(&db).await;
    let accounts = minyi_app::demo::create_accounts(&app, chrono::Utc::now())
        .await
        .unwrap();
    let city = accounts.iter().find(|a| a.username == "demo_city").unwrap();
    let county = accounts
        .iter()
        .find(|a| a.username == "demo_county")
        .unwrap();
    let mut c = Client::new(minyi_web::router(app.clone()));
    c.sign_in(&city.username, &city.password).await;
    let r = c.get("/map/BS").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("chart-map"), "{}", r.body);
    let townships = r.body.matches("class=\"mark area\"").count();
    assert_eq!(townships, 72, "one shape per township");
    assert!(r.body.contains("href=\"/areas/A-"));
    assert!(
        !r.body.contains("style="),
        "no inline styles: the CSP forbids them"
    );
    let r = c.get("/map/BS?level=village&metric=rate").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.matches("class=\"mark area\"").count(), 871);
    let r = c.get("/map/BS?level=county").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("level"));

    let mut c = Client::new(minyi_web::router(app.clone()));
    c.sign_in(&county.username, &county.password).await;
    let r = c.get(&format!("/map/{}", county.unit_code)).await;
    assert_eq!(r.status, StatusCode::OK);
    let n = r.body.matches("class=\"mark area\"").count();
    assert!(n > 0 && n < 72, "a county's townships only: {n}");
    assert_eq!(c.get("/map/BS").await.status, StatusCode::NOT_FOUND);
    db.drop_db().await;
}

/// Whatever residents type is text, never markup: HTML and script in an opinion's text and
/// contact details come back escaped on every page that shows them (and the CSP would
/// refuse an inline script even if one slipped through).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn residents_markup_is_always_escaped() {
    let db = TestDb::sqlite();
    let app = app_with_demo(&db).await;
    let accounts = minyi_app::demo::create_accounts(&app, chrono::Utc::now())
        .await
        .unwrap();
    let city = accounts.iter().find(|a| a.username == "demo_city").unwrap();
    let router = minyi_web::router(app.clone());
    let mut resident = Client::from(router.clone(), "198.51.100.9:1");
    let form = resident.get("/report").await;
    let csrf = form.csrf().unwrap();
    let evil = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
    let r = resident
        .post_form(
            "/report",
            &[
                ("csrf", &csrf),
                ("text", &format!("路灯坏了 {evil}")),
                ("address", &format!("保山市{evil}")),
                ("submission", "xss-1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let i = r.body.find("data-tracking-code>").unwrap() + "data-tracking-code>".len();
    let code = r.body[i..i + 11].to_owned();
    let mut c = Client::new(router);
    c.sign_in(&city.username, &city.password).await;
    for uri in [
        format!("/opinions/{code}"),
        "/units/BS/opinions?sort=received&dir=desc".to_owned(),
        format!("/track?code={code}"),
    ] {
        let page = c.get(&uri).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}");
        assert!(!page.body.contains("<script>alert"), "{uri} echoes markup");
        assert!(!page.body.contains("<img src=x"), "{uri} echoes markup");
        if uri.starts_with("/opinions/") {
            assert!(
                page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{}",
                page.body
            );
        }
    }
    let csp = c.get("/track").await.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    db.drop_db().await;
}

/// Through the pages: the county triages and assigns, the station signs off and answers,
/// the resident reads the answer and rates it on the tracking page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handling_through_the_pages() {
    let db = TestDb::sqlite();
    let app = app_with_demo(&db).await;
    let accounts = minyi_app::demo::create_accounts(&app, chrono::Utc::now())
        .await
        .unwrap();
    let acct = |n: &str| accounts.iter().find(|a| a.username == n).unwrap().clone();
    let (county, station) = (acct("demo_county"), acct("demo_station"));
    let station_unit = app
        .store
        .unit_by_code(&station.unit_code)
        .await
        .unwrap()
        .unwrap();
    let area = app
        .store
        .areas()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.station_id == Some(station_unit.id))
        .unwrap();
    let router = minyi_web::router(app.clone());
    let mut resident = Client::from(router.clone(), "198.51.100.20:1");
    let csrf = resident.get("/report").await.csrf().unwrap();
    let r = resident
        .post_form(
            "/report",
            &[
                ("csrf", &csrf),
                ("text", "路口红绿灯坏了"),
                ("area", area.code.as_str()),
                ("submission", "handling-1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let i = r.body.find("data-tracking-code>").unwrap() + "data-tracking-code>".len();
    let code = r.body[i..i + 11].to_owned();
    let page = format!("/opinions/{code}");
    let act = format!("/opinions/{code}/act");

    let mut c = Client::new(router.clone());
    c.sign_in(&county.username, &county.password).await;
    let r = c.get(&page).await;
    assert!(r.body.contains("data-act=\"triage\""), "{}", r.body);
    let csrf = r.csrf().unwrap();
    let r = c
        .post_form(&act, &[("csrf", &csrf), ("act", "triage")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = c
        .post_form(
            &act,
            &[
                ("csrf", &csrf),
                ("act", "assign"),
                ("unit", &station.unit_code),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // An act the state no longer allows is a page that says so, not an error trace.
    let r = c
        .post_form(&act, &[("csrf", &csrf), ("act", "notify")])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("状态不允许"), "{}", r.body);

    let mut s = Client::new(router.clone());
    s.sign_in(&station.username, &station.password).await;
    let r = s.get(&page).await;
    assert!(r.body.contains("data-act=\"accept\""));
    let csrf = r.csrf().unwrap();
    for (a, extra) in [
        ("accept", None),
        ("respond", Some(("text", "已修复，谢谢反映。"))),
        ("notify", None),
    ] {
        let mut fields = vec![("csrf", csrf.as_str()), ("act", a)];
        if let Some(e) = extra {
            fields.push(e);
        }
        let r = s.post_form(&act, &fields).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{a}: {}", r.body);
    }
    let r = s.get(&page).await;
    assert!(r.body.contains("已修复，谢谢反映。") && r.body.contains("已回告"));

    // The resident reads the answer and rates it with the tracking code.
    let r = resident.get(&format!("/track?code={code}")).await;
    assert!(r.body.contains("已修复，谢谢反映。") && r.body.contains("/track/verdict"));
    let csrf = r.csrf().unwrap();
    let r = resident
        .post_form(
            "/track/verdict",
            &[("csrf", &csrf), ("code", &code), ("verdict", "satisfied")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = resident.get(r.location().unwrap()).await;
    assert!(r.body.contains("谢谢您的评价") && r.body.contains("data-state=\"closed\""));
    assert!(!r.body.contains("/track/verdict"), "rated once");
    db.drop_db().await;
}

/// A resident who leaves a phone number on the form is sent the "received" notice: one
/// message in the outbox, addressed by ciphertext, naming the tracking code — and a double
/// submit of the same form sends nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_notifies_a_resident_who_left_a_number() {
    let db = TestDb::sqlite();
    let app = app_with_demo(&db).await;
    let router = minyi_web::router(app.clone());
    let mut resident = Client::from(router, "198.51.100.30:1");
    let csrf = resident.get("/report").await.csrf().unwrap();
    let fields = [
        ("csrf", csrf.as_str()),
        ("text", "楼下夜市太吵"),
        ("phone", "13955556666"),
        ("submission", "notify-1"),
    ];
    let first = resident.post_form("/report", &fields).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = resident.post_form("/report", &fields).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "the same submission is the same matter"
    );
    let queued = app
        .store
        .claim_outbox(chrono::Utc::now(), chrono::Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    let m = &queued[0];
    assert_eq!(m.template, "received");
    let i = first.body.find("data-tracking-code>").unwrap() + "data-tracking-code>".len();
    assert!(m.body.contains(&first.body[i..i + 11]), "{}", m.body);
    assert!(!m.recipient_enc.contains("13955556666") && !m.body.contains("13955556666"));
    db.drop_db().await;
}
