//! Storage of assessment runs, appeals and imported business and team metrics.
