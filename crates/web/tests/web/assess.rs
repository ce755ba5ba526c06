//! The assessment pages over HTTP, on SQLite and PostgreSQL: a run started from the form
//! on a small hand-computed scheme, the ranking listing every station with its rule
//! outcome, an explanation whose contributions add up to the score, what-if moving ranks
//! when weights change, sensitivity, the XLSX export read back with calamine, the
//! printable report, the rerun check, and permissions (station staff cannot start runs
//! and appeal only for their own station; a city analyst upholds the appeal and the new
//! run records what changed).

use std::io::Cursor;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use calamine::{Data, Reader, Xlsx};
use chrono::Utc;
use http_body_util::BodyExt;
use minyi_app::App;
use minyi_app::assess::Actor;
use minyi_app::auth::Operator;
use minyi_core::Code;
use minyi_core::access::Role;
use minyi_core::org::{NewUnit, UnitKind};
use minyi_store::testing::TestDb;
use tower::ServiceExt;

use crate::{Client, open_app};

const PASSWORD: &str = "assessment passphrase 1";

/// Two groups, 49/51, on imported metrics only, so every figure below is computed by
/// hand. Rules: top 1 merit without a guard; bottom 1 accountable only with
/// P(bottom 1) ≥ 0.8 — no standard errors are given, so the probability is unknown and
/// the outcome is "not distinguishable — review".
pub const SCHEME: &str = r#"
format = 1
id = "web_test"
version = "1"
period = "year"

[[group]]
id = "business_and_team"
weight = 0.49

[[group.indicator]]
id = "cases_solved"
source = "business.cases_solved"
weight = 0.5
direction = "higher"
normalisation = "min_max"

[[group.indicator]]
id = "team_building"
source = "team.building"
weight = 0.5
direction = "higher"
normalisation = "min_max"

[[group]]
id = "public_opinion"
weight = 0.51

[[group.indicator]]
id = "drug_control"
source = "business.drug_control"
weight = 1.0
direction = "higher"
normalisation = "min_max"

[[rule]]
id = "merit"
outcome = "merit"
top = 1

[[rule]]
id = "accountability"
outcome = "accountability"
bottom = 1
min_probability = 0.8
"#;

const STATIONS: [&str; 4] = ["AB-1-S1", "AB-1-S2", "AB-2-S1", "AB-2-S2"];

/// cases_solved 10/20/30/40 → 0, ⅓, ⅔, 1; team building 90/80/70/60 → 1, ⅔, ⅓, 0
/// (each station 24.5 points from the 49% group); drug control 5/1/3/2 → 1, 0, ½, ¼
/// (51, 0, 25.5, 12.75 points). Scores: S1 75.5, S2 24.5, S3 50, S4 37.25.
const METRICS: &str = "unit,metric,value\n\
    AB-1-S1,business.cases_solved,10\nAB-1-S2,business.cases_solved,20\n\
    AB-2-S1,business.cases_solved,30\nAB-2-S2,business.cases_solved,40\n\
    AB-1-S1,team.building,90\nAB-1-S2,team.building,80\n\
    AB-2-S1,team.building,70\nAB-2-S2,team.building,60\n\
    AB-1-S1,business.drug_control,5\nAB-1-S2,business.drug_control,1\n\
    AB-2-S1,business.drug_control,3\nAB-2-S2,business.drug_control,2\n";

