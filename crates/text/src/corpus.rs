//! The labelled corpus: the example type, a strict JSONL reader that names the bad line,
//! and the project's own corpus (crates/text/corpus/*.jsonl) compiled into the crate so
//! `minyi model train` and the tests need no files at run time.

use crate::error::TextError;
use crate::labels::{Category, Department, Sentiment, Urgency};

/// One labelled text.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Example {
    pub text: String,
    pub category: Category,
    pub sentiment: Sentiment,
    pub urgency: Urgency,
    /// Required for `non_police`, absent otherwise.
    pub department: Option<Department>,
    /// Provenance, e.g. `handwritten:v1` or `analyst_correction:2026-11`.
    pub source: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExample {
    text: String,
    category: String,
    sentiment: String,
    urgency: String,
    #[serde(default)]
    department: Option<String>,
    source: String,
}

/// A labelled pair of texts for near-duplicate calibration.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledPair {
    pub a: String,
    pub b: String,
    /// Whether the two describe the same event.
    pub duplicate: bool,
    pub source: String,
}

fn line_err(line: usize, reason: String) -> TextError {
    TextError::CorpusLine { line, reason }
}

fn label<T>(line: usize, r: Result<T, TextError>) -> Result<T, TextError> {
    r.map_err(|e| line_err(line, e.to_string()))
}

/// Parses one example line; `line` is 1-based and only used in errors.
pub fn parse_example(json: &str, line: usize) -> Result<Example, TextError> {
    let raw: RawExample = serde_json::from_str(json).map_err(|e| line_err(line, e.to_string()))?;
    let category = label(line, Category::parse(&raw.category))?;
    let sentiment = label(line, Sentiment::parse(&raw.sentiment))?;
    let urgency = label(line, Urgency::parse(&raw.urgency))?;
    let department = match raw.department.as_deref() {
        None | Some("") => None,
        Some(d) => Some(label(line, Department::parse(d))?),
    };
    match (category, department) {
        (Category::NonPolice, None) => {
            return Err(line_err(line, "non_police needs a department".into()));
        }
        (c, Some(_)) if c != Category::NonPolice => {
            return Err(line_err(line, format!("department given for category {c}")));
        }
        _ => {}
    }
    if raw.text.trim().is_empty() {
        return Err(line_err(line, "text is empty".into()));
    }
    if raw.source.trim().is_empty() {
        return Err(line_err(line, "source is empty".into()));
    }
    Ok(Example {
        text: raw.text,
        category,
        sentiment,
        urgency,
        department,
        source: raw.source,
    })
}

/// Parses JSONL examples; blank lines are skipped, any bad line is an error naming it.
pub fn parse_jsonl(text: &str) -> Result<Vec<Example>, TextError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_example(l, i + 1))
        .collect()
}

/// Parses JSONL labelled pairs.
pub fn parse_pairs(text: &str) -> Result<Vec<LabelledPair>, TextError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| line_err(i + 1, e.to_string())))
        .collect()
}

/// The corpus files shipped with the crate, by name.
pub const CORPUS_FILES: &[(&str, &str)] = &[
    (
        "crime_report.jsonl",
        include_str!("../corpus/crime_report.jsonl"),
    ),
    (
        "case_progress.jsonl",
        include_str!("../corpus/case_progress.jsonl"),
    ),
    (
        "public_order.jsonl",
        include_str!("../corpus/public_order.jsonl"),
    ),
    ("drugs.jsonl", include_str!("../corpus/drugs.jsonl")),
    ("fraud.jsonl", include_str!("../corpus/fraud.jsonl")),
    ("traffic.jsonl", include_str!("../corpus/traffic.jsonl")),
    (
        "vehicle_admin.jsonl",
        include_str!("../corpus/vehicle_admin.jsonl"),
    ),
    ("household.jsonl", include_str!("../corpus/household.jsonl")),
    (
        "exit_entry.jsonl",
        include_str!("../corpus/exit_entry.jsonl"),
    ),
    ("conduct.jsonl", include_str!("../corpus/conduct.jsonl")),
    (
        "emergency_110.jsonl",
        include_str!("../corpus/emergency_110.jsonl"),
    ),
    ("praise.jsonl", include_str!("../corpus/praise.jsonl")),
    (
        "suggestion.jsonl",
        include_str!("../corpus/suggestion.jsonl"),
    ),
    (
        "non_police.jsonl",
        include_str!("../corpus/non_police.jsonl"),
    ),
    ("other.jsonl", include_str!("../corpus/other.jsonl")),
];

/// The labelled duplicate / non-duplicate pairs shipped with the crate.
pub const PAIRS_FILE: &str = include_str!("../corpus/pairs.jsonl");

/// The whole shipped corpus, in file order; an error names the file and line.
pub fn builtin_corpus() -> Result<Vec<Example>, TextError> {
    let mut all = Vec::new();
    for (name, text) in CORPUS_FILES {
        let mut part = parse_jsonl(text).map_err(|e| match e {
            TextError::CorpusLine { line, reason } => TextError::CorpusLine {
                line,
                reason: format!("{name}: {reason}"),
            },
            other => other,
        })?;
        all.append(&mut part);
    }
    Ok(all)
}

/// The shipped labelled pairs.
pub fn builtin_pairs() -> Result<Vec<LabelledPair>, TextError> {
    parse_pairs(PAIRS_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_line_parses_and_bad_lines_name_the_line() {
        let ok = r#"{"text":"路灯坏了","category":"non_police","sentiment":"negative","urgency":"normal","department":"utilities","source":"handwritten:v1"}"#;
        assert!(parse_example(ok, 1).is_ok());
        let text = format!("{ok}\n\n{}", ok.replace("utilities", "police"));
        match parse_jsonl(&text) {
            Err(TextError::CorpusLine { line: 3, .. }) => {}
            other => panic!("{other:?}"),
        }
        let no_dept = ok.replace(r#""department":"utilities","#, "");
        assert!(matches!(
            parse_example(&no_dept, 9),
            Err(TextError::CorpusLine { line: 9, .. })
        ));
        let stray = r#"{"text":"x","category":"fraud","sentiment":"negative","urgency":"normal","department":"land","source":"s"}"#;
        assert!(parse_example(stray, 1).is_err());
        assert!(parse_example("{not json", 1).is_err());
    }
}
