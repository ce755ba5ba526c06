//! minyi-stats: the numerics of honest measurement — survey estimation and intervals,
//! sample allocation, small-area shrinkage, rank uncertainty, hotspot scan statistics
//! and trend alerts.
//!
//! Pure functions over plain numbers. This crate must not do IO, async or SQL, and
//! must never return NaN where a report would show it: degenerate inputs get an error
//! or a documented treatment.

pub mod alloc;
pub mod input;
pub mod intervals;
pub mod ranks;
pub mod sae;
pub mod scan;
pub mod scoring;
pub mod special;
pub mod survey;
pub mod trend;

pub use input::InputError;
