//! Near-duplicate merge proposals and merged matters.