async fn fixture(app: &App) {
    let u = |c: &str, kind, parent: Option<&str>| NewUnit {
        code: Code::parse(c).unwrap(),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(|p| Code::parse(p).unwrap()),
        window: None,
        department: None,
        synthetic: false,
    };
    app.store
        .insert_units(&[
            u("AB", UnitKind::CityBureau, None),
            u("AB-1", UnitKind::CountyBureau, Some("AB")),
            u("AB-2", UnitKind::CountyBureau, Some("AB")),
            u("AB-1-S1", UnitKind::Station, Some("AB-1")),
            u("AB-1-S2", UnitKind::Station, Some("AB-1")),
            u("AB-2-S1", UnitKind::Station, Some("AB-2")),
            u("AB-2-S2", UnitKind::Station, Some("AB-2")),
        ])
        .await
        .unwrap();
    for (name, role, unit) in [
        ("as_city", Role::CityAnalyst, "AB"),
        ("as_s1", Role::StationStaff, "AB-1-S1"),
    ] {
        minyi_app::auth::create_account(
            app,
            Operator::Cli,
            name,
            "考评测试",
            role,
            unit,
            PASSWORD,
            false,
            false,
            Utc::now(),
        )
        .await
        .unwrap();
    }
    let table = minyi_app::import::read_csv(METRICS.as_bytes()).unwrap();
    let report = minyi_app::assess::import_metrics_table(
        app,
        &table,
        "web-test.csv",
        "2026",
        Actor::Cli,
        Utc::now(),
        false,
    )
    .await
    .unwrap();
    assert!(report.stored.is_some(), "{:?}", report.rejected_lines());
}

/// GET with the client's cookies, keeping the body as bytes (a workbook is not text).
async fn get_bytes(c: &Client, uri: &str) -> (StatusCode, header::HeaderMap, Vec<u8>) {
    let mut req = Request::get(uri).body(Body::empty()).unwrap();
    let cookie = c
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    req.headers_mut()
        .insert(header::COOKIE, cookie.parse().unwrap());
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

/// The numbers in `<td class="num contribution">…</td>` cells, in page order.
fn contributions(body: &str) -> Vec<f64> {
    body.split("<td class=\"num contribution\">")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].parse::<f64>().unwrap())
        .collect()
}

/// The text of the element with `id`.
fn by_id<'a>(body: &'a str, id: &str) -> &'a str {
    let key = format!("id=\"{id}\">");
    let i = body.find(&key).unwrap_or_else(|| panic!("no #{id}")) + key.len();
    &body[i..i + body[i..].find('<').unwrap()]
}

/// The `<tr data-unit="CODE"…>…</tr>` row of a unit in the first table after `after`.
fn row<'a>(body: &'a str, after: &str, code: &str) -> &'a str {
    let start = body.find(after).unwrap_or_else(|| panic!("no {after}"));
    let b = &body[start..];
    let key = format!("<tr data-unit=\"{code}\"");
    let i = b.find(&key).unwrap_or_else(|| panic!("no row for {code}"));
    &b[i..i + b[i..].find("</tr>").unwrap()]
}

fn cells(sheet: &calamine::Range<Data>, r: usize) -> Vec<String> {
    sheet
        .rows()
        .nth(r)
        .unwrap()
        .iter()
        .map(|d| d.to_string())
        .collect()
}

