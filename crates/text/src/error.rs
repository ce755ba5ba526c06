//! The crate's error type. Each variant has a stable code (`TextError::code`) for the
//! web layer to translate; the Display text is for logs and developers.

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TextError {
    /// A label code that is not in the vocabulary.
    #[error("unknown {kind} code {got:?}")]
    UnknownLabel { kind: &'static str, got: String },
    /// A corpus or pairs line that could not be read.
    #[error("corpus line {line}: {reason}")]
    CorpusLine { line: usize, reason: String },
    /// The input text was empty or whitespace only (strict classification only).
    #[error("input text is empty or whitespace only")]
    EmptyInput,
    /// The input text had no Chinese characters (strict classification only).
    #[error("input text has no Chinese characters ({chars} characters of other scripts)")]
    NoChinese { chars: usize },
    /// The bytes are not a minyi text model at all.
    #[error("not a minyi text model: {reason}")]
    ForeignModel { reason: &'static str },
    /// A minyi text model of a format version this build cannot read.
    #[error("model format version {found} is not supported (this build reads version {supported})")]
    UnsupportedModelVersion { found: u32, supported: u32 },
    /// A minyi text model that is damaged.
    #[error("corrupt model at byte {offset}: {reason}")]
    CorruptModel { offset: usize, reason: String },
    /// A configuration value out of range.
    #[error("invalid configuration {field}: {reason}")]
    InvalidConfig { field: &'static str, reason: String },
    /// Training cannot proceed with the examples given.
    #[error("cannot train: {reason}")]
    Training { reason: String },
    /// The model and the featurizer were built with different feature settings.
    #[error("model features {model} do not match featurizer features {featurizer}")]
    FeatureMismatch { model: String, featurizer: String },
}

impl TextError {
    /// A stable code naming the kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            TextError::UnknownLabel { .. } => "unknown_label",
            TextError::CorpusLine { .. } => "corpus_line",
            TextError::EmptyInput => "empty_input",
            TextError::NoChinese { .. } => "no_chinese",
            TextError::ForeignModel { .. } => "foreign_model",
            TextError::UnsupportedModelVersion { .. } => "unsupported_model_version",
            TextError::CorruptModel { .. } => "corrupt_model",
            TextError::InvalidConfig { .. } => "invalid_config",
            TextError::Training { .. } => "training",
            TextError::FeatureMismatch { .. } => "feature_mismatch",
        }
    }
}
