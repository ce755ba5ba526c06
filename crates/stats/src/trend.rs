//! Trend alerts (EWMA, Poisson CUSUM). Being written.
