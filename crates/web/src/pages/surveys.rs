//! Pages: surveys.
