//! Pages: records.
