//! Errors raised when outside input does not parse into a domain value.

/// Why a value from outside could not become a domain value. Messages name the field
/// or vocabulary and what was wrong, so they can be shown as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown {what} `{got}` (allowed: {allowed})")]
    UnknownCode {
        what: &'static str,
        got: String,
        allowed: String,
    },
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is too long: {len} characters, at most {max}")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} is invalid: {why}")]
    Invalid { what: &'static str, why: String },
}
