import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BILLING_COLUMNS, adjustmentFor, contentDigest, contentText, decide, digest, writeBillingRow, exportPeriod, type RecordContent, type RecordState } from '../../reconcile/billing.js';
import { resolveConfig } from '../../reconcile/config.js';
import { reconcilePeriod, type RunSummary } from '../../reconcile/run.js';
import type { Period } from '../../reconcile/types.js';
import type { Store } from '../../aggregate/store/types.js';
import { tempStore } from '../helpers/services.js';
import { TsvWriter } from '../../aggregate/store/tsv.js';
import { tsvLine } from '../../reconcile/tsv.js';
import { Fixture, T0, sid } from './fixtures.js';

const PERIOD: Period = { fromMs: Date.UTC(2026, 9, 1, 7), toMs: Date.UTC(2026, 10, 1, 7) };
const ASOF = Date.UTC(2026, 10, 2);
const cfg = resolveConfig({});
const e = (n: number, wh = 100): number[] => Array.from({ length: n }, () => wh);
const FLAT = { programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026' };

const content: RecordContent = {
  sessionId: 'S-0000000000000001', status: 'BILLED', accountId: 'A1', premiseId: 'P1', pevId: 'V', programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026',
  currency: 'USD', sessionStartMs: 1, sessionEndMs: 2, energyWh: 3000, sessionEnergyWh: 3000,
  lines: [{ kind: 'energy', period: 'flat', wh: 3000, priceMicro: 33_600_000, amountMinor: 101 }], incentiveMinor: 0, amountMinor: 101, warnCodes: ['GAP'],
};

void t.test('contentDigest covers what is billed and said, not the order of warn codes', (t) => {
  const a = contentDigest(content);
  t.match(a, /^[0-9a-f]{28}$/);
  t.equal(contentDigest({ ...content, warnCodes: ['GAP'] }), a);
  t.not(contentDigest({ ...content, amountMinor: 102 }), a);
  t.not(contentDigest({ ...content, warnCodes: ['GAP', 'UNFINISHED'] }), a);
  t.equal(contentDigest({ ...content, warnCodes: ['UNFINISHED', 'GAP'] }), contentDigest({ ...content, warnCodes: ['GAP', 'UNFINISHED'] }));
  t.end();
});

void t.test('digest: the same text as the digests stored by earlier versions (records written before stay unchanged)', (t) => {
  // Pinned values from the first implementation, which formatted the mixed lanes with toString(16).
  t.equal(contentDigest(content), '115af073e967b904fd966443b820');
  t.equal(digest(''), '0bdcb81aee8d83000dd6c223ada3');
  t.equal(digest('é€x'), '06aa38d55ed5ca15208a26632b27');
  // And that formatting, for many texts: hex digits of 2^32 * hi + lo, padded to 14 per half.
  const reference = (text: string): string => {
    let h1 = 0xdeadbeef;
    let h2 = 0x41c6ce57;
    let h3 = 0x9e3779b9;
    let h4 = 0x85ebca6b;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, 2654435761);
      h2 = Math.imul(h2 ^ ch, 1597334677);
      h3 = Math.imul(h3 ^ ch, 2246822507);
      h4 = Math.imul(h4 ^ ch, 3266489909);
    }
    const mix = (a: number, b: number): number => {
      a = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
      b = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
      return 4294967296 * (2097151 & b) + (a >>> 0);
    };
    return mix(h1, h2).toString(16).padStart(14, '0') + mix(h3, h4).toString(16).padStart(14, '0');
  };
  let same = 0;
  for (let i = 0; i < 5000; i++) {
    const text = `S-${i.toString(36)}|BILLED|${'x'.repeat(i % 97)}|${i * 7919}|${String.fromCharCode(i % 0xd7ff)}`;
    if (digest(text) === reference(text)) same++;
  }
  t.equal(same, 5000);
  t.end();
});

