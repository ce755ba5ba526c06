//! Pages: merge.
