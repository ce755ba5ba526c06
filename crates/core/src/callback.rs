//! Callback rules (回访规则): which records produce a callback, when, who calls, exclusions, attempts.
