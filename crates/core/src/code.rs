//! Stable codes of units and areas: what imports, URLs and other systems refer to, so
//! they must survive renames and database moves.

use crate::error::ParseError;

/// A stable code: 1–64 ASCII letters, digits, `-`, `_` or `.`, starting with a letter or
/// digit. Case is kept; comparison is exact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Code(String);

impl Code {
    pub const MAX_LEN: usize = 64;

    pub fn parse(s: &str) -> Result<Code, ParseError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ParseError::Empty { what: "code" });
        }
        if s.len() > Self::MAX_LEN {
            return Err(ParseError::TooLong {
                what: "code",
                len: s.chars().count(),
                max: Self::MAX_LEN,
            });
        }
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if let Some(bad) = s.chars().find(|&c| !ok_char(c)) {
            return Err(ParseError::Invalid {
                what: "code",
                why: format!(
                    "`{}` contains `{}`; use letters, digits, - _ .",
                    s.escape_debug(),
                    bad.escape_debug()
                ),
            });
        }
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(ParseError::Invalid {
                what: "code",
                why: format!("`{s}` must start with a letter or digit"),
            });
        }
        Ok(Code(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Code::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_codes_and_rejects_the_rest() {
        assert_eq!(Code::parse(" BS-LY-01 ").unwrap().as_str(), "BS-LY-01");
        assert!(Code::parse("").is_err());
        assert!(Code::parse("-x").is_err());
        assert!(Code::parse("派出所").is_err());
        assert!(Code::parse("a b").is_err());
        assert!(Code::parse(&"a".repeat(65)).is_err());
        assert!(Code::parse(&"a".repeat(64)).is_ok());
    }
}
