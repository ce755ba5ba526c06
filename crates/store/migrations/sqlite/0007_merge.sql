-- Schema 7: near-duplicate merging. Reserved; filled in by that change.
SELECT 1;
