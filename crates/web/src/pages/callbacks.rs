//! Pages: callbacks.
