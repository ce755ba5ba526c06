-- Schema 12: analysis workspaces (county confirm/relabel/escalate, city thematic) (issue 9).
SELECT 1;
