//! Prospective space-time permutation scan statistic. Being written.
