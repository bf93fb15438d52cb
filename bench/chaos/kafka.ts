/**
 * Kafka for the fault runs: topics, feeding a simulated fleet, and reading back what the pipeline
 * claims (committed offsets) and what the broker holds (high watermarks, the dead-letter topic).
 *
 * Committed offsets are read with a consumer that carries the group's ID but never subscribes:
 * OffsetFetch needs no group membership, so looking does not trigger a rebalance of the group
 * being checked.
 */
import { createHash } from 'node:crypto';
import Kafka from 'node-rdkafka';
import type { DeliveryReport, LibrdKafkaError, Message, MessageHeader } from 'node-rdkafka';
import { ensureTopics } from '../sim/kafka-writer.js';
import { simulateFleet, type FleetCounts, type FleetOptionsInput, type MalformedCode, type SessionTruth } from '../sim/fleet.js';
import type { RecordKind } from '../../schemas/index.js';
import type { Config } from '../../schemas/config.js';

/**
 * The topics a run hands the pipeline (its `kafka.topics` and dead-letter topic); unique per run
 * so runs never see each other's data.
 */
export type TopicSet = Config['kafka']['topics'] & { dlq: string };

export function topicSet(prefix: string): TopicSet {
  return {
    interval: `${prefix}.interval`,
    sessionEvent: `${prefix}.session-event`,
    vehicleReport: `${prefix}.vehicle-report`,
    enrollment: `${prefix}.enrollment`,
    dlq: `${prefix}.dead-letter`,
  };
}

/** The source topics (what the ingest consumes), in a fixed order. */
export function sourceTopics(t: TopicSet): string[] {
  return [t.interval, t.sessionEvent, t.vehicleReport, t.enrollment];
}

