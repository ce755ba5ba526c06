//! Hard indicators per unit and period, each with numerator, denominator and records.
