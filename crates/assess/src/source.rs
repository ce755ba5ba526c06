//! The catalogue of indicator and jurisdiction source codes a scheme may name.
//!
//! A source code says where the number behind an indicator comes from (the survey, the
//! window rating devices, callbacks, imported business or team-building metrics). The
//! app fills values by these codes; a scheme naming anything else is rejected so a typo
//! cannot silently score every unit as "missing".

/// Fixed source codes computed by minyi itself.
pub const FIXED_SOURCES: &[&str] = &[
    "survey.security",
    "survey.satisfaction",
    "survey.chief_awareness",
    "ratings.satisfaction",
    "callbacks.coverage",
    "callbacks.satisfaction",
    "opinions.timeliness",
    "opinions.verdict_satisfaction",
    "hard.help_resolution",
    "hard.permit_on_time",
    "hard.timely_filing",
    "hard.loss_recovery",
];

/// Prefixes of imported metrics whose names are chosen by the bureau (CSV imports).
pub const OPEN_INDICATOR_PREFIXES: &[&str] = &["business.", "team."];

/// Prefix of the per-unit public-safety figures that jurisdiction conditions read.
pub const JURISDICTION_PREFIX: &str = "jurisdiction.";

/// True when `s` is one or more dot-separated segments of `[a-z][a-z0-9_]*`.
fn is_dotted_snake(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|seg| {
            let mut chars = seg.chars();
            matches!(chars.next(), Some('a'..='z'))
                && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        })
}

/// True when `s` is a valid identifier for scheme ids (`[a-z][a-z0-9_]*`, dots allowed
/// so ids can mirror source codes).
pub fn is_valid_id(s: &str) -> bool {
    is_dotted_snake(s)
}

/// True when an indicator may use this source code.
pub fn is_indicator_source(code: &str) -> bool {
    FIXED_SOURCES.contains(&code)
        || OPEN_INDICATOR_PREFIXES
            .iter()
            .any(|p| code.strip_prefix(p).is_some_and(is_dotted_snake))
}

/// True for survey sources, the only ones with a shrunk/direct estimate choice.
pub fn is_survey_source(code: &str) -> bool {
    code.starts_with("survey.")
}

/// True when a jurisdiction condition may read this code, e.g.
/// `jurisdiction.drug_users_growth` or `jurisdiction.crime_growth.robbery`.
pub fn is_jurisdiction_source(code: &str) -> bool {
    code.strip_prefix(JURISDICTION_PREFIX)
        .is_some_and(is_dotted_snake)
}
