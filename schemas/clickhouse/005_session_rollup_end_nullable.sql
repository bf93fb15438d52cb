-- min-server: 23.8
-- Migration 005: a session without an end summary has no end energy, not 0 Wh.
--
-- 002's session_rollup took end_energy_wh and end_duration_s with argMaxIf, which answers the
-- type's default (0) when no END event exists: a billing system could not tell "ended at 0 Wh"
-- from "never ended". Both are now Nullable: NULL without an END event (or without any event: the
-- LEFT JOIN fills a Nullable column with NULL). 002 stays as applied; a view holds no data, so
-- CREATE OR REPLACE swaps it in place and is safe to run again after a cut-off migration.
CREATE OR REPLACE VIEW {db}.session_rollup AS
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
        if(max(event_type = 'END') = 1, argMaxIf(energy_wh, event_seq, event_type = 'END'), NULL) AS end_energy_wh,
        if(max(event_type = 'END') = 1, argMaxIf(duration_s, event_seq, event_type = 'END'), NULL) AS end_duration_s,
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
