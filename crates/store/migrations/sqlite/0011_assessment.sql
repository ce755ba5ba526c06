-- Schema 11: assessment runs, appeals and imported business/team metrics (issue 8).
SELECT 1;
