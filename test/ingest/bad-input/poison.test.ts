/**
 * A poison message on the real broker: one interval message of 1,048,700 bytes (over
 * pipeline.maxMessageBytes, accepted by a topic whose max.message.bytes allows it) between good
 * ones, and a three-record message with two bad records. The dead letters must fit the dead-letter
 * topic (the oversize one cut to 256 KiB; each bad record of the multi-record message carrying its
 * own frame, not the message), the good records around them are stored once, and the group
 * commits past everything. Run twice: against a dead-letter topic with the broker's default size,
 * and against one that takes 64 KiB only, where the oversize letter goes without its payload.
 */
import t from 'tap';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../../aggregate/store/connect.js';
import { toInt } from '../../../aggregate/store/values.js';
import { loadConfig } from '../../../schemas/config.js';
import { DEAD_PAYLOAD_MAX_BYTES } from '../../../ingest/decode/task.js';
import { createLogger } from '../../../ingest/log.js';
import { runIngestService } from '../../../ingest/service.js';
import { brokerRun, kafkaBrokers } from '../../helpers/services.js';
import { framed, goodInterval } from './cases.js';
import { committedOffsets, createTopics, produceAll, readTopic } from './kafka.js';
import type { OutMessage } from './kafka.js';

const POISON_BYTES = 1_048_700;
const brokers = await kafkaBrokers();
const { run, topics, dlqTopic, dir } = brokerRun(t, 'poison');
const smallDlq = `${dlqTopic}-small`;

await createTopics(brokers, [
  { name: topics.interval, partitions: 1, config: { 'max.message.bytes': '2000000' } },
  { name: topics.sessionEvent, partitions: 1 },
  { name: topics.vehicleReport, partitions: 1 },
  { name: topics.enrollment, partitions: 1 },
  { name: dlqTopic, partitions: 1 },
  { name: smallDlq, partitions: 1, config: { 'max.message.bytes': '65536' } },
]);

const poison = Buffer.alloc(POISON_BYTES, 0x41);
framed('interval', goodInterval(50)).copy(poison);
const bad1 = framed('interval', goodInterval(61, { energy_wh: -1 }));
const bad2 = framed('interval', goodInterval(62, { energy_wh: -2 }));
const multi = Buffer.concat([bad1, framed('interval', goodInterval(60)), bad2]);
const plan: OutMessage[] = [];
for (let i = 0; i < 5; i++) plan.push({ topic: topics.interval, partition: 0, value: framed('interval', goodInterval(i)), key: 'ESCI-00A1B2C3' });
plan.push({ topic: topics.interval, partition: 0, value: poison, key: 'ESCI-00A1B2C3' });
for (let i = 5; i < 10; i++) plan.push({ topic: topics.interval, partition: 0, value: framed('interval', goodInterval(i)), key: 'ESCI-00A1B2C3' });
plan.push({ topic: topics.interval, partition: 0, value: multi, key: 'ESCI-00A1B2C3', headers: [{ 'pev-records': '3' }] });
plan.push({ topic: topics.interval, partition: 0, value: framed('interval', goodInterval(10)), key: 'ESCI-00A1B2C3' });
const produced = await produceAll(brokers, plan);
const poisonOffset = produced[5]!.offset;
const multiOffset = produced[11]!.offset;
const lastOffset = produced[produced.length - 1]!.offset;
const goodNs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 60, 10];

