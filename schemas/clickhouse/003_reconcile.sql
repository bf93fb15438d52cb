-- min-server: 23.8
-- Migration 003: reconciliation results and billing records (reconcile/, docs/reconcile.md).
--
-- Same discipline as the raw tables: append only, the current state chosen at read time.
--   * reconcile_run: one row per run (period, filters, configuration hash, totals).
--   * reconcile_session: one row per (period, session) and run; the latest run's row is current
--     (ReplacingMergeTree on run_seq; readers use FINAL or argMax). Flags live in the row as
--     parallel arrays, so a flag that a later run no longer raises disappears with the row it was
--     in, instead of lingering in a separate table. reconcile_flag (a view) unrolls them.
--   * billing_record: one row per (period, session, version). A re-run with the same inputs
--     writes nothing; a changed record not yet exported is rewritten at the same version (the
--     newest updated_ms wins); a record whose version was exported gets a new version instead.
--   * billing_export: which (period, session, version) went out in which export. A version
--     listed here is frozen.
-- Parameterized views (ClickHouse 23.1+) give the billing system its queries: see the end.

CREATE TABLE IF NOT EXISTS {db}.reconcile_run
(
    run_id          String,
    period_from_ms  Int64,
    period_to_ms    Int64,
    filter_account  String,
    filter_premise  String,
    filter_pev      String,
    filter_program  String,
    config_sha256   String,
    as_of_ms        Int64,
    started_ms      Int64,
    finished_ms     Int64,
    sessions        UInt64,
    billed          UInt64,
    held            UInt64,
    energy_wh       Int64,
    amount_minor    Int64,
    summary_json    String
)
ENGINE = ReplacingMergeTree(finished_ms)
ORDER BY run_id;

CREATE TABLE IF NOT EXISTS {db}.reconcile_session
(
    period_from_ms    Int64,
    period_to_ms      Int64,
    session_id        String,
    run_id            String,
    run_seq           UInt64,
    status            LowCardinality(String),
    account_id        String,
    premise_id        String,
    pev_id            String,
    esci_id           String,
    program_id        String,
    tariff_id         String,
    session_start_ms  Int64,
    session_end_ms    Int64,
    eumd_wh           Int64,
    interval_sum_wh   Int64,
    period_wh         Int64,
    has_end           UInt8,
    esci_wh           Int64,
    has_vehicle       UInt8,
    vehicle_wh        Int64,
    has_grant         UInt8,
    granted_wh        Int64,
    intervals_seen    UInt32,
    intervals_missing UInt32,
    flag_code         Array(LowCardinality(String)),
    flag_severity     Array(LowCardinality(String)),
    flag_observed     Array(String),
    flag_threshold    Array(String),
    flag_detail       Array(String)
)
ENGINE = ReplacingMergeTree(run_seq)
ORDER BY (period_from_ms, period_to_ms, session_id);

CREATE TABLE IF NOT EXISTS {db}.billing_record
(
    period_from_ms    Int64,
    period_to_ms      Int64,
    session_id        String,
    version           UInt32,
    status            LowCardinality(String),
    account_id        String,
    premise_id        String,
    pev_id            String,
    program_id        String,
    tariff_id         String,
    currency          LowCardinality(String),
    session_start_ms  Int64,
    session_end_ms    Int64,
    energy_wh         Int64,
    session_energy_wh Int64,
    line_kind         Array(LowCardinality(String)),
    line_period       Array(String),
    line_wh           Array(Int64),
    line_price_micro  Array(Int64),
    line_amount_minor Array(Int64),
    incentive_minor   Int64,
    amount_minor      Int64,
    warn_codes        Array(LowCardinality(String)),
    content_sha256    String,
    run_id            String,
    updated_ms        Int64
)
ENGINE = ReplacingMergeTree(updated_ms)
ORDER BY (period_from_ms, period_to_ms, session_id, version);

CREATE TABLE IF NOT EXISTS {db}.billing_export
(
    export_id       String,
    period_from_ms  Int64,
    period_to_ms    Int64,
    session_id      String,
    version         UInt32,
    status          LowCardinality(String),
    content_sha256  String,
    energy_wh       Int64,
    amount_minor    Int64,
    exported_ms     Int64,
    format          LowCardinality(String),
    file            String
)
ENGINE = ReplacingMergeTree(exported_ms)
ORDER BY (period_from_ms, period_to_ms, session_id, version, export_id);

-- Current reconciliation of each session of a period: the latest run's row.
-- SELECT * FROM {db}.reconcile_current(from_ms = 1790000000000, to_ms = 1790600000000)
CREATE VIEW IF NOT EXISTS {db}.reconcile_current AS
SELECT *
FROM {db}.reconcile_session FINAL
WHERE period_from_ms = {from_ms:Int64} AND period_to_ms = {to_ms:Int64};

-- One row per current flag of a period, with the numbers that raised it and the threshold.
CREATE VIEW IF NOT EXISTS {db}.reconcile_flag AS
SELECT
    session_id, run_id, status, account_id, premise_id, pev_id, program_id,
    fcode AS code, fseverity AS severity, fobserved AS observed_json, fthreshold AS threshold_json, fdetail AS detail
FROM {db}.reconcile_session FINAL
ARRAY JOIN flag_code AS fcode, flag_severity AS fseverity, flag_observed AS fobserved, flag_threshold AS fthreshold, flag_detail AS fdetail
WHERE period_from_ms = {from_ms:Int64} AND period_to_ms = {to_ms:Int64};

-- The current version of each billing record of a period, with what was last exported for it.
CREATE VIEW IF NOT EXISTS {db}.billing_current AS
SELECT
    r.*,
    x.exported_version AS exported_version,
    x.exported_energy_wh AS exported_energy_wh,
    x.exported_amount_minor AS exported_amount_minor,
    x.exported_version = r.version AS frozen
FROM
(
    SELECT *
    FROM {db}.billing_record FINAL
    WHERE period_from_ms = {from_ms:Int64} AND period_to_ms = {to_ms:Int64}
    ORDER BY session_id, version DESC
    LIMIT 1 BY session_id
) AS r
LEFT JOIN
(
    SELECT session_id, max(version) AS exported_version, argMax(energy_wh, version) AS exported_energy_wh, argMax(amount_minor, version) AS exported_amount_minor
    FROM {db}.billing_export
    WHERE period_from_ms = {from_ms:Int64} AND period_to_ms = {to_ms:Int64}
    GROUP BY session_id
) AS x ON x.session_id = r.session_id;
