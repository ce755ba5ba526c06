//! Contact cards and boards over HTTP: the SVGs of a station and a community are
//! well-formed, name the chief and the duty phone, and carry a QR code that decodes to the
//! card's scan address; scanning counts and opens the form preset to the place; the
//! opinion sent from there is a `qr_card` one at the place's station; scope and unknown
//! codes answer 404.

use axum::http::{StatusCode, header};
use minyi_core::access::Role;
use minyi_core::opinion::TrackingCode;
use minyi_core::org::{AreaKind, OfficerRole, UnitKind};
use minyi_core::taxonomy::Channel;
use minyi_store::testing::TestDb;

use crate::{Client, Resp, app_with_demo};

/// Parses the whole document: tags balance, one root element, every `&` starts one of
/// the entities our escaper writes.
fn assert_well_formed(svg: &str) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(svg);
    let (mut depth, mut roots) = (0i64, 0);
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
            }
            Ok(Event::Empty(_)) if depth == 0 => roots += 1,
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "not well-formed at {}: {e}\n{svg}",
                reader.buffer_position()
            ),
        }
        assert!(depth >= 0, "an end tag without a start:\n{svg}");
    }
    assert_eq!(
        (depth, roots),
        (0, 1),
        "unbalanced or several roots:\n{svg}"
    );
    for (i, _) in svg.match_indices('&') {
        let rest = &svg[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                .iter()
                .any(|e| rest.starts_with(e)),
            "a bare & at {i}: {}",
            &rest[..rest.len().min(20)]
        );
    }
}

/// Reads the QR group back out of the SVG (module count, quiet zone, the path of dark
/// runs), paints it at 4 px per module and decodes it as a phone would.
fn decode_qr(svg: &str) -> String {
    let attr = |from: &str, name: &str| -> String {
        let i = from.find(&format!("{name}=\"")).expect(name) + name.len() + 2;
        from[i..i + from[i..].find('"').unwrap()].to_owned()
    };
    let g = &svg[svg.find("<g data-qr-modules=").expect("a QR group")..];
    let modules: usize = attr(g, "data-qr-modules").parse().unwrap();
    let quiet: usize = attr(g, "data-qr-quiet").parse().unwrap();
    assert!(quiet >= 4, "the quiet zone is at least 4 modules");
    let d = attr(&g[g.find("<path").unwrap()..], "d");
    let n = modules + 2 * quiet;
    let mut dark = vec![false; n * n];
    for cmd in d.split('M').filter(|s| !s.is_empty()) {
        // `x yhRUNv1h-RUNz`: a run of dark modules in one row.
        let (xy, rest) = cmd.split_once('h').unwrap();
        let (x, y) = xy.split_once(' ').unwrap();
        let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
        let run: usize = rest.split_once('v').unwrap().0.parse().unwrap();
        assert_eq!(rest, format!("{run}v1h-{run}z"));
        for col in x..x + run {
            dark[y * n + col] = true;
        }
    }
    let px = 4;
    let side = n * px;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
        if dark[(y / px) * n + x / px] { 0 } else { 255 }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the sheet");
    grids[0].decode().expect("the QR code decodes").1
}

fn svg_ok(r: &Resp, what: &str) {
    assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.body);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("image/svg+xml"),
        "{what}"
    );
    assert!(
        r.body.contains("viewBox=\"0 0 105 148\"") || r.body.contains("viewBox=\"0 0 210 297\""),
        "{what}: sized in millimetres"
    );
    assert_well_formed(&r.body);
}

fn tracking_code(body: &str) -> TrackingCode {
    let i =
        body.find("data-tracking-code>").expect("a tracking code") + "data-tracking-code>".len();
    TrackingCode::parse(&body[i..i + body[i..].find('<').unwrap()]).unwrap()
}

