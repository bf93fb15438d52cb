/**
 * Against the real broker: simulate to Kafka, read everything back, and the per-topic counts and
 * bytes equal what the simulator says it wrote. Uses KAFKA_BROKERS when set; otherwise the local
 * test broker on 127.0.0.1:19092, started with test/services/kafka.sh if nothing listens there.
 * Topics are unique to the run and deleted afterwards.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import Kafka from 'node-rdkafka';
import type { LibrdKafkaError, Message } from 'node-rdkafka';
import { RECORD_KINDS, TOPICS, type RecordKind } from '../../../schemas/index.js';
import { produceFleet, topicNames } from '../../../bench/sim/kafka-writer.js';
import { decodeMessage } from './decode.js';

const root = join(import.meta.dirname, '..', '..', '..');

function listening(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    const s = connect({ host: host ?? '127.0.0.1', port: Number(port) });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.setTimeout(2000, () => {
      s.destroy();
      resolve(false);
    });
  });
}

async function brokers(): Promise<string> {
  const env = process.env['KAFKA_BROKERS'];
  if (env) return env;
  const local = '127.0.0.1:19092';
  if (!(await listening(local))) execFileSync(join(root, 'test/services/kafka.sh'), ['start'], { stdio: 'inherit', timeout: 300_000 });
  return local;
}

interface Read {
  messages: number;
  bytes: number;
  records: number;
  partitionsOfKey: Map<string, Set<number>>;
  decodeFailures: number;
}

async function readBack(bootstrap: string, topics: Record<RecordKind, string>, expected: Record<string, number>, timeoutMs: number): Promise<Record<string, Read>> {
  const consumer = new Kafka.KafkaConsumer(
    { 'bootstrap.servers': bootstrap, 'group.id': `${topics.interval}-reader`, 'enable.auto.commit': false, 'client.id': 'pevmeter-sim-test' },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 20_000 }, (err) => (err ? reject(new Error(err.message)) : resolve())));
  const out: Record<string, Read> = {};
  for (const name of Object.values(topics)) out[name] = { messages: 0, bytes: 0, records: 0, partitionsOfKey: new Map(), decodeFailures: 0 };
  try {
    consumer.subscribe(Object.values(topics));
    const deadline = Date.now() + timeoutMs;
    const done = (): boolean => Object.entries(expected).every(([name, n]) => (out[name]?.messages ?? 0) >= n);
    while (!done() && Date.now() < deadline) {
      const batch = await new Promise<Message[]>((resolve, reject) =>
        consumer.consume(5000, (err: LibrdKafkaError | null, msgs: Message[]) => (err ? reject(new Error(err.message)) : resolve(msgs))),
      );
      for (const m of batch) {
        const r = out[m.topic]!;
        r.messages++;
        r.bytes += m.value?.length ?? 0;
        const header = m.headers?.find((h) => 'pev-records' in h)?.['pev-records'];
        const n = header === undefined ? 1 : Number(header.toString());
        try {
          decodeMessage(m.value!, n);
          r.records += n;
        } catch {
          r.decodeFailures++;
        }
        const key = m.key?.toString() ?? '';
        let parts = r.partitionsOfKey.get(key);
        if (!parts) r.partitionsOfKey.set(key, (parts = new Set()));
        parts.add(m.partition);
      }
    }
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
  return out;
}

async function highWatermarks(bootstrap: string, topic: string, partitions: number): Promise<number> {
  const producer = new Kafka.Producer({ 'bootstrap.servers': bootstrap, 'client.id': 'pevmeter-sim-test-wm' });
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 20_000 }, (err) => (err ? reject(new Error(err.message)) : resolve())));
  try {
    let total = 0;
    for (let p = 0; p < partitions; p++) {
      total += await new Promise<number>((resolve, reject) => {
        producer.queryWatermarkOffsets(topic, p, 10_000, (err: LibrdKafkaError | null, o: { highOffset: number; lowOffset: number }) => {
          if (err) reject(new Error(err.message));
          else resolve(o.highOffset - o.lowOffset);
        });
      });
    }
    return total;
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }
}

async function deleteTopics(bootstrap: string, topics: string[]): Promise<void> {
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': bootstrap, 'client.id': 'pevmeter-sim-test-admin' });
  try {
    for (const topic of topics) await new Promise<void>((resolve) => admin.deleteTopic(topic, 20_000, () => resolve()));
  } finally {
    admin.disconnect();
  }
}

void t.test('simulate to Kafka, consume everything back: counts and bytes per topic match', async (t) => {
  const bootstrap = await brokers();
  const prefix = `simtest-${process.pid}-${Date.now()}-`;
  const names = topicNames({ topicPrefix: prefix });
  const partitions = 3;
  t.teardown(() => deleteTopics(bootstrap, Object.values(names)));
  const result = await produceFleet(
    { premises: 30, seed: 'kafka', recordsPerMessage: 4, faults: { malformed: 0.05, resend: 0.05, gap: 0.05 } },
    { brokers: bootstrap, topicPrefix: prefix, partitions },
  );
  t.ok(result.messages > 3000, `${result.messages} messages produced`);
  const expected: Record<string, number> = {};
  for (const kind of RECORD_KINDS) {
    const name = names[kind];
    const sim = result.simulated.topics[TOPICS[kind]]!;
    const ack = result.topics[name]!;
    t.same({ messages: ack.messages, bytes: ack.bytes }, { messages: sim.messages, bytes: sim.bytes }, `${kind}: acknowledged = simulated`);
    expected[name] = sim.messages;
    t.equal(await highWatermarks(bootstrap, name, partitions), sim.messages, `${kind}: the log holds exactly that many messages`);
  }
  const read = await readBack(bootstrap, names, expected, 60_000);
  const malformedByTopic = result.simulated.malformed.byTopic;
  for (const kind of RECORD_KINDS) {
    const name = names[kind];
    const sim = result.simulated.topics[TOPICS[kind]]!;
    const r = read[name]!;
    t.same({ messages: r.messages, bytes: r.bytes }, { messages: sim.messages, bytes: sim.bytes }, `${kind}: consumed = simulated`);
    t.equal(r.records, sim.records, `${kind}: records in the messages (pev-records headers) = simulated`);
    t.equal(r.decodeFailures, malformedByTopic[TOPICS[kind]] ?? 0, `${kind}: only the malformed messages fail to decode`);
    for (const [key, parts] of r.partitionsOfKey) if (parts.size !== 1) t.fail(`key ${key} spread over partitions ${[...parts].join()}`);
  }
  t.ok(result.simulated.malformed.messages > 0);
});