void t.test('contentDigest: fed field by field, the digest of the content text', (t) => {
  let same = 0;
  const cases = 2000;
  for (let i = 0; i < cases; i++) {
    const c: RecordContent = {
      ...content,
      sessionId: `S-${i.toString(16).padStart(16, '0')}`,
      accountId: i % 7 === 0 ? 'Ä-€-\t' : `A${i}`,
      status: i % 5 === 0 ? 'VOID' : 'BILLED',
      sessionStartMs: 1_790_000_000_000 + i * 60_000,
      sessionEndMs: i % 11 === 0 ? 0 : 1_790_000_000_000 + i * 61_000,
      energyWh: i % 3 === 0 ? -i : i * 17,
      incentiveMinor: -((i * 31) % 500),
      amountMinor: i % 13 === 0 ? Number.MAX_SAFE_INTEGER - i : i,
      lines: Array.from({ length: i % 4 }, (_, k) => ({ kind: k === 0 ? 'energy' : 'incentive', period: `p${k}`, wh: i * k - 50, priceMicro: 33_600_000 + k, amountMinor: (i * k) % 97 })),
      warnCodes: ['UNFINISHED', 'GAP', 'CLOCK'].slice(0, i % 4),
    };
    if (contentDigest(c) === digest(contentText(c))) same++;
  }
  t.equal(same, cases);
  t.end();
});

void t.test('writeBillingRow: the TSV line of every BILLING_COLUMNS field, escaped, from a one-byte buffer', (t) => {
  const tricky: RecordContent = {
    ...content,
    accountId: 'Ä\tcount',
    premiseId: "P'1\\",
    lines: [
      { kind: 'energy', period: "off'peak", wh: 3000, priceMicro: 33_600_000, amountMinor: 101 },
      { kind: 'incentive', period: 'ünï', wh: -5, priceMicro: -1, amountMinor: -2 },
    ],
    warnCodes: ['GAP', 'UNFINISHED'],
  };
  const w = new TsvWriter(1);
  for (const c of [content, tricky, { ...content, lines: [], warnCodes: [] }]) {
    writeBillingRow(w, PERIOD, c, 3, contentDigest(c), 'run-1', 1_790_000_000_123);
  }
  const expected = [content, tricky, { ...content, lines: [], warnCodes: [] }].map((c) =>
    tsvLine([
      PERIOD.fromMs, PERIOD.toMs, c.sessionId, 3, c.status, c.accountId, c.premiseId, c.pevId, c.programId, c.tariffId, c.currency,
      c.sessionStartMs, c.sessionEndMs, c.energyWh, c.sessionEnergyWh, c.lines.map((l) => l.kind), c.lines.map((l) => l.period),
      c.lines.map((l) => l.wh), c.lines.map((l) => l.priceMicro), c.lines.map((l) => l.amountMinor), c.incentiveMinor, c.amountMinor,
      c.warnCodes, contentDigest(c), 'run-1', 1_790_000_000_123, '', '', '',
    ]),
  );
  t.equal(Buffer.from(w.result()).toString('utf8'), expected.join(''));
  t.equal(w.rows, 3);
  t.equal(expected[1]!.split('\t').length, BILLING_COLUMNS.length);
  t.end();
});

void t.test('decide: the version to write, table-driven', (t) => {
  const latest = (version: number, sha: string, status: 'BILLED' | 'VOID' = 'BILLED'): RecordState['latest'] => ({ version, status, sha, energyWh: 0, amountMinor: 0, currency: 'USD' });
  const exported = (version: number, sha: string): RecordState['exported'] => ({ version, sha, energyWh: 0, amountMinor: 0 });
  const voided: RecordContent = { ...content, status: 'VOID' };
  const cases: [string, RecordState, RecordContent | null, string, ReturnType<typeof decide>][] = [
    ['new billable session', { latest: null, exported: null }, content, 'h1', { write: true, version: 1, kind: 'created' }],
    ['same content again', { latest: latest(1, 'h1'), exported: null }, content, 'h1', { write: false, version: 1, kind: 'unchanged' }],
    ['changed, not exported', { latest: latest(1, 'h1'), exported: null }, content, 'h2', { write: true, version: 1, kind: 'rewritten' }],
    ['changed, exported', { latest: latest(1, 'h1'), exported: exported(1, 'h1') }, content, 'h2', { write: true, version: 2, kind: 'new-version' }],
    ['changed again, v2 not exported', { latest: latest(2, 'h2'), exported: exported(1, 'h1') }, content, 'h3', { write: true, version: 2, kind: 'rewritten' }],
    ['back to the exported content', { latest: latest(2, 'h2'), exported: exported(1, 'h1') }, content, 'h1', { write: true, version: 2, kind: 'rewritten' }],
    ['held, never billed', { latest: null, exported: null }, null, '', { write: false, version: 0, kind: 'none' }],
    ['held, billed before: void', { latest: latest(1, 'h1'), exported: null }, voided, 'hv', { write: true, version: 1, kind: 'rewritten' }],
    ['held, billed and exported: void as v2', { latest: latest(1, 'h1'), exported: exported(1, 'h1') }, voided, 'hv', { write: true, version: 2, kind: 'new-version' }],
    ['held, already void', { latest: latest(2, 'hv', 'VOID'), exported: exported(1, 'h1') }, voided, 'hv', { write: false, version: 2, kind: 'none' }],
  ];
  for (const [name, state, want, sha, expected] of cases) t.same(decide(state, want, sha), expected, name);
  t.end();
});

