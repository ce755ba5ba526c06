//! `minyi briefing draft` as an operator uses it: a county's briefing printed and written
//! as HTML (stylesheet inlined) and DOCX (a zip holding the sections), stored as the next
//! version each time; a wrong extension, period or unit is a one-line error.

use chrono::{TimeZone, Utc};
use minyi_core::Code;
use minyi_core::opinion::{Escalation, NewOpinion, OpinionState, OpinionText, TrackingCode};
use minyi_core::org::{NewUnit, UnitKind};
use minyi_core::taxonomy::{Category, Channel, Sentiment, Urgency};
use minyi_store::Store;

use super::{minyi, scratch, stderr, stdout};

fn seed(url: &str) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = Store::open(url).await.unwrap();
        let unit = |c: &str, kind, parent: Option<&str>| NewUnit {
            code: Code::parse(c).unwrap(),
            kind,
            name: format!("单位{c}"),
            parent: parent.map(|p| Code::parse(p).unwrap()),
            window: None,
            department: None,
            synthetic: false,
        };
        store
            .insert_units(&[
                unit("city", UnitKind::CityBureau, None),
                unit("county", UnitKind::CountyBureau, Some("city")),
                unit("s1", UnitKind::Station, Some("county")),
            ])
            .await
            .unwrap();
        let s1 = store.unit_by_code("s1").await.unwrap().unwrap().id;
        for (i, (category, day)) in [
            (Category::Traffic, 3),
            (Category::Traffic, 4),
            (Category::Fraud, 5),
            (Category::Traffic, 6),
        ]
        .into_iter()
        .enumerate()
        {
            let at = Utc.with_ymd_and_hms(2026, 10, day, 4, 0, 0).unwrap();
            let o = NewOpinion {
                tracking_code: TrackingCode::from_bits(i as u64 * 7_919 + 5),
                client_key: None,
                channel: Channel::WebForm,
                text: OpinionText::parse("小区门口经常有车乱停，联系电话13800001111").unwrap(),
                category,
                sentiment: Sentiment::Negative,
                urgency: if i == 2 {
                    Urgency::Urgent
                } else {
                    Urgency::Normal
                },
                department: None,
                area_id: None,
                unit_id: Some(s1),
                department_id: None,
                state: OpinionState::Closed,
                escalation: Escalation::Station,
                key_opinion: false,
                received_at: at,
                due_at: None,
                closed_at: None,
                verdict: None,
                synthetic: false,
            };
            store.submit_opinion(&o, None, at).await.unwrap();
        }
        store.close().await;
    });
}

#[test]
fn draft_prints_stores_and_writes_html_and_docx() {
    let dir = scratch("briefing");
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("minyi.db").display());
    seed(&url);
    let d = dir.to_str().unwrap().to_owned();
    let run = |args: &[&str]| {
        let mut v: Vec<String> = vec!["briefing".into(), "draft".into()];
        v.extend(args.iter().map(|s| s.to_string()));
        v.extend([
            "--data-dir".into(),
            d.clone(),
            "--database-url".into(),
            url.clone(),
        ]);
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        minyi(&refs)
    };
    let as_of = "2026-11-05T10:00:00+08:00";
    let html = dir.join("county.html");
    let out = run(&[
        "--unit",
        "county",
        "--period",
        "2026-10",
        "--as-of",
        as_of,
        "--output",
        html.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("单位county2026年10月民意研判报告"), "{text}");
    assert!(
        text.contains("version 1") && text.contains("共受理群众民意4件"),
        "{text}"
    );
    assert!(
        text.contains("一、总体情况") && text.contains("七、研判意见"),
        "{text}"
    );
    assert!(!text.contains("13800001111"), "masked: {text}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<style>") && page.contains("size: A4") && page.contains("<svg"));
    assert!(page.contains("交通管理"));

    let docx = dir.join("county.docx");
    let out = run(&[
        "--unit",
        "county",
        "--period",
        "2026-10",
        "--as-of",
        as_of,
        "--output",
        docx.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("version 2"),
        "each draft is the next version"
    );
    let bytes = std::fs::read(&docx).unwrap();
    assert_eq!(&bytes[..2], b"PK", "a zip package");
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut doc = String::new();
    std::io::Read::read_to_string(&mut z.by_name("word/document.xml").unwrap(), &mut doc).unwrap();
    assert!(doc.contains("一、总体情况") && doc.contains("<w:tbl>"));

    for (args, says) in [
        (
            vec![
                "--unit", "county", "--period", "2026-10", "--output", "x.pdf",
            ],
            ".html or .docx",
        ),
        (
            vec!["--unit", "county", "--period", "2026-13", "--as-of", as_of],
            "2026-13",
        ),
        (
            vec!["--unit", "nowhere", "--period", "2026-10", "--as-of", as_of],
            "no unit with code `nowhere`",
        ),
        (
            vec!["--unit", "s1", "--period", "2026-10", "--as-of", as_of],
            "county or city bureau",
        ),
        (
            vec![
                "--unit",
                "county",
                "--period",
                "2026-10",
                "--as-of",
                "yesterday",
            ],
            "RFC 3339",
        ),
    ] {
        let out = run(&args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
