-- herald exchange, initial schema (SQLite). Forward-only; never edit after merge.
-- Times are microseconds since 1970-01-01 UTC. API tokens are stored only as keyed hashes.
-- No IP address, request body or token is ever stored.

-- An organisation: the operator (the sector CERT), a member (hospital, region, GP) or a supplier.
CREATE TABLE org (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- Its STIX identity (identity--<uuid>).
    identity_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('operator', 'member', 'supplier')),
    disabled BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE community (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE community_member (
    community_id BIGINT NOT NULL REFERENCES community (id),
    org_id BIGINT NOT NULL REFERENCES org (id),
    PRIMARY KEY (community_id, org_id)
);
CREATE INDEX community_member_org ON community_member (org_id);

-- API tokens: HMAC-SHA256 of the token under the exchange's token key.
CREATE TABLE api_token (
    hash BLOB PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES org (id),
    name TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (org_id, name)
);

-- A TAXII collection; `position` fixes the order of the collections list.
CREATE TABLE collection (
    id TEXT PRIMARY KEY,
    alias TEXT UNIQUE,
    title TEXT NOT NULL,
    description TEXT,
    position BIGINT NOT NULL UNIQUE,
    -- The last date_added given out: date_added only grows, in commit order (writers lock this row).
    last_added_us BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE collection_grant (
    collection_id TEXT NOT NULL REFERENCES collection (id),
    org_id BIGINT NOT NULL REFERENCES org (id),
    can_read BOOLEAN NOT NULL,
    can_write BOOLEAN NOT NULL,
    PRIMARY KEY (collection_id, org_id)
);

-- One version of one STIX object in one collection; `body` is the exact JSON that was accepted.
CREATE TABLE stix_object (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_id TEXT NOT NULL REFERENCES collection (id),
    object_id TEXT NOT NULL,
    type TEXT NOT NULL,
    -- modified, else created, else date_added (TAXII 2.1 §3.4.2); `declared` says which.
    version_us BIGINT NOT NULL,
    declared BOOLEAN NOT NULL,
    spec_version TEXT NOT NULL,
    date_added_us BIGINT NOT NULL,
    author_org BIGINT NOT NULL REFERENCES org (id),
    -- 0 CLEAR, 1 GREEN, 2 AMBER, 3 AMBER+STRICT, 4 RED (unmarked is AMBER).
    tlp INTEGER NOT NULL CHECK (tlp BETWEEN 0 AND 4),
    is_latest BOOLEAN NOT NULL,
    is_first BOOLEAN NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (collection_id, object_id, version_us)
);
CREATE INDEX stix_object_page ON stix_object (collection_id, date_added_us, seq);
CREATE INDEX stix_object_latest ON stix_object (collection_id, date_added_us, seq) WHERE is_latest = TRUE;
CREATE INDEX stix_object_by_id ON stix_object (object_id);

-- The organisations a TLP:RED object names (herald recipients extension).
CREATE TABLE object_recipient (
    seq BIGINT NOT NULL REFERENCES stix_object (seq) ON DELETE CASCADE,
    org_id BIGINT NOT NULL REFERENCES org (id),
    PRIMARY KEY (seq, org_id)
);

-- TAXII status resources: one per POST, readable only by the organisation that posted.
CREATE TABLE status (
    id TEXT PRIMARY KEY,
    collection_id TEXT NOT NULL REFERENCES collection (id),
    org_id BIGINT NOT NULL REFERENCES org (id),
    request_us BIGINT NOT NULL,
    total BIGINT NOT NULL,
    successes BIGINT NOT NULL,
    failures BIGINT NOT NULL
);

CREATE TABLE status_entry (
    status_id TEXT NOT NULL REFERENCES status (id) ON DELETE CASCADE,
    ord BIGINT NOT NULL,
    object_id TEXT NOT NULL,
    version TEXT,
    ok BOOLEAN NOT NULL,
    message TEXT,
    PRIMARY KEY (status_id, ord)
);

-- The hash-chained audit log (spec §8). `audit_head` is locked by every append, so that two
-- instances never fork the chain.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at_us BIGINT NOT NULL,
    actor_org BIGINT,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
