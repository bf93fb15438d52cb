/**
 * The shortened fault runs of issue 6 that the issue-3 integration tests do not already make
 * (those run the kill, store and scale scenarios: test/ingest/integration/crash, store-outage and
 * rebalance): the broker killed and restarted, and a store that refuses writes for good. About
 * 100,000 records each; the full runs are `npm run chaos`.
 */
import t from 'tap';
import { brokerScenario } from '../../../bench/chaos/scenarios/broker.js';
import { rejectedScenario } from '../../../bench/chaos/scenarios/rejected.js';
import type { ScenarioResult } from '../../../bench/chaos/scenarios/types.js';
import { privateClickhouseServer } from '../../helpers/services.js';
import { scenarioContext } from '../../ingest/integration/harness.js';

function failures(r: ScenarioResult): string {
  return r.status === 'pass' ? 'scenario passed' : JSON.stringify({ checks: r.checks.filter((c) => !c.ok), truth: r.truth, offsets: r.offsets }, null, 1);
}

void t.test('broker killed and restarted: reconnect, a SIGTERM afterwards does not hang, totals exact', async (t) => {
  const ctx = await scenarioContext(t, { records: 100_000, seed: 'ci-broker-1', brokerDownMs: 8_000, brokerPort: 19_392 });
  const r = await brokerScenario(ctx);
  t.equal(r.status, 'pass', failures(r));
  t.ok(r.recordsFed >= 100_000, `${r.recordsFed} records fed`);
  t.equal(r.faultsInjected, 2);
  t.same(r.lost, { records: 0, wh: 0, uncoveredOffsets: 0 });
  t.same(r.doubleCounted, { records: 0, wh: 0 });
  const shutdown = r.checks.find((c) => /shutdown after the broker restart/.test(c.name));
  t.equal(shutdown?.ok, true, shutdown?.detail ?? 'shutdown check missing');
  t.equal(r.offsets.lag, 0);
});

void t.test('a store that refuses writes for good: halt with exit code 2, never a commit past the rejected unit', async (t) => {
  const ctx = await scenarioContext(t, { records: 100_000, seed: 'ci-rejected-1', clickhouse: () => privateClickhouseServer(t) });
  const r = await rejectedScenario(ctx);
  t.equal(r.status, 'pass', failures(r));
  const rounds = r.details['rounds'] as { kind: string; exit: { code: number | null }; coverage: string }[];
  t.same(
    rounds.map((x) => [x.kind, x.exit.code, x.coverage]),
    [
      ['missing-table', 2, 'pass'],
      ['read-only', 2, 'pass'],
      ['wrong-password', 2, 'pass'],
    ],
  );
  t.same(r.lost, { records: 0, wh: 0, uncoveredOffsets: 0 });
  t.same(r.doubleCounted, { records: 0, wh: 0 });
});
