/**
 * Benchmark (a program, not a test): reconcile a billing period of N sessions (default 1,000,000)
 * on the embedded store, print sessions per second, write bench/results/reconcile.json.
 *
 *   npm run bench:reconcile -- [--sessions N] [--data DIR] [--reuse] [--runs K]   (--help says more)
 *
 * The rows go straight into the raw tables as TSV through Store.insertTsv (the insert path
 * ingest uses), not through Kafka: this measures reconciliation, not ingest. The data has the
 * shape of the fleet simulator's, at 15-minute metering (the common billing-grade interval;
 * the simulator's 1-minute default would be 15 times the rows for the same sessions):
 *   - premises = sessions / 20, one enrolled PEV each, 80% on EV-TOU-OFFPEAK;
 *   - sessions spread over a 30-day period, 4 to 20 intervals each (12 on average), integer
 *     register readings that continue across a premise's sessions;
 *   - per session START, REQUEST, AVAILABLE, one PROGRESS, END, and two vehicle reports;
 *   - about 3% of sessions carry a fault (gap, conflicting copy, vehicle off, no end summary,
 *     on-peak charging), so rules fire and held sessions exist.
 * `--reuse` keeps a store generated earlier with the same N in the same folder.
 * The timed part is `reconcilePeriod` alone (first run: every record created; second run:
 * idempotent, every record unchanged); both are reported.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { openStore } from '../aggregate/store/connect.js';
import type { Store } from '../aggregate/store/types.js';
import type { RawTable } from '../schemas/tables.js';
import { resolveConfig } from '../reconcile/config.js';
import { reconcilePeriod, type RunSummary } from '../reconcile/run.js';
import { clickhouseMigrations, packageRoot } from '../schemas/index.js';

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v.replace(/[_,]/g, ''));
    if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${name}: expected a positive integer, got "${v}"`);
    return n;
  };
}

const args = new Command('bench:reconcile')
  .description('reconcile a billing period of N sessions on the embedded store; prints sessions/s, writes bench/results/reconcile.json')
  .option('--sessions <n>', 'sessions in the period', positiveInt('--sessions'), 1_000_000)
  .option('--data <dir>', 'the embedded store\'s folder', join(packageRoot(), '.data', 'bench-reconcile'))
  .option('--reuse', 'keep a store generated earlier with the same --sessions in the same folder', false)
  .option('--runs <k>', 'timed runs: the first creates every billing record, the others re-run unchanged', positiveInt('--runs'), 2)
  .parse(process.argv)
  .opts<{ sessions: number; data: string; reuse: boolean; runs: number }>();

const N = args.sessions;
const RUNS = args.runs;
const FROM = Date.UTC(2026, 9, 1, 7);
const TO = Date.UTC(2026, 9, 31, 7);
const I = 900;
const PREMISES = Math.max(1, Math.floor(N / 20));

/** Deterministic 32-bit mixing (splitmix-like), so runs generate the same data. */
function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}
const hex8 = (x: number): string => x.toString(16).padStart(8, '0');
const sessionIdOf = (i: number): string => 'S-' + hex8(mix(i * 2 + 1)) + hex8(mix(i * 2 + 2));
const premiseIdOf = (p: number): string => 'P' + String(100_000_000 + p);
const accountIdOf = (p: number): string => 'A' + String(100_000_000 + p);
const esciOf = (p: number): string => 'ESCI-' + hex8(p).toUpperCase();
const eumdOf = (p: number): string => 'EUMD-' + hex8(p).toUpperCase();
const VIN = '0123456789ABCDEFGHJKLMNPRSTUVWXYZ';
function vinOf(p: number): string {
  let v = '';
  let x = p;
  for (let k = 0; k < 17; k++) {
    v += VIN[x % 33];
    x = Math.floor(x / 33) + mix(p + k) % 7;
  }
  return v;
}

