//! Integration tests for minyi-text: the shipped corpus, training and held-out
//! evaluation, the model file format, bad input, and near-duplicate calibration.

use std::sync::OnceLock;

use minyi_text::dedup::{self, DedupConfig, DedupItem};
use minyi_text::{
    Category, Classifier, ClassifyScratch, Department, EvalConfig, Evaluation, FeatureConfig,
    Featurizer, InputIssue, LabelKind, Model, TextError, TrainConfig, Urgency, builtin_corpus,
    builtin_pairs, evaluate, train,
};
use proptest::prelude::*;

/// Held-out category macro-F1 must stay above this. Measured 0.895 with the default
/// settings and split seed (0.747–0.895 over five split seeds, corpus of 1,441); the
/// floor leaves room for corpus changes but fails if the trainer breaks (a constant
/// or random classifier scores below 0.1).
const MACRO_F1_FLOOR: f64 = 0.72;

struct Shared {
    evaluation: Evaluation,
    /// Trained on the evaluation's training split.
    classifier: Classifier,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let corpus = builtin_corpus().unwrap_or_else(|e| panic!("corpus: {e}"));
        let featurizer =
            Featurizer::new(FeatureConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        let (evaluation, model, featurizer) = evaluate(featurizer, &corpus, &EvalConfig::default())
            .unwrap_or_else(|e| panic!("evaluate: {e}"));
        let classifier =
            Classifier::with_featurizer(model, featurizer).unwrap_or_else(|e| panic!("{e}"));
        Shared {
            evaluation,
            classifier,
        }
    })
}

#[test]
fn corpus_is_large_varied_and_well_formed() {
    let corpus = builtin_corpus().unwrap_or_else(|e| panic!("{e}"));
    for c in Category::ALL {
        let n = corpus.iter().filter(|e| e.category == *c).count();
        assert!(n >= 60, "{c}: only {n} examples");
    }
    let mut texts: Vec<&str> = corpus.iter().map(|e| e.text.as_str()).collect();
    texts.sort_unstable();
    let before = texts.len();
    texts.dedup();
    assert_eq!(before, texts.len(), "duplicate texts in the corpus");
    assert!(corpus.iter().all(|e| e.source.starts_with("handwritten:")));
    for d in Department::ALL {
        let n = corpus.iter().filter(|e| e.department == Some(*d)).count();
        assert!(n >= 6, "department {d}: only {n} examples");
    }
    assert!(
        corpus
            .iter()
            .filter(|e| e.urgency == Urgency::Urgent)
            .count()
            >= 60
    );
}

#[test]
fn held_out_figures() {
    let ev = &shared().evaluation;
    for head in &ev.heads {
        eprintln!(
            "{}: tested {} accuracy {:.3} macro-F1 {:.3} ECE {:.3}",
            head.kind.code(),
            head.tested,
            head.accuracy,
            head.macro_f1,
            head.calibration_error
        );
        for m in &head.per_class {
            eprintln!(
                "  {:<22} P {:.2} R {:.2} F1 {:.2} n {}",
                m.code, m.precision, m.recall, m.f1, m.support
            );
        }
    }
    eprintln!(
        "needs_review {} of {}, accuracy when confident {:.3}",
        ev.needs_review, ev.test_size, ev.accuracy_when_confident
    );
    let cat = ev
        .head(LabelKind::Category)
        .unwrap_or_else(|| panic!("no category head"));
    eprintln!("confusion {:?}", cat.confusion);
    assert!(
        cat.macro_f1 >= MACRO_F1_FLOOR,
        "category macro-F1 {:.3} below floor {MACRO_F1_FLOOR}",
        cat.macro_f1
    );
    assert_eq!(cat.confusion.iter().flatten().sum::<usize>(), ev.test_size);
    // Measured 0.790, 0.868 and 0.883; the other heads must not collapse either.
    for (kind, floor) in [
        (LabelKind::Department, 0.6),
        (LabelKind::Urgency, 0.7),
        (LabelKind::Sentiment, 0.65),
    ] {
        let h = ev.head(kind).unwrap_or_else(|| panic!("no head"));
        assert!(
            h.macro_f1 >= floor,
            "{} macro-F1 {:.3} below {floor}",
            kind.code(),
            h.macro_f1
        );
    }
}

