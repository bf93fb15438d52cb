import t from 'tap';
import { FactsReader, dedupIntervals, sessionRanges, type IntervalCopy } from '../../reconcile/facts.js';
import { resolveConfig } from '../../reconcile/config.js';
import { reconcilePeriod } from '../../reconcile/run.js';
import type { Period, PeriodFilter, SessionFacts } from '../../reconcile/types.js';
import type { Store } from '../../aggregate/store/types.js';
import { tempStore } from '../helpers/services.js';
import { DEFAULT_IDS, Fixture, T0, intervalPayload, sid } from './fixtures.js';
import { measure } from '../../reconcile/measures.js';

const PERIOD: Period = { fromMs: Date.UTC(2026, 9, 1, 7), toMs: Date.UTC(2026, 10, 1, 7) };
const ASOF = Date.UTC(2026, 10, 2);
const e = (n: number, wh = 100): number[] => Array.from({ length: n }, () => wh);

async function readAll(store: Store, filters: PeriodFilter = {}, period = PERIOD): Promise<Map<string, SessionFacts>> {
  const reader = new FactsReader(store, { period, filters, asOfMs: ASOF, maxSpanDays: 7, batchSessions: 1000 });
  await reader.open();
  const out = new Map<string, SessionFacts>();
  for await (const b of reader.read()) await b.each((s) => out.set(s.sessionId, s));
  return out;
}

void t.test('dedupIntervals: first received counts, resends are one, other contents are conflicts', (t) => {
  const c = (seq: number, offset: number, energyWh: number, hash: string, partition = 0): IntervalCopy => ({
    seq, startMs: seq * 60_000, lenS: 60, energyWh, registerWh: 1000 + seq, quality: 0, partition, offset, hash,
  });
  const out = dedupIntervals([c(1, 9, 50, 'b'), c(0, 5, 40, 'a'), c(1, 3, 60, 'c'), c(1, 12, 60, 'c'), c(2, 7, 70, 'd'), c(2, 8, 70, 'd')]);
  t.same(out.map((x) => [x.seq, x.energyWh, x.copies, x.conflictDeltaWh]), [
    [0, 40, 1, 0],
    [1, 60, 2, 10],
    [2, 70, 1, 0],
  ]);
  const byPartition = dedupIntervals([c(0, 1, 10, 'x', 2), c(0, 99, 11, 'y', 1)]);
  t.same(byPartition.map((x) => x.energyWh), [11], 'the smaller partition first, as in the read views');
  t.end();
});

void t.test('sessionRanges cover every ID once, in order', (t) => {
  t.same(sessionRanges(1), [{ lo: '', hi: '\u007f' }]);
  t.same(sessionRanges(4), [
    { lo: '', hi: 'S-40' },
    { lo: 'S-40', hi: 'S-80' },
    { lo: 'S-80', hi: 'S-c0' },
    { lo: 'S-c0', hi: '\u007f' },
  ]);
  t.equal(sessionRanges(1000).length, 256, 'at most 256 ranges');
  const r = sessionRanges(3);
  for (let k = 1; k < r.length; k++) t.equal(r[k]!.lo, r[k - 1]!.hi);
  t.end();
});

