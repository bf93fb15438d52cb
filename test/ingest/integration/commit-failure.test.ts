/**
 * An offset commit that fails must not be forgotten. Here the broker goes away after units were
 * consumed but before their rows could be written (the store is unreachable too, through a
 * proxy); then the store comes back, the rows are written, and the commits fail because the
 * broker is still down. The loop logs "a later commit will cover it", but with --until-idle no
 * later commit may come: the process must not report a drained exit (code 0) with the group's
 * committed offsets behind what it stored. After the broker is back, exit 0 must mean lag 0.
 */
import t from 'tap';
import { scrapeMetrics } from '../../../bench/chaos/ingest-process.js';
import { OffsetReader, feedFleet } from '../../../bench/chaos/kafka.js';
import { TcpProxy } from '../../../bench/chaos/proxy.js';
import { freePort, privateBroker } from '../../../bench/chaos/services.js';
import { waitFor } from '../../helpers/services.js';
import { integrationRun, logTail, sharedClickhouse } from './harness.js';

void t.test('a commit that failed is retried before the process calls itself drained', async (t) => {
  const broker = privateBroker(19_692);
  t.teardown(() => broker.reset());
  await broker.start();
  const run = await integrationRun(t, 'it_commit_fail', { brokers: broker.brokers, config: { consumeBatch: 2_000, retryInitialMs: 100, retryMaxMs: 500, requestTimeoutMs: 5_000 } });
  const ch = await sharedClickhouse();
  const database = run.group.replace(/[^A-Za-z0-9_]/g, '_');
  const proxy = await TcpProxy.start(ch.httpPort);
  t.teardown(() => proxy.close());
  const feed = await feedFleet({ brokers: run.brokers, topics: run.topics, fleet: { seed: 'commit-fail-1', premises: 12, noFaults: true } });
  const reader = await OffsetReader.open(run.brokers, run.group);
  t.teardown(() => reader.close());

  const port = await freePort();
  const child = run.start({ clickhouseUrl: proxy.url, clickhouseUser: ch.username, clickhousePassword: ch.password, database, untilIdleMs: 3_000, httpPort: port, logLevel: 'info' });
  await waitFor(async () => (await reader.committedTotal(run.sourcePartitions)) > 0, { timeoutMs: 120_000, what: 'the first commit' });
  proxy.block();
  await waitFor(async () => ((await scrapeMetrics(port))?.get('pevmeter_inflight_units') ?? 0) > 0 && ((await scrapeMetrics(port))?.get('pevmeter_store_retries_total') ?? 0) > 0, { timeoutMs: 60_000, what: 'units held by the unreachable store' });
  await reader.close().catch(() => undefined);
  await broker.stop();
  proxy.unblock();
  // The rows are written now; their commits fail while the broker is down. Wait past the idle window.
  await new Promise((r) => setTimeout(r, 10_000));
  const exitedDuringOutage = !child.running;
  await broker.start();
  const exit = await child.wait(120_000, 'ingest after the broker is back');
  const after = await OffsetReader.open(run.brokers, run.group);
  t.teardown(() => after.close());
  const table = await after.table(run.sourcePartitions);
  const lag = table.reduce((a, o) => a + (o.high - Math.max(0, o.committed)), 0);
  t.comment(`exited ${exitedDuringOutage ? 'during' : 'after'} the broker outage with ${JSON.stringify(exit)}; lag ${lag} of ${feed.messages}`);
  t.equal(exit.code, 0, exit.code === 0 ? 'exit 0' : logTail(run, 20));
  t.equal(lag, 0, `an exit 0 leaves nothing uncommitted (exited during the outage: ${exitedDuringOutage})`);
});
