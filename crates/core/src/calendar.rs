//! Working-day calendar (holidays and make-up working days). Being written.
