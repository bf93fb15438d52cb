/**
 * The use case's validation rules (issue 19), table-driven at their thresholds like the others
 * (test/reconcile/rules/index.test.ts): just below, at (passes), just above. Where the default
 * threshold is 0, a threshold is set so that "below" exists, and the default is checked apart.
 */
import t, { type Test } from 'tap';
import { resolveConfig, type ReconcileConfigInput } from '../../../reconcile/config.js';
import { measure } from '../../../reconcile/measures.js';
import { RULES, type RuleContext } from '../../../reconcile/rules/index.js';
import type { Flag, FlagCode, SessionFacts } from '../../../reconcile/types.js';
import { ENROLLMENT, START, clean, drop, edit } from '../session.js';

const defaults = resolveConfig({});
const PERIOD = { fromMs: Date.UTC(2026, 9, 1, 7), toMs: Date.UTC(2026, 10, 1, 7) };
const CTX: RuleContext = { asOfMs: Date.UTC(2026, 10, 2), period: PERIOD, program: defaults.programs['EV-TOU-OFFPEAK']!, tariffId: 'EV-TOU-2026', touWh: { off_peak: 0, peak: 0, super_off_peak: 0 } };
const MIN = 60_000;

function run(code: FlagCode, f: SessionFacts, rules: ReconcileConfigInput['rules'] = {}): Flag | null {
  const rule = RULES.find((r) => r.code === code);
  if (rule === undefined) throw new Error(`no rule ${code}`);
  return rule.run(f, measure(f), resolveConfig({ rules }).rules, CTX);
}

type Case = [name: string, f: SessionFacts, raised: boolean, observed?: Record<string, number>];

function table(t: Test, code: FlagCode, rules: ReconcileConfigInput['rules'], cases: Case[]): void {
  for (const [name, f, raised, observed] of cases) {
    const fl = run(code, f, rules);
    t.equal(fl !== null, raised, `${code} ${name}: ${raised ? 'raised' : 'not raised'}`);
    if (observed !== undefined) t.same(fl?.observed, observed, `${code} ${name}: observed`);
  }
}

void t.test('AUTH_FAILED: the binding result, nothing else', (t) => {
  const f = clean();
  const failed = { ...f, start: { plugInMs: START - 20_000, binding: 'AUTH_FAILED' } };
  table(t, 'AUTH_FAILED', {}, [
    ['BOUND', f, false],
    ['NOT_ENROLLED (NOT_ENROLLED says so)', { ...f, start: { plugInMs: START, binding: 'NOT_ENROLLED' } }, false],
    ['no session start', { ...f, start: null }, false],
    ['AUTH_FAILED', failed, true, { sessionStartMs: START - 20_000, eumdWh: 3000 }],
  ]);
  t.match(run('AUTH_FAILED', failed), { severity: 'hold', threshold: {}, detail: 'binding AUTH_FAILED reported by ESCI ESCI-0000000A' });
  t.equal(run('AUTH_FAILED', failed, { authFailed: { severity: 'warn' } })?.severity, 'warn');
  t.end();
});

