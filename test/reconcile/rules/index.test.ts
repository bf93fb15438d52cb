/**
 * Every rule, table-driven at its thresholds: just below, at (passes: a flag needs observed >
 * threshold), just above. Thresholds are set explicitly where the default is 0, so "below" exists.
 */
import t, { type Test } from 'tap';
import { resolveConfig, type ReconcileConfigInput } from '../../../reconcile/config.js';
import { measure } from '../../../reconcile/measures.js';
import { RULES, evaluateRules, isHeld, type RuleContext } from '../../../reconcile/rules/index.js';
import type { Flag, FlagCode, SessionFacts } from '../../../reconcile/types.js';
import { clean, drop, edit, START } from '../session.js';

const defaults = resolveConfig({});
const PERIOD = { fromMs: Date.UTC(2026, 9, 1, 7), toMs: Date.UTC(2026, 10, 1, 7) };
const ASOF = Date.UTC(2026, 10, 2);

function ctx(over: Partial<RuleContext> = {}): RuleContext {
  return { asOfMs: ASOF, period: PERIOD, program: defaults.programs['EV-TOU-OFFPEAK']!, tariffId: 'EV-TOU-2026', touWh: { off_peak: 0, peak: 0, super_off_peak: 0 }, ...over };
}

/** The flag a rule raises on `f` under config `rules` (null: none). */
function run(code: FlagCode, f: SessionFacts, rules: ReconcileConfigInput['rules'] = {}, c: Partial<RuleContext> = {}): Flag | null {
  const cfg = resolveConfig({ rules });
  const rule = RULES.find((r) => r.code === code);
  if (rule === undefined) throw new Error(`no rule ${code}`);
  return rule.run(f, measure(f), cfg.rules, ctx(c));
}

type Case = [name: string, f: SessionFacts, raised: boolean, observed?: Record<string, number>];

function table(t: Test, code: FlagCode, rules: ReconcileConfigInput['rules'], cases: Case[], c: Partial<RuleContext> = {}): void {
  for (const [name, f, raised, observed] of cases) {
    const fl = run(code, f, rules, c);
    t.equal(fl !== null, raised, `${code} ${name}: ${raised ? 'raised' : 'not raised'}`);
    if (fl !== null) t.equal(fl.code, code);
    if (observed !== undefined && fl !== null) t.match(fl.observed, observed, `${code} ${name}: observed`);
  }
}

void t.test('a clean session raises nothing and is not held', (t) => {
  const f = clean();
  t.same(evaluateRules(f, measure(f), defaults.rules, ctx()), []);
  t.equal(isHeld([]), false);
  t.end();
});

void t.test('GAP at maxMissing 2', (t) => {
  const f = clean({ n: 40 });
  table(t, 'GAP', { gap: { maxMissing: 2 } }, [
    ['1 missing', drop(f, 10), false],
    ['2 missing (at)', drop(f, 10, 20), false],
    ['3 missing', drop(f, 10, 20, 30), true, { missing: 3, seen: 37, expected: 40 }],
    ['tail after the last Progress count', { ...f, progress: { runningWh: 0, intervals: 43 } }, true, { missing: 3 }],
  ]);
  t.same(run('GAP', drop(f, 5))?.threshold, { maxMissing: 0 }, 'default: any missing interval');
  t.equal(run('GAP', drop(f, 5))?.severity, 'warn');
  t.end();
});

void t.test('QUALITY_GATE at 10% of 20 intervals', (t) => {
  const f = clean({ n: 20 });
  table(t, 'QUALITY_GATE', {}, [
    ['1 of 20 missing (5%)', drop(f, 3), false],
    ['2 of 20 missing (10%, at)', drop(f, 3, 4), false],
    ['3 of 20 missing (15%)', drop(f, 3, 4, 5), true, { missingShare: 0.15, missing: 3, expected: 20 }],
  ]);
  t.equal(run('QUALITY_GATE', drop(f, 1, 2, 3))?.severity, 'hold');
  t.end();
});

