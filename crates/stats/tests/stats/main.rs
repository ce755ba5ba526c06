//! Integration tests for minyi-stats: R fixtures (closed forms at 1e-9 relative,
//! iterative methods at the tolerance documented beside each check), coverage
//! simulation and properties.

mod alloc;
mod coverage;
mod fixtures;
mod intervals_r;
mod ranks_r;
mod sae_r;
mod scoring;
mod special_r;
mod survey_props;
mod survey_r;
