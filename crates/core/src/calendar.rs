//! Working-day calendar: which days are working days, and when a deadline counted in
//! working days falls due. Opinions, callbacks and linked-department referrals are all
//! answered "within N working days", so this is what residents and staff are told.
//!
//! # The convention
//!
//! - **Working day**: Monday to Friday, except the holidays (放假) of the official
//!   schedule for that year, plus its make-up working days (调休上班: a Saturday or
//!   Sunday that is a working day).
//! - **Years without an official schedule** (not published yet, or not loaded) fall back
//!   to plain weekends: Monday to Friday are working days. [`Calendar::coverage`] says
//!   which applies to a year, so callers can warn ("2027 holidays not loaded yet").
//! - **Time zone**: days are days in Asia/Shanghai, UTC+8 all year (China has kept no
//!   daylight-saving time since 1991), whatever the server's zone.
//! - **Deadline** for a matter received at instant `t` with `n` working days
//!   ([`Calendar::deadline`]): let the receipt day be the Shanghai date of `t`; if it is
//!   not a working day, the matter counts as received on the next working day. The
//!   deadline is the end (23:59:59.999 Shanghai time) of the `n`-th working day after
//!   that day. `n = 0` ("urgent: same day") is the end of the receipt day itself, or of
//!   the next working day if the matter came in on a day off. Example: received Friday
//!   13 February 2026 with 3 working days: Saturday 14 February is a make-up working day
//!   (1), 15–23 February are the Spring Festival holiday, Tuesday 24 (2) and Wednesday 25
//!   (3): due Wednesday 25 February 2026, 23:59:59.999.
//! - **Bounded search**: no search looks more than [`SEARCH_LIMIT_DAYS`] calendar days
//!   (about ten years) past its start. A calendar that marks that many consecutive days
//!   off, or a count of working days that needs more, is an error, never a long loop.
//!
//! The calendar file format is described at the top of `data/calendar/cn-mainland.toml`,
//! which ships as [`Calendar::cn_mainland`].

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeDelta, Utc, Weekday};
use serde::Deserialize;

/// The most calendar days any one search or count may cover (about ten years).
pub const SEARCH_LIMIT_DAYS: u32 = 3660;

/// UTC offset of Asia/Shanghai in seconds: +8 hours, with no daylight-saving time.
pub const SHANGHAI_OFFSET_SECONDS: i32 = 8 * 3600;

/// Asia/Shanghai as a fixed offset. Evaluated at compile time, so it cannot fail at run time.
pub const SHANGHAI: FixedOffset = match FixedOffset::east_opt(SHANGHAI_OFFSET_SECONDS) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};

/// The shipped mainland China calendar file.
const CN_MAINLAND_TOML: &str = include_str!("../../../data/calendar/cn-mainland.toml");

/// Why a calendar file was refused, or a working-day computation could not finish.
/// Messages name the year and key and say what was wrong; [`CalendarError::code`] is a
/// stable code for the web layer to translate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("calendar file is not valid calendar TOML at {location}: {message}")]
    Toml { location: String, message: String },
    #[error(
        "calendar file: `region` `{got}` is not a code (lower-case ASCII letters, digits, `_` or `-`)"
    )]
    BadRegion { got: String },
    #[error("calendar file: `years.{key}` is not a year (expected four digits, 1900 to 2999)")]
    BadYear { key: String },
    #[error("calendar year {year}, {key}: `{got}` is not a date (expected YYYY-MM-DD)")]
    BadDate { year: i32, key: String, got: String },
    #[error("calendar year {year}, {key}: {date} is filed under the wrong year")]
    WrongYear {
        year: i32,
        key: String,
        date: NaiveDate,
    },
    #[error(
        "calendar year {year}, {key}: make-up working day {date} is a {weekday}, not a Saturday or Sunday"
    )]
    MakeupNotWeekend {
        year: i32,
        key: String,
        date: NaiveDate,
        weekday: Weekday,
    },
    #[error(
        "calendar year {year}, {key}: {date} is listed both as a holiday and as a make-up working day"
    )]
    HolidayAndMakeup {
        year: i32,
        key: String,
        date: NaiveDate,
    },
    #[error("calendar year {year}, {key}: {date} is listed more than once")]
    Duplicate {
        year: i32,
        key: String,
        date: NaiveDate,
    },
    #[error("calendar year {year}, {key}: last day {last} is before first day {first}")]
    ReversedRange {
        year: i32,
        key: String,
        first: NaiveDate,
        last: NaiveDate,
    },
    #[error(
        "calendar year {year}, {key}: `{got}` is not a code (lower-case ASCII letters, digits and `_`, starting with a letter)"
    )]
    BadCode { year: i32, key: String, got: String },
    #[error("calendar year {year}, {key}: holiday `{code}` is not listed in that year")]
    UnknownHoliday {
        year: i32,
        key: String,
        code: String,
    },
    #[error("calendar year {year}, {key}: is empty")]
    Empty { year: i32, key: String },
    #[error(
        "calendar year {year}: `published = false` but dates are listed; remove them or set `published = true`"
    )]
    UnpublishedWithDates { year: i32 },
    #[error(
        "no working day within {limit} days after {from}: the calendar marks too many days off, or the count is too large"
    )]
    SearchLimit { from: NaiveDate, limit: u32 },
    #[error("{from} to {to} spans more than {limit} days")]
    RangeTooLong {
        from: NaiveDate,
        to: NaiveDate,
        limit: u32,
    },
    #[error("date arithmetic left the supported date range after {date}")]
    OutOfRange { date: NaiveDate },
}

