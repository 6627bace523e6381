-- herald federation gateway, SQLite: key payloads sealed at rest (specs/efgs-gateway.md §6.1,
-- "Encryption at rest"). Forward-only; the same in postgres/.
--
-- A key's eight payload fields become one blob, `payload`: AES-256-GCM sealed with the at-rest
-- key whose id is `key_id`, or packed in plaintext when `key_id` is NULL (at_rest_encryption =
-- false). The plaintext columns stay, nullable, for rows stored before this migration: the
-- gateway seals them with the current key at startup (Store::apply_at_rest), and retention
-- deletes them in any case. SQLite cannot drop NOT NULL in place, so the table is rebuilt; the
-- clear columns come first so that packed rows, whose plaintext columns are all NULL, stay short.
CREATE TABLE diagnosis_key_at_rest (
    id                            INTEGER NOT NULL PRIMARY KEY,
    upload_id                     INTEGER NOT NULL REFERENCES upload (id),
    ordinal                       INTEGER NOT NULL,
    payload_hash                  BLOB    NOT NULL UNIQUE CHECK (length(payload_hash) = 32),
    created_at                    INTEGER NOT NULL,
    key_id                        INTEGER CHECK (key_id BETWEEN 0 AND 4294967295),
    payload                       BLOB,
    key_data                      BLOB    CHECK (length(key_data) = 16),
    rolling_start_interval_number INTEGER,
    rolling_period                INTEGER,
    transmission_risk_level       INTEGER,
    visited_countries             TEXT,
    origin                        TEXT,
    report_type                   INTEGER,
    days_since_onset              INTEGER,
    UNIQUE (upload_id, ordinal),
    CHECK ((payload IS NULL) <> (key_data IS NULL)),
    CHECK (key_id IS NULL OR payload IS NOT NULL)
);
INSERT INTO diagnosis_key_at_rest (id, upload_id, ordinal, payload_hash, created_at, key_data,
    rolling_start_interval_number, rolling_period, transmission_risk_level, visited_countries,
    origin, report_type, days_since_onset)
SELECT id, upload_id, ordinal, payload_hash, created_at, key_data, rolling_start_interval_number,
    rolling_period, transmission_risk_level, visited_countries, origin, report_type,
    days_since_onset
FROM diagnosis_key;
DROP TABLE diagnosis_key;
ALTER TABLE diagnosis_key_at_rest RENAME TO diagnosis_key;
CREATE INDEX diagnosis_key_created ON diagnosis_key (created_at);