export function topicOfKind(t: TopicSet, kind: RecordKind): string {
  return t[kind];
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export function partitionsOf(topics: readonly string[], partitions: number): TopicPartition[] {
  return topics.flatMap((topic) => Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
}

export function tpKey(topic: string, partition: number): string {
  return `${topic}[${partition}]`;
}

function adminOf(brokers: string) {
  return Kafka.AdminClient.create({ 'bootstrap.servers': brokers, 'client.id': 'pevmeter-chaos-admin' });
}

/** Creates the run's topics (the simulator's kafka-writer does it; one way to do each thing). */
export function createTopics(brokers: string, topics: readonly string[], partitions: number): Promise<void> {
  return ensureTopics(brokers, topics, partitions);
}

/** Deletes topics, ignoring failures: cleanup must not hide a test's real result. */
export async function deleteTopics(brokers: string, topics: readonly string[]): Promise<void> {
  const admin = adminOf(brokers);
  try {
    for (const topic of topics) {
      await new Promise<void>((resolve) => admin.deleteTopic(topic, 30_000, () => resolve()));
    }
  } finally {
    admin.disconnect();
  }
}

/** A malformed message as the broker stored it: where to expect its dead letter. */
export interface ProducedMalformed {
  code: MalformedCode;
  topic: string;
  partition: number;
  offset: number;
  /** The message value as produced (its dead letter must carry it unchanged). */
  value: Buffer;
}

export interface FeedResult {
  truths: SessionTruth[];
  /** Messages and framed records produced, all topics (malformed ones included, one record each). */
  messages: number;
  records: number;
  /** Per source topic: messages produced. */
  messagesByTopic: Record<string, number>;
  /** Interval records produced that are well-formed (malformed copies excluded; resends included). */
  intervalRecords: number;
  malformed: ProducedMalformed[];
  /**
   * Offsets (per `tpKey`) of messages whose every record is a byte-identical copy of a record
   * produced earlier (an ESCI resend). The store may keep no row of their own: ClickHouse
   * collapses exact copies of a natural key (at insert and in merges), keeping the earliest. Their
   * content is durable all the same, so the offset check counts them as covered.
   */
  copies: Map<string, Set<number>>;
  counts: FleetCounts;
  seconds: number;
}

export interface FeedOptions {
  brokers: string;
  topics: TopicSet;
  fleet: FleetOptionsInput;
  /** Called every 100,000 messages with the number produced so far. */
  onProgress?: (messages: number) => void;
  /**
   * Produce this many messages, flush them, call `onHold`, then wait for `resume` before producing
   * the rest: a run can let the ingest start on a backlog and feed the rest while a fault lasts.
   */
  hold?: { afterMessages: number; onHold: () => void; resume: Promise<void> };
  /**
   * Called every 500 messages with the count produced so far; the feed waits for the promise it
   * returns. A run uses it to keep a bounded backlog ahead of the consumer, so data keeps
   * arriving for as long as the run lasts.
   */
  pace?: (produced: number) => Promise<void> | undefined;
  /** Where to collect exact-copy offsets as delivery reports arrive (a run may look before the end). */
  copies?: Map<string, Set<number>>;
}

interface Pending {
  malformed: MalformedCode | null;
  copy: boolean;
  value: Buffer | null;
}

/**
 * Simulates the fleet and produces every message, in delivery order, keyed as the devices key
 * them; resolves when the broker has acknowledged all of them (acks=all, idempotent producer, so a
 * producer retry never turns into a duplicate the truth does not know about).
 *
 * Not bench/sim/kafka-writer.ts's produceFleet: the checks need each message's partition and
 * offset (where a malformed message's dead letter must point, which offsets are exact copies),
 * which only the delivery reports know. The producer settings follow the writer's.
 */
export async function feedFleet(o: FeedOptions): Promise<FeedResult> {
  const started = Date.now();
  const producer = new Kafka.Producer(
    {
      'bootstrap.servers': o.brokers,
      'client.id': 'pevmeter-chaos-feed',
      dr_cb: true,
      'enable.idempotence': true,
      'linger.ms': 20,
      'batch.num.messages': 10_000,
      'queue.buffering.max.messages': 200_000,
      'queue.buffering.max.kbytes': 524_288,
      'compression.codec': 'lz4',
    },
    { 'request.required.acks': -1 },
  );
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 30_000 }, (err) => (err ? reject(new Error(`feed producer: ${err.message}`)) : resolve())));
  producer.setPollInterval(10);
  const malformed: ProducedMalformed[] = [];
  const copies = o.copies ?? new Map<string, Set<number>>();
  const seen = new Set<string>();
  let acked = 0;
  let failed: string | undefined;
  producer.on('delivery-report', (err: LibrdKafkaError | null, report: DeliveryReport) => {
    acked++;
    if (err) {
      failed ??= err.message;
      return;
    }
    const p = report.opaque as Pending | undefined;
    if (p?.malformed && p.value) malformed.push({ code: p.malformed, topic: report.topic, partition: report.partition, offset: report.offset, value: p.value });
    if (p?.copy) {
      const key = tpKey(report.topic, report.partition);
      let set = copies.get(key);
      if (!set) copies.set(key, (set = new Set()));
      set.add(report.offset);
    }
  });
  const truths: SessionTruth[] = [];
  const fleet = simulateFleet(o.fleet);
  const gen = fleet.messages((t) => truths.push(t));
  let messages = 0;
  let records = 0;
  const messagesByTopic: Record<string, number> = {};
  let counts: FleetCounts | undefined;
  try {
    for (;;) {
      const next = gen.next();
      if (next.done) {
        counts = next.value;
        break;
      }
      const m = next.value;
      const topic = topicOfKind(o.topics, m.kind);
      const headers: MessageHeader[] | undefined = m.records > 1 ? [{ 'pev-records': String(m.records) }] : undefined;
      let copy = false;
      if (!m.malformed) {
        copy = true;
        for (let r = 0; r < m.records; r++) {
          const digest = createHash('md5').update(m.value.subarray(m.bounds[r], m.bounds[r + 1])).digest('base64');
          if (!seen.has(digest)) {
            seen.add(digest);
            copy = false;
          }
        }
      }
      // The arena a message lives in is never written again, so keeping its view is safe.
      const opaque: Pending | undefined = m.malformed || copy ? { malformed: m.malformed, copy, value: m.malformed ? m.value : null } : undefined;
      for (;;) {
        try {
          producer.produce(topic, null, m.value, m.key, m.timestampMs, opaque, headers);
          break;
        } catch (err) {
          if ((err as LibrdKafkaError).code !== Kafka.CODES.ERRORS.ERR__QUEUE_FULL) throw err;
          producer.poll();
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      messages++;
      records += m.records;
      messagesByTopic[topic] = (messagesByTopic[topic] ?? 0) + 1;
      if (o.pace && messages % 500 === 0) {
        const wait = o.pace(messages);
        if (wait) await wait;
      }
      if (o.hold && messages === o.hold.afterMessages) {
        await new Promise<void>((resolve, reject) => producer.flush(120_000, (err) => (err ? reject(new Error(`feed flush: ${err.message}`)) : resolve())));
        o.hold.onHold();
        await o.hold.resume;
      }
      if (messages % 100_000 === 0) {
        o.onProgress?.(messages);
        // Let delivery reports in, so the queue drains while we produce.
        await new Promise((r) => setImmediate(r));
      }
      if (failed) throw new Error(`feed: delivery failed: ${failed}`);
    }
    await new Promise<void>((resolve, reject) => producer.flush(120_000, (err) => (err ? reject(new Error(`feed flush: ${err.message}`)) : resolve())));
    const deadline = Date.now() + 60_000;
    while (acked < messages && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (failed) throw new Error(`feed: delivery failed: ${failed}`);
    if (acked < messages) throw new Error(`feed: ${messages - acked} of ${messages} messages not acknowledged`);
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }
  malformed.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || a.offset - b.offset));
  return {
    truths,
    messages,
    records,
    messagesByTopic,
    intervalRecords: counts.intervalRecords,
    malformed,
    copies,
    counts,
    seconds: (Date.now() - started) / 1000,
  };
}