#[test]
fn confident_predictions_are_right_more_often_than_flagged_ones() {
    let ev = &shared().evaluation;
    let cat = ev
        .head(LabelKind::Category)
        .unwrap_or_else(|| panic!("no category head"));
    // Calibration: confident predictions beat the overall accuracy, and the expected
    // calibration error stays small.
    assert!(
        ev.accuracy_when_confident >= cat.accuracy,
        "{} < {}",
        ev.accuracy_when_confident,
        cat.accuracy
    );
    assert!(cat.calibration_error < 0.2, "ECE {}", cat.calibration_error);
    assert!(ev.needs_review < ev.test_size / 2);
}

#[test]
fn clear_texts_get_the_obvious_labels() {
    let c = &shared().classifier;
    let mut s = ClassifyScratch::new();
    let p = c.classify_with("快来人，楼下有人拿刀砍人，已经有人倒在地上了", &mut s);
    assert_eq!(p.urgency, Urgency::Urgent, "{p:?}");
    assert_eq!(p.category, Category::Emergency110, "{p:?}");
    let p = c.classify_with(
        "接到自称公安局的电话说我涉嫌洗钱，让我把钱转到安全账户",
        &mut s,
    );
    assert_eq!(p.category, Category::Fraud, "{p:?}");
    let p = c.classify_with("感谢派出所的民警帮我找回了钱包，给你们点赞", &mut s);
    assert_eq!(p.category, Category::Praise, "{p:?}");
    assert_eq!(p.sentiment, minyi_text::Sentiment::Positive, "{p:?}");
    let p = c.classify_with("工地老板拖欠我们半年工资不给", &mut s);
    assert_eq!(p.category, Category::NonPolice, "{p:?}");
    assert_eq!(p.department, Some(Department::Labour), "{p:?}");
    assert!(p.department_confidence.is_some());
    assert!((0.0..=1.0).contains(&p.confidence));
    let p = c.classify_with("我的电动车被偷了", &mut s);
    assert_eq!(p.department, None);
}

#[test]
fn review_threshold_is_configurable() {
    let (model, _) = {
        let c = &shared().classifier;
        (c.model().clone(), ())
    };
    let mut c = Classifier::new(model).unwrap_or_else(|e| panic!("{e}"));
    let text = "派出所";
    c.set_review_threshold(0.0)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.classify(text).needs_review);
    c.set_review_threshold(1.0)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(c.classify(text).needs_review);
    assert!(matches!(
        c.set_review_threshold(1.5),
        Err(TextError::InvalidConfig { .. })
    ));
}

#[test]
fn model_bytes_round_trip_and_predict_the_same() {
    let c = &shared().classifier;
    let bytes = c.model().to_bytes();
    let back = Model::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&back, c.model());
    let again = Classifier::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let text = "网上刷单被骗了三万块，客服把我拉黑了";
    assert_eq!(again.classify(text), c.classify(text));
    assert!(format!("{:?}", c.model()).len() < 4_000);
    assert_eq!(back.to_bytes(), bytes);
    // Sparse storage keeps the file far below the dense in-memory size.
    assert!(bytes.len() < 16 << 20, "{} bytes", bytes.len());
}

