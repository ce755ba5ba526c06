-- Schema 13: briefings (研判报告) (issue 9).
SELECT 1;