impl CalendarError {
    /// A stable code for the web layer to translate.
    pub fn code(&self) -> &'static str {
        match self {
            CalendarError::Toml { .. } => "calendar_toml",
            CalendarError::BadRegion { .. } => "calendar_bad_region",
            CalendarError::BadYear { .. } => "calendar_bad_year",
            CalendarError::BadDate { .. } => "calendar_bad_date",
            CalendarError::WrongYear { .. } => "calendar_wrong_year",
            CalendarError::MakeupNotWeekend { .. } => "calendar_makeup_not_weekend",
            CalendarError::HolidayAndMakeup { .. } => "calendar_holiday_and_makeup",
            CalendarError::Duplicate { .. } => "calendar_duplicate",
            CalendarError::ReversedRange { .. } => "calendar_reversed_range",
            CalendarError::BadCode { .. } => "calendar_bad_code",
            CalendarError::UnknownHoliday { .. } => "calendar_unknown_holiday",
            CalendarError::Empty { .. } => "calendar_empty_field",
            CalendarError::UnpublishedWithDates { .. } => "calendar_unpublished_with_dates",
            CalendarError::SearchLimit { .. } => "calendar_search_limit",
            CalendarError::RangeTooLong { .. } => "calendar_range_too_long",
            CalendarError::OutOfRange { .. } => "calendar_out_of_range",
        }
    }
}

/// One holiday period of an official schedule, e.g. Spring Festival 15–23 February 2026.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    code: String,
    name: String,
    first: NaiveDate,
    last: NaiveDate,
}

impl Holiday {
    /// Stable code, e.g. `spring_festival`.
    pub fn code(&self) -> &str {
        &self.code
    }
    /// Name as written in the official notice, e.g. 春节.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// First day off.
    pub fn first(&self) -> NaiveDate {
        self.first
    }
    /// Last day off (inclusive).
    pub fn last(&self) -> NaiveDate {
        self.last
    }
}

/// What kind of day a date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind<'a> {
    /// Monday to Friday, not a holiday: a working day.
    Workday,
    /// Saturday or Sunday, not a make-up working day: a day off.
    Weekend,
    /// A day off of this holiday period.
    Holiday(&'a Holiday),
    /// A Saturday or Sunday that is a working day, making up for this holiday.
    MakeupWorkday(&'a Holiday),
}

impl DayKind<'_> {
    /// Whether this is a working day.
    pub fn is_working(self) -> bool {
        matches!(self, DayKind::Workday | DayKind::MakeupWorkday(_))
    }
}

/// What a calendar knows about a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage<'a> {
    /// The official schedule is loaded; `source` says who published it and when.
    Official { source: &'a str },
    /// No official schedule: Monday to Friday are counted as working days. Callers
    /// should warn that holidays of this year are not taken into account.
    WeekendsOnly,
}