#[test]
fn foreign_corrupt_truncated_and_future_files_are_rejected_with_reasons() {
    let bytes = shared().classifier.model().to_bytes();
    assert!(matches!(
        Model::from_bytes(b""),
        Err(TextError::ForeignModel { .. })
    ));
    assert!(matches!(
        Model::from_bytes(b"{\"json\": true}"),
        Err(TextError::ForeignModel { .. })
    ));
    let mut future = bytes.clone();
    if let Some(b) = future.get_mut(8) {
        *b = 9;
    }
    assert!(matches!(
        Model::from_bytes(&future),
        Err(TextError::UnsupportedModelVersion {
            found: 9,
            supported: 1
        })
    ));
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    if let Some(b) = flipped.get_mut(mid) {
        *b ^= 0x5A;
    }
    let err = Model::from_bytes(&flipped);
    assert!(
        matches!(err, Err(TextError::CorruptModel { .. })),
        "{err:?}"
    );
    for cut in [9, 20, bytes.len() / 3, bytes.len() - 1] {
        let err = Model::from_bytes(bytes.get(..cut).unwrap_or(&[]));
        assert!(
            matches!(err, Err(TextError::CorruptModel { .. })),
            "cut {cut}: {err:?}"
        );
    }
    let msg = Model::from_bytes(&flipped)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("byte"), "{msg}");
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let corpus = builtin_corpus().unwrap_or_else(|e| panic!("{e}"));
    let small: Vec<_> = corpus.iter().step_by(4).cloned().collect();
    let f = Featurizer::new(FeatureConfig {
        dim_bits: 14,
        ..FeatureConfig::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let cfg = TrainConfig {
        epochs: 5,
        ..TrainConfig::default()
    };
    let a = train(&f, &small, &cfg).unwrap_or_else(|e| panic!("{e}"));
    let b = train(&f, &small, &cfg).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.to_bytes(), b.to_bytes());
    let c = train(&f, &small, &TrainConfig { seed: 1, ..cfg }).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(a.to_bytes(), c.to_bytes());
}

#[test]
fn training_needs_two_categories_and_matching_features() {
    let corpus = builtin_corpus().unwrap_or_else(|e| panic!("{e}"));
    let one: Vec<_> = corpus
        .iter()
        .filter(|e| e.category == Category::Drugs)
        .cloned()
        .collect();
    let f = Featurizer::new(FeatureConfig {
        dim_bits: 12,
        ..FeatureConfig::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        train(&f, &one, &TrainConfig::default()),
        Err(TextError::Training { .. })
    ));
    assert!(matches!(
        train(&f, &[], &TrainConfig::default()),
        Err(TextError::Training { .. })
    ));
    let model = shared().classifier.model().clone();
    assert!(matches!(
        Classifier::with_featurizer(model, f),
        Err(TextError::FeatureMismatch { .. })
    ));
}

#[test]
fn bad_input_is_other_with_zero_confidence_or_a_strict_error() {
    let c = &shared().classifier;
    let mut s = ClassifyScratch::new();
    for (text, issue) in [
        ("", InputIssue::Empty),
        ("   \n\t\u{3000} ", InputIssue::Empty),
        ("\u{0}\u{1}\u{7f}\u{200b}", InputIssue::Empty),
        (
            "The police station never answers the phone.",
            InputIssue::NoChinese,
        ),
        ("Полиция 123 !!!", InputIssue::NoChinese),
    ] {
        let p = c.classify_with(text, &mut s);
        assert_eq!(p.category, Category::Other, "{text:?}");
        assert_eq!(p.confidence, 0.0);
        assert!(p.needs_review);
        assert_eq!(p.issue, Some(issue), "{text:?}");
    }
    assert!(matches!(
        c.classify_strict("  ", &mut s),
        Err(TextError::EmptyInput)
    ));
    assert!(matches!(
        c.classify_strict("hello", &mut s),
        Err(TextError::NoChinese { chars: 5 })
    ));

    let long = "我家楼下天天晚上吵到半夜，".repeat(1_600);
    assert!(long.chars().count() >= 20_000);
    let p = c.classify_with(&long, &mut s);
    assert!(p.truncated);
    assert!(p.issue.is_none());
    assert!((0.0..=1.0).contains(&p.confidence));

    let mixed = "My 电动车 was stolen 昨晚 in 小区, пожалуйста help 🙏\u{202e}\u{7}";
    let p = c.classify_with(mixed, &mut s);
    assert!(p.issue.is_none());
    assert!(p.confidence.is_finite());
}

