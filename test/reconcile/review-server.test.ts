/**
 * Review and the run lease against a real ClickHouse server: the shared 18.16 test server (or
 * CLICKHOUSE_URL). Migration 007 (review_action, review_outcome, reconcile_lease) runs there;
 * reconcile itself does not (migration 003 needs 23.8: parameterized views; the facts queries need
 * query parameters and window functions), so the round trip is tested at the level the server
 * allows: the lease between two clients and between two processes, and the audit trail (append,
 * read back, what a run would decide from it). On a 23.8+ server the full round trip runs too.
 */
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { openStore } from '../../aggregate/store/connect.js';
import { compareVersions } from '../../aggregate/store/migrate.js';
import type { Store } from '../../aggregate/store/types.js';
import { exportPeriod } from '../../reconcile/billing.js';
import { resolveConfig } from '../../reconcile/config.js';
import { PeriodLease, liveRuns } from '../../reconcile/lease.js';
import { reconcilePeriod } from '../../reconcile/run.js';
import { appendAction, latestBySession, loadActions, type ReviewAction } from '../../reconcile/review/actions.js';
import { decideReview } from '../../reconcile/review/apply.js';
import { act } from '../../reconcile/review/state.js';
import type { Flag, Period } from '../../reconcile/types.js';
import { packageRoot } from '../../schemas/index.js';
import { clickhouseServer, httpStoreOptions, uniqueName } from '../helpers/services.js';
import { Fixture, sid } from './fixtures.js';

const PERIOD: Period = { fromMs: Date.UTC(2026, 9, 1, 7), toMs: Date.UTC(2026, 10, 1, 7) };
const root = packageRoot();

async function serverStore(t: Test, db: string): Promise<Store> {
  const store = await openStore(httpStoreOptions(await clickhouseServer(), db));
  t.teardown(() => store.close());
  return store;
}

