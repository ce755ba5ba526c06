//! minyi-core: the domain of public-opinion-led policing — units, areas, officers,
//! channels, opinions and their lifecycle, ratings, 110 incidents, cases, permit
//! transactions, callbacks, events, and the working-day calendar that deadlines count on.
//!
//! Values here are parsed, not validated: a value of a core type is valid by
//! construction. This crate must not do IO, async or SQL; its rules are tested in
//! microseconds.

pub mod access;
pub mod calendar;
pub mod callback;
pub mod code;
pub mod contact;
pub mod error;
pub mod event;
pub mod geo;
pub mod identity;
pub mod opinion;
pub mod org;
pub mod period;
pub mod records;
pub mod taxonomy;

pub use code::Code;
pub use contact::PhoneNumber;
pub use error::ParseError;
