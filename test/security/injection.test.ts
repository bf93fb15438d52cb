/**
 * Every value a user gives that reaches SQL travels as data: a server-side parameter
 * ({name:Type}), a TabSeparated/JSON field of an insert, or nothing at all because validation
 * refused it first. Injection strings are fed to each such input:
 *
 *   store.database        config (file/env/flag), openStore (API), --database (CLI): an identifier
 *                         or PEV_CONFIG, before any folder or connection is made
 *   reconcile filters     --account --premise --pev --program (runReconcile, and the CLI): no
 *                         session selected, the value stored verbatim in reconcile_run, the report
 *                         escapes it
 *   --from --to --as-of   a UTC instant or PEV_INPUT
 *   Store.select params   round-trip unchanged
 *   container file names  become src_topic through the TSV insert, verbatim, one row each
 *   review                session IDs, --account, --code: parameters, nothing selected; reasons
 *                         and operators: TSV fields of an append, read back verbatim
 *
 * After all of it: the same tables, with the same row counts.
 */
import t from 'tap';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { listSessions } from '../../reconcile/review/command.js';
import { act } from '../../reconcile/review/state.js';
import { loadActions } from '../../reconcile/review/actions.js';
import { openStore } from '../../aggregate/store/connect.js';
import type { Store } from '../../aggregate/store/types.js';
import { toInt } from '../../aggregate/store/values.js';
import { loadConfig } from '../../schemas/config.js';
import { createDecodePool } from '../../ingest/decode/pool.js';
import { createLogger } from '../../ingest/log.js';
import { Metrics } from '../../ingest/metrics.js';
import { ingestFiles } from '../../ingest/pipeline/files.js';
import { runReconcile } from '../../reconcile/command.js';
import type { CommandIo, ReconcileFlags } from '../../reconcile/command.js';
import { Fixture, sid } from '../reconcile/fixtures.js';
import { goodInterval } from '../ingest/bad-input/cases.js';
import { buildContainer } from '../ingest/bad-input/container-files.js';
import { runCli } from './helpers.js';

/** Classic and ClickHouse-specific injection strings, and bytes that break naive escaping. */
export const INJECTIONS = [
  "' OR 1=1 --",
  "'; DROP TABLE pevmeter.interval_raw; --",
  "'; DROP TABLE pevsec.interval_raw; --",
  '{x:String}',
  "{db}.interval_raw WHERE 1=1 OR session_id = '",
  "\\' OR \\'1\\'=\\'1",
  'back\\slash\\',
  '") OR 1=1 --',
  '`interval_raw`',
  "A000000001' OR ''='",
  "A000000001' UNION ALL SELECT name FROM system.tables --",
  '1 OR 1=1',
  '%',
  'line\nbreak\ttab\rreturn',
  'NUL\u0000byte',
  'ünïcødé Ω 😀 \u202e',
  '<script>alert(1)</script>',
] as const;

const DB = 'pevsec';
const dir = t.testdirName;
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
t.teardown(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
const data = join(dir, 'chdb');

function io(): CommandIo & { out: () => string } {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: false });
  let o = '';
  stdout.on('data', (c: Buffer) => (o += c.toString()));
  stderr.resume();
  return { stdout, stderr, out: () => o };
}

/** Every table of the database with its row count: the "intact" fingerprint. */
async function fingerprint(store: Store): Promise<Record<string, number>> {
  const tables = await store.select<{ name: string }>("SELECT name FROM system.tables WHERE database = {db:String} AND engine NOT LIKE '%View' ORDER BY name", { db: DB });
  const out: Record<string, number> = {};
  for (const { name } of tables) {
    const [r] = await store.select<{ n: string }>(`SELECT count() AS n FROM {db}.${name}`);
    out[name] = toInt(r?.n);
  }
  return out;
}

const RAW = ['interval_raw', 'session_event_raw', 'vehicle_report_raw', 'enrollment', 'dead_letter'];
const base = { data, database: DB, from: '2026-10-01T07:00:00Z', to: '2026-11-01T07:00:00Z', asOf: '2026-11-02T00:00:00Z', progress: 'none' as const };

