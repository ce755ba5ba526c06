//! Survey pages over HTTP: the wave list, the city page with the ranking drawn as
//! intervals, the estimates download without NaN, the station block on a station's page
//! (a station account sees its own station only), and the interviewer form (survey
//! agency only, CSRF like every form, a double submit stored once, bad answers named).

use axum::http::StatusCode;
use minyi_core::access::Role;
use minyi_store::testing::TestDb;

use crate::{Client, app_with_demo};

async fn setup(db: &TestDb) -> (minyi_app::App, Vec<minyi_app::demo::DemoAccount>) {
    let app = app_with_demo(db).await;
    // The small test demo has no survey wave; a smaller synthetic one is drawn here.
    minyi_app::surveys::load_demo_wave(&app, 3, 30)
        .await
        .unwrap();
    let accounts = minyi_app::demo::create_accounts(&app, chrono::Utc::now())
        .await
        .unwrap();
    (app, accounts)
}

fn acct(accounts: &[minyi_app::demo::DemoAccount], role: Role) -> &minyi_app::demo::DemoAccount {
    accounts.iter().find(|a| a.role == role).unwrap()
}

const WAVE: &str = minyi_app::surveys::DEMO_WAVE;

async fn post(c: &mut Client, f: Vec<(&'static str, String)>) -> crate::Resp {
    let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.post_form("/surveys/W-FORM/responses/new", &refs).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn city_page_station_block_and_scope() {
    let db = TestDb::sqlite();
    let (app, accounts) = setup(&db).await;
    let router = minyi_web::router(app.clone());
    let stations = minyi_app::surveys::stations(&app).await.unwrap();

    let city = acct(&accounts, Role::CityAnalyst);
    let mut c = Client::new(router.clone());
    c.sign_in(&city.username, &city.password).await;
    let list = c.get("/surveys").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body.contains(&format!("/surveys/{WAVE}")),
        "{}",
        list.body
    );
    let page = c.get(&format!("/surveys/{WAVE}")).await;
    assert_eq!(page.status, StatusCode::OK);
    // Three charts, one dot per station for direct and shrunk each, and the numbers.
    assert_eq!(page.body.matches("<svg").count(), 3);
    assert_eq!(
        page.body.matches("class=\"survey-shrunk\"").count(),
        3 * stations.len()
    );
    assert_eq!(
        page.body.matches("class=\"survey-direct\"").count(),
        3 * stations.len()
    );
    assert!(page.body.contains("survey-bottom3"));
    assert!(!page.body.contains("NaN") && !page.body.contains("style="));
    let csv = c.get(&format!("/surveys/{WAVE}/estimates.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.contains("station,name,county,indicator"));
    assert_eq!(csv.body.lines().count(), 1 + 3 * stations.len());
    assert!(!csv.body.to_lowercase().contains("nan"));
    let unit = c.get(&format!("/units/{}", stations[0].code)).await;
    assert!(
        unit.body.contains("class=\"survey-station\""),
        "{}",
        unit.body
    );
    assert_eq!(unit.body.matches("<tr data-indicator=").count(), 3);
    // The analyst does no fieldwork.
    assert_eq!(
        c.get(&format!("/surveys/{WAVE}/responses/new"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // A station account: its own station's row and block, nobody else's.
    let st = acct(&accounts, Role::StationStaff);
    let own = stations.iter().find(|s| s.code == st.unit_code).unwrap();
    let other = stations.iter().find(|s| s.code != st.unit_code).unwrap();
    let mut s = Client::from(router.clone(), "198.51.100.9:4000");
    s.sign_in(&st.username, &st.password).await;
    let page = s.get(&format!("/surveys/{WAVE}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(&format!("data-station=\"{}\"", own.code))
    );
    assert!(
        !page
            .body
            .contains(&format!("data-station=\"{}\"", other.code))
    );
    assert_eq!(page.body.matches("class=\"survey-shrunk\"").count(), 3);
    let csv = s.get(&format!("/surveys/{WAVE}/estimates.csv")).await;
    assert_eq!(csv.body.lines().count(), 1 + 3);
    assert!(!csv.body.contains(&other.code));
    let unit = s.get(&format!("/units/{}", own.code)).await;
    assert!(unit.body.contains("class=\"survey-station\""));
    assert_eq!(
        s.get(&format!("/units/{}", other.code)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get("/surveys/NO-SUCH-WAVE").await.status,
        StatusCode::NOT_FOUND
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interviewer_form_stores_once_and_names_bad_answers() {
    let db = TestDb::sqlite();
    let (app, accounts) = setup(&db).await;
    minyi_app::surveys::create_wave(
        &app,
        minyi_app::surveys::WaveInput {
            code: "W-FORM".into(),
            name: "录入测试".into(),
            period: "2026-Q4".into(),
            config: Default::default(),
            margins: None,
            synthetic: false,
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let router = minyi_web::router(app.clone());
    let station = minyi_app::surveys::stations(&app).await.unwrap()[0].clone();
    let agency = acct(&accounts, Role::SurveyAgency);
    let mut c = Client::new(router.clone());
    c.sign_in(&agency.username, &agency.password).await;
    let form = c.get("/surveys/W-FORM/responses/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.body.contains("<a href=\"/surveys\">"),
        "the agency's navigation"
    );
    let csrf = form.csrf().unwrap();
    assert!(form.body.contains(&format!("value=\"{}\"", station.code)));
    let fields = |csrf: &str, sex: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("submission", "sub-0001".to_owned()),
            ("station", station.code.clone()),
            ("mode", "face".to_owned()),
            ("age_band", "45-59".to_owned()),
            ("sex", sex.to_owned()),
            ("security", "4".to_owned()),
            ("satisfaction", "dont_know".to_owned()),
            ("chief", "picked".to_owned()),
            ("comment", "夜里巡逻可以再多一些".to_owned()),
        ]
    };
    // Without the page's token: refused, nothing stored.
    let r = post(&mut c, fields("forged", "m")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A bad sex code: the form again, the field named.
    let r = post(&mut c, fields(&csrf, "x")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("error-summary") && r.body.contains("href=\"#f-sex\""));
    let w = minyi_app::surveys::wave(&app, "W-FORM").await.unwrap();
    assert_eq!(app.store.response_count(w.row.id).await.unwrap(), 0);
    // Saved, and a double submit is stored once.
    for _ in 0..2 {
        let r = post(&mut c, fields(&csrf, "m")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let rows = app.store.responses(w.row.id).await.unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0].response;
    assert_eq!(r.interviewer, agency.username);
    assert_eq!(
        (r.mode.as_str(), r.satisfaction.as_str(), r.chief.as_str()),
        ("face", "dont_know", "picked")
    );
    // The comment became a survey opinion, with no contact.
    let o = app
        .store
        .opinion(r.opinion_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.channel, minyi_core::taxonomy::Channel::Survey);
    // The agency cannot read estimates; a station account cannot enter interviews.
    assert_eq!(c.get("/surveys/W-FORM").await.status, StatusCode::FORBIDDEN);
    let st = acct(&accounts, Role::StationStaff);
    let mut s = Client::from(router, "198.51.100.9:4000");
    s.sign_in(&st.username, &st.password).await;
    let token = s.csrf().await;
    let r = post(&mut s, fields(&token, "m")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    db.drop_db().await;
}
