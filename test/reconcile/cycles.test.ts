/**
 * Bill cycles on the embedded store: three cycle days (1, 5, 15) with two accounts each, sessions
 * over two and a half months, three cycles run and exported out of order. Every session is billed
 * exactly once across the cycles and none is missing; each cycle's export is independent of the
 * others; a late interval after a cycle's export flags ADJUSTMENT on that account's session only.
 * Exports remember their filters, so a filtered export never makes other accounts' sessions
 * "adjustments", and the overlap check is per account.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeTsv } from '../../aggregate/store/tsv.js';
import type { Store } from '../../aggregate/store/types.js';
import { exportCycle, exportPeriod } from '../../reconcile/billing.js';
import { resolveConfig, type ReconcileConfigInput } from '../../reconcile/config.js';
import { anchorMs, cyclePeriod, parseCycle } from '../../reconcile/cycles.js';
import { listSessions } from '../../reconcile/review/command.js';
import { reconcileCycle, reconcilePeriod } from '../../reconcile/run.js';
import { localToUtc } from '../../schemas/calendar.js';
import { tempStore } from '../helpers/services.js';
import { Fixture, sid } from './fixtures.js';
import { clean } from './session.js';

const LA = 'America/Los_Angeles';
const ASOF = Date.UTC(2026, 11, 20);
const DAY = 86_400_000;
const e = (n: number, wh = 100): number[] => Array.from({ length: n }, () => wh);

void t.test('cycle periods: local midnights of the cycle day, DST of both kinds', (t) => {
  const oct = parseCycle('2026-10');
  t.same(cyclePeriod(oct, 1, LA), { fromMs: Date.UTC(2026, 9, 1, 7), toMs: Date.UTC(2026, 10, 1, 7) }, 'October, PDT to PDT');
  t.same(cyclePeriod(parseCycle('2026-11'), 1, LA), { fromMs: Date.UTC(2026, 10, 1, 7), toMs: Date.UTC(2026, 11, 1, 8) }, 'fall back inside: 30 days + 1 hour');
  t.same(cyclePeriod(oct, 15, LA), { fromMs: Date.UTC(2026, 9, 15, 7), toMs: Date.UTC(2026, 10, 15, 8) }, 'day 15 across the fall-back');
  t.same(cyclePeriod(parseCycle('2026-02'), 15, LA), { fromMs: Date.UTC(2026, 1, 15, 8), toMs: Date.UTC(2026, 2, 15, 7) }, 'spring forward inside: one hour short');
  t.same(cyclePeriod(parseCycle('2026-12'), 28, 'Europe/Berlin'), { fromMs: Date.UTC(2026, 11, 27, 23), toMs: Date.UTC(2027, 0, 27, 23) }, 'December to January of the next year');
  for (const bad of ['2026-13', '2026-1', '26-10', '2026-10-01', '']) t.throws(() => parseCycle(bad), { code: 'PEV_INPUT' }, bad);
  t.throws(() => resolveConfig({ cycles: { defaultDay: 29 } }), { code: 'PEV_CONFIG' }, 'day 29 is refused: not every month has it');
  t.throws(() => resolveConfig({ cycles: { accounts: { X1: 5 } } }), { code: 'PEV_CONFIG' });
  t.throws(() => resolveConfig({ cycles: { timeZone: 'Mars/Olympus' } }), { code: 'PEV_CONFIG' });
  t.end();
});

void t.test('anchor: plug-in, else the first interval, else the first event', (t) => {
  const f = clean();
  t.equal(anchorMs(f), f.start!.plugInMs);
  t.equal(anchorMs({ ...f, start: null }), f.intervals[0]!.startMs);
  t.equal(anchorMs({ ...f, start: null, intervals: [] }), f.firstEventMs);
  t.end();
});

interface Account {
  id: string;
  day: number;
  n: number;
  flat: boolean;
}

const ACCOUNTS: Account[] = [
  { id: 'A000000011', day: 1, n: 1, flat: true },
  { id: 'A000000012', day: 1, n: 2, flat: false },
  { id: 'A000000051', day: 5, n: 3, flat: true },
  { id: 'A000000052', day: 5, n: 4, flat: false },
  { id: 'A000000151', day: 15, n: 5, flat: true },
  { id: 'A000000152', day: 15, n: 6, flat: false },
];

function ids(a: Account): { pevId: string; premiseId: string; esciId: string; eumdId: string; accountId: string } {
  const h = a.n.toString(16).toUpperCase().padStart(8, '0');
  return { pevId: `1HGCM82633A00${String(a.n).padStart(4, '0')}`, premiseId: `P${String(a.n).padStart(9, '0')}`, esciId: `ESCI-${h}`, eumdId: `EUMD-${h}`, accountId: a.id };
}

const CONFIG: ReconcileConfigInput = {
  cycles: { defaultDay: 1, accounts: { A000000051: 5, A000000052: 5, A000000151: 15, A000000152: 15 } },
};

/** A local wall time in Los Angeles as UTC ms. */
const la = (y: number, m: number, d: number, hh: number, mm = 0, ss = 0): number => localToUtc(LA, y, m, d, hh * 60 + mm) + ss * 1000;

