//! Request protection: rate limits and security headers.
