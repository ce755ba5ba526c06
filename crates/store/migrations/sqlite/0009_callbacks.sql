-- minyi schema 9 (SQLite): callbacks by rule, their attempts, and the links a callback
-- makes (store/src/callbacks.rs). Keep in step with postgres/0009_callbacks.sql.
-- A victim is called at filing, at solving and at closing, so a record has one callback
-- per rule: the uniqueness becomes (source, source_id, rule). SQLite cannot change a
-- table constraint, so the table is rebuilt with its rows kept (ids included); rows from
-- before this schema get the rule `legacy`. New columns come last, in the order
-- PostgreSQL's ALTER TABLE gives them, so both dialects list the same columns.
-- trigger_at: when the record reached the rule's milestone. next_attempt_at: the
-- earliest time the next attempt is due (attempt spacing). excluded_reason: an
-- Exclusion code when state = excluded. contact_id: the person to call (the record's
-- contact). opinion_id: the opinion a dissatisfied or commented callback opened.
-- The resident's comment is not stored here: it becomes that opinion's text, under the
-- same protection and retention as every opinion.
CREATE TABLE callbacks_v9 (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    source_id BIGINT NOT NULL,
    unit_id BIGINT NOT NULL REFERENCES units(id),
    due_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    outcome TEXT,
    verdict TEXT,
    synthetic BIGINT NOT NULL DEFAULT 0,
    rule TEXT NOT NULL DEFAULT 'legacy',
    trigger_at BIGINT,
    next_attempt_at BIGINT,
    excluded_reason TEXT,
    contact_id BIGINT REFERENCES contacts(id),
    opinion_id BIGINT REFERENCES opinions(id),
    created_at BIGINT NOT NULL DEFAULT 0,
    closed_at BIGINT,
    UNIQUE (source, source_id, rule)
);
INSERT INTO callbacks_v9 (id, source, source_id, unit_id, due_at, state, attempts, outcome, verdict, synthetic)
    SELECT id, source, source_id, unit_id, due_at, state, attempts, outcome, verdict, synthetic FROM callbacks;
DROP TABLE callbacks;
ALTER TABLE callbacks_v9 RENAME TO callbacks;
CREATE INDEX callbacks_unit_state ON callbacks(unit_id, state, due_at);
CREATE INDEX callbacks_opinion ON callbacks(opinion_id);

-- One row per call made: who called, when, and how it ended.
CREATE TABLE callback_attempts (
    id INTEGER PRIMARY KEY,
    callback_id BIGINT NOT NULL REFERENCES callbacks(id),
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    outcome TEXT NOT NULL,
    verdict TEXT
);
CREATE INDEX callback_attempts_callback ON callback_attempts(callback_id, at);