interface Planted {
  id: string;
  account: Account;
  /** First interval start (the fixture plugs in 30 s before). */
  startMs: number;
  wh: number;
}

async function lateInterval(store: Store, p: Planted, seq: number, energyWh: number): Promise<void> {
  const x = ids(p.account);
  const row = [p.id, seq, x.esciId, x.eumdId, x.premiseId, x.pevId, Math.floor((p.startMs + seq * 60_000) / 1000), 60, energyWh, 1_000_000 + p.wh + energyWh, 0, 'pev.eumd-interval', 0, 999_999, 0];
  await store.insertTsv('interval_raw', [Buffer.from(row.map((v) => (typeof v === 'number' ? String(v) : escapeTsv(v))).join('\t') + '\n')]);
}

interface ExportedLine {
  session_id: string;
  version: number;
  account_id: string;
  record_energy_wh: number;
  record_amount_minor: number;
  delta_energy_wh: number;
  previous_version: number;
}

const readJsonl = (file: string): ExportedLine[] =>
  readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as ExportedLine);

void t.test('three cycle days, two accounts each, three cycles: every session billed exactly once', async (t) => {
  const store = await tempStore(t, { database: 'rcycles' });
  const dir = t.testdirName;
  const cfg = resolveConfig(CONFIG);
  const fx = new Fixture();
  for (const a of ACCOUNTS) fx.enroll({ ...ids(a), ...(a.flat ? { programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026' } : {}) });
  const planted: Planted[] = [];
  let next = 1;
  const plant = (a: Account, startMs: number): Planted => {
    const p = { id: sid(next++), account: a, startMs, wh: 3000 };
    planted.push(p);
    fx.session({ sessionId: p.id, ...ids(a), energies: e(30), startMs });
    return p;
  };
  // Every third local day from Sep 16 to Nov 30 at 22:00 (shifted per account): inside cycles
  // 2026-09..2026-11 of every cycle day.
  for (const a of ACCOUNTS) {
    for (let d = Date.UTC(2026, 8, 16) + (a.n % 3) * DAY; d <= Date.UTC(2026, 10, 30); d += 3 * DAY) {
      const dt = new Date(d);
      plant(a, la(dt.getUTCFullYear(), dt.getUTCMonth() + 1, dt.getUTCDate(), 22));
    }
  }
  const [a11, , a51, , , a152] = ACCOUNTS as [Account, Account, Account, Account, Account, Account];
  // Edges. Plugged in at 23:59:50 on Oct 4, charging from 00:00:20 on Oct 5: cycle day 5's
  // cycle 2026-09, by its plug-in.
  const beforeEdge = plant(a51, la(2026, 10, 5, 0, 0, 20));
  // Day 1 across the fall-back night (2026-11-01, 01:00-02:00 twice): 23:50 PDT on Oct 31 is
  // cycle 2026-10; 00:10 PDT and the first 01:30 of Nov 1 are cycle 2026-11.
  const lastOfOct = plant(a11, la(2026, 10, 31, 23, 50, 30));
  const firstOfNov = plant(a11, la(2026, 11, 1, 0, 10, 30));
  const repeatedHour = plant(a11, la(2026, 11, 1, 1, 30, 30));
  t.equal(repeatedHour.startMs, Date.UTC(2026, 10, 1, 8, 30, 30), 'the first 01:30 (PDT)');
  await fx.write(store);
  const total = planted.length;
  t.ok(total >= 150, `${total} sessions`);

  // Cycle 2026-10 first, exported; then 2026-09 and 2026-11 see nothing of it.
  const oct = await reconcileCycle(store, '2026-10', {}, cfg, { asOfMs: ASOF });
  t.match(oct, { cycle: '2026-10', held: 0, adjustments: 0 });
  const octFile = join(dir, 'oct.jsonl');
  const xOct = await exportCycle(store, '2026-10', {}, 'json', octFile, { nowMs: ASOF });
  t.equal(xOct.records, oct.billed, 'the export carries every record of the cycle');
  const sep = await reconcileCycle(store, '2026-09', {}, cfg, { asOfMs: ASOF });
  t.match(sep, { adjustments: 0, records: { newVersions: 0 } }, "another cycle's export is not this cycle's");
  const sepFile = join(dir, 'sep.jsonl');
  await exportCycle(store, '2026-09', {}, 'json', sepFile, { nowMs: ASOF });
  const nov = await reconcileCycle(store, '2026-11', {}, cfg, { asOfMs: ASOF });
  t.match(nov, { adjustments: 0, records: { newVersions: 0 } });
  const novFile = join(dir, 'nov.jsonl');
  await exportCycle(store, '2026-11', {}, 'json', novFile, { nowMs: ASOF });
  t.equal(sep.sessions + oct.sessions + nov.sessions, total, 'the three runs reconciled every session once');

  const byCycle: Record<string, ExportedLine[]> = { '2026-09': readJsonl(sepFile), '2026-10': readJsonl(octFile), '2026-11': readJsonl(novFile) };
  const seen = new Map<string, string[]>();
  let wh = 0;
  for (const [c, lines] of Object.entries(byCycle)) {
    for (const l of lines) {
      seen.set(l.session_id, [...(seen.get(l.session_id) ?? []), c]);
      wh += l.record_energy_wh;
    }
  }
  t.equal(seen.size, total, 'none missing');
  t.same([...seen.values()].filter((cs) => cs.length !== 1), [], 'none billed twice');
  t.equal(wh, total * 3000, 'every Wh billed once');
  t.same(seen.get(beforeEdge.id), ['2026-09'], 'plugged in before the cycle day: the cycle before');
  t.same(seen.get(lastOfOct.id), ['2026-10']);
  t.same(seen.get(firstOfNov.id), ['2026-11']);
  t.same(seen.get(repeatedHour.id), ['2026-11']);
  // The export shows local times beside UTC, and each record's own cycle period.
  t.match(byCycle['2026-11']!.find((l) => l.session_id === repeatedHour.id), {
    cycle: '2026-11', time_zone: LA, period_from: '2026-11-01T07:00:00.000Z', period_to: '2026-12-01T08:00:00.000Z',
    session_start: '2026-11-01T08:30:30.000Z', session_start_local: '2026-11-01T01:30:30-07:00', session_end_local: '2026-11-01T01:00:30-08:00',
  }, 'across the repeated hour: starts at the first 01:30 (PDT), ends at the second 01:00 (PST)');
  // Each session sits in the cycle of its own account's day, computed independently here.
  let misplaced = 0;
  for (const p of planted) {
    const plugIn = p.startMs - 30_000;
    const c = ['2026-09', '2026-10', '2026-11'].find((label) => {
      const per = cyclePeriod(parseCycle(label), p.account.day, LA);
      return plugIn >= per.fromMs && plugIn < per.toMs;
    });
    if (seen.get(p.id)?.[0] !== c) misplaced++;
  }
  t.equal(misplaced, 0, 'every session in its account\'s cycle');
  // An operator's review list by cycle: every result of that cycle's run, the billed ones exactly
  // the cycle's exported sessions.
  for (const [c, run] of [['2026-09', sep], ['2026-10', oct], ['2026-11', nov]] as const) {
    const listed = await listSessions(store, { cycle: c, status: 'all' });
    t.equal(listed.length, run.sessions, `review list --cycle ${c}: every session of the cycle`);
    t.same(listed.filter((r) => r.status === 'BILLED').map((r) => r.sessionId).sort(), byCycle[c]!.map((l) => l.session_id).sort(), `review list --cycle ${c}: its billed sessions are the cycle's export`);
    t.same([...new Set(listed.map((r) => r.cycle))], [c]);
  }
  await t.rejects(listSessions(store, { cycle: '2026-10', from: '2026-10-01T00:00:00Z', to: '2026-11-01T00:00:00Z' }), { code: 'PEV_INPUT', message: /--cycle or --from/ });
  await t.rejects(listSessions(store, { cycle: '2026-13' }), { code: 'PEV_INPUT', message: /YYYY-MM/ });

  // The cycle's stored period of each account is its own: day 5 across the fall-back.
  const periods = await store.select<{ account_id: string; f: string; t: string }>(
    "SELECT account_id, period_from_ms AS f, period_to_ms AS t FROM {db}.billing_export WHERE cycle = '2026-10' GROUP BY account_id, f, t ORDER BY account_id",
  );
  t.same(periods.map((r) => [r.account_id, Number(r.f), Number(r.t)]), [
    ['A000000011', Date.UTC(2026, 9, 1, 7), Date.UTC(2026, 10, 1, 7)],
    ['A000000012', Date.UTC(2026, 9, 1, 7), Date.UTC(2026, 10, 1, 7)],
    ['A000000051', Date.UTC(2026, 9, 5, 7), Date.UTC(2026, 10, 5, 8)],
    ['A000000052', Date.UTC(2026, 9, 5, 7), Date.UTC(2026, 10, 5, 8)],
    ['A000000151', Date.UTC(2026, 9, 15, 7), Date.UTC(2026, 10, 15, 8)],
    ['A000000152', Date.UTC(2026, 9, 15, 7), Date.UTC(2026, 10, 15, 8)],
  ]);

  // The billing system's views by cycle and account agree with the export, to the minor unit.
  for (const a of ACCOUNTS) {
    const [v] = await store.select<{ n: string; wh: string; minor: string; frozen: string }>(
      "SELECT count() AS n, sum(energy_wh) AS wh, sum(amount_minor) AS minor, countIf(frozen) AS frozen FROM {db}.billing_cycle(cycle = '2026-10', account = {a:String}) WHERE status = 'BILLED'",
      { a: a.id },
    );
    const lines = byCycle['2026-10']!.filter((l) => l.account_id === a.id);
    t.same([Number(v!.n), Number(v!.wh), Number(v!.minor), Number(v!.frozen)], [lines.length, lines.reduce((s, l) => s + l.record_energy_wh, 0), lines.reduce((s, l) => s + l.record_amount_minor, 0), lines.length], `billing_cycle ${a.id}`);
  }

  // Late data after the exports: 5 Wh more for one October session of account A000000051, and a
  // November session of account A000000152 nobody had seen.
  const target = planted.find((p) => p.account === a51 && seen.get(p.id)?.[0] === '2026-10')!;
  await lateInterval(store, target, 30, 5);
  const newcomer = { id: sid(next++), account: a152, startMs: la(2026, 11, 20, 22), wh: 1000 };
  const late = new Fixture();
  late.session({ sessionId: newcomer.id, ...ids(a152), energies: e(10), startMs: newcomer.startMs });
  await late.write(store);

  const oct2 = await reconcileCycle(store, '2026-10', {}, cfg, { asOfMs: ASOF });
  t.match(oct2, { adjustments: 1, records: { newVersions: 1, created: 0, rewritten: 0, unchanged: oct.billed - 1 } });
  const flagged = await store.select<{ session_id: string; account_id: string }>(
    "SELECT session_id, account_id FROM {db}.reconcile_cycle(cycle = '2026-10', account = '') WHERE has(flag_code, 'ADJUSTMENT')",
  );
  t.same(flagged.map((r) => [r.session_id, r.account_id]), [[target.id, 'A000000051']], 'ADJUSTMENT on that account only');
  const sep2 = await reconcileCycle(store, '2026-09', {}, cfg, { asOfMs: ASOF });
  t.match(sep2, { adjustments: 0, records: { created: 0, newVersions: 0, rewritten: 0 } }, 'September untouched');
  const nov2 = await reconcileCycle(store, '2026-11', {}, cfg, { asOfMs: ASOF });
  t.match(nov2, { adjustments: 1, records: { created: 1, newVersions: 0, rewritten: 0 } }, 'the newcomer is new to an exported cycle');
  const novFlagged = await store.select<{ session_id: string }>(
    "SELECT session_id FROM {db}.reconcile_cycle(cycle = '2026-11', account = 'A000000152') WHERE has(flag_code, 'ADJUSTMENT')",
  );
  t.same(novFlagged.map((r) => r.session_id), [newcomer.id]);

  const octAdj = join(dir, 'oct-adj.jsonl');
  const xAdj = await exportCycle(store, '2026-10', {}, 'json', octAdj, { nowMs: ASOF + DAY });
  t.match(xAdj, { records: 1, energyWh: 3005 });
  t.match(readJsonl(octAdj)[0], { session_id: target.id, version: 2, previous_version: 1, delta_energy_wh: 5, account_id: 'A000000051' });

  // Overlap is per account: moving A000000011 to cycle day 10 would bill its exported October
  // again, and is refused; the other accounts of the same configuration are not affected.
  const moved = resolveConfig({ cycles: { ...CONFIG.cycles, accounts: { ...CONFIG.cycles!.accounts, A000000011: 10 } } });
  await t.rejects(reconcileCycle(store, '2026-10', {}, moved, { asOfMs: ASOF }), { code: 'PEV_INPUT', message: /account A000000011/ });
  const other = await reconcileCycle(store, '2026-10', { accountId: 'A000000052' }, moved, { asOfMs: ASOF });
  t.match(other, { adjustments: 0, records: { created: 0, newVersions: 0, rewritten: 0 } });
  // A period run over an account's exported cycle would bill it twice.
  await t.rejects(reconcilePeriod(store, { fromMs: Date.UTC(2026, 9, 1, 7), toMs: Date.UTC(2026, 10, 1, 7) }, { accountId: 'A000000011' }, cfg, { asOfMs: ASOF }), { code: 'PEV_INPUT' });
});

void t.test('periods: overlap per account, and a filtered export adjusts only what it covered', async (t) => {
  const store = await tempStore(t, { database: 'rstagger' });
  const dir = t.testdirName;
  const cfg = resolveConfig({});
  const [a, b] = [ACCOUNTS[0]!, ACCOUNTS[1]!];
  const fx = new Fixture().enroll(ids(a)).enroll(ids(b));
  for (let k = 0; k < 8; k++) {
    fx.session({ sessionId: sid(100 + k), ...ids(a), energies: e(20), startMs: la(2026, 10, 1 + k, 22) });
    fx.session({ sessionId: sid(200 + k), ...ids(b), energies: e(20), startMs: la(2026, 10, 1 + k, 23) });
  }
  await fx.write(store);
  const P = (d1: number, d2: number) => ({ fromMs: la(2026, 10, d1, 0), toMs: la(2026, 10, d2, 0) });

  // Account A for [Oct 1, Oct 5), then account B for [Oct 3, Oct 8): both fine.
  await reconcilePeriod(store, P(1, 5), { accountId: a.id }, cfg, { asOfMs: ASOF });
  t.match(await exportPeriod(store, P(1, 5), { accountId: a.id }, 'json', join(dir, 'a.jsonl')), { records: 4 });
  const rb = await reconcilePeriod(store, P(3, 8), { accountId: b.id }, cfg, { asOfMs: ASOF });
  t.match(rb, { billed: 5, adjustments: 0 });
  t.match(await exportPeriod(store, P(3, 8), { accountId: b.id }, 'json', join(dir, 'b.jsonl')), { records: 5 });
  // Account A over B's period, or everyone over it, would bill A's exported days again.
  await t.rejects(reconcilePeriod(store, P(3, 8), { accountId: a.id }, cfg, { asOfMs: ASOF }), { code: 'PEV_INPUT', message: /account A000000011/ });
  await t.rejects(reconcilePeriod(store, P(3, 8), {}, cfg, { asOfMs: ASOF }), { code: 'PEV_INPUT' });

  // A filtered export, then an unfiltered run of the same period: B's records never went out,
  // and no export covered them, so they are not adjustments.
  const oct = P(9, 20);
  const fx2 = new Fixture();
  for (let k = 0; k < 3; k++) {
    fx2.session({ sessionId: sid(300 + k), ...ids(a), energies: e(20), startMs: la(2026, 10, 10 + k, 22) });
    fx2.session({ sessionId: sid(400 + k), ...ids(b), energies: e(20), startMs: la(2026, 10, 10 + k, 23) });
  }
  await fx2.write(store);
  await reconcilePeriod(store, oct, { accountId: a.id }, cfg, { asOfMs: ASOF });
  t.match(await exportPeriod(store, oct, { accountId: a.id }, 'json', join(dir, 'a-oct.jsonl')), { records: 3 });
  const full = await reconcilePeriod(store, oct, {}, cfg, { asOfMs: ASOF });
  t.match(full, { sessions: 6, billed: 6, adjustments: 0 }, "B's never-exported records are not adjustments");
  // A late session of A is one: the export covered A.
  const fx3 = new Fixture();
  fx3.session({ sessionId: sid(303), ...ids(a), energies: e(20), startMs: la(2026, 10, 15, 22) });
  fx3.session({ sessionId: sid(403), ...ids(b), energies: e(20), startMs: la(2026, 10, 15, 23) });
  await fx3.write(store);
  const again = await reconcilePeriod(store, oct, {}, cfg, { asOfMs: ASOF });
  t.match(again, { sessions: 8, adjustments: 1 });
  const flagged = await store.select<{ session_id: string }>(
    "SELECT session_id FROM {db}.reconcile_flag(from_ms = {f:Int64}, to_ms = {t:Int64}) WHERE code = 'ADJUSTMENT'",
    { f: oct.fromMs, t: oct.toMs },
  );
  t.same(flagged.map((r) => r.session_id), [sid(303)]);
});

void t.test('a cycle day on the spring-forward date: the edge is local midnight, 23 hours before the next day', async (t) => {
  const store = await tempStore(t, { database: 'rspring' });
  const cfg = resolveConfig({ cycles: { accounts: { A000000011: 8 } } });
  const a = ACCOUNTS[0]!;
  const fx = new Fixture().enroll({ ...ids(a), programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026' });
  // 23:50 PST on Mar 7 (cycle 2026-02), 00:10 PST and 03:10 PDT on Mar 8 (cycle 2026-03): the
  // clocks jump from 02:00 to 03:00 that night.
  fx.session({ sessionId: sid(1), ...ids(a), energies: e(20), startMs: la(2026, 3, 7, 23, 50, 30) });
  fx.session({ sessionId: sid(2), ...ids(a), energies: e(20), startMs: la(2026, 3, 8, 0, 10, 30) });
  fx.session({ sessionId: sid(3), ...ids(a), energies: e(20), startMs: la(2026, 3, 8, 3, 10, 30) });
  await fx.write(store);
  t.equal(la(2026, 3, 8, 3, 10, 30) - la(2026, 3, 8, 0, 10, 30), 2 * 3_600_000, '00:10 to 03:10 that night is two hours');
  const asOf = Date.UTC(2026, 4, 1);
  const feb = await reconcileCycle(store, '2026-02', {}, cfg, { asOfMs: asOf });
  const mar = await reconcileCycle(store, '2026-03', {}, cfg, { asOfMs: asOf });
  t.match([feb.billed, mar.billed], [1, 2]);
  const rows = await store.select<{ cycle: string; session_id: string; f: string; t: string }>(
    // ORDER BY after UNION ALL binds to the last SELECT only: order the union as a whole.
    "SELECT * FROM (SELECT cycle, session_id, period_from_ms AS f, period_to_ms AS t FROM {db}.billing_cycle(cycle = '2026-02', account = '') UNION ALL SELECT cycle, session_id, period_from_ms AS f, period_to_ms AS t FROM {db}.billing_cycle(cycle = '2026-03', account = '')) ORDER BY session_id",
  );
  t.same(rows.map((r) => [r.cycle, r.session_id, Number(r.f), Number(r.t)]), [
    ['2026-02', sid(1), Date.UTC(2026, 1, 8, 8), Date.UTC(2026, 2, 8, 8)],
    ['2026-03', sid(2), Date.UTC(2026, 2, 8, 8), Date.UTC(2026, 3, 8, 7)],
    ['2026-03', sid(3), Date.UTC(2026, 2, 8, 8), Date.UTC(2026, 3, 8, 7)],
  ]);
});