void t.test('DUPLICATE_CONFLICT at maxConflicts 1', (t) => {
  const f = clean({ n: 10 });
  const one = edit(f, 2, { copies: 2, conflictDeltaWh: 3 });
  table(t, 'DUPLICATE_CONFLICT', { duplicateConflict: { maxConflicts: 1 } }, [
    ['no conflict', f, false],
    ['1 conflict (at)', one, false],
    ['2 conflicts', edit(one, 5, { copies: 3, conflictDeltaWh: 9 }), true, { conflicts: 2, maxDeltaWh: 9 }],
  ]);
  t.equal(run('DUPLICATE_CONFLICT', one)?.severity, 'hold', 'default: any conflict holds');
  t.end();
});

void t.test('SUM_CHECK: absolute tolerance, then relative', (t) => {
  const f = clean({ n: 30, wh: 100 });
  // Raising the last register by d makes the register delta over contiguous runs d above the intervals.
  const off = (d: number, base = f): SessionFacts => edit(base, base.intervals.length - 1, { registerWh: base.intervals[base.intervals.length - 1]!.registerWh + d });
  table(t, 'SUM_CHECK', { sumCheck: { toleranceWh: 2, toleranceShare: 0 } }, [
    ['1 Wh', off(1), false],
    ['2 Wh (at)', off(2), false],
    ['3 Wh', off(3), true, { registerWh: 2903, intervalWh: 2900, diffWh: 3 }],
  ]);
  const big = clean({ n: 30, wh: 1000 }); // runs: 29000 Wh, 0.1% = 29 Wh
  table(t, 'SUM_CHECK', { sumCheck: { toleranceWh: 0, toleranceShare: 0.001 } }, [
    ['28 Wh', off(28, big), false],
    ['29 Wh (at)', off(29, big), false],
    ['30 Wh', off(30, big), true, { diffWh: 30 }],
  ]);
  const noRegister = clean({ n: 5 });
  for (const x of noRegister.intervals) x.registerWh = 0;
  t.equal(run('SUM_CHECK', noRegister), null, 'no register: nothing to check');
  t.end();
});

void t.test('REGISTER_RESET at maxResets 1', (t) => {
  const reset = (at: number[]): SessionFacts => {
    const f = clean({ n: 12, wh: 100 });
    let reg = 0;
    f.intervals.forEach((x, k) => {
      if (at.includes(k)) reg = 0;
      reg += 100;
      if (k >= (at[0] ?? 99)) x.registerWh = reg;
    });
    return f;
  };
  table(t, 'REGISTER_RESET', { registerReset: { maxResets: 1 } }, [
    ['no reset', reset([]), false],
    ['1 reset (at)', reset([4]), false],
    ['2 resets', reset([4, 8]), true, { resets: 2, eumdWh: 1200 }],
  ]);
  t.match(run('REGISTER_RESET', reset([6])), { severity: 'warn', observed: { resets: 1, eumdWh: 1200 } }, 'default: warn, energy kept by segments');
  t.end();
});

void t.test('NEGATIVE: stored or dead-lettered, at maxNegative 1', (t) => {
  const f = clean({ n: 10 });
  const one = edit(f, 3, { energyWh: -5 });
  table(t, 'NEGATIVE', { negative: { maxNegative: 1 } }, [
    ['none', f, false],
    ['1 stored (at)', one, false],
    ['1 stored, 1 dead-lettered', { ...one, deadLetters: { negative: 1, clock: 0, other: 0 } }, true, { stored: 1, deadLettered: 1, minEnergyWh: -5 }],
  ]);
  t.match(run('NEGATIVE', { ...f, deadLetters: { negative: 1, clock: 0, other: 0 } }), { severity: 'hold', observed: { stored: 0, deadLettered: 1 } });
  t.end();
});

