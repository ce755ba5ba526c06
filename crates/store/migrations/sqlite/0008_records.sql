-- minyi schema 8 (SQLite): what callbacks and case-progress notices need to know about
-- records imported from police systems. Keep in step with the other dialect.
-- contact_id points at contacts (encrypted phone and name of the caller, victim or
-- applicant); the flags are the callback exclusions the source system reports;
-- changed_at (epoch ms, 0 = never) moves whenever an import changes the record, so the
-- callback planner reads only what changed since its last pass.
ALTER TABLE incidents ADD COLUMN contact_id BIGINT REFERENCES contacts(id);
ALTER TABLE incidents ADD COLUMN domestic_violence BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN ongoing_danger BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN notices_opt_out BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX incidents_changed ON incidents(changed_at);

ALTER TABLE cases ADD COLUMN contact_id BIGINT REFERENCES contacts(id);
ALTER TABLE cases ADD COLUMN domestic_violence BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN ongoing_danger BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN notices_opt_out BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN investigator_assigned_at BIGINT;
ALTER TABLE cases ADD COLUMN suspect_caught_at BIGINT;
ALTER TABLE cases ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX cases_changed ON cases(changed_at);

ALTER TABLE permits ADD COLUMN contact_id BIGINT REFERENCES contacts(id);
ALTER TABLE permits ADD COLUMN notices_opt_out BIGINT NOT NULL DEFAULT 0;
ALTER TABLE permits ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX permits_changed ON permits(changed_at);
