/**
 * Tariff versions and holidays, and what a configuration change may do to exported records.
 * A rate change on 2026-10-15 (local midnight, Los Angeles): unexported sessions after it are
 * priced by the new version, a session across it is split there exactly (largest remainder, the
 * earlier part first on a tie), an exported session keeps the configuration it went out under
 * (even when new data re-bills it) unless the run re-prices, and the run summary says so. A
 * holiday observed on the Friday before a Saturday is priced as the tariff says.
 */
import t from 'tap';
import { escapeTsv } from '../../aggregate/store/tsv.js';
import type { Store } from '../../aggregate/store/types.js';
import { exportPeriod } from '../../reconcile/billing.js';
import { configHash, resolveConfig, type ReconcileConfigInput } from '../../reconcile/config.js';
import { reconcilePeriod } from '../../reconcile/run.js';
import { TouCalendar, priceSplit, splitPieces } from '../../reconcile/tou.js';
import { localToUtc } from '../../schemas/calendar.js';
import { tempStore } from '../helpers/services.js';
import { Fixture, sid } from './fixtures.js';

const LA = 'America/Los_Angeles';
const la = (y: number, m: number, d: number, hh: number, mm = 0, ss = 0): number => localToUtc(LA, y, m, d, hh * 60 + mm) + ss * 1000;
const e = (n: number, wh = 100): number[] => Array.from({ length: n }, () => wh);
const ASOF = Date.UTC(2026, 11, 1);

const BASE = {
  timeZone: LA,
  currency: 'USD',
  defaultPeriod: 'off_peak',
  windows: [
    { period: 'peak', from: '16:00', to: '21:00' },
    { period: 'super_off_peak', from: '00:00', to: '06:00' },
  ],
  prices: { peak: '48.5', off_peak: '31.2', super_off_peak: '24.75' },
};
const PROGRAMS = {
  'EV-TOU-OFFPEAK': { tariff: 'EV-TOU-2026', restrictedPeriods: ['peak'], incentive: { creditPerKwh: '5', periods: ['off_peak', 'super_off_peak'], withheldOn: ['OFF_SCHEDULE'] } },
};
const CONFIG_A: ReconcileConfigInput = { tariffs: { 'EV-TOU-2026': BASE }, programs: PROGRAMS };
const CONFIG_B: ReconcileConfigInput = {
  tariffs: {
    'EV-TOU-2026': {
      ...BASE,
      // Saturday 2026-10-10, observed on Friday the 9th too; the whole day is super off-peak.
      holidays: { dates: ['2026-10-10'], observe: 'nearest-weekday', period: 'super_off_peak' },
      versions: [{ effectiveFrom: '2026-10-15', prices: { off_peak: '40', peak: '60' } }],
    },
  },
  programs: PROGRAMS,
};

