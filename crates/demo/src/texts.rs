//! Synthetic Chinese opinion texts. Being written.
