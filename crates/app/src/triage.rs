//! Triage of a new opinion: category, sentiment, urgency, police or not, the linked
//! department, with a confidence and an explanation an analyst can check. One interface
//! over two classifiers: the keyword rules (`minyi_text::rules`, the default) and the
//! trained text model when `[triage] model` names a model file. A model answer below the
//! review threshold falls back to the rules and is marked for review.
//!
//! Also the routing that follows from triage ([`route`]): a conduct complaint goes to the
//! supervising county bureau, a non-police matter to its linked department, urgent
//! matters get the same-day deadline. It decides; it does not store (intake does).
//! It must not fail intake: whatever the text, a triage comes back.

use std::path::{Path, PathBuf};

use minyi_core::opinion::{Escalation, default_response_working_days};
use minyi_core::taxonomy::{Category, DepartmentKind, Sentiment, Urgency};
use minyi_store::TriageRecord;

use crate::config::ConfigError;
use crate::{App, Result};

/// Which classifier answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Rules,
    Model,
}

impl Source {
    pub fn code(self) -> &'static str {
        match self {
            Source::Rules => "rules",
            Source::Model => "model",
        }
    }
}

/// What triage says about one text.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Triage {
    pub category: Category,
    pub sentiment: Sentiment,
    pub urgency: Urgency,
    /// Whether the police handle it; false exactly for `non_police`.
    pub police_matter: bool,
    /// The linked department for a non-police matter.
    pub department: Option<DepartmentKind>,
    /// Confidence of the category, 0 to 1.
    pub confidence: f32,
    /// An analyst should confirm the category.
    pub needs_review: bool,
    pub source: Source,
    /// Why: the matched words, or the model's probability (and the fallback, if any).
    pub explanation: String,
}

/// `[triage]` and `[merge]` settings (see docs/formats.md).
#[derive(Debug, Clone, PartialEq)]
pub struct TriageConfig {
    /// A model file written by `minyi model train`; none: the keyword rules.
    pub model: Option<PathBuf>,
    /// Model answers below this confidence fall back to the rules and need review.
    pub review_threshold: f32,
    /// Near-duplicates are looked for among matters received this many days before.
    pub merge_window_days: i64,
    /// Texts at or above this similarity are proposed for merging.
    pub merge_threshold: f32,
}

impl Default for TriageConfig {
    fn default() -> Self {
        TriageConfig {
            model: None,
            review_threshold: minyi_text::DEFAULT_REVIEW_THRESHOLD,
            merge_window_days: 7,
            merge_threshold: minyi_text::dedup::DEFAULT_THRESHOLD,
        }
    }
}

/// The `[triage]` table of `minyi.toml`.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriageFile {
    pub model: Option<PathBuf>,
    pub review_threshold: Option<f32>,
}

/// The `[merge]` table of `minyi.toml`.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeFile {
    pub window_days: Option<i64>,
    pub threshold: Option<f32>,
}

impl TriageConfig {
    /// Applies the file's tables; a relative model path is relative to the file. The
    /// error names the key.
    pub fn apply_file(
        &mut self,
        file: &Path,
        triage: Option<TriageFile>,
        merge: Option<MergeFile>,
    ) -> std::result::Result<(), String> {
        if let Some(t) = triage {
            if let Some(m) = t.model {
                self.model = Some(if m.is_relative() {
                    file.parent().unwrap_or(Path::new(".")).join(m)
                } else {
                    m
                });
            }
            if let Some(v) = t.review_threshold {
                if !(0.0..=1.0).contains(&v) {
                    return Err(format!("triage.review_threshold = {v} is outside 0..=1"));
                }
                self.review_threshold = v;
            }
        }
        if let Some(m) = merge {
            if let Some(v) = m.window_days {
                if !(1..=90).contains(&v) {
                    return Err(format!("merge.window_days = {v} is outside 1..=90"));
                }
                self.merge_window_days = v;
            }
            if let Some(v) = m.threshold {
                if !(v > 0.0 && v <= 1.0) {
                    return Err(format!("merge.threshold = {v} is outside (0, 1]"));
                }
                self.merge_threshold = v;
            }
        }
        Ok(())
    }
}