/// A working-day calendar: official schedules for some years, plain weekends for all others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    region: String,
    /// Source line of every year with an official schedule.
    sources: BTreeMap<i32, String>,
    holidays: Vec<Holiday>,
    /// Holidays and make-up days; the index points into `holidays`.
    special: BTreeMap<NaiveDate, Special>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    Off(usize),
    Makeup(usize),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    region: String,
    #[serde(default)]
    years: BTreeMap<String, YearDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearDoc {
    published: bool,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    holidays: Vec<HolidayDoc>,
    #[serde(default)]
    makeup_workdays: Vec<MakeupDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayDoc {
    code: String,
    name: String,
    first: toml::Value,
    #[serde(default)]
    last: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MakeupDoc {
    date: toml::Value,
    holiday: String,
}

impl Calendar {
    /// A calendar with no official schedule: every year counts Monday to Friday.
    pub fn weekends_only() -> Calendar {
        Calendar {
            region: "weekends_only".to_owned(),
            sources: BTreeMap::new(),
            holidays: Vec::new(),
            special: BTreeMap::new(),
        }
    }

    /// The shipped mainland China calendar (`data/calendar/cn-mainland.toml`).
    pub fn cn_mainland() -> Result<Calendar, CalendarError> {
        Calendar::from_toml(CN_MAINLAND_TOML)
    }

    /// Parses and checks a calendar file; see `data/calendar/cn-mainland.toml` for the format.
    pub fn from_toml(text: &str) -> Result<Calendar, CalendarError> {
        let doc: FileDoc = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        if !is_region_code(&doc.region) {
            return Err(CalendarError::BadRegion {
                got: shorten(&doc.region),
            });
        }
        let mut calendar = Calendar {
            region: doc.region,
            sources: BTreeMap::new(),
            holidays: Vec::new(),
            special: BTreeMap::new(),
        };
        for (key, year_doc) in doc.years {
            let year =
                parse_year(&key).ok_or_else(|| CalendarError::BadYear { key: shorten(&key) })?;
            calendar.add_year(year, year_doc)?;
        }
        Ok(calendar)
    }

    fn add_year(&mut self, year: i32, doc: YearDoc) -> Result<(), CalendarError> {
        if !doc.published {
            if doc.holidays.is_empty() && doc.makeup_workdays.is_empty() {
                return Ok(());
            }
            return Err(CalendarError::UnpublishedWithDates { year });
        }
        let source = doc.source.unwrap_or_default().trim().to_owned();
        if source.is_empty() {
            return Err(CalendarError::Empty {
                year,
                key: "source".to_owned(),
            });
        }
        let year_start = self.holidays.len();
        for (i, h) in doc.holidays.into_iter().enumerate() {
            let at = |field: &str| format!("holidays entry {}, {field}", i + 1);
            if !is_holiday_code(&h.code) {
                return Err(CalendarError::BadCode {
                    year,
                    key: at("code"),
                    got: shorten(&h.code),
                });
            }
            let name = h.name.trim().to_owned();
            if name.is_empty() {
                return Err(CalendarError::Empty {
                    year,
                    key: at("name"),
                });
            }
            let first = date_in_year(&h.first, year, &at("first"))?;
            let last = match &h.last {
                Some(value) => date_in_year(value, year, &at("last"))?,
                None => first,
            };
            if last < first {
                return Err(CalendarError::ReversedRange {
                    year,
                    key: at("last"),
                    first,
                    last,
                });
            }
            let index = self.holidays.len();
            // Both ends lie in `year`, so this visits at most 366 days.
            for date in first.iter_days().take_while(|d| *d <= last) {
                if self.special.insert(date, Special::Off(index)).is_some() {
                    return Err(CalendarError::Duplicate {
                        year,
                        key: at("first"),
                        date,
                    });
                }
            }
            self.holidays.push(Holiday {
                code: h.code,
                name,
                first,
                last,
            });
        }
        for (i, m) in doc.makeup_workdays.into_iter().enumerate() {
            let at = |field: &str| format!("makeup_workdays entry {}, {field}", i + 1);
            let date = date_in_year(&m.date, year, &at("date"))?;
            let weekday = date.weekday();
            if !matches!(weekday, Weekday::Sat | Weekday::Sun) {
                return Err(CalendarError::MakeupNotWeekend {
                    year,
                    key: at("date"),
                    date,
                    weekday,
                });
            }
            let index = self
                .holidays
                .iter()
                .enumerate()
                .skip(year_start)
                .find(|(_, h)| h.code == m.holiday)
                .map(|(index, _)| index)
                .ok_or_else(|| CalendarError::UnknownHoliday {
                    year,
                    key: at("holiday"),
                    code: shorten(&m.holiday),
                })?;
            match self.special.insert(date, Special::Makeup(index)) {
                None => {}
                Some(Special::Off(_)) => {
                    return Err(CalendarError::HolidayAndMakeup {
                        year,
                        key: at("date"),
                        date,
                    });
                }
                Some(Special::Makeup(_)) => {
                    return Err(CalendarError::Duplicate {
                        year,
                        key: at("date"),
                        date,
                    });
                }
            }
        }
        self.sources.insert(year, source);
        Ok(())
    }

    /// The calendar's region code, e.g. `cn-mainland`.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Every holiday period loaded, in file order.
    pub fn holidays(&self) -> &[Holiday] {
        &self.holidays
    }

    /// Whether `year` follows an official schedule or falls back to plain weekends.
    pub fn coverage(&self, year: i32) -> Coverage<'_> {
        match self.sources.get(&year) {
            Some(source) => Coverage::Official { source },
            None => Coverage::WeekendsOnly,
        }
    }

    /// The years from `from` to `to` (inclusive, in either order) that fall back to
    /// plain weekends: a deadline spanning them deserves a warning.
    pub fn fallback_years(&self, from: NaiveDate, to: NaiveDate) -> Vec<i32> {
        let (a, b) = if from <= to {
            (from.year(), to.year())
        } else {
            (to.year(), from.year())
        };
        (a..=b)
            .filter(|y| self.coverage(*y) == Coverage::WeekendsOnly)
            .collect()
    }

    /// What kind of day `date` is.
    pub fn day_kind(&self, date: NaiveDate) -> DayKind<'_> {
        let special = self.special.get(&date).and_then(|s| match *s {
            Special::Off(i) => self.holidays.get(i).map(DayKind::Holiday),
            Special::Makeup(i) => self.holidays.get(i).map(DayKind::MakeupWorkday),
        });
        match special {
            Some(kind) => kind,
            None if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) => DayKind::Weekend,
            None => DayKind::Workday,
        }
    }

    /// Whether `date` is a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.day_kind(date).is_working()
    }

    /// The first working day strictly after `date`.
    pub fn next_working_day(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        self.add_working_days(date, 1)
    }

    /// The `n`-th working day strictly after `date`. `n = 0` means `date` itself if it is
    /// a working day, else the next working day; so for a day off, `n = 0` and `n = 1`
    /// give the same day. Searches at most [`SEARCH_LIMIT_DAYS`] days past `date`.
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut day = date;
        let mut left = n;
        if n == 0 {
            if self.is_working_day(date) {
                return Ok(date);
            }
            left = 1;
        }
        for _ in 0..SEARCH_LIMIT_DAYS {
            day = day
                .succ_opt()
                .ok_or(CalendarError::OutOfRange { date: day })?;
            if self.is_working_day(day) {
                left -= 1;
                if left == 0 {
                    return Ok(day);
                }
            }
        }
        Err(CalendarError::SearchLimit {
            from: date,
            limit: SEARCH_LIMIT_DAYS,
        })
    }

    /// The number of working days in `(from, to]`: after `from`, up to and including
    /// `to`. Zero when `to` is not after `from`. At most [`SEARCH_LIMIT_DAYS`] apart.
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<u32, CalendarError> {
        if to <= from {
            return Ok(0);
        }
        let span = to.signed_duration_since(from).num_days();
        if span > i64::from(SEARCH_LIMIT_DAYS) {
            return Err(CalendarError::RangeTooLong {
                from,
                to,
                limit: SEARCH_LIMIT_DAYS,
            });
        }
        let count = from
            .iter_days()
            .skip(1)
            .take_while(|d| *d <= to)
            .filter(|d| self.is_working_day(*d))
            .count();
        // At most SEARCH_LIMIT_DAYS, so it fits.
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// When a matter received at `received` with `working_days` working days is due:
    /// the end (23:59:59.999 Shanghai time) of the due day, as the module doc explains.
    pub fn deadline(
        &self,
        received: DateTime<Utc>,
        working_days: u32,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let day = self.deadline_date(received, working_days)?;
        end_of_shanghai_day(day)
    }

    /// The Shanghai date on which [`Calendar::deadline`] falls due.
    pub fn deadline_date(
        &self,
        received: DateTime<Utc>,
        working_days: u32,
    ) -> Result<NaiveDate, CalendarError> {
        let receipt_day = shanghai_date(received)?;
        let counted_from = self.add_working_days(receipt_day, 0)?;
        self.add_working_days(counted_from, working_days)
    }
}

/// The Asia/Shanghai calendar date of an instant.
pub fn shanghai_date(instant: DateTime<Utc>) -> Result<NaiveDate, CalendarError> {
    instant
        .naive_utc()
        .checked_add_signed(TimeDelta::seconds(i64::from(SHANGHAI_OFFSET_SECONDS)))
        .map(|local| local.date())
        .ok_or(CalendarError::OutOfRange {
            date: instant.date_naive(),
        })
}

