/**
 * What an operator reviews: the current reconcile result of sessions (reconcile_session, the
 * latest run per period), the run's outcome of their review actions (review_outcome), their
 * current billing records, and the actions themselves; and the check that an action applies to
 * a session as it stands before it is recorded.
 */
import { userInfo } from 'node:os';
import type { Store } from '../../aggregate/store/types.js';
import { PevmeterError } from '../../schemas/errors.js';
import type { Flag, FlagCode, Severity } from '../types.js';
import {
  ESTIMATE_CODES, actionTime, appendAction, factsKey, latestBySession, loadActions, newActionId,
  type ReviewAction, type ReviewActionKind,
} from './actions.js';

export interface SessionResult {
  periodFromMs: number;
  periodToMs: number;
  sessionId: string;
  runId: string;
  runSeq: number;
  /** The bill cycle of the run that wrote it ('2026-10'), '' for a run over an explicit period. */
  cycle: string;
  status: string;
  accountId: string;
  premiseId: string;
  pevId: string;
  programId: string;
  sessionStartMs: number;
  sessionEndMs: number;
  eumdWh: number;
  intervalSumWh: number;
  periodWh: number;
  esciWh: number | null;
  vehicleWh: number | null;
  grantedWh: number | null;
  seen: number;
  missing: number;
  flags: Flag[];
  /** The latest run's outcome of the session's review action, if it had one. */
  outcome: { actionId: string; action: string; outcome: string; note: string; sessionWh: number } | null;
}

export interface ResultFilter {
  sessionId?: string | undefined;
  accountId?: string | undefined;
  code?: string | undefined;
  /** '' or absent: every status. */
  status?: string | undefined;
  /** A bill cycle ('2026-10'): only the results of that cycle's runs; absent: every result. */
  cycle?: string | undefined;
}

const RESULTS_SQL = `
SELECT s.period_from_ms AS period_from_ms, s.period_to_ms AS period_to_ms, s.session_id AS session_id, s.run_id AS run_id,
  s.run_seq AS run_seq, s.status AS status, s.account_id AS account_id, s.premise_id AS premise_id, s.pev_id AS pev_id,
  s.program_id AS program_id, s.session_start_ms AS session_start_ms, s.session_end_ms AS session_end_ms, s.eumd_wh AS eumd_wh,
  s.interval_sum_wh AS interval_sum_wh, s.period_wh AS period_wh, s.has_end AS has_end, s.esci_wh AS esci_wh,
  s.has_vehicle AS has_vehicle, s.vehicle_wh AS vehicle_wh, s.has_grant AS has_grant, s.granted_wh AS granted_wh,
  s.intervals_seen AS intervals_seen, s.intervals_missing AS intervals_missing, s.flag_code AS flag_code,
  s.flag_severity AS flag_severity, s.flag_observed AS flag_observed, s.flag_threshold AS flag_threshold, s.flag_detail AS flag_detail,
  s.cycle AS cycle
FROM {db}.reconcile_session AS s FINAL
WHERE ({session:String} = '' OR s.session_id = {session:String})
  AND ({account:String} = '' OR s.account_id = {account:String})
  AND ({code:String} = '' OR has(s.flag_code, {code:String}))
  AND ({status:String} = '' OR s.status = {status:String})
  AND ({cycle:String} = '' OR s.cycle = {cycle:String})
ORDER BY s.session_id, s.period_from_ms
`;

const OUTCOMES_SQL = `
SELECT period_from_ms, period_to_ms, session_id, run_id, action_id, action, outcome, note, session_wh
FROM {db}.review_outcome FINAL
WHERE ({session:String} = '' OR session_id = {session:String})
`;

type Raw = Record<string, unknown>;

