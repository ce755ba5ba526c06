//! Briefing pages through HTTP on the small demo city, both backends: a county analyst
//! drafts, edits (text escaped on the page) and publishes; edits after publishing are
//! refused (409); leaders read only published versions; the print view carries the A4
//! stylesheet and SVG charts; the DOCX download unzips to well-formed XML holding every
//! section; other counties' analysts, stations and foreign ids get 404.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use minyi_app::auth::Operator;
use minyi_core::access::Role;
use minyi_store::testing::TestDb;
use tower::ServiceExt;

use crate::{Client, app_with_demo};

const PASSWORD: &str = "briefing pages passphrase";

/// The raw bytes of a GET (the client's `Resp` holds text).
async fn get_bytes(c: &Client, uri: &str) -> (StatusCode, header::HeaderMap, Vec<u8>) {
    let cookies = c
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut req = Request::get(uri)
        .header(header::COOKIE, cookies)
        .body(Body::empty())
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(c.ip));
    let resp = c.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

/// Checks that `xml` parses to the end with matching tags, and returns its text content.
fn well_formed_text(xml: &str) -> String {
    let mut r = quick_xml::Reader::from_str(xml);
    r.config_mut().check_end_names = true;
    let mut text = String::new();
    let mut depth = 0i64;
    loop {
        match r.read_event() {
            Ok(quick_xml::events::Event::Start(_)) => depth += 1,
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Text(t)) => {
                text.push_str(&t.xml10_content());
            }
            Ok(quick_xml::events::Event::GeneralRef(g)) => {
                // Entity references in text: the five XML ones are all we write.
                let name: &str = &g;
                text.push_str(match name {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("unexpected entity &{other};"),
                });
            }
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "document.xml is not well-formed at {}: {e}",
                r.buffer_position()
            ),
        }
    }
    assert_eq!(depth, 0, "unbalanced elements");
    text
}

async fn client_for(app: &minyi_app::App, user: &str, password: &str, ip: &str) -> Client {
    let mut c = Client::from(minyi_web::router(app.clone()), ip);
    c.sign_in(user, password).await;
    c
}