for (const [name, dlq, database] of [['default-size dead-letter topic', dlqTopic, 'poison_a'], ['64 KiB dead-letter topic', smallDlq, 'poison_b']] as const) {
  void t.test(`${name}: one letter per bad record, each fits; good records once; committed past the poison`, async (t) => {
    const cfg = loadConfig({
      env: {},
      flags: {
        'kafka.brokers': brokers,
        'kafka.groupId': `${run}-${database}`,
        'kafka.dlqTopic': dlq,
        'kafka.topics.interval': topics.interval,
        'kafka.topics.sessionEvent': topics.sessionEvent,
        'kafka.topics.vehicleReport': topics.vehicleReport,
        'kafka.topics.enrollment': topics.enrollment,
        // librdkafka's default fetch size would take the poison message in pieces of 1 MiB; fine,
        // but say it: the consumer reads it whole.
        'kafka.rdkafka.fetch.message.max.bytes': 2_000_000,
        'store.path': join(dir, 'chdb'),
        'store.database': database,
        'pipeline.workers': 1,
        'http.port': 0,
      },
    });
    const logPath = join(dir, `${database}.log`);
    const fd = openSync(logPath, 'w');
    let result;
    try {
      result = await runIngestService(cfg, { idleExitMs: 4_000, log: createLogger('info', fd) });
    } finally {
      closeSync(fd);
    }
    t.equal(result.exitCode, 0, `exits 0${result.exitCode === 0 ? '' : `: ${readFileSync(logPath, 'utf8').slice(-2000)}`}`);
    t.equal(result.halted, undefined, 'the loop never halted');
    t.equal(result.messages, plan.length, `${plan.length} messages consumed once`);
    t.equal(result.records, plan.length + 2, 'records counted: 12 single + 3 of the multi-record message');
    t.equal(result.deadLetters, 3, 'three dead letters');

    const letters = await readTopic(brokers, dlq, 1, 3);
    t.equal(letters.length, 3, 'exactly three letters in the dead-letter topic');
    const oversize = letters.filter((l) => l.headers['pev-error-code'] === 'PEV_OVERSIZE');
    t.equal(oversize.length, 1, 'exactly one PEV_OVERSIZE letter');
    const o = oversize[0]!;
    t.equal(o.headers['pev-origin-offset'], String(poisonOffset), 'it points at the poison message');
    t.equal(o.headers['pev-origin-topic'], topics.interval);
    t.equal(o.headers['pev-record-index'], '0');
    t.match(o.headers['pev-error-message'] ?? '', `message is ${POISON_BYTES} bytes; the limit is 1048576 (payload cut to its first ${DEAD_PAYLOAD_MAX_BYTES} of ${POISON_BYTES} bytes)`);
    if (dlq === dlqTopic) {
      t.equal(o.value?.length, DEAD_PAYLOAD_MAX_BYTES, 'the letter carries the first 256 KiB');
      t.ok(o.value?.equals(poison.subarray(0, DEAD_PAYLOAD_MAX_BYTES)), 'which are the message\'s first bytes');
      t.equal(o.headers['pev-payload-omitted'], undefined);
      t.equal(o.key, 'ESCI-00A1B2C3', 'the key is kept');
    } else {
      t.equal(o.value?.length ?? 0, 0, 'the topic takes 64 KiB: the letter goes without payload');
      t.equal(o.headers['pev-payload-omitted'], `${DEAD_PAYLOAD_MAX_BYTES} bytes refused as too large by the dead-letter topic`);
      t.equal(o.key, null, 'and without key');
    }
    const perRecord = letters.filter((l) => l.headers['pev-error-code'] === 'PEV_NEGATIVE_ENERGY').sort((a, b) => Number(a.headers['pev-record-index']) - Number(b.headers['pev-record-index']));
    t.same(perRecord.map((l) => [l.headers['pev-origin-offset'], l.headers['pev-record-index']]), [[String(multiOffset), '0'], [String(multiOffset), '2']], 'records 0 and 2 of the multi-record message');
    for (const [i, frame] of [[0, bad1], [1, bad2]] as const) {
      const l = perRecord[i];
      // The broker refuses a whole produce batch when it is too large, so on the small topic the
      // letters sent in the same batch as the oversize one may have been sent again without theirs.
      const omitted = dlq === smallDlq && (l?.value?.length ?? 0) === 0;
      if (omitted) t.equal(l?.headers['pev-payload-omitted'], `${frame.length} bytes refused as too large by the dead-letter topic`, `letter ${i}: sent again without its ${frame.length}-byte frame`);
      else t.ok(l?.value?.equals(frame), `letter ${i} holds its own ${frame.length}-byte frame, not the ${multi.length}-byte message`);
    }

    const store = await openStore({ kind: 'embedded', path: cfg.store.path, database });
    try {
      const rows = await store.select<{ session_id: string; n: string; wh: string }>(
        'SELECT session_id, count() AS n, sum(energy_wh) AS wh FROM {db}.interval_raw WHERE src_topic = {topic:String} GROUP BY session_id ORDER BY session_id',
        { topic: topics.interval },
      );
      const want = goodNs.map((n) => goodInterval(n)).map((r) => [r.session_id, 1, r.energy_wh]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      t.same(rows.map((r) => [r.session_id, toInt(r.n), toInt(r.wh)]), want, '12 good intervals stored, each once, with their Wh');
      const [dead] = await store.select<{ n: string; bytes: string }>('SELECT count() AS n, sum(length(base64Decode(payload_base64))) AS bytes FROM {db}.dead_letter WHERE src_topic = {topic:String}', { topic: topics.interval });
      t.equal(toInt(dead?.n), 3, 'three dead_letter rows');
      t.equal(toInt(dead?.bytes), DEAD_PAYLOAD_MAX_BYTES + bad1.length + bad2.length, 'their payloads: 256 KiB and the two frames');
    } finally {
      await store.close();
    }
    const committed = await committedOffsets(brokers, cfg.kafka.groupId, [{ topic: topics.interval, partition: 0 }]);
    t.equal(committed.get(`${topics.interval}[0]`), lastOffset + 1, 'committed past the last message, so past the poison');
  });
}
