/**
 * Benchmark (a program, not a test): the billing system's lookups through the read API
 * (aggregate/rollups.ts) on an embedded store, p50/p99 over random keys, JSON under bench/results/.
 *
 *   npm run bench:queries -- [--data DIR] [--database NAME] [--keys N] [--from ISO] [--to ISO]
 *
 * The store is one that exists (by default the one `npm run bench:reconcile` builds: 1,000,000
 * sessions; build a smaller one with `npm run bench:reconcile -- --sessions 20000 --runs 1 --data DIR`,
 * and one five times larger by copying its folder and running `bench/queries/replicate.ts` on the copy).
 * Opening it applies any missing migration, so a store made before the aggregates is backfilled
 * first (the backfill's time is reported, not counted in the queries). As the other benchmarks,
 * it watches the machine while the queries run: only a quiet run writes `--out`
 * (bench/measure/quiet.ts); a busy one writes beside it and says how to rerun.
 *
 * Queries, each over `--keys` random keys (one warm-up call first, not counted): one session's
 * rollup; one session's minutes; one premise's, PEV's and account's sessions of the period. A
 * program holds most of a fleet's sessions, so its lookup is timed once per program (`--program-runs`),
 * not per key; the whole period's rollups as CSV into a file are timed `--export-runs` times. Before
 * the queries the store's rollups are finished (`pevmeter refresh`, timed and reported apart).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import {
  exportRollups, refreshRollups, sampleKeys, sessionMinutes, sessionRollup, sessionsBy, type SessionKey, type TimeRange,
} from '../../aggregate/rollups.js';
import { openStore } from '../../aggregate/store/connect.js';
import type { Store } from '../../aggregate/store/types.js';
import { packageRoot } from '../../schemas/index.js';
import { verdictLines, watchQuiet } from '../measure/quiet.js';

interface Options {
  data: string;
  database: string;
  keys: number;
  from: string;
  to: string;
  programRuns: number;
  exportRuns: number;
  out: string;
  allowBusy?: boolean;
  refresh: boolean;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got ${value}`);
  return n;
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected 0 or a positive integer, got ${value}`);
  return n;
}

function instant(value: string): string {
  if (Number.isNaN(Date.parse(value))) throw new InvalidArgumentError(`expected an ISO 8601 time, got ${value}`);
  return value;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface Timing {
  query: string;
  calls: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Rows (rollups or minutes) returned, summed over the calls. */
  rows: number;
}