/// The classifier behind triage, loaded once when minyi opens.
pub enum Classifier {
    /// The keyword rules.
    Rules,
    /// The trained model, with the rules as its fallback.
    Model(Box<minyi_text::Classifier>),
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Classifier::Rules => f.write_str("Classifier::Rules"),
            Classifier::Model(_) => f.write_str("Classifier::Model"),
        }
    }
}

impl Classifier {
    /// The configured classifier. A configured model file that is missing, unreadable or
    /// not a model this build reads is a startup error naming the file.
    pub fn load(config: &TriageConfig) -> std::result::Result<Classifier, ConfigError> {
        let Some(path) = &config.model else {
            return Ok(Classifier::Rules);
        };
        let err = |message: String| ConfigError::Key {
            key: "triage.model",
            message: format!("{}: {message}", path.display()),
        };
        let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read it: {e}")))?;
        let mut c = minyi_text::Classifier::from_bytes(&bytes).map_err(|e| {
            err(format!(
                "{e}; write one with `minyi model train` or remove the key to use the keyword rules"
            ))
        })?;
        c.set_review_threshold(config.review_threshold)
            .map_err(|e| err(e.to_string()))?;
        Ok(Classifier::Model(Box::new(c)))
    }

    /// Triage of one text. Never fails.
    pub fn classify(&self, text: &str) -> Triage {
        let rules = minyi_text::rules::classify(text);
        let from_rules = |prefix: String| Triage {
            category: core_category(rules.category),
            sentiment: core_sentiment(rules.sentiment),
            urgency: core_urgency(rules.urgency),
            police_matter: rules.police,
            department: rules.department.map(core_department),
            confidence: rules.confidence,
            needs_review: rules.needs_review() || !prefix.is_empty(),
            source: Source::Rules,
            explanation: format!("{prefix}{}", rules.explanation()),
        };
        let Classifier::Model(model) = self else {
            return from_rules(String::new());
        };
        let p = model.classify(text);
        if p.needs_review || p.issue.is_some() {
            return from_rules(format!(
                "model: {} p={:.2} below {:.2}, rules used; ",
                p.category.code(),
                p.confidence,
                model.review_threshold()
            ));
        }
        // Urgency is about people in danger: either classifier hearing it is enough.
        let urgent = p.urgency == minyi_text::Urgency::Urgent
            || rules.urgency == minyi_text::Urgency::Urgent;
        let category = core_category(p.category);
        Triage {
            category,
            sentiment: core_sentiment(p.sentiment),
            urgency: if urgent {
                Urgency::Urgent
            } else {
                Urgency::Normal
            },
            police_matter: category != Category::NonPolice,
            department: p.department.map(core_department),
            confidence: p.confidence,
            needs_review: false,
            source: Source::Model,
            explanation: format!(
                "model: {} p={:.2}; rules: {}",
                p.category.code(),
                p.confidence,
                rules.explanation()
            ),
        }
    }
}

// The text crate keeps its own copy of the vocabularies with the same codes (a test there
// pins them), so conversion is by code; an unknown code cannot occur and falls to `other`.
fn core_category(c: minyi_text::Category) -> Category {
    Category::parse(c.code()).unwrap_or(Category::Other)
}

fn core_sentiment(s: minyi_text::Sentiment) -> Sentiment {
    Sentiment::parse(s.code()).unwrap_or(Sentiment::Neutral)
}

fn core_urgency(u: minyi_text::Urgency) -> Urgency {
    Urgency::parse(u.code()).unwrap_or(Urgency::Normal)
}

fn core_department(d: minyi_text::Department) -> DepartmentKind {
    DepartmentKind::parse(d.code()).unwrap_or(DepartmentKind::Other)
}

/// Where a triaged matter goes and by when.
#[derive(Debug, Clone, PartialEq)]
pub struct Routing {
    /// The category stored: the sender's own if given, else triage's.
    pub category: Category,
    pub sentiment: Sentiment,
    pub urgency: Urgency,
    pub department: Option<DepartmentKind>,
    /// The handling unit: the area's station, or for a conduct complaint its county bureau.
    pub unit_id: Option<i64>,
    /// The linked department unit a non-police matter is routed to, if one exists.
    pub department_id: Option<i64>,
    pub escalation: Escalation,
    /// Working days to answer (0: the same day).
    pub working_days: u32,
    /// The sender's category was kept over triage's suggestion.
    pub overridden: bool,
}

