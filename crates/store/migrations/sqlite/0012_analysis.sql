-- minyi schema 12 (sqlite): analysis workspaces — analysts' labels, escalations of key
-- opinions to the city, joint assignments to departments (store/src/analysis.rs).
-- Keep in step with postgres/0012_analysis.sql.

-- An analyst confirming or correcting the labels of a matter. The previous labels are
-- kept beside the new ones, so a correction can be read back, audited and used as a
-- training example (minyi model corrections). Append-only: the latest row is current.
CREATE TABLE analyst_labels (
    id INTEGER PRIMARY KEY,
    opinion_id BIGINT NOT NULL REFERENCES opinions(id),
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    -- confirm | relabel
    action TEXT NOT NULL,
    category TEXT NOT NULL,
    sentiment TEXT NOT NULL,
    urgency TEXT NOT NULL,
    department TEXT,
    prev_category TEXT NOT NULL,
    prev_sentiment TEXT NOT NULL,
    prev_urgency TEXT NOT NULL,
    prev_department TEXT
);
CREATE INDEX analyst_labels_opinion ON analyst_labels(opinion_id, at);

-- A county analyst's escalation of a key opinion to the city, and the city's decision.
CREATE TABLE escalations (
    id INTEGER PRIMARY KEY,
    opinion_id BIGINT NOT NULL REFERENCES opinions(id),
    -- The unit the escalating analyst sits at (a county bureau).
    from_unit_id BIGINT NOT NULL REFERENCES units(id),
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    -- pending | accepted | returned
    state TEXT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT,
    note TEXT
);
CREATE INDEX escalations_state ON escalations(state, at);
CREATE INDEX escalations_opinion ON escalations(opinion_id);

-- A matter assigned jointly to one or more department units by the city; each
-- department answers for its part.
CREATE TABLE joint_assignments (
    id INTEGER PRIMARY KEY,
    opinion_id BIGINT NOT NULL REFERENCES opinions(id),
    department_id BIGINT NOT NULL REFERENCES units(id),
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT NOT NULL,
    -- pending | replied
    reply_state TEXT NOT NULL,
    reply TEXT,
    replied_at BIGINT,
    replied_by TEXT,
    UNIQUE (opinion_id, department_id)
);
CREATE INDEX joint_assignments_department ON joint_assignments(department_id, reply_state);
