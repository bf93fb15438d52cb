/**
 * Issue 3, crash: the ingest process is SIGKILLed at seeded random points of the load, six times,
 * and restarted each time on the same chDB folder and consumer group (bench/chaos/scenarios/kill.ts,
 * at test size). Two of the kills are the process's own, right after a unit's rows
 * are durable and before its offsets are committed (PEVMETER_TEST_CRASH_AFTER_INSERT). After every
 * kill every committed offset is backed by stored rows; at the end the totals equal the truth to the
 * Wh and the group's committed offsets are the high watermarks.
 */
import t from 'tap';
import { killScenario } from '../../../bench/chaos/scenarios/kill.js';
import { scenarioContext } from './harness.js';

void t.test('six SIGKILLs under load: no loss, no double count, offsets at the high watermarks', async (t) => {
  const ctx = await scenarioContext(t, { records: 100_000, seed: 'it-crash-1', kills: 6 });
  const r = await killScenario(ctx);
  t.equal(r.status, 'pass', r.status === 'pass' ? 'scenario passed' : JSON.stringify({ checks: r.checks.filter((c) => !c.ok), truth: r.truth, offsets: r.offsets }, null, 1));
  t.ok(r.recordsFed >= 100_000, `${r.recordsFed} records fed`);
  t.equal(r.faultsInjected, 6);
  const kills = r.details['kills'] as { signal: string; offsetsWithoutRows: number; rowsInsertedNotCommitted: number; hook: string | null }[];
  t.equal(kills.length, 6);
  t.ok(kills.every((k) => k.signal === 'SIGKILL'), 'every kill is a SIGKILL');
  t.same(kills.map((k) => k.offsetsWithoutRows), [0, 0, 0, 0, 0, 0], 'after every kill, every committed offset is backed by rows');
  t.ok(kills.filter((k) => k.hook !== null).every((k) => k.rowsInsertedNotCommitted > 0), 'the kills after an insert left rows that were not committed');
  t.same(r.lost, { records: 0, wh: 0, uncoveredOffsets: 0 }, 'nothing lost');
  t.same(r.doubleCounted, { records: 0, wh: 0 }, 'nothing double counted');
  t.equal(r.truth.mismatchedMinutes, 0);
  t.equal(r.truth.actual.wh, r.truth.expected.wh);
  t.equal(r.offsets.lag, 0, 'committed offsets are the high watermarks');
  t.ok((r.redelivered ?? 0) > 0, `redelivered rows stored and absorbed: ${r.redelivered}`);
});
