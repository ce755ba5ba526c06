-- Schema 6: contact cards and boards (QR scans). Reserved; filled in by that change.
SELECT 1;
