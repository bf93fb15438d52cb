-- min-server: 23.8
-- Migration 006: aggregates kept as rows arrive (docs/architecture.md, "Aggregates kept as data
-- arrives"). Requires ClickHouse 23.8 or newer (aggregate states of tuples, -If states); an
-- older server that only takes ingest writes (the 18.16 outage-test server) skips it and keeps
-- working, and the read API (aggregate/rollups.ts) then answers PEV_STORE_REJECTED naming this
-- migration.
--
-- Why these states keep the exactly-once rule of 001 when every copy of a record is inserted:
-- each state is a min, a max or a set. Merging is idempotent, commutative and associative, so an
-- exact resend, a Kafka redelivery, a replayed insert, the backfill below running twice, or a
-- merge in any order leave the same state. Nothing is summed
-- at write time: sums are taken at read time over the merged set of a session's copies, one per
-- seq chosen by arrival, whatever the number of deliveries.
--
--   interval_state         per (session_id, seq_block = seq / 64): the set of distinct stored
--                          copies, each as (seq, arrival, energy_wh, slot, register_wh,
--                          content_hash), where arrival = src_partition * 2^40 + src_offset (the
--                          read-time order of 001: partition, then offset; offsets stay below
--                          2^40, 348 years at 100,000 messages a second) and slot =
--                          start (epoch s) * 65536 + interval_s. A Kafka redelivery is the same
--                          tuple and adds nothing; an ESCI resend adds one entry (as it adds a raw
--                          row). Per seq the smallest arrival counts; a seq with two contents is a
--                          conflict. A set of numeric tuples, not a minMap of tuples: minMap
--                          compares generic values and cost four times the CPU per row (chDB 26.7,
--                          2,000,000 rows: 4.3 s against 1.1 s for the aggregation alone). Keyed
--                          by seq block, not by minute: a conflicting copy may carry another start,
--                          and a key taken from a copy's content would count one seq in two
--                          minutes. Minutes are the counted copies' starts, grouped when read.
--   session_event_state    per session: for each event type the latest event_seq's first received
--                          copy (the earliest START), as facts.ts chose it before.
--   vehicle_report_state   per session: distinct report times, the latest report (first received).
--   session_by_premise,    index tables for the billing system's lookups, ordered by the key:
--   session_by_pev         fed from session events (a twentieth of the interval rows) and from
--                          each session's interval seq 0 only, so a lookup reads its answer's rows.
--   enrollment_by_account, enrollments ordered by account and by program, to reach the PEVs of one.
--   enrollment_by_program
--
-- The state tables use index_granularity = 256 (the default is 8,192 rows): session IDs are
-- random, so the 20 sessions of one premise sit in 20 different granules, and a lookup reads
-- whole granules of state rows. At 8,192 a premise's lookup read 12 of 14 granules of a
-- 100,000-session store; at 256 it reads about 20 x 256 rows at any size.
--
-- The states are filled from the raw tables once at the end (INSERT ... SELECT): idempotent for
-- the same reason, so a migration cut off half-way is simply run again.

CREATE TABLE IF NOT EXISTS {db}.interval_state
(
    session_id  String,
    seq_block   UInt32,
    esci_id     SimpleAggregateFunction(any, String),
    pev_id      SimpleAggregateFunction(any, String),
    premises    AggregateFunction(groupUniqArray, String),
    copies      AggregateFunction(groupUniqArray, Tuple(UInt32, UInt64, Int64, UInt64, Int64, UInt64))
)
ENGINE = AggregatingMergeTree
ORDER BY (session_id, seq_block)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.interval_state_mv TO {db}.interval_state AS
SELECT
    session_id,
    intDiv(seq, 64) AS seq_block,
    any(esci_id) AS esci_id,
    any(pev_id) AS pev_id,
    groupUniqArrayState(premise_id) AS premises,
    groupUniqArrayState((seq, bitShiftLeft(toUInt64(src_partition), 40) + toUInt64(src_offset), energy_wh, toUInt64(toUInt32(interval_start)) * 65536 + interval_s, register_wh, content_hash)) AS copies
FROM {db}.interval_raw
GROUP BY session_id, seq_block;

CREATE TABLE IF NOT EXISTS {db}.session_event_state
(
    session_id     String,
    premises       AggregateFunction(groupUniqArray, String),
    pev_id         SimpleAggregateFunction(any, String),
    esci_id        SimpleAggregateFunction(any, String),
    first_event_ms SimpleAggregateFunction(min, Int64),
    last_event_ms  SimpleAggregateFunction(max, Int64),
    kinds          SimpleAggregateFunction(groupBitOr, UInt8),
    -- (event_seq, partition, offset, binding, plug_in_ms): the smallest is the earliest START.
    start_ev       AggregateFunction(minIf, Tuple(UInt32, Int32, Int64, String, Int64), UInt8),
    -- (event_seq, -partition, -offset, ...): the largest is the latest event, first received.
    request_ev     AggregateFunction(maxIf, Tuple(UInt32, Int32, Int64, Int64, Int32), UInt8),
    available_ev   AggregateFunction(maxIf, Tuple(UInt32, Int32, Int64, Int64, Int32, Int64, Int64, String), UInt8),
    progress_ev    AggregateFunction(maxIf, Tuple(UInt32, Int32, Int64, Int64, Int32), UInt8),
    end_ev         AggregateFunction(maxIf, Tuple(UInt32, Int32, Int64, Int64, Int64, Int32, Int64), UInt8)
)
ENGINE = AggregatingMergeTree
ORDER BY session_id
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.session_event_state_mv TO {db}.session_event_state AS
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
    maxIfState((event_seq, -src_partition, -src_offset, start_ms, end_ms, duration_s, energy_wh), toUInt8(event_type = 'END')) AS end_ev
FROM {db}.session_event_raw
GROUP BY session_id;

CREATE TABLE IF NOT EXISTS {db}.vehicle_report_state
(
    session_id     String,
    report_times   AggregateFunction(uniqExact, Int64),
    -- (report_time_ms, -partition, -offset, running_wh): the largest is the latest report, first received.
    latest         SimpleAggregateFunction(max, Tuple(Int64, Int32, Int64, Int64))
)
ENGINE = AggregatingMergeTree
ORDER BY session_id
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.vehicle_report_state_mv TO {db}.vehicle_report_state AS
SELECT
    session_id,
    uniqExactState(report_time_ms) AS report_times,
    max((report_time_ms, -src_partition, -src_offset, running_wh)) AS latest
FROM {db}.vehicle_report_raw
GROUP BY session_id;

-- first_ms/last_ms: the earliest and latest time seen among the rows that feed the index (event
-- times, the start of interval seq 0). A lookup by time range widens them by the session span
-- limit and then filters on the exact rollup.
CREATE TABLE IF NOT EXISTS {db}.session_by_premise
(
    premise_id String,
    session_id String,
    pev_id     SimpleAggregateFunction(any, String),
    first_ms   SimpleAggregateFunction(min, Int64),
    last_ms    SimpleAggregateFunction(max, Int64)
)
ENGINE = AggregatingMergeTree
ORDER BY (premise_id, session_id);

CREATE TABLE IF NOT EXISTS {db}.session_by_pev
(
    pev_id     String,
    session_id String,
    premise_id SimpleAggregateFunction(any, String),
    first_ms   SimpleAggregateFunction(min, Int64),
    last_ms    SimpleAggregateFunction(max, Int64)
)
ENGINE = AggregatingMergeTree
ORDER BY (pev_id, session_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.session_by_premise_events_mv TO {db}.session_by_premise AS
SELECT premise_id, session_id, any(pev_id) AS pev_id, min(event_time_ms) AS first_ms, max(event_time_ms) AS last_ms
FROM {db}.session_event_raw
GROUP BY premise_id, session_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.session_by_premise_intervals_mv TO {db}.session_by_premise AS
SELECT premise_id, session_id, any(pev_id) AS pev_id, min(toInt64(toUInt32(interval_start)) * 1000) AS first_ms, max(toInt64(toUInt32(interval_start)) * 1000) AS last_ms
FROM {db}.interval_raw
WHERE seq = 0
GROUP BY premise_id, session_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.session_by_pev_events_mv TO {db}.session_by_pev AS
SELECT pev_id, session_id, any(premise_id) AS premise_id, min(event_time_ms) AS first_ms, max(event_time_ms) AS last_ms
FROM {db}.session_event_raw
GROUP BY pev_id, session_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.session_by_pev_intervals_mv TO {db}.session_by_pev AS
SELECT pev_id, session_id, any(premise_id) AS premise_id, min(toInt64(toUInt32(interval_start)) * 1000) AS first_ms, max(toInt64(toUInt32(interval_start)) * 1000) AS last_ms
FROM {db}.interval_raw
WHERE seq = 0
GROUP BY pev_id, session_id;

-- Enrollment copies are few; ReplacingMergeTree only keeps the index small, readers take DISTINCT.
CREATE TABLE IF NOT EXISTS {db}.enrollment_by_account
(
    account_id    String,
    pev_id        String,
    premise_id    String,
    valid_from_ms Int64
)
ENGINE = ReplacingMergeTree
ORDER BY (account_id, pev_id, premise_id, valid_from_ms);

CREATE TABLE IF NOT EXISTS {db}.enrollment_by_program
(
    program_id    String,
    pev_id        String,
    premise_id    String,
    valid_from_ms Int64
)
ENGINE = ReplacingMergeTree
ORDER BY (program_id, pev_id, premise_id, valid_from_ms);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.enrollment_by_account_mv TO {db}.enrollment_by_account AS
SELECT account_id, pev_id, premise_id, valid_from_ms FROM {db}.enrollment;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.enrollment_by_program_mv TO {db}.enrollment_by_program AS
SELECT program_id, pev_id, premise_id, valid_from_ms FROM {db}.enrollment;

-- Backfill: a store made before this migration has rows the views above never saw. Rows that
-- arrive while this runs are seen by both the view and the backfill; the states are idempotent,
-- so they count once.
INSERT INTO {db}.interval_state
SELECT
    session_id,
    intDiv(seq, 64) AS seq_block,
    any(esci_id),
    any(pev_id),
    groupUniqArrayState(premise_id),
    groupUniqArrayState((seq, bitShiftLeft(toUInt64(src_partition), 40) + toUInt64(src_offset), energy_wh, toUInt64(toUInt32(interval_start)) * 65536 + interval_s, register_wh, content_hash))
FROM {db}.interval_raw
GROUP BY session_id, seq_block;

INSERT INTO {db}.session_event_state
SELECT
    session_id,
    groupUniqArrayState(premise_id),
    any(pev_id),
    any(esci_id),
    min(event_time_ms),
    max(event_time_ms),
    groupBitOr(toUInt8(multiIf(event_type = 'START', 1, event_type = 'REQUEST', 2, event_type = 'AVAILABLE', 4, event_type = 'PROGRESS', 8, event_type = 'END', 16, 0))),
    minIfState((event_seq, src_partition, src_offset, binding, plug_in_ms), toUInt8(event_type = 'START')),
    maxIfState((event_seq, -src_partition, -src_offset, requested_wh, max_rate_w), toUInt8(event_type = 'REQUEST')),
    maxIfState((event_seq, -src_partition, -src_offset, granted_wh, rate_w, schedule_start_ms, schedule_end_ms, delay_reason), toUInt8(event_type = 'AVAILABLE')),
    maxIfState((event_seq, -src_partition, -src_offset, running_wh, intervals), toUInt8(event_type = 'PROGRESS')),
    maxIfState((event_seq, -src_partition, -src_offset, start_ms, end_ms, duration_s, energy_wh), toUInt8(event_type = 'END'))
FROM {db}.session_event_raw
GROUP BY session_id;

INSERT INTO {db}.vehicle_report_state
SELECT session_id, uniqExactState(report_time_ms), max((report_time_ms, -src_partition, -src_offset, running_wh))
FROM {db}.vehicle_report_raw
GROUP BY session_id;

INSERT INTO {db}.session_by_premise
SELECT premise_id, session_id, any(pev_id), min(first_ms), max(last_ms)
FROM
(
    SELECT premise_id, session_id, pev_id, event_time_ms AS first_ms, event_time_ms AS last_ms FROM {db}.session_event_raw
    UNION ALL
    SELECT premise_id, session_id, pev_id, toInt64(toUInt32(interval_start)) * 1000, toInt64(toUInt32(interval_start)) * 1000 FROM {db}.interval_raw WHERE seq = 0
)
GROUP BY premise_id, session_id;

INSERT INTO {db}.session_by_pev
SELECT pev_id, session_id, any(premise_id), min(first_ms), max(last_ms)
FROM
(
    SELECT pev_id, session_id, premise_id, event_time_ms AS first_ms, event_time_ms AS last_ms FROM {db}.session_event_raw
    UNION ALL
    SELECT pev_id, session_id, premise_id, toInt64(toUInt32(interval_start)) * 1000, toInt64(toUInt32(interval_start)) * 1000 FROM {db}.interval_raw WHERE seq = 0
)
GROUP BY pev_id, session_id;

INSERT INTO {db}.enrollment_by_account SELECT account_id, pev_id, premise_id, valid_from_ms FROM {db}.enrollment;

INSERT INTO {db}.enrollment_by_program SELECT program_id, pev_id, premise_id, valid_from_ms FROM {db}.enrollment;
