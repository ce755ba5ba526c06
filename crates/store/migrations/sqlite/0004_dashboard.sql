-- minyi schema 4 (SQLite): covering indexes for the dashboard aggregates
-- (store/src/dashboard.rs). Keep in step with postgres/0004_dashboard.sql.
-- Why covering: the aggregates read every opinion and rating of a year; reading them
-- from narrow index pages instead of the wide rows (opinion texts) is what keeps the
-- full demo city's dashboards within their time budget on SQLite.

-- Per handling unit: received, open / overdue / due soon, verdicts, channel and category.
CREATE INDEX opinions_dashboard_unit
    ON opinions(unit_id, received_at, state, due_at, verdict, channel, category);
-- The same per linked department (a liaison's dashboard); most opinions have none.
CREATE INDEX opinions_dashboard_department
    ON opinions(department_id, received_at, state, due_at, verdict, channel, category)
    WHERE department_id IS NOT NULL;
-- Answers: transitions to a state within a period.
CREATE INDEX events_state_time ON events(to_state, at, subject, subject_id);
-- Window ratings per window and level.
CREATE INDEX ratings_window_level ON ratings(window_id, scale, level, rated_at);
