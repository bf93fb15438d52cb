/**
 * Estimation for missing intervals, to the Wh: exact from the register where readings on both
 * sides exist; interpolated where none does (a meter without a register here), billed and marked
 * 'estimated' on the bill and in the export, holding the session above the configured share; none
 * by configuration. Plus the interpolation itself, table-driven.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportPeriod } from '../../reconcile/billing.js';
import { resolveConfig } from '../../reconcile/config.js';
import { between, flat } from '../../reconcile/estimate.js';
import { measure } from '../../reconcile/measures.js';
import { reconcilePeriod } from '../../reconcile/run.js';
import type { Period } from '../../reconcile/types.js';
import { tempStore } from '../helpers/services.js';
import { Fixture, sid } from './fixtures.js';
import { clean, drop } from './session.js';

const PERIOD: Period = { fromMs: Date.UTC(2026, 9, 1, 7), toMs: Date.UTC(2026, 10, 1, 7) };
const AS_OF = Date.UTC(2026, 10, 2);
const FLAT = { programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026' };

void t.test('between and flat: the interpolation, integers that add up', (t) => {
  const cases: [number, number, number, number[]][] = [
    [100, 100, 2, [100, 100]],
    [100, 201, 3, [125, 151, 176]],
    [100, 280, 2, [160, 220]],
    [0, 1, 1, [1]],
    [0, 1, 2, [0, 1]],
    [-5, 60, 2, [20, 40]],
    [7, 3, 4, [6, 5, 5, 4]],
    [100, 100, 0, []],
  ];
  for (const [a, b, k, want] of cases) {
    const got = between(a, b, k);
    t.same(got, want, `between(${a}, ${b}, ${k})`);
    t.equal(got.reduce((s, x) => s + x, 0), Math.floor((k * (Math.max(0, a) + Math.max(0, b)) + 1) / 2), `between(${a}, ${b}, ${k}): k(a+b)/2 rounded half up`);
  }
  t.same(flat(90, 3), [90, 90, 90]);
  t.same(flat(-3, 2), [0, 0]);
  t.end();
});

void t.test('measure: what the register covers, what is interpolated, where it goes', (t) => {
  const f = clean({ n: 10, wh: 100 });
  const inner = measure(drop(f, 4, 5));
  t.same([inner.eumdWh, inner.registerGapWh, inner.interpolated, inner.interpolatedWh], [1000, 200, 0, 0], 'an inner gap with a register: measured');
  const head = measure({ ...drop(f, 0, 1), intervals: drop(f, 0, 1).intervals });
  t.same([head.eumdWh, head.registerGapWh, head.interpolated, head.interpolatedWh], [800, 0, 2, 200], 'before the first interval: interpolated, flat');
  t.same(head.interpolatedPieces.map((p) => [p.startMs - f.intervals[0]!.startMs, p.endMs - p.startMs, p.wh]), [[0, 60_000, 100], [60_000, 60_000, 100]], 'in the slots before the first received');
  const noRegister = measure({ ...drop(f, 4, 5), intervals: drop(f, 4, 5).intervals.map((x) => ({ ...x, registerWh: 0 })) });
  t.same([noRegister.eumdWh, noRegister.registerGapWh, noRegister.interpolated, noRegister.interpolatedWh], [800, 0, 2, 200], 'no register: interpolated between');
  const reset = measure({ ...drop(f, 4, 5), intervals: drop(f, 4, 5).intervals.map((x) => (x.seq >= 6 ? { ...x, registerWh: x.registerWh - 4_000_000 } : x)) });
  t.same([reset.resets, reset.registerGapWh, reset.interpolated, reset.interpolatedWh], [1, 0, 2, 200], 'a reset across the gap: the register cannot say, interpolated');
  t.end();
});

void t.test('the register gives the exact answer; interpolation where it cannot; marked, held, or off by configuration', async (t) => {
  const store = await tempStore(t, { database: 'restimate' });
  const fx = new Fixture().enroll(FLAT);
  // Session 1: a register meter, 100..129 Wh, the 11th and 12th (110 + 111 Wh) lost.
  const ramp = Array.from({ length: 30 }, (_, i) => 100 + i);
  fx.session({ sessionId: sid(1), energies: ramp, drop: [10, 11] });
  // Session 2: a meter without a register; 50 Wh intervals, three lost between 50 and 111 Wh.
  const e2 = Array.from({ length: 30 }, () => 50);
  e2[11] = 60;
  e2[12] = 70;
  e2[13] = 80;
  e2[14] = 111;
  const zeros = Object.fromEntries(e2.map((_, i) => [i, 0]));
  fx.session({ sessionId: sid(2), energies: e2, drop: [11, 12, 13], registers: zeros, end: { energyWh: 1411 }, vehicleWh: 1411, startMs: Date.UTC(2026, 9, 6, 5) });
  await fx.write(store);
  const dir = t.testdirName;

  const r1 = await reconcilePeriod(store, PERIOD, {}, resolveConfig({}), { asOfMs: AS_OF });
  t.match(r1, { sessions: 2, billed: 1, held: 1, heldBy: { ESTIMATE_SHARE: 1 } }, 'default: the interpolated share (242 of 1,653 Wh) is above 0.05');
  const [row1] = await store.select<{ observed: string }>('SELECT observed_json AS observed FROM {db}.reconcile_flag(from_ms = {f:Int64}, to_ms = {t:Int64}) WHERE session_id = {s:String} AND code = \'GAP\'', { f: PERIOD.fromMs, t: PERIOD.toMs, s: sid(1) });
  t.same(JSON.parse(row1!.observed), { missing: 2, seen: 28, expected: 30, deadLetteredNegative: 0, deadLetteredClock: 0, registerGapWh: 221, interpolated: 0, interpolatedWh: 0 }, 'session 1: the register measured the 221 Wh of the gap');
  const [share] = await store.select<{ observed: string }>('SELECT observed_json AS observed FROM {db}.reconcile_flag(from_ms = {f:Int64}, to_ms = {t:Int64}) WHERE session_id = {s:String} AND code = \'ESTIMATE_SHARE\'', { f: PERIOD.fromMs, t: PERIOD.toMs, s: sid(2) });
  t.same(JSON.parse(share!.observed), { interpolatedWh: 242, interpolated: 3, registerGapWh: 0, sessionWh: 1653, share: 0.1464 }, 'session 2: 65 + 81 + 96 Wh interpolated');

  const out1 = join(dir, 'default.jsonl');
  await exportPeriod(store, PERIOD, {}, 'json', out1, { mode: 'all' });
  const recs1 = readFileSync(out1, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  // 3,435 Wh at 33.6 c/kWh = 115.416 -> 115 c: every Wh the register measured, none estimated.
  t.match(recs1, [{ session_id: sid(1), status: 'BILLED', record_energy_wh: 3435, session_energy_wh: 3435, record_amount_minor: 115, warn_codes: ['GAP'] }]);
  t.same(recs1[0]!['lines'], [{ kind: 'energy', period: 'flat', wh: 3435, price_micro_per_kwh: 33_600_000, amount_minor: 115 }], 'no estimated line: nothing was estimated');

  const allowed = resolveConfig({ rules: { estimateShare: { maxShare: 0.2 } } });
  const r2 = await reconcilePeriod(store, PERIOD, {}, allowed, { asOfMs: AS_OF });
  t.match(r2, { billed: 2, held: 0, billedWh: 3435 + 1653 }, 'maxShare 0.2: session 2 billed with its estimate');
  const out2 = join(dir, 'allowed.jsonl');
  await exportPeriod(store, PERIOD, {}, 'json', out2, { mode: 'all' });
  const rec2 = readFileSync(out2, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r['session_id'] === sid(2))!;
  // 1,411 Wh measured + 242 interpolated = 1,653 Wh at 33.6 c/kWh = 55.5408 -> 56 c.
  t.match(rec2, { status: 'BILLED', record_energy_wh: 1653, session_energy_wh: 1653, record_amount_minor: 56, warn_codes: ['GAP'] });
  t.same(rec2['lines'], [
    { kind: 'energy', period: 'flat', wh: 1653, price_micro_per_kwh: 33_600_000, amount_minor: 56 },
    { kind: 'estimated', period: 'flat', wh: 242, price_micro_per_kwh: 0, amount_minor: 0 },
  ], 'the bill marks the 242 Wh estimated within the energy line, at no amount');
  const csv = join(dir, 'allowed.csv');
  await exportPeriod(store, PERIOD, { pevId: '1HGCM82633A004352' }, 'csv', csv, { mode: 'all' });
  t.match(readFileSync(csv, 'utf8'), /,estimated,flat,242,0,0\n/, 'and so does the CSV');

  const none = resolveConfig({ rules: { estimateShare: { method: 'none' } } });
  // The records went out: a changed configuration re-prices them only when told to.
  const kept = await reconcilePeriod(store, PERIOD, {}, none, { asOfMs: AS_OF });
  t.match(kept, { billedWh: 3435 + 1653, reprice: { kept: 1, repriced: 0, sessions: [sid(2)] } }, 'method none: the exported record keeps the configuration it went out under');
  const r3 = await reconcilePeriod(store, PERIOD, {}, none, { asOfMs: AS_OF, reprice: true });
  t.match(r3, { billed: 2, held: 0, billedWh: 3435 + 1411, flags: { ESTIMATE_SHARE: { sessions: 0 } }, reprice: { repriced: 1 } }, 'method none, re-priced: the measured energy only, nothing held for an estimate');
});
