/**
 * What a run does with the action in effect (review/apply.ts), table-driven: every action against
 * the flags and facts it was taken on, a new hold flag, changed facts, no hold left; and the
 * correction's spread over the energy timeline, to the Wh.
 */
import t from 'tap';
import type { ReviewAction, ReviewActionKind } from '../../reconcile/review/actions.js';
import { factsChange } from '../../reconcile/review/actions.js';
import { decideReview, scalePieces, type ReviewOutcome } from '../../reconcile/review/apply.js';
import type { Flag, FlagCode } from '../../reconcile/types.js';

const FACTS = 'eumd=3000;intervals=3000;seen=30;missing=0;esci=3000;vehicle=9000;grant=3500';
const MORE = 'eumd=3100;intervals=3100;seen=31;missing=0;esci=3000;vehicle=9000;grant=3500';

function action(kind: ReviewActionKind, holdCodes: string[], correctedWh = -1): ReviewAction {
  return {
    actionId: 'a', sessionId: 'S', action: kind, operator: 'op', reason: 'r', createdMs: Date.UTC(2026, 10, 2), correctedWh,
    periodFromMs: 0, periodToMs: 1, seenRunId: 'run', beforeStatus: 'HELD', beforeWh: 0, beforeHoldCodes: holdCodes, beforeFacts: FACTS,
    afterStatus: kind === 'HOLD' ? 'HELD' : 'BILLED', afterWh: 0,
  };
}

function flags(hold: FlagCode[], warn: FlagCode[] = []): Flag[] {
  return [...hold.map((code) => ({ code, severity: 'hold' as const, observed: {}, threshold: {} })), ...warn.map((code) => ({ code, severity: 'warn' as const, observed: {}, threshold: {} }))];
}