void t.test('adjustmentFor: only once the period was exported, and only while the current content differs', (t) => {
  const o = cfg.rules.adjustment;
  const cur = { version: 2, status: 'BILLED' as const, sha: 'h2', energyWh: 3300, amountMinor: 111 };
  const ex = { version: 1, sha: 'h1', energyWh: 3000, amountMinor: 101 };
  t.equal(adjustmentFor({ latest: null, exported: ex }, cur, false, o), null, 'period not exported');
  t.equal(adjustmentFor({ latest: null, exported: ex }, { ...cur, sha: 'h1' }, true, o), null, 'current equals exported');
  t.same(adjustmentFor({ latest: null, exported: ex }, cur, true, o), {
    code: 'ADJUSTMENT', severity: 'warn',
    observed: { exportedVersion: 1, exportedEnergyWh: 3000, exportedAmountMinor: 101, version: 2, energyWh: 3300, amountMinor: 111, deltaEnergyWh: 300, deltaAmountMinor: 10, voided: 0 },
    threshold: {},
  });
  t.match(adjustmentFor({ latest: null, exported: null }, { ...cur, version: 1 }, true, o), { observed: { exportedVersion: 0, deltaEnergyWh: 3300 } }, 'a record the export never carried');
  t.equal(adjustmentFor({ latest: null, exported: null }, { ...cur, status: 'VOID' }, true, o), null, 'void of something never exported');
  t.end();
});

async function currentRecords(store: Store): Promise<Record<string, { version: number; status: string; energy: number; amount: number; warn: string[] }>> {
  const rows = await store.select<{ session_id: string; version: number; status: string; energy_wh: string; amount_minor: string; warn_codes: string[] }>(
    'SELECT session_id, version, status, energy_wh, amount_minor, warn_codes FROM {db}.billing_current(from_ms = {f:Int64}, to_ms = {t:Int64}) ORDER BY session_id',
    { f: PERIOD.fromMs, t: PERIOD.toMs },
  );
  return Object.fromEntries(rows.map((r) => [r.session_id, { version: Number(r.version), status: r.status, energy: Number(r.energy_wh), amount: Number(r.amount_minor), warn: r.warn_codes }]));
}

async function flagsOf(store: Store): Promise<Record<string, string[]>> {
  const rows = await store.select<{ session_id: string; code: string }>(
    'SELECT session_id, code FROM {db}.reconcile_flag(from_ms = {f:Int64}, to_ms = {t:Int64}) ORDER BY session_id, code',
    { f: PERIOD.fromMs, t: PERIOD.toMs },
  );
  const out: Record<string, string[]> = {};
  for (const r of rows) (out[r.session_id] ??= []).push(r.code);
  return out;
}

async function count(store: Store, table: string): Promise<number> {
  const r = await store.select<{ n: string }>(`SELECT count() AS n FROM {db}.${table}`);
  return Number(r[0]!.n);
}

