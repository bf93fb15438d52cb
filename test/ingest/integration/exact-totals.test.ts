/**
 * Issue 3, first integration test: over 100,000 simulated interval records, a third of the sessions
 * resending intervals, a third delivered out of order and some sending a conflicting second value,
 * through the real broker, the compiled service and chDB. Per-session energy and per-minute sums
 * must equal the simulator's truth to the Wh, and every row count must match.
 */
import t from 'tap';
import { toInt } from '../../../aggregate/store/values.js';
import { feedFleet, offsetTable, tpKey } from '../../../bench/chaos/kafka.js';
import { checkOffsets, checkTruth } from '../../../bench/sim/truth.js';
import { integrationRun, logTail } from './harness.js';

void t.test('resends, out-of-order delivery and conflicts: totals equal the truth exactly', async (t) => {
  const run = await integrationRun(t, 'it_exact');
  const feed = await feedFleet({
    brokers: run.brokers,
    topics: run.topics,
    fleet: { seed: 'exact-totals-1', premises: 72, faults: { resend: 0.3, out_of_order: 0.3, conflict: 0.05 } },
  });
  t.ok(feed.intervalRecords >= 100_000, `interval records fed: ${feed.intervalRecords}`);
  const resent = feed.truths.filter((s) => s.faults.includes('resend')).length;
  const shuffled = feed.truths.filter((s) => s.faults.includes('out_of_order')).length;
  const conflicts = feed.truths.filter((s) => s.faults.includes('conflict')).length;
  t.ok(resent > 100 && shuffled > 100 && conflicts > 10, `sessions with resends ${resent}, out of order ${shuffled}, conflicts ${conflicts}`);

  t.comment(`fed ${feed.messages} messages (${feed.intervalRecords} interval records) in ${feed.seconds} s`);
  const child = run.start({ untilIdleMs: 4_000 });
  const exit = await child.wait(150_000);
  t.comment(`ingest drained and exited in ${exit.ms} ms (4,000 of them idle), peak RSS ${Math.round(child.rssPeakKb / 1024)} MiB`);
  t.equal(exit.code, 0, `ingest exit code\n${logTail(run)}`);

  const offsets = await offsetTable(run.brokers, run.group, run.sourcePartitions);
  let high = 0;
  for (const o of offsets) {
    t.equal(o.committed, o.high, `committed offset of ${o.topic}[${o.partition}] is its high watermark`);
    high += o.high;
  }
  t.equal(high, feed.messages, 'the broker holds every message produced');

  const store = await run.openStore();
  const check = await checkTruth(store, feed.truths);
  t.equal(check.status, 'pass', check.error ?? check.examples.join('\n'));
  t.same(
    { lost: check.lost, doubleCounted: check.doubleCounted, mismatchedSessions: check.mismatchedSessions, mismatchedMinutes: check.mismatchedMinutes },
    { lost: { records: 0, wh: 0 }, doubleCounted: { records: 0, wh: 0 }, mismatchedSessions: 0, mismatchedMinutes: 0 },
  );
  t.equal(check.actual.wh, check.expected.wh, `energy ${check.actual.wh} Wh`);

  const [counts] = await store.select<Record<string, unknown>>(
    'SELECT (SELECT count() FROM {db}.session_rollup) AS sessions, (SELECT count() FROM {db}.interval_unique) AS intervals, ' +
      '(SELECT countIf(copies > 1) FROM {db}.interval_unique) AS conflicts, (SELECT count() FROM {db}.session_minute) AS minutes, ' +
      '(SELECT uniqExact(session_id, seq, content_hash) FROM {db}.interval_raw) AS contents, (SELECT count() FROM {db}.dead_letter) AS dead',
  );
  t.same(
    Object.fromEntries(Object.entries(counts ?? {}).map(([k, v]) => [k, toInt(v)])),
    {
      sessions: check.sessions,
      intervals: check.expected.records,
      conflicts,
      minutes: check.expected.minutes,
      // Every distinct content is kept: one per unique interval, plus the conflicting second values.
      contents: check.expected.records + conflicts,
      dead: 0,
    },
    'row counts',
  );

  const oc = await checkOffsets(
    store,
    offsets.map((o) => ({ ...o, copies: feed.copies.get(tpKey(o.topic, o.partition)) ?? new Set<number>() })),
    { requireDrained: true },
  );
  t.equal(oc.status, 'pass', JSON.stringify(oc.partitions.filter((p) => p.missing.length > 0)));
  t.equal(oc.uncovered, 0, 'every committed offset is backed by stored rows');
});
