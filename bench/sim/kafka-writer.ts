/**
 * Produces a simulated fleet to Kafka, as the ESCIs would: one topic per record kind, Confluent
 * framing, key = esci_id (pev_id for enrollments), header `pev-records: N` on multi-record
 * messages, message timestamps = simulated delivery times (or now, for brokers whose retention
 * would delete 2026 data on arrival).
 *
 * Throughput: librdkafka batches (linger, large batches, a deep local queue); produce() copies the
 * value, so the simulator's arena is never retained. When the local queue is full the loop polls
 * and waits rather than failing. The producer is idempotent with acks=all, so a retried batch is
 * never stored twice and the counts a consumer reads back equal what was acknowledged here.
 * Nothing is reported written until its delivery report says so.
 */
import Kafka from 'node-rdkafka';
import type { DeliveryReport, LibrdKafkaError, MessageHeader } from 'node-rdkafka';
import { RECORD_KINDS, TOPICS, type RecordKind } from '../../schemas/index.js';
import { ConfigError, PevmeterError } from '../../schemas/errors.js';
import { Fleet, type FleetCounts, type FleetOptionsInput, type SessionTruth, type SimMessage } from './fleet.js';

export interface KafkaWriteOptions {
  /** Bootstrap servers, comma-separated host:port. */
  brokers: string;
  /** Partitions of topics created when missing (default 4). Existing topics are left as they are. */
  partitions?: number;
  /** Replication factor of created topics (default 1: the single-node test broker). */
  replicationFactor?: number;
  /** Topic per record kind (default: the names in schemas/index.ts TOPICS). */
  topics?: Partial<Record<RecordKind, string>>;
  /** Prepended to every default topic name (tests use a unique one per run). */
  topicPrefix?: string;
  /** Create missing topics through the AdminClient (default true). */
  createTopics?: boolean;
  /** Message timestamps: the simulated delivery time (default) or the wall clock. */
  timestamps?: 'simulated' | 'now';
  /** Extra librdkafka producer settings (security.protocol, sasl.*, compression...). */
  rdkafka?: Record<string, string | number | boolean>;
  /** Receives each session's ground truth as the stream reaches it. */
  onSession?: (truth: SessionTruth) => void;
  /** Longest wait for the last delivery reports after the stream ends (default 120 s). */
  drainTimeoutMs?: number;
}

export interface TopicAck {
  kind: RecordKind;
  messages: number;
  bytes: number;
}

export interface KafkaWriteResult {
  brokers: string;
  /** Acknowledged by the broker, per topic name actually written. */
  topics: Record<string, TopicAck>;
  messages: number;
  bytes: number;
  /** What the simulator produced (per canonical topic name), for comparison. */
  simulated: FleetCounts;
  sessions: number;
  seconds: number;
  messagesPerSecond: number;
}

/** The topic each kind goes to under `options`. */
export function topicNames(options: Pick<KafkaWriteOptions, 'topics' | 'topicPrefix'>): Record<RecordKind, string> {
  const out = {} as Record<RecordKind, string>;
  for (const kind of RECORD_KINDS) out[kind] = options.topics?.[kind] ?? `${options.topicPrefix ?? ''}${TOPICS[kind]}`;
  return out;
}

