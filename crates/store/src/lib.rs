//! minyi-store