class Chunk {
  parts: string[] = [];
  size = 0;
  add(line: string): void {
    this.parts.push(line);
    this.size += line.length;
  }
}

async function generate(store: Store): Promise<{ intervals: number; events: number; vehicle: number }> {
  const started = Date.now();
  const tables: Record<string, Chunk> = {
    interval_raw: new Chunk(),
    session_event_raw: new Chunk(),
    vehicle_report_raw: new Chunk(),
    enrollment: new Chunk(),
  };
  const counts = { intervals: 0, events: 0, vehicle: 0 };
  const flush = async (force: boolean): Promise<void> => {
    for (const [table, c] of Object.entries(tables)) {
      if (c.parts.length === 0 || (!force && c.size < 64 * 1024 * 1024)) continue;
      await store.insertTsv(table as RawTable, [Buffer.from(c.parts.join(''), 'latin1')]);
      c.parts = [];
      c.size = 0;
    }
  };
  for (let p = 0; p < PREMISES; p++) {
    const tou = mix(p * 7 + 3) % 10 < 8;
    tables['enrollment']!.add(
      `${vinOf(p)}\t${premiseIdOf(p)}\t${accountIdOf(p)}\t${tou ? 'EV-TOU-OFFPEAK' : 'EV-FLAT'}\t${tou ? 'EV-TOU-2026' : 'EV-FLAT-2026'}\t${esciOf(p)}\t${eumdOf(p)}\t${Date.UTC(2025, 0, 1)}\t0\t7200\tpev.enrollment\t0\t${p}\t0\n`,
    );
  }
  const register = new Float64Array(PREMISES).fill(1_000_000);
  const slots = (TO - FROM) / (I * 1000);
  let offset = 0;
  for (let i = 0; i < N; i++) {
    const r = mix(i + 0x9e3779b9);
    const p = i % PREMISES;
    const sessionId = sessionIdOf(i);
    const esci = esciOf(p);
    const eumd = eumdOf(p);
    const premise = premiseIdOf(p);
    const pev = vinOf(p);
    const n = 4 + (r % 17);
    const tou = mix(p * 7 + 3) % 10 < 8;
    // Off-peak start for TOU premises: local 21:00-01:00 (04:00-08:00 UTC in PDT); anywhere for flat.
    const day = Math.floor(i / PREMISES) % 30;
    const fault = r % 100 < 3 ? (r >>> 20) % 5 : -1;
    // Slot 0 is local midnight of the period's first day (PDT). TOU sessions start 21:00-01:00
    // local, or at 16:00 (on-peak) under fault 4; flat ones any time of day.
    const firstSlot = tou ? day * 96 + (fault === 4 ? 64 : 84 + ((r >>> 8) % 16)) : Math.min(slots - 30, day * 96 + ((r >>> 8) % 80));
    const start = FROM + firstSlot * I * 1000;
    const power = 1440 + ((r >>> 12) % 5) * 1440;
    let total = 0;
    let reg = register[p]!;
    const startReg = reg;
    let line = '';
    let extra = '';
    for (let k = 0; k < n; k++) {
      const e = Math.floor((power * I) / 3600 * (k === n - 1 ? 0.4 : 0.99));
      reg += e;
      total += e;
      if (fault === 0 && k === 2) continue; // gap
      line += `${sessionId}\t${k}\t${esci}\t${eumd}\t${premise}\t${pev}\t${(start / 1000 + k * I) | 0}\t${I}\t${e}\t${reg}\t0\tpev.eumd-interval\t0\t${offset++}\t0\n`;
      if (fault === 1 && k === 3) {
        extra = `${sessionId}\t${k}\t${esci}\t${eumd}\t${premise}\t${pev}\t${(start / 1000 + k * I) | 0}\t${I}\t${e - 5}\t${reg}\t0\tpev.eumd-interval\t0\t${offset + 1_000_000_000}\t0\n`;
      }
      counts.intervals++;
    }
    register[p] = reg;
    tables['interval_raw']!.add(line + extra);
    const end = start + n * I * 1000 - 120_000;
    const plug = start - 40_000;
    const ev = (seq: number, type: string, t: number, rest: string): string =>
      `${sessionId}\t${seq}\t${type}\t${esci}\t${premise}\t${pev}\t${t}\t${rest}\tpev.session-event\t0\t${offset++}\t0\n`;
    // Columns after event_time_ms: connection binding plug_in_ms requested_wh max_rate_w departure_ms granted_wh rate_w
    // schedule_start_ms schedule_end_ms delay_reason running_wh intervals start_ms end_ms duration_s energy_wh
    let evs =
      ev(0, 'START', plug + 5000, `PREMISE_EVSE\tBOUND\t${plug}\t0\t0\t0\t0\t0\t0\t0\t\t0\t0\t0\t0\t0\t0`) +
      ev(1, 'REQUEST', plug + 6000, `\t\t0\t${total + 2000}\t7200\t${end + 7_200_000}\t0\t0\t0\t0\t\t0\t0\t0\t0\t0\t0`) +
      ev(2, 'AVAILABLE', plug + 7000, `\t\t0\t0\t0\t0\t${total + 1000}\t7200\t${start}\t${end + 3_600_000}\tNONE\t0\t0\t0\t0\t0\t0`) +
      ev(3, 'PROGRESS', start + 4 * I * 1000 + 500, `\t\t0\t0\t0\t0\t0\t0\t0\t0\t\t${Math.round((total * 4) / n)}\t4\t0\t0\t0\t0`);
    let nev = 4;
    if (fault !== 3) {
      evs += ev(4, 'END', end + 3000, `\t\t0\t0\t0\t0\t0\t0\t0\t0\t\t0\t0\t${start}\t${end}\t${Math.round((end - start) / 1000)}\t${total}`);
      nev++;
    }
    tables['session_event_raw']!.add(evs);
    counts.events += nev;
    const vehicleWh = fault === 2 ? Math.round(total * 1.2) : Math.round(total * (1 + (((r >>> 4) % 21) - 10) / 1000));
    tables['vehicle_report_raw']!.add(
      `${sessionId}\t${end - 600_000}\t${pev}\t${esci}\t${Math.round(vehicleWh / 2)}\tpev.vehicle-report\t0\t${offset++}\t0\n` +
        `${sessionId}\t${end}\t${pev}\t${esci}\t${vehicleWh}\tpev.vehicle-report\t0\t${offset++}\t0\n`,
    );
    counts.vehicle += 2;
    if (startReg < 0) throw new Error('unreachable');
    if (i % 50_000 === 49_999) {
      await flush(false);
      process.stdout.write(`\rgenerated ${i + 1} sessions (${Math.round((Date.now() - started) / 1000)} s)`);
    }
  }
  await flush(true);
  process.stdout.write(`\rgenerated ${N} sessions in ${Math.round((Date.now() - started) / 1000)} s\n`);
  return counts;
}