function offsetReader(brokers: string, group: string): Kafka.KafkaConsumer {
  return new Kafka.KafkaConsumer(
    {
      'bootstrap.servers': brokers,
      'group.id': group,
      'client.id': 'pevmeter-chaos-offsets',
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      // A broker restart must not leave the reader stuck on a dead connection for long.
      'reconnect.backoff.max.ms': 1_000,
    },
    { 'auto.offset.reset': 'earliest' },
  );
}

async function connected(c: Kafka.KafkaConsumer): Promise<Kafka.KafkaConsumer> {
  await new Promise<void>((resolve, reject) => c.connect({ timeout: 20_000 }, (err) => (err ? reject(new Error(`kafka: ${err.message}`)) : resolve())));
  return c;
}

function disconnected(c: Kafka.KafkaConsumer): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 5_000);
    c.disconnect(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Reads a group's committed offsets and the partitions' high watermarks, as often as asked, over
 * one connection. It carries the group's ID but never subscribes: it is not a member, so looking
 * does not rebalance the group under test.
 */
export class OffsetReader {
  private constructor(private readonly c: Kafka.KafkaConsumer) {}

  static async open(brokers: string, group: string): Promise<OffsetReader> {
    return new OffsetReader(await connected(offsetReader(brokers, group)));
  }

  /** Committed offset per `tpKey` (-1 when the group has none). */
  committed(tps: readonly TopicPartition[], timeoutMs = 10_000): Promise<Map<string, number>> {
    return new Promise((resolve, reject) =>
      this.c.committed([...tps], timeoutMs, (err, list) => {
        if (err) {
          reject(new Error(`committed offsets: ${err.message}`));
          return;
        }
        const out = new Map<string, number>();
        for (const tp of list) out.set(tpKey(tp.topic, tp.partition), typeof tp.offset === 'number' && tp.offset >= 0 ? tp.offset : -1);
        resolve(out);
      }),
    );
  }

  /** Sum of committed offsets (none = 0): one number that only grows while the group makes progress. */
  async committedTotal(tps: readonly TopicPartition[], timeoutMs = 10_000): Promise<number> {
    let sum = 0;
    for (const v of (await this.committed(tps, timeoutMs)).values()) sum += Math.max(0, v);
    return sum;
  }

  /** High watermark (next offset to be assigned) per `tpKey`. */
  async high(tps: readonly TopicPartition[], timeoutMs = 10_000): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const tp of tps) {
      const w = await new Promise<{ highOffset: number }>((resolve, reject) => {
        this.c.queryWatermarkOffsets(tp.topic, tp.partition, timeoutMs, (err, r) => {
          if (err) reject(new Error(`watermarks of ${tpKey(tp.topic, tp.partition)}: ${err.message}`));
          else resolve(r);
        });
      });
      out.set(tpKey(tp.topic, tp.partition), w.highOffset);
    }
    return out;
  }

  /** Committed offsets and high watermarks side by side, for the offset check. */
  async table(tps: readonly TopicPartition[]): Promise<{ topic: string; partition: number; committed: number; high: number }[]> {
    const committed = await this.committed(tps);
    const high = await this.high(tps);
    return tps.map((tp) => ({
      topic: tp.topic,
      partition: tp.partition,
      committed: committed.get(tpKey(tp.topic, tp.partition)) ?? -1,
      high: high.get(tpKey(tp.topic, tp.partition)) ?? 0,
    }));
  }

  close(): Promise<void> {
    return disconnected(this.c);
  }
}

