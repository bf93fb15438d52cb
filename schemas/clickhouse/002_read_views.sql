-- min-server: 23.8
-- Migration 002: the read side, exact at read time. Requires ClickHouse 23.8 or newer (window
-- functions); the migration runner skips it, with a warning, on an older server that only takes
-- ingest writes (the 18.16 outage-test server).
--
-- Nothing here is a materialized view or a SummingMergeTree: those add up every copy of a
-- duplicate insert. Each view deduplicates by natural key first, then sums.

-- One row per (session_id, seq): the first received content counts; `copies` counts distinct
-- contents (more than 1 is a DUPLICATE_CONFLICT), `deliveries` counts stored copies still unmerged
-- (a lower bound of deliveries: exact copies inside one insert or merged parts collapse to one).
CREATE VIEW IF NOT EXISTS {db}.interval_unique AS
SELECT
    session_id,
    seq,
    first.1 AS esci_id,
    first.2 AS eumd_id,
    first.3 AS premise_id,
    first.4 AS pev_id,
    first.5 AS interval_start,
    first.6 AS interval_s,
    first.7 AS energy_wh,
    first.8 AS register_wh,
    first.9 AS quality,
    copies,
    deliveries,
    min_energy_wh,
    max_energy_wh
FROM
(
    SELECT
        session_id,
        seq,
        argMin((esci_id, eumd_id, premise_id, pev_id, interval_start, interval_s, energy_wh, register_wh, quality), first_seen) AS first,
        count() AS copies,
        sum(stored) AS deliveries,
        min(energy_wh) AS min_energy_wh,
        max(energy_wh) AS max_energy_wh
    FROM
    (
        SELECT
            session_id, seq, content_hash,
            any(esci_id) AS esci_id, any(eumd_id) AS eumd_id, any(premise_id) AS premise_id,
            any(pev_id) AS pev_id, any(interval_start) AS interval_start, any(interval_s) AS interval_s,
            any(energy_wh) AS energy_wh, any(register_wh) AS register_wh, any(quality) AS quality,
            min((src_partition, src_offset)) AS first_seen,
            count() AS stored
        FROM {db}.interval_raw
        GROUP BY session_id, seq, content_hash
    )
    GROUP BY session_id, seq
);

-- Per session and minute (UTC): energy in that minute and the session's running sum at its end.
CREATE VIEW IF NOT EXISTS {db}.session_minute AS
SELECT
    session_id,
    minute,
    energy_wh,
    intervals,
    sum(energy_wh) OVER (PARTITION BY session_id ORDER BY minute ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_wh
FROM
(
    SELECT session_id, toStartOfMinute(interval_start) AS minute, sum(energy_wh) AS energy_wh, count() AS intervals
    FROM {db}.interval_unique
    GROUP BY session_id, minute
);

-- Session events deduplicated by (session_id, event_seq), first received content counts.
CREATE VIEW IF NOT EXISTS {db}.session_event_unique AS
SELECT
    session_id,
    event_seq,
    argMin(event_type, first_seen) AS event_type,
    argMin(esci_id, first_seen) AS esci_id,
    argMin(premise_id, first_seen) AS premise_id,
    argMin(pev_id, first_seen) AS pev_id,
    argMin(event_time_ms, first_seen) AS event_time_ms,
    argMin(connection, first_seen) AS connection,
    argMin(binding, first_seen) AS binding,
    argMin(plug_in_ms, first_seen) AS plug_in_ms,
    argMin(requested_wh, first_seen) AS requested_wh,
    argMin(max_rate_w, first_seen) AS max_rate_w,
    argMin(departure_ms, first_seen) AS departure_ms,
    argMin(granted_wh, first_seen) AS granted_wh,
    argMin(rate_w, first_seen) AS rate_w,
    argMin(schedule_start_ms, first_seen) AS schedule_start_ms,
    argMin(schedule_end_ms, first_seen) AS schedule_end_ms,
    argMin(delay_reason, first_seen) AS delay_reason,
    argMin(running_wh, first_seen) AS running_wh,
    argMin(intervals, first_seen) AS intervals,
    argMin(start_ms, first_seen) AS start_ms,
    argMin(end_ms, first_seen) AS end_ms,
    argMin(duration_s, first_seen) AS duration_s,
    argMin(energy_wh, first_seen) AS energy_wh,
    count() AS copies
FROM
(
    SELECT *, (src_partition, src_offset) AS first_seen
    FROM {db}.session_event_raw
    ORDER BY session_id, event_seq, content_hash, first_seen
    LIMIT 1 BY session_id, event_seq, content_hash
)
GROUP BY session_id, event_seq;

-- Per session: what the billing system and reconciliation start from. A session whose end never
-- arrives keeps its energy to the last minute received (energy_wh is the sum of unique intervals).
CREATE VIEW IF NOT EXISTS {db}.session_rollup AS
SELECT
    i.session_id AS session_id,
    i.esci_id AS esci_id,
    i.premise_id AS premise_id,
    i.pev_id AS pev_id,
    i.first_interval_start AS first_interval_start,
    i.last_activity AS last_activity,
    i.energy_wh AS energy_wh,
    i.intervals_seen AS intervals_seen,
    i.intervals_expected AS intervals_expected,
    i.intervals_expected - i.intervals_seen AS gaps,
    i.conflicts AS conflicts,
    e.has_end AS has_end,
    e.end_energy_wh AS end_energy_wh,
    e.end_duration_s AS end_duration_s,
    e.last_progress_wh AS last_progress_wh,
    e.granted_wh AS granted_wh,
    v.vehicle_running_wh AS vehicle_running_wh,
    v.vehicle_reports AS vehicle_reports
FROM
(
    SELECT
        session_id,
        any(esci_id) AS esci_id,
        any(premise_id) AS premise_id,
        any(pev_id) AS pev_id,
        min(interval_start) AS first_interval_start,
        max(interval_start + interval_s) AS last_activity,
        sum(energy_wh) AS energy_wh,
        count() AS intervals_seen,
        max(seq) + 1 AS intervals_expected,
        countIf(copies > 1) AS conflicts
    FROM {db}.interval_unique
    GROUP BY session_id
) AS i
LEFT JOIN
(
    SELECT
        session_id,
        max(event_type = 'END') AS has_end,
        argMaxIf(energy_wh, event_seq, event_type = 'END') AS end_energy_wh,
        argMaxIf(duration_s, event_seq, event_type = 'END') AS end_duration_s,
        argMaxIf(running_wh, event_seq, event_type = 'PROGRESS') AS last_progress_wh,
        argMaxIf(granted_wh, event_seq, event_type = 'AVAILABLE') AS granted_wh
    FROM {db}.session_event_unique
    GROUP BY session_id
) AS e ON e.session_id = i.session_id
LEFT JOIN
(
    SELECT session_id, argMax(running_wh, report_time_ms) AS vehicle_running_wh, count() AS vehicle_reports
    FROM (SELECT DISTINCT session_id, report_time_ms, running_wh FROM {db}.vehicle_report_raw)
    GROUP BY session_id
) AS v ON v.session_id = i.session_id;
