-- minyi schema 11 (SQLite): assessment runs, appeals against them, and imported business,
-- team-building and jurisdiction metrics (store/src/assess.rs, issue 8). Keep in step
-- with postgres/0011_assessment.sql.
--
-- A run keeps everything needed to reproduce it years later: the full scheme text (not
-- just its hash), the canonical input JSON the scores were computed from and the
-- canonical result JSON, each with its SHA-256. A run made by upholding an appeal
-- points at the run it corrects (parent_id) and says why (reason).
-- created_by: `user:NAME` or `cli`.
CREATE TABLE assessment_runs (
    id INTEGER PRIMARY KEY,
    period TEXT NOT NULL,
    scheme_id TEXT NOT NULL,
    scheme_version TEXT NOT NULL,
    scheme_hash TEXT NOT NULL,
    scheme_text TEXT NOT NULL,
    input_hash TEXT NOT NULL,
    input_json TEXT NOT NULL,
    result_hash TEXT NOT NULL,
    result_json TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    parent_id BIGINT REFERENCES assessment_runs(id),
    reason TEXT
);
CREATE INDEX assessment_runs_period ON assessment_runs(period, id);

-- A unit's appeal against one indicator value of a run. state: filed | upheld |
-- rejected. An upheld appeal names the run made from the original's stored input with
-- the corrected value (result_run_id).
CREATE TABLE assessment_appeals (
    id INTEGER PRIMARY KEY,
    run_id BIGINT NOT NULL REFERENCES assessment_runs(id),
    unit_id BIGINT NOT NULL REFERENCES units(id),
    indicator TEXT NOT NULL,
    claimed_value DOUBLE PRECISION NOT NULL,
    reason TEXT NOT NULL,
    state TEXT NOT NULL,
    filed_by TEXT NOT NULL,
    filed_at BIGINT NOT NULL,
    corrected_value DOUBLE PRECISION,
    resolution TEXT,
    resolved_by TEXT,
    resolved_at BIGINT,
    result_run_id BIGINT REFERENCES assessment_runs(id)
);
CREATE INDEX assessment_appeals_run ON assessment_appeals(run_id, id);

-- One import of a metrics file (CSV or XLSX). source: the file name as given.
CREATE TABLE assessment_metric_batches (
    id INTEGER PRIMARY KEY,
    period TEXT NOT NULL,
    source TEXT NOT NULL,
    imported_at BIGINT NOT NULL,
    imported_by TEXT NOT NULL,
    rows_read BIGINT NOT NULL,
    rows_changed BIGINT NOT NULL,
    synthetic BIGINT NOT NULL DEFAULT 0
);

-- A unit's imported metric for a period: code `business.*`, `team.*` or
-- `jurisdiction.*`; batch_id is the import that last set the value.
CREATE TABLE assessment_metrics (
    unit_id BIGINT NOT NULL REFERENCES units(id),
    period TEXT NOT NULL,
    code TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    batch_id BIGINT NOT NULL REFERENCES assessment_metric_batches(id),
    PRIMARY KEY (unit_id, period, code)
);
CREATE INDEX assessment_metrics_period ON assessment_metrics(period);
