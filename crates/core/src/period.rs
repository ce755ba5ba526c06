//! Reporting periods of briefings (研判报告): an ISO week (`2026-W47`), a month
//! (`2026-11`) or a quarter (`2026-Q4`), as Shanghai calendar days, with the period
//! before it (what "change against the previous period" compares with).
//!
//! Parsed, not validated: a `Period` always names real days. It must not know about
//! opinions or units; it only says which days a period covers.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};

use crate::ParseError;
use crate::calendar::SHANGHAI_OFFSET_SECONDS;

/// How long a period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Week,
    Month,
    Quarter,
}

/// One reporting period: `index` is the ISO week (1–53), month (1–12) or quarter (1–4)
/// of `year` (for a week, the ISO week-numbering year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Period {
    pub kind: PeriodKind,
    pub year: i32,
    pub index: u32,
}

const WHAT: &str = "period";

fn invalid(got: &str, why: &str) -> ParseError {
    ParseError::Invalid {
        what: WHAT,
        why: format!(
            "`{got}` {why}; write a month as 2026-11, a quarter as 2026-Q4 or an ISO week as 2026-W47"
        ),
    }
}

impl Period {
    /// Reads `YYYY-MM`, `YYYY-Qn` or `YYYY-Wnn` (case-insensitive letters, surrounding
    /// spaces ignored). Years 2000–2100 only: anything else is a typo in a report.
    pub fn parse(s: &str) -> Result<Period, ParseError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(ParseError::Empty { what: WHAT });
        }
        let (y, rest) = t
            .split_once('-')
            .ok_or_else(|| invalid(t, "has no `-` after the year"))?;
        if y.len() != 4 || !y.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(t, "does not start with a four-digit year"));
        }
        let year: i32 = y.parse().map_err(|_| invalid(t, "has a bad year"))?;
        if !(2000..=2100).contains(&year) {
            return Err(invalid(t, "has a year outside 2000–2100"));
        }
        let number = |digits: &str| -> Result<u32, ParseError> {
            if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(invalid(t, "has a bad number after the year"));
            }
            digits.parse().map_err(|_| invalid(t, "has a bad number"))
        };
        let (kind, index) = match rest.as_bytes().first() {
            Some(b'q' | b'Q') => (PeriodKind::Quarter, number(&rest[1..])?),
            Some(b'w' | b'W') => (PeriodKind::Week, number(&rest[1..])?),
            _ => (PeriodKind::Month, number(rest)?),
        };
        let ok = match kind {
            PeriodKind::Month => (1..=12).contains(&index),
            PeriodKind::Quarter => (1..=4).contains(&index),
            PeriodKind::Week => {
                index >= 1 && NaiveDate::from_isoywd_opt(year, index, Weekday::Mon).is_some()
            }
        };
        if !ok {
            return Err(invalid(t, "names no such month, quarter or week"));
        }
        Ok(Period { kind, year, index })
    }

    /// The period of `kind` that holds the Shanghai day `day`.
    pub fn containing(kind: PeriodKind, day: NaiveDate) -> Period {
        match kind {
            PeriodKind::Week => {
                let w = day.iso_week();
                Period {
                    kind,
                    year: w.year(),
                    index: w.week(),
                }
            }
            PeriodKind::Month => Period {
                kind,
                year: day.year(),
                index: day.month(),
            },
            PeriodKind::Quarter => Period {
                kind,
                year: day.year(),
                index: day.month0() / 3 + 1,
            },
        }
    }

    /// The canonical code: `2026-11`, `2026-Q4`, `2026-W07`.
    pub fn code(&self) -> String {
        match self.kind {
            PeriodKind::Month => format!("{:04}-{:02}", self.year, self.index),
            PeriodKind::Quarter => format!("{:04}-Q{}", self.year, self.index),
            PeriodKind::Week => format!("{:04}-W{:02}", self.year, self.index),
        }
    }

    /// How a Chinese report names it: 2026年11月, 2026年第四季度, 2026年第47周.
    pub fn label_zh(&self) -> String {
        match self.kind {
            PeriodKind::Month => format!("{}年{}月", self.year, self.index),
            PeriodKind::Quarter => {
                let q = ["一", "二", "三", "四"][(self.index as usize - 1).min(3)];
                format!("{}年第{q}季度", self.year)
            }
            PeriodKind::Week => format!("{}年第{}周", self.year, self.index),
        }
    }

    /// The first Shanghai day of the period.
    pub fn first_day(&self) -> NaiveDate {
        let d = match self.kind {
            PeriodKind::Week => NaiveDate::from_isoywd_opt(self.year, self.index, Weekday::Mon),
            PeriodKind::Month => NaiveDate::from_ymd_opt(self.year, self.index, 1),
            PeriodKind::Quarter => NaiveDate::from_ymd_opt(self.year, (self.index - 1) * 3 + 1, 1),
        };
        // Parsing and `containing` only make periods whose first day exists.
        d.unwrap_or(NaiveDate::MIN)
    }

    /// The first Shanghai day after the period.
    pub fn end_day(&self) -> NaiveDate {
        self.next().first_day()
    }

    /// Every Shanghai day of the period, in order.
    pub fn days(&self) -> Vec<NaiveDate> {
        let end = self.end_day();
        self.first_day()
            .iter_days()
            .take_while(|d| *d < end)
            .collect()
    }

    pub fn next(&self) -> Period {
        match self.kind {
            PeriodKind::Week => Period::containing(self.kind, self.first_day() + Duration::days(7)),
            PeriodKind::Month => {
                let (y, m) = if self.index == 12 {
                    (self.year + 1, 1)
                } else {
                    (self.year, self.index + 1)
                };
                Period {
                    kind: self.kind,
                    year: y,
                    index: m,
                }
            }
            PeriodKind::Quarter => {
                let (y, q) = if self.index == 4 {
                    (self.year + 1, 1)
                } else {
                    (self.year, self.index + 1)
                };
                Period {
                    kind: self.kind,
                    year: y,
                    index: q,
                }
            }
        }
    }

    /// The period of the same kind just before this one.
    pub fn previous(&self) -> Period {
        Period::containing(self.kind, self.first_day() - Duration::days(1))
    }

    /// The instants `[from, to)` the period covers: Shanghai midnight to midnight.
    pub fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            shanghai_midnight(self.first_day()),
            shanghai_midnight(self.end_day()),
        )
    }
}

