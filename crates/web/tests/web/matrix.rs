//! The authorization matrix (being written).