void t.test('store.database: config, environment and the store API accept an identifier only', async (t) => {
  for (const x of INJECTIONS) {
    t.throws(() => loadConfig({ env: {}, flags: { 'store.database': x } }), { code: 'PEV_CONFIG', message: /store\.database/ }, `flag ${JSON.stringify(x)}`);
    if (!x.includes('\u0000')) t.throws(() => loadConfig({ env: { PEVMETER_CLICKHOUSE_DATABASE: x } }), { code: 'PEV_CONFIG', message: /store\.database/ }, `env ${JSON.stringify(x)}`);
    await t.rejects(openStore({ kind: 'embedded', path: join(dir, 'never'), database: x }), { code: 'PEV_CONFIG' }, `openStore embedded ${JSON.stringify(x)}`);
    await t.rejects(openStore({ kind: 'http', url: 'http://127.0.0.1:1', username: 'u', password: '', database: x, requestTimeoutMs: 1000 }), { code: 'PEV_CONFIG' }, `openStore http ${JSON.stringify(x)}`);
  }
  t.throws(() => readFileSync(join(dir, 'never')), { code: 'ENOENT' }, 'a refused name creates no folder');
});

void t.test('with data in the store', async (t) => {
  const store = await openStore({ kind: 'embedded', path: data, database: DB });
  await store.migrate();
  const fx = new Fixture().enroll({ programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026' });
  fx.session({ sessionId: sid(1), energies: Array.from({ length: 30 }, () => 100) });
  fx.session({ sessionId: sid(2), energies: Array.from({ length: 20 }, () => 50) });
  await fx.write(store);
  const before = await fingerprint(store);
  t.ok(before['interval_raw']! > 0 && before['enrollment'] === 1, `seeded: ${JSON.stringify(before)}`);

  await t.test('Store.select: a value is a parameter, it comes back unchanged and matches nothing', async (t) => {
    for (const x of INJECTIONS) {
      const [echo] = await store.select<{ v: string }>('SELECT {v:String} AS v', { v: x });
      t.equal(echo?.v, x, `${JSON.stringify(x)} round-trips`);
      const [n] = await store.select<{ n: string }>('SELECT count() AS n FROM {db}.interval_raw WHERE session_id = {v:String} OR premise_id = {v:String}', { v: x });
      t.equal(toInt(n?.n), 0, `${JSON.stringify(x)} matches no row`);
    }
  });

  await t.test('reconcile filters: injection strings select nothing, are stored verbatim, and the report escapes them', async (t) => {
    const control = await runReconcile({ ...base, account: 'A000000001' }, io(), { store });
    t.equal(control.summary.sessions, 2, 'the real account selects its 2 sessions (the filter works)');
    const fields = ['account', 'premise', 'pev', 'program'] as const;
    const columns = { account: 'filter_account', premise: 'filter_premise', pev: 'filter_pev', program: 'filter_program' } as const;
    for (const field of fields) {
      for (const x of INJECTIONS) {
        const flags: ReconcileFlags = { ...base, [field]: x };
        const r = await runReconcile(flags, io(), { store }).then((v) => v, (e: unknown) => e as Error);
        if (r instanceof Error) {
          t.match(r, { code: /^PEV_/ }, `--${field} ${JSON.stringify(x)}: refused cleanly (${r.message})`);
          continue;
        }
        t.equal(r.summary.sessions, 0, `--${field} ${JSON.stringify(x)}: no session`);
        const [row] = await store.select<Record<string, string>>(`SELECT ${columns[field]} AS v FROM {db}.reconcile_run WHERE run_id = {id:String}`, { id: r.summary.runId });
        t.equal(row?.['v'], x, `--${field} ${JSON.stringify(x)}: stored verbatim in reconcile_run`);
      }
    }
    const report = join(dir, 'report.html');
    const out = join(dir, 'export.json');
    await runReconcile({ ...base, premise: '<script>alert(1)</script>', report, export: 'json', out }, io(), { store });
    const html = readFileSync(report, 'utf8');
    t.notMatch(html, /<script>alert/, 'the report shows the filter escaped');
    t.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  });

  await t.test('review: session IDs and filters select nothing; reasons and operators are stored verbatim', async (t) => {
    for (const x of INJECTIONS) {
      t.same(await listSessions(store, { account: x, status: 'all' }), [], `--account ${JSON.stringify(x)}: nothing`);
      t.same(await listSessions(store, { code: x, status: 'all' }), [], `--code ${JSON.stringify(x)}: nothing`);
      await t.rejects(act(store, x, 'HOLD', { reason: 'r' }), { code: 'PEV_REVIEW_UNKNOWN_SESSION' }, `session ${JSON.stringify(x)}: unknown`);
      // A pending hold makes the session held for the next action: hold and release alternate.
      const hold = await act(store, sid(1), 'HOLD', { reason: x, operator: x });
      const release = await act(store, sid(1), 'RELEASE', { reason: `${x} (released)`, operator: x });
      const back = (await loadActions(store, sid(1))).filter((a) => a.actionId === hold.actionId || a.actionId === release.actionId);
      t.same(back.map((a) => [a.reason, a.operator]), [[x.trim(), x.trim()], [`${x} (released)`.trim(), x.trim()]], `reason and operator ${JSON.stringify(x)}: verbatim (trimmed)`);
    }
  });

  await t.test('--from, --to and --as-of: a UTC instant or PEV_INPUT', async (t) => {
    for (const x of [...INJECTIONS, '2026-10-01T00:00:00Z; DROP TABLE x', "2026-10-01T00:00:00+00:00' --", '0x10', '1e3']) {
      for (const field of ['from', 'to', 'asOf'] as const) {
        await t.rejects(runReconcile({ ...base, [field]: x }, io(), { store }), { code: 'PEV_INPUT' }, `--${field} ${JSON.stringify(x)}`);
      }
    }
  });

  await t.test('container file names reach src_topic as data through the TSV insert', async (t) => {
    const files = join(dir, 'files');
    mkdirSync(files, { recursive: true });
    const names = INJECTIONS.filter((x) => !x.includes('/') && !x.includes('\u0000')).map((x, i) => `f${i}-${x}`);
    const paths = names.map((name, i) => {
      const p = join(files, `${name}.avro`);
      writeFileSync(p, buildContainer('interval', [[goodInterval(5000 + i)]]).bytes);
      return p;
    });
    const cfg = loadConfig({ env: {}, flags: { 'store.path': data, 'store.database': DB } });
    const pool = createDecodePool({ threads: 1, maxQueue: 64 });
    try {
      const summary = await ingestFiles(paths, { cfg, store, pool, metrics: new Metrics(), log: createLogger('silent') });
      t.equal(summary.rowsByTable['interval_raw'], names.length, 'one row per file');
    } finally {
      await pool.close();
    }
    const rows = await store.select<{ src_topic: string }>('SELECT src_topic FROM {db}.interval_raw WHERE seq >= 5000 ORDER BY seq');
    t.same(rows.map((r) => r.src_topic), names, 'every file name stored verbatim as src_topic');
  });

  const after = await fingerprint(store);
  for (const table of RAW) t.equal(after[table], before[table]! + (table === 'interval_raw' ? INJECTIONS.filter((x) => !x.includes('/') && !x.includes('\u0000')).length : 0), `${table}: intact`);
  t.same(Object.keys(after).sort(), Object.keys(before).sort(), 'no table dropped or added');
  await store.close();
});

void t.test('the command line: --database with SQL in it', async (t) => {
  const bad = await runCli(['migrate', '--data', data, '--database', "x'; DROP DATABASE pevsec; --"], { env: {}, timeoutMs: 120_000 });
  t.equal(bad.code, 64, '--database with SQL: exit 64');
  t.match(bad.stderr, /pevmeter: PEV_CONFIG: .*store\.database/, 'names the option');
});

void t.test('the command line: reconcile filters and period with SQL in them', async (t) => {
  // chDB holds a folder for one process at a time: count, close, let the CLI run, count again.
  const count = async (): Promise<number> => {
    const store = await openStore({ kind: 'embedded', path: data, database: DB });
    try {
      await store.migrate();
      const [n] = await store.select<{ n: string }>('SELECT count() AS n FROM {db}.interval_raw');
      return toInt(n?.n);
    } finally {
      await store.close();
    }
  };
  const before = await count();
  const r = await runCli(['reconcile', '--data', data, '--database', DB, '--from', base.from, '--to', base.to, '--as-of', base.asOf, '--progress', 'none', '--account', "A000000001' OR 1=1 --", '--pev', "'; DROP TABLE pevsec.interval_raw; --"], { env: {}, timeoutMs: 180_000 });
  t.equal(r.code, 0, `reconcile with injection filters exits 0${r.code === 0 ? '' : `: ${r.stderr.slice(-1500)}`}`);
  t.match(JSON.parse(r.stdout || '{}') as unknown, { sessions: 0 }, 'and selects nothing');
  const when = await runCli(['reconcile', '--data', data, '--database', DB, '--from', "2026-10-01' OR 1=1 --", '--to', base.to, '--progress', 'none'], { env: {}, timeoutMs: 180_000 });
  t.equal(when.code, 64, '--from with SQL: exit 64');
  t.match(when.stderr, /PEV_INPUT: --from/);
  t.equal(await count(), before, `interval_raw still there, with its ${before} rows`);
});
