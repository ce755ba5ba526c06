//! minyi-text: Chinese text analysis for opinions — segmentation, category, sentiment,
//! urgency and department classification, and near-duplicate detection.
//!
//! Pure: it depends on nothing of ours and must not do IO beyond parsing bytes it is
//! handed (model files are read by the caller), async or SQL.