void t.test('facts from the store', async (t) => {
  const store = await tempStore(t, { database: 'rfacts' });
  const fx = new Fixture()
    .enroll()
    .enroll({ pevId: '2HGCM82633A004352', premiseId: 'P000000002', accountId: 'A000000002', esciId: 'ESCI-0000000B', eumdId: 'EUMD-0000000B', programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026' })
    // An enrollment that ended before the sessions: the PEV is not enrolled there any more.
    .enroll({ pevId: '3HGCM82633A004352', premiseId: 'P000000003', accountId: 'A000000003', esciId: 'ESCI-0000000C', eumdId: 'EUMD-0000000C', validToMs: Date.UTC(2026, 8, 1) });
  fx.session({ sessionId: sid(1), energies: e(10), copies: [{ index: 3, energyWh: 100 }, { index: 4, energyWh: 90 }] });
  fx.session({ sessionId: sid(2), energies: e(10), pevId: '2HGCM82633A004352', premiseId: 'P000000002', esciId: 'ESCI-0000000B', eumdId: 'EUMD-0000000B' });
  // Wrong premise: the ESCI of premise 1 reports premise 2.
  fx.session({ sessionId: sid(3), energies: e(10), premiseId: 'P000000002' });
  fx.session({ sessionId: sid(4), energies: e(10), pevId: '3HGCM82633A004352', premiseId: 'P000000003', esciId: 'ESCI-0000000C', eumdId: 'EUMD-0000000C' });
  // Entirely before the period, and one across its start.
  fx.session({ sessionId: sid(5), energies: e(10), startMs: PERIOD.fromMs - 3 * 3_600_000 });
  fx.session({ sessionId: sid(6), energies: e(10), startMs: PERIOD.fromMs - 5 * 60_000, plugInMs: PERIOD.fromMs - 6 * 60_000 });
  // Two intervals dead-lettered: one negative, one in the future.
  fx.session({ sessionId: sid(7), energies: e(12), drop: [4, 7] });
  fx.deadLetter(sid(7), 'PEV_NEGATIVE_ENERGY').deadLetter(sid(7), 'PEV_FUTURE_TIME').deadLetter(sid(7), 'PEV_TRUNCATED');
  // No END, no vehicle, no grant.
  fx.session({ sessionId: sid(8), energies: e(5), end: null, vehicleWh: null, grantedWh: null, progress: { runningWh: 300, intervals: 3 } });
  await fx.write(store);

  const all = await readAll(store);
  t.same([...all.keys()].sort(), [sid(1), sid(2), sid(3), sid(4), sid(6), sid(7), sid(8)], 'sessions touching the period');

  const s1 = all.get(sid(1))!;
  t.equal(s1.intervals.length, 10);
  t.same(s1.intervals.filter((x) => x.copies > 1).map((x) => [x.seq, x.energyWh, x.conflictDeltaWh]), [[4, 100, 10]], 'a resend is not a conflict; another value is');
  t.match(s1, {
    esciId: 'ESCI-0000000A', eumdId: 'EUMD-0000000A', pevId: DEFAULT_IDS.pevId, premiseIds: ['P000000001'], esciPremiseId: 'P000000001',
    start: { plugInMs: T0 - 30_000, binding: 'BOUND' },
    request: { requestedWh: 2000, maxRateW: 7200 },
    grant: { grantedWh: 1500, rateW: 7200, delayReason: 'NONE' },
    end: { startMs: T0, endMs: T0 + 600_000 - 1000, durationS: 599, energyWh: 1000 },
    vehicle: { reports: 2, runningWh: 1000 },
    enrollment: { accountId: 'A000000001', programId: 'EV-TOU-OFFPEAK', tariffId: 'EV-TOU-2026', ratedPowerW: 7200 },
    deadLetters: { negative: 0, clock: 0, other: 0 },
  });
  t.match(all.get(sid(2))!.enrollment, { accountId: 'A000000002', programId: 'EV-FLAT' });
  const s3 = all.get(sid(3))!;
  t.match(s3, { premiseIds: ['P000000002'], esciPremiseId: 'P000000001', enrollment: { premiseId: 'P000000001' } }, "wrong premise: enrollment found at the ESCI's premise");
  t.equal(all.get(sid(4))!.enrollment, null, 'enrollment ended before the session');
  t.equal(all.get(sid(6))!.intervals.length, 10, 'a session across the period start is read whole');
  t.same(all.get(sid(7))!.deadLetters, { negative: 1, clock: 1, other: 1 });
  t.same(all.get(sid(7))!.intervals.map((x) => x.seq), [0, 1, 2, 3, 5, 6, 8, 9, 10, 11]);
  t.match(all.get(sid(8))!, { end: null, vehicle: null, grant: null, progress: { runningWh: 300, intervals: 3 } });

  t.same([...(await readAll(store, { accountId: 'A000000002' })).keys()], [sid(2)], 'account filter');
  t.same([...(await readAll(store, { programId: 'EV-FLAT' })).keys()], [sid(2)], 'program filter');
  t.same([...(await readAll(store, { premiseId: 'P000000002' })).keys()].sort(), [sid(2), sid(3)], 'premise filter: any record of the session');
  t.same([...(await readAll(store, { pevId: '3HGCM82633A004352' })).keys()], [sid(4)], 'PEV filter');
  t.same([...(await readAll(store, {}, { fromMs: PERIOD.fromMs - 86_400_000, toMs: PERIOD.fromMs })).keys()].sort(), [sid(5), sid(6)], 'the day before the period');
});

void t.test('validation facts: the meter, quality bits, dead-lettered seqs, the enrollment at the end', async (t) => {
  const store = await tempStore(t, { database: 'rfactsval' });
  const PEV4 = '4HGCM82633A004352';
  const ids4 = { pevId: PEV4, premiseId: 'P000000004', esciId: 'ESCI-0000000D', eumdId: 'EUMD-0000000D' };
  const fx = new Fixture()
    .enroll()
    // Enrolled until 5 minutes into sid(22), renewed then into another program.
    .enroll({ ...ids4, accountId: 'A000000004', validToMs: T0 + 5 * 60_000 })
    .enroll({ ...ids4, accountId: 'A000000004', programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026', validFromMs: T0 + 5 * 60_000 });
  fx.session({ sessionId: sid(20), energies: e(6), eumdId: 'EUMD-0000000Z', quality: { 2: 1, 3: 8 } });
  // The last two intervals refused: one read from Kafka (framed), one from a container file (bare).
  fx.session({ sessionId: sid(21), energies: e(12), drop: [10, 11], progress: { runningWh: 1000, intervals: 10 } });
  fx.deadLetter(sid(21), 'PEV_FUTURE_TIME', 1, intervalPayload(sid(21), 10, true));
  fx.deadLetter(sid(21), 'PEV_NEGATIVE_ENERGY', 1, intervalPayload(sid(21), 11, false));
  // Not counted: another session's record, a seq out of range, and a payload that is no record.
  fx.deadLetter(sid(21), 'PEV_NEGATIVE_ENERGY', 1, intervalPayload(sid(99), 12, true));
  fx.deadLetter(sid(21), 'PEV_SEQ_RANGE', 1, intervalPayload(sid(21), 10_000_001, true));
  fx.deadLetter(sid(21), 'PEV_TRUNCATED', 1, new Uint8Array([0, 0, 0]));
  fx.session({ sessionId: sid(22), energies: e(10), ...ids4 });
  await fx.write(store);

  const all = await readAll(store);
  const s20 = all.get(sid(20))!;
  t.same(s20.eumdIds, ['EUMD-0000000Z'], 'the EUMD the intervals name');
  t.same(s20.intervals.map((x) => x.quality), [0, 0, 1, 8, 0, 0], 'quality bits by seq');
  const s21 = all.get(sid(21))!;
  t.same(s21.deadIntervalSeqs, [10, 11], 'dead-lettered seqs read from framed and bare payloads');
  t.same(s21.deadLetters, { negative: 2, clock: 1, other: 2 });
  t.equal(measure(s21).missing, 2, 'the refused tail is missing');
  t.same(all.get(sid(1)) ?? null, null);
  const s22 = all.get(sid(22))!;
  t.match(s22.enrollment, { programId: 'EV-TOU-OFFPEAK', validToMs: T0 + 5 * 60_000 });
  t.match(s22.enrollmentAtEnd, { programId: 'EV-FLAT', validFromMs: T0 + 5 * 60_000 });
  t.equal(all.get(sid(20))!.enrollmentAtEnd?.validFromMs, Date.UTC(2025, 0, 1), 'an open enrollment is the same at both ends');
});

void t.test('injection strings in every filter are data: no rows, no error, tables intact', async (t) => {
  const store = await tempStore(t, { database: 'rinject' });
  const fx = new Fixture().enroll();
  for (let k = 1; k <= 5; k++) fx.session({ sessionId: sid(k), energies: e(10) });
  await fx.write(store);
  const cfg = resolveConfig({});
  const counts = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const table of ['interval_raw', 'session_event_raw', 'vehicle_report_raw', 'enrollment', 'dead_letter']) {
      const r = await store.select<{ n: string }>(`SELECT count() AS n FROM {db}.${table}`);
      out[table] = Number(r[0]!.n);
    }
    return out;
  };
  const before = await counts();
  t.same(before, { interval_raw: 50, session_event_raw: 20, vehicle_report_raw: 10, enrollment: 1, dead_letter: 0 });
  const base = await reconcilePeriod(store, PERIOD, {}, cfg, { asOfMs: ASOF });
  t.equal(base.sessions, 5);
  const strings = [
    "' OR 1=1 --",
    "\\'; DROP TABLE rinject.interval_raw; --",
    '{x:String}',
    "{premise:String}') OR ('1'='1",
    "A000000001' OR account_id != '",
    '%',
    "P000000001\\' OR \\'1\\'=\\'1",
    'P000000001\u0000',
  ];
  for (const key of ['accountId', 'premiseId', 'pevId', 'programId'] as const) {
    for (const s of strings) {
      const r = await reconcilePeriod(store, PERIOD, { [key]: s }, cfg, { asOfMs: ASOF });
      t.equal(r.sessions, 0, `${key} = ${JSON.stringify(s)}: no session`);
    }
  }
  t.same(await counts(), before, 'raw tables intact');
  const records = await store.select<{ n: string }>('SELECT count() AS n FROM {db}.billing_record');
  t.equal(Number(records[0]!.n), 5, 'billing records intact');
});
