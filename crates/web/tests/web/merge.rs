//! Triage and merge pages through HTTP: the matter page shows why it was classified and the
//! proposal with both texts (escaped) and the forms; the forms reject and accept with CSRF;
//! refusals say why with 409; the analyst's list empties; the resident of a merged
//! original follows the matter it joined on `/track` and through Open311.

use axum::http::StatusCode;
use minyi_app::App;
use minyi_app::auth::Operator;
use minyi_app::intake::{Submission, submit};
use minyi_core::Code;
use minyi_core::access::Role;
use minyi_core::opinion::{OpinionState, OpinionText};
use minyi_core::org::{AreaKind, NewArea, NewUnit, UnitKind};
use minyi_core::taxonomy::Channel;
use minyi_store::testing::TestDb;
use minyi_store::{OpinionRow, ProposalState};

use crate::{Client, open_app};

const PASSWORD: &str = "merge pages passphrase";

async fn city(app: &App) {
    let code = |s: &str| Code::parse(s).unwrap();
    let unit = |c: &str, kind, parent: Option<&str>| NewUnit {
        code: code(c),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(code),
        window: None,
        department: None,
        synthetic: false,
    };
    app.store
        .insert_units(&[
            unit("W", UnitKind::CityBureau, None),
            unit("W-C", UnitKind::CountyBureau, Some("W")),
            unit("W-C-S", UnitKind::Station, Some("W-C")),
        ])
        .await
        .unwrap();
    app.store
        .insert_areas(&[
            NewArea {
                code: code("WA"),
                kind: AreaKind::County,
                name: "西县".into(),
                parent: None,
                station: None,
                population: 1000,
                centre: None,
                synthetic: false,
            },
            NewArea {
                code: code("WA-1"),
                kind: AreaKind::Township,
                name: "西镇".into(),
                parent: Some(code("WA")),
                station: Some(code("W-C-S")),
                population: 1000,
                centre: None,
                synthetic: false,
            },
        ])
        .await
        .unwrap();
    for (name, role, at) in [
        ("w_analyst", Role::CountyAnalyst, "W-C"),
        ("w_station", Role::StationStaff, "W-C-S"),
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

async fn receive(app: &App, channel: Channel, text: &str) -> OpinionRow {
    let r = submit(
        app,
        Submission {
            channel,
            text: OpinionText::parse(text).unwrap(),
            category: None,
            area_code: Some("WA-1".into()),
            client_key: None,
            contact: Default::default(),
            limit_to_units: None,
        },
        "resident",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    // The server's sweep, run at once: proposals for what was stored.
    minyi_app::merge::sweep(app, chrono::Utc::now())
        .await
        .unwrap();
    app.store.opinion(r.id).await.unwrap().unwrap()
}

async fn merge_forms(db: TestDb) {
    let app = open_app(&db).await;
    city(&app).await;
    let first = receive(
        &app,
        Channel::Open311,
        "西镇中学门口早晚堵车，家长乱停车，<b>交警</b>也不来管",
    )
    .await;
    let second = receive(
        &app,
        Channel::WebForm,
        "西镇中学门口每天早晚都堵车，家长的车乱停，没有交警来管",
    )
    .await;
    let other = receive(
        &app,
        Channel::Sms,
        "西镇中学门口早晚堵车，家长乱停车，交警也不来",
    )
    .await;
    let props: Vec<_> = app
        .store
        .proposals_of(second.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.opinion_id == second.id)
        .collect();
    assert_eq!(props.len(), 1, "{props:?}");
    assert_eq!(props[0].candidate_id, first.id);
    let to_reject = app.store.proposals_of(other.id).await.unwrap();
    let to_reject = to_reject
        .iter()
        .find(|p| p.candidate_id == first.id)
        .expect("the copy is proposed against the first");

    let router = minyi_web::router(app.clone());
    let mut analyst = Client::new(router.clone());
    analyst.sign_in("w_analyst", PASSWORD).await;
    let dup_code = second.tracking_code.to_string();
    let page = analyst.get(&format!("/opinions/{dup_code}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("data-triage-source=\"rules\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("category=traffic("), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("data-proposal=\"{}\"", props[0].id))
    );
    assert!(page.body.contains(first.tracking_code.as_str()));
    assert!(
        page.body.contains("&lt;b&gt;交警&lt;/b&gt;"),
        "the other text, escaped"
    );
    assert!(!page.body.contains("<b>交警"));
    assert!(page.body.contains("name=\"decision\" value=\"accept\""));

    // The list shows both proposals; a station account sees the pair but no forms.
    let list = analyst.get("/merges").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body
            .contains(&format!("data-proposal=\"{}\"", props[0].id))
    );
    assert!(
        list.body
            .contains(&format!("data-proposal=\"{}\"", to_reject.id))
    );
    let mut station = Client::new(router.clone());
    station.sign_in("w_station", PASSWORD).await;
    let spage = station.get(&format!("/opinions/{dup_code}")).await;
    assert!(
        spage
            .body
            .contains(&format!("data-proposal=\"{}\"", props[0].id))
    );
    assert!(!spage.body.contains("name=\"decision\""));
    let csrf = station.csrf().await;
    let r = station
        .post_form(
            &format!("/opinions/{dup_code}/merge"),
            &[
                ("csrf", &csrf),
                ("proposal", &props[0].id.to_string()),
                ("decision", "accept"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // Without the CSRF token nothing happens.
    let r = analyst
        .post_form(
            &format!("/opinions/{dup_code}/merge"),
            &[
                ("proposal", &props[0].id.to_string()),
                ("decision", "accept"),
            ],
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert_eq!(
        app.store.opinion(second.id).await.unwrap().unwrap().state,
        OpinionState::Received
    );

    // Reject one, from the other matter's page; deciding it again is refused.
    let csrf = analyst.csrf().await;
    let other_code = other.tracking_code.to_string();
    let form = |id: i64, d: &'static str| (id.to_string(), d);
    let (id, d) = form(to_reject.id, "reject");
    let r = analyst
        .post_form(
            &format!("/opinions/{other_code}/merge"),
            &[("csrf", &csrf), ("proposal", &id), ("decision", d)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.location(),
        Some(format!("/opinions/{other_code}").as_str())
    );
    assert_eq!(
        app.store
            .merge_proposal(to_reject.id)
            .await
            .unwrap()
            .unwrap()
            .state,
        ProposalState::Rejected
    );
    let r = analyst
        .post_form(
            &format!("/opinions/{other_code}/merge"),
            &[("csrf", &csrf), ("proposal", &id), ("decision", d)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // A proposal that does not name the matter in the path is not decided through it.
    let (id, _) = form(props[0].id, "accept");
    let r = analyst
        .post_form(
            &format!("/opinions/{other_code}/merge"),
            &[("csrf", &csrf), ("proposal", &id), ("decision", "accept")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = analyst
        .post_form(
            &format!("/opinions/{dup_code}/merge"),
            &[("csrf", &csrf), ("proposal", &id), ("decision", "maybe")],
        )
        .await;
    assert!(r.status.is_client_error());

    // Accept the other.
    let r = analyst
        .post_form(
            &format!("/opinions/{dup_code}/merge"),
            &[("csrf", &csrf), ("proposal", &id), ("decision", "accept")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let merged = app.store.opinion(second.id).await.unwrap().unwrap();
    assert_eq!(merged.state, OpinionState::Merged);
    assert_eq!(merged.merged_into, Some(first.id));
    let list = analyst.get("/merges").await;
    assert!(!list.body.contains("data-proposal="), "{}", list.body);
    let page = analyst.get(&format!("/opinions/{dup_code}")).await;
    assert!(page.body.contains("data-state=\"accepted\""));

    // The resident of the merged original follows the primary's progress.
    let mut resident = Client::new(router.clone());
    let track = resident.get(&format!("/track?code={dup_code}")).await;
    assert_eq!(track.status, StatusCode::OK);
    assert!(
        track.body.contains("data-state=\"received\""),
        "{}",
        track.body
    );
    let o311 = resident
        .get(&format!("/open311/v2/requests/{dup_code}.json"))
        .await;
    assert_eq!(o311.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&o311.body).unwrap();
    assert_eq!(v[0]["status"], "open", "{}", o311.body);
    assert_eq!(v[0]["service_request_id"], dup_code.as_str());
    app.store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_forms_sqlite() {
    merge_forms(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_forms_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    merge_forms(db).await;
}
