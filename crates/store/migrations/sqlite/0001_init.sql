-- minyi schema 1 (SQLite). Keep in step with postgres/0001_init.sql: a test checks that
-- both produce the same tables and columns. Times are epoch milliseconds (UTC).
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE units (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_id BIGINT REFERENCES units(id),
    window_kind TEXT,
    department TEXT,
    synthetic BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX units_parent ON units(parent_id);

CREATE TABLE areas (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    parent_id BIGINT REFERENCES areas(id),
    station_id BIGINT REFERENCES units(id),
    population BIGINT NOT NULL DEFAULT 0,
    lon DOUBLE PRECISION,
    lat DOUBLE PRECISION,
    synthetic BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX areas_parent ON areas(parent_id);
CREATE INDEX areas_station ON areas(station_id);

CREATE TABLE officers (
    id INTEGER PRIMARY KEY,
    unit_id BIGINT NOT NULL REFERENCES units(id),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    duty_phone TEXT,
    synthetic BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX officers_unit ON officers(unit_id);

CREATE TABLE opinions (
    id INTEGER PRIMARY KEY,
    tracking_code TEXT NOT NULL UNIQUE,
    client_key TEXT UNIQUE,
    channel TEXT NOT NULL,
    text TEXT NOT NULL,
    category TEXT NOT NULL,
    sentiment TEXT NOT NULL,
    urgency TEXT NOT NULL,
    department TEXT,
    area_id BIGINT REFERENCES areas(id),
    unit_id BIGINT REFERENCES units(id),
    department_id BIGINT REFERENCES units(id),
    state TEXT NOT NULL,
    escalation TEXT NOT NULL,
    key_opinion BIGINT NOT NULL DEFAULT 0,
    received_at BIGINT NOT NULL,
    due_at BIGINT,
    closed_at BIGINT,
    verdict TEXT,
    merged_into BIGINT REFERENCES opinions(id),
    synthetic BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX opinions_unit_state ON opinions(unit_id, state);
CREATE INDEX opinions_area ON opinions(area_id);
CREATE INDEX opinions_received ON opinions(received_at);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    subject_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    detail TEXT
);
CREATE INDEX events_subject ON events(subject, subject_id);

CREATE TABLE ratings (
    id INTEGER PRIMARY KEY,
    window_id BIGINT NOT NULL REFERENCES units(id),
    channel TEXT NOT NULL,
    device TEXT,
    client_event_id TEXT UNIQUE,
    scale BIGINT NOT NULL,
    level BIGINT NOT NULL,
    reason TEXT,
    rated_at BIGINT NOT NULL,
    synthetic BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX ratings_window_time ON ratings(window_id, rated_at);

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    received_at BIGINT NOT NULL,
    area_id BIGINT REFERENCES areas(id),
    unit_id BIGINT REFERENCES units(id),
    category TEXT NOT NULL,
    police_matter BIGINT NOT NULL,
    department TEXT,
    summary TEXT NOT NULL,
    closed_at BIGINT,
    resolved BIGINT,
    synthetic BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX incidents_unit_time ON incidents(unit_id, received_at);

CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    station_id BIGINT NOT NULL REFERENCES units(id),
    area_id BIGINT REFERENCES areas(id),
    reported_at BIGINT NOT NULL,
    filed_at BIGINT,
    solved_at BIGINT,
    closed_at BIGINT,
    loss_fen BIGINT NOT NULL DEFAULT 0,
    recovered_fen BIGINT NOT NULL DEFAULT 0,
    synthetic BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX cases_station_time ON cases(station_id, reported_at);

CREATE TABLE permits (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    window_id BIGINT NOT NULL REFERENCES units(id),
    applied_at BIGINT NOT NULL,
    promised_at BIGINT NOT NULL,
    issued_at BIGINT,
    synthetic BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX permits_window_time ON permits(window_id, applied_at);

CREATE TABLE callbacks (
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
    UNIQUE (source, source_id)
);
CREATE INDEX callbacks_unit_state ON callbacks(unit_id, state, due_at);
