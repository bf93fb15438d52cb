/**
 * Kafka plumbing for the bad-input and security tests: create topics, produce messages with known
 * offsets, read a topic back (the dead-letter topic) and read a group's committed offsets. Every
 * call is bounded in time; nothing here starts or stops a broker (test/helpers/services does).
 */
import Kafka from 'node-rdkafka';
import type { LibrdKafkaError, Message, MessageHeader } from 'node-rdkafka';

/** A message to produce. `value: null` is a tombstone. */
export interface OutMessage {
  topic: string;
  partition: number;
  value: Buffer | null;
  key?: string;
  /** Kafka headers, in order (a header name may repeat). */
  headers?: Record<string, string>[];
}

export interface Produced extends OutMessage {
  offset: number;
}

/** Creates topics (fails if one exists: names are unique per run); `config` is topic-level settings. */
export async function createTopics(brokers: string, topics: readonly { name: string; partitions: number; config?: Record<string, string> }[]): Promise<void> {
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': brokers, 'client.id': 'pevmeter-test-admin' });
  try {
    for (const t of topics) {
      await new Promise<void>((resolve, reject) => {
        admin.createTopic({ topic: t.name, num_partitions: t.partitions, replication_factor: 1, ...(t.config ? { config: t.config } : {}) }, 20_000, (err: LibrdKafkaError | null | undefined) =>
          err ? reject(new Error(`create topic ${t.name}: ${err.message}`)) : resolve(),
        );
      });
    }
  } finally {
    admin.disconnect();
  }
}

/**
 * Produces messages in order, one partition each as given, and returns them with the offsets the
 * broker assigned (from delivery reports). Idempotent producer, acks=all: what returns is stored.
 */
export async function produceAll(brokers: string, messages: readonly OutMessage[], timeoutMs = 60_000): Promise<Produced[]> {
  const producer = new Kafka.Producer(
    { 'bootstrap.servers': brokers, dr_cb: true, 'enable.idempotence': true, 'linger.ms': 2, 'client.id': 'pevmeter-test-producer', 'message.max.bytes': 2_000_000 },
    { 'request.required.acks': -1 },
  );
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 20_000 }, (err) => (err ? reject(new Error(`producer connect: ${err.message}`)) : resolve())));
  producer.setPollInterval(5);
  const out: Produced[] = messages.map((m) => ({ ...m, offset: -1 }));
  let acked = 0;
  let failed: Error | undefined;
  producer.on('delivery-report', (err, report) => {
    if (err) failed ??= new Error(`delivery failed: ${err.message}`);
    else out[report.opaque as number]!.offset = report.offset;
    acked++;
  });
  try {
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const headers = m.headers as MessageHeader[] | undefined;
      producer.produce(m.topic, m.partition, m.value, m.key ?? null, Date.now(), i, headers);
    }
    const deadline = Date.now() + timeoutMs;
    while (acked < messages.length && !failed) {
      if (Date.now() > deadline) throw new Error(`produce: ${acked} of ${messages.length} acknowledged after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    if (failed) throw failed;
    return out;
  } finally {
    await new Promise<void>((resolve) => producer.flush(5_000, () => producer.disconnect(() => resolve())));
  }
}

/** A consumed message with its headers as a plain string map (last value wins). */
export interface InMessage {
  topic: string;
  partition: number;
  offset: number;
  value: Buffer | null;
  key: string | null;
  headers: Record<string, string>;
}

function headerMap(m: Message): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of m.headers ?? []) for (const [k, v] of Object.entries(h)) out[k] = typeof v === 'string' ? v : Buffer.from(v as Uint8Array).toString('utf8');
  return out;
}

/**
 * Reads partitions of a topic from the beginning until `expected` messages arrived, then a short
 * quiet period longer (so a surplus would show), or `timeoutMs` passed. No group commits.
 */
export async function readTopic(brokers: string, topic: string, partitions: number, expected: number, timeoutMs = 30_000): Promise<InMessage[]> {
  const consumer = new Kafka.KafkaConsumer(
    { 'bootstrap.servers': brokers, 'group.id': `pevmeter-test-reader-${process.pid}-${Date.now()}`, 'enable.auto.commit': false, 'client.id': 'pevmeter-test-reader' },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 20_000 }, (err) => (err ? reject(new Error(`reader connect: ${err.message}`)) : resolve())));
  try {
    consumer.assign(Array.from({ length: partitions }, (_, p) => ({ topic, partition: p, offset: 0 })));
    const got: InMessage[] = [];
    const deadline = Date.now() + timeoutMs;
    let quietUntil = Infinity;
    while (Date.now() < deadline && Date.now() < quietUntil) {
      const batch = await new Promise<Message[]>((resolve, reject) => consumer.consume(1000, (err, ms) => (err ? reject(new Error(err.message)) : resolve(ms))));
      for (const m of batch) {
        got.push({ topic: m.topic, partition: m.partition, offset: m.offset, value: m.value, key: m.key === undefined || m.key === null ? null : m.key.toString(), headers: headerMap(m) });
      }
      if (got.length >= expected && quietUntil === Infinity) quietUntil = Date.now() + 1_000;
    }
    return got;
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}

/** Committed offsets of `group` for the given partitions (-1001 when none). Does not join the group. */
export async function committedOffsets(brokers: string, group: string, partitions: readonly { topic: string; partition: number }[]): Promise<Map<string, number>> {
  const consumer = new Kafka.KafkaConsumer({ 'bootstrap.servers': brokers, 'group.id': group, 'enable.auto.commit': false }, {});
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 20_000 }, (err) => (err ? reject(new Error(`committed connect: ${err.message}`)) : resolve())));
  try {
    const tps = await new Promise<{ topic: string; partition: number; offset?: number }[]>((resolve, reject) =>
      consumer.committed([...partitions], 20_000, (err, list) => (err ? reject(new Error(err.message)) : resolve(list))),
    );
    return new Map(tps.map((tp) => [`${tp.topic}[${tp.partition}]`, tp.offset ?? -1001]));
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}