/// 23:59:59.999 Shanghai time on `day`, as a UTC instant.
pub fn end_of_shanghai_day(day: NaiveDate) -> Result<DateTime<Utc>, CalendarError> {
    day.and_hms_milli_opt(23, 59, 59, 999)
        .and_then(|local| {
            local.checked_sub_signed(TimeDelta::seconds(i64::from(SHANGHAI_OFFSET_SECONDS)))
        })
        .map(|utc| utc.and_utc())
        .ok_or(CalendarError::OutOfRange { date: day })
}

/// Turns a TOML or serde error into one line naming the line and column.
fn toml_error(text: &str, error: &toml::de::Error) -> CalendarError {
    let location = match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}")
        }
        None => "an unknown position".to_owned(),
    };
    let message = error
        .message()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    CalendarError::Toml { location, message }
}

fn parse_year(key: &str) -> Option<i32> {
    if key.len() != 4 || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse().ok().filter(|y| (1900..=2999).contains(y))
}

/// A date in `year`, from a TOML local date or a `YYYY-MM-DD` string.
fn date_in_year(value: &toml::Value, year: i32, key: &str) -> Result<NaiveDate, CalendarError> {
    let date = match value {
        toml::Value::String(text) => parse_iso_date(text.trim()),
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
            dt.date.and_then(|d| {
                NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
            })
        }
        _ => None,
    };
    let got = match value {
        toml::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let date = date.ok_or_else(|| CalendarError::BadDate {
        year,
        key: key.to_owned(),
        got: shorten(&got),
    })?;
    if date.year() != year {
        return Err(CalendarError::WrongYear {
            year,
            key: key.to_owned(),
            date,
        });
    }
    Ok(date)
}

