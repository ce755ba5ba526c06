-- minyi schema 10 (SQLite): three-indicator survey waves, their allocation per station
-- and their responses (store/src/surveys.rs). Keep in step with postgres/0010_surveys.sql.
-- config: the questionnaire's scoring per indicator and the interval method (JSON text,
-- validated by app/src/surveys.rs before it is stored); margins: population shares by
-- age band and sex for calibration (JSON text), NULL when the wave has none.
-- state: draft | fielding | closed.
CREATE TABLE survey_waves (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    period TEXT NOT NULL,
    state TEXT NOT NULL,
    config TEXT NOT NULL,
    margins TEXT,
    created_at BIGINT NOT NULL,
    synthetic BIGINT NOT NULL DEFAULT 0
);

-- The sample the agency is asked for at each station, and the population it was
-- allocated from (the sum of the station's areas at allocation time).
CREATE TABLE survey_allocations (
    wave_id BIGINT NOT NULL REFERENCES survey_waves(id),
    station_id BIGINT NOT NULL REFERENCES units(id),
    sample_size BIGINT NOT NULL,
    population BIGINT NOT NULL,
    PRIMARY KEY (wave_id, station_id)
);

-- One interview. No respondent's name or phone number is ever stored: the agency's own
-- response id (unique per wave, which makes imports idempotent) is the only handle.
-- interviewer: the agency's interviewer code or the entering account. mode: cati | face
-- | online. security, satisfaction: '1'..'5' | dont_know | missing. chief: named |
-- picked | wrong | dont_know | missing. A free comment is not kept here: it became the
-- opinion opinion_id (channel survey) under the protection every opinion has.
CREATE TABLE survey_responses (
    id INTEGER PRIMARY KEY,
    wave_id BIGINT NOT NULL REFERENCES survey_waves(id),
    external_id TEXT NOT NULL,
    station_id BIGINT NOT NULL REFERENCES units(id),
    area_id BIGINT REFERENCES areas(id),
    interviewer TEXT NOT NULL,
    mode TEXT NOT NULL,
    age_band TEXT NOT NULL,
    sex TEXT NOT NULL,
    security TEXT NOT NULL,
    satisfaction TEXT NOT NULL,
    chief TEXT NOT NULL,
    opinion_id BIGINT REFERENCES opinions(id),
    interviewed_at BIGINT NOT NULL,
    entered_at BIGINT NOT NULL,
    synthetic BIGINT NOT NULL DEFAULT 0,
    UNIQUE (wave_id, external_id)
);
CREATE INDEX survey_responses_station ON survey_responses(wave_id, station_id);
