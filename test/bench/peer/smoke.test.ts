/**
 * The peer path end to end on a tiny topic, so the peer benchmark cannot rot silently: the
 * simulator's intervals go to a fresh topic, ClickHouse's Kafka engine (bench/peer/peer.sql, in
 * chDB, in a child process) reads them through the bench's registry endpoint, and the summing
 * table must count exactly the records produced: with one record per message, and with several
 * Confluent-framed records packed in one message (`pev-records`), which AvroConfluent reads as
 * consecutive rows.
 */
import { rmSync } from 'node:fs';
import t from 'tap';
import { runPeerBench } from '../../../bench/peer/index.js';
import { kafkaBrokers } from '../../helpers/services.js';

for (const recordsPerMessage of [1, 8]) {
  void t.test(`peer reads every record, ${recordsPerMessage} per message`, async (t) => {
    const brokers = await kafkaBrokers();
    // chDB's background threads may still finish a part just after the child exits: retry removal.
    t.teardown(() => rmSync(t.testdirName, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
    const r = await runPeerBench({
      brokers,
      records: 2_000,
      partitions: 2,
      recordsPerMessage,
      seed: 'peer-smoke',
      systems: ['peer'],
      kcat: false,
      exactness: false,
      workDir: t.testdirName,
      timeoutMs: 60_000,
    });
    // A message is never split, so the topic may hold a few records more than asked for.
    t.ok(r.conditions.records >= 2_000 && r.conditions.records < 2_000 + recordsPerMessage, `records in the topic: ${r.conditions.records}`);
    if (recordsPerMessage === 1) t.equal(r.conditions.messages, r.conditions.records);
    else t.ok(r.conditions.messages < r.conditions.records, 'messages pack several records');
    t.equal(r.peer?.rowsQueryable, r.conditions.records, 'the summing table counts exactly the records produced');
    t.equal(r.peer?.reason, 'target');
    t.ok((r.peer?.recordsPerSec ?? 0) > 0);
    t.equal(r.recordsPerS, r.peer?.recordsPerSec ?? null);
    t.ok(r.registryRequests >= 1, 'the Kafka engine fetched schema 1001 from the endpoint');
    t.match(r.machine.clickhouseEmbedded, /^\d+\.\d+/);
    t.equal(r.ours, null);
    t.equal(r.ratio, null);
  });
}
