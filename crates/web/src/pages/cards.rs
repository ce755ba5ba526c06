//! Pages: cards.