/** Current reconcile results (latest run per period and session), with their review outcomes. */
export async function loadResults(store: Store, f: ResultFilter): Promise<SessionResult[]> {
  const params = { session: f.sessionId ?? '', account: f.accountId ?? '', code: f.code ?? '', status: f.status ?? '', cycle: f.cycle ?? '' };
  const [rows, outcomes] = await Promise.all([
    store.select<Raw>(RESULTS_SQL, params),
    store.select<Raw>(OUTCOMES_SQL, { session: f.sessionId ?? '' }),
  ]);
  const outcomeOf = new Map<string, Raw>();
  for (const o of outcomes) outcomeOf.set(`${String(o['period_from_ms'])}|${String(o['period_to_ms'])}|${String(o['session_id'])}`, o);
  return rows.map((r) => {
    const codes = r['flag_code'] as string[];
    const sev = r['flag_severity'] as string[];
    const obs = r['flag_observed'] as string[];
    const thr = r['flag_threshold'] as string[];
    const det = r['flag_detail'] as string[];
    const flags: Flag[] = codes.map((code, i) => {
      const fl: Flag = {
        code: code as FlagCode,
        severity: sev[i] as Severity,
        observed: JSON.parse(obs[i] ?? '{}') as Record<string, number>,
        threshold: JSON.parse(thr[i] ?? '{}') as Record<string, number>,
      };
      if (det[i]) fl.detail = det[i];
      return fl;
    });
    const key = `${String(r['period_from_ms'])}|${String(r['period_to_ms'])}|${String(r['session_id'])}`;
    const o = outcomeOf.get(key);
    // An outcome belongs to the result only when the same run wrote both.
    const outcome = o !== undefined && o['run_id'] === r['run_id']
      ? { actionId: String(o['action_id']), action: String(o['action']), outcome: String(o['outcome']), note: String(o['note']), sessionWh: Number(o['session_wh']) }
      : null;
    return {
      periodFromMs: Number(r['period_from_ms']),
      periodToMs: Number(r['period_to_ms']),
      sessionId: String(r['session_id']),
      runId: String(r['run_id']),
      runSeq: Number(r['run_seq']),
      cycle: String(r['cycle']),
      status: String(r['status']),
      accountId: String(r['account_id']),
      premiseId: String(r['premise_id']),
      pevId: String(r['pev_id']),
      programId: String(r['program_id']),
      sessionStartMs: Number(r['session_start_ms']),
      sessionEndMs: Number(r['session_end_ms']),
      eumdWh: Number(r['eumd_wh']),
      intervalSumWh: Number(r['interval_sum_wh']),
      periodWh: Number(r['period_wh']),
      esciWh: Number(r['has_end']) === 1 ? Number(r['esci_wh']) : null,
      vehicleWh: Number(r['has_vehicle']) === 1 ? Number(r['vehicle_wh']) : null,
      grantedWh: Number(r['has_grant']) === 1 ? Number(r['granted_wh']) : null,
      seen: Number(r['intervals_seen']),
      missing: Number(r['intervals_missing']),
      flags,
      outcome,
    };
  });
}

export function holdCodes(r: SessionResult): string[] {
  return r.flags.filter((f) => f.severity === 'hold').map((f) => f.code);
}

export function resultFactsKey(r: SessionResult): string {
  return factsKey({ eumdWh: r.eumdWh, intervalSumWh: r.intervalSumWh, seen: r.seen, missing: r.missing, esciWh: r.esciWh, vehicleWh: r.vehicleWh, grantedWh: r.grantedWh });
}

/** Where an action stands: in effect and applied by a run, in effect and waiting for the next run, or superseded. */
export type ActionState = 'applied' | 'pending' | 'superseded';

export interface ActionView extends ReviewAction {
  state: ActionState;
  /** The latest run's outcome of it, when applied (APPLIED, REHELD, NOT_NEEDED) and its note. */
  outcome: string;
  note: string;
}

/** A session's actions, oldest first, each with where it stands against the current results. */
export function actionViews(actions: readonly ReviewAction[], results: readonly SessionResult[]): ActionView[] {
  const latest = latestBySession(actions);
  return actions.map((a) => {
    if (latest.get(a.sessionId)?.actionId !== a.actionId) return { ...a, state: 'superseded', outcome: '', note: '' };
    const applied = results.find((r) => r.sessionId === a.sessionId && r.outcome?.actionId === a.actionId);
    return applied === undefined
      ? { ...a, state: 'pending', outcome: '', note: 'applied by the next reconcile run' }
      : { ...a, state: 'applied', outcome: applied.outcome!.outcome, note: applied.outcome!.note };
  });
}