void t.test('idempotent re-runs, export freezes, late data adjusts with a new version', async (t) => {
  const store = await tempStore(t, { database: 'rbilling' });
  const dir = t.testdirName;
  const run = (): Promise<RunSummary> => reconcilePeriod(store, PERIOD, {}, cfg, { asOfMs: ASOF });
  const fx = new Fixture().enroll(FLAT);
  // 1: clean, 3000 Wh. 2: interrupted after 20 of 30 intervals (no END). 3: clean, becomes conflicted later.
  fx.session({ sessionId: sid(1), energies: e(30) });
  fx.session({ sessionId: sid(2), energies: e(30), drop: [20, 21, 22, 23, 24, 25, 26, 27, 28, 29], end: null, vehicleWh: null });
  fx.session({ sessionId: sid(3), energies: e(30), startMs: T0 + 86_400_000 });
  await fx.write(store);

  const r1 = await run();
  t.match(r1, { sessions: 3, billed: 3, held: 0, billedWh: 8000, amountMinor: { USD: 101 + 67 + 101 }, records: { created: 3, rewritten: 0, newVersions: 0, unchanged: 0, voided: 0 }, adjustments: 0 });
  t.same(await currentRecords(store), {
    [sid(1)]: { version: 1, status: 'BILLED', energy: 3000, amount: 101, warn: [] },
    [sid(2)]: { version: 1, status: 'BILLED', energy: 2000, amount: 67, warn: ['VEHICLE_MISSING', 'UNFINISHED'] },
    [sid(3)]: { version: 1, status: 'BILLED', energy: 3000, amount: 101, warn: [] },
  });

  const r2 = await run();
  t.match(r2.records, { created: 0, rewritten: 0, newVersions: 0, unchanged: 3, voided: 0 }, 're-run: nothing written');
  t.equal(await count(store, 'billing_record'), 3, 'no duplicate rows');
  const sessionsRows = await store.select<{ n: string }>('SELECT count() AS n FROM {db}.reconcile_current(from_ms = {f:Int64}, to_ms = {t:Int64})', { f: PERIOD.fromMs, t: PERIOD.toMs });
  t.equal(Number(sessionsRows[0]!.n), 3, 'one current result per session');

  // Export as CSV: freezes all three.
  const csvFile = join(dir, 'oct.csv');
  const x1 = await exportPeriod(store, PERIOD, {}, 'csv', csvFile, { nowMs: Date.UTC(2026, 10, 3) });
  t.match(x1, { records: 3, voided: 0, energyWh: 8000, amountMinor: 269 });
  const csv = readFileSync(csvFile, 'utf8').trim().split('\n');
  t.equal(csv.length, 4);
  t.equal(csv[0], 'session_id,version,status,account_id,premise_id,pev_id,program_id,tariff_id,currency,session_start,session_end,record_energy_wh,record_amount_minor,already_exported,previous_version,delta_energy_wh,delta_amount_minor,warn_codes,session_energy_wh,incentive_minor,content_digest,cycle,period_from,period_to,time_zone,session_start_local,session_end_local,review_action,review_action_id,review_outcome,line_kind,line_period,line_wh,line_price_micro_per_kwh,line_amount_minor');
  const [d2] = await store.select<{ d: string }>('SELECT content_digest AS d FROM {db}.billing_record WHERE session_id = {s:String} AND version = 1 LIMIT 1', { s: sid(2) });
  t.equal(csv[2], `${sid(2)},1,BILLED,A000000001,P000000001,1HGCM82633A004352,EV-FLAT,EV-FLAT-2026,USD,2026-10-05T05:00:00.000Z,2026-10-05T05:20:00.000Z,2000,67,0,0,2000,67,VEHICLE_MISSING UNFINISHED,2000,0,${d2!.d},,2026-10-01T07:00:00.000Z,2026-11-01T07:00:00.000Z,America/Los_Angeles,2026-10-04T22:00:00-07:00,2026-10-04T22:20:00-07:00,,,,energy,flat,2000,33600000,67`);

  // Late data: session 2's missing intervals and its END arrive; session 3 gets a conflicting copy;
  // a session 4 nobody had seen appears.
  const late = new Fixture();
  late.session({ sessionId: sid(2), energies: e(30), drop: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19], vehicleWh: 3000 });
  late.session({ sessionId: sid(4), energies: e(10), startMs: T0 + 2 * 86_400_000 });
  await late.write(store);
  const conflict = new Fixture();
  conflict.session({ sessionId: sid(3), energies: e(30), startMs: T0 + 86_400_000, drop: e(30).map((_, k) => k).filter((k) => k !== 7), copies: [{ index: 7, energyWh: 90 }], end: null, vehicleWh: null, grantedWh: null });
  await conflict.write(store);

  const r3 = await run();
  t.match(r3, { sessions: 4, billed: 3, held: 1, adjustments: 3, records: { created: 1, rewritten: 0, newVersions: 1, unchanged: 1, voided: 1 } });
  t.same(await currentRecords(store), {
    [sid(1)]: { version: 1, status: 'BILLED', energy: 3000, amount: 101, warn: [] },
    [sid(2)]: { version: 2, status: 'BILLED', energy: 3000, amount: 101, warn: [] },
    [sid(3)]: { version: 2, status: 'VOID', energy: 0, amount: 0, warn: [] },
    [sid(4)]: { version: 1, status: 'BILLED', energy: 1000, amount: 34, warn: [] },
  });
  t.same(await flagsOf(store), {
    [sid(2)]: ['ADJUSTMENT'],
    [sid(3)]: ['ADJUSTMENT', 'DUPLICATE_CONFLICT'],
    [sid(4)]: ['ADJUSTMENT'],
  });
  const adj = await store.select<{ observed_json: string }>(
    "SELECT observed_json FROM {db}.reconcile_flag(from_ms = {f:Int64}, to_ms = {t:Int64}) WHERE session_id = {s:String} AND code = 'ADJUSTMENT'",
    { f: PERIOD.fromMs, t: PERIOD.toMs, s: sid(2) },
  );
  t.same(JSON.parse(adj[0]!.observed_json), {
    exportedVersion: 1, exportedEnergyWh: 2000, exportedAmountMinor: 67, version: 2, energyWh: 3000, amountMinor: 101,
    deltaEnergyWh: 1000, deltaAmountMinor: 34, voided: 0,
  });
  t.equal(await count(store, 'billing_record'), 6, 'v1 rows kept: nothing exported changed in place');

  // Re-run before the adjustments go out: no new versions, the ADJUSTMENT flags stay.
  const r4 = await run();
  t.match(r4, { adjustments: 3, records: { created: 0, newVersions: 0, rewritten: 0, voided: 0, unchanged: 3 } });
  t.equal(await count(store, 'billing_record'), 6);

  // Export the adjustments as JSON lines: only what has not gone out.
  const jsonFile = join(dir, 'oct-adjusted.jsonl');
  const x2 = await exportPeriod(store, PERIOD, {}, 'json', jsonFile, { nowMs: Date.UTC(2026, 10, 4) });
  t.match(x2, { records: 3, voided: 1, energyWh: 4000, amountMinor: 135 });
  const lines = readFileSync(jsonFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.equal(lines.length, 3);
  t.match(lines[0], { session_id: sid(2), version: 2, previous_version: 1, delta_energy_wh: 1000, delta_amount_minor: 34, record_energy_wh: 3000, record_amount_minor: 101, warn_codes: [] });
  t.same(lines[0]!['lines'], [{ kind: 'energy', period: 'flat', wh: 3000, price_micro_per_kwh: 33_600_000, amount_minor: 101 }]);
  t.match(lines[1], { session_id: sid(3), version: 2, status: 'VOID', previous_version: 1, delta_energy_wh: -3000, delta_amount_minor: -101, lines: [] });
  t.match(lines[2], { session_id: sid(4), version: 1, previous_version: 0, delta_energy_wh: 1000, delta_amount_minor: 34 });
  const again = await exportPeriod(store, PERIOD, {}, 'json', join(dir, 'again.jsonl'));
  t.equal(again.records, 0, 'nothing pending: an empty delta');
  const all = await exportPeriod(store, PERIOD, {}, 'json', join(dir, 'all.jsonl'), { mode: 'all' });
  t.match(all, { records: 4, voided: 1, energyWh: 7000, amountMinor: 236 });

  const r5 = await run();
  t.match(r5, { adjustments: 0, records: { created: 0, newVersions: 0, rewritten: 0, voided: 0, unchanged: 3 } }, 'exported: nothing pending');
  t.same(await flagsOf(store), { [sid(3)]: ['DUPLICATE_CONFLICT'] });

  // A period overlapping the exported one is refused: a session would be billed twice.
  await t.rejects(reconcilePeriod(store, { fromMs: PERIOD.fromMs + 86_400_000, toMs: PERIOD.toMs + 86_400_000 }, {}, cfg, { asOfMs: ASOF }), { code: 'PEV_INPUT' });
});