/// The instant a Shanghai day begins (Shanghai keeps no daylight saving).
pub fn shanghai_midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
        - Duration::seconds(i64::from(SHANGHAI_OFFSET_SECONDS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn parses_the_three_forms_and_says_what_is_wrong() {
        let m = Period::parse(" 2026-11 ").unwrap();
        assert_eq!((m.kind, m.year, m.index), (PeriodKind::Month, 2026, 11));
        assert_eq!(Period::parse("2026-q4").unwrap().code(), "2026-Q4");
        assert_eq!(Period::parse("2026-W7").unwrap().code(), "2026-W07");
        for bad in [
            "",
            "2026",
            "2026-13",
            "2026-Q5",
            "2026-W54",
            "26-11",
            "2026-1a",
            "１２３４-11",
            "2026-W0",
            "3000-01",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad} should be refused");
        }
        let msg = Period::parse("2026-13").unwrap_err().to_string();
        assert!(msg.contains("2026-13") && msg.contains("2026-Q4"), "{msg}");
        // 2026 has 53 ISO weeks, 2025 has 52.
        assert!(Period::parse("2026-W53").is_ok());
        assert!(Period::parse("2025-W53").is_err());
    }

    #[test]
    fn days_bounds_and_previous_periods() {
        let m = Period::parse("2026-03").unwrap();
        assert_eq!(m.days().len(), 31);
        assert_eq!(m.previous().code(), "2026-02");
        assert_eq!(m.previous().days().len(), 28);
        assert_eq!(
            Period::parse("2026-01").unwrap().previous().code(),
            "2025-12"
        );
        assert_eq!(
            Period::parse("2026-Q1").unwrap().previous().code(),
            "2025-Q4"
        );
        assert_eq!(Period::parse("2026-Q1").unwrap().days().len(), 90);
        let w = Period::parse("2026-W01").unwrap();
        assert_eq!(w.first_day(), d(2025, 12, 29));
        assert_eq!(w.previous().code(), "2025-W52");
        assert_eq!(w.days().len(), 7);
        let (from, to) = m.bounds();
        assert_eq!(from, Utc.with_ymd_and_hms(2026, 2, 28, 16, 0, 0).unwrap());
        assert_eq!(to, Utc.with_ymd_and_hms(2026, 3, 31, 16, 0, 0).unwrap());
        assert_eq!(
            Period::containing(PeriodKind::Quarter, d(2026, 11, 26)).code(),
            "2026-Q4"
        );
        assert_eq!(
            Period::parse("2026-Q4").unwrap().label_zh(),
            "2026年第四季度"
        );
        assert_eq!(Period::parse("2026-11").unwrap().label_zh(), "2026年11月");
    }
}
