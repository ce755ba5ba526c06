//! minyi-text: Chinese text analysis for opinions — normalisation, segmentation and
//! hashed features, category / sentiment / urgency / department classification with
//! calibrated confidence, held-out evaluation, the project's labelled corpus, and
//! near-duplicate detection.
//!
//! Pure: it depends on nothing of ours and does no IO beyond parsing bytes it is
//! handed (model files are read and written by the caller), no async, no SQL.
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
pub mod model;
pub mod normalize;
mod rng;

pub use corpus::{Example, LabelledPair, builtin_corpus, builtin_pairs, parse_jsonl, parse_pairs};
pub use dedup::{Calibration, Clustering, DedupConfig, DedupItem, Link, cluster, compare};
pub use error::TextError;
pub use eval::{ClassMetrics, EvalConfig, Evaluation, HeadReport, evaluate, score};
pub use features::{FeatureConfig, Featurizer, Scratch};
pub use labels::{Category, Department, LabelKind, Sentiment, Urgency};
pub use model::{
    Classifier, ClassifyScratch, DEFAULT_REVIEW_THRESHOLD, FORMAT_VERSION, InputIssue, Model,
    Prediction, TrainConfig, train,
};
pub use normalize::{InputStats, normalize};
