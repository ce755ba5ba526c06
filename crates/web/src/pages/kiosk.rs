//! Pages: kiosk.