async function time(query: string, keys: readonly string[], call: (key: string) => Promise<number>): Promise<Timing> {
  const ms: number[] = [];
  let rows = 0;
  if (keys[0] !== undefined) await call(keys[0]);
  for (const k of keys) {
    const t0 = performance.now();
    rows += await call(k);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const round = (x: number): number => Math.round(x * 100) / 100;
  const timing = { query, calls: ms.length, p50Ms: round(percentile(ms, 50)), p99Ms: round(percentile(ms, 99)), maxMs: round(ms[ms.length - 1] ?? NaN), rows };
  console.log(`${query.padEnd(22)} ${String(timing.calls).padStart(5)} calls  p50 ${timing.p50Ms.toFixed(1).padStart(9)} ms  p99 ${timing.p99Ms.toFixed(1).padStart(9)} ms  rows ${rows}`);
  return timing;
}

/** Waits (up to `limitMs`) until no merge of `database` is running; says whether it got there. */
async function mergesDone(store: Store, database: string, limitMs: number): Promise<{ waitedMs: number; done: boolean }> {
  const t0 = performance.now();
  for (;;) {
    const [r] = await store.select<{ n: string }>('SELECT count() AS n FROM system.merges WHERE database = {db:String}', { db: database });
    const waitedMs = Math.round(performance.now() - t0);
    if (Number(r?.n ?? 0) === 0) return { waitedMs, done: true };
    if (waitedMs >= limitMs) return { waitedMs, done: false };
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

async function run(o: Options): Promise<void> {
  const store: Store = await openStore({ kind: 'embedded', path: o.data, database: o.database });
  try {
    const m0 = performance.now();
    const migrated = await store.migrate();
    const migrateMs = Math.round(performance.now() - m0);
    // Migrations (and their backfills) run before the watch: they are set-up, not the queries.
    if (migrated.applied.length > 0) console.log(`applied ${migrated.applied.join(', ')} in ${(migrateMs / 1000).toFixed(1)} s (not counted in the queries)`);
    // So is finishing the rollups, which a deployment does after ingest or every few minutes
    // (`pevmeter refresh`); --no-refresh times the reads of a store that was never refreshed.
    const refresh = o.refresh ? await refreshRollups(store) : null;
    if (refresh !== null) console.log(`refreshed ${refresh.stale} session rollups in ${refresh.seconds.toFixed(1)} s (not counted in the queries)`);
    // A refresh (or a migration's backfill) leaves many new parts whose merges run in this process
    // for minutes at 5,000,000 sessions: the lookups are timed once they are done, as a store
    // between refreshes is, not while they take the CPU.
    const settled = await mergesDone(store, o.database, 900_000);
    if (settled.waitedMs > 1_000) console.log(`waited ${(settled.waitedMs / 1000).toFixed(0)} s for background merges${settled.done ? '' : ' (still merging: timed anyway)'}`);
    // Only a quiet run replaces the published figures (bench/measure/quiet.ts).
    const watch = watchQuiet();
    const range: TimeRange = { fromMs: Date.parse(o.from), toMs: Date.parse(o.to) };
    const keys = await sampleKeys(store, o.keys);
    if (keys.sessionIds.length === 0) throw new Error(`${o.data} (database ${o.database}) holds no sessions: build one first (npm run bench:reconcile -- --sessions 20000 --runs 1 --data ${o.data})`);
    const by = (key: SessionKey) => async (): Promise<number> => (await sessionsBy(store, key, range)).length;
    const timings: Timing[] = [
      await time('session rollup', keys.sessionIds, async (k) => ((await sessionRollup(store, k)) === null ? 0 : 1)),
      await time('session minutes', keys.sessionIds, async (k) => (await sessionMinutes(store, k)).length),
      await time('premise sessions', keys.premiseIds, (k) => by({ premiseId: k })()),
      await time('pev sessions', keys.pevIds, (k) => by({ pevId: k })()),
      await time('account sessions', keys.accountIds, (k) => by({ accountId: k })()),
      ...(o.programRuns > 0 ? [await time('program sessions', keys.programIds.flatMap((k) => Array<string>(o.programRuns).fill(k)), (k) => by({ programId: k })())] : []),
    ];
    const exportMs: number[] = [];
    let exportBytes = 0;
    // Into a file, as a user exports: on the embedded store ClickHouse writes it.
    const exportDir = mkdtempSync(join(tmpdir(), 'pev-bench-queries-'));
    try {
      for (let r = 0; r < o.exportRuns; r++) {
        const t0 = performance.now();
        exportBytes = await exportRollups(store, range, join(exportDir, 'rollups.csv'));
        exportMs.push(Math.round(performance.now() - t0));
      }
    } finally {
      rmSync(exportDir, { recursive: true, force: true });
    }
    console.log(`whole period as CSV    ${exportMs.map((x) => `${(x / 1000).toFixed(2)} s`).join(', ')} (${exportBytes} bytes)`);
    const result = {
      benchmark: 'queries',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model.trim() ?? 'unknown', memoryBytes: totalmem(), node: process.version, loadAverage: loadavg() },
      store: { kind: 'embedded (chDB)', data: o.data, database: o.database, migrated: migrated.applied, migrateMs },
      refresh: refresh === null ? null : { sessions: refresh.stale, seconds: Number(refresh.seconds.toFixed(3)) },
      mergesSettled: { waitedMs: settled.waitedMs, done: settled.done },
      period: { from: o.from, to: o.to },
      keys: { sessions: keys.sessionIds.length, premises: keys.premiseIds.length, pevs: keys.pevIds.length, accounts: keys.accountIds.length, programs: keys.programIds.length },
      targets: { sessionP99Ms: 20, keyMonthP99Ms: 50, exportSeconds: 5 },
      timings,
      export: { runs: exportMs, bytes: exportBytes },
      quiet: watch.stop(),
    };
    const requested = resolve(o.out);
    const out = result.quiet.publishable || o.allowBusy === true ? requested : join(dirname(requested), `${basename(requested, '.json')}-busy-${Date.now()}.json`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    console.log(`wrote ${out} (load average ${loadavg().map((x) => x.toFixed(1)).join(' ')})`);
    const busyNote = out === requested ? ' (written anyway: --allow-busy)' : ` ${requested} is unchanged.`;
    for (const line of verdictLines('bench:queries', result.quiet, 'npm run bench:queries', busyNote)) console.error(line);
  } finally {
    await store.close();
  }
}

const program = new Command('bench:queries')
  .description('p50/p99 of the billing lookups through the read API on an embedded store')
  .option('--data <dir>', 'chDB folder of the store', join(packageRoot(), '.data', 'bench-reconcile'))
  .option('--database <name>', 'database in the store', 'pevbench')
  .option('--keys <n>', 'random keys per query', positive, 200)
  .option('--from <iso>', 'period start (UTC)', instant, '2026-10-01T07:00:00Z')
  .option('--to <iso>', 'period end (UTC, exclusive)', instant, '2026-10-31T07:00:00Z')
  .option('--program-runs <n>', 'timed lookups per program; 0 skips them (a program of 2,500,000 sessions returns that many rollups as objects: minutes)', nonNegative, 3)
  .option('--export-runs <n>', 'timed exports of the whole period', positive, 3)
  .option('--out <file>', 'where the JSON of a quiet run goes; a busy run writes <name>-busy-<time>.json beside it', join(packageRoot(), 'bench', 'results', 'queries.json'))
  .option('--allow-busy', 'write --out even if other work shared the machine (the result says so)')
  .option('--no-refresh', 'do not finish the rollups first: time the reads of a store never refreshed (every rollup from its states)')
  .action(async (o: Options) => run(o));

await program.parseAsync(process.argv);
