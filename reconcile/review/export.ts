/**
 * The review action behind each exported record: the outcome the latest run wrote for the
 * session (review_outcome, migration 007), so an export line says which operator action, if any,
 * made it (a release, a correction, an accepted estimate) or cancelled it (a hold, a re-hold).
 */
import type { Store } from '../../aggregate/store/types.js';
import type { Period } from '../types.js';

export interface RecordReview {
  action: string;
  actionId: string;
  outcome: string;
}

export const NO_REVIEW: RecordReview = { action: '', actionId: '', outcome: '' };

// Sessions with an action are few (people act on them): read whole, keyed by the record's own
// period (a cycle's records have different ones).
const OUTCOMES_SQL = `
SELECT period_from_ms, period_to_ms, session_id, action_id, action, outcome
FROM {db}.review_outcome FINAL
`;

export function reviewKey(period: Period, sessionId: string): string {
  return `${period.fromMs}|${period.toMs}|${sessionId}`;
}

/** The current review outcome of every (period, session) that has one, by reviewKey. */
export async function recordReviews(store: Store): Promise<Map<string, RecordReview>> {
  const rows = await store.select<{ period_from_ms: string | number; period_to_ms: string | number; session_id: string; action_id: string; action: string; outcome: string }>(OUTCOMES_SQL);
  const out = new Map<string, RecordReview>();
  for (const r of rows) {
    out.set(reviewKey({ fromMs: Number(r.period_from_ms), toMs: Number(r.period_to_ms) }, r.session_id), { action: r.action, actionId: r.action_id, outcome: r.outcome });
  }
  return out;
}
