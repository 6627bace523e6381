-- herald verification service, the case-worker portal (SQLite). Forward-only; never edit after merge.
-- No password, TOTP secret, session id or code is stored in clear: passwords as argon2id PHC
-- strings, TOTP secrets sealed with AES-256-GCM under a key derived from the server secret,
-- session ids as keyed hashes. Audit times are whole minutes.

CREATE TABLE portal_user (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    -- argon2id PHC string.
    password_hash TEXT NOT NULL,
    -- nonce || AES-256-GCM(secret) with the user name as associated data.
    totp_secret BLOB NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('administrator', 'case_worker')),
    failed_logins INTEGER NOT NULL DEFAULT 0,
    -- Unix seconds; set when the account is locked (an administrator unlocks it).
    locked_until INTEGER,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    -- A one-time password must be replaced at the first login.
    password_change_required BOOLEAN NOT NULL DEFAULT TRUE,
    -- The last accepted TOTP time step: a code is accepted once.
    last_totp_step INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE portal_session (
    -- Keyed hash of the random session id (the cookie holds the id).
    hash BLOB PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES portal_user (id),
    expires_at INTEGER NOT NULL
);
CREATE INDEX portal_session_expiry ON portal_session (expires_at);

-- Who did what, to the minute; never a code, password or secret.
CREATE TABLE audit_event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_minute INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_event_time ON audit_event (at_minute);

-- Codes issued and claimed per UTC day (days since 1970-01-01).
CREATE TABLE code_stats (
    day INTEGER PRIMARY KEY,
    issued INTEGER NOT NULL DEFAULT 0,
    claimed INTEGER NOT NULL DEFAULT 0
);
