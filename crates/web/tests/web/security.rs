//! Personal data, CSRF, sessions, rate limits (being written).
