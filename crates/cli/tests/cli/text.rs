//! `minyi model train / eval` and `minyi text classify` as an operator or the external
//! evaluation uses them: model files, JSONL in and out, bad lines and bad model files.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{minyi, scratch, stderr, stdout};

/// An analyst's correction (synthetic), as `model train --corpus` reads them.
const CORRECTION: &str = "{\"text\":\"小区门口的井盖丢了好几天没人管\",\"category\":\"non_police\",\"sentiment\":\"negative\",\"urgency\":\"normal\",\"department\":\"utilities\",\"source\":\"analyst:test\"}\n";

/// Trains once on the built-in corpus plus one correction (about 10 s in a debug
/// build) and shares the file between tests.
fn trained_model() -> &'static Path {
    static MODEL: OnceLock<PathBuf> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = scratch("text-model");
        let corrections = dir.join("corrections");
        std::fs::create_dir_all(&corrections).expect("scratch dir");
        std::fs::write(corrections.join("2026-11.jsonl"), CORRECTION).expect("write");
        std::fs::write(corrections.join("notes.txt"), "not read").expect("write");
        let path = dir.join("model.bin");
        let out = minyi(&[
            "model",
            "train",
            "--corpus",
            corrections.to_str().expect("utf-8 path"),
            "--output",
            path.to_str().expect("utf-8 path"),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let said = stdout(&out);
        assert!(said.contains("1 from 1 extra file"), "{said}");
        assert!(
            said.contains("wrote") && said.contains("model.bin"),
            "{said}"
        );
        path
    })
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("output file")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn trained_model_file_exists_loads_and_classifies() {
    let model = trained_model();
    let bytes = std::fs::read(model).expect("model file");
    assert!(bytes.starts_with(b"MINYITXT"));
    let classifier = minyi_text::Classifier::from_bytes(&bytes).expect("model loads");
    assert_eq!(
        classifier.model().trained_on(),
        minyi_text::builtin_corpus().expect("corpus").len() + 1
    );
}

