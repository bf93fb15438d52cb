/**
 * Review actions: an operator's decisions on a session, kept append-only in `review_action`
 * (migration 007) with who, when, why, and the session before and after. Nothing here updates or
 * deletes a row: a later action supersedes an earlier one (the latest by time, then action ID,
 * is the one a run applies), and both stay in the trail.
 *
 * The table holds human decisions (thousands, not millions) and is read whole, without query
 * parameters, so the trail also works on the ClickHouse 18.16 test server.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from '../../aggregate/store/types.js';
import { insertRows } from '../tsv.js';

export const REVIEW_ACTIONS = ['RELEASE', 'HOLD', 'ACCEPT_ESTIMATE', 'CORRECT'] as const;
export type ReviewActionKind = (typeof REVIEW_ACTIONS)[number];

/** Flag codes whose hold an accepted estimate lifts: the held energy is an estimate. */
export const ESTIMATE_CODES: ReadonlySet<string> = new Set(['ESTIMATED', 'ESTIMATE_SHARE']);

export interface ReviewAction {
  actionId: string;
  sessionId: string;
  action: ReviewActionKind;
  operator: string;
  reason: string;
  createdMs: number;
  /** CORRECT: the session's energy to bill, Wh; -1 otherwise. */
  correctedWh: number;
  /** The reconcile result the operator acted on: its period and run. */
  periodFromMs: number;
  periodToMs: number;
  seenRunId: string;
  beforeStatus: string;
  /** The session's energy as billed (or billable) before the action, Wh. */
  beforeWh: number;
  beforeHoldCodes: string[];
  /** The measured facts the operator saw (see factsKey); a run with other facts re-holds a release. */
  beforeFacts: string;
  afterStatus: string;
  afterWh: number;
}

const COLUMNS = [
  'action_id', 'session_id', 'action', 'operator', 'reason', 'created_ms', 'corrected_wh', 'period_from_ms', 'period_to_ms',
  'seen_run_id', 'before_status', 'before_wh', 'before_hold_codes', 'before_facts', 'after_status', 'after_wh',
] as const;

const SELECT_ACTIONS = `SELECT action_id, session_id, action, operator, reason, created_ms, corrected_wh, period_from_ms, period_to_ms,
  seen_run_id, before_status, before_wh, before_hold_codes, before_facts, after_status, after_wh FROM {db}.review_action`;

type Row = Record<(typeof COLUMNS)[number], string | number | string[]>;

let lastCreated = 0;
/** Strictly increasing in this process, so two actions of one operator never tie. */
export function actionTime(): number {
  lastCreated = Math.max(Date.now(), lastCreated + 1);
  return lastCreated;
}

export function newActionId(): string {
  return randomUUID();
}

/** Appends one action. */
export async function appendAction(store: Store, a: ReviewAction): Promise<void> {
  await insertRows(store, 'review_action', COLUMNS, [[
    a.actionId, a.sessionId, a.action, a.operator, a.reason, a.createdMs, a.correctedWh, a.periodFromMs, a.periodToMs,
    a.seenRunId, a.beforeStatus, a.beforeWh, a.beforeHoldCodes, a.beforeFacts, a.afterStatus, a.afterWh,
  ]]);
}

function fromRow(r: Row): ReviewAction {
  return {
    actionId: String(r.action_id),
    sessionId: String(r.session_id),
    action: String(r.action) as ReviewActionKind,
    operator: String(r.operator),
    reason: String(r.reason),
    createdMs: Number(r.created_ms),
    correctedWh: Number(r.corrected_wh),
    periodFromMs: Number(r.period_from_ms),
    periodToMs: Number(r.period_to_ms),
    seenRunId: String(r.seen_run_id),
    beforeStatus: String(r.before_status),
    beforeWh: Number(r.before_wh),
    beforeHoldCodes: (r.before_hold_codes as string[]).map(String),
    beforeFacts: String(r.before_facts),
    afterStatus: String(r.after_status),
    afterWh: Number(r.after_wh),
  };
}

/** Orders actions as they take effect: by time, then ID (a later one supersedes). */
export function actionOrder(a: ReviewAction, b: ReviewAction): number {
  return a.createdMs - b.createdMs || (a.actionId < b.actionId ? -1 : a.actionId > b.actionId ? 1 : 0);
}

/**
 * Every action, oldest first, one row per action ID (an insert retried after a lost answer may
 * have stored a row twice), optionally of one session.
 */
export async function loadActions(store: Store, sessionId?: string): Promise<ReviewAction[]> {
  const rows = await store.select<Row>(SELECT_ACTIONS);
  const byId = new Map<string, ReviewAction>();
  for (const r of rows) {
    if (sessionId !== undefined && r.session_id !== sessionId) continue;
    const a = fromRow(r);
    byId.set(a.actionId, a);
  }
  return [...byId.values()].sort(actionOrder);
}

/** The action in effect per session: the latest. */
export function latestBySession(actions: readonly ReviewAction[]): Map<string, ReviewAction> {
  const out = new Map<string, ReviewAction>();
  for (const a of actions) {
    const prev = out.get(a.sessionId);
    if (prev === undefined || actionOrder(prev, a) < 0) out.set(a.sessionId, a);
  }
  return out;
}

/**
 * The measured facts a release is based on, as text: the numbers reconcile_session stores for a
 * session. A later run with other numbers (new intervals, a summary or vehicle report arriving)
 * re-holds a released session.
 */
export function factsKey(v: {
  eumdWh: number; intervalSumWh: number; seen: number; missing: number; esciWh: number | null; vehicleWh: number | null; grantedWh: number | null;
}): string {
  const o = (x: number | null): string => (x === null ? '-' : String(x));
  return `eumd=${v.eumdWh};intervals=${v.intervalSumWh};seen=${v.seen};missing=${v.missing};esci=${o(v.esciWh)};vehicle=${o(v.vehicleWh)};grant=${o(v.grantedWh)}`;
}

/** What changed between two facts keys, for a person: "eumd 3000 -> 3100, seen 30 -> 31". */
export function factsChange(before: string, after: string): string {
  const parse = (s: string): Map<string, string> => new Map(s.split(';').map((kv) => kv.split('=') as [string, string]));
  const a = parse(before);
  const b = parse(after);
  const out: string[] = [];
  for (const [k, v] of b) if (a.get(k) !== v) out.push(`${k} ${a.get(k) ?? '?'} -> ${v}`);
  return out.join(', ');
}