#[test]
fn batch_classification_matches_one_by_one() {
    let c = &shared().classifier;
    let texts = ["路灯坏了", "", "护照丢了怎么补办", "hello"];
    let batch = c.classify_batch(&texts);
    let single: Vec<_> = texts.iter().map(|t| c.classify(t)).collect();
    assert_eq!(batch, single);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic_and_stay_in_range(text in any::<String>()) {
        let c = &shared().classifier;
        let mut s = ClassifyScratch::new();
        let p = c.classify_with(&text, &mut s);
        prop_assert!((0.0..=1.0).contains(&p.confidence));
        prop_assert!(p.sentiment_confidence.is_finite());
        if p.issue.is_some() {
            prop_assert_eq!(p.category, Category::Other);
        }
        prop_assert_eq!(p.department.is_some(), p.category == Category::NonPolice);
    }

    #[test]
    fn arbitrary_chinese_never_panics(text in "[\\u{4e00}-\\u{9fa5}，。！？a-z0-9 ]{0,200}") {
        let c = &shared().classifier;
        let p = c.classify(&text);
        prop_assert!((0.0..=1.0).contains(&p.confidence));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_model_reader(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut b = b"MINYITXT\x01\x00\x00\x00".to_vec();
        b.extend_from_slice(&bytes);
        prop_assert!(Model::from_bytes(&b).is_err());
        prop_assert!(Model::from_bytes(&bytes).is_err());
    }

    #[test]
    fn normalisation_is_idempotent_and_capped(text in any::<String>(), cap in 1usize..300) {
        let (once, stats) = minyi_text::normalize(&text, cap);
        let (twice, _) = minyi_text::normalize(&once, cap);
        prop_assert_eq!(&once, &twice);
        prop_assert!(once.chars().count() <= cap);
        prop_assert_eq!(stats.chars_kept, once.chars().count());
        prop_assert!(!once.starts_with(' ') && !once.ends_with(' '));
    }

    #[test]
    fn similarity_is_symmetric_and_self_similar(a in "[\\u{4e00}-\\u{4fff}]{2,40}", b in "[\\u{4e00}-\\u{4fff}，]{0,40}") {
        let ab = dedup::compare(&a, &b, 2_000);
        let ba = dedup::compare(&b, &a, 2_000);
        prop_assert!((ab.cosine - ba.cosine).abs() < 1e-5);
        prop_assert_eq!(ab.simhash_distance, ba.simhash_distance);
        let aa = dedup::compare(&a, &a, 2_000);
        prop_assert!(aa.cosine > 0.999 && aa.simhash_distance == 0);
        prop_assert!((0.0..=1.0).contains(&ab.cosine));
    }

    #[test]
    fn clustering_arbitrary_batches_never_panics(texts in proptest::collection::vec(any::<String>(), 0..12)) {
        let items: Vec<DedupItem<'_>> = texts.iter().map(|t| DedupItem::text(t)).collect();
        let c = dedup::cluster(&items, &DedupConfig::default());
        prop_assert_eq!(c.group_of.len(), items.len());
        prop_assert_eq!(c.groups.iter().map(Vec::len).sum::<usize>(), items.len());
    }
}

/// The near-duplicate threshold is re-measured on the labelled pairs. Reported in the
/// README: precision and recall at DEFAULT_THRESHOLD.
#[test]
fn near_duplicate_threshold_is_calibrated_on_labelled_pairs() {
    let pairs = builtin_pairs().unwrap_or_else(|e| panic!("{e}"));
    assert!(pairs.len() >= 60);
    assert!(pairs.iter().filter(|p| p.duplicate).count() >= 30);
    let raw: Vec<(&str, &str)> = pairs.iter().map(|p| (p.a.as_str(), p.b.as_str())).collect();
    let cfg = DedupConfig::default();
    let links = dedup::score_pairs(&raw, &cfg);
    let scored: Vec<_> = links
        .into_iter()
        .zip(pairs.iter().map(|p| p.duplicate))
        .collect();
    let at_default = dedup::measure(&scored, &cfg);
    let best = dedup::calibrate(&scored, &cfg);
    eprintln!("at default {at_default:?}\nbest {best:?}");
    for step in (10..=40).step_by(2) {
        let m = dedup::measure(
            &scored,
            &DedupConfig {
                threshold: step as f32 / 100.0,
                ..cfg
            },
        );
        eprintln!(
            "  threshold {:.2}: precision {:.3} recall {:.3} f1 {:.3}",
            m.threshold, m.precision, m.recall, m.f1
        );
    }
    // Measured: precision 0.816, recall 1.000 at 0.20 on 80 pairs (the background
    // idf comes from the corpus, so the optimum drifts a little as the corpus grows).
    assert!(at_default.precision >= 0.78, "{at_default:?}");
    assert!(at_default.recall >= 0.95, "{at_default:?}");
    assert!(
        (best.threshold - cfg.threshold).abs() <= 0.05,
        "calibration moved: {best:?}"
    );
}

#[test]
fn one_event_in_different_words_clusters_by_area_and_day() {
    let items = [
        DedupItem {
            text: "青石村村口的路灯坏了一个多月了，晚上黑得很",
            area: Some("qingshi"),
            day: Some(100),
        },
        DedupItem {
            text: "青石村口那几盏路灯一直不亮，已经个把月了，走夜路老火",
            area: Some("qingshi"),
            day: Some(103),
        },
        DedupItem {
            text: "青石村村口的路灯坏了一个多月了，晚上黑得很",
            area: Some("hewan"),
            day: Some(100),
        },
        DedupItem {
            text: "身份证丢了补办要带什么材料",
            area: Some("qingshi"),
            day: Some(101),
        },
    ];
    let c = dedup::cluster(&items, &DedupConfig::default());
    assert_eq!(c.groups, vec![vec![0, 1], vec![2], vec![3]]);
}

#[test]
fn classifier_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Classifier>();
    assert_send_sync::<Model>();
    let c = &shared().classifier;
    let texts = ["护照丢了怎么补办", "楼下烧烤太吵了"];
    let expected = c.classify_batch(&texts);
    let got = std::thread::scope(|s| {
        let handles: Vec<_> = texts
            .iter()
            .map(|t| s.spawn(move || c.classify(t)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("thread")))
            .collect::<Vec<_>>()
    });
    assert_eq!(got, expected);
}