void t.test('SPIKE: 7200 W over 60 s is 120 Wh; +10% and 1 Wh slack allow 133', (t) => {
  const f = clean({ n: 10, wh: 100 });
  table(t, 'SPIKE', {}, [
    ['132 Wh', edit(f, 4, { energyWh: 132 }), false],
    ['133 Wh (at)', edit(f, 4, { energyWh: 133 }), false],
    ['134 Wh', edit(f, 4, { energyWh: 134 }), true, { spikes: 1, maxIntervalWh: 134, allowedWh: 133 }],
  ]);
  const noLimit = { ...edit(f, 4, { energyWh: 354 }), grant: null, enrollment: null };
  t.match(run('SPIKE', noLimit), { threshold: { limitW: 19_200 }, observed: { allowedWh: 353 } }, 'no grant, no enrollment: 19.2 kW');
  t.equal(run('SPIKE', { ...edit(f, 4, { energyWh: 353 }), grant: null, enrollment: null }), null);
  const grantAbove = { ...edit(f, 4, { energyWh: 200 }), grant: { ...f.grant!, rateW: 11_040 } };
  t.equal(run('SPIKE', grantAbove), null, 'the larger of grant rate and rated power: 11040 W allows 203 Wh');
  t.end();
});

void t.test('CLOCK: future, before start, overlap, jump, length, dead letters', (t) => {
  const f = clean({ n: 10 });
  const lastEnd = START + 10 * 60_000;
  // The as-of time is set so the last interval ends at asOf + d seconds.
  const future = (d: number): Partial<RuleContext> => ({ asOfMs: lastEnd - d * 1000 });
  for (const [name, d, raised] of [['299 s ahead', 299, false], ['300 s ahead (at)', 300, false], ['301 s ahead', 301, true]] as const) {
    t.equal(run('CLOCK', f, {}, future(d)) !== null, raised, `future ${name}`);
  }
  t.match(run('CLOCK', f, {}, future(301))?.observed, { future: 1 });
  // Interval 0 ends 60 s after its start; plug-in placed so it ends s seconds before the plug-in.
  const plug = (s: number): SessionFacts => ({ ...f, start: { plugInMs: START + 60_000 + s * 1000, binding: 'BOUND' } });
  table(t, 'CLOCK', {}, [
    ['ends 59 s before the plug-in', plug(59), false],
    ['ends 60 s before (at)', plug(60), false],
    ['ends 61 s before', plug(61), true, { beforeStartS: 61 }],
  ]);
  const shifted = (s: number): SessionFacts => edit(f, 5, { startMs: START + 5 * 60_000 - s * 1000 });
  table(t, 'CLOCK', { clock: { jumpToleranceS: 5 } }, [
    ['4 s overlap', shifted(4), false],
    ['5 s overlap (at)', shifted(5), false],
    ['6 s overlap', shifted(6), true, { overlaps: 1, maxOverlapS: 6, timeJumps: 1, maxJumpS: 6 }],
    ['6 s late: a jump, then an overlap', shifted(-6), true, { timeJumps: 1, maxJumpS: 6 }],
  ]);
  t.equal(run('CLOCK', shifted(1)) !== null, true, 'default tolerance 0: one second is a disagreement');
  t.match(run('CLOCK', edit(f, 9, { lenS: 30 }))?.observed, { wrongLength: 1 });
  t.match(run('CLOCK', { ...f, deadLetters: { negative: 0, clock: 1, other: 0 } })?.observed, { deadLettered: 1 });
  t.equal(run('CLOCK', f), null);
  t.end();
});

