//! minyi-app
