-- The mandatory track (spec exchange.md §5): an organisation's incidents and the reports it has
-- submitted for them, to the operator as CSIRT. Never shared with peers. Deadlines are not
-- stored: they follow from these facts and the clock (`herald_exchange::clocks`).
CREATE TABLE incident (
    id TEXT PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES org (id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    aware_at_us BIGINT NOT NULL,
    significant BOOLEAN NOT NULL,
    personal_data BOOLEAN NOT NULL,
    -- When the organisation says the incident was handled (moves the final report's deadline).
    handled_at_us BIGINT,
    created_us BIGINT NOT NULL
);
CREATE INDEX incident_org ON incident (org_id, created_us);

-- One submitted report per stage: its NIS2 or GDPR content as submitted (JSON) and the SHA-256
-- of the request body its receipt names.
CREATE TABLE incident_stage (
    incident_id TEXT NOT NULL REFERENCES incident (id) ON DELETE CASCADE,
    stage TEXT NOT NULL CHECK (stage IN ('early_warning', 'notification', 'final_report',
                                         'progress_report', 'gdpr_notification')),
    submitted_us BIGINT NOT NULL,
    content TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    PRIMARY KEY (incident_id, stage)
);
