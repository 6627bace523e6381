-- herald key server, initial schema (SQLite). Times are Unix seconds; every stored time is
-- coarsened to the hour (key-server.md §6.7) except leases and one-time-use expiries.

-- Diagnosis keys, local and federated (key-server.md §1.2 `exposure`).
CREATE TABLE exposure (
    key_data                  BLOB    PRIMARY KEY CHECK (length(key_data) = 16),
    transmission_risk         INTEGER NOT NULL CHECK (transmission_risk BETWEEN 0 AND 8),
    -- healthAuthorityID of a local upload, 'federation' for foreign keys, 'export-generated' for fakes.
    source                    TEXT    NOT NULL,
    -- ',DE,NL,' : upper-case regions between commas.
    regions                   TEXT    NOT NULL,
    traveler                  BOOLEAN NOT NULL,
    interval_number           INTEGER NOT NULL,
    interval_count            INTEGER NOT NULL CHECK (interval_count BETWEEN 1 AND 144),
    -- Release time (whole hour): when the key may first go into an export window.
    created_at                INTEGER NOT NULL,
    local_provenance          BOOLEAN NOT NULL,
    origin                    TEXT    NOT NULL CHECK (length(origin) = 2),
    report_type               TEXT    NOT NULL,
    days_since_onset          INTEGER,
    revised_report_type       TEXT,
    revised_at                INTEGER,
    revised_days_since_onset  INTEGER,
    revised_transmission_risk INTEGER
);
CREATE INDEX exposure_created_at ON exposure (created_at);
CREATE INDEX exposure_revised_at ON exposure (revised_at) WHERE revised_at IS NOT NULL;

-- Verification certificates already used (one-time use, key-server.md §6.8): SHA-256 of the JWT.
CREATE TABLE used_certificate (
    hash       BLOB    PRIMARY KEY CHECK (length(hash) = 32),
    expires_at INTEGER NOT NULL
);
CREATE INDEX used_certificate_expires ON used_certificate (expires_at);

-- Keys waiting to be uploaded to the federation gateway (consent given), §8 item 3.
CREATE TABLE federation_outbox (
    key_data   BLOB    PRIMARY KEY REFERENCES exposure (key_data) ON DELETE CASCADE,
    not_before INTEGER NOT NULL,
    batch_tag  TEXT,
    uploaded   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX federation_outbox_pending ON federation_outbox (not_before) WHERE batch_tag IS NULL;
CREATE INDEX federation_outbox_batch ON federation_outbox (batch_tag) WHERE batch_tag IS NOT NULL;

-- Upload batches to the gateway: a tag is reserved before the first attempt, so a retry after a
-- crash reuses it and a 409 tells that the earlier attempt landed.
CREATE TABLE federation_upload (
    tag        TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_try   INTEGER NOT NULL
);

-- Download batches seen, with their processing state (§8 item 4).
CREATE TABLE federation_download (
    tag          TEXT    PRIMARY KEY,
    day          TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    keys         INTEGER NOT NULL,
    imported     INTEGER NOT NULL,
    processed_at INTEGER NOT NULL
);
-- The last batch tag processed per gateway day.
CREATE TABLE federation_cursor (
    day      TEXT PRIMARY KEY,
    last_tag TEXT NOT NULL
);

-- Export windows per export configuration (§5.7).
CREATE TABLE export_batch (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    config      TEXT    NOT NULL,
    start_time  INTEGER NOT NULL,
    end_time    INTEGER NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('open', 'complete', 'del_pend', 'deleted')),
    files       INTEGER NOT NULL DEFAULT 0,
    keys        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (config, start_time)
);
CREATE TABLE export_file (
    name        TEXT    PRIMARY KEY,
    batch_id    INTEGER NOT NULL REFERENCES export_batch (id),
    keys        INTEGER NOT NULL,
    revised     INTEGER NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('complete', 'del_pend'))
);
CREATE INDEX export_file_batch ON export_file (batch_id);

-- One process per job (scale-out on PostgreSQL).
CREATE TABLE job_lease (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
