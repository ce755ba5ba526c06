//! Phone numbers: parsed once at the edge, masked wherever shown.

use crate::error::ParseError;

/// A mainland China phone number in canonical digits: a mobile number (11 digits,
/// `1[3-9]…`), a landline with area code (`0` + 9–11 digits), or a short public service
/// number (3–5 digits, e.g. 110, 12345, 96995). Separators and a +86/0086 prefix are
/// accepted on input and dropped.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

/// Debug masks too, so `{:?}` of any struct holding a number cannot leak it to a log.
impl std::fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<PhoneNumber, ParseError> {
        let invalid = |why: &str| ParseError::Invalid {
            what: "phone number",
            why: why.to_owned(),
        };
        let mut digits = String::with_capacity(16);
        for c in input.trim().chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '(' | ')' | '（' | '）' => {}
                '+' if digits.is_empty() => {}
                _ => {
                    return Err(invalid(
                        "only digits, spaces, -, () and a leading + are allowed",
                    ));
                }
            }
        }
        if digits.is_empty() {
            return Err(ParseError::Empty {
                what: "phone number",
            });
        }
        let digits = if let Some(rest) = digits.strip_prefix("0086") {
            rest.to_owned()
        } else if input.trim_start().starts_with('+') {
            digits
                .strip_prefix("86")
                .map(str::to_owned)
                .ok_or_else(|| invalid("only +86 numbers are accepted"))?
        } else if digits.len() == 13 && digits.starts_with("861") {
            digits[2..].to_owned()
        } else {
            digits
        };
        if digits.is_empty() {
            return Err(ParseError::Empty {
                what: "phone number",
            });
        }
        let b = digits.as_bytes();
        let mobile = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
        let landline = b[0] == b'0' && (10..=12).contains(&b.len()) && b[1] != b'0';
        let short = (3..=5).contains(&b.len()) && b[0] != b'0';
        if mobile || landline || short {
            Ok(PhoneNumber(digits))
        } else {
            Err(invalid(
                "expected an 11-digit mobile number, a landline with area code, or a 3–5 digit service number",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_mobile(&self) -> bool {
        self.0.len() == 11 && self.0.starts_with('1')
    }

    /// The masked form shown everywhere a person's number appears (138****5678).
    /// Service numbers are public and shown whole.
    pub fn masked(&self) -> String {
        let s = &self.0;
        match s.len() {
            0..=5 => s.clone(),
            n => {
                let keep_head = if self.is_mobile() { 3 } else { 4 };
                format!("{}****{}", &s[..keep_head], &s[n - 4..])
            }
        }
    }
}

impl std::fmt::Display for PhoneNumber {
    /// Display masks: a phone number never reaches a page or log line in full by accident.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_masks() {
        let m = PhoneNumber::parse("+86 138-0000-5678").unwrap();
        assert_eq!(m.as_str(), "13800005678");
        assert_eq!(m.masked(), "138****5678");
        assert_eq!(m.to_string(), "138****5678");
        assert_eq!(
            PhoneNumber::parse("008613800005678").unwrap().as_str(),
            "13800005678"
        );
        let l = PhoneNumber::parse("0875-2123456").unwrap();
        assert_eq!(l.masked(), "0875****3456");
        assert_eq!(PhoneNumber::parse("110").unwrap().masked(), "110");
        assert_eq!(PhoneNumber::parse("96995").unwrap().as_str(), "96995");
        assert_eq!(format!("{m:?}"), "PhoneNumber(138****5678)");
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "abc",
            "12345678901",
            "1380000567",
            "+1 415 555 0100",
            "00000",
            "1380000567８",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
    }
}