async fn assess_story(db: TestDb) {
    let app = open_app(&db).await;
    fixture(&app).await;
    let router = minyi_web::router(app.clone());

    // ---- a station's staff: may look, may not start a run --------------------------
    let mut s1 = Client::new(router.clone());
    s1.sign_in("as_s1", PASSWORD).await;
    let r = s1.get("/assessment").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!r.body.contains("action=\"/assessment/runs\""));
    let csrf = s1.csrf().await;
    let r = s1
        .post_form(
            "/assessment/runs",
            &[("csrf", &csrf), ("period", "2026"), ("scheme", SCHEME)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(minyi_app::assess::list(&app).await.unwrap().is_empty());

    // ---- the city analyst starts a run from the form --------------------------------
    let mut city = Client::from(router.clone(), "198.51.100.8:40000");
    city.sign_in("as_city", PASSWORD).await;
    let r = city.get("/assessment").await;
    assert!(r.body.contains("action=\"/assessment/runs\""));
    let csrf = city.csrf().await;
    // A period of the wrong shape is refused with the reason, and nothing is stored.
    let r = city
        .post_form(
            "/assessment/runs",
            &[("csrf", &csrf), ("period", "2026-Q1"), ("scheme", SCHEME)],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(minyi_app::assess::list(&app).await.unwrap().is_empty());
    let r = city
        .post_form(
            "/assessment/runs",
            &[("csrf", &csrf), ("period", "2026"), ("scheme", SCHEME)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let run_path = r.location().unwrap().to_owned();
    let run_id: i64 = run_path
        .strip_prefix("/assessment/runs/")
        .unwrap()
        .parse()
        .unwrap();

    // ---- the ranking lists every station, in order, with outcomes in words ----------
    let r = city.get(&run_path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let order: Vec<usize> = ["AB-1-S1", "AB-2-S1", "AB-2-S2", "AB-1-S2"]
        .iter()
        .map(|c| {
            r.body
                .find(&format!("<tr data-unit=\"{c}\""))
                .unwrap_or_else(|| panic!("{c} missing from the ranking"))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "ranked by score");
    let top = row(&r.body, "assess-ranking", "AB-1-S1");
    assert!(top.contains("75.50") && top.contains("记功"), "{top}");
    assert!(
        top.contains("24.50") && top.contains("51.00"),
        "group scores: {top}"
    );
    let bottom = row(&r.body, "assess-ranking", "AB-1-S2");
    assert!(bottom.contains("24.50"), "{bottom}");
    assert!(
        bottom.contains("无法区分，需人工复核") && bottom.contains("无法检验门槛"),
        "the guard cannot be checked without rank uncertainty: {bottom}"
    );
    let run = minyi_app::assess::get(&app, run_id).await.unwrap();
    assert!(r.body.contains(&run.record.input_hash));
    assert!(r.body.contains(&run.record.result_hash));
    // The index shows the latest run's ranking too.
    let r = city.get("/assessment").await;
    for code in STATIONS {
        assert!(
            r.body.contains(&format!("<tr data-unit=\"{code}\"")),
            "{code}"
        );
    }
    // English on request.
    let r = city.get(&format!("{run_path}?lang=en")).await;
    assert!(
        r.body.contains("Merit citation")
            && r.body
                .contains("Accountability: not distinguishable — review")
    );
    city.get("/assessment?lang=zh-CN").await;

    // ---- the explanation: contributions add up to the score -------------------------
    let r = city.get(&format!("{run_path}/units/AB-2-S2")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let parts = contributions(&r.body);
    assert_eq!(parts.len(), 3, "one line per indicator");
    let sum: f64 = parts.iter().sum();
    assert!((sum - 37.25).abs() < 1e-3, "{parts:?}");
    assert_eq!(by_id(&r.body, "base-score"), "37.25");
    assert_eq!(by_id(&r.body, "final-score"), "37.25");
    assert!((by_id(&r.body, "contribution-sum").parse::<f64>().unwrap() - 37.25).abs() < 1e-3);
    // Raw values with their drill-down and the normalised value: drug control 2 → ¼.
    assert!(r.body.contains("data-indicator=\"drug_control\""));
    assert!(r.body.contains("0.2500"), "normalised value shown");

    // ---- what-if: weights unchanged move nothing; new weights move ranks -----------
    let r = city.get(&format!("{run_path}/whatif")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .contains("name=\"g.business_and_team\" value=\"0.49\"")
    );
    assert!(r.body.contains("name=\"i.drug_control\" value=\"1\""));
    let r = city
        .get(&format!("{run_path}/whatif?go=1&renormalise=1"))
        .await;
    assert!(r.body.contains("名次变化的单位 0 个"), "{}", r.body);
    // All of the business group on cases solved: S1 51, S2 16.33, S3 58.17, S4 61.75.
    let r = city
        .get(&format!(
            "{run_path}/whatif?go=1&renormalise=1&i.cases_solved=1&i.team_building=0"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let moved = row(&r.body, "assess-moves", "AB-1-S1");
    assert!(moved.contains("class=\"moved\""), "{moved}");
    assert!(moved.contains("<td>1</td><td>3</td><td>↓2</td>"), "{moved}");
    let moved = row(&r.body, "assess-moves", "AB-2-S2");
    assert!(moved.contains("<td>3</td><td>1</td><td>↑2</td>"), "{moved}");
    assert!(r.body.contains("61.75"));
    // Weights that no longer add up, without rescaling: refused, saying how to fix it.
    let r = city
        .get(&format!("{run_path}/whatif?go=1&g.business_and_team=0.3"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("权重合计为 0.81"), "{}", r.body);
    // A weight that is not a number is refused on the page.
    let r = city
        .get(&format!("{run_path}/whatif?go=1&i.cases_solved=lots"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("lots"));
    // Nothing was stored by the what-ifs.
    assert_eq!(minyi_app::assess::list(&app).await.unwrap().len(), 1);

    // ---- sensitivity: one row per unit, reproducible --------------------------------
    let a = city.get(&format!("{run_path}/sensitivity")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    for code in STATIONS {
        row(&a.body, "assess-sensitivity", code);
    }
    let b = city.get(&format!("{run_path}/sensitivity")).await;
    assert_eq!(a.body, b.body, "seeded, so the same page twice");

    // ---- XLSX export read back --------------------------------------------------------
    let (status, headers, bytes) = get_bytes(&city, &format!("{run_path}.xlsx")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(
        headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains(".xlsx")
    );
    let mut book = Xlsx::new(Cursor::new(bytes)).expect("a readable workbook");
    assert_eq!(book.sheet_names(), vec!["排名", "指标明细", "运行信息"]);
    let ranking = book.worksheet_range("排名").unwrap();
    let head = cells(&ranking, 0);
    assert_eq!(&head[..4], &["序号", "单位", "所属分局", "总分"]);
    assert_eq!(&head[4..6], &["业务与队伍建设", "民意"]);
    assert_eq!(&head[6..9], &["破案", "队伍建设", "禁毒工作"]);
    assert_eq!(&head[9..], &["名次", "名次区间", "考评结果"]);
    assert_eq!(ranking.height(), 1 + STATIONS.len(), "one row per unit");
    let first = cells(&ranking, 1);
    assert_eq!(first[1], "单位AB-1-S1");
    assert_eq!(first[2], "单位AB-1");
    assert_eq!(first[3], "75.5");
    assert_eq!(first[9], "1");
    assert!(first[11].contains("记功"));
    let detail = book.worksheet_range("指标明细").unwrap();
    assert_eq!(detail.height(), 1 + STATIONS.len() * 3);
    assert_eq!(&cells(&detail, 0)[..3], &["单位", "指标", "指标代码"]);
    let info = book.worksheet_range("运行信息").unwrap();
    let info_text: Vec<String> = (0..info.height())
        .map(|r| cells(&info, r).join("="))
        .collect();
    assert!(info_text.contains(&format!("结果哈希={}", run.record.result_hash)));
    assert!(info_text.contains(&format!("输入哈希={}", run.record.input_hash)));

    // ---- the printable report ---------------------------------------------------------
    let r = city.get(&format!("{run_path}/report")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("/assets/assess.css"));
    assert!(r.body.contains("<svg") && r.body.contains("class=\"assess-chart\""));
    for code in STATIONS {
        assert!(
            r.body.contains(&format!("<g data-unit=\"{code}\"")),
            "{code} in the chart"
        );
    }
    assert!(r.body.contains(&run.record.scheme_hash));
    assert!(r.body.contains("前 1 名：记功"));
    let css = city.get("/assets/assess.css").await;
    assert!(css.body.contains("size: A4"));

    // ---- rerun: reproduced byte for byte ----------------------------------------------
    let csrf = city.csrf().await;
    let r = city
        .post_form(&format!("{run_path}/rerun"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("data-identical=\"true\""));

    // ---- appeals: own station only ---------------------------------------------------
    let r = s1.get(&format!("{run_path}/units/AB-2-S1")).await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "another station's explanation"
    );
    let csrf = s1.csrf().await;
    let appeal = |code: &str| format!("{run_path}/units/{code}/appeal");
    let r = s1
        .post_form(
            &appeal("AB-2-S1"),
            &[
                ("csrf", &csrf),
                ("indicator", "drug_control"),
                ("value", "9"),
                ("reason", "不是本所"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = s1.get(&format!("{run_path}/units/AB-1-S2")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = s1.get(&format!("{run_path}/units/AB-1-S1")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("/units/AB-1-S1/appeal"), "the appeal form");
    let r = s1
        .post_form(
            &appeal("AB-1-S1"),
            &[
                ("csrf", &csrf),
                ("indicator", "drug_control"),
                ("value", "很多"),
                ("reason", "数字"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "not a number");
    let r = s1
        .post_form(
            &appeal("AB-1-S1"),
            &[
                ("csrf", &csrf),
                ("indicator", "cases_solved"),
                ("value", "50"),
                ("reason", "漏报了第四季度破案数"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = s1.get("/assessment/appeals").await;
    assert!(r.body.contains("漏报了第四季度破案数"));
    assert!(!r.body.contains("/resolve"), "staff do not resolve");
    let r = s1.get(&format!("{run_path}/units/AB-1-S1")).await;
    assert!(
        r.body.contains("漏报了第四季度破案数"),
        "the unit sees its appeal"
    );

    // The drill-down of an imported indicator: the unit's imported figures of the period.
    let r = s1
        .get("/assess/metrics?period=2026&unit=AB-1-S1&metric=business.cases_solved")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("aria-current=\"true\"><th scope=\"row\"><code>business.cases_solved</code></th><td class=\"num\">10</td>"), "{}", r.body);
    let r = s1
        .get("/assess/metrics?period=2026&unit=AB-2-S1&metric=business.cases_solved")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "another station's figures");

    // ---- the city analyst upholds it: a new run records what changed ------------------
    let r = city.get("/assessment/appeals").await;
    let i = r.body.find("data-appeal=\"").expect("the appeal is listed") + "data-appeal=\"".len();
    let appeal_id = &r.body[i..i + r.body[i..].find('"').unwrap()];
    assert!(
        r.body
            .contains(&format!("/assessment/appeals/{appeal_id}/resolve"))
    );
    let csrf = city.csrf().await;
    let s1_csrf = s1.csrf().await;
    let r = s1
        .post_form(
            &format!("/assessment/appeals/{appeal_id}/resolve"),
            &[
                ("csrf", &s1_csrf),
                ("decision", "uphold"),
                ("value", "50"),
                ("note", "核实"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "staff cannot resolve");
    let r = city
        .post_form(
            &format!("/assessment/appeals/{appeal_id}/resolve"),
            &[
                ("csrf", &csrf),
                ("decision", "uphold"),
                ("value", "50"),
                ("note", "经核实采纳"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let new_path = r.location().unwrap().to_owned();
    assert_ne!(new_path, run_path);
    let r = city.get(&new_path).await;
    assert!(
        r.body.contains(&format!("相对于运行 #{run_id} 的变动")),
        "{}",
        r.body
    );
    assert!(r.body.contains("经核实采纳"));
    // The corrected value's drill-down names the appeal, and the reference leads to it.
    let new_id: i64 = new_path.rsplit('/').next().unwrap().parse().unwrap();
    let new_run = minyi_app::assess::get(&app, new_id).await.unwrap();
    let refs = &new_run.result.unit("AB-1-S1").unwrap().indicators[0].drill_down;
    let appeal_ref = refs
        .iter()
        .find(|r| r.contains("/appeals/"))
        .expect("appeal reference");
    let r = s1.get(appeal_ref).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = s1.get(r.location().unwrap()).await;
    assert!(
        r.body.contains(&format!("data-appeal=\"{appeal_id}\"")),
        "{}",
        r.body
    );
    // Deciding it again is a conflict, said in words.
    let r = city
        .post_form(
            &format!("/assessment/appeals/{appeal_id}/resolve"),
            &[("csrf", &csrf), ("decision", "reject"), ("note", "再次")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // ---- the station page shows the latest run's score and outcome --------------------
    let r = s1.get("/units/AB-1-S1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .contains(&format!("href=\"{new_path}/units/AB-1-S1\"")),
        "{}",
        r.body
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assessment_pages_sqlite() {
    assess_story(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assessment_pages_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    assess_story(db).await;
}
