-- One log's tables, in the log's own schema (the connection's search_path):
-- several logs (tlog, ct, ...) share a database, one schema each. Applied
-- at every start under an advisory lock, so it must stay idempotent.

-- Each shard with its latest checkpoint: the row a batch locks (FOR UPDATE)
-- and compares with the checkpoint it extends.
CREATE TABLE IF NOT EXISTS shards (
    ordinal     BIGINT PRIMARY KEY,
    tree_id     BIGINT NOT NULL,
    start_index BIGINT NOT NULL,
    origin      TEXT   NOT NULL,
    size        BIGINT NOT NULL,
    root        BYTEA  NOT NULL,
    note        TEXT   NOT NULL
);

-- Every checkpoint ever committed. The primary key makes two roots for one
-- tree size impossible, whoever writes.
CREATE TABLE IF NOT EXISTS checkpoints (
    shard BIGINT NOT NULL REFERENCES shards (ordinal),
    size  BIGINT NOT NULL,
    root  BYTEA  NOT NULL,
    note  TEXT   NOT NULL,
    PRIMARY KEY (shard, size)
);

-- Entries by global index. The unique leaf hash makes duplicates exact
-- across every writer.
CREATE TABLE IF NOT EXISTS entries (
    idx             BIGINT PRIMARY KEY,
    leaf_hash       BYTEA  NOT NULL UNIQUE,
    integrated_time BIGINT NOT NULL,
    body            BYTEA  NOT NULL,
    receipt         BYTEA  NOT NULL,
    extra           BYTEA  NOT NULL
);

-- Tile hashes; a partial tile is replaced as it grows.
CREATE TABLE IF NOT EXISTS tiles (
    shard BIGINT   NOT NULL,
    level SMALLINT NOT NULL,
    idx   BIGINT   NOT NULL,
    data  BYTEA    NOT NULL,
    PRIMARY KEY (shard, level, idx)
);

-- The personality's search index: key -> global indexes.
CREATE TABLE IF NOT EXISTS search (
    key TEXT   NOT NULL,
    idx BIGINT NOT NULL,
    PRIMARY KEY (key, idx)
);

-- The integrator lease of replicas on this log: one row, its epoch only
-- ever grows. A batch commits only while its writer's epoch is the row's.
CREATE TABLE IF NOT EXISTS lease (
    singleton  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    epoch      BIGINT      NOT NULL,
    holder     TEXT        NOT NULL,
    url        TEXT        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- While `atesto tlog migrate` copies an embedded log in (one row): a log
-- server refuses to open the schema, and a rerun of the migration starts
-- the copy over. Removed once the copy is verified (and published).
CREATE TABLE IF NOT EXISTS migration (
    singleton  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    source     TEXT        NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Values every replica of the log shares, stored by the first to start:
-- the admin token (a rotation reaching a follower is forwarded with it).
CREATE TABLE IF NOT EXISTS settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