/** Creates the topics that do not exist yet. */
export async function ensureTopics(brokers: string, topics: readonly string[], partitions: number, replicationFactor = 1, rdkafka: Record<string, string | number | boolean> = {}): Promise<void> {
  const admin = Kafka.AdminClient.create({ ...rdkafka, 'bootstrap.servers': brokers, 'client.id': 'pevmeter-simulator-admin' });
  try {
    for (const topic of topics) {
      await new Promise<void>((resolve, reject) => {
        admin.createTopic({ topic, num_partitions: partitions, replication_factor: replicationFactor }, 30_000, (err: LibrdKafkaError | null | undefined) => {
          if (!err || err.code === Kafka.CODES.ERRORS.ERR_TOPIC_ALREADY_EXISTS) resolve();
          else reject(new PevmeterError('PEV_KAFKA', `creating topic ${topic} (${partitions} partitions) on ${brokers}: ${err.message}`, { retryable: true }));
        });
      });
    }
  } finally {
    admin.disconnect();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A connected producer that takes SimMessages. `write` returns false when librdkafka's local
 * queue is full; then `await sink.drain()` before writing the same message again.
 */
export class KafkaSink {
  private readonly producer: Kafka.Producer;
  private readonly names: Record<RecordKind, string>;
  private readonly now: boolean;
  private readonly acked: Record<string, TopicAck> = {};
  private produced = 0;
  private settled = 0;
  private failure: Error | undefined;

  private constructor(producer: Kafka.Producer, names: Record<RecordKind, string>, now: boolean) {
    this.producer = producer;
    this.names = names;
    this.now = now;
    for (const kind of RECORD_KINDS) this.acked[names[kind]] = { kind, messages: 0, bytes: 0 };
    producer.on('delivery-report', (err: LibrdKafkaError | null, report: DeliveryReport) => {
      this.settled++;
      if (err) {
        this.failure ??= new PevmeterError('PEV_KAFKA', `delivery to ${report.topic} failed: ${err.message}`, { retryable: true });
        return;
      }
      const a = this.acked[report.topic];
      if (a) {
        a.messages++;
        a.bytes += report.size;
      }
    });
  }

  static async open(options: KafkaWriteOptions): Promise<KafkaSink> {
    const partitions = options.partitions ?? 4;
    if (!Number.isInteger(partitions) || partitions < 1) throw new ConfigError(`partitions: expected a positive integer, got ${partitions}`);
    const names = topicNames(options);
    const rdkafka = options.rdkafka ?? {};
    if (options.createTopics ?? true) await ensureTopics(options.brokers, Object.values(names), partitions, options.replicationFactor ?? 1, rdkafka);
    const producer = new Kafka.Producer(
      {
        'client.id': 'pevmeter-simulator',
        'linger.ms': 20,
        'batch.num.messages': 10_000,
        'batch.size': 1_000_000,
        'queue.buffering.max.messages': 500_000,
        'queue.buffering.max.kbytes': 1_048_576,
        ...rdkafka,
        'bootstrap.servers': options.brokers,
        dr_cb: true,
        'enable.idempotence': true,
      },
      { 'request.required.acks': -1 },
    );
    await new Promise<void>((resolve, reject) => {
      producer.connect({ timeout: 30_000 }, (err) =>
        err ? reject(new PevmeterError('PEV_KAFKA', `simulator producer cannot connect to ${options.brokers}: ${err.message}`, { retryable: true })) : resolve(),
      );
    });
    producer.setPollInterval(50);
    return new KafkaSink(producer, names, options.timestamps === 'now');
  }

  /** Queues one message; false when the local queue is full (nothing was queued). */
  write(m: SimMessage): boolean {
    if (this.failure) throw this.failure;
    const headers: MessageHeader[] | undefined = m.records > 1 ? [{ 'pev-records': String(m.records) }] : undefined;
    try {
      this.producer.produce(this.names[m.kind], null, m.value, m.key, this.now ? Date.now() : m.timestampMs, undefined, headers);
    } catch (err) {
      if ((err as LibrdKafkaError).code === Kafka.CODES.ERRORS.ERR__QUEUE_FULL) return false;
      throw new PevmeterError('PEV_KAFKA', `producing to ${this.names[m.kind]}: ${(err as Error).message}`, { retryable: true, cause: err });
    }
    this.produced++;
    return true;
  }

  /** Lets delivery reports in so the local queue empties. */
  async drain(): Promise<void> {
    this.producer.poll();
    await sleep(5);
  }

  /** Waits for every delivery report, then disconnects. Throws if any message failed. */
  async close(timeoutMs = 120_000): Promise<{ topics: Record<string, TopicAck>; messages: number; bytes: number }> {
    const deadline = Date.now() + timeoutMs;
    try {
      await new Promise<void>((resolve) => this.producer.flush(timeoutMs, () => resolve()));
      while (this.settled < this.produced) {
        if (Date.now() > deadline) {
          throw new PevmeterError('PEV_KAFKA', `${this.produced - this.settled} of ${this.produced} messages unacknowledged after ${timeoutMs} ms`, { retryable: true });
        }
        this.producer.poll();
        await sleep(10);
      }
      if (this.failure) throw this.failure;
    } finally {
      this.producer.setPollInterval(0);
      await new Promise<void>((resolve) => this.producer.disconnect(5_000, () => resolve()));
    }
    let messages = 0;
    let bytes = 0;
    for (const a of Object.values(this.acked)) {
      messages += a.messages;
      bytes += a.bytes;
    }
    return { topics: this.acked, messages, bytes };
  }
}

/**
 * Simulates the fleet for `options` and produces it. Resolves once the broker acknowledged every
 * message, with the acknowledged counts per topic next to the simulator's own.
 */
export async function produceFleet(options: FleetOptionsInput, kafka: KafkaWriteOptions): Promise<KafkaWriteResult> {
  const started = process.hrtime.bigint();
  const fleet = new Fleet(options);
  const sink = await KafkaSink.open(kafka);
  let closed = false;
  try {
    let sinceYield = 0;
    for (const m of fleet.messages(kafka.onSession)) {
      while (!sink.write(m)) await sink.drain();
      // Give delivery reports a turn of the event loop now and then.
      if (++sinceYield >= 20_000) {
        sinceYield = 0;
        await new Promise<void>((r) => setImmediate(r));
      }
    }
    closed = true;
    const acked = await sink.close(kafka.drainTimeoutMs);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      brokers: kafka.brokers,
      topics: acked.topics,
      messages: acked.messages,
      bytes: acked.bytes,
      simulated: fleet.counts,
      sessions: fleet.sessionCount,
      seconds,
      messagesPerSecond: Math.round(acked.messages / Math.max(seconds, 1e-9)),
    };
  } finally {
    if (!closed) await sink.close(5_000).catch(() => undefined);
  }
}
