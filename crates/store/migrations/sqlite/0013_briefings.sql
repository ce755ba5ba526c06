-- Schema 13: briefings (研判报告) (issue 9), sqlite. Keep in step with postgres/0013_briefings.sql.

-- One version of the briefing of a unit (county or city bureau) for a period. Each new
-- draft of the same unit and period is the next version; a published version is frozen
-- (store/src/briefings.rs refuses edits once `state` is `published`).
CREATE TABLE briefings (
    id INTEGER PRIMARY KEY,
    unit_id BIGINT NOT NULL REFERENCES units(id),
    -- The period code as typed: 2026-11, 2026-Q4 or 2026-W47.
    period TEXT NOT NULL,
    period_from BIGINT NOT NULL,
    period_to BIGINT NOT NULL,
    version BIGINT NOT NULL,
    -- draft | published
    state TEXT NOT NULL,
    title TEXT NOT NULL,
    -- Bumped by every edit; an edit names the revision it was made on, so two analysts
    -- editing at once cannot overwrite each other unnoticed.
    revision BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    published_by TEXT,
    published_at BIGINT,
    synthetic BIGINT NOT NULL DEFAULT 0,
    UNIQUE (unit_id, period, version)
);
CREATE INDEX briefings_unit ON briefings(unit_id, period_from);

-- The sections of a briefing in order: the figures generated from the data (JSON, never
-- edited) and the text an analyst may edit while the briefing is a draft.
CREATE TABLE briefing_sections (
    briefing_id BIGINT NOT NULL REFERENCES briefings(id),
    position BIGINT NOT NULL,
    -- headline | top_issues | trends | hotspots | key_opinions | departments | summary
    kind TEXT NOT NULL,
    heading TEXT NOT NULL,
    figures TEXT NOT NULL,
    body TEXT NOT NULL,
    -- The generated text, kept so an edit can always be compared with what was drafted.
    generated TEXT NOT NULL,
    edited_by TEXT,
    edited_at BIGINT,
    PRIMARY KEY (briefing_id, position)
);
