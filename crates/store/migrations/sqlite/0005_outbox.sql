-- minyi schema 5 (SQLite): the notification outbox (store/src/outbox.rs). Keep in step
-- with postgres/0005_outbox.sql.
-- A message is written here in the same transaction as the change it reports, then sent
-- by a background worker: at-least-once delivery that survives restarts.
-- recipient_enc is the phone number encrypted with the data key exactly like
-- contacts.phone_enc; recipient_hash is its keyed look-up hash (reply matching). The
-- body holds only the tracking code and public wording, never a name or a number, and
-- last_error only what the provider answered about the attempt (status, timeout).
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    created_at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    recipient_enc TEXT NOT NULL,
    recipient_hash TEXT NOT NULL,
    template TEXT NOT NULL,
    body TEXT NOT NULL,
    subject TEXT,
    -- One message per event that caused it (`received:CODE`): a retried intake never
    -- queues a second notice.
    dedup_key TEXT UNIQUE,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    sent_at BIGINT
);
-- The worker's claim: due messages in order.
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
-- A reply digit finds the invitation sent to the same phone.
CREATE INDEX outbox_recipient ON outbox(recipient_hash, template, sent_at);
