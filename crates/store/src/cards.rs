//! Contact cards and boards: counting QR scans per station and community.