void t.test('calendar: versions start at local midnight, DST days of both kinds; holidays by the observed rule', (t) => {
  const cfg = resolveConfig({
    tariffs: { T: { ...BASE, holidays: { dates: ['2026-07-04', '2026-07-05'], observe: 'nearest-weekday' }, versions: [{ effectiveFrom: '2026-03-08', prices: { peak: '50' } }, { effectiveFrom: '2026-11-01', prices: { peak: '52' } }] } },
    programs: { P: { tariff: 'T' } },
  });
  const cal = new TouCalendar('T', cfg.tariffs['T']!, Date.UTC(2026, 2, 1), Date.UTC(2026, 11, 31));
  // Spring forward: the version starts at 00:00 PST (08:00Z); its 00:00-06:00 window is 5 hours.
  t.equal(cal.periodAt(Date.UTC(2026, 2, 8, 7, 59, 59)), 'off_peak', '23:59:59 PST the day before: the first version');
  t.equal(cal.periodAt(Date.UTC(2026, 2, 8, 8)), 'super_off_peak@2026-03-08');
  t.equal(cal.periodAt(Date.UTC(2026, 2, 8, 12, 59, 59)), 'super_off_peak@2026-03-08', '05:59:59 PDT');
  t.equal(cal.periodAt(Date.UTC(2026, 2, 8, 13)), 'off_peak@2026-03-08', '06:00 PDT is 5 hours after midnight');
  // Fall back: the next version starts at 00:00 PDT (07:00Z); 00:00-06:00 is 7 hours.
  t.equal(cal.periodAt(Date.UTC(2026, 10, 1, 6, 59, 59)), 'off_peak@2026-03-08');
  t.equal(cal.periodAt(Date.UTC(2026, 10, 1, 7)), 'super_off_peak@2026-11-01');
  t.equal(cal.periodAt(Date.UTC(2026, 10, 1, 13, 59, 59)), 'super_off_peak@2026-11-01', '05:59:59 PST');
  t.equal(cal.periodAt(Date.UTC(2026, 10, 1, 14)), 'off_peak@2026-11-01');
  t.same(cal.priceMicro[cal.periods.indexOf('peak@2026-11-01')], 52_000_000);
  t.same(cal.priceMicro[cal.periods.indexOf('off_peak@2026-11-01')], 31_200_000, 'prices not given are inherited');
  // July 4 2026 is a Saturday: Friday the 3rd is observed; July 5 a Sunday: Monday the 6th.
  for (const [d, what] of [[3, 'observed Friday'], [4, 'Saturday'], [5, 'Sunday'], [6, 'observed Monday']] as const) {
    t.equal(cal.periodAt(la(2026, 7, d, 17)), 'off_peak@2026-03-08', `July ${d}, ${what}: no peak`);
  }
  t.equal(cal.periodAt(la(2026, 7, 7, 17)), 'peak@2026-03-08', 'an ordinary Tuesday has its peak');
  t.throws(() => resolveConfig({ tariffs: { T: { ...BASE, versions: [{ effectiveFrom: '2026-11-01' }, { effectiveFrom: '2026-10-01' }] } }, programs: { P: { tariff: 'T' } } }), { code: 'PEV_CONFIG', message: /strictly increasing/ });
  t.throws(() => resolveConfig({ tariffs: { T: { ...BASE, versions: [{ effectiveFrom: '2026-02-30' }] } }, programs: { P: { tariff: 'T' } } }), { code: 'PEV_CONFIG' });
  t.throws(() => resolveConfig({ tariffs: { T: { ...BASE, versions: [{ effectiveFrom: '2026-10-01', windows: [{ period: 'shoulder', from: '10:00', to: '12:00' }] }] } }, programs: { P: { tariff: 'T' } } }), { code: 'PEV_CONFIG', message: /period shoulder has no price/ });
  t.end();
});

void t.test('program versions: the credit in effect on each piece, a line per version', (t) => {
  const cfg = resolveConfig({
    tariffs: { 'EV-TOU-2026': BASE },
    programs: { P: { ...PROGRAMS['EV-TOU-OFFPEAK'], versions: [{ effectiveFrom: '2026-10-20', incentive: { creditPerKwh: '7', periods: ['off_peak', 'super_off_peak'] } }, { effectiveFrom: '2026-11-01', incentive: null }] } },
  });
  const program = cfg.programs['P']!;
  const cal = new TouCalendar('EV-TOU-2026', cfg.tariffs['EV-TOU-2026']!, Date.UTC(2026, 9, 1), Date.UTC(2026, 11, 1), program.versions.map((v) => v.effectiveFrom));
  // 20 one-minute intervals from 23:50:30 on Oct 19, the one across midnight of 101 Wh.
  const start = la(2026, 10, 19, 23, 50, 30);
  const pieces = Array.from({ length: 20 }, (_, k) => ({ startMs: start + k * 60_000, endMs: start + (k + 1) * 60_000, wh: k === 9 ? 101 : 100 }));
  const split = splitPieces(pieces, cal, { fromMs: Date.UTC(2026, 9, 1), toMs: Date.UTC(2026, 11, 1) });
  const bill = priceSplit(cal, split.inside, program, []);
  // 951 Wh off-peak (31.2: 29.67 -> 30), 1050 Wh super off-peak (24.75: 25.99 -> 26); credits
  // 951 Wh at 5 (4.755 -> 5) and 1050 Wh at 7 from Oct 20 (7.35 -> 7).
  t.same(bill.lines.map((l) => [l.kind, l.period, l.wh, l.priceMicro, l.amountMinor]), [
    ['energy', 'off_peak', 951, 31_200_000, 30],
    ['energy', 'super_off_peak@2026-10-20', 1050, 24_750_000, 26],
    ['incentive', 'off_peak+super_off_peak', 951, -5_000_000, -5],
    ['incentive', 'off_peak+super_off_peak@2026-10-20', 1050, -7_000_000, -7],
  ]);
  t.same([bill.energyWh, bill.incentiveMinor, bill.totalMinor], [2001, -12, 44]);
  // From Nov 1 the program pays no credit.
  const nov = la(2026, 11, 3, 22);
  const late = priceSplit(cal, splitPieces([{ startMs: nov, endMs: nov + 1_800_000, wh: 3000 }], cal, { fromMs: Date.UTC(2026, 9, 1), toMs: Date.UTC(2026, 11, 1) }).inside, program, []);
  t.same(late.lines.map((l) => [l.kind, l.period, l.amountMinor]), [['energy', 'off_peak@2026-11-01', 94]]);
  t.throws(() => resolveConfig({ tariffs: { 'EV-TOU-2026': BASE }, programs: { P: { tariff: 'EV-TOU-2026', versions: [{ effectiveFrom: '2026-10-20', incentive: { creditPerKwh: '7', periods: ['shoulder'] } }] } } }), { code: 'PEV_CONFIG', message: /period shoulder is not a period/ });
  t.end();
});

