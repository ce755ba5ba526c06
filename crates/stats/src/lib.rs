//! minyi-stats: the numerics of honest measurement — survey estimation and intervals,
//! sample allocation, small-area shrinkage, rank uncertainty, hotspot scan statistics
//! and trend alerts.
//!
//! Pure functions over plain numbers. This crate must not do IO, async or SQL, and
//! must never return NaN where a report would show it: degenerate inputs get an error
//! or a documented treatment.

pub mod scan;
pub mod trend;
