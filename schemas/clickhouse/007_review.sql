-- Migration 007: operator review of held sessions, and the lease that keeps one reconcile run per
-- period at a time (reconcile/review/, reconcile/lease.ts, docs/reconcile.md "Review").
-- Compatible with ClickHouse 18.16 and every later release (no LowCardinality, no DateTime64, no
-- query parameters in DDL), so the audit trail and the lease work on the oldest server we meet;
-- the code that reads these tables sends no query parameters either.
--
--   * review_action: one row per operator action, append only (MergeTree: nothing is ever
--     collapsed or replaced). Who (operator), when (created_ms), why (reason), what (action,
--     corrected_wh), and the session as the operator saw it (before_*) and as the action should
--     leave it (after_*). before_hold_codes and before_facts are what a release was based on: a
--     run that sees another hold code or other facts re-holds the session instead of billing it.
--   * review_outcome: what the latest run did with each session that has an action: APPLIED,
--     REHELD (with the reason), NOT_NEEDED. One row per (period, session) and run; the latest run
--     (run_seq) is current, as in reconcile_session.
--   * reconcile_lease: claims of reconcile runs on a period (CLAIM, ACTIVE, DONE rows, each with
--     an expiry); see reconcile/lease.ts for the protocol.

CREATE TABLE IF NOT EXISTS {db}.review_action
(
    action_id         String,
    session_id        String,
    action            String,
    operator          String,
    reason            String,
    created_ms        Int64,
    corrected_wh      Int64,
    period_from_ms    Int64,
    period_to_ms      Int64,
    seen_run_id       String,
    before_status     String,
    before_wh         Int64,
    before_hold_codes Array(String),
    before_facts      String,
    after_status      String,
    after_wh          Int64
)
ENGINE = MergeTree
ORDER BY (session_id, created_ms, action_id);

CREATE TABLE IF NOT EXISTS {db}.review_outcome
(
    period_from_ms Int64,
    period_to_ms   Int64,
    session_id     String,
    run_id         String,
    run_seq        UInt64,
    action_id      String,
    action         String,
    outcome        String,
    note           String,
    status         String,
    session_wh     Int64
)
ENGINE = ReplacingMergeTree(run_seq)
ORDER BY (period_from_ms, period_to_ms, session_id);

CREATE TABLE IF NOT EXISTS {db}.reconcile_lease
(
    period_from_ms Int64,
    period_to_ms   Int64,
    run_id         String,
    holder         String,
    state          String,
    rank_ms        Int64,
    written_ms     Int64,
    expires_ms     Int64
)
ENGINE = MergeTree
ORDER BY (period_from_ms, period_to_ms, run_id, written_ms);
