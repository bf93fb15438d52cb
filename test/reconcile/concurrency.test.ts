/**
 * Concurrent reconcile runs and review actions on the embedded store.
 *
 *   - A second process cannot open the folder at all: chDB's lock refuses it, and the CLI says so
 *     naming the folder (reconcile and review alike). Built code (dist/) runs the processes.
 *   - In one process (the library, or a server shared by many processes), two runs of one period
 *     started together interleave their queries: the period's lease lets one through and refuses
 *     the other with PEV_RECONCILE_BUSY; one version per record results.
 *   - A review action recorded while a run is in progress is not lost: pending after that run,
 *     applied by the next.
 *   - A lease whose holder stopped renewing it expires; its holder refuses to write after that.
 *   - `pevmeter reconcile --export` holds the lease through the export, for a cycle as for a period.
 */
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Store } from '../../aggregate/store/types.js';
import { runReconcile } from '../../reconcile/command.js';
import { resolveConfig } from '../../reconcile/config.js';
import { CyclePlan } from '../../reconcile/cycles.js';
import { PeriodLease, liveRuns } from '../../reconcile/lease.js';
import { reconcilePeriod } from '../../reconcile/run.js';
import { act, actionViews, loadResults } from '../../reconcile/review/state.js';
import { loadActions } from '../../reconcile/review/actions.js';
import { insertRows } from '../../reconcile/tsv.js';
import type { Period } from '../../reconcile/types.js';
import { packageRoot } from '../../schemas/index.js';
import { tempStore } from '../helpers/services.js';
import { Fixture, sid } from './fixtures.js';