void t.test('OUTSIDE_GRANT: energy in intervals wholly outside the granted schedule under a delay, at toleranceWh 100', (t) => {
  // 30 intervals of 100 Wh, one a minute from START.
  const f = clean();
  const grant = (startMs: number, endMs: number, delayReason = 'DEMAND_RESPONSE'): SessionFacts => ({ ...f, grant: { ...f.grant!, scheduleStartMs: startMs, scheduleEndMs: endMs, delayReason } });
  const end = START + 30 * MIN;
  table(t, 'OUTSIDE_GRANT', { outsideGrant: { toleranceWh: 100 } }, [
    ['starts 30 s into the first interval (it straddles: inside)', grant(START + 30_000, end), false],
    ['one interval before (at)', grant(START + MIN, end), false],
    ['one and a half before: the straddling one is inside (at)', grant(START + 90_000, end), false],
    ['two intervals before', grant(START + 2 * MIN, end), true, { outsideWh: 200, beforeStartWh: 200, afterEndWh: 0, eumdWh: 3000, scheduleStartMs: START + 2 * MIN, scheduleEndMs: end }],
    ['two intervals after the end', grant(START, end - 2 * MIN), true, { outsideWh: 200, beforeStartWh: 0, afterEndWh: 200, eumdWh: 3000, scheduleStartMs: START, scheduleEndMs: end - 2 * MIN }],
    ['off-peak delay counts as a delay', grant(START + 2 * MIN, end, 'OFF_PEAK'), true],
    ['no delay: the schedule is not a constraint', grant(START + 2 * MIN, end, 'NONE'), false],
    ['no grant', { ...f, grant: null }, false],
  ]);
  // Energy measured across a gap is spread over the gap (measures.ts): a gap straddling the start
  // holds energy from before it, so the piece is not wholly before and does not count.
  const gapped = drop(grant(START + 3 * MIN, end), 1, 2, 3);
  t.same(run('OUTSIDE_GRANT', gapped)?.observed, { outsideWh: 100, beforeStartWh: 100, afterEndWh: 0, eumdWh: 3000, scheduleStartMs: START + 3 * MIN, scheduleEndMs: end });
  const one = run('OUTSIDE_GRANT', grant(START + MIN, end));
  t.match(one, { severity: 'warn', threshold: { toleranceWh: 0 }, observed: { outsideWh: 100 }, detail: 'delay reason DEMAND_RESPONSE' }, 'default: any Wh outside');
  t.ok(defaults.programs['EV-TOU-OFFPEAK']!.incentive!.withheldOn.includes('OUTSIDE_GRANT'), 'the off-peak program withholds its credit on OUTSIDE_GRANT');
  t.end();
});

void t.test('ENROLLMENT_CHANGE: the enrollment ends or starts inside the session, at toleranceS 60', (t) => {
  // Plug-in START - 20 s; the last interval ends START + 30 min (the end summary too).
  const f = clean();
  const plugIn = START - 20_000;
  const end = START + 30 * MIN;
  const endsAt = (validToMs: number): SessionFacts => ({ ...f, enrollment: { ...ENROLLMENT, validToMs }, enrollmentAtEnd: null });
  const startsAt = (validFromMs: number): SessionFacts => ({ ...f, enrollment: null, enrollmentAtEnd: { ...ENROLLMENT, validFromMs } });
  table(t, 'ENROLLMENT_CHANGE', { enrollmentChange: { toleranceS: 60 } }, [
    ['open-ended', f, false],
    ['ends at the session end', endsAt(end), false],
    ['ends 59 s before the end', endsAt(end - 59_000), false],
    ['ends 60 s before the end (at)', endsAt(end - 60_000), false],
    ['ends 61 s before the end', endsAt(end - 61_000), true, { sessionStartMs: plugIn, sessionEndMs: end, enrollmentEndMs: end - 61_000, enrollmentStartMs: 0, endedS: 61, startedS: 0 }],
    ['starts 60 s after the plug-in (at)', startsAt(plugIn + 60_000), false],
    ['starts 61 s after the plug-in', startsAt(plugIn + 61_000), true, { sessionStartMs: plugIn, sessionEndMs: end, enrollmentEndMs: 0, enrollmentStartMs: plugIn + 61_000, endedS: 0, startedS: 61 }],
  ]);
  // A renewal into another program mid-session: both edges.
  const mid = START + 10 * MIN;
  const renewed = { ...f, enrollment: { ...ENROLLMENT, validToMs: mid }, enrollmentAtEnd: { ...ENROLLMENT, programId: 'EV-FLAT', validFromMs: mid } };
  t.match(run('ENROLLMENT_CHANGE', renewed), { severity: 'hold', threshold: { toleranceS: 0 }, observed: { endedS: 1200, startedS: 620 }, detail: `PEV ${ENROLLMENT.pevId} program EV-TOU-OFFPEAK` });
  // The end summary ending later than the intervals extends the session.
  const late = { ...endsAt(end), end: { ...f.end!, endMs: end + 5 * MIN } };
  t.match(run('ENROLLMENT_CHANGE', late), { observed: { sessionEndMs: end + 5 * MIN, endedS: 300 } });
  t.equal(run('ENROLLMENT_CHANGE', { ...f, enrollment: null, enrollmentAtEnd: null }), null, 'never enrolled: NOT_ENROLLED alone');
  t.end();
});

