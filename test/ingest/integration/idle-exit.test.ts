/**
 * `ingest --until-idle MS` promises (ingest/service.ts, IngestServiceOptions.idleExitMs) to exit by
 * itself "once the topics are drained and nothing arrived for this long". The case that tests it:
 * a process of the group was SIGKILLed, so its partitions stay with it until the session timeout
 * (6 s here); a process started meanwhile with --until-idle 3000 sees nothing arrive on them for
 * 3 s. It must not report a drained exit (code 0) while the group's committed offsets are short of
 * the high watermarks: it waits, takes over the partitions after the session timeout, drains them
 * and exits 0 with lag 0.
 */
import t from 'tap';
import { OffsetReader, feedFleet, offsetTable } from '../../../bench/chaos/kafka.js';
import { waitFor } from '../../helpers/services.js';
import { integrationRun, logTail } from './harness.js';

void t.test('--until-idle does not exit 0 before the topics are drained', async (t) => {
  const run = await integrationRun(t, 'it_idle', { config: { consumeBatch: 2_000 } });
  const feed = await feedFleet({ brokers: run.brokers, topics: run.topics, fleet: { seed: 'idle-exit-1', premises: 20, noFaults: true } });
  const first = run.start({});
  const reader = await OffsetReader.open(run.brokers, run.group);
  t.teardown(() => reader.close());
  await waitFor(async () => (await reader.committedTotal(run.sourcePartitions)) > 0, { timeoutMs: 120_000, what: 'the first commit' });
  first.kill('SIGKILL');
  await first.exited;
  const second = run.start({ untilIdleMs: 3_000 });
  const exit = await second.wait(150_000, 'the --until-idle process');
  const offsets = await offsetTable(run.brokers, run.group, run.sourcePartitions);
  const lag = offsets.reduce((a, o) => a + (o.high - Math.max(0, o.committed)), 0);
  t.comment(`exit ${JSON.stringify(exit)}; lag ${lag} of ${feed.messages} messages`);
  // The loop never gives up while idle: it waits out the dead member's session, takes its
  // partitions, drains them and only then exits, 0. Any other code is a crash (1) or a halt (2).
  t.equal(exit.code, 0, exit.code === 0 ? 'exits 0' : `exits 0\n${logTail(run)}`);
  t.equal(lag, 0, lag === 0 ? 'drained when it exits' : `drained when it exits: ${lag} messages not committed\n${logTail(run)}`);
});