async fn briefing_story(db: TestDb) {
    let app = app_with_demo(&db).await;
    let now = chrono::Utc::now();
    let accounts = minyi_app::demo::create_accounts(&app, now).await.unwrap();
    let pw = |name: &str| {
        accounts
            .iter()
            .find(|a| a.username == name)
            .map(|a| (a.password.clone(), a.unit_code.clone()))
            .unwrap()
    };
    let (county_pw, county) = pw("demo_county");
    minyi_app::auth::create_account(
        &app,
        Operator::Cli,
        "other_county",
        "邻县研判员",
        Role::CountyAnalyst,
        "BS-SD",
        PASSWORD,
        false,
        true,
        now,
    )
    .await
    .unwrap();
    assert_ne!(county, "BS-SD");

    let mut analyst = client_for(&app, "demo_county", &county_pw, "198.51.100.21:4000").await;
    let r = analyst.get("/briefings").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("action=\"/briefings\"") && r.body.contains("研判报告"));
    let csrf = r.csrf().unwrap();

    // Drafting: another unit's (the city) is 404, a bad period says why, its own works.
    let r = analyst
        .post_form(
            "/briefings",
            &[("csrf", &csrf), ("unit", "BS"), ("period", "2026-11")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = analyst
        .post_form(
            "/briefings",
            &[("csrf", &csrf), ("unit", &county), ("period", "2026-13")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("2026-13"), "{}", r.body);
    let r = analyst
        .post_form(
            "/briefings",
            &[("csrf", &csrf), ("unit", &county), ("period", "2026-11")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = r.location().unwrap().to_owned();
    let id: i64 = page.trim_start_matches("/briefings/").parse().unwrap();

    let r = analyst.get(&page).await;
    assert_eq!(r.status, StatusCode::OK);
    for kind in [
        "headline",
        "top_issues",
        "trends",
        "hotspots",
        "key_opinions",
        "departments",
        "summary",
    ] {
        assert!(
            r.body.contains(&format!("data-kind=\"{kind}\"")),
            "{kind} missing"
        );
    }
    assert!(
        r.body.contains("<textarea name=\"s6\""),
        "the editor has the form"
    );
    assert!(r.body.contains("<svg"), "charts on the page");
    assert!(!r.body.contains("13912345678"));
    let csrf = r.csrf().unwrap();

    let edited = "本县民意总体平稳。<script>alert(1)</script>\n建议加强夜间巡逻。";
    let r = analyst
        .post_form(
            &format!("/briefings/{id}/edit"),
            &[("csrf", &csrf), ("revision", "0"), ("s6", edited)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = analyst.get(&page).await;
    assert!(
        r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            && !r.body.contains("<script>alert")
    );
    // A stale revision is refused and says why.
    let r = analyst
        .post_form(
            &format!("/briefings/{id}/edit"),
            &[("csrf", &csrf), ("revision", "0"), ("s6", "旧版本上的修改")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("刷新"), "{}", r.body);

    // Leaders do not see drafts.
    let mut leader = client_for(
        &app,
        "demo_leader",
        &pw("demo_leader").0,
        "198.51.100.22:4000",
    )
    .await;
    assert_eq!(leader.get(&page).await.status, StatusCode::NOT_FOUND);
    assert!(
        !leader
            .get("/briefings")
            .await
            .body
            .contains(&format!("data-briefing=\"{id}\""))
    );

    let r = analyst
        .post_form(
            &format!("/briefings/{id}/publish"),
            &[("csrf", &csrf), ("revision", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = analyst
        .post_form(
            &format!("/briefings/{id}/edit"),
            &[("csrf", &csrf), ("revision", "2"), ("s6", "发布后的修改")],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "published briefings are frozen"
    );
    assert!(!analyst.get(&page).await.body.contains("<textarea"));

    // Leaders read it, print it and download it.
    let r = leader.get("/briefings").await;
    assert!(
        r.body.contains(&format!("data-briefing=\"{id}\"")),
        "{}",
        r.body
    );
    let r = leader.get(&page).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("已发布") && !r.body.contains("<textarea"));
    let r = leader.get(&format!("/briefings/{id}/print")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("/assets/briefing-print.css") && r.body.contains("<svg"));
    assert!(r.body.contains("一、总体情况") && r.body.contains("建议加强夜间巡逻"));
    let css = leader.get("/assets/briefing-print.css").await;
    assert!(css.body.contains("size: A4"));

    let (status, headers, bytes) = get_bytes(&leader, &format!("/briefings/{id}.docx")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    );
    assert!(
        headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains(".docx")
    );
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    for part in [
        "[Content_Types].xml",
        "_rels/.rels",
        "word/_rels/document.xml.rels",
        "word/styles.xml",
    ] {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut z.by_name(part).unwrap(), &mut s).unwrap();
        well_formed_text(&s);
    }
    let mut doc = String::new();
    std::io::Read::read_to_string(&mut z.by_name("word/document.xml").unwrap(), &mut doc).unwrap();
    let text = well_formed_text(&doc);
    for heading in [
        "一、总体情况",
        "二、突出问题",
        "三、变化趋势",
        "四、聚集热点与趋势预警",
        "五、重点民意及回应",
        "六、非警务事项",
        "七、研判意见",
    ] {
        assert!(text.contains(heading), "{heading} missing from the DOCX");
    }
    assert!(text.contains("民意研判报告") && text.contains("<script>alert(1)</script>"));
    assert!(doc.contains("&lt;script&gt;"), "escaped in the XML");
    assert!(doc.contains("<w:tbl>"), "figures as tables");

    // Scope: a station, another county's analyst and a foreign id see nothing.
    let mut station = client_for(
        &app,
        "demo_station",
        &pw("demo_station").0,
        "198.51.100.23:4000",
    )
    .await;
    assert_eq!(station.get(&page).await.status, StatusCode::NOT_FOUND);
    let mut other = client_for(&app, "other_county", PASSWORD, "198.51.100.24:4000").await;
    assert_eq!(other.get(&page).await.status, StatusCode::NOT_FOUND);
    let (s, _, _) = get_bytes(&other, &format!("/briefings/{id}.docx")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let ocsrf = other.csrf().await;
    let r = other
        .post_form(
            &format!("/briefings/{id}/publish"),
            &[("csrf", &ocsrf), ("revision", "2")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        leader.get("/briefings/999999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        leader.get("/briefings/abc.pdf").await.status,
        StatusCode::NOT_FOUND
    );
    // The city analyst sees the county's briefing (it is in the city's subtree).
    let mut city = client_for(&app, "demo_city", &pw("demo_city").0, "198.51.100.25:4000").await;
    assert_eq!(city.get(&page).await.status, StatusCode::OK);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn briefing_pages_sqlite() {
    briefing_story(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn briefing_pages_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    briefing_story(db).await;
}
