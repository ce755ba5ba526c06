-- minyi schema 2 (SQLite): accounts, sessions, API keys, residents' contacts (encrypted),
-- the hash-chained audit log. Keep in step with postgres/0002_security.sql.
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    unit_id BIGINT NOT NULL REFERENCES units(id),
    password_hash TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    must_change_password BIGINT NOT NULL DEFAULT 0,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    last_failed_at BIGINT,
    locked_until BIGINT,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT,
    synthetic BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX accounts_unit ON accounts(unit_id);

-- The cookie holds a random token; only its SHA-256 is stored, so a copy of the
-- database does not let anyone sign in.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    prefix TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL,
    unit_id BIGINT NOT NULL REFERENCES units(id),
    purpose TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by BIGINT REFERENCES accounts(id),
    revoked_at BIGINT,
    last_used_at BIGINT
);

-- A resident's identity: each field encrypted (AEAD, text "v1:…"), a keyed hash beside
-- it for equality look-ups, and the masked form shown in lists. Anonymisation clears
-- the ciphertexts and hashes and keeps the row, so counts stay true.
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    name_enc TEXT,
    name_hash TEXT,
    name_masked TEXT,
    phone_enc TEXT,
    phone_hash TEXT,
    phone_masked TEXT,
    id_number_enc TEXT,
    id_number_hash TEXT,
    id_number_masked TEXT,
    address_enc TEXT,
    address_masked TEXT,
    created_at BIGINT NOT NULL,
    anonymised_at BIGINT
);
CREATE INDEX contacts_phone_hash ON contacts(phone_hash);
CREATE INDEX contacts_id_number_hash ON contacts(id_number_hash);

ALTER TABLE opinions ADD COLUMN contact_id BIGINT REFERENCES contacts(id);
CREATE INDEX opinions_contact ON opinions(contact_id);

-- Append-only: seq is contiguous from 1; hash = keyed MAC over (seq, at, actor, action,
-- subject, detail, prev_hash). `minyi audit verify` walks it.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