/** The operator's name: the --operator flag, else the OS user (os.userInfo), else $USER. */
export function operatorName(flag?: string): string {
  if (flag !== undefined && flag.trim() !== '') return flag.trim();
  try {
    const u = userInfo().username;
    if (u !== '') return u;
  } catch {
    // No passwd entry for this UID (some containers).
  }
  return process.env['USER'] ?? process.env['LOGNAME'] ?? 'unknown';
}

export interface ActOptions {
  reason?: string | undefined;
  operator?: string | undefined;
  /** CORRECT: the session's energy to bill, Wh (an integer). */
  wh?: number;
  nowMs?: number;
}

/**
 * Checks that the action applies to the session as it stands (its latest result, and a pending
 * action if one waits for the next run) and appends it. Throws PEV_REVIEW_REASON_REQUIRED,
 * PEV_REVIEW_UNKNOWN_SESSION or PEV_REVIEW_NOT_APPLICABLE, or PEV_INPUT for a bad --wh.
 */
export async function act(store: Store, sessionId: string, kind: ReviewActionKind, o: ActOptions): Promise<ReviewAction> {
  const reason = checkReason(kind, o.reason);
  if (kind === 'CORRECT' && (o.wh === undefined || !Number.isSafeInteger(o.wh) || o.wh < 0)) {
    throw new PevmeterError('PEV_INPUT', `correct: --wh must be the session's energy as a whole number of Wh, 0 or more${o.wh === undefined ? '' : `, got ${String(o.wh)}`}`);
  }
  const results = await loadResults(store, { sessionId, status: '' });
  if (results.length === 0) {
    throw new PevmeterError(
      'PEV_REVIEW_UNKNOWN_SESSION',
      `no reconcile result for session ${JSON.stringify(sessionId)}: reconcile a period that contains it first (pevmeter reconcile --from ... --to ...), or check the ID (pevmeter review list)`,
    );
  }
  // The latest run's result: the session as the operator sees it now.
  const current = results.reduce((a, b) => (b.runSeq > a.runSeq ? b : a));
  const actions = await loadActions(store, sessionId);
  const views = actionViews(actions, results);
  const pending = views.find((v) => v.state === 'pending');
  const codes = holdCodes(current);
  const billedWh = current.outcome?.outcome === 'APPLIED' && current.status === 'BILLED' ? current.outcome.sessionWh : current.eumdWh;
  const status = pending?.afterStatus ?? current.status;
  const statusWh = pending !== undefined ? pending.afterWh : billedWh;
  const says = `session ${sessionId} is ${status}${pending !== undefined ? ` once its pending ${pending.action} (${pending.actionId}) applies` : ''}` +
    `${codes.length > 0 ? ` (hold flags ${codes.join(', ')})` : ''}`;
  const refuse = (why: string): never => {
    throw new PevmeterError('PEV_REVIEW_NOT_APPLICABLE', `${kind.toLowerCase().replace('_', '-')} does not apply: ${says}; ${why}`);
  };
  let afterStatus = 'BILLED';
  // Billed as it stands: the EUMD energy and, by default, the interpolated energy of missing intervals.
  const gap = current.flags.find((x) => x.code === 'GAP');
  let afterWh = current.eumdWh + (gap?.observed['interpolatedWh'] ?? 0);
  if (kind === 'RELEASE') {
    if (status !== 'HELD') refuse('there is nothing to release');
  } else if (kind === 'HOLD') {
    if (status === 'HELD') refuse('it is held already');
    afterStatus = 'HELD';
    afterWh = 0;
  } else if (kind === 'ACCEPT_ESTIMATE') {
    if (status !== 'HELD') refuse('it is not held');
    if (codes.length === 0) refuse('no flag holds it (an operator hold): release it instead');
    const other = codes.filter((c) => !ESTIMATE_CODES.has(c));
    if (other.length > 0) refuse(`${other.join(', ')} is not about estimated energy: an accepted estimate lifts only ${[...ESTIMATE_CODES].join(', ')}`);
  } else {
    if (status === 'BILLED' && statusWh === o.wh) refuse(`it is billed at ${o.wh} Wh already`);
    afterWh = o.wh!;
  }
  const a: ReviewAction = {
    actionId: newActionId(),
    sessionId,
    action: kind,
    operator: operatorName(o.operator),
    reason,
    createdMs: o.nowMs ?? actionTime(),
    correctedWh: kind === 'CORRECT' ? o.wh! : -1,
    periodFromMs: current.periodFromMs,
    periodToMs: current.periodToMs,
    seenRunId: current.runId,
    beforeStatus: status,
    beforeWh: status === 'HELD' ? 0 : statusWh,
    beforeHoldCodes: codes,
    beforeFacts: resultFactsKey(current),
    afterStatus,
    afterWh,
  };
  await appendAction(store, a);
  return a;
}

