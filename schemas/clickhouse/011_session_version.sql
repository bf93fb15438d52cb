-- min-server: 23.8
-- Migration 011: one version counter per session, and the minutes in the finished rollups
-- (docs/architecture.md, "Finished rollups"). After 010 a lookup checked a finished rollup against
-- three counters, one per state table: four small table reads in one query, about 11 ms of chDB,
-- at the 20 ms target; and a session's minutes were still computed from its interval copies at
-- every read. Here the three counters flow into one table, and a finished rollup carries its
-- minutes, so either lookup is two small reads.
--
-- `session_version` is fed from the state tables, not from the raw ones: each view below hangs on
-- a state table (a view cascading from 010's counting views), so ClickHouse writes a state row
-- before the counter row that counts it, within the same INSERT. A refresh reads the counter first
-- and the states after it (aggregate/rollups.ts, refreshRollups), so the version a finished row
-- carries is never newer than the rows it was computed from; any row stored later moves the
-- counter and makes the row stale. That order is what makes the counter safe; its value is only a
-- change counter (an INSERT that fails between the two writes and is retried counts its rows twice,
-- which only makes a session stale once more).
--
-- `has_copies`: the sessions with at least one interval copy, the ones a rollup exists for.
CREATE TABLE IF NOT EXISTS {db}.session_version
(
    session_id  String,
    stored_rows SimpleAggregateFunction(sum, UInt64),
    has_copies  SimpleAggregateFunction(max, UInt8)
)
ENGINE = AggregatingMergeTree
ORDER BY session_id
SETTINGS index_granularity = 256, min_compress_block_size = 4096, max_compress_block_size = 8192;

-- Views before the backfill: a row stored in between is counted twice, never missed.
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.session_version_copies_mv TO {db}.session_version AS
SELECT session_id, sum(stored_rows) AS stored_rows, toUInt8(1) AS has_copies
FROM {db}.interval_copies
GROUP BY session_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.session_version_events_mv TO {db}.session_version AS
SELECT session_id, sum(stored_rows) AS stored_rows, toUInt8(0) AS has_copies
FROM {db}.session_event_state
GROUP BY session_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.session_version_reports_mv TO {db}.session_version AS
SELECT session_id, sum(stored_rows) AS stored_rows, toUInt8(0) AS has_copies
FROM {db}.vehicle_report_state
GROUP BY session_id;

-- Every session stored so far, once: one row per session, in key order, so the backfill's parts
-- hold disjoint key ranges and a lookup reads one of them (three unmerged backfills of 5,000,000
-- sessions, one per state table, made key lookups 1.7 times as slow until merged). It
-- writes into session_version directly (no view hangs on it); run again after a cut-off, it counts
-- every session twice, which only makes each stale once more.
INSERT INTO {db}.session_version
SELECT session_id, sum(n), max(c) FROM
(
    SELECT session_id, sum(stored_rows) AS n, toUInt8(1) AS c FROM {db}.interval_copies GROUP BY session_id
    UNION ALL SELECT session_id, sum(stored_rows), toUInt8(0) FROM {db}.session_event_state GROUP BY session_id
    UNION ALL SELECT session_id, sum(stored_rows), toUInt8(0) FROM {db}.vehicle_report_state GROUP BY session_id
)
GROUP BY session_id
ORDER BY session_id;

-- The minutes of a finished rollup: (minute start in epoch seconds UTC, energy in Wh, counted
-- intervals), in time order; running sums are taken at read. Every session with a rollup has at
-- least one minute, so an empty array means a row written before this column.
ALTER TABLE {db}.session_rollup_final ADD COLUMN IF NOT EXISTS minutes Array(Tuple(UInt32, Int64, UInt32)) AFTER vehicle_reports;

-- The finished rows so far carry 010's versions (sums over the state tables) and no minutes: they
-- go, and `pevmeter refresh` writes them again (reads are exact meanwhile, computed from the states).
TRUNCATE TABLE {db}.session_rollup_final;