/// Applies a triage to a matter placed at `station_id`: the sender's explicit category
/// wins (triage's suggestion stays in the record); a conduct complaint goes to the
/// station's supervising county bureau, never only to the station; a non-police matter
/// is routed to its linked department (the one under the same county bureau, else the
/// first of its kind, usually the city's); urgent matters are due the same day.
pub async fn apply(
    app: &App,
    t: &Triage,
    sender_category: Option<Category>,
    station_id: Option<i64>,
) -> Result<Routing> {
    let category = sender_category.unwrap_or(t.category);
    let overridden = sender_category.is_some_and(|c| c != t.category);
    let station = match station_id {
        Some(id) => app.store.unit(id).await?,
        None => None,
    };
    let county = station.as_ref().and_then(|s| s.parent_id);
    let (unit_id, escalation) = match (category, county) {
        (Category::Conduct, Some(county)) => (Some(county), Escalation::County),
        _ => (station_id, Escalation::Station),
    };
    let department = if category == Category::NonPolice {
        Some(t.department.unwrap_or(DepartmentKind::Other))
    } else {
        None
    };
    let department_id = match department {
        Some(kind) => {
            let units = app.store.department_units(kind).await?;
            units
                .iter()
                .find(|(_, parent)| county.is_some() && *parent == county)
                .or(units.first())
                .map(|(id, _)| *id)
        }
        None => None,
    };
    Ok(Routing {
        category,
        sentiment: t.sentiment,
        urgency: t.urgency,
        department,
        unit_id,
        department_id,
        escalation,
        working_days: default_response_working_days(category, t.urgency),
        overridden,
    })
}

