//! Storage of briefings (研判报告): drafts, edits and published versions.
