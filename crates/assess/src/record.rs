//! Reproducible run records: the canonical input and result texts with their hashes,
//! and a rerun that reproduces them from the stored scheme text and input.

use serde::{Deserialize, Serialize};

use crate::canonical::sha256_hex;
use crate::error::RunError;
use crate::input::RunInput;
use crate::result::RunResult;
use crate::run::run;
use crate::scheme::Scheme;

/// What a store keeps for a run so it can be reproduced and audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// SHA-256 of the scheme's canonical JSON.
    pub scheme_hash: String,
    /// SHA-256 of `input_json`.
    pub input_hash: String,
    /// SHA-256 of `result_json`.
    pub result_hash: String,
    /// Canonical JSON of the (canonicalised) input.
    pub input_json: String,
    /// Canonical JSON of the result.
    pub result_json: String,
}

fn ser(e: impl std::fmt::Display) -> RunError {
    RunError::Serialise {
        message: e.to_string(),
    }
}

/// Runs and returns the result with its record.
pub fn run_and_record(
    scheme: &Scheme,
    input: &RunInput,
) -> Result<(RunResult, RunRecord), RunError> {
    let result = run(scheme, input)?;
    let input_json = input.canonicalised().canonical_json().map_err(ser)?;
    let result_json = result.canonical_json().map_err(ser)?;
    let record = RunRecord {
        scheme_hash: scheme.hash().to_owned(),
        input_hash: sha256_hex(input_json.as_bytes()),
        result_hash: sha256_hex(result_json.as_bytes()),
        input_json,
        result_json,
    };
    Ok((result, record))
}

/// Reruns from stored scheme text and canonical input JSON.
pub fn rerun(scheme_text: &str, input_json: &str) -> Result<RunRecord, RunError> {
    let scheme = Scheme::parse(scheme_text)?;
    let input: RunInput = serde_json::from_str(input_json).map_err(|e| RunError::StoredInput {
        message: e.to_string(),
    })?;
    run_and_record(&scheme, &input).map(|(_, r)| r)
}

/// True when a rerun reproduces the stored result byte for byte.
pub fn verify(stored: &RunRecord, scheme_text: &str) -> Result<bool, RunError> {
    let again = rerun(scheme_text, &stored.input_json)?;
    Ok(&again == stored)
}
