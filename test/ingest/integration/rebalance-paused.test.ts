/**
 * Rebalance under backpressure. Process A works through a backlog while its store is unreachable,
 * so A pauses every partition it owns; process B joins the group and takes some of them; the store
 * comes back and A resumes; B leaves with SIGTERM and its partitions go back to A. librdkafka keeps
 * a partition's pause flag across revoke and re-assign (confluent-kafka-go#193, librdkafka#1849),
 * so partitions A paused before they were taken away come back paused: unless A resumes what it
 * is given, they are never read again and the group never drains.
 *
 * Both processes write to the shared ClickHouse server (18.16) over HTTP; A goes through a proxy
 * that can make the server unreachable for A alone.
 */
import t from 'tap';
import { openStore } from '../../../aggregate/store/connect.js';
import { scrapeMetrics } from '../../../bench/chaos/ingest-process.js';
import { OffsetReader, feedFleet, tpKey } from '../../../bench/chaos/kafka.js';
import { TcpProxy } from '../../../bench/chaos/proxy.js';
import { freePort } from '../../../bench/chaos/services.js';
import { waitFor } from '../../helpers/services.js';
import { checkOffsets, checkTruth } from '../../../bench/sim/truth.js';
import { integrationRun, logTail, sharedClickhouse } from './harness.js';

void t.test('partitions paused, revoked and given back are read again: the group drains', async (t) => {
  const run = await integrationRun(t, 'it_rebal_paused', { config: { consumeBatch: 2_000, retryInitialMs: 100, retryMaxMs: 1_000, requestTimeoutMs: 5_000 } });
  const ch = await sharedClickhouse();
  const database = run.group.replace(/[^A-Za-z0-9_]/g, '_');
  const proxy = await TcpProxy.start(ch.httpPort);
  t.teardown(() => proxy.close());
  const feed = await feedFleet({ brokers: run.brokers, topics: run.topics, fleet: { seed: 'rebal-paused-1', premises: 30 } });
  const reader = await OffsetReader.open(run.brokers, run.group);
  t.teardown(() => reader.close());
  const http = { clickhouseUser: ch.username, clickhousePassword: ch.password, database };

  const portA = await freePort();
  const a = run.start({ ...http, clickhouseUrl: proxy.url, httpPort: portA });
  await waitFor(async () => (await reader.committedTotal(run.sourcePartitions)) > 0, { timeoutMs: 120_000, what: 'A commits' });
  proxy.block();
  await waitFor(async () => (await scrapeMetrics(portA))?.get('pevmeter_paused') === 1, { timeoutMs: 60_000, what: 'A pauses (store unreachable)' });
  const atPause = await reader.committedTotal(run.sourcePartitions);
  t.comment(`A paused with ${atPause} of ${feed.messages} committed`);

  const b = run.start({ ...http, clickhouseUrl: ch.url });
  await waitFor(async () => (await reader.committedTotal(run.sourcePartitions)) > atPause, { timeoutMs: 120_000, what: 'B takes partitions and commits' });
  proxy.unblock();
  await waitFor(async () => (await scrapeMetrics(portA))?.get('pevmeter_paused') === 0, { timeoutMs: 60_000, what: 'A resumes' });
  b.kill('SIGTERM');
  const bExit = await b.wait(45_000, 'B leaving');
  t.equal(bExit.code, 0, 'B leaves cleanly');

  // A alone now owns every partition; everything must end up committed.
  let drained = false;
  try {
    await waitFor(async () => (await reader.committedTotal(run.sourcePartitions)) >= feed.messages, { timeoutMs: 90_000, what: 'the group drains with A alone' });
    drained = true;
  } catch {
    drained = false;
  }
  const table = await reader.table(run.sourcePartitions);
  const stuck = table.filter((o) => o.committed < o.high).map((o) => `${tpKey(o.topic, o.partition)} ${o.committed}/${o.high}`);
  t.ok(drained, `the group drains after B leaves; partitions left behind: ${stuck.join(', ') || 'none'}${drained ? '' : `\n${logTail(run, 40)}`}`);
  a.kill('SIGTERM');
  const aExit = await a.wait(45_000, 'A stopping');
  t.equal(aExit.code, 0, aExit.code === 0 ? 'A stops cleanly' : logTail(run, 20));

  const store = await openStore({ kind: 'http', url: ch.url, username: ch.username, password: ch.password, database, requestTimeoutMs: 30_000 });
  t.teardown(async () => {
    await store.client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await store.close();
  });
  if (drained) {
    const check = await checkTruth(store, feed.truths, { source: 'raw-dedup' });
    t.equal(check.status, 'pass', check.examples.join('\n'));
  }
  const oc = await checkOffsets(store, table.map((o) => ({ ...o, copies: feed.copies.get(tpKey(o.topic, o.partition)) ?? new Set<number>() })));
  t.equal(oc.status, 'pass', 'whatever was committed is stored');
});
