/**
 * What a reconcile run does with the review action in effect for a session (the latest one,
 * read once at the run's start: an action recorded during the run is applied by the next one, and
 * until then `pevmeter review show` says it is pending).
 *
 *   HOLD             held, whatever the rules say.
 *   RELEASE          billed as it is, hold flags and all, unless new data re-holds it.
 *   ACCEPT_ESTIMATE  billed with its estimated energy, when estimate codes are all that hold it.
 *   CORRECT          billed at the operator's energy (Wh for the whole session), spread over the
 *                    session's energy timeline in proportion (integer largest remainder), so the
 *                    time-of-use split and a period's part follow the measured shape.
 *
 * Re-hold: a release, an accepted estimate or a correction was decided on what the operator saw.
 * A run that finds a hold code that was not there then, or other measured facts (factsKey: new
 * intervals, a summary or vehicle report arriving), holds the session again: outcome REHELD with
 * the reason, shown by `review list`/`show`, in the report, and on the VOID that cancels a bill.
 * A release of a session no rule holds any more is NOT_NEEDED (billed by the rules).
 */
import type { Store } from '../../aggregate/store/types.js';
import { insertRows } from '../tsv.js';
import type { Flag, Period, Piece, SessionFacts, SessionMeasures } from '../types.js';
import { ESTIMATE_CODES, factsChange, factsKey, latestBySession, loadActions, type ReviewAction, type ReviewActionKind } from './actions.js';

export type ReviewOutcome = 'APPLIED' | 'REHELD' | 'NOT_NEEDED';

export interface ReviewDecision {
  action: ReviewAction;
  outcome: ReviewOutcome;
  held: boolean;
  /** CORRECT applied: the session's energy to bill. */
  correctedWh: number | null;
  note: string;
}

export interface ReviewItem {
  sessionId: string;
  actionId: string;
  action: ReviewActionKind;
  operator: string;
  reason: string;
  createdMs: number;
  outcome: ReviewOutcome;
  note: string;
  /** The session's status after this run: BILLED, HELD or UNBILLED. */
  status: string;
  /** The session energy billed (corrected when corrected), Wh; 0 when held. */
  sessionWh: number;
}

