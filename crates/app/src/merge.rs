//! Near-duplicate merging: proposals at intake, confirmation, answering every channel.
