-- min-server: 23.8
-- Migration 008: bill cycles, per-account export protection, export scopes, configuration history
-- (reconcile/cycles.ts, docs/reconcile.md "Bill cycles").
--
--   * cycle: the bill cycle a record, a session result, an export or a run belongs to ('2026-10'),
--     '' for a run over an explicit period. A cycle record's period_from_ms/period_to_ms are its
--     account's cycle period (accounts of one cycle have different periods). The column joins the
--     sorting key of billing_record and reconcile_session, so a cycle record and a period record
--     with the same bounds never replace each other in a merge.
--   * billing_record.time_zone: the zone of the record's tariff when it was written, so exports and
--     statements show local times beside UTC without the configuration at hand ('' before 008:
--     shown in UTC). Not part of the content digest: it says how to read the times, not what is billed.
--   * billing_record.config_sha256 and billing_export.config_sha256: the configuration that priced
--     the record (its text in reconcile_config). A record that went out is re-billed under that
--     configuration unless a run is told to re-price (docs/reconcile.md "Configuration changes").
--   * billing_export.account_id: the account of each exported record, so the overlap check is per
--     account (two accounts' periods may overlap, one account's may not). Rows exported before
--     this migration keep '' and block every account, as before.
--   * billing_export_scope: the filters of each export. A record is new to the billing system (an
--     ADJUSTMENT) only when an export whose filters match it has gone out, not when the period was
--     exported for another account. Exports made before this migration get one unfiltered scope
--     (the old rule).
--   * reconcile_config: the text of every configuration a run used, by its SHA-256, so a bill can
--     be re-derived from the stored inputs.
--
-- Each ALTER adds its column and extends the sorting key in one statement: ClickHouse accepts a
-- new sorting-key column only in the ALTER that adds it, and only without a default expression
-- (a String column without one reads '' in the rows written before).

ALTER TABLE {db}.billing_record
    ADD COLUMN IF NOT EXISTS cycle String,
    MODIFY ORDER BY (period_from_ms, period_to_ms, session_id, version, cycle);

ALTER TABLE {db}.reconcile_session
    ADD COLUMN IF NOT EXISTS cycle String,
    MODIFY ORDER BY (period_from_ms, period_to_ms, session_id, cycle);

ALTER TABLE {db}.billing_record ADD COLUMN IF NOT EXISTS time_zone String DEFAULT '';
ALTER TABLE {db}.billing_record ADD COLUMN IF NOT EXISTS config_sha256 String DEFAULT '';
ALTER TABLE {db}.billing_export ADD COLUMN IF NOT EXISTS config_sha256 String DEFAULT '';
ALTER TABLE {db}.billing_export ADD COLUMN IF NOT EXISTS cycle String DEFAULT '';
ALTER TABLE {db}.billing_export ADD COLUMN IF NOT EXISTS account_id String DEFAULT '';
ALTER TABLE {db}.reconcile_run ADD COLUMN IF NOT EXISTS cycle String DEFAULT '';

CREATE TABLE IF NOT EXISTS {db}.billing_export_scope
(
    export_id       String,
    period_from_ms  Int64,
    period_to_ms    Int64,
    cycle           String,
    filter_account  String,
    filter_premise  String,
    filter_pev      String,
    filter_program  String,
    exported_ms     Int64
)
ENGINE = ReplacingMergeTree(exported_ms)
ORDER BY export_id;

-- Exports made before scopes were recorded: unfiltered, as the old rule read them.
INSERT INTO {db}.billing_export_scope
SELECT export_id, any(period_from_ms), any(period_to_ms), '', '', '', '', '', min(exported_ms)
FROM {db}.billing_export
WHERE export_id NOT IN (SELECT export_id FROM {db}.billing_export_scope)
GROUP BY export_id;

CREATE TABLE IF NOT EXISTS {db}.reconcile_config
(
    config_sha256   String,
    config_json     String,
    source_text     String,
    first_used_ms   Int64
)
ENGINE = ReplacingMergeTree
ORDER BY config_sha256;

-- The current version of each billing record of a cycle, one account or all ({account:String} = ''),
-- with what was last exported for it. The newest row of the highest version wins.
-- SELECT * FROM {db}.billing_cycle(cycle = '2026-10', account = 'A000000001')
CREATE VIEW IF NOT EXISTS {db}.billing_cycle AS
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
    WHERE cycle = {cycle:String} AND ({account:String} = '' OR account_id = {account:String})
    ORDER BY session_id, version DESC, updated_ms DESC
    LIMIT 1 BY session_id
) AS r
LEFT JOIN
(
    SELECT session_id, max(version) AS exported_version, argMax(energy_wh, version) AS exported_energy_wh, argMax(amount_minor, version) AS exported_amount_minor
    FROM {db}.billing_export
    WHERE cycle = {cycle:String} AND ({account:String} = '' OR account_id = {account:String})
    GROUP BY session_id
) AS x ON x.session_id = r.session_id;

-- The current reconciliation of each session of a cycle, one account or all: status, energies, flags.
CREATE VIEW IF NOT EXISTS {db}.reconcile_cycle AS
SELECT *
FROM {db}.reconcile_session FINAL
WHERE cycle = {cycle:String} AND ({account:String} = '' OR account_id = {account:String});