fn scans_cell(page: &str, key: &str, cell: &str) -> String {
    let row = &page[page
        .find(&format!("data-scans=\"{key}\""))
        .unwrap_or_else(|| panic!("no scan row {key}"))..];
    let i = row.find(&format!("{cell}>")).unwrap() + cell.len() + 1;
    row[i..i + row[i..].find('<').unwrap()].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_sqlite() {
    cards_story(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    cards_story(db).await;
}

async fn cards_story(db: TestDb) {
    let app = app_with_demo(&db).await;
    let accounts = minyi_app::demo::create_accounts(&app, chrono::Utc::now())
        .await
        .unwrap();
    let acct = |role: Role| accounts.iter().find(|a| a.role == role).unwrap().clone();
    let station_acct = acct(Role::StationStaff);
    let station = app
        .store
        .unit_by_code(&station_acct.unit_code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(station.kind, UnitKind::Station);
    let code = station.code.to_string();
    let officers = app.store.officers_of(station.id).await.unwrap();
    let chief = officers
        .iter()
        .find(|o| o.role == OfficerRole::Chief)
        .expect("the demo station has a chief");
    let stored = chief
        .duty_phone
        .as_deref()
        .expect("the demo chief has a duty phone");
    // Printed grouped for reading: area code, then the number.
    let phone = minyi_app::cards::display_phone(stored);
    assert!(phone.starts_with("0875-"), "{phone}");
    let areas: Vec<_> = app
        .store
        .areas()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.station_id == Some(station.id))
        .collect();
    let township = areas.iter().find(|a| a.kind == AreaKind::Township).unwrap();
    let village = areas.iter().find(|a| a.kind == AreaKind::Village).unwrap();
    let router = minyi_web::router(app.clone());
    let mut staff = Client::new(router.clone());
    staff
        .sign_in(&station_acct.username, &station_acct.password)
        .await;

    // The station's card and board.
    for sheet in ["card", "board"] {
        let r = staff.get(&format!("/units/{code}/{sheet}.svg")).await;
        svg_ok(&r, sheet);
        for must in [
            &station.name,
            &chief.name,
            &phone,
            "所长",
            "值班电话",
            "有事找警察",
        ] {
            assert!(r.body.contains(must), "{sheet} lacks {must}");
        }
        assert!(r.body.contains("演示数据"), "a demo card says so");
        assert_eq!(
            decode_qr(&r.body),
            format!("http://127.0.0.1:8080/q/u/{code}")
        );
    }
    // A community's card and board: its name, its station, the same chief and phone.
    for sheet in ["card", "board"] {
        let r = staff
            .get(&format!("/areas/{}/{sheet}.svg", village.code))
            .await;
        svg_ok(&r, sheet);
        for must in [&village.name, &station.name, &chief.name, &phone] {
            assert!(r.body.contains(must.as_str()), "{sheet} lacks {must}");
        }
        assert_eq!(
            decode_qr(&r.body),
            format!("http://127.0.0.1:8080/q/a/{}", village.code)
        );
    }
    // English on request: the same card, translated labels.
    let r = staff.get(&format!("/units/{code}/card.svg?lang=en")).await;
    svg_ok(&r, "english card");
    assert!(r.body.contains("Station chief") && r.body.contains(&chief.name));

    // The station page links to the print page; it shows every sheet and zero scans.
    let r = staff.get(&format!("/units/{code}")).await;
    assert!(r.body.contains(&format!("href=\"/units/{code}/cards\"")));
    let page = staff.get(&format!("/units/{code}/cards")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains(&format!("src=\"/units/{code}/board.svg?lang=zh-CN\""))
    );
    assert!(
        page.body
            .contains(&format!("src=\"/units/{code}/card.svg?lang=zh-CN\""))
    );
    for a in &areas {
        assert!(
            page.body
                .contains(&format!("src=\"/areas/{}/card.svg?lang=zh-CN\"", a.code)),
            "{} has its card",
            a.code
        );
    }
    assert!(page.body.contains("Ctrl+P") && !page.body.contains("<script"));
    assert!(
        page.body.contains("public_url"),
        "the unset address is pointed out"
    );
    assert_eq!(
        scans_cell(&page.body, &format!("area:{}", village.code), "data-total"),
        "0"
    );
    let only = staff.get(&format!("/units/{code}/cards?only=card")).await;
    assert!(!only.body.contains("board.svg?") && only.body.contains("card.svg?"));

    // A resident scans the community's card: counted, then the form preset to it.
    let mut resident = Client::from(router.clone(), "203.0.113.50:1234");
    let r = resident.get(&format!("/q/a/{}", village.code)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let to = r.location().unwrap().to_owned();
    assert_eq!(
        to,
        format!("/report?via=qr&station={code}&area={}", village.code)
    );
    let form = resident.get(&to).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.body
            .contains(&format!("<option value=\"{}\" selected>", village.code)),
        "the community is preselected: {}",
        form.body
    );
    assert!(
        form.body
            .contains(&format!("<option value=\"{}\">", township.code))
    );
    assert!(form.body.contains("name=\"via\" value=\"qr\""));
    assert!(form.body.contains(&village.name) && form.body.contains(&station.name));
    let csrf = form.csrf().unwrap();
    let r = resident
        .post_form(
            "/report",
            &[
                ("csrf", &csrf),
                ("text", "村口的路灯坏了一个月，晚上很黑。"),
                ("area", village.code.as_str()),
                ("station", &code),
                ("via", "qr"),
                ("submission", "card-story-1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let o = app
        .store
        .opinion_by_tracking_code(&tracking_code(&r.body))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.channel, Channel::QrCard);
    assert_eq!((o.area_id, o.unit_id), (Some(village.id), Some(station.id)));

    // The station's own card presets its township; a forged marker is just the web form.
    let r = resident.get(&format!("/q/u/{code}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location(),
        Some(format!("/report?via=qr&station={code}&area={}", township.code).as_str())
    );
    let r = resident
        .post_form(
            "/report",
            &[
                ("csrf", &csrf),
                ("text", "集市门口经常有车乱停，堵路。"),
                ("area", township.code.as_str()),
                ("station", "NO-SUCH<station>"),
                ("via", "qr-but-not-really"),
                ("submission", "card-story-2"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let o = app
        .store
        .opinion_by_tracking_code(&tracking_code(&r.body))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.channel, Channel::WebForm);
    assert_eq!(o.unit_id, Some(station.id));
    // A preset that does not resolve falls back to the plain form, escaped.
    let r = resident
        .get("/report?via=qr&station=NOPE&area=%3Cb%3E")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("<b>") && r.body.contains("&lt;b&gt;"));

    // Unknown codes and non-station units: a friendly 404, nothing counted.
    let county_area = app
        .store
        .areas()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.station_id.is_none())
        .unwrap();
    let county_acct = acct(Role::CountyAnalyst);
    for path in [
        "/q/a/A-NO-SUCH".to_owned(),
        "/q/u/NO-SUCH".to_owned(),
        format!("/q/u/{}", county_acct.unit_code),
        format!("/q/a/{}", county_area.code),
    ] {
        let r = resident.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(r.body.contains("没有找到这张联系卡"), "{path}: {}", r.body);
    }

    // The counts: one scan of the community's card, one of the station's, today.
    let page = staff.get(&format!("/units/{code}/cards")).await;
    let key = format!("area:{}", village.code);
    assert_eq!(scans_cell(&page.body, &key, "data-recent"), "1");
    assert_eq!(scans_cell(&page.body, &key, "data-total"), "1");
    assert_eq!(
        scans_cell(&page.body, &format!("unit:{code}"), "data-total"),
        "1"
    );

    // Out of scope: another county's station and community are not there (404).
    let all_areas = app.store.areas().await.unwrap();
    let foreign_area = all_areas
        .iter()
        .find(|a| {
            a.station_id.is_some_and(|s| s != station.id)
                && a.code.as_str().split('-').nth(1) != village.code.as_str().split('-').nth(1)
        })
        .unwrap();
    let foreign_station = app
        .store
        .unit(foreign_area.station_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    for path in [
        format!("/units/{}/card.svg", foreign_station.code),
        format!("/units/{}/board.svg", foreign_station.code),
        format!("/units/{}/cards", foreign_station.code),
        format!("/areas/{}/card.svg", foreign_area.code),
        format!("/areas/{}/board.svg", foreign_area.code),
        "/units/NO-SUCH/card.svg".to_owned(),
        "/areas/NO-SUCH/card.svg".to_owned(),
    ] {
        assert_eq!(
            staff.get(&path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // Signed out: the staff sheets want a sign-in.
    let r = resident.get(&format!("/units/{code}/card.svg")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    // A county account: its print page lists its stations with their scans; a county
    // bureau has no card of its own.
    let county = acct(Role::CountyAnalyst);
    let mut c = Client::new(router.clone());
    c.sign_in(&county.username, &county.password).await;
    let r = c.get(&format!("/units/{}/cards", county.unit_code)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains(&format!("href=\"/units/{code}/cards\"")));
    let r = c
        .get(&format!("/units/{}/card.svg", county.unit_code))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    db.drop_db().await;
}

/// Names come from imports and administrators: whatever they hold, the SVG stays
/// well-formed and shows it as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_text_is_escaped() {
    use minyi_core::org::{NewOfficer, NewUnit};
    use minyi_core::{Code, PhoneNumber};
    let db = TestDb::sqlite();
    let app = app_with_demo(&db).await;
    let accounts = minyi_app::demo::create_accounts(&app, chrono::Utc::now())
        .await
        .unwrap();
    let city = accounts
        .iter()
        .find(|a| a.role == Role::CityAnalyst)
        .unwrap();
    let county = accounts
        .iter()
        .find(|a| a.role == Role::CountyAnalyst)
        .unwrap();
    app.store
        .insert_units(&[NewUnit {
            code: Code::parse("X-S1").unwrap(),
            kind: UnitKind::Station,
            name: "<b>\"甲&乙\"</b>派出所".into(),
            parent: Some(Code::parse(&county.unit_code).unwrap()),
            window: None,
            department: None,
            synthetic: false,
        }])
        .await
        .unwrap();
    app.store
        .insert_officers(&[NewOfficer {
            unit: Code::parse("X-S1").unwrap(),
            name: "李<四>'".into(),
            role: OfficerRole::Chief,
            duty_phone: Some(PhoneNumber::parse("0875-2123456").unwrap()),
            synthetic: false,
        }])
        .await
        .unwrap();
    let mut c = Client::new(minyi_web::router(app.clone()));
    c.sign_in(&city.username, &city.password).await;
    for sheet in ["card", "board"] {
        let r = c.get(&format!("/units/X-S1/{sheet}.svg")).await;
        svg_ok(&r, sheet);
        assert!(r.body.contains("李&lt;四&gt;&#39;"), "{}", r.body);
        assert!(r.body.contains("&lt;b&gt;&quot;甲&amp;乙&quot;&lt;/b&gt;"));
        assert!(!r.body.contains("<b>"));
        assert!(!r.body.contains("演示数据"), "not a demo unit");
        assert!(r.body.contains("0875-2123456"));
        assert_eq!(decode_qr(&r.body), "http://127.0.0.1:8080/q/u/X-S1");
    }
    db.drop_db().await;
}
