/**
 * What went out to the billing system, per account: the two questions a run asks before it
 * writes a record.
 *
 *  - Overlap (per account). A record is billed under one period (an explicit period, or its
 *    account's cycle period). Another run over a period that overlaps an exported one without
 *    being it would bill the same energy twice, so it is refused, but only for the accounts that
 *    export concerned: two accounts' periods may overlap, one account's may not. Exported rows
 *    from before migration 008 carry no account ('') and block every account, the old rule. A
 *    period run and a cycle run with the same bounds are different billings of the account (the
 *    first splits sessions at the edges, the second bills each session whole in the cycle of its
 *    start), so they conflict too.
 *  - Coverage (ADJUSTMENT). A record that never went out is a change to what the billing system
 *    holds only when an export whose filters match it has gone out: exporting account A's period
 *    says nothing about account B's sessions. Each export records its filters
 *    (billing_export_scope); a record is covered when a scope of its period (or cycle) matches
 *    its account, premise, PEV and program.
 */
import type { Store } from '../aggregate/store/types.js';
import { PevmeterError } from '../schemas/errors.js';
import type { Period, PeriodFilter } from './types.js';

export interface ExportScope {
  account: string;
  premise: string;
  pev: string;
  program: string;
}

/** The IDs a record is exported under. */
export interface RecordKeys {
  accountId: string;
  premiseId: string;
  pevId: string;
  programId: string;
}

const SCOPES_SQL = `
SELECT filter_account AS account, filter_premise AS premise, filter_pev AS pev, filter_program AS program
FROM {db}.billing_export_scope FINAL
WHERE cycle = {cycle:String} AND ({cycle:String} != '' OR (period_from_ms = {from_ms:Int64} AND period_to_ms = {to_ms:Int64}))
`;

/** The filters of every export of a period (cycle ''), or of a cycle (any period). */
export async function loadScopes(store: Store, cycle: string, period: Period): Promise<ExportScope[]> {
  const rows = await store.select<Record<string, string>>(SCOPES_SQL, { cycle, from_ms: period.fromMs, to_ms: period.toMs });
  return rows.map((r) => ({ account: String(r['account']), premise: String(r['premise']), pev: String(r['pev']), program: String(r['program']) }));
}

/** Whether an export with these scopes carried (or would have carried) a record of these IDs. */
export function covered(scopes: readonly ExportScope[], k: RecordKeys): boolean {
  for (const s of scopes) {
    if ((s.account === '' || s.account === k.accountId) && (s.premise === '' || s.premise === k.premiseId) && (s.pev === '' || s.pev === k.pevId) && (s.program === '' || s.program === k.programId)) {
      return true;
    }
  }
  return false;
}

export interface ExportedPeriod {
  account: string;
  cycle: string;
  fromMs: number;
  toMs: number;
}

const EXPORTED_PERIODS_SQL = `
SELECT account_id AS account, cycle, period_from_ms AS f, period_to_ms AS t
FROM {db}.billing_export
WHERE period_from_ms < {to_ms:Int64} AND period_to_ms > {from_ms:Int64}
  AND ({account:String} = '' OR account_id IN ('', {account:String}))
GROUP BY account_id, cycle, period_from_ms, period_to_ms
ORDER BY period_from_ms, account_id
`;

/** Exported (account, cycle, period) overlapping a window; only those of `account` and legacy rows when given. */
export async function exportedPeriods(store: Store, window: Period, account = ''): Promise<ExportedPeriod[]> {
  const rows = await store.select<Record<string, string | number>>(EXPORTED_PERIODS_SQL, { from_ms: window.fromMs, to_ms: window.toMs, account });
  return rows.map((r) => ({ account: String(r['account']), cycle: String(r['cycle']), fromMs: Number(r['f']), toMs: Number(r['t']) }));
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** True when billing `period` under `cycle` would bill again what `ex` exported. */
export function conflicts(ex: ExportedPeriod, period: Period, cycle: string): boolean {
  if (!(ex.fromMs < period.toMs && ex.toMs > period.fromMs)) return false;
  return !(ex.fromMs === period.fromMs && ex.toMs === period.toMs && ex.cycle === cycle);
}

export function overlapError(ex: ExportedPeriod, period: Period, cycle: string): PevmeterError {
  const who = ex.account === '' ? 'exported before exports named their accounts (every account)' : `of account ${ex.account}`;
  const what = cycle === '' ? `period [${iso(period.fromMs)}, ${iso(period.toMs)})` : `cycle ${cycle} period [${iso(period.fromMs)}, ${iso(period.toMs)})`;
  const other = ex.cycle === '' ? `the exported period [${iso(ex.fromMs)}, ${iso(ex.toMs)})` : `the exported cycle ${ex.cycle} [${iso(ex.fromMs)}, ${iso(ex.toMs)})`;
  return new PevmeterError(
    'PEV_INPUT',
    `${what} overlaps ${other} ${who}: a session would be billed twice; reconcile the exported period itself, one that does not overlap it, or other accounts (--account)`,
  );
}

/**
 * Period runs: refuses a period that overlaps an exported one of an account the run may bill.
 * With --account only that account (and legacy rows) count; without it, every account does.
 * Returns whether the period itself was exported for some account (for the summary).
 */
export async function checkPeriodOverlap(store: Store, period: Period, filters: PeriodFilter): Promise<void> {
  for (const ex of await exportedPeriods(store, period, filters.accountId ?? '')) {
    if (conflicts(ex, period, '')) throw overlapError(ex, period, '');
  }
}