#[test]
fn candidate_generation_loses_no_pair_above_the_threshold() {
    let pairs = builtin_pairs().unwrap_or_else(|e| panic!("{e}"));
    let corpus = builtin_corpus().unwrap_or_else(|e| panic!("{e}"));
    let mut texts: Vec<&str> = pairs
        .iter()
        .flat_map(|p| [p.a.as_str(), p.b.as_str()])
        .collect();
    texts.extend(corpus.iter().step_by(20).map(|e| e.text.as_str()));
    texts.extend(["你好", "你好", "在吗"]);
    let cfg = DedupConfig::default();
    let mut fast: Vec<(usize, usize)> = dedup::candidate_pairs(&texts, cfg.max_chars)
        .into_iter()
        .filter(|l| dedup::is_duplicate(l, &cfg))
        .map(|l| (l.a, l.b))
        .collect();
    fast.sort_unstable();
    let prepared: Vec<_> = texts
        .iter()
        .map(|t| dedup::prepare(t, cfg.max_chars))
        .collect();
    let mut brute = Vec::new();
    for (i, a) in prepared.iter().enumerate() {
        for (j, b) in prepared.iter().enumerate().skip(i + 1) {
            if dedup::is_duplicate(&dedup::compare_prepared(a, b), &cfg) {
                brute.push((i, j));
            }
        }
    }
    assert!(brute.len() >= 40, "{}", brute.len());
    assert_eq!(fast, brute);
}
