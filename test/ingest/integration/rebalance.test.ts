/**
 * Issue 3, rebalance: two ingest processes in one consumer group, the second joining under load
 * and the first leaving mid-run with SIGTERM (bench/chaos/scenarios/scale.ts). Both write
 * to one ClickHouse server over HTTP: chDB holds a folder per process, and consumers of one group
 * share one store in production too. The server is the shared 18.16 one, which takes the ingest
 * tables but not the read views, so totals are read with the same first-received rule written
 * over interval_raw (`raw-dedup`).
 */
import t from 'tap';
import { scaleScenario } from '../../../bench/chaos/scenarios/scale.js';
import { scenarioContext } from './harness.js';

void t.test('a consumer joins and another leaves mid-run: totals exact', async (t) => {
  const ctx = await scenarioContext(t, { records: 100_000, seed: 'it-rebalance-1' });
  const r = await scaleScenario(ctx);
  t.equal(r.status, 'pass', r.status === 'pass' ? 'scenario passed' : JSON.stringify({ checks: r.checks, truth: r.truth, offsets: r.offsets }, null, 1));
  t.equal(r.faultsInjected, 2);
  t.same(r.lost, { records: 0, wh: 0, uncoveredOffsets: 0 });
  t.same(r.doubleCounted, { records: 0, wh: 0 });
  t.equal(r.truth.source, 'raw-dedup');
  t.equal(r.truth.mismatchedMinutes, 0);
  t.equal(r.offsets.lag, 0, 'the group ends at the high watermarks');
  t.comment(`redelivered rows during the two rebalances: ${r.redelivered}; recovery ${r.recoveryMs} ms`);
});
