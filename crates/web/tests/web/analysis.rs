//! The analysis workspaces through HTTP on both backends: a county analyst's queue,
//! confirm, relabel (re-routed, previous labels kept), merge of two chosen matters and
//! escalation; the city's decision and joint assignment; the liaison's reply; another
//! county's analyst gets 404 for every action; the corrections export reads back as
//! training data with the phone number masked.

use axum::http::StatusCode;
use minyi_app::App;
use minyi_app::auth::Operator;
use minyi_app::intake::{Submission, submit};
use minyi_core::Code;
use minyi_core::access::Role;
use minyi_core::opinion::{Escalation, OpinionState, OpinionText};
use minyi_core::org::{AreaKind, NewArea, NewUnit, UnitKind};
use minyi_core::taxonomy::{Category, Channel, DepartmentKind};
use minyi_store::OpinionRow;
use minyi_store::testing::TestDb;

use crate::{Client, open_app};

const PASSWORD: &str = "analysis pages passphrase";

async fn city(app: &App) {
    let code = |s: &str| Code::parse(s).unwrap();
    let unit = |c: &str, kind, parent: Option<&str>, dept: Option<DepartmentKind>| NewUnit {
        code: code(c),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(code),
        window: None,
        department: dept,
        synthetic: false,
    };
    app.store
        .insert_units(&[
            unit("Z", UnitKind::CityBureau, None, None),
            unit("Z-C1", UnitKind::CountyBureau, Some("Z"), None),
            unit("Z-C2", UnitKind::CountyBureau, Some("Z"), None),
            unit("Z-C1-S", UnitKind::Station, Some("Z-C1"), None),
            unit("Z-C2-S", UnitKind::Station, Some("Z-C2"), None),
            unit(
                "Z-D-LAB",
                UnitKind::Department,
                Some("Z"),
                Some(DepartmentKind::Labour),
            ),
            unit(
                "Z-D-HEALTH",
                UnitKind::Department,
                Some("Z"),
                Some(DepartmentKind::Health),
            ),
        ])
        .await
        .unwrap();
    let area = |c: &str, kind, parent: Option<&str>, station: Option<&str>| NewArea {
        code: code(c),
        kind,
        name: format!("地{c}"),
        parent: parent.map(code),
        station: station.map(code),
        population: 1000,
        centre: None,
        synthetic: false,
    };
    app.store
        .insert_areas(&[
            area("ZA", AreaKind::County, None, None),
            area("ZA-1", AreaKind::Township, Some("ZA"), Some("Z-C1-S")),
            area("ZA-2", AreaKind::Township, Some("ZA"), Some("Z-C2-S")),
        ])
        .await
        .unwrap();
    for (name, role, at) in [
        ("z_c1", Role::CountyAnalyst, "Z-C1"),
        ("z_c2", Role::CountyAnalyst, "Z-C2"),
        ("z_city", Role::CityAnalyst, "Z"),
        ("z_lab", Role::DepartmentLiaison, "Z-D-LAB"),
    ] {
        minyi_app::auth::create_account(
            app,
            Operator::Cli,
            name,
            "测试",
            role,
            at,
            PASSWORD,
            false,
            false,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    }
}

async fn receive(app: &App, area: &str, text: &str) -> OpinionRow {
    let r = submit(
        app,
        Submission {
            channel: Channel::WebForm,
            text: OpinionText::parse(text).unwrap(),
            category: None,
            area_code: Some(area.into()),
            client_key: None,
            contact: Default::default(),
            limit_to_units: None,
        },
        "resident",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    app.store.opinion(r.id).await.unwrap().unwrap()
}

/// A form post with the session's CSRF token, as the page's own form sends it.
async fn post(c: &mut Client, uri: &str, fields: &[(&str, &str)]) -> crate::Resp {
    let csrf = c.csrf().await;
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    c.post_form(uri, &all).await
}

async fn signed(app: &App, name: &str) -> Client {
    let mut c = Client::new(minyi_web::router(app.clone()));
    c.sign_in(name, PASSWORD).await;
    c
}

async fn workspaces(db: TestDb) {
    let app = open_app(&db).await;
    city(&app).await;
    let wages = receive(&app, "ZA-1", "老板拖欠工资三个月不给，我的电话13912345678").await;
    let lamp = receive(&app, "ZA-1", "小区门口路灯坏了一个月，晚上很黑，怕出事").await;
    let lamp2 = receive(&app, "ZA-1", "小区门口的路灯坏了，晚上黑乎乎的").await;
    let far = receive(&app, "ZA-2", "村里有人晚上赌博，声音很大").await;
    let code = |o: &OpinionRow| o.tracking_code.as_str().to_owned();
    let mut c1 = signed(&app, "z_c1").await;
    let mut c2 = signed(&app, "z_c2").await;
    let mut city = signed(&app, "z_city").await;
    let mut lab = signed(&app, "z_lab").await;

    // The queue: the own county's matters only.
    let page = c1.get("/analysis").await;
    assert_eq!(page.status, StatusCode::OK);
    for o in [&wages, &lamp, &lamp2] {
        assert!(page.body.contains(&code(o)), "{}", code(o));
    }
    assert!(!page.body.contains(&code(&far)));
    assert!(c2.get("/analysis").await.body.contains(&code(&far)));
    assert_eq!(
        c1.get("/analysis?county=Z-C2").await.status,
        StatusCode::NOT_FOUND
    );
    let picked = city.get("/analysis?county=Z-C2").await;
    assert_eq!(picked.status, StatusCode::OK);
    assert!(picked.body.contains(&code(&far)) && !picked.body.contains(&code(&lamp)));

    // Another county's analyst: 404 for every action on this county's matter.
    let far_code = code(&far);
    for (action, fields) in [
        ("confirm", vec![]),
        (
            "relabel",
            vec![
                ("category", "traffic"),
                ("sentiment", "neutral"),
                ("urgency", "normal"),
            ],
        ),
        ("escalate", vec![("reason", "越权上报")]),
        ("merge", vec![("primary", far_code.as_str())]),
    ] {
        let r = post(
            &mut c2,
            &format!("/analysis/opinions/{}/{action}", code(&lamp)),
            &fields,
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{action}");
    }

    // Confirm: the matter leaves the queue, the labels are kept as they were.
    let r = post(
        &mut c1,
        &format!("/analysis/opinions/{}/confirm", code(&lamp)),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = c1.get("/analysis").await;
    assert!(
        !page
            .body
            .contains(&format!("data-opinion=\"{}\"", code(&lamp)))
    );
    assert_eq!(
        app.store.labels_of(lamp.id).await.unwrap()[0].action,
        "confirm"
    );

    // Relabel: a non-police wage matter made a police matter loses its department; the
    // previous labels are stored; unknown codes are refused with 400.
    assert_eq!(wages.category, Category::NonPolice);
    assert!(wages.department_id.is_some());
    let bad = post(
        &mut c1,
        &format!("/analysis/opinions/{}/relabel", code(&wages)),
        &[
            ("category", "nonsense"),
            ("sentiment", "neutral"),
            ("urgency", "normal"),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let r = post(
        &mut c1,
        &format!("/analysis/opinions/{}/relabel", code(&wages)),
        &[
            ("category", "fraud"),
            ("sentiment", "negative"),
            ("urgency", "normal"),
            ("department", ""),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let now = app.store.opinion(wages.id).await.unwrap().unwrap();
    assert_eq!(
        (now.category, now.department_id, now.department),
        (Category::Fraud, None, None)
    );
    let labels = app.store.labels_of(wages.id).await.unwrap();
    assert_eq!(labels[0].previous.category, Category::NonPolice);
    assert_eq!(labels[0].actor, "user:z_c1");
    // And back to non-police labour: routed to the labour department again.
    let r = post(
        &mut c1,
        &format!("/analysis/opinions/{}/relabel", code(&wages)),
        &[
            ("category", "non_police"),
            ("sentiment", "negative"),
            ("urgency", "normal"),
            ("department", "labour"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let lab_id = app.store.unit_by_code("Z-D-LAB").await.unwrap().unwrap().id;
    assert_eq!(
        app.store
            .opinion(wages.id)
            .await
            .unwrap()
            .unwrap()
            .department_id,
        Some(lab_id)
    );
    // The same labels again: a refusal saying so.
    let same = post(
        &mut c1,
        &format!("/analysis/opinions/{}/relabel", code(&wages)),
        &[
            ("category", "non_police"),
            ("sentiment", "negative"),
            ("urgency", "normal"),
            ("department", "labour"),
        ],
    )
    .await;
    assert_eq!(same.status, StatusCode::CONFLICT);

    // Merge two chosen matters: the second lamp into the first.
    let r = post(
        &mut c1,
        &format!("/analysis/opinions/{}/merge", code(&lamp2)),
        &[("primary", &code(&lamp))],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let merged = app.store.opinion(lamp2.id).await.unwrap().unwrap();
    assert_eq!(
        (merged.state, merged.merged_into),
        (OpinionState::Merged, Some(lamp.id))
    );

    // Escalate the wage matter; twice is refused.
    let path = format!("/analysis/opinions/{}/escalate", code(&wages));
    let short = post(&mut c1, &path, &[("reason", "x")]).await;
    assert_eq!(short.status, StatusCode::CONFLICT);
    let r = post(
        &mut c1,
        &path,
        &[("reason", "涉及多名务工人员，可能群体上访")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        post(&mut c1, &path, &[("reason", "再次上报")]).await.status,
        StatusCode::CONFLICT
    );
    assert!(
        app.store
            .opinion(wages.id)
            .await
            .unwrap()
            .unwrap()
            .key_opinion
    );

    // The city sees it; the other county does not; a county analyst cannot decide.
    let page = city.get("/analysis/city").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!(
        "data-opinion=\"{}\" data-state=\"pending\"",
        code(&wages)
    )));
    assert!(!c2.get("/analysis/city").await.body.contains(&code(&wages)));
    let decide = format!("/analysis/opinions/{}/decide", code(&wages));
    assert_eq!(
        post(&mut c1, &decide, &[("decision", "accept")])
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        post(&mut c2, &decide, &[("decision", "accept")])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = post(
        &mut city,
        &decide,
        &[("decision", "accept"), ("note", "市局牵头")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.store
            .opinion(wages.id)
            .await
            .unwrap()
            .unwrap()
            .escalation,
        Escalation::City
    );
    assert_eq!(
        post(
            &mut city,
            &decide,
            &[("decision", "return"), ("note", "再议")]
        )
        .await
        .status,
        StatusCode::CONFLICT
    );

    // Joint assignment to two departments; each sees its part; the liaison replies once.
    let assign = format!("/analysis/opinions/{}/assign", code(&wages));
    assert_eq!(
        post(&mut city, &assign, &[("note", "请联合处置")])
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        post(
            &mut c1,
            &assign,
            &[("department.Z-D-LAB", "1"), ("note", "请联合处置")]
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    let r = post(
        &mut city,
        &assign,
        &[
            ("department.Z-D-LAB", "1"),
            ("department.Z-D-HEALTH", "1"),
            ("note", "请人社牵头，卫健配合"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(app.store.joint_of_opinion(wages.id).await.unwrap().len(), 2);
    let q = lab.get("/analysis/joint").await;
    assert!(q.body.contains(&format!(
        "data-opinion=\"{}\" data-reply-state=\"pending\"",
        code(&wages)
    )));
    let reply = format!("/analysis/opinions/{}/reply", code(&wages));
    assert_eq!(
        post(&mut lab, &reply, &[("reply", "已约谈企业负责人")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        post(&mut lab, &reply, &[("reply", "again")]).await.status,
        StatusCode::CONFLICT
    );
    // The liaison has no part in the lamp matter and does not see it.
    assert_eq!(
        post(
            &mut lab,
            &format!("/analysis/opinions/{}/reply", code(&lamp)),
            &[("reply", "无关回复")]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let page = city.get("/analysis/city").await;
    assert!(page.body.contains("data-reply-state=\"replied\""));
    assert!(page.body.contains("data-reply-state=\"pending\""));

    // The corrections export: the latest relabel, phone masked, read back by the trainer.
    let ex = minyi_app::analysis::corrections(&app).await.unwrap();
    assert_eq!(ex.len(), 1);
    let lines: String = ex
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    assert!(!lines.contains("13912345678"), "{lines}");
    let back = minyi_text::parse_jsonl(&lines).unwrap();
    assert_eq!(back, ex);
    assert_eq!(back[0].category, minyi_text::Category::NonPolice);
    assert!(back[0].source.starts_with("analyst_correction:"));
    app.store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysis_workspaces_sqlite() {
    workspaces(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysis_workspaces_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    workspaces(db).await;
}
