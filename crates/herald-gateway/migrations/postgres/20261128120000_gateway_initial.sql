-- herald federation gateway, PostgreSQL (specs/efgs-gateway.md §4.3, §6.1). Forward-only: never
-- edit this file once merged; add a new timestamped migration instead, and the same in sqlite/.
-- Times are unix seconds (BIGINT), key bytes BYTEA, thumbprints 64 lowercase hex digits.

-- The trust list (§4.3): operator-signed certificate rows.
CREATE TABLE trust_entry (
    thumbprint         TEXT    NOT NULL PRIMARY KEY CHECK (length(thumbprint) = 64),
    country            TEXT    NOT NULL CHECK (length(country) = 2),
    kind               TEXT    NOT NULL CHECK (kind IN ('AUTHENTICATION', 'SIGNING', 'CALLBACK')),
    certificate_pem    TEXT    NOT NULL,
    operator_signature TEXT    NOT NULL,
    revoked            BOOLEAN NOT NULL DEFAULT FALSE,
    host               TEXT,
    created_at         BIGINT  NOT NULL
);

-- Download batches (§1.3): tag yyyyMMdd-N, N = day_seq per UTC day number, chained by next_tag.
CREATE TABLE download_batch (
    id         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tag        TEXT    NOT NULL UNIQUE,
    day        BIGINT  NOT NULL,
    day_seq    BIGINT  NOT NULL CHECK (day_seq > 0),
    created_at BIGINT  NOT NULL,
    next_tag   TEXT    UNIQUE REFERENCES download_batch (tag),
    key_count  BIGINT  NOT NULL CHECK (key_count >= 0),
    UNIQUE (day, day_seq)
);
CREATE INDEX download_batch_created ON download_batch (created_at, id);

-- Uploads: the permanent tag registry (§5.2) and the uploader information of the audit (§1.4).
-- A key's download batch is its upload's: uploads are never split.
CREATE TABLE upload (
    id                 BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tag                TEXT    NOT NULL UNIQUE,
    country            TEXT    NOT NULL CHECK (length(country) = 2),
    auth_thumbprint    TEXT    NOT NULL,
    signing_thumbprint TEXT    NOT NULL,
    batch_signature    TEXT    NOT NULL,
    created_at         BIGINT  NOT NULL,
    key_count          BIGINT  NOT NULL CHECK (key_count >= 0),
    download_batch_id  BIGINT  REFERENCES download_batch (id)
);
CREATE INDEX upload_pending ON upload (id) WHERE download_batch_id IS NULL AND key_count > 0;
CREATE INDEX upload_download_batch ON upload (download_batch_id);

-- Diagnosis keys: the eight EFGS payload fields, structurally (visited countries joined with ','
-- in wire order, '' for none), the payload hash (§5.2) and the position in the upload.
CREATE TABLE diagnosis_key (
    id                            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    upload_id                     BIGINT  NOT NULL REFERENCES upload (id),
    ordinal                       BIGINT  NOT NULL,
    payload_hash                  BYTEA   NOT NULL UNIQUE CHECK (length(payload_hash) = 32),
    key_data                      BYTEA   NOT NULL CHECK (length(key_data) = 16),
    rolling_start_interval_number BIGINT  NOT NULL,
    rolling_period                INTEGER NOT NULL,
    transmission_risk_level       INTEGER NOT NULL,
    visited_countries             TEXT    NOT NULL,
    origin                        TEXT    NOT NULL,
    report_type                   INTEGER NOT NULL,
    days_since_onset              INTEGER NOT NULL,
    created_at                    BIGINT  NOT NULL,
    UNIQUE (upload_id, ordinal)
);
CREATE INDEX diagnosis_key_created ON diagnosis_key (created_at);

-- The lock row that serializes download batching across tasks and processes.
CREATE TABLE batching_lock (
    id        INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    locked_at BIGINT  NOT NULL
);
INSERT INTO batching_lock (id, locked_at) VALUES (1, 0);

-- Job leases: one process runs a scheduled job at a time.
CREATE TABLE job_lease (
    job        TEXT    NOT NULL PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL
);
