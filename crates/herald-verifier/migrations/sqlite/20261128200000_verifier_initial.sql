-- herald verification service, initial schema (SQLite). Forward-only; never edit after merge.
-- Codes, API keys and token ids are stored only as keyed hashes (HMAC-SHA256 under the server
-- secret); no phone number, IP address, code or token is ever stored.

-- One issued verification code (short and long form share the row).
CREATE TABLE verification_code (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The issuer's idempotency id (or a fresh one): checkcodestatus/expirecode look it up.
    uuid TEXT NOT NULL UNIQUE,
    short_hash BLOB NOT NULL UNIQUE,
    long_hash BLOB NOT NULL UNIQUE,
    test_type TEXT NOT NULL,
    -- Days since 1970-01-01, or NULL.
    symptom_day INTEGER,
    test_day INTEGER,
    -- Who issued it: the admin API key's name (the portal will add users).
    issuer TEXT NOT NULL,
    external_issuer_id TEXT,
    -- Unix seconds. Issuance time is not stored: the expiry is all that is needed (§6.7).
    short_expires_at INTEGER NOT NULL,
    long_expires_at INTEGER NOT NULL,
    claimed BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX verification_code_expiry ON verification_code (long_expires_at);

-- Redeemed verification tokens: keyed hash of the jti, kept until the token expires.
CREATE TABLE used_token (
    hash BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX used_token_expiry ON used_token (expires_at);

-- API keys: keyed hash of the key; kind admin (issue codes) or device (apps).
CREATE TABLE api_key (
    hash BLOB PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('admin', 'device')),
    -- Unix seconds, whole hours.
    created_at INTEGER NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
