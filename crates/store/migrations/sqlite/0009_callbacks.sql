-- Schema 9: callback rules, worklist and notices. Reserved; filled in by that change.
SELECT 1;