void t.test('decideReview', (t) => {
  const cases: { name: string; a: ReviewAction; now: Flag[]; facts: string; outcome: ReviewOutcome; held: boolean; corrected: number | null; note: RegExp }[] = [
    { name: 'release, same flags and facts', a: action('RELEASE', ['VEHICLE_MISMATCH']), now: flags(['VEHICLE_MISMATCH'], ['GAP']), facts: FACTS, outcome: 'APPLIED', held: false, corrected: null, note: /^released by op at 2026-11-02T00:00:00.000Z$/ },
    { name: 'release, one of its hold flags gone', a: action('RELEASE', ['VEHICLE_MISMATCH', 'SPIKE']), now: flags(['SPIKE']), facts: FACTS, outcome: 'APPLIED', held: false, corrected: null, note: /^released/ },
    { name: 'release, a new hold flag', a: action('RELEASE', ['VEHICLE_MISMATCH']), now: flags(['VEHICLE_MISMATCH', 'NEGATIVE']), facts: FACTS, outcome: 'REHELD', held: true, corrected: null, note: /^re-held: new hold flag NEGATIVE since the release of 2026-11-02T00:00:00.000Z$/ },
    { name: 'release, a new warn flag only', a: action('RELEASE', ['VEHICLE_MISMATCH']), now: flags(['VEHICLE_MISMATCH'], ['ESCI_MISMATCH']), facts: FACTS, outcome: 'APPLIED', held: false, corrected: null, note: /^released/ },
    { name: 'release, facts changed', a: action('RELEASE', ['VEHICLE_MISMATCH']), now: flags(['VEHICLE_MISMATCH']), facts: MORE, outcome: 'REHELD', held: true, corrected: null, note: /^re-held: the facts changed since the release of .* \(eumd 3000 -> 3100, intervals 3000 -> 3100, seen 30 -> 31\)$/ },
    { name: 'release, nothing holds any more', a: action('RELEASE', ['VEHICLE_MISMATCH']), now: flags([], ['GAP']), facts: MORE, outcome: 'NOT_NEEDED', held: false, corrected: null, note: /^no rule holds the session now/ },
    { name: 'hold, clean session', a: action('HOLD', []), now: [], facts: FACTS, outcome: 'APPLIED', held: true, corrected: null, note: /^held by op/ },
    { name: 'hold, facts changed: still held', a: action('HOLD', []), now: flags([], ['GAP']), facts: MORE, outcome: 'APPLIED', held: true, corrected: null, note: /^held by op/ },
    { name: 'accept estimate, only ESTIMATED holds', a: action('ACCEPT_ESTIMATE', ['ESTIMATED']), now: flags(['ESTIMATED']), facts: FACTS, outcome: 'APPLIED', held: false, corrected: null, note: /^estimate accepted by op/ },
    { name: 'accept estimate, another hold since', a: action('ACCEPT_ESTIMATE', ['ESTIMATED']), now: flags(['ESTIMATED', 'SPIKE']), facts: FACTS, outcome: 'REHELD', held: true, corrected: null, note: /new hold flag SPIKE since the accepted estimate/ },
    { name: 'accept estimate, held by something else all along', a: action('ACCEPT_ESTIMATE', ['ESTIMATED', 'SPIKE']), now: flags(['ESTIMATED', 'SPIKE']), facts: FACTS, outcome: 'REHELD', held: true, corrected: null, note: /^re-held: SPIKE holds it beside the estimate$/ },
    { name: 'accept estimate, no hold now', a: action('ACCEPT_ESTIMATE', ['ESTIMATED']), now: [], facts: FACTS, outcome: 'NOT_NEEDED', held: false, corrected: null, note: /^no rule holds/ },
    { name: 'correct, held session', a: action('CORRECT', ['SUM_CHECK'], 2950), now: flags(['SUM_CHECK']), facts: FACTS, outcome: 'APPLIED', held: false, corrected: 2950, note: /^corrected to 2950 Wh by op/ },
    { name: 'correct, billed session', a: action('CORRECT', [], 0), now: [], facts: FACTS, outcome: 'APPLIED', held: false, corrected: 0, note: /^corrected to 0 Wh/ },
    { name: 'correct, facts changed', a: action('CORRECT', ['SUM_CHECK'], 2950), now: flags(['SUM_CHECK']), facts: MORE, outcome: 'REHELD', held: true, corrected: null, note: /since the correction of/ },
  ];
  for (const c of cases) {
    const d = decideReview(c.a, c.now, c.facts);
    t.same([d.outcome, d.held, d.correctedWh], [c.outcome, c.held, c.corrected], c.name);
    t.match(d.note, c.note, `${c.name}: note`);
  }
  t.equal(factsChange(FACTS, FACTS), '', 'no change, no text');
  t.end();
});

void t.test('scalePieces: proportional, integer, exact total', (t) => {
  const P = (wh: number[]) => wh.map((w, i) => ({ startMs: i * 60_000, endMs: (i + 1) * 60_000, wh: w }));
  const cases: { name: string; pieces: number[]; target: number; want: number[] }[] = [
    { name: 'same total', pieces: [100, 100, 100], target: 300, want: [100, 100, 100] },
    { name: 'up, evenly', pieces: [100, 100, 100], target: 303, want: [101, 101, 101] },
    { name: 'remainder to the largest remainders, earlier first', pieces: [100, 100, 100], target: 301, want: [101, 100, 100] },
    { name: 'down, uneven', pieces: [50, 150, 100], target: 200, want: [33, 100, 67] },
    { name: 'to zero', pieces: [50, 150], target: 0, want: [0, 0] },
    { name: 'a zero piece stays zero', pieces: [0, 100], target: 250, want: [0, 250] },
  ];
  for (const c of cases) {
    const out = scalePieces(P(c.pieces), c.target, 0, c.pieces.length * 60_000);
    t.same(out.map((p) => p.wh), c.want, c.name);
    t.equal(out.reduce((s, p) => s + p.wh, 0), c.target, `${c.name}: sums to the target`);
  }
  t.same(scalePieces([], 1234, 1000, 61_000), [{ startMs: 1000, endMs: 61_000, wh: 1234 }], 'no measured energy: one piece over the session');
  t.same(scalePieces([], 5, 1000, 1000), [{ startMs: 1000, endMs: 1001, wh: 5 }], 'a session without span: one millisecond');
  t.end();
});
