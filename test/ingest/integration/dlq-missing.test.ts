/**
 * A dead-letter topic that does not exist, on a broker that does not create topics on first use
 * (the test broker: auto.create.topics.enable=false): ingest stops at start with PEV_DLQ_MISSING
 * and what to do, before consuming anything, instead of halting after the work is done.
 */
import t from 'tap';
import { join } from 'node:path';
import Kafka from 'node-rdkafka';
import { openStore } from '../../../aggregate/store/connect.js';
import { toInt } from '../../../aggregate/store/values.js';
import { loadConfig } from '../../../schemas/config.js';
import { PevmeterError } from '../../../schemas/errors.js';
import { createLogger } from '../../../ingest/log.js';
import { runIngestService } from '../../../ingest/service.js';
import { brokerRun, kafkaBrokers } from '../../helpers/services.js';
import { framed, goodInterval } from '../bad-input/cases.js';
import { committedOffsets, createTopics, produceAll } from '../bad-input/kafka.js';

const brokers = await kafkaBrokers();
const { run, topics, dlqTopic, dir } = brokerRun(t, 'dlqmissing');

function topicExists(topic: string): Promise<boolean> {
  const admin = new Kafka.Producer({ 'bootstrap.servers': brokers, 'allow.auto.create.topics': false });
  return new Promise((resolve, reject) => {
    admin.connect({ timeout: 10_000 }, (err) => {
      if (err) return reject(new Error(err.message));
      admin.getMetadata({ topic, allTopics: false, timeout: 10_000 }, (e, md) => {
        admin.disconnect(() => (e ? reject(new Error(e.message)) : resolve(md.topics.some((x) => x.name === topic && x.partitions.length > 0))));
      });
    });
  });
}

void t.test('missing dead-letter topic: PEV_DLQ_MISSING at start, nothing consumed', async (t) => {
  await createTopics(brokers, Object.values(topics).map((name) => ({ name, partitions: 1 })));
  await produceAll(brokers, Array.from({ length: 20 }, (_, i) => ({ topic: topics.interval, partition: 0, value: framed('interval', goodInterval(i)) })));
  const cfg = loadConfig({
    env: {},
    flags: {
      'kafka.brokers': brokers, 'kafka.groupId': `${run}-group`, 'kafka.dlqTopic': dlqTopic,
      'kafka.topics.interval': topics.interval, 'kafka.topics.sessionEvent': topics.sessionEvent,
      'kafka.topics.vehicleReport': topics.vehicleReport, 'kafka.topics.enrollment': topics.enrollment,
      'store.path': join(dir, 'chdb'), 'http.port': 0, 'pipeline.workers': 1,
    },
  });
  const err = await runIngestService(cfg, { idleExitMs: 5_000, log: createLogger('silent') }).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof PevmeterError, 'the service fails');
  t.equal((err as PevmeterError).code, 'PEV_DLQ_MISSING');
  t.equal((err as PevmeterError).retryable, false);
  t.equal(
    (err as Error).message,
    `the dead-letter topic ${dlqTopic} does not exist on ${brokers} and the broker does not create topics on first use: ` +
      `create it (kafka-topics.sh --bootstrap-server ${brokers} --create --topic ${dlqTopic} --partitions 1), ` +
      'or name an existing one with kafka.dlqTopic in the configuration file (--config); nothing was consumed',
    'names the topic, the broker and what to do',
  );
  const committed = await committedOffsets(brokers, `${run}-group`, [{ topic: topics.interval, partition: 0 }]);
  t.ok((committed.get(`${topics.interval}[0]`) ?? -1) < 0, 'no offset committed');
  const store = await openStore({ kind: 'embedded', path: join(dir, 'chdb'), database: cfg.store.database });
  try {
    const [r] = await store.select<{ n: string }>('SELECT count() AS n FROM {db}.interval_raw');
    t.equal(toInt(r?.n), 0, 'no row stored');
  } finally {
    await store.close();
  }
  t.equal(await topicExists(dlqTopic), false, 'the check did not create the topic');

  // The same configuration once the topic exists: the 20 records go through.
  await createTopics(brokers, [{ name: dlqTopic, partitions: 1 }]);
  const ok = await runIngestService(cfg, { idleExitMs: 3_000, log: createLogger('silent') });
  t.equal(ok.exitCode, 0, 'with the topic created: exit 0');
  t.equal(ok.records, 20, 'all 20 records consumed');
});