async function withReader<T>(brokers: string, group: string, fn: (r: OffsetReader) => Promise<T>): Promise<T> {
  const r = await OffsetReader.open(brokers, group);
  try {
    return await fn(r);
  } finally {
    await r.close();
  }
}

/** The group's committed offset per partition (-1 when none). Does not join the group. */
export function committedOffsets(brokers: string, group: string, tps: readonly TopicPartition[]): Promise<Map<string, number>> {
  return withReader(brokers, group, (r) => r.committed(tps));
}

/** High watermark (next offset to be assigned) per partition. */
export function highWatermarks(brokers: string, tps: readonly TopicPartition[]): Promise<Map<string, number>> {
  return withReader(brokers, `pevmeter-chaos-watermarks-${process.pid}`, (r) => r.high(tps));
}

/** Committed offsets and high watermarks side by side, for the offset check. */
export function offsetTable(brokers: string, group: string, tps: readonly TopicPartition[]): Promise<{ topic: string; partition: number; committed: number; high: number }[]> {
  return withReader(brokers, group, (r) => r.table(tps));
}

/** A consumed message with its headers as strings. */
export interface ReadMessage {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

function headerMap(headers: MessageHeader[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of headers ?? []) {
    for (const [k, v] of Object.entries(h)) out[k] = typeof v === 'string' ? v : v.toString('utf8');
  }
  return out;
}

/** Every message of a topic from offset 0 to its high watermark at the time of the call. */
export async function readTopic(brokers: string, topic: string, partitions: number, timeoutMs = 60_000): Promise<ReadMessage[]> {
  const tps = partitionsOf([topic], partitions);
  const high = await highWatermarks(brokers, tps);
  const c = await connected(offsetReader(brokers, `pevmeter-chaos-reader-${process.pid}-${Date.now()}`));
  try {
    c.assign(tps.map((tp) => ({ ...tp, offset: 0 })));
    const out: ReadMessage[] = [];
    const next = new Map(tps.map((tp) => [tpKey(tp.topic, tp.partition), 0]));
    const done = () => tps.every((tp) => (next.get(tpKey(tp.topic, tp.partition)) ?? 0) >= (high.get(tpKey(tp.topic, tp.partition)) ?? 0));
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`reading ${topic}: timed out with ${out.length} messages`);
      const batch = await new Promise<Message[]>((resolve, reject) => c.consume(10_000, (err, m) => (err ? reject(new Error(`reading ${topic}: ${err.message}`)) : resolve(m))));
      for (const m of batch) {
        out.push({
          topic: m.topic,
          partition: m.partition,
          offset: m.offset,
          key: m.key === undefined || m.key === null ? null : m.key.toString(),
          value: m.value,
          headers: headerMap(m.headers),
        });
        next.set(tpKey(m.topic, m.partition), m.offset + 1);
      }
    }
    return out;
  } finally {
    await disconnected(c);
  }
}