/// The record kept beside the opinion (see `minyi_store::TriageRecord`).
pub fn record(
    t: &Triage,
    opinion_id: i64,
    overridden: bool,
    at: chrono::DateTime<chrono::Utc>,
) -> TriageRecord {
    TriageRecord {
        opinion_id,
        at,
        source: t.source.code().to_owned(),
        category: t.category,
        sentiment: t.sentiment,
        urgency: t.urgency,
        department: t.department,
        police: t.police_matter,
        confidence_permille: (t.confidence.clamp(0.0, 1.0) * 1000.0).round() as i64,
        needs_review: t.needs_review,
        explanation: t.explanation.chars().take(2000).collect(),
        overridden,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_classifier_explains_and_never_fails() {
        let c = Classifier::Rules;
        let t = c.classify("有人正在打人，快来");
        assert_eq!(t.urgency, Urgency::Urgent);
        assert_eq!(t.source, Source::Rules);
        assert!(
            t.explanation.contains("urgency=urgent("),
            "{}",
            t.explanation
        );
        let t = c.classify("老板拖欠工资三个月");
        assert_eq!(t.category, Category::NonPolice);
        assert_eq!(t.department, Some(DepartmentKind::Labour));
        assert!(!t.police_matter);
        for junk in ["", "😀", "hello", &"啊".repeat(6000)] {
            let t = c.classify(junk);
            assert_eq!(t.category, Category::Other);
            assert!(t.needs_review);
        }
    }

    #[test]
    fn a_missing_or_corrupt_model_is_a_startup_error_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("minyi-triage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = TriageConfig {
            model: Some(dir.join("absent.model")),
            ..TriageConfig::default()
        };
        let e = Classifier::load(&missing).unwrap_err().to_string();
        assert!(
            e.contains("triage.model") && e.contains("absent.model"),
            "{e}"
        );
        let bad = dir.join("bad.model");
        std::fs::write(&bad, b"not a model at all").unwrap();
        let corrupt = TriageConfig {
            model: Some(bad),
            ..TriageConfig::default()
        };
        let e = Classifier::load(&corrupt).unwrap_err().to_string();
        assert!(e.contains("bad.model") && e.contains("model"), "{e}");
        assert!(matches!(
            Classifier::load(&TriageConfig::default()),
            Ok(Classifier::Rules)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The model path end to end: a model file written like `minyi model train` does is
    /// loaded once and answers with its probability; what it is unsure of falls back to
    /// the rules and is marked for review; unreadable text never fails.
    #[test]
    fn a_trained_model_answers_and_falls_back_to_the_rules_when_unsure() {
        let featurizer = minyi_text::Featurizer::new(minyi_text::FeatureConfig::default()).unwrap();
        let corpus = minyi_text::builtin_corpus().unwrap();
        let cfg = minyi_text::TrainConfig {
            epochs: 4,
            ..minyi_text::TrainConfig::default()
        };
        let model = minyi_text::train(&featurizer, &corpus, &cfg).unwrap();
        let dir = std::env::temp_dir().join(format!("minyi-triage-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("text.model");
        std::fs::write(&path, model.to_bytes()).unwrap();
        let confident = Classifier::load(&TriageConfig {
            model: Some(path.clone()),
            review_threshold: 0.0,
            ..TriageConfig::default()
        })
        .unwrap();
        let t = confident.classify("我的电动车昨晚在小区门口被偷了，监控拍到了人");
        assert_eq!(t.source, Source::Model);
        assert!(t.explanation.starts_with("model: "), "{}", t.explanation);
        assert!(!t.needs_review);
        // Urgency heard by the rules counts even when the model answers.
        let t = confident.classify("有人正在持刀砍人，快来");
        assert_eq!(t.urgency, Urgency::Urgent);
        let unsure = Classifier::load(&TriageConfig {
            model: Some(path),
            review_threshold: 1.0,
            ..TriageConfig::default()
        })
        .unwrap();
        let t = unsure.classify("老板拖欠工资三个月");
        assert_eq!(t.source, Source::Rules);
        assert!(t.needs_review);
        assert!(t.explanation.contains("rules used"), "{}", t.explanation);
        assert_eq!(t.department, Some(DepartmentKind::Labour));
        let t = unsure.classify("🙏");
        assert_eq!((t.category, t.needs_review), (Category::Other, true));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `[triage]` and `[merge]` through the real configuration loader: read, checked,
    /// and a misspelt key in either table stops start-up naming it.
    #[test]
    fn minyi_toml_tables_reach_the_config() {
        let dir = std::env::temp_dir().join(format!("minyi-triage-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let load = |text: &str| {
            std::fs::write(dir.join(crate::config::CONFIG_FILE), text).unwrap();
            crate::Config::load(dir.clone(), None, &|_| None).map_err(|e| e.to_string())
        };
        let c = load("[triage]\nmodel = \"m/text.model\"\nreview_threshold = 0.7\n[merge]\nwindow_days = 3\nthreshold = 0.3\n").unwrap();
        assert_eq!(c.triage.model, Some(dir.join("m/text.model")));
        assert_eq!(c.triage.review_threshold, 0.7);
        assert_eq!(
            (c.triage.merge_window_days, c.triage.merge_threshold),
            (3, 0.3)
        );
        let c = load("").unwrap();
        assert_eq!(c.triage, TriageConfig::default());
        let e = load("[merge]\nwindows = 3\n").unwrap_err();
        assert!(e.contains("windows"), "{e}");
        let e = load("[merge]\nthreshold = 0\n").unwrap_err();
        assert!(e.contains("merge.threshold"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn config_tables_are_checked() {
        let mut c = TriageConfig::default();
        let f = Path::new("/etc/minyi/minyi.toml");
        c.apply_file(
            f,
            Some(TriageFile {
                model: Some("models/m.bin".into()),
                review_threshold: Some(0.6),
            }),
            Some(MergeFile {
                window_days: Some(3),
                threshold: Some(0.3),
            }),
        )
        .unwrap();
        assert_eq!(c.model, Some(PathBuf::from("/etc/minyi/models/m.bin")));
        assert_eq!((c.review_threshold, c.merge_window_days), (0.6, 3));
        let e = c
            .apply_file(
                f,
                None,
                Some(MergeFile {
                    window_days: Some(0),
                    threshold: None,
                }),
            )
            .unwrap_err();
        assert!(e.contains("merge.window_days"), "{e}");
        let e = c
            .apply_file(
                f,
                Some(TriageFile {
                    model: None,
                    review_threshold: Some(1.5),
                }),
                None,
            )
            .unwrap_err();
        assert!(e.contains("triage.review_threshold"), "{e}");
    }
}
