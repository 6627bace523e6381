-- Daily statistics in up to 16 rows a day: a claim or an issue adds to one of them, so that
-- concurrent verifications do not queue on one row's lock (on PostgreSQL each holder keeps it
-- through its commit's WAL flush, which capped verifications at one per flush). Reads add the
-- shards of a day up.
CREATE TABLE code_stats_shard (
    day BIGINT NOT NULL,
    shard BIGINT NOT NULL,
    issued BIGINT NOT NULL DEFAULT 0,
    claimed BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, shard)
);
INSERT INTO code_stats_shard (day, shard, issued, claimed)
    SELECT day, 0, issued, claimed FROM code_stats;
DROP TABLE code_stats;
