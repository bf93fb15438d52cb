-- THE PEER: what a ClickHouse user would build instead of pevmeter, written from ClickHouse's own
-- documentation (Kafka table engine, AvroConfluent input format, materialized view TO a
-- SummingMergeTree). It is a benchmark subject, not part of the product: nothing in ingest/,
-- aggregate/ or reconcile/ reads it. bench/peer/peer-process.ts runs it in chDB (ClickHouse
-- 26.x in-process) against the same topic, broker and registry as our pipeline.
--
-- Placeholders, replaced by the harness before the statements run (values are checked there):
--   {brokers}       Kafka bootstrap servers, host:port[,host:port]
--   {topic}         the interval topic (Confluent-framed EumdInterval records)
--   {group}         the peer's own consumer group
--   {registry_url}  a Confluent-compatible Schema Registry (GET /schemas/ids/{id})
--   {consumers}     kafka_num_consumers: the docs say one per partition, at most one per core
--
-- Statements are separated by a semicolon at the end of a line.

CREATE DATABASE IF NOT EXISTS peer;

-- The queue: a Kafka consumer, not storage. Columns are matched to Avro fields by name; every
-- field of EumdInterval is listed, as a user mirroring the schema would. timestamp-millis reads as
-- DateTime64(3). Offsets are committed after each block has been pushed to the views: at-least-once.
-- Blocks flush at kafka_max_block_size rows or every kafka_flush_interval_ms (defaults kept).
CREATE TABLE IF NOT EXISTS peer.interval_queue
(
    esci_id        String,
    eumd_id        String,
    premise_id     String,
    pev_id         String,
    session_id     String,
    seq            UInt32,
    interval_start DateTime64(3, 'UTC'),
    interval_s     UInt32,
    energy_wh      Int64,
    register_wh    Int64,
    quality        UInt32
)
ENGINE = Kafka
SETTINGS
    kafka_broker_list = '{brokers}',
    kafka_topic_list = '{topic}',
    kafka_group_name = '{group}',
    kafka_format = 'AvroConfluent',
    format_avro_schema_registry_url = '{registry_url}',
    kafka_num_consumers = {consumers};

-- Per session and minute, the same key as pevmeter's session_minute. SummingMergeTree adds up rows
-- with the same key when parts merge; until then a key may have several rows, so every read sums
-- with GROUP BY. `intervals` counts the rows that arrived (every delivery, duplicates included).
CREATE TABLE IF NOT EXISTS peer.session_minute_sum
(
    session_id String,
    minute     DateTime('UTC'),
    energy_wh  Int64,
    intervals  UInt64
)
ENGINE = SummingMergeTree
ORDER BY (session_id, minute);

-- Runs on every block the queue reads and appends its per-minute sums: the "classic" pipeline.
CREATE MATERIALIZED VIEW IF NOT EXISTS peer.session_minute_mv TO peer.session_minute_sum AS
SELECT
    session_id,
    toStartOfMinute(interval_start) AS minute,
    sum(energy_wh) AS energy_wh,
    count() AS intervals
FROM peer.interval_queue
GROUP BY session_id, minute;