/** The reason, trimmed; PEV_REVIEW_REASON_REQUIRED when missing or blank. */
export function checkReason(kind: ReviewActionKind, reason: string | undefined): string {
  const r = (reason ?? '').trim();
  if (r === '') {
    throw new PevmeterError(
      'PEV_REVIEW_REASON_REQUIRED',
      `${kind.toLowerCase().replace('_', '-')}: --reason is required: say why (it is kept with the action, who took it and when)`,
    );
  }
  return r;
}

export interface RecordView {
  periodFromMs: number;
  periodToMs: number;
  version: number;
  status: string;
  energyWh: number;
  sessionEnergyWh: number;
  amountMinor: number;
  currency: string;
  warnCodes: string[];
  /** The highest version of this period's record that went out in an export; 0: none. */
  exportedVersion: number;
}

const RECORDS_SQL = `
SELECT r.period_from_ms AS period_from_ms, r.period_to_ms AS period_to_ms, r.version AS version, r.status AS status,
  r.energy_wh AS energy_wh, r.session_energy_wh AS session_energy_wh, r.amount_minor AS amount_minor, r.currency AS currency,
  r.warn_codes AS warn_codes
FROM
(
  SELECT * FROM {db}.billing_record FINAL
  WHERE session_id = {session:String}
  ORDER BY period_from_ms, period_to_ms, version DESC
  LIMIT 1 BY period_from_ms, period_to_ms
) AS r
ORDER BY period_from_ms
`;

const EXPORTS_SQL = `
SELECT period_from_ms, period_to_ms, max(version) AS v FROM {db}.billing_export
WHERE session_id = {session:String}
GROUP BY period_from_ms, period_to_ms
`;

/** The current billing record of a session in every period it has one, with what went out. */
export async function loadRecords(store: Store, sessionId: string): Promise<RecordView[]> {
  const [rows, exported] = await Promise.all([
    store.select<Raw>(RECORDS_SQL, { session: sessionId }),
    store.select<Raw>(EXPORTS_SQL, { session: sessionId }),
  ]);
  const ex = new Map(exported.map((e) => [`${String(e['period_from_ms'])}|${String(e['period_to_ms'])}`, Number(e['v'])]));
  return rows.map((r) => ({
    periodFromMs: Number(r['period_from_ms']),
    periodToMs: Number(r['period_to_ms']),
    version: Number(r['version']),
    status: String(r['status']),
    energyWh: Number(r['energy_wh']),
    sessionEnergyWh: Number(r['session_energy_wh']),
    amountMinor: Number(r['amount_minor']),
    currency: String(r['currency']),
    warnCodes: (r['warn_codes'] as string[]).map(String),
    exportedVersion: ex.get(`${String(r['period_from_ms'])}|${String(r['period_to_ms'])}`) ?? 0,
  }));
}