void t.test('VEHICLE_MISMATCH: the larger of 5% and 50 Wh', (t) => {
  const f = clean({ n: 100, wh: 100 }); // 10000 Wh: 5% = 500 Wh
  const v = (wh: number, base = f): SessionFacts => ({ ...base, vehicle: { reports: 2, runningWh: wh, lastReportMs: 0 } });
  table(t, 'VEHICLE_MISMATCH', {}, [
    ['+499 Wh', v(10_499), false],
    ['+500 Wh (at)', v(10_500), false],
    ['+501 Wh', v(10_501), true, { vehicleWh: 10_501, eumdWh: 10_000, diffWh: 501, diffShare: 0.0501 }],
    ['-500 Wh (at)', v(9_500), false],
    ['-501 Wh', v(9_499), true, { diffWh: -501 }],
  ]);
  const small = clean({ n: 6, wh: 100 }); // 600 Wh: 5% = 30 Wh < 50 Wh
  table(t, 'VEHICLE_MISMATCH', {}, [
    ['+49 Wh', v(649, small), false],
    ['+50 Wh (at)', v(650, small), false],
    ['+51 Wh', v(651, small), true, { diffWh: 51 }],
  ]);
  t.match(run('VEHICLE_MISMATCH', v(651, small))?.threshold, { toleranceWh: 50, toleranceShare: 0.05, allowedWh: 50 });
  t.equal(run('VEHICLE_MISMATCH', { ...f, vehicle: null }), null, 'no vehicle data is VEHICLE_MISSING, not a mismatch');
  t.end();
});

void t.test('VEHICLE_MISSING', (t) => {
  const f = clean();
  table(t, 'VEHICLE_MISSING', {}, [
    ['reports present', f, false],
    ['no report', { ...f, vehicle: null }, true, { eumdWh: 3000 }],
    ['no report, no energy', { ...f, vehicle: null, intervals: f.intervals.map((x) => ({ ...x, energyWh: 0, registerWh: 7 })) }, false],
  ]);
  t.end();
});

void t.test('ESCI_MISMATCH: energy the larger of 1% and 10 Wh; end and duration within 300 s', (t) => {
  const f = clean({ n: 100, wh: 100 }); // 10000 Wh: 1% = 100 Wh
  const e = (patch: Partial<NonNullable<SessionFacts['end']>>): SessionFacts => ({ ...f, end: { ...f.end!, ...patch } });
  table(t, 'ESCI_MISMATCH', {}, [
    ['+99 Wh', e({ energyWh: 10_099 }), false],
    ['+100 Wh (at)', e({ energyWh: 10_100 }), false],
    ['+101 Wh', e({ energyWh: 10_101 }), true, { diffWh: 101 }],
    ['-101 Wh', e({ energyWh: 9_899 }), true, { diffWh: -101 }],
  ]);
  const late = (s: number): SessionFacts => e({ endMs: f.end!.endMs + s * 1000, durationS: f.end!.durationS + s });
  table(t, 'ESCI_MISMATCH', {}, [
    ['end and duration +299 s', late(299), false],
    ['+300 s (at)', late(300), false],
    ['+301 s', late(301), true, { endAfterLastIntervalS: 301, summaryDurationS: 6301, intervalSpanS: 6000 }],
  ]);
  t.equal(run('ESCI_MISMATCH', e({ durationS: f.end!.durationS + 301 })) !== null, true, 'duration disagreeing with its own start and end');
  t.equal(run('ESCI_MISMATCH', e({ endMs: f.end!.endMs - 60_000 - 301_000 })) !== null, true, 'end before the last interval began');
  t.equal(run('ESCI_MISMATCH', { ...f, end: null }), null, 'no summary is UNFINISHED, not a mismatch');
  t.end();
});

void t.test('UNFINISHED', (t) => {
  const f = clean();
  table(t, 'UNFINISHED', {}, [
    ['end summary present', f, false],
    ['no end summary', { ...f, end: null }, true, { eumdWh: 3000, seen: 30 }],
  ]);
  t.equal(run('UNFINISHED', { ...f, end: null })?.severity, 'warn');
  t.end();
});