void t.test('review and the lease on the ClickHouse server', async (t) => {
  const db = uniqueName('review_srv');
  const a = await serverStore(t, db);
  t.teardown(async () => {
    await a.client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
  });
  const m = await a.migrate();
  t.ok(m.applied.includes('007_review'), `migration 007 applies on ${m.serverVersion}`);
  const old = compareVersions(m.serverVersion, '23.8') < 0;
  const b = await serverStore(t, db);

  await t.test('two clients claim one period at once: one holds it, the other is refused', async (t) => {
    const results = await Promise.allSettled([
      PeriodLease.acquire(a, PERIOD, 'run-a', { holder: 'client a' }),
      PeriodLease.acquire(b, PERIOD, 'run-b', { holder: 'client b' }),
    ]);
    const held = results.filter((r): r is PromiseFulfilledResult<PeriodLease> => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    t.equal(held.length, 1, 'one lease');
    t.equal(refused.length, 1, 'one refusal');
    const winner = held[0]!.value;
    t.match(refused[0]!.reason, { code: 'PEV_RECONCILE_BUSY', message: `run ${winner.runId} on client ${winner.runId === 'run-a' ? 'a' : 'b'}` });
    t.same((await liveRuns(b, PERIOD)).map((r) => [r.runId, r.state]), [[winner.runId, 'ACTIVE']], 'both clients see one live run');
    await winner.release();
    t.same(await liveRuns(a, PERIOD), [], 'released');
  });

  await t.test('a second process holding the period: refused, naming its process', async (t) => {
    const code = `const { openStore } = await import(${JSON.stringify(join(root, 'dist', 'aggregate', 'store', 'connect.js'))});
const { PeriodLease } = await import(${JSON.stringify(join(root, 'dist', 'reconcile', 'lease.js'))});
const s = await openStore(${JSON.stringify(httpStoreOptions(await clickhouseServer(), db))});
await PeriodLease.acquire(s, ${JSON.stringify(PERIOD)}, 'run-child', { ttlMs: 2000 });
process.stdout.write('holding\\n');
setTimeout(() => {}, 60_000);`;
    const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((r) => child.once('exit', r));
    t.teardown(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the child did not take the lease in 30 s')), 30_000);
      child.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('holding')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await t.rejects(PeriodLease.acquire(a, PERIOD, 'run-parent', { waitMs: 0 }), {
      code: 'PEV_RECONCILE_BUSY', message: new RegExp(`run run-child on \\S+ pid ${child.pid!}, running since`),
    });
    // The child dies without releasing: its lease stays until it expires (2 s here, 10 minutes by default).
    child.kill('SIGKILL');
    await exited;
    t.same((await liveRuns(a, PERIOD)).map((r) => r.runId), ['run-child'], 'a killed holder keeps the period until its lease expires');
    await new Promise((r) => setTimeout(r, 2_200));
    t.same(await liveRuns(a, PERIOD), [], 'then it is free');
  });

  await t.test('the audit trail: append, read back, what a run decides from it', async (t) => {
    const base = {
      sessionId: sid(2), correctedWh: -1, periodFromMs: PERIOD.fromMs, periodToMs: PERIOD.toMs, seenRunId: 'run-1',
      beforeHoldCodes: ['VEHICLE_MISMATCH'], beforeFacts: 'eumd=3000;intervals=3000;seen=30;missing=0;esci=3000;vehicle=9000;grant=3500',
    };
    const hold: ReviewAction = { ...base, actionId: 'a-1', action: 'HOLD', operator: 'alice', reason: 'dispute', createdMs: 1_000, beforeStatus: 'BILLED', beforeWh: 3000, afterStatus: 'HELD', afterWh: 0, beforeHoldCodes: [] };
    const release: ReviewAction = { ...base, actionId: 'a-2', action: 'RELEASE', operator: 'bob', reason: 'counter "faulty"\tper ticket\n4411', createdMs: 2_000, beforeStatus: 'HELD', beforeWh: 0, afterStatus: 'BILLED', afterWh: 3000 };
    await appendAction(b, release);
    await appendAction(a, hold);
    await appendAction(a, release); // an insert retried after a lost answer
    const back = await loadActions(a);
    t.same(back, [hold, release], 'every field back as written, oldest first, one row per action');
    t.same(await loadActions(b, sid(2)), [hold, release]);
    const latest = latestBySession(back).get(sid(2))!;
    t.equal(latest.actionId, 'a-2', 'the release is in effect');
    const flags: Flag[] = [{ code: 'VEHICLE_MISMATCH', severity: 'hold', observed: {}, threshold: {} }];
    t.match(decideReview(latest, flags, base.beforeFacts), { outcome: 'APPLIED', held: false });
    t.match(decideReview(latest, flags, base.beforeFacts.replace('eumd=3000', 'eumd=3100')), { outcome: 'REHELD', held: true, note: /\(eumd 3000 -> 3100\)$/ });
    const [n] = await a.select<{ n: string }>('SELECT count() AS n FROM {db}.review_action');
    t.equal(Number(n!.n), 3, 'append only: the retried row is kept, and read once');
  });

  if (old) {
    await t.test(`what ${m.serverVersion} cannot run: reconcile and the review commands that read its results`, async (t) => {
      t.ok(m.skipped.some((s) => s.name === '003_reconcile'), '003_reconcile skipped: it needs 23.8');
      const other: Period = { fromMs: PERIOD.toMs, toMs: PERIOD.toMs + 86_400_000 };
      await t.rejects(reconcilePeriod(a, other, {}, resolveConfig({}), { asOfMs: other.toMs }), { code: 'PEV_STORE_REJECTED' });
      t.same(await liveRuns(a, other), [], 'a failed run releases its lease');
      await t.rejects(act(a, sid(2), 'RELEASE', { reason: 'x' }), { code: 'PEV_STORE_REJECTED', message: /Unknown setting param_/ }, 'review list, show and the actions read reconcile results with query parameters (ClickHouse 19.x+)');
    });
    return;
  }

  await t.test('the full round trip (23.8 or newer)', async (t) => {
    const fx = new Fixture().enroll({ programId: 'EV-FLAT', tariffId: 'EV-FLAT-2026' });
    fx.session({ sessionId: sid(7), energies: Array.from({ length: 30 }, () => 100), vehicleWh: 9000 });
    await fx.write(a);
    const p = PERIOD;
    const cfg = resolveConfig({});
    t.match(await reconcilePeriod(a, p, {}, cfg, { asOfMs: p.toMs }), { held: 1 });
    const rel = await act(a, sid(7), 'RELEASE', { reason: 'faulty counter', operator: 'bob' });
    t.match(await reconcilePeriod(a, p, {}, cfg, { asOfMs: p.toMs }), { billed: 1, review: { applied: 1 } });
    const e = await exportPeriod(a, p, {}, 'json', join(t.testdirName, 'e.jsonl'), {});
    t.match(e, { records: 1, energyWh: rel.afterWh });
  });
});
