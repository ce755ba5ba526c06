-- minyi schema 7 (sqlite): triage records and near-duplicate merging (store/src/merges.rs).
-- Keep in step with postgres/0007_merge.sql.

-- What the classifier said about an opinion at intake, kept beside what was stored: a
-- sender's explicit category wins over the classifier, but its suggestion stays visible,
-- and the explanation (the matched words, or the model's confidence) is what an analyst
-- reads to confirm or correct. One row per opinion.
CREATE TABLE opinion_triage (
    opinion_id BIGINT PRIMARY KEY REFERENCES opinions(id),
    at BIGINT NOT NULL,
    -- rules | model: which classifier answered.
    source TEXT NOT NULL,
    category TEXT NOT NULL,
    sentiment TEXT NOT NULL,
    urgency TEXT NOT NULL,
    department TEXT,
    police BIGINT NOT NULL,
    -- Confidence of the category in thousandths (0..1000).
    confidence_permille BIGINT NOT NULL,
    needs_review BIGINT NOT NULL,
    explanation TEXT NOT NULL,
    -- 1 when the sender chose the category and it was kept over this suggestion.
    overridden BIGINT NOT NULL DEFAULT 0
);

-- A proposal that opinion_id (the later one) repeats candidate_id (the earlier one,
-- which survives as the primary if the proposal is accepted).
CREATE TABLE merge_proposals (
    id INTEGER PRIMARY KEY,
    opinion_id BIGINT NOT NULL REFERENCES opinions(id),
    candidate_id BIGINT NOT NULL REFERENCES opinions(id),
    -- Weighted n-gram cosine in thousandths (minyi_text::dedup).
    score_permille BIGINT NOT NULL,
    proposed_at BIGINT NOT NULL,
    -- proposed | accepted | rejected
    state TEXT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    UNIQUE (opinion_id, candidate_id)
);
CREATE INDEX merge_proposals_state ON merge_proposals(state, proposed_at);
CREATE INDEX merge_proposals_candidate ON merge_proposals(candidate_id);

-- The originals merged into a primary, to answer each of them when the primary is answered.
CREATE INDEX opinions_merged_into ON opinions(merged_into) WHERE merged_into IS NOT NULL;