void t.test('NOT_ENROLLED and PREMISE_MISMATCH', (t) => {
  const f = clean();
  table(t, 'NOT_ENROLLED', {}, [
    ['enrolled', f, false],
    ['no enrollment', { ...f, enrollment: null }, true, { enrolled: 0 }],
    ['binding says NOT_ENROLLED', { ...f, start: { plugInMs: START, binding: 'NOT_ENROLLED' } }, true, { enrolled: 1, bindingNotEnrolled: 1 }],
  ]);
  table(t, 'PREMISE_MISMATCH', {}, [
    ["the ESCI's premise", f, false],
    ['another premise', { ...f, premiseIds: ['P000000002'] }, true, { reportedPremises: 1, foreignPremises: 1 }],
    ['two premises', { ...f, premiseIds: ['P000000001', 'P000000002'] }, true, { reportedPremises: 2, foreignPremises: 1 }],
    ['ESCI unknown, one premise', { ...f, esciPremiseId: null }, false],
  ]);
  t.match(run('PREMISE_MISMATCH', { ...f, premiseIds: ['P000000002'] })?.detail, /ESCI-0000000A belongs to P000000001; records name P000000002/);
  t.end();
});

void t.test('EXCEEDS_GRANT: the larger of 1% and 0 Wh over the grant', (t) => {
  const f = clean({ n: 100, wh: 100 });
  const g = (grantedWh: number): SessionFacts => ({ ...f, grant: { ...f.grant!, grantedWh } });
  // 10000 Wh delivered; allowed over = 1% of the grant.
  table(t, 'EXCEEDS_GRANT', {}, [
    ['grant 10000', g(10_000), false],
    ['grant 9901: 99 over, 99.01 allowed', g(9_901), false],
    ['grant 9900: 100 over, 99 allowed', g(9_900), true, { overWh: 100, grantedWh: 9_900 }],
  ]);
  table(t, 'EXCEEDS_GRANT', { exceedsGrant: { toleranceShare: 0, toleranceWh: 5 } }, [
    ['4 over', g(9_996), false],
    ['5 over (at)', g(9_995), false],
    ['6 over', g(9_994), true, { overWh: 6 }],
  ]);
  t.equal(run('EXCEEDS_GRANT', { ...f, grant: null }), null, 'no grant: nothing to exceed');
  t.end();
});

void t.test('OFF_SCHEDULE: energy in restricted periods above toleranceWh', (t) => {
  const f = clean();
  const tou = (peak: number): Partial<RuleContext> => ({ touWh: { off_peak: 3000, peak, super_off_peak: 0 } });
  for (const [name, peak, raised] of [['4 Wh', 4, false], ['5 Wh (at)', 5, false], ['6 Wh', 6, true]] as const) {
    t.equal(run('OFF_SCHEDULE', f, { offSchedule: { toleranceWh: 5 } }, tou(peak)) !== null, raised, `OFF_SCHEDULE ${name}`);
  }
  t.match(run('OFF_SCHEDULE', f, {}, tou(1)), { severity: 'warn', observed: { restrictedWh: 1 }, threshold: { toleranceWh: 0 } });
  t.equal(run('OFF_SCHEDULE', f, {}, { ...tou(500), program: defaults.programs['EV-FLAT']! }), null, 'EV-FLAT restricts nothing');
  t.equal(run('OFF_SCHEDULE', f, {}, { touWh: null }), null);
  t.end();
});

void t.test('UNPRICED: enrolled, but no tariff to price with', (t) => {
  const f = clean();
  t.equal(run('UNPRICED', f), null);
  t.match(run('UNPRICED', f, {}, { tariffId: null }), { severity: 'hold', detail: 'program EV-TOU-OFFPEAK, tariff EV-TOU-2026' });
  t.equal(run('UNPRICED', { ...f, enrollment: null }, {}, { tariffId: null }), null, 'not enrolled is NOT_ENROLLED');
  t.end();
});

void t.test('severity is configurable per rule; held means at least one hold', (t) => {
  const f = drop(clean({ n: 20 }), 1, 2, 3);
  const cfg = resolveConfig({ rules: { qualityGate: { severity: 'warn' } } });
  const flags = evaluateRules(f, measure(f), cfg.rules, ctx());
  t.same(flags.map((x) => [x.code, x.severity]), [['GAP', 'warn'], ['QUALITY_GATE', 'warn']]);
  t.equal(isHeld(flags), false);
  const held = evaluateRules(f, measure(f), defaults.rules, ctx());
  t.equal(isHeld(held), true);
  t.end();
});
