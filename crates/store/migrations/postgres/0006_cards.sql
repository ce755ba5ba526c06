-- minyi schema 6 (PostgreSQL): QR scans of contact cards and boards (store/src/cards.rs).
-- Keep in step with sqlite/0006_cards.sql.
-- One row per card target and day, holding how many times its QR code was opened: the
-- count is all there is — no address, device, time of day or anything else about the
-- person who scanned.
-- target_kind is `unit` (a station's own card) or `area` (a community's card); target_id
-- is then units.id or areas.id. day is the epoch-ms of 00:00 Asia/Shanghai on the day of
-- the scans.
CREATE TABLE qr_scans (
    target_kind TEXT NOT NULL,
    target_id BIGINT NOT NULL,
    day BIGINT NOT NULL,
    scans BIGINT NOT NULL,
    PRIMARY KEY (target_kind, target_id, day)
);
