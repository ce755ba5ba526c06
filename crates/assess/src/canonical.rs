//! Canonical JSON and SHA-256 hashes, the basis of reproducible assessment runs.
//!
//! Canonical form: object keys sorted by their UTF-8 bytes, no whitespace, arrays in the
//! order the types define (units are always sorted), integers as integers, and every
//! floating-point number first rounded to 12 significant digits and then written in
//! the shortest decimal form that reads back to that rounded value (`-0` is written as
//! `0`). Rounding makes the text readable (`12.25`, not `12.250000000000002`) and keeps
//! it stable across platforms whose last-bit arithmetic may differ; because the run
//! itself quantises its inputs the same way, a rerun from the stored canonical inputs
//! sees exactly the numbers the original run saw.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Significant digits kept by [`quantise`].
pub const SIGNIFICANT_DIGITS: usize = 12;

/// Rounds a finite number to [`SIGNIFICANT_DIGITS`] significant digits; idempotent.
/// Non-finite numbers are returned unchanged (callers reject them earlier).
pub fn quantise(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return if x == 0.0 { 0.0 } else { x };
    }
    let text = format!("{:.*e}", SIGNIFICANT_DIGITS - 1, x);
    text.parse::<f64>().unwrap_or(x)
}

/// Writes `x` in the canonical float form.
pub fn format_float(x: f64) -> String {
    let q = quantise(x);
    if q == 0.0 {
        return "0".to_owned();
    }
    format!("{q}")
}

/// Error raised when a value cannot be written canonically.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// serde_json refused the value (for instance a map with non-string keys).
    #[error("value cannot be serialised to JSON: {0}")]
    Serialise(String),
}

/// Serialises any value to canonical JSON text.
pub fn canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<String, CanonicalError> {
    let v = serde_json::to_value(value).map_err(|e| CanonicalError::Serialise(e.to_string()))?;
    let mut out = String::new();
    write_value(&v, &mut out);
    Ok(out)
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else if let Some(f) = n.as_f64() {
                if f.is_finite() {
                    out.push_str(&format_float(f));
                } else {
                    out.push_str("null");
                }
            } else {
                out.push_str("null");
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sorted explicitly: serde_json may be built with `preserve_order` elsewhere
            // in the workspace, which would otherwise keep insertion order.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_value(item, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Lower-case hexadecimal SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
