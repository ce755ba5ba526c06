//! minyi-web
