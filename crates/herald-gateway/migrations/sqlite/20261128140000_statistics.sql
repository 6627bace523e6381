-- herald federation gateway, SQLite: upload and download statistics (specs/efgs-gateway.md §1.3
-- step 7, §6.1: the reference's diagnosiskeyuploadbatch and diagnosiskeydownload). Forward-only;
-- the same in postgres/.
--
-- Times are coarsened to the start of their UTC hour (unix seconds): the tables count traffic,
-- they are no access log. The retention job deletes rows older than statistics_retention_days.

-- One row per stored upload.
CREATE TABLE upload_stats (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    created_at     INTEGER NOT NULL CHECK (created_at % 3600 = 0),
    upload_tag     TEXT    NOT NULL,
    country        TEXT    NOT NULL CHECK (length(country) = 2),
    number_of_keys INTEGER NOT NULL CHECK (number_of_keys >= 0)
);
CREATE INDEX upload_stats_created ON upload_stats (created_at);

-- One row per answered download (200): the batch, the requesting country, the keys served.
CREATE TABLE download_stats (
    id                 INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    requested_at       INTEGER NOT NULL CHECK (requested_at % 3600 = 0),
    download_batch_tag TEXT    NOT NULL,
    country            TEXT    NOT NULL CHECK (length(country) = 2),
    number_of_keys     INTEGER NOT NULL CHECK (number_of_keys >= 0)
);
CREATE INDEX download_stats_requested ON download_stats (requested_at);
