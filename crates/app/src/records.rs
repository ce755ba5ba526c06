//! Imports of 110 incidents, cases and permit transactions from police systems.