export interface ReviewSummary {
  /** Sessions of the run with an action in effect. */
  sessions: number;
  applied: number;
  reheld: number;
  notNeeded: number;
  /** Per session with an action, in session-ID order; at most itemCap. */
  items: ReviewItem[];
  itemCap: number;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The decision for one session, given its action in effect (pure). */
export function decideReview(a: ReviewAction, flags: readonly Flag[], facts: string): ReviewDecision {
  const holdCodes = flags.filter((f) => f.severity === 'hold').map((f) => f.code as string);
  const held = holdCodes.length > 0;
  const when = iso(a.createdMs);
  const base = { action: a, correctedWh: null };
  if (a.action === 'HOLD') return { ...base, outcome: 'APPLIED', held: true, note: `held by ${a.operator} at ${when}` };
  if ((a.action === 'RELEASE' || a.action === 'ACCEPT_ESTIMATE') && !held) {
    return { ...base, outcome: 'NOT_NEEDED', held: false, note: 'no rule holds the session now: billed by the rules' };
  }
  const word = a.action === 'RELEASE' ? 'release' : a.action === 'CORRECT' ? 'correction' : 'accepted estimate';
  const added = holdCodes.filter((c) => !a.beforeHoldCodes.includes(c));
  if (added.length > 0) {
    return { ...base, outcome: 'REHELD', held: true, note: `re-held: new hold flag ${added.join(', ')} since the ${word} of ${when}` };
  }
  if (facts !== a.beforeFacts) {
    return { ...base, outcome: 'REHELD', held: true, note: `re-held: the facts changed since the ${word} of ${when} (${factsChange(a.beforeFacts, facts)})` };
  }
  if (a.action === 'ACCEPT_ESTIMATE') {
    const other = holdCodes.filter((c) => !ESTIMATE_CODES.has(c));
    if (other.length > 0) return { ...base, outcome: 'REHELD', held: true, note: `re-held: ${other.join(', ')} holds it beside the estimate` };
  }
  if (a.action === 'CORRECT') {
    return { action: a, correctedWh: a.correctedWh, outcome: 'APPLIED', held: false, note: `corrected to ${a.correctedWh} Wh by ${a.operator} at ${when}` };
  }
  return { ...base, outcome: 'APPLIED', held: false, note: `${a.action === 'RELEASE' ? 'released' : 'estimate accepted'} by ${a.operator} at ${when}` };
}

/** The facts key of a session as a run measures it (the same numbers reconcile_session stores). */
export function sessionFactsKey(f: SessionFacts, m: SessionMeasures): string {
  return factsKey({
    eumdWh: m.eumdWh,
    intervalSumWh: m.intervalSumWh,
    seen: m.seen,
    missing: m.missing,
    esciWh: f.end?.energyWh ?? null,
    vehicleWh: f.vehicle?.runningWh ?? null,
    grantedWh: f.grant?.grantedWh ?? null,
  });
}

/**
 * The session's energy timeline rescaled to `targetWh`: each piece gets floor(target × wh / total)
 * and the Wh left over go one each to the largest remainders, earlier first. Without measured
 * energy, one piece over the session's span.
 */
export function scalePieces(pieces: readonly Piece[], targetWh: number, startMs: number, endMs: number): Piece[] {
  let total = 0;
  for (const p of pieces) total += Math.max(0, p.wh);
  if (total <= 0) return [{ startMs, endMs: Math.max(endMs, startMs + 1), wh: targetWh }];
  const T = BigInt(total);
  const W = BigInt(targetWh);
  const out = pieces.map((p) => ({ ...p, wh: Number((W * BigInt(Math.max(0, p.wh))) / T) }));
  const rem = pieces.map((p, i) => ({ i, r: (W * BigInt(Math.max(0, p.wh))) % T }));
  let left = targetWh;
  for (const p of out) left -= p.wh;
  rem.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  for (let k = 0; k < left; k++) out[rem[k % rem.length]!.i]!.wh++;
  return out;
}

const OUTCOME_COLUMNS = [
  'period_from_ms', 'period_to_ms', 'session_id', 'run_id', 'run_seq', 'action_id', 'action', 'outcome', 'note', 'status', 'session_wh',
] as const;

/** The actions a run applies, read once at its start, and what it did with them. */
export class ReviewBook {
  readonly summary: ReviewSummary;
  private readonly rows: (string | number)[][] = [];

  private constructor(private readonly latest: Map<string, ReviewAction>, itemCap: number) {
    this.summary = { sessions: 0, applied: 0, reheld: 0, notNeeded: 0, items: [], itemCap };
  }

  /** Reads every action (a run reads them once: those recorded later wait for the next run). */
  static async load(store: Store, itemCap = 200): Promise<ReviewBook> {
    return new ReviewBook(latestBySession(await loadActions(store)), itemCap);
  }

  static empty(): ReviewBook {
    return new ReviewBook(new Map(), 0);
  }

  /** The decision for a session, or null when no action is in effect for it. */
  decide(f: SessionFacts, m: SessionMeasures, flags: readonly Flag[]): ReviewDecision | null {
    if (this.latest.size === 0) return null;
    const a = this.latest.get(f.sessionId);
    return a === undefined ? null : decideReview(a, flags, sessionFactsKey(f, m));
  }

  /** Records what the run did with a session's action. */
  settle(period: Period, runId: string, runSeq: number, d: ReviewDecision, status: string, sessionWh: number): void {
    const a = d.action;
    const s = this.summary;
    s.sessions++;
    if (d.outcome === 'APPLIED') s.applied++;
    else if (d.outcome === 'REHELD') s.reheld++;
    else s.notNeeded++;
    this.rows.push([period.fromMs, period.toMs, a.sessionId, runId, runSeq, a.actionId, a.action, d.outcome, d.note, status, sessionWh]);
    if (s.items.length < s.itemCap) {
      s.items.push({
        sessionId: a.sessionId, actionId: a.actionId, action: a.action, operator: a.operator, reason: a.reason, createdMs: a.createdMs,
        outcome: d.outcome, note: d.note, status, sessionWh,
      });
    }
  }

  /** Writes the run's outcomes (one row per session with an action). */
  async write(store: Store): Promise<void> {
    this.summary.items.sort((x, y) => (x.sessionId < y.sessionId ? -1 : x.sessionId > y.sessionId ? 1 : 0));
    await insertRows(store, 'review_outcome', OUTCOME_COLUMNS, this.rows);
  }
}
