-- herald federation gateway, PostgreSQL: key payloads sealed at rest (specs/efgs-gateway.md
-- §6.1, "Encryption at rest"). Forward-only; the same in sqlite/.
--
-- A key's eight payload fields become one blob, `payload`: AES-256-GCM sealed with the at-rest
-- key whose id is `key_id`, or packed in plaintext when `key_id` is NULL (at_rest_encryption =
-- false). The plaintext columns stay, nullable, for rows stored before this migration: the
-- gateway seals them with the current key at startup (Store::apply_at_rest), and retention
-- deletes them in any case.
ALTER TABLE diagnosis_key
    ADD COLUMN key_id BIGINT CHECK (key_id BETWEEN 0 AND 4294967295),
    ADD COLUMN payload BYTEA,
    ALTER COLUMN key_data DROP NOT NULL,
    ALTER COLUMN rolling_start_interval_number DROP NOT NULL,
    ALTER COLUMN rolling_period DROP NOT NULL,
    ALTER COLUMN transmission_risk_level DROP NOT NULL,
    ALTER COLUMN visited_countries DROP NOT NULL,
    ALTER COLUMN origin DROP NOT NULL,
    ALTER COLUMN report_type DROP NOT NULL,
    ALTER COLUMN days_since_onset DROP NOT NULL,
    ADD CONSTRAINT diagnosis_key_payload_or_plaintext CHECK ((payload IS NULL) <> (key_data IS NULL)),
    ADD CONSTRAINT diagnosis_key_key_id_needs_payload CHECK (key_id IS NULL OR payload IS NOT NULL);
