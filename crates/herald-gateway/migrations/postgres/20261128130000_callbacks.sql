-- herald federation gateway, PostgreSQL: callback subscriptions and their outbound tasks
-- (specs/efgs-gateway.md §1.5, §1.6). Forward-only; the same in sqlite/.

-- One row per (country, callbackId). A subscription that failed six times in a row is
-- suspended (suspended_at set) instead of deleted, unlike EFGS; a new PUT resumes it.
CREATE TABLE callback_subscription (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    country      TEXT    NOT NULL CHECK (length(country) = 2),
    callback_id  TEXT    NOT NULL CHECK (length(callback_id) BETWEEN 1 AND 32),
    url          TEXT    NOT NULL CHECK (length(url) BETWEEN 1 AND 256),
    created_at   BIGINT  NOT NULL,
    suspended_at BIGINT,
    UNIQUE (country, callback_id)
);

-- One task per (subscription, download batch). Tasks of a subscription are chained through
-- not_before_id (the previous task at creation), so a subscriber hears of batches in order.
CREATE TABLE callback_task (
    id               BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id  BIGINT  NOT NULL REFERENCES callback_subscription (id) ON DELETE CASCADE,
    batch_tag        TEXT    NOT NULL REFERENCES download_batch (tag),
    batch_created_at BIGINT  NOT NULL,
    created_at       BIGINT  NOT NULL,
    retries          BIGINT  NOT NULL DEFAULT 0 CHECK (retries >= 0),
    last_try         BIGINT,
    not_before_id    BIGINT  REFERENCES callback_task (id) ON DELETE SET NULL,
    UNIQUE (subscription_id, batch_tag)
);
CREATE INDEX callback_task_subscription ON callback_task (subscription_id, id);
CREATE INDEX callback_task_not_before ON callback_task (not_before_id);
