//! Turning questionnaire answers into the numbers the estimators take: a rate (share of
//! the top k answers on a scale) or a weighted index, with an explicit rule for "don't
//! know" and for missing answers.
//!
//! This is the documented hook for "don't know": [`score`] returns, per respondent, a
//! value and whether the respondent counts (`answered`); pass `answered` as the domain
//! mask to [`crate::survey::Design::mean`] or `proportion`, which then treats the
//! excluded respondents exactly as R's `na.rm = TRUE` does (a domain of the full design,
//! not a smaller design). Answers outside the scale are an error naming the respondent;
//! they are never silently dropped.

use serde::{Deserialize, Serialize};

use crate::input::InputError;

/// One respondent's answer to a scaled question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// A category on the scale, 1 = worst … `scale_max` = best.
    Scale(u8),
    DontKnow,
    /// Not asked, refused or not recorded.
    Missing,
}

/// How answers become a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scoring {
    /// 1 when the answer is among the top `top` categories of a 1..=`scale_max`
    /// scale, else 0 (for example satisfied or very satisfied on a 5-point scale).
    Rate { scale_max: u8, top: u8 },
    /// `weights[c − 1]` for category c (for example 0, 25, 50, 75, 100).
    Index { weights: Vec<f64> },
}

/// What a "don't know" counts as.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DontKnowRule {
    /// Left out of the indicator (outside the domain).
    Exclude,
    /// Counted with the given value (for example 0 for a rate: not satisfied).
    Value(f64),
}

/// Scored answers: `values[i]` is meaningful only where `answered[i]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub values: Vec<f64>,
    pub answered: Vec<bool>,
    pub dont_know: usize,
    pub missing: usize,
}

fn check_scoring(scoring: &Scoring) -> Result<u8, InputError> {
    match scoring {
        Scoring::Rate { scale_max, top } => {
            if *scale_max < 2 || *top == 0 || top >= scale_max {
                return Err(InputError::OutOfRange {
                    name: "scoring",
                    detail: "rate needs a scale of 2 or more and 1 <= top < scale_max",
                });
            }
            Ok(*scale_max)
        }
        Scoring::Index { weights } => {
            crate::input::check_finite("weights", weights)?;
            if weights.len() < 2 || weights.len() > usize::from(u8::MAX) {
                return Err(InputError::OutOfRange {
                    name: "weights",
                    detail: "index needs between 2 and 255 category weights",
                });
            }
            Ok(weights.len() as u8)
        }
    }
}

/// Score answers. Missing answers are always excluded; "don't know" follows `rule`.
pub fn score(
    answers: &[Answer],
    scoring: &Scoring,
    rule: DontKnowRule,
) -> Result<Scored, InputError> {
    let scale_max = check_scoring(scoring)?;
    if let DontKnowRule::Value(v) = rule
        && !v.is_finite()
    {
        return Err(InputError::NotFinite {
            name: "dont_know_value",
            index: 0,
        });
    }
    let mut out = Scored {
        values: Vec::with_capacity(answers.len()),
        answered: Vec::with_capacity(answers.len()),
        dont_know: 0,
        missing: 0,
    };
    for (index, a) in answers.iter().enumerate() {
        let (value, counted) = match a {
            Answer::Scale(c) => {
                if *c == 0 || *c > scale_max {
                    return Err(InputError::OutsideSupport {
                        name: "answers",
                        index,
                    });
                }
                let v = match scoring {
                    Scoring::Rate { scale_max, top } => {
                        if *c > scale_max - top {
                            1.0
                        } else {
                            0.0
                        }
                    }
                    Scoring::Index { weights } => weights.get(usize::from(*c) - 1).copied().ok_or(
                        InputError::OutsideSupport {
                            name: "answers",
                            index,
                        },
                    )?,
                };
                (v, true)
            }
            Answer::DontKnow => {
                out.dont_know += 1;
                match rule {
                    DontKnowRule::Exclude => (0.0, false),
                    DontKnowRule::Value(v) => (v, true),
                }
            }
            Answer::Missing => {
                out.missing += 1;
                (0.0, false)
            }
        };
        out.values.push(value);
        out.answered.push(counted);
    }
    Ok(out)
}