const X = { pevId: '1HGCM82633A000001', premiseId: 'P000000001', esciId: 'ESCI-00000001', eumdId: 'EUMD-00000001', accountId: 'A000000001' };
const Y = { pevId: '1HGCM82633A000002', premiseId: 'P000000002', esciId: 'ESCI-00000002', eumdId: 'EUMD-00000002', accountId: 'A000000002' };

async function lateInterval(store: Store, id: string, who: typeof X, startMs: number, seq: number, energyWh: number, register: number): Promise<void> {
  const row = [id, seq, who.esciId, who.eumdId, who.premiseId, who.pevId, Math.floor(startMs / 1000), 60, energyWh, register, 0, 'pev.eumd-interval', 0, 999_999, 0];
  await store.insertTsv('interval_raw', [Buffer.from(row.map((v) => (typeof v === 'number' ? String(v) : escapeTsv(v))).join('\t') + '\n')]);
}

interface Rec {
  version: number;
  amount: number;
  lines: [string, number, number, number][];
  config: string;
}

async function records(store: Store, from: number, to: number): Promise<Record<string, Rec>> {
  const rows = await store.select<{ session_id: string; version: number; amount_minor: string; line_period: string[]; line_wh: string[]; line_price_micro: string[]; line_amount_minor: string[]; config_sha256: string }>(
    'SELECT session_id, version, amount_minor, line_period, line_wh, line_price_micro, line_amount_minor, config_sha256 FROM {db}.billing_current(from_ms = {f:Int64}, to_ms = {t:Int64}) ORDER BY session_id',
    { f: from, t: to },
  );
  return Object.fromEntries(rows.map((r) => [r.session_id, {
    version: Number(r.version),
    amount: Number(r.amount_minor),
    lines: r.line_period.map((p, i) => [p, Number(r.line_wh[i]), Number(r.line_price_micro[i]), Number(r.line_amount_minor[i])] as [string, number, number, number]),
    config: r.config_sha256,
  }]));
}

