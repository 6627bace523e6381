-- herald federation gateway, SQLite: callback subscriptions and their outbound tasks
-- (specs/efgs-gateway.md §1.5, §1.6). Forward-only; the same in postgres/.

-- One row per (country, callbackId). A subscription that failed six times in a row is
-- suspended (suspended_at set) instead of deleted, unlike EFGS; a new PUT resumes it.
CREATE TABLE callback_subscription (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    country      TEXT    NOT NULL CHECK (length(country) = 2),
    callback_id  TEXT    NOT NULL CHECK (length(callback_id) BETWEEN 1 AND 32),
    url          TEXT    NOT NULL CHECK (length(url) BETWEEN 1 AND 256),
    created_at   INTEGER NOT NULL,
    suspended_at INTEGER,
    UNIQUE (country, callback_id)
);

-- One task per (subscription, download batch). Tasks of a subscription are chained through
-- not_before_id (the previous task at creation), so a subscriber hears of batches in order.
CREATE TABLE callback_task (
    id               INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    subscription_id  INTEGER NOT NULL REFERENCES callback_subscription (id) ON DELETE CASCADE,
    batch_tag        TEXT    NOT NULL REFERENCES download_batch (tag),
    batch_created_at INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    retries          INTEGER NOT NULL DEFAULT 0 CHECK (retries >= 0),
    last_try         INTEGER,
    not_before_id    INTEGER REFERENCES callback_task (id) ON DELETE SET NULL,
    UNIQUE (subscription_id, batch_tag)
);
CREATE INDEX callback_task_subscription ON callback_task (subscription_id, id);
CREATE INDEX callback_task_not_before ON callback_task (not_before_id);