void t.test('METER_MISMATCH: intervals from an EUMD other than the enrolled one', (t) => {
  const f = clean();
  table(t, 'METER_MISMATCH', {}, [
    ['the enrolled EUMD', f, false],
    ['another EUMD', { ...f, eumdIds: ['EUMD-0000000B'] }, true, { meters: 1, foreignMeters: 1 }],
    ['both', { ...f, eumdIds: ['EUMD-0000000A', 'EUMD-0000000B'] }, true, { meters: 2, foreignMeters: 1 }],
    ['no intervals, no meter', { ...f, eumdIds: [] }, false],
    ['not enrolled: nothing to compare with', { ...f, enrollment: null, eumdIds: ['EUMD-0000000B'] }, false],
  ]);
  t.match(run('METER_MISMATCH', { ...f, eumdIds: ['EUMD-0000000B'] }), { severity: 'hold', detail: 'enrolled EUMD EUMD-0000000A; intervals from EUMD-0000000B' });
  t.end();
});

void t.test('ESTIMATED: intervals marked estimated (bit 1) or outage (bit 8), at maxIntervals 1', (t) => {
  const f = clean();
  const one = edit(f, 5, { quality: 1, energyWh: 40 });
  const two = edit(one, 6, { quality: 8, energyWh: 70 });
  table(t, 'ESTIMATED', { estimated: { maxIntervals: 1 } }, [
    ['none', f, false],
    ['clock adjusted (bit 2) and register reset seen (bit 4) are not estimates', edit(edit(f, 5, { quality: 2 }), 6, { quality: 4 }), false],
    ['one estimated (at)', one, false],
    ['one estimated, one outage', two, true, { intervals: 2, estimated: 1, estimatedWh: 40, outage: 1, outageWh: 70 }],
    ['both bits on two intervals', edit(edit(f, 5, { quality: 9 }), 6, { quality: 3 }), true, { intervals: 2, estimated: 2, estimatedWh: 200, outage: 1, outageWh: 100 }],
  ]);
  t.match(run('ESTIMATED', one), { severity: 'warn', threshold: { maxIntervals: 0 }, observed: { intervals: 1, estimatedWh: 40 } }, 'default: any marked interval');
  t.end();
});

void t.test('GAP: dead-lettered intervals are missing, the tail included, never twice', (t) => {
  const f = clean({ n: 40 });
  const tail = { ...drop(f, 35, 36, 37, 38, 39), progress: { runningWh: 3000, intervals: 30 } };
  t.equal(run('GAP', tail), null, 'five tail intervals lost without a trace: nothing says they existed');
  t.same(run('GAP', { ...tail, deadIntervalSeqs: [35, 36, 37, 38, 39] })?.observed, { missing: 5, seen: 35, expected: 40, deadLetteredNegative: 0, deadLetteredClock: 0, registerGapWh: 0, interpolated: 5, interpolatedWh: 500 }, 'dead-lettered: five missing, their energy interpolated (100 Wh each, as the last interval)');
  t.same(measure({ ...drop(f, 10), deadIntervalSeqs: [10] }).missing, 1, 'a dead-lettered seq inside a skip is counted once');
  t.same(measure({ ...f, deadIntervalSeqs: [12] }).missing, 0, 'a refused copy of a stored seq is not missing');
  t.same(measure({ ...f, intervals: [], deadIntervalSeqs: [0, 1, 2, 3, 4], progress: null }).missing, 5, 'no interval stored: every dead-lettered one');
  t.end();
});