void t.test('a rate change mid-month, a holiday, and exported records kept under their configuration', async (t) => {
  const store = await tempStore(t, { database: 'rversions' });
  const a = resolveConfig(CONFIG_A);
  const b = resolveConfig(CONFIG_B);
  const shaA = configHash(a);
  const shaB = configHash(b);
  const oct = { fromMs: la(2026, 10, 1, 0), toMs: la(2026, 11, 1, 0) };
  const fx = new Fixture().enroll(X).enroll(Y);
  const sx1 = sid(1);
  const sx1Start = la(2026, 10, 20, 22);
  fx.session({ sessionId: sx1, ...X, energies: e(30), startMs: sx1Start });
  await fx.write(store);

  // Under configuration A, account X's October goes out.
  await reconcilePeriod(store, oct, { accountId: X.accountId }, a, { asOfMs: ASOF });
  await exportPeriod(store, oct, { accountId: X.accountId }, 'json', `${t.testdirName}/x.jsonl`);
  const before = await records(store, oct.fromMs, oct.toMs);
  // 3000 Wh off-peak at 31.2: 93.6 -> 94; credit 5 on 3000 Wh: 15.
  t.same(before[sx1], { version: 1, amount: 79, lines: [['off_peak', 3000, 31_200_000, 94], ['off_peak+super_off_peak', 3000, -5_000_000, -15]], config: shaA });

  // Account Y's sessions arrive; configuration B adds the rate change and the holiday.
  const sy1 = sid(2);
  const sy2 = sid(3);
  const sy3 = sid(4);
  const fy = new Fixture();
  fy.session({ sessionId: sy1, ...Y, energies: e(30), startMs: la(2026, 10, 20, 22) });
  // 20 intervals from 23:50:30 on Oct 14; interval 9 (101 Wh) straddles midnight, the change.
  const across = e(20);
  across[9] = 101;
  fy.session({ sessionId: sy2, ...Y, energies: across, startMs: la(2026, 10, 14, 23, 50, 30) });
  // Friday Oct 9, 17:00, inside the 16:00-21:00 peak window: a holiday (observed).
  fy.session({ sessionId: sy3, ...Y, energies: e(30), startMs: la(2026, 10, 9, 17) });
  await fy.write(store);

  const run = await reconcilePeriod(store, oct, {}, b, { asOfMs: ASOF });
  t.match(run, { sessions: 4, billed: 4, adjustments: 0, records: { created: 3, unchanged: 1, newVersions: 0, rewritten: 0 } });
  t.same(run.reprice, { kept: 1, repriced: 0, sessions: [sx1] }, 'the summary names the exported record B would re-price');
  t.equal(run.flags.OFF_SCHEDULE.sessions, 0, 'the holiday has no peak to avoid');
  const now = await records(store, oct.fromMs, oct.toMs);
  t.same(now[sx1], before[sx1], 'exported: untouched');
  // 3000 Wh at the new off-peak 40: 120; credit 15.
  t.same(now[sy1], { version: 1, amount: 105, lines: [['off_peak@2026-10-15', 3000, 40_000_000, 120], ['off_peak+super_off_peak', 3000, -5_000_000, -15]], config: shaB });
  // 9 x 100 + 51 before midnight, 50 + 10 x 100 after: 951 Wh at 31.2 (29.6712 -> 30), 1050 Wh
  // super off-peak of the new version (inherited 24.75: 25.9875 -> 26), credit 2001 Wh: 10.005 -> 10.
  t.same(now[sy2], {
    version: 1, amount: 46,
    lines: [['off_peak', 951, 31_200_000, 30], ['super_off_peak@2026-10-15', 1050, 24_750_000, 26], ['off_peak+super_off_peak', 2001, -5_000_000, -10]],
    config: shaB,
  });
  // The holiday: 3000 Wh super off-peak at 24.75 (74.25 -> 74), credit 15, instead of peak at 48.5.
  t.same(now[sy3], { version: 1, amount: 59, lines: [['super_off_peak', 3000, 24_750_000, 74], ['off_peak+super_off_peak', 3000, -5_000_000, -15]], config: shaB });

  // New data for the exported session: re-billed under A, the configuration it went out under.
  await lateInterval(store, sx1, X, sx1Start + 30 * 60_000, 30, 5, 1_000_000 + 3000 + 5);
  const late = await reconcilePeriod(store, oct, {}, b, { asOfMs: ASOF });
  t.match(late, { adjustments: 1, records: { newVersions: 1 }, reprice: { kept: 1, repriced: 0 } });
  // 3005 Wh at 31.2: 93.756 -> 94; credit 15.025 -> 15.
  t.same((await records(store, oct.fromMs, oct.toMs))[sx1], { version: 2, amount: 79, lines: [['off_peak', 3005, 31_200_000, 94], ['off_peak+super_off_peak', 3005, -5_000_000, -15]], config: shaA });

  // Told to re-price: B's prices, the same (unexported) version 2, still an ADJUSTMENT.
  const re = await reconcilePeriod(store, oct, {}, b, { asOfMs: ASOF, reprice: true });
  t.match(re, { adjustments: 1, records: { rewritten: 1, newVersions: 0 }, reprice: { kept: 0, repriced: 1, sessions: [sx1] } });
  t.same((await records(store, oct.fromMs, oct.toMs))[sx1], { version: 2, amount: 105, lines: [['off_peak@2026-10-15', 3005, 40_000_000, 120], ['off_peak+super_off_peak', 3005, -5_000_000, -15]], config: shaB });

  // The history: both configurations by hash, each re-derivable to the same hash.
  const hist = await store.select<{ sha: string; json: string }>('SELECT config_sha256 AS sha, any(config_json) AS json FROM {db}.reconcile_config GROUP BY sha ORDER BY sha');
  t.same(hist.map((h) => h.sha).sort(), [shaA, shaB].sort());
  for (const h of hist) t.equal(configHash(resolveConfig(JSON.parse(h.json))), h.sha, 'the stored text re-derives its hash');
});
