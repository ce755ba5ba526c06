-- Schema 10: survey waves, questionnaires and responses. Reserved; filled in by that change.
SELECT 1;