/** The migrations that create reconcile's and billing's tables (not the raw data or the aggregates). */
const RECONCILE_MIGRATIONS = ['003_reconcile', '004_billing_digest', '007_review', '008_bill_cycles'];

async function resetReconcileSide(store: Store): Promise<void> {
  const db = store.database;
  const views: string[] = [];
  const tables: string[] = [];
  for (const m of clickhouseMigrations().filter((x) => RECONCILE_MIGRATIONS.includes(x.name))) {
    for (const [, kind, name] of m.sql.matchAll(/^CREATE (TABLE|VIEW) IF NOT EXISTS \{db\}\.(\w+)/gm)) (kind === 'VIEW' ? views : tables).push(name!);
  }
  for (const v of views) await store.client.command({ query: `DROP VIEW IF EXISTS ${db}.${v}` });
  for (const t of tables) await store.client.command({ query: `DROP TABLE IF EXISTS ${db}.${t}` });
  await store.client.command({ query: `DELETE FROM ${db}.schema_migrations WHERE name IN {names:Array(String)}`, query_params: { names: RECONCILE_MIGRATIONS } });
}

async function main(): Promise<void> {
  const dir = args.data;
  const manifest = join(dir, 'bench-manifest.json');
  let generated: { sessions: number; intervals: number; events: number; vehicle: number } | undefined;
  if (args.reuse && existsSync(manifest)) {
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as typeof generated;
    if (m?.sessions === N) generated = m;
  }
  if (generated === undefined) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }
  const store = await openStore({ kind: 'embedded', path: dir, database: 'pevbench' });
  if (generated !== undefined) {
    // Reusing the raw data: start the reconcile side from scratch (results of earlier runs would
    // make the first run here a re-run). Every object the reconcile migrations create goes, and
    // their records with them, so each is applied again in order; read from the migrations
    // themselves, so a later one that adds columns to these tables cannot be left half-applied.
    await resetReconcileSide(store);
  }
  await store.migrate();
  if (generated === undefined) {
    generated = { sessions: N, ...(await generate(store)) };
    await store.client.command({ query: `OPTIMIZE TABLE ${store.database}.interval_raw FINAL` }).catch(() => undefined);
    writeFileSync(manifest, JSON.stringify(generated));
  }
  const cfg = resolveConfig({});
  const runs: { run: number; seconds: number; sessions: number; sessionsPerSecond: number; cpuSeconds: number; billed: number; held: number; records: RunSummary['records']; timings: RunSummary['timings']; loadAverage: number[] }[] = [];
  for (let k = 1; k <= RUNS; k++) {
    const t0 = process.hrtime.bigint();
    // CPU of the whole process: chDB runs its threads in it, so this counts the SQL work too.
    const cpu0 = process.cpuUsage();
    const isTty = process.stdout.isTTY;
    const s = await reconcilePeriod(store, { fromMs: FROM, toMs: TO }, {}, cfg, {
      asOfMs: TO + 86_400_000,
      onProgress: (p) => {
        if (p.phase !== 'batch') return;
        if (isTty) process.stdout.write(`\rrun ${k}: batch ${p.batch}/${p.batches}, ${p.sessions} sessions`);
        else if (p.batch % 4 === 0 || p.batch === p.batches) console.log(`run ${k}: batch ${p.batch}/${p.batches}, ${p.sessions} sessions, ${(p.elapsedMs / 1000).toFixed(1)} s`);
      },
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const used = process.cpuUsage(cpu0);
    const cpuSeconds = Math.round((used.user + used.system) / 1e4) / 100;
    if (isTty) process.stdout.write('\n');
    const sps = Math.round(s.sessions / seconds);
    console.log(`run ${k}: ${s.sessions} sessions in ${seconds.toFixed(1)} s = ${sps} sessions/s (CPU ${cpuSeconds} s over all threads; billed ${s.billed}, held ${s.held}; records ${JSON.stringify(s.records)}; ms ${JSON.stringify(s.timings)}; load ${loadavg().map((x) => x.toFixed(1)).join(' ')})`);
    runs.push({ run: k, seconds: Math.round(seconds * 100) / 100, sessions: s.sessions, sessionsPerSecond: sps, cpuSeconds, billed: s.billed, held: s.held, records: s.records, timings: s.timings, loadAverage: loadavg() });
  }
  await store.close();
  const result = {
    benchmark: 'reconcile',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model.trim() ?? 'unknown', memoryBytes: totalmem(), node: process.version, loadAverage: loadavg() },
    store: 'embedded (chDB)',
    data: { ...generated, intervalS: I, periodFrom: new Date(FROM).toISOString(), periodTo: new Date(TO).toISOString() },
    targetSeconds: 60,
    runs,
  };
  const out = join(packageRoot(), 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'reconcile.json'), JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${join(out, 'reconcile.json')}`);
}

await main();