const root = packageRoot();
const PERIOD: Period = { fromMs: Date.UTC(2026, 9, 1, 7), toMs: Date.UTC(2026, 10, 1, 7) };
const AS_OF = Date.UTC(2026, 10, 2);
const CFG = resolveConfig({});
const FLAT = { programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026' };

void t.test('a second process on the folder is refused by the store lock, naming the folder', async (t) => {
  const dir = join(t.testdirName, 'chdb');
  // The first process: a real reconcile-capable store held open, as a long run would.
  const code = `const { openStore } = await import(${JSON.stringify(join(root, 'dist', 'aggregate', 'store', 'connect.js'))});
const s = await openStore({ kind: 'embedded', path: ${JSON.stringify(dir)}, database: 'pevmeter' });
await s.migrate();
process.stdout.write('holding\\n');
setTimeout(() => {}, 60_000);`;
  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the holder did not open the folder in 60 s')), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('holding')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const cli = (args: string[]) => spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), ...args, '--data', dir, '--log-level', 'error'], { encoding: 'utf8', timeout: 60_000 });
  const rec = cli(['reconcile', '--from', '2026-10-01T07:00:00Z', '--to', '2026-11-01T07:00:00Z', '--progress', 'none']);
  t.equal(rec.status, 1, 'reconcile exits 1');
  t.match(rec.stderr, `pevmeter: PEV_STORE_LOCKED: the embedded store folder ${dir} is in use by process ${child.pid!}`, 'reconcile: the folder and the holder');
  const rv = cli(['review', 'release', sid(1), '--reason', 'checked']);
  t.equal(rv.status, 1, 'review exits 1');
  t.match(rv.stderr, `pevmeter: PEV_STORE_LOCKED: the embedded store folder ${dir} is in use by process ${child.pid!}`, 'review: the folder and the holder');
});

void t.test('two runs of one period at once in one process: one runs, the other is refused; an action during a run waits for the next', async (t) => {
  const store = await tempStore(t, { database: 'rconc' });
  const fx = new Fixture().enroll(FLAT);
  for (let i = 1; i <= 4; i++) fx.session({ sessionId: sid(i), energies: Array.from({ length: 30 }, () => 100), vehicleWh: i === 4 ? 9000 : 3000 });
  await fx.write(store);

  const results = await Promise.allSettled([
    reconcilePeriod(store, PERIOD, {}, CFG, { asOfMs: AS_OF }),
    reconcilePeriod(store, PERIOD, {}, CFG, { asOfMs: AS_OF }),
  ]);
  const ok = results.filter((r) => r.status === 'fulfilled');
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  t.equal(ok.length, 1, 'one run goes through');
  t.equal(refused.length, 1, 'the other is refused');
  t.match(refused[0]!.reason, {
    code: 'PEV_RECONCILE_BUSY', retryable: true,
    message: /^another reconcile run holds the period \[2026-10-01T07:00:00.000Z, 2026-11-01T07:00:00.000Z\): run [0-9a-f-]{36} on .* pid \d+, (running|starting) since .*, lease until .*; wait for it to finish and run again/,
  });
  t.match((ok[0] as PromiseFulfilledResult<{ billed: number; held: number }>).value, { billed: 3, held: 1 });
  const [rows] = await store.select<{ n: number; k: number }>('SELECT count() AS n, uniqExact(session_id, version) AS k FROM {db}.billing_record FINAL');
  t.same([Number(rows!.n), Number(rows!.k)], [3, 3], 'one current record per session, one version each');
  t.same(await liveRuns(store, PERIOD), [], 'no lease left behind: the winner released, the refused stepped back');

  // A review action recorded while a run is in progress.
  let recorded: Promise<unknown> = Promise.resolve();
  const during = await reconcilePeriod(store, PERIOD, {}, CFG, {
    asOfMs: AS_OF,
    onProgress: (p) => {
      if (p.phase === 'open') recorded = act(store, sid(4), 'RELEASE', { reason: 'counter faulty', operator: 'erin' });
    },
  });
  await recorded;
  t.match(during, { held: 1, review: { sessions: 0 } }, 'the run in progress read the actions before the action was recorded');
  const views = actionViews(await loadActions(store, sid(4)), await loadResults(store, { sessionId: sid(4) }));
  t.match(views, [{ action: 'RELEASE', state: 'pending' }], 'not lost: pending');
  const next = await reconcilePeriod(store, PERIOD, {}, CFG, { asOfMs: AS_OF });
  t.match(next, { billed: 4, held: 0, review: { sessions: 1, applied: 1 } }, 'the next run applies it');
  const after = actionViews(await loadActions(store, sid(4)), await loadResults(store, { sessionId: sid(4) }));
  t.match(after, [{ action: 'RELEASE', state: 'applied', outcome: 'APPLIED' }]);
});

void t.test('lease: a crashed holder expires; a holder that could not renew refuses to write', async (t) => {
  const store = await tempStore(t, { database: 'rlease' });
  // A run that crashed after taking the lease: its ACTIVE row stays, unrenewed.
  const now = Date.now();
  await insertRows(store, 'reconcile_lease', ['period_from_ms', 'period_to_ms', 'run_id', 'holder', 'state', 'rank_ms', 'written_ms', 'expires_ms'], [
    [PERIOD.fromMs, PERIOD.toMs, 'run-crashed', 'host-a pid 1', 'ACTIVE', now, now, now + 400],
  ]);
  await t.rejects(PeriodLease.acquire(store, PERIOD, 'run-b', { ttlMs: 60_000, waitMs: 0 }), {
    code: 'PEV_RECONCILE_BUSY', message: /run run-crashed on host-a pid 1, running since .*, lease until .*; wait for it to finish and run again, or if that process is gone, retry after/,
  }, 'refused while the lease is live');
  t.same((await liveRuns(store, PERIOD)).map((r) => r.runId), ['run-crashed'], 'the refused run stepped back');
  await new Promise((r) => setTimeout(r, 500));
  t.same(await liveRuns(store, PERIOD), [], 'expired: dead');

  // A holder whose renewals fail (the store refuses its inserts) stops writing once its lease runs out.
  let failInserts = false;
  const flaky = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'insertTsvColumns' && failInserts) return () => Promise.reject(new Error('store down'));
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const b = await PeriodLease.acquire(flaky, PERIOD, 'run-b', { ttlMs: 300 });
  t.doesNotThrow(() => b.check(), 'fresh');
  await new Promise((r) => setTimeout(r, 400));
  t.doesNotThrow(() => b.check(), 'renewed while the store takes the renewals');
  failInserts = true;
  await new Promise((r) => setTimeout(r, 400));
  t.throws(() => b.check(), { code: 'PEV_RECONCILE_BUSY', message: /run run-b lost its lease on the period .* it stops before writing more; run it again/ });
  failInserts = false;
  const c = await PeriodLease.acquire(store, PERIOD, 'run-c');
  t.same((await liveRuns(store, PERIOD)).map((r) => [r.runId, r.state]), [['run-c', 'ACTIVE']], 'another run takes the period; the lost holder does not renew over it');
  await new Promise((r) => setTimeout(r, 200));
  t.same((await liveRuns(store, PERIOD)).map((r) => r.runId), ['run-c'], 'still only run-c');
  await c.release();
  await b.release();
  t.same(await liveRuns(store, PERIOD), []);
  const other: Period = { fromMs: PERIOD.toMs, toMs: PERIOD.toMs + 86_400_000 };
  const d = await PeriodLease.acquire(store, other, 'run-d');
  const e = await PeriodLease.acquire(store, PERIOD, 'run-e');
  t.same((await liveRuns(store, other)).map((r) => r.runId), ['run-d'], 'another period has its own lease');
  await d.release();
  await e.release();
});

void t.test('a cycle run and its export under one lease: no other run can rewrite a record in between', async (t) => {
  const store = await tempStore(t, { database: 'rconcc' });
  const fx = new Fixture().enroll(FLAT);
  for (let i = 1; i <= 3; i++) fx.session({ sessionId: sid(i), energies: Array.from({ length: 30 }, () => 100) });
  await fx.write(store);
  const window = new CyclePlan(CFG, '2026-10').readWindow;
  // The store as the command sees it, but for the export's write: there, who holds the cycle?
  const holders: string[][] = [];
  const watched: Store = Object.create(store) as Store;
  watched.insertTsvColumns = async (table, columns, chunks, settings) => {
    if (table === 'billing_export') holders.push((await liveRuns(store, window)).map((h) => h.runId));
    return store.insertTsvColumns(table, columns, chunks, settings);
  };
  const io = { stdout: Object.assign(new PassThrough(), { isTTY: false }), stderr: Object.assign(new PassThrough(), { isTTY: false }) };
  io.stdout.resume();
  io.stderr.resume();
  const out = join(t.testdirName, 'cycle.csv');
  const r = await runReconcile({ cycle: '2026-10', asOf: '2026-11-02T00:00:00Z', export: 'csv', out, progress: 'none' }, io, { store: watched, config: CFG });
  t.match(r.export, { records: 3, energyWh: 9000 });
  t.equal(holders.length, 1, 'one export written');
  t.same(holders[0], [r.summary.runId], 'the export was written while the run still held the cycle');
  t.same(await liveRuns(store, window), [], 'released after the export');
});