fn parse_iso_date(text: &str) -> Option<NaiveDate> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !digits(y, 4) || !digits(m, 2) || !digits(d, 2) {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

fn is_holiday_code(code: &str) -> bool {
    code.len() <= 40
        && code.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_region_code(code: &str) -> bool {
    code.len() <= 40
        && code.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Outside text echoed in an error, cut so a hostile file cannot flood a log line.
fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("test dates are real dates")
    }

    /// An instant given as Shanghai wall-clock time.
    fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        let local = day(y, m, d).and_hms_opt(h, min, 0).expect("valid time");
        (local - TimeDelta::hours(8)).and_utc()
    }

    fn cn() -> Calendar {
        Calendar::cn_mainland().expect("shipped calendar parses")
    }

    fn parse_err(text: &str) -> CalendarError {
        Calendar::from_toml(text).expect_err("calendar must be refused")
    }

    /// A one-year calendar file around the given `[years.2026]` body.
    fn year_2026(body: &str) -> String {
        format!("region = \"test\"\n[years.2026]\npublished = true\nsource = \"test\"\n{body}\n")
    }

    // The DOMAIN.md table for 2026, as (code, name, first, last, days off).
    /// (month, day) in 2026.
    type MonthDay = (u32, u32);
    type HolidayRow = (&'static str, &'static str, MonthDay, MonthDay, usize);

    const HOLIDAYS_2026: [HolidayRow; 7] = [
        ("new_year", "元旦", (1, 1), (1, 3), 3),
        ("spring_festival", "春节", (2, 15), (2, 23), 9),
        ("qingming", "清明节", (4, 4), (4, 6), 3),
        ("labour_day", "劳动节", (5, 1), (5, 5), 5),
        ("dragon_boat", "端午节", (6, 19), (6, 21), 3),
        ("mid_autumn", "中秋节", (9, 25), (9, 27), 3),
        ("national_day", "国庆节", (10, 1), (10, 7), 7),
    ];

    // Make-up working days of 2026 with the weekday the notice gives them.
    const MAKEUP_2026: [(MonthDay, Weekday, &str); 6] = [
        ((1, 4), Weekday::Sun, "new_year"),
        ((2, 14), Weekday::Sat, "spring_festival"),
        ((2, 28), Weekday::Sat, "spring_festival"),
        ((5, 9), Weekday::Sat, "labour_day"),
        ((9, 20), Weekday::Sun, "national_day"),
        ((10, 10), Weekday::Sat, "national_day"),
    ];

    #[test]
    fn shipped_2026_holidays_match_the_official_table() {
        let cal = cn();
        assert_eq!(cal.region(), "cn-mainland");
        assert_eq!(cal.holidays().len(), HOLIDAYS_2026.len());
        for (h, (code, name, (fm, fd), (lm, ld), days)) in cal.holidays().iter().zip(HOLIDAYS_2026)
        {
            let first = NaiveDate::from_ymd_opt(2026, fm, fd);
            let last = NaiveDate::from_ymd_opt(2026, lm, ld);
            assert!(first.is_some() && last.is_some(), "{code}: not a real date");
            assert_eq!((h.code(), h.name()), (code, name));
            assert_eq!((Some(h.first()), Some(h.last())), (first, last), "{code}");
            let off: Vec<NaiveDate> = h
                .first()
                .iter_days()
                .take_while(|d| *d <= h.last())
                .collect();
            assert_eq!(off.len(), days, "{code}");
            for date in off {
                assert_eq!(cal.day_kind(date), DayKind::Holiday(h), "{date}");
                assert!(!cal.is_working_day(date), "{date}");
            }
        }
    }

    #[test]
    fn shipped_2026_makeup_days_are_weekends_and_working() {
        let cal = cn();
        for ((m, d), weekday, code) in MAKEUP_2026 {
            let date = day(2026, m, d);
            assert_eq!(date.weekday(), weekday, "{date}");
            match cal.day_kind(date) {
                DayKind::MakeupWorkday(h) => assert_eq!(h.code(), code, "{date}"),
                other => panic!("{date} should be a make-up working day, is {other:?}"),
            }
            assert!(cal.is_working_day(date));
        }
        // Any other weekend of 2026 stays a day off.
        assert_eq!(cal.day_kind(day(2026, 3, 7)), DayKind::Weekend);
        assert_eq!(cal.day_kind(day(2026, 3, 9)), DayKind::Workday);
    }

    #[test]
    fn shipped_2026_has_248_working_days() {
        // 261 weekdays − 19 holidays on weekdays + 6 make-up days.
        assert_eq!(
            cn().working_days_between(day(2025, 12, 31), day(2026, 12, 31)),
            Ok(248)
        );
        assert_eq!(
            Calendar::weekends_only().working_days_between(day(2025, 12, 31), day(2026, 12, 31)),
            Ok(261)
        );
    }

    #[test]
    fn coverage_is_official_for_2026_only() {
        let cal = cn();
        match cal.coverage(2026) {
            Coverage::Official { source } => {
                assert!(
                    source.contains("国务院办公厅") && source.contains("2025-11-04"),
                    "{source}"
                );
            }
            Coverage::WeekendsOnly => panic!("2026 must be covered"),
        }
        assert_eq!(cal.coverage(2027), Coverage::WeekendsOnly);
        assert_eq!(cal.coverage(2025), Coverage::WeekendsOnly);
        assert_eq!(
            Calendar::weekends_only().coverage(2026),
            Coverage::WeekendsOnly
        );
        assert_eq!(
            cal.fallback_years(day(2026, 12, 31), day(2027, 1, 1)),
            vec![2027]
        );
        assert_eq!(
            cal.fallback_years(day(2027, 1, 1), day(2025, 6, 1)),
            vec![2025, 2027]
        );
        assert!(
            cal.fallback_years(day(2026, 1, 1), day(2026, 12, 31))
                .is_empty()
        );
    }

    #[test]
    fn adding_working_days_around_every_2026_holiday() {
        let cal = cn();
        // (start, n, expected), each worked out by hand from the 2026 weekdays.
        let table = [
            // New Year: 1–3 Jan off (Thu–Sat), Sun 4 Jan worked.
            (day(2025, 12, 31), 1, day(2026, 1, 4)),
            (day(2025, 12, 31), 2, day(2026, 1, 5)),
            (day(2026, 1, 1), 1, day(2026, 1, 4)),
            // Spring Festival: Sat 14 Feb worked, 15–23 Feb off, Sat 28 Feb worked.
            (day(2026, 2, 13), 1, day(2026, 2, 14)),
            (day(2026, 2, 13), 2, day(2026, 2, 24)),
            (day(2026, 2, 13), 3, day(2026, 2, 25)),
            (day(2026, 2, 14), 1, day(2026, 2, 24)),
            (day(2026, 2, 27), 1, day(2026, 2, 28)),
            (day(2026, 2, 27), 2, day(2026, 3, 2)),
            // Qingming: 4–6 Apr (Sat–Mon).
            (day(2026, 4, 3), 1, day(2026, 4, 7)),
            // Labour Day: 1–5 May (Fri–Tue), Sat 9 May worked, Sun 10 May off.
            (day(2026, 4, 30), 1, day(2026, 5, 6)),
            (day(2026, 4, 30), 4, day(2026, 5, 9)),
            (day(2026, 4, 30), 5, day(2026, 5, 11)),
            // Dragon Boat: 19–21 Jun (Fri–Sun).
            (day(2026, 6, 18), 1, day(2026, 6, 22)),
            // Sun 20 Sep worked (for National Day), Sat 19 Sep off.
            (day(2026, 9, 18), 1, day(2026, 9, 20)),
            (day(2026, 9, 19), 1, day(2026, 9, 20)),
            // Mid-Autumn 25–27 Sep, National Day 1–7 Oct, Sat 10 Oct worked.
            (day(2026, 9, 24), 1, day(2026, 9, 28)),
            (day(2026, 9, 24), 4, day(2026, 10, 8)),
            (day(2026, 9, 24), 6, day(2026, 10, 10)),
            (day(2026, 9, 24), 7, day(2026, 10, 12)),
            (day(2026, 9, 30), 7, day(2026, 10, 15)),
            // Into 2027: plain weekends (Fri 1 Jan 2027 counts as worked).
            (day(2026, 12, 31), 1, day(2027, 1, 1)),
            (day(2026, 12, 31), 2, day(2027, 1, 4)),
        ];
        for (start, n, due) in table {
            assert_eq!(cal.add_working_days(start, n), Ok(due), "{start} + {n}");
        }
        assert_eq!(cal.next_working_day(day(2026, 2, 14)), Ok(day(2026, 2, 24)));
        assert_eq!(
            cal.next_working_day(day(2026, 10, 9)),
            Ok(day(2026, 10, 10))
        );
    }

    #[test]
    fn zero_working_days_is_the_same_or_next_working_day() {
        let cal = cn();
        let table = [
            (day(2026, 2, 13), day(2026, 2, 13)), // Friday, working
            (day(2026, 2, 14), day(2026, 2, 14)), // make-up Saturday
            (day(2026, 2, 15), day(2026, 2, 24)), // Spring Festival
            (day(2026, 3, 7), day(2026, 3, 9)),   // plain Saturday
            (day(2027, 1, 2), day(2027, 1, 4)),   // fallback year Saturday
        ];
        for (start, due) in table {
            assert_eq!(cal.add_working_days(start, 0), Ok(due), "{start}");
        }
    }

    #[test]
    fn counting_working_days() {
        let cal = cn();
        let table = [
            (day(2026, 2, 13), day(2026, 2, 28), 6), // 14, 24, 25, 26, 27, 28 Feb
            (day(2026, 9, 24), day(2026, 10, 12), 7),
            (day(2026, 2, 15), day(2026, 2, 23), 0),
            (day(2026, 2, 13), day(2026, 2, 13), 0),
            (day(2026, 3, 1), day(2026, 2, 1), 0), // backwards: empty interval
            (day(2026, 12, 31), day(2027, 1, 8), 6),
        ];
        for (from, to, n) in table {
            assert_eq!(cal.working_days_between(from, to), Ok(n), "({from}, {to}]");
        }
    }

    #[test]
    fn deadlines_in_shanghai_time() {
        let cal = cn();
        let end = |y, m, d| end_of_shanghai_day(day(y, m, d)).expect("in range");
        // (received, working days, due day)
        let table = [
            // Friday before Spring Festival, 3 working days: 14 Feb, 24 Feb, 25 Feb.
            (shanghai(2026, 2, 13, 10, 0), 3, end(2026, 2, 25)),
            // 23:30 Friday is still Friday in Shanghai (15:30 UTC).
            (shanghai(2026, 2, 13, 23, 30), 1, end(2026, 2, 14)),
            // 00:30 Saturday in Shanghai is Friday 16:30 UTC: counts from Saturday, a make-up day.
            (shanghai(2026, 2, 14, 0, 30), 1, end(2026, 2, 24)),
            // Urgent (same day) on a make-up Saturday.
            (shanghai(2026, 2, 14, 9, 0), 0, end(2026, 2, 14)),
            // Received during the holiday: counts as received Tue 24 Feb.
            (shanghai(2026, 2, 15, 9, 0), 0, end(2026, 2, 24)),
            (shanghai(2026, 2, 15, 9, 0), 1, end(2026, 2, 25)),
            // Received on a plain Saturday: counts as Monday, so 1 working day is Tuesday.
            (shanghai(2026, 3, 7, 9, 0), 1, end(2026, 3, 10)),
            // Complaint (7 working days) on the eve of National Day.
            (shanghai(2026, 9, 30, 17, 0), 7, end(2026, 10, 15)),
            // Director's mailbox, 7 working days, over Labour Day: 30 Apr, 6, 7, 8,
            // 9 (make-up Saturday), 11, 12 May.
            (shanghai(2026, 4, 29, 8, 0), 7, end(2026, 5, 12)),
            // Year boundary: 2027 falls back to weekends.
            (shanghai(2026, 12, 31, 12, 0), 1, end(2027, 1, 1)),
        ];
        for (received, n, due) in table {
            assert_eq!(cal.deadline(received, n), Ok(due), "{received} + {n}");
        }
        let due = cal
            .deadline(shanghai(2026, 12, 31, 12, 0), 1)
            .expect("in range");
        assert_eq!(due.to_rfc3339(), "2027-01-01T15:59:59.999+00:00");
        let due_day = shanghai_date(due).expect("in range");
        assert_eq!(cal.coverage(due_day.year()), Coverage::WeekendsOnly);
        assert_eq!(cal.fallback_years(day(2026, 12, 31), due_day), vec![2027]);
    }

    #[test]
    fn string_and_native_dates_are_equivalent() {
        let native = year_2026(
            "holidays = [{ code = \"x\", name = \"x\", first = 2026-03-02, last = 2026-03-03 }]\n\
             makeup_workdays = [{ date = 2026-03-07, holiday = \"x\" }]",
        );
        let text = year_2026(
            "holidays = [{ code = \"x\", name = \"x\", first = \"2026-03-02\", last = \"2026-03-03\" }]\n\
             makeup_workdays = [{ date = \"2026-03-07\", holiday = \"x\" }]",
        );
        let a = Calendar::from_toml(&native).expect("native dates parse");
        assert_eq!(Calendar::from_toml(&text), Ok(a.clone()));
        assert!(!a.is_working_day(day(2026, 3, 3)));
        assert!(a.is_working_day(day(2026, 3, 7)));
        // A one-day holiday may leave out `last`.
        let one = year_2026("holidays = [{ code = \"x\", name = \"x\", first = 2026-03-02 }]");
        let one = Calendar::from_toml(&one).expect("one-day holiday parses");
        assert_eq!(
            one.working_days_between(day(2026, 3, 1), day(2026, 3, 6)),
            Ok(4)
        );
    }

    #[test]
    fn bad_files_are_refused_with_year_and_key() {
        let holiday = |first: &str, last: &str| {
            year_2026(&format!(
                "holidays = [{{ code = \"h\", name = \"假\", first = {first}, last = {last} }}]"
            ))
        };
        let with_makeup = |date: &str| {
            year_2026(&format!(
                "holidays = [{{ code = \"h\", name = \"假\", first = 2026-01-01, last = 2026-01-03 }}]\n\
                 makeup_workdays = [{{ date = {date}, holiday = \"h\" }}]"
            ))
        };
        let cases: Vec<(String, &str, &str)> = vec![
            // (file, error code, text the message must contain)
            ("region = ".to_owned(), "calendar_toml", "line 1"),
            (year_2026("colour = 1"), "calendar_toml", "line 5"),
            (holiday("2026-02-30", "2026-03-01"), "calendar_toml", "line 5"),
            (holiday("\"2026-02-30\"", "\"2026-03-01\""), "calendar_bad_date", "year 2026, holidays entry 1, first: `2026-02-30`"),
            (holiday("\"26-3-1\"", "2026-03-01"), "calendar_bad_date", "`26-3-1`"),
            (holiday("2026-03-01T08:00:00", "2026-03-01"), "calendar_bad_date", "holidays entry 1, first"),
            (holiday("3", "2026-03-01"), "calendar_bad_date", "`3`"),
            (holiday("2026-12-31", "2027-01-01"), "calendar_wrong_year", "year 2026, holidays entry 1, last: 2027-01-01"),
            (holiday("2026-03-05", "2026-03-01"), "calendar_reversed_range", "last day 2026-03-01 is before first day 2026-03-05"),
            (with_makeup("2026-01-05"), "calendar_makeup_not_weekend", "makeup_workdays entry 1, date: make-up working day 2026-01-05 is a Mon"),
            (with_makeup("2026-01-03"), "calendar_holiday_and_makeup", "year 2026, makeup_workdays entry 1, date: 2026-01-03"),
            (with_makeup("2025-12-27"), "calendar_wrong_year", "2025-12-27"),
            (
                year_2026(
                    "holidays = [{ code = \"a\", name = \"甲\", first = 2026-03-02, last = 2026-03-04 },\n\
                     { code = \"b\", name = \"乙\", first = 2026-03-04 }]",
                ),
                "calendar_duplicate",
                "holidays entry 2, first: 2026-03-04 is listed more than once",
            ),
            (
                year_2026(
                    "holidays = [{ code = \"a\", name = \"甲\", first = 2026-03-02 }]\n\
                     makeup_workdays = [{ date = 2026-03-07, holiday = \"a\" }, { date = 2026-03-07, holiday = \"a\" }]",
                ),
                "calendar_duplicate",
                "makeup_workdays entry 2, date: 2026-03-07",
            ),
            (
                year_2026(
                    "holidays = [{ code = \"a\", name = \"甲\", first = 2026-03-02 }]\n\
                     makeup_workdays = [{ date = 2026-03-07, holiday = \"b\" }]",
                ),
                "calendar_unknown_holiday",
                "makeup_workdays entry 1, holiday: holiday `b`",
            ),
            (holiday_code("Spring"), "calendar_bad_code", "holidays entry 1, code: `Spring`"),
            (
                year_2026("holidays = [{ code = \"a\", name = \" \", first = 2026-03-02 }]"),
                "calendar_empty_field",
                "holidays entry 1, name",
            ),
            (
                "region = \"t\"\n[years.2026]\npublished = true\n".to_owned(),
                "calendar_empty_field",
                "year 2026, source",
            ),
            (
                "region = \"t\"\n[years.2027]\npublished = false\nholidays = [{ code = \"a\", name = \"甲\", first = 2027-01-01 }]\n".to_owned(),
                "calendar_unpublished_with_dates",
                "year 2027",
            ),
            ("region = \"t\"\n[years.26]\npublished = false\n".to_owned(), "calendar_bad_year", "years.26"),
            ("region = \"T T\"\n".to_owned(), "calendar_bad_region", "`T T`"),
        ];
        for (text, code, needle) in cases {
            let err = parse_err(&text);
            let message = err.to_string();
            assert_eq!(err.code(), code, "{message}\n--- file:\n{text}");
            assert!(message.contains(needle), "`{message}` lacks `{needle}`");
            assert!(!message.contains('\n'), "one line: {message}");
        }
    }

    fn holiday_code(code: &str) -> String {
        year_2026(&format!(
            "holidays = [{{ code = \"{code}\", name = \"x\", first = 2026-03-02 }}]"
        ))
    }

    #[test]
    fn an_unpublished_year_without_dates_is_weekends_only() {
        let cal = Calendar::from_toml("region = \"t\"\n[years.2027]\npublished = false\n")
            .expect("parses");
        assert_eq!(cal.coverage(2027), Coverage::WeekendsOnly);
        assert!(cal.is_working_day(day(2027, 1, 1)));
    }

    #[test]
    fn searches_are_bounded() {
        // Eleven years of nothing but holidays: more than SEARCH_LIMIT_DAYS days off.
        let mut text = String::from("region = \"closed\"\n");
        for year in 2026..=2036 {
            text.push_str(&format!(
                "[years.{year}]\npublished = true\nsource = \"synthetic\"\n\
                 holidays = [{{ code = \"closed\", name = \"x\", first = {year}-01-01, last = {year}-12-31 }}]\n"
            ));
        }
        let cal = Calendar::from_toml(&text).expect("pathological but well-formed");
        let limit = CalendarError::SearchLimit {
            from: day(2026, 1, 1),
            limit: SEARCH_LIMIT_DAYS,
        };
        assert_eq!(cal.add_working_days(day(2026, 1, 1), 1), Err(limit.clone()));
        assert_eq!(cal.add_working_days(day(2026, 1, 1), 0), Err(limit.clone()));
        assert_eq!(cal.next_working_day(day(2026, 1, 1)), Err(limit));
        assert!(cal.deadline(shanghai(2026, 1, 1, 9, 0), 1).is_err());
        // The first day after the closed years is found when the search starts close enough.
        assert_eq!(
            cal.add_working_days(day(2030, 1, 1), 1),
            Ok(day(2037, 1, 1))
        );

        let plain = Calendar::weekends_only();
        assert_eq!(
            plain.add_working_days(day(2026, 1, 1), 2600),
            Ok(day(2035, 12, 20))
        );
        assert_eq!(
            plain
                .add_working_days(day(2026, 1, 1), u32::MAX)
                .map_err(|e| e.code()),
            Err("calendar_search_limit")
        );
        assert_eq!(
            plain
                .working_days_between(day(2000, 1, 1), day(2026, 1, 1))
                .map_err(|e| e.code()),
            Err("calendar_range_too_long")
        );
        assert_eq!(
            plain.add_working_days(NaiveDate::MAX, 1),
            Err(CalendarError::OutOfRange {
                date: NaiveDate::MAX
            })
        );
        assert!(plain.deadline(DateTime::<Utc>::MAX_UTC, 0).is_err());
    }

    /// A synthetic one-year calendar for 2026 from day-of-year indices (0 = 1 January):
    /// holidays, and make-up days (kept only if they are weekends and not holidays).
    fn synthetic(off: &[u32], makeup: &[u32]) -> (Calendar, Vec<NaiveDate>, Vec<NaiveDate>) {
        let date = |i: &u32| day(2026, 1, 1) + TimeDelta::days(i64::from(*i));
        let off: Vec<NaiveDate> = off.iter().map(date).collect();
        let makeup: Vec<NaiveDate> = if off.is_empty() {
            Vec::new()
        } else {
            makeup
                .iter()
                .map(date)
                .filter(|d| matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !off.contains(d))
                .collect()
        };
        let holidays: Vec<String> = off
            .iter()
            .map(|d| format!("{{ code = \"h\", name = \"synthetic\", first = {d} }}"))
            .collect();
        let makeups: Vec<String> = makeup
            .iter()
            .map(|d| format!("{{ date = {d}, holiday = \"h\" }}"))
            .collect();
        let text = year_2026(&format!(
            "holidays = [{}]\nmakeup_workdays = [{}]",
            holidays.join(", "),
            makeups.join(", ")
        ));
        (
            Calendar::from_toml(&text).expect("synthetic calendar parses"),
            off,
            makeup,
        )
    }

    fn arb_calendar() -> impl Strategy<Value = (Calendar, Vec<NaiveDate>, Vec<NaiveDate>)> {
        (
            prop::collection::btree_set(0u32..365, 0..80),
            prop::collection::btree_set(0u32..365, 0..30),
        )
            .prop_map(|(off, makeup)| {
                let off: Vec<u32> = off.into_iter().collect();
                let makeup: Vec<u32> = makeup.into_iter().collect();
                synthetic(&off, &makeup)
            })
    }

    /// Start dates from December 2025 to April 2027: before, inside and after the covered year.
    fn arb_date() -> impl Strategy<Value = NaiveDate> {
        (0i64..500).prop_map(|i| day(2025, 12, 1) + TimeDelta::days(i))
    }

    proptest! {
        // Failures are reported with their minimal input; no regression file is written
        // beside the crate (this task owns only calendar.rs and data/calendar/).
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn synthetic_calendars_mark_exactly_their_days((cal, off, makeup) in arb_calendar(), date in arb_date()) {
            let expected = if off.contains(&date) {
                false
            } else if makeup.contains(&date) {
                true
            } else {
                !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
            };
            prop_assert_eq!(cal.is_working_day(date), expected);
        }

        #[test]
        fn added_days_are_working_days_and_round_trip((cal, _, _) in arb_calendar(), date in arb_date(), n in 1u32..60) {
            let due = cal.add_working_days(date, n).expect("bounded");
            prop_assert!(due > date);
            prop_assert!(cal.is_working_day(due));
            prop_assert_eq!(cal.working_days_between(date, due), Ok(n));
            // One day earlier there were only n − 1.
            prop_assert_eq!(cal.working_days_between(date, due - TimeDelta::days(1)), Ok(n - 1));
        }

        #[test]
        fn zero_days_is_the_first_working_day_from_the_start((cal, _, _) in arb_calendar(), date in arb_date()) {
            let due = cal.add_working_days(date, 0).expect("bounded");
            prop_assert!(due >= date);
            prop_assert!(cal.is_working_day(due));
            prop_assert!(date.iter_days().take_while(|d| *d < due).all(|d| !cal.is_working_day(d)));
        }

        #[test]
        fn adding_is_monotonic_in_n((cal, _, _) in arb_calendar(), date in arb_date(), a in 0u32..50, b in 0u32..50) {
            let (lo, hi) = (a.min(b), a.max(b));
            let (x, y) = (cal.add_working_days(date, lo).expect("bounded"), cal.add_working_days(date, hi).expect("bounded"));
            prop_assert!(x <= y);
            if lo >= 1 && lo < hi {
                prop_assert!(x < y);
            }
        }

        #[test]
        fn adding_is_monotonic_in_the_start((cal, _, _) in arb_calendar(), a in arb_date(), b in arb_date(), n in 0u32..50) {
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(cal.add_working_days(lo, n).expect("bounded") <= cal.add_working_days(hi, n).expect("bounded"));
        }

        #[test]
        fn shipped_calendar_properties(date in (0i64..1000).prop_map(|i| day(2025, 9, 1) + TimeDelta::days(i)), n in 0u32..40) {
            let cal = cn();
            let due = cal.add_working_days(date, n).expect("bounded");
            prop_assert!(cal.is_working_day(due));
            if n >= 1 {
                prop_assert_eq!(cal.working_days_between(date, due), Ok(n));
                prop_assert!(due > date);
            }
            // From a day off, 0 and 1 working days give the same day; otherwise one more is later.
            let next = cal.add_working_days(date, n + 1).expect("bounded");
            if n == 0 && !cal.is_working_day(date) {
                prop_assert_eq!(next, due);
            } else {
                prop_assert!(next > due);
            }
        }

        #[test]
        fn deadlines_end_a_working_day_and_never_come_before_receipt(
            (cal, _, _) in arb_calendar(),
            minutes in 0i64..(500 * 24 * 60),
            later in 0i64..(20 * 24 * 60),
            n in 0u32..30,
        ) {
            let received = shanghai(2025, 12, 1, 0, 0) + TimeDelta::minutes(minutes);
            let due = cal.deadline(received, n).expect("bounded");
            prop_assert!(due > received);
            let due_day = shanghai_date(due).expect("in range");
            prop_assert!(cal.is_working_day(due_day));
            prop_assert_eq!(due, end_of_shanghai_day(due_day).expect("in range"));
            prop_assert_eq!(Ok(due_day), cal.deadline_date(received, n));
            let receipt_day = shanghai_date(received).expect("in range");
            let counted_from = cal.add_working_days(receipt_day, 0).expect("bounded");
            prop_assert_eq!(cal.working_days_between(counted_from, due_day), Ok(n));
            let received_later = received + TimeDelta::minutes(later);
            prop_assert!(cal.deadline(received_later, n).expect("bounded") >= due);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = Calendar::from_toml(&text);
        }

        #[test]
        fn corrupted_shipped_file_never_panics(pos in 0usize..3000, byte in any::<u8>()) {
            let mut bytes = CN_MAINLAND_TOML.as_bytes().to_vec();
            if let Some(b) = bytes.get_mut(pos % CN_MAINLAND_TOML.len()) {
                *b = byte;
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Err(e) = Calendar::from_toml(&text) {
                prop_assert!(!e.to_string().contains('\n'));
            }
        }
    }
}
