//! minyi-text: Chinese text analysis for opinions — normalisation, segmentation and
//! hashed features, category / sentiment / urgency / department classification with
//! calibrated confidence, held-out evaluation, the project's labelled corpus, and
//! near-duplicate detection.
//!
//! Pure: it depends on nothing of ours and does no IO beyond parsing bytes it is
//! handed (model files are read and written by the caller), no async, no SQL.
//!
//! What the CLI needs:
//! - `minyi model train`: [`builtin_corpus`] (plus any extra JSONL read with
//!   [`parse_jsonl`], e.g. analysts' corrections) → [`train`] → [`Model::to_bytes`].
//! - `minyi model eval`: [`evaluate`] → [`Evaluation`] (serde-serialisable: per head,
//!   per-class precision / recall / F1, the confusion matrix, calibration error); or
//!   [`score`] a saved model on a labelled file.
//! - `minyi text classify`: [`Classifier::from_bytes`] once, then
//!   [`Classifier::classify_with`] per line with one [`ClassifyScratch`] per thread;
//!   [`Prediction`] serialises to `category`, `sentiment`, `urgency`, `department`,
//!   `confidence` (plus per-head confidences, `needs_review`, `issue`, `truncated`).
//! - near-duplicates: [`cluster`] a batch with area and day keys, or
//!   [`dedup::prepare`] / [`dedup::compare_prepared`] against stored matters.
//! - triage at intake without a model: [`rules::classify`] (keyword tables, the matched
//!   words as the explanation).
//!
//! Typical use:
//! ```no_run
//! use minyi_text::{Classifier, FeatureConfig, Featurizer, TrainConfig, builtin_corpus, train};
//! let featurizer = Featurizer::new(FeatureConfig::default())?;
//! let model = train(&featurizer, &builtin_corpus()?, &TrainConfig::default())?;
//! let bytes = model.to_bytes();
//! let classifier = Classifier::with_featurizer(minyi_text::Model::from_bytes(&bytes)?, featurizer)?;
//! let p = classifier.classify("我的电动车昨晚在小区门口被偷了");
//! # Ok::<(), minyi_text::TextError>(())
//! ```

pub mod corpus;
pub mod dedup;
pub mod error;
pub mod eval;
pub mod features;
pub mod labels;
pub mod mask;
pub mod model;
pub mod normalize;
mod rng;
pub mod rules;

pub use corpus::{Example, LabelledPair, builtin_corpus, builtin_pairs, parse_jsonl, parse_pairs};
pub use dedup::{Calibration, Clustering, DedupConfig, DedupItem, Link, cluster, compare};
pub use error::TextError;
pub use eval::{ClassMetrics, EvalConfig, Evaluation, HeadReport, evaluate, held_out_split, score};
pub use features::{FeatureConfig, Featurizer, Scratch};
pub use labels::{Category, Department, LabelKind, Sentiment, Urgency};
pub use model::{
    Classifier, ClassifyScratch, DEFAULT_REVIEW_THRESHOLD, FORMAT_VERSION, InputIssue, Model,
    Prediction, TrainConfig, train,
};
pub use normalize::{InputStats, normalize};