#[test]
fn train_takes_extra_corpus_files_and_names_a_bad_one() {
    let dir = scratch("text-extra");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let bad = dir.join("corrections.jsonl");
    std::fs::write(
        &bad,
        "{\"text\":\"路灯坏了\",\"category\":\"no_such\",\"sentiment\":\"negative\",\"urgency\":\"normal\",\"source\":\"analyst:1\"}\n",
    )
    .expect("write");
    let out = minyi(&[
        "model",
        "train",
        "--corpus",
        dir.to_str().expect("utf-8"),
        "--output",
        dir.join("m.bin").to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("corrections.jsonl") && err.contains("line 1"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!dir.join("m.bin").exists());
}

#[test]
fn classify_keeps_good_lines_marks_bad_ones_and_survives_edge_texts() {
    let dir = scratch("text-classify");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let input = dir.join("in.jsonl");
    let output = dir.join("out.jsonl");
    let long = "我家楼下".repeat(5_000);
    let lines = [
        // Starts with a byte-order mark, as files saved on Windows do.
        "\u{feff}{\"id\":\"a1\",\"text\":\"我的电动车昨晚在小区门口被偷了\",\"county\":\"东城\"}"
            .to_string(),
        "this is not json".to_string(),
        r#"{"id":"a3","text":42}"#.to_string(),
        r#"{"id":"a4","body":"没有text字段"}"#.to_string(),
        String::new(),
        r#"{"text":"   "}"#.to_string(),
        r#"{"text":"hello, the street light is broken"}"#.to_string(),
        format!(r#"{{"text":"{long}"}}"#),
        r#"{"text":"有人\u0007在打架 fight!! 快来"}"#.to_string(),
        r#"{"text":"小区路灯坏了一个月","category":"stale"}"#.to_string(),
    ];
    std::fs::write(&input, lines.join("\n")).expect("write input");
    let out = minyi(&[
        "text",
        "classify",
        "--input",
        input.to_str().expect("utf-8"),
        "--output",
        output.to_str().expect("utf-8"),
        "--model",
        trained_model().to_str().expect("utf-8"),
        "--timing",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("3 bad line(s)"), "{err}");
    assert!(err.contains("texts/s"), "{err}");
    let got = json_lines(&output);
    // The blank line is skipped; every other line gives exactly one output line.
    assert_eq!(got.len(), 9);

    let first = &got[0];
    assert_eq!(first["category"], "crime_report");
    assert_eq!(first["id"], "a1");
    assert_eq!(first["county"], "东城");
    assert!(first["department"].is_null());
    let c = first["confidence"].as_f64().expect("confidence");
    assert!((0.0..=1.0).contains(&c));
    assert!(first["needs_review"].is_boolean());
    assert!(first.get("error").is_none());

    let errors: Vec<&str> = got
        .iter()
        .filter_map(|v| v.get("error").and_then(|e| e.as_str()))
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].starts_with("line 2:") && errors[0].contains("JSON"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("line 3:") && errors[1].contains("string"),
        "{errors:?}"
    );
    assert!(
        errors[2].starts_with("line 4:") && errors[2].contains("text"),
        "{errors:?}"
    );
    assert_eq!(got[2]["id"], "a3");
    assert!(got[2].get("category").is_none());

    for (v, issue) in [(&got[4], "empty"), (&got[5], "no_chinese")] {
        assert_eq!(v["category"], "other");
        assert_eq!(v["issue"], issue);
        assert_eq!(v["needs_review"], true);
    }
    assert_eq!(got[6]["truncated"], true);
    assert!(got[7]["category"].is_string());
    // An input field named like an output field is replaced by the prediction.
    assert_ne!(got[8]["category"], "stale");
    assert_eq!(got[8]["category"], "non_police");
    assert!(got[8]["department"].is_string());
}

#[test]
fn eval_prints_every_category_and_the_same_split_with_or_without_a_model() {
    let with_model = minyi(&[
        "model",
        "eval",
        "--model",
        trained_model().to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    assert!(with_model.status.success(), "{}", stderr(&with_model));
    let trained_here = minyi(&["model", "eval", "--format", "json"]);
    assert!(trained_here.status.success(), "{}", stderr(&trained_here));
    let a: serde_json::Value = serde_json::from_str(&stdout(&with_model)).expect("json");
    let b: serde_json::Value = serde_json::from_str(&stdout(&trained_here)).expect("json");
    // Supports depend only on which examples were held out: equal means the CLI's
    // split for a saved model is the library's.
    let supports = |v: &serde_json::Value| -> Vec<u64> {
        v["evaluation"]["heads"]
            .as_array()
            .expect("heads")
            .iter()
            .flat_map(|h| h["per_class"].as_array().expect("per_class").iter())
            .map(|m| m["support"].as_u64().expect("support"))
            .collect()
    };
    assert_eq!(supports(&a), supports(&b));
    assert_eq!(a["evaluation"]["test_size"], b["evaluation"]["test_size"]);
    let acc = b["evaluation"]["heads"][0]["accuracy"]
        .as_f64()
        .expect("accuracy");
    assert!(acc > 0.5, "held-out category accuracy {acc}");

    let text = minyi(&[
        "model",
        "eval",
        "--model",
        trained_model().to_str().expect("utf-8"),
    ]);
    assert!(text.status.success(), "{}", stderr(&text));
    let out = stdout(&text);
    for c in minyi_text::Category::ALL {
        let rows = out
            .lines()
            .filter(|l| l.split_whitespace().any(|w| w == c.code()))
            .count();
        // One metrics row and one confusion-matrix row per category.
        assert!(rows >= 2, "{} missing:\n{out}", c.code());
    }
    for word in ["precision", "recall", "F1", "support", "confusion"] {
        assert!(out.contains(word), "{word}:\n{out}");
    }
}

#[test]
fn a_corrupt_or_missing_model_file_is_one_line_naming_it() {
    let dir = scratch("text-corrupt");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let input = dir.join("in.jsonl");
    std::fs::write(&input, "{\"text\":\"有人打架\"}\n").expect("write");
    let good = std::fs::read(trained_model()).expect("model");
    let truncated = dir.join("truncated.bin");
    std::fs::write(&truncated, good.get(..good.len() / 2).expect("half")).expect("write");
    let foreign = dir.join("foreign.bin");
    std::fs::write(&foreign, "not a model").expect("write");
    let missing = dir.join("missing.bin");
    for model in [&truncated, &foreign, &missing] {
        let out = minyi(&[
            "text",
            "classify",
            "--input",
            input.to_str().expect("utf-8"),
            "--output",
            dir.join("out.jsonl").to_str().expect("utf-8"),
            "--model",
            model.to_str().expect("utf-8"),
        ]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        let name = model.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(err.contains(name), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = minyi(&[
        "text",
        "classify",
        "--input",
        dir.join("nope.jsonl").to_str().expect("utf-8"),
        "--output",
        dir.join("out.jsonl").to_str().expect("utf-8"),
        "--model",
        trained_model().to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nope.jsonl"), "{}", stderr(&out));
    // Writing over the input would lose it.
    let out = minyi(&[
        "text",
        "classify",
        "--input",
        input.to_str().expect("utf-8"),
        "--output",
        input.to_str().expect("utf-8"),
        "--model",
        trained_model().to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    assert_eq!(
        std::fs::read_to_string(&input).expect("input"),
        "{\"text\":\"有人打架\"}\n"
    );
}

/// `minyi model corrections` exports an analyst's relabel from the database as corpus
/// JSONL with the phone number masked, and `minyi model train --corpus` reads it back.
#[test]
fn corrections_export_feeds_the_trainer() {
    use minyi_core::opinion::{Escalation, NewOpinion, OpinionState, OpinionText, TrackingCode};
    use minyi_core::org::{NewUnit, UnitKind};
    use minyi_core::taxonomy::{Category, Channel, DepartmentKind, Sentiment, Urgency};
    use minyi_store::{InsertOutcome, Labels, NewLabels, Store};

    let dir = scratch("corrections");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let url = format!("sqlite://{}", dir.join("minyi.db").display());
    let out_file = dir.join("corrections.jsonl");
    // No database yet: one clear line, no file.
    let none = minyi(&[
        "model",
        "corrections",
        "--output",
        out_file.to_str().expect("utf-8"),
        "--data-dir",
        dir.to_str().expect("utf-8"),
    ]);
    assert!(!none.status.success());
    assert!(
        stderr(&none).contains("no minyi database"),
        "{}",
        stderr(&none)
    );
    assert!(!out_file.exists());
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let store = Store::open(&url).await.expect("store");
            store
                .insert_units(&[NewUnit {
                    code: minyi_core::Code::parse("K").expect("code"),
                    kind: UnitKind::CityBureau,
                    name: "测试市局".into(),
                    parent: None,
                    window: None,
                    department: None,
                    synthetic: true,
                }])
                .await
                .expect("units");
            let at = chrono::Utc::now();
            let o = NewOpinion {
                tracking_code: TrackingCode::from_bits(4242),
                client_key: None,
                channel: Channel::WebForm,
                text: OpinionText::parse("老板欠了三个月工资不给，打我电话13912345678")
                    .expect("text"),
                category: Category::Other,
                sentiment: Sentiment::Neutral,
                urgency: Urgency::Normal,
                department: None,
                area_id: None,
                unit_id: None,
                department_id: None,
                state: OpinionState::Received,
                escalation: Escalation::Station,
                key_opinion: false,
                received_at: at,
                due_at: None,
                closed_at: None,
                verdict: None,
                synthetic: true,
            };
            let InsertOutcome::Created(id) =
                store.submit_opinion(&o, None, at).await.expect("opinion")
            else {
                panic!("not created");
            };
            let was = Labels {
                category: Category::Other,
                sentiment: Sentiment::Neutral,
                urgency: Urgency::Normal,
                department: None,
            };
            store
                .record_labels(&NewLabels {
                    opinion_id: id,
                    at,
                    actor: "user:analyst".into(),
                    relabel: true,
                    labels: Labels {
                        category: Category::NonPolice,
                        sentiment: Sentiment::Negative,
                        urgency: Urgency::Normal,
                        department: Some(DepartmentKind::Labour),
                    },
                    previous: was,
                    unit_id: None,
                    department_id: None,
                })
                .await
                .expect("labels");
            store.close().await;
        });
    let out = minyi(&[
        "model",
        "corrections",
        "--output",
        out_file.to_str().expect("utf-8"),
        "--data-dir",
        dir.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("wrote 1 correction(s)"),
        "{}",
        stdout(&out)
    );
    let lines = json_lines(&out_file);
    assert_eq!(lines.len(), 1);
    let text = lines[0]["text"].as_str().expect("text");
    assert!(
        !text.contains("13912345678") && text.contains("工资"),
        "{text}"
    );
    assert_eq!(lines[0]["category"], "non_police");
    assert_eq!(lines[0]["department"], "labour");
    assert!(
        lines[0]["source"]
            .as_str()
            .expect("source")
            .starts_with("analyst_correction:")
    );
    let model = dir.join("model.bin");
    let trained = minyi(&[
        "model",
        "train",
        "--corpus",
        out_file.to_str().expect("utf-8"),
        "--output",
        model.to_str().expect("utf-8"),
    ]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    assert!(
        stdout(&trained).contains("1 from 1 extra file"),
        "{}",
        stdout(&trained)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
