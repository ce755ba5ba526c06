//! Residents' identity fields, parsed at the edge.
//!
//! A resident's name, ID number and address are personal data: once parsed, `Debug` and
//! `Display` show only the masked form, so a struct holding one can be logged without
//! leaking it. Storage encrypts `as_str()`; nothing here does IO.

use crate::error::ParseError;

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// First character then stars: 张三丰 → 张**; a one-character name is `*`.
fn mask_keep_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        None => String::new(),
        Some(_) if s.chars().count() == 1 => "*".to_owned(),
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
    }
}

/// A resident's name as they gave it: 1–40 characters, not only digits (that would be
/// a number typed into the wrong box).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentName(String);

impl ResidentName {
    pub fn parse(input: &str) -> Result<ResidentName, ParseError> {
        const WHAT: &str = "resident name";
        let s = input.trim();
        let len = s.chars().count();
        if len == 0 {
            return Err(ParseError::Empty { what: WHAT });
        }
        if len > 40 {
            return Err(ParseError::TooLong {
                what: WHAT,
                len,
                max: 40,
            });
        }
        if has_control(s) {
            return Err(ParseError::Invalid {
                what: WHAT,
                why: "it contains control characters".into(),
            });
        }
        if s.chars().all(|c| c.is_ascii_digit()) {
            return Err(ParseError::Invalid {
                what: WHAT,
                why: "it is only digits".into(),
            });
        }
        Ok(ResidentName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// First character then a star for each other one (欧阳娜娜 → 欧***).
    pub fn masked(&self) -> String {
        mask_keep_first(&self.0)
    }
}

/// An 18-character mainland resident identity card number (GB 11643-1999): 6-digit
/// region, 8-digit birth date, 3-digit sequence, and a check character (0–9 or X).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

impl IdNumber {
    /// The check character GB 11643 assigns to 17 leading digits.
    fn check_char(first17: &[u8]) -> u8 {
        let sum: u32 = first17
            .iter()
            .zip(ID_WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        ID_CHECK[(sum % 11) as usize]
    }

    pub fn parse(input: &str) -> Result<IdNumber, ParseError> {
        const WHAT: &str = "ID number";
        let invalid = |why: &str| ParseError::Invalid {
            what: WHAT,
            why: why.to_owned(),
        };
        let s = input.trim().to_ascii_uppercase();
        if s.is_empty() {
            return Err(ParseError::Empty { what: WHAT });
        }
        let b = s.as_bytes();
        if b.len() != 18 {
            return Err(invalid(
                "expected 18 characters: 17 digits and a check digit or X",
            ));
        }
        let (body, check) = b.split_at(17);
        if !body.iter().all(u8::is_ascii_digit) {
            return Err(invalid("the first 17 characters must be digits"));
        }
        if !(check[0].is_ascii_digit() || check[0] == b'X') {
            return Err(invalid("the last character must be a digit or X"));
        }
        let num = |r: std::ops::Range<usize>| {
            body[r]
                .iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
        };
        let (year, month, day) = (num(6..10), num(10..12), num(12..14));
        let plausible_year = (1900..=2100).contains(&year);
        let real_date = i32::try_from(year)
            .ok()
            .and_then(|y| chrono::NaiveDate::from_ymd_opt(y, month, day))
            .is_some();
        if !plausible_year || !real_date {
            return Err(invalid(
                "characters 7–14 must be a real birth date (YYYYMMDD, year 1900–2100)",
            ));
        }
        if Self::check_char(body) != check[0] {
            return Err(invalid("the check digit does not match (mistyped digit?)"));
        }
        Ok(IdNumber(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Region (first 6) and check end (last 4) only: 530102********123X.
    pub fn masked(&self) -> String {
        let s = &self.0;
        format!("{}********{}", &s[..6], &s[14..])
    }
}

/// A postal or incident address as written: 2–200 characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Address(String);

impl Address {
    pub fn parse(input: &str) -> Result<Address, ParseError> {
        const WHAT: &str = "address";
        let s = input.trim();
        let len = s.chars().count();
        if len == 0 {
            return Err(ParseError::Empty { what: WHAT });
        }
        if len < 2 {
            return Err(ParseError::Invalid {
                what: WHAT,
                why: "it is shorter than 2 characters".into(),
            });
        }
        if len > 200 {
            return Err(ParseError::TooLong {
                what: WHAT,
                len,
                max: 200,
            });
        }
        if has_control(s) {
            return Err(ParseError::Invalid {
                what: WHAT,
                why: "it contains control characters".into(),
            });
        }
        Ok(Address(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 6 characters (about city and district) then `****`; an address of 6
    /// characters or fewer keeps only its first half.
    pub fn masked(&self) -> String {
        let n = self.0.chars().count();
        let keep = if n > 6 { 6 } else { n / 2 };
        let mut out: String = self.0.chars().take(keep).collect();
        out.push_str("****");
        out
    }
}

macro_rules! masked_fmt {
    ($($t:ident),*) => {$(
        /// Masked: the full value never reaches a log through `{:?}`.
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($t), "({})"), self.masked())
            }
        }

        /// Masked: a page shows the full value only by asking for `as_str()`.
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.masked())
            }
        }
    )*};
}

masked_fmt!(ResidentName, IdNumber, Address);

#[cfg(test)]
mod tests {
    use super::*;

    /// Completes 17 digits into a valid ID number, computing the check character here
    /// independently of `check_char` so a wrong weight table would be caught.
    fn with_check(first17: &str) -> String {
        let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = first17
            .chars()
            .zip(weights)
            .map(|(c, w)| c.to_digit(10).unwrap() * w)
            .sum();
        let check = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize];
        format!("{first17}{check}")
    }

    #[test]
    fn names_parse_and_mask() {
        let n = ResidentName::parse("  张三丰 ").unwrap();
        assert_eq!(n.as_str(), "张三丰");
        assert_eq!(n.masked(), "张**");
        assert_eq!(
            ResidentName::parse("欧阳娜娜").unwrap().to_string(),
            "欧***"
        );
        assert_eq!(ResidentName::parse("李").unwrap().masked(), "*");
        assert_eq!(
            ResidentName::parse("Mary Smith").unwrap().masked(),
            "M*********"
        );
        assert_eq!(
            ResidentName::parse(" "),
            Err(ParseError::Empty {
                what: "resident name"
            })
        );
        assert!(matches!(
            ResidentName::parse(&"名".repeat(41)),
            Err(ParseError::TooLong { len: 41, .. })
        ));
        assert!(ResidentName::parse(&"名".repeat(40)).is_ok());
        assert!(ResidentName::parse("张\u{0}三").is_err());
        assert!(ResidentName::parse("13800005678").is_err());
        let dbg = format!("{:?}", ResidentName::parse("张三丰").unwrap());
        assert_eq!(dbg, "ResidentName(张**)");
    }

    #[test]
    fn well_known_and_built_id_numbers_parse() {
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(
            IdNumber::parse(" 11010519491231002x ").unwrap().as_str(),
            "11010519491231002X"
        );
        for body in [
            "53010219900101123",
            "53010220000229001",
            "44030521001231999",
        ] {
            let full = with_check(body);
            assert_eq!(IdNumber::parse(&full).unwrap().as_str(), full);
        }
        assert_eq!(with_check("11010519491231002"), "11010519491231002X");
    }

    #[test]
    fn wrong_check_digit_is_rejected() {
        let good = with_check("53010219900101123");
        let last = good.chars().last().unwrap();
        for other in ['0', '1', '5', '9', 'X'] {
            if other == last {
                continue;
            }
            let bad = format!("{}{other}", &good[..17]);
            match IdNumber::parse(&bad) {
                Err(ParseError::Invalid { why, .. }) => {
                    assert!(why.contains("check digit"), "{why}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        // One mistyped digit in the body.
        let typo = format!("53010219900101124{last}");
        assert!(IdNumber::parse(&typo).is_err());
    }

    #[test]
    fn bad_dates_and_shapes_are_rejected() {
        for body in [
            "53010219900230123", // 30 February
            "53010219010229123", // 1901 is not a leap year
            "53010218991231123", // before 1900
            "53010221010101123", // after 2100
            "53010219901301123", // month 13
            "53010219900100123", // day 0
        ] {
            let full = with_check(body);
            match IdNumber::parse(&full) {
                Err(ParseError::Invalid { why, .. }) => {
                    assert!(why.contains("birth date"), "{why}")
                }
                other => panic!("{full}: {other:?}"),
            }
        }
        for bad in [
            "",
            "11010519491231002",
            "11010519491231002XX",
            "1101051949123100AX",
            "11010519491231002Y",
            "１1010519491231002X",
        ] {
            assert!(IdNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn id_numbers_mask_everywhere() {
        let full = with_check("53010219900101123");
        let id = IdNumber::parse(&full).unwrap();
        assert_eq!(id.masked(), format!("530102********123{}", &full[17..]));
        assert_eq!(id.to_string(), id.masked());
        let dbg = format!("{id:?}");
        assert!(!dbg.contains(&full) && !dbg.contains("19900101"), "{dbg}");
        assert_eq!(
            format!("{:?}", IdNumber::parse("11010519491231002X").unwrap()),
            "IdNumber(110105********002X)"
        );
    }

    #[test]
    fn addresses_parse_and_mask() {
        let a = Address::parse(" 云南省昆明市五华区华山南路12号 ").unwrap();
        assert_eq!(a.as_str(), "云南省昆明市五华区华山南路12号");
        assert_eq!(a.masked(), "云南省昆明市****");
        assert_eq!(Address::parse("华山南路").unwrap().masked(), "华山****");
        assert_eq!(Address::parse("北京").unwrap().masked(), "北****");
        assert!(Address::parse("").is_err());
        assert!(Address::parse("北").is_err());
        assert!(Address::parse(&"路".repeat(201)).is_err());
        assert!(Address::parse(&"路".repeat(200)).is_ok());
        assert!(Address::parse("华山\n南路").is_err());
        let dbg = format!("{a:?}");
        assert!(!dbg.contains("华山南路"), "{dbg}");
        assert_eq!(dbg, "Address(云南省昆明市****)");
    }
}
