-- min-server: 23.8
-- Migration 010: finished session rollups (docs/architecture.md, "Finished rollups"). The state
-- tables of 006 and 009 are exact at every read but must be merged at every read: about 2 ms of
-- CPU per session on chDB, so a premise's month took 50-70 ms and the whole month's rollups 24 s
-- at 1,000,000 sessions. `session_rollup_final` keeps each session's rollup as one plain row,
-- written by `pevmeter refresh` (aggregate/rollups.ts, refreshRollups) and read only while it is
-- still current.
--
-- How a read knows: every state row now counts the raw rows that fed it (`stored_rows`, a sum that
-- merges keep), and a finished rollup stores the sum over its session's three state tables at the
-- moment it was computed (`version`). Each counter only grows, so a session whose current sum equals
-- the stored version has had no row since; any other session is answered from its states, as before.
-- The counter and the state it counts are written in the same row by the same view, so a rollup and
-- its version always come from the same data. Rows stored before this migration count 0: a version
-- is a change counter, not a row count.
--
-- Order: each counting view is created before the view it replaces is dropped: rows arriving in
-- between reach the state twice, which a state's merge absorbs (sets, min, max) and a counter only
-- makes larger. Cut off anywhere, the migration is simply run again.

ALTER TABLE {db}.interval_copies ADD COLUMN IF NOT EXISTS stored_rows SimpleAggregateFunction(sum, UInt64) DEFAULT 0;

ALTER TABLE {db}.session_event_state ADD COLUMN IF NOT EXISTS stored_rows SimpleAggregateFunction(sum, UInt64) DEFAULT 0;

ALTER TABLE {db}.vehicle_report_state ADD COLUMN IF NOT EXISTS stored_rows SimpleAggregateFunction(sum, UInt64) DEFAULT 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.interval_copies_counted_mv TO {db}.interval_copies AS
SELECT
    session_id,
    intDiv(seq, 64) AS seq_block,
    esci_id,
    pev_id,
    [premise_id] AS premises,
    [(seq, bitShiftLeft(toUInt64(src_partition), 40) + toUInt64(src_offset), energy_wh, toUInt64(toUInt32(interval_start)) * 65536 + interval_s, register_wh, content_hash)] AS copies,
    toUInt64(1) AS stored_rows
FROM {db}.interval_raw;

DROP VIEW IF EXISTS {db}.interval_copies_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.session_event_state_counted_mv TO {db}.session_event_state AS
SELECT
    session_id,
    groupUniqArrayState(premise_id) AS premises,
    any(pev_id) AS pev_id,
    any(esci_id) AS esci_id,
    min(event_time_ms) AS first_event_ms,
    max(event_time_ms) AS last_event_ms,
    groupBitOr(toUInt8(multiIf(event_type = 'START', 1, event_type = 'REQUEST', 2, event_type = 'AVAILABLE', 4, event_type = 'PROGRESS', 8, event_type = 'END', 16, 0))) AS kinds,
    minIfState((event_seq, src_partition, src_offset, binding, plug_in_ms), toUInt8(event_type = 'START')) AS start_ev,
    maxIfState((event_seq, -src_partition, -src_offset, requested_wh, max_rate_w), toUInt8(event_type = 'REQUEST')) AS request_ev,
    maxIfState((event_seq, -src_partition, -src_offset, granted_wh, rate_w, schedule_start_ms, schedule_end_ms, delay_reason), toUInt8(event_type = 'AVAILABLE')) AS available_ev,
    maxIfState((event_seq, -src_partition, -src_offset, running_wh, intervals), toUInt8(event_type = 'PROGRESS')) AS progress_ev,
    maxIfState((event_seq, -src_partition, -src_offset, start_ms, end_ms, duration_s, energy_wh), toUInt8(event_type = 'END')) AS end_ev,
    count() AS stored_rows
FROM {db}.session_event_raw
GROUP BY session_id;

DROP VIEW IF EXISTS {db}.session_event_state_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.vehicle_report_state_counted_mv TO {db}.vehicle_report_state AS
SELECT
    session_id,
    uniqExactState(report_time_ms) AS report_times,
    max((report_time_ms, -src_partition, -src_offset, running_wh)) AS latest,
    count() AS stored_rows
FROM {db}.vehicle_report_raw
GROUP BY session_id;

DROP VIEW IF EXISTS {db}.vehicle_report_state_mv;

-- One row per session and refresh; the highest version is the current one (FINAL, or a merge).
-- Columns as aggregate/rollups.ts SessionRollup: times in epoch milliseconds (UTC), energy in Wh;
-- has_end 0/1 as the rollup computed from the states, so an export reads the same either way.
-- Small compressed blocks: a lookup reads a few rows each from many granules, and with the default
-- 64 KiB blocks it decompressed about 16 times what it used (20 sessions: 17 ms against 11 ms).
CREATE TABLE IF NOT EXISTS {db}.session_rollup_final
(
    session_id         String,
    esci_id            String,
    premise_id         String,
    pev_id             String,
    first_interval_ms  Int64,
    last_activity_ms   Int64,
    energy_wh          Int64,
    intervals_seen     UInt64,
    intervals_expected UInt64,
    conflicts          UInt64,
    has_end            UInt8,
    end_energy_wh      Nullable(Int64),
    end_duration_s     Nullable(Int64),
    last_progress_wh   Int64,
    granted_wh         Int64,
    vehicle_running_wh Int64,
    vehicle_reports    UInt64,
    version            UInt64,
    refreshed_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY session_id
SETTINGS index_granularity = 256, min_compress_block_size = 4096, max_compress_block_size = 8192;
