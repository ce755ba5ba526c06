//! minyi-demo: a synthetic, Baoshan-shaped city and twelve months of activity generated
//! from a seed, for trying minyi and for benchmarks. Same seed, same data.
//!
//! Everything it makes is synthetic and marked so. Pure: it builds values in memory and
//! must not do IO, async or SQL; `app` writes them to the store.

pub mod texts;
