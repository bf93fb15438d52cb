-- Migration 001: the write path. Raw tables that ingest appends to.
-- Compatible with ClickHouse 18.16 (the only server package here, used for outage tests) and every
-- later release: no DateTime64, no LowCardinality, no query parameters in DDL.
--
-- Exactly-once rule (docs/architecture.md, "Counting each watt-hour once"):
--   * every delivery of a record is appended; nothing is summed at write time;
--   * a record's natural key is (session_id, seq) for intervals, (session_id, event_seq) for
--     session events, (session_id, report_time_ms) for vehicle reports;
--   * content_hash (MATERIALIZED, computed by ClickHouse) is cityHash64 of every value field;
--     copies with the same key and the same content are one record (Kafka redelivery, ESCI
--     resend), copies with the same key and a different content are a conflict: both are kept,
--     the first received counts, the rest are flagged DUPLICATE_CONFLICT by reconciliation;
--   * arrival_rank (MATERIALIZED) = 2^64 - 1 - src_offset: ReplacingMergeTree(arrival_rank)
--     keeps the earliest copy of an exact duplicate when parts merge, so "first received" holds
--     before and after merges. A session's records share one partition (the Kafka key is the
--     session ID), so offsets order them; for file sources src_offset is the record's ordinal.
--   * src_* is the record's origin: Kafka topic, partition, offset (or file path and ordinal).
-- Inserts name their columns (schemas/tables.ts); MATERIALIZED columns are never sent.
-- {db} is replaced by the configured database name (validated as an identifier).

CREATE TABLE IF NOT EXISTS {db}.interval_raw
(
    session_id     String,
    seq            UInt32,
    esci_id        String,
    eumd_id        String,
    premise_id     String,
    pev_id         String,
    interval_start DateTime('UTC'),
    interval_s     UInt32,
    energy_wh      Int64,
    register_wh    Int64,
    quality        UInt32,
    src_topic      String,
    src_partition  Int32,
    src_offset     Int64,
    ingested_ms    Int64,
    content_hash   UInt64 MATERIALIZED cityHash64(esci_id, eumd_id, premise_id, pev_id, interval_start, interval_s, energy_wh, register_wh, quality),
    arrival_rank   UInt64 MATERIALIZED 18446744073709551615 - toUInt64(src_offset)
)
ENGINE = ReplacingMergeTree(arrival_rank)
PARTITION BY toYYYYMM(interval_start)
ORDER BY (session_id, seq, content_hash);

CREATE TABLE IF NOT EXISTS {db}.session_event_raw
(
    session_id     String,
    event_seq      UInt32,
    event_type     String,
    esci_id        String,
    premise_id     String,
    pev_id         String,
    event_time_ms  Int64,
    connection     String,
    binding        String,
    plug_in_ms     Int64,
    requested_wh   Int64,
    max_rate_w     Int32,
    departure_ms   Int64,
    granted_wh     Int64,
    rate_w         Int32,
    schedule_start_ms Int64,
    schedule_end_ms   Int64,
    delay_reason   String,
    running_wh     Int64,
    intervals      Int32,
    start_ms       Int64,
    end_ms         Int64,
    duration_s     Int32,
    energy_wh      Int64,
    src_topic      String,
    src_partition  Int32,
    src_offset     Int64,
    ingested_ms    Int64,
    content_hash   UInt64 MATERIALIZED cityHash64(event_type, esci_id, premise_id, pev_id, event_time_ms, connection, binding, plug_in_ms, requested_wh, max_rate_w, departure_ms, granted_wh, rate_w, schedule_start_ms, schedule_end_ms, delay_reason, running_wh, intervals, start_ms, end_ms, duration_s, energy_wh),
    arrival_rank   UInt64 MATERIALIZED 18446744073709551615 - toUInt64(src_offset)
)
ENGINE = ReplacingMergeTree(arrival_rank)
ORDER BY (session_id, event_seq, content_hash);

CREATE TABLE IF NOT EXISTS {db}.vehicle_report_raw
(
    session_id     String,
    report_time_ms Int64,
    pev_id         String,
    esci_id        String,
    running_wh     Int64,
    src_topic      String,
    src_partition  Int32,
    src_offset     Int64,
    ingested_ms    Int64,
    content_hash   UInt64 MATERIALIZED cityHash64(pev_id, esci_id, running_wh),
    arrival_rank   UInt64 MATERIALIZED 18446744073709551615 - toUInt64(src_offset)
)
ENGINE = ReplacingMergeTree(arrival_rank)
ORDER BY (session_id, report_time_ms, content_hash);

CREATE TABLE IF NOT EXISTS {db}.enrollment
(
    pev_id         String,
    premise_id     String,
    account_id     String,
    program_id     String,
    tariff_id      String,
    esci_id        String,
    eumd_id        String,
    valid_from_ms  Int64,
    valid_to_ms    Int64,  -- 0: open-ended (Avro null)
    rated_power_w  Int32,
    src_topic      String,
    src_partition  Int32,
    src_offset     Int64,
    ingested_ms    Int64,
    content_hash   UInt64 MATERIALIZED cityHash64(account_id, program_id, tariff_id, esci_id, eumd_id, valid_to_ms, rated_power_w),
    arrival_rank   UInt64 MATERIALIZED 18446744073709551615 - toUInt64(src_offset)
)
ENGINE = ReplacingMergeTree(arrival_rank)
ORDER BY (pev_id, premise_id, valid_from_ms, content_hash);

-- Records that failed decoding or validation, with their origin. The Kafka dead-letter topic is
-- the primary dead-letter path; this table holds the same facts where reconciliation can see them
-- (a dead-lettered interval of a session is a gap with a reason). Redelivery writes the same
-- origin again: one row per (src_topic, src_partition, src_offset, record_index) after merges and
-- at read time (record_index: the record's position in a multi-record message, or 0).
CREATE TABLE IF NOT EXISTS {db}.dead_letter
(
    src_topic      String,
    src_partition  Int32,
    src_offset     Int64,
    record_index   UInt32,
    code           String,
    message        String,
    session_id     String,
    payload_base64 String,
    ingested_ms    Int64
)
ENGINE = ReplacingMergeTree
ORDER BY (src_topic, src_partition, src_offset, record_index);
