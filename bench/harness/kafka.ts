/**
 * The harness's Kafka side: topic sets with unique names per run, a bulk producer that fills a
 * topic before anything is timed, and a rate-limited producer that knows when each message was
 * produced (the latency run).
 *
 * Records per message: a message value holds `records` Confluent-framed records back to back and
 * the header `pev-records` declares the count when it is above 1, as the ESCIs send them.
 */
import Kafka from 'node-rdkafka';
import type { DeliveryReport, LibrdKafkaError, MessageHeader } from 'node-rdkafka';
import { PevmeterError } from '../../schemas/errors.js';
import { SimMessage } from '../sim/fleet.js';
import { KafkaSink } from '../sim/kafka-writer.js';
import type { TopicSet } from './types.js';

/** One message to produce. */
export interface DataMessage {
  key: string;
  value: Buffer;
  records: number;
}

const QUEUE_FULL = Kafka.CODES.ERRORS.ERR__QUEUE_FULL;

function kafkaError(what: string, err: { message: string }): PevmeterError {
  return new PevmeterError('PEV_KAFKA', `bench: ${what}: ${err.message}`, { retryable: true });
}

/** Topic names of a set: unique per run and label, so runs never read each other's data. */
export function topicSetNames(runId: string, label: string): Omit<TopicSet, 'partitions' | 'recordsPerMessage' | 'records' | 'messages' | 'bytes' | 'produceSeconds' | 'source'> {
  const base = `bench-${runId}-${label}`;
  return {
    interval: `${base}.interval`,
    sessionEvent: `${base}.session-event`,
    vehicleReport: `${base}.vehicle-report`,
    enrollment: `${base}.enrollment`,
    dlq: `${base}.dlq`,
  };
}

export function topicsOf(set: Pick<TopicSet, 'interval' | 'sessionEvent' | 'vehicleReport' | 'enrollment' | 'dlq'>): string[] {
  return [set.interval, set.sessionEvent, set.vehicleReport, set.enrollment, set.dlq];
}

async function withAdmin<T>(brokers: string, fn: (admin: Kafka.IAdminClient) => Promise<T>): Promise<T> {
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': brokers, 'client.id': 'pevmeter-bench-admin' });
  try {
    return await fn(admin);
  } finally {
    admin.disconnect();
  }
}

export function createTopics(brokers: string, names: readonly string[], partitions: number): Promise<void> {
  return withAdmin(brokers, async (admin) => {
    for (const topic of names) {
      await new Promise<void>((resolve, reject) => {
        admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, 30_000, (err) => (err ? reject(kafkaError(`create topic ${topic}`, err)) : resolve()));
      });
    }
  });
}

/** Deletes topics; failures are reported, not thrown (cleanup must not hide the figures). */
export function deleteTopics(brokers: string, names: readonly string[]): Promise<string[]> {
  return withAdmin(brokers, async (admin) => {
    const failed: string[] = [];
    for (const topic of names) {
      await new Promise<void>((resolve) => {
        admin.deleteTopic(topic, 30_000, (err) => {
          if (err) failed.push(`${topic}: ${err.message}`);
          resolve();
        });
      });
    }
    return failed;
  });
}

function headersOf(records: number): MessageHeader[] | undefined {
  return records > 1 ? [{ 'pev-records': String(records) }] : undefined;
}

function connectProducer(brokers: string, extra: Record<string, string | number | boolean>): Promise<Kafka.Producer> {
  const producer = new Kafka.Producer({
    'bootstrap.servers': brokers,
    'client.id': 'pevmeter-bench',
    dr_cb: true,
    'queue.buffering.max.messages': 1_000_000,
    'queue.buffering.max.kbytes': 1_048_576,
    'compression.type': 'none',
    ...extra,
  });
  return new Promise((resolve, reject) => {
    producer.connect({ timeout: 30_000 }, (err) => (err ? reject(kafkaError(`connect to ${brokers}`, err)) : resolve(producer)));
  });
}

function disconnect(producer: Kafka.Producer): Promise<void> {
  return new Promise((resolve) => producer.disconnect(10_000, () => resolve()));
}

function flush(producer: Kafka.Producer): Promise<void> {
  return new Promise((resolve, reject) => producer.flush(60_000, (err) => (err ? reject(kafkaError('flush', err)) : resolve())));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface ProduceSummary {
  records: number;
  messages: number;
  bytes: number;
  seconds: number;
}

/**
 * Produces every message to `topic` as fast as the broker takes them (the simulator's KafkaSink:
 * idempotent, acks=all, deep local queue) and waits until all are acknowledged. `keep` (optional)
 * receives each message, for a later rate-limited replay.
 */
export async function produceAll(brokers: string, topic: string, source: Iterable<DataMessage>, keep?: DataMessage[]): Promise<ProduceSummary> {
  const started = performance.now();
  const sink = await KafkaSink.open({ brokers, topics: { interval: topic }, createTopics: false, timestamps: 'now' });
  const out: ProduceSummary = { records: 0, messages: 0, bytes: 0, seconds: 0 };
  let closed = false;
  try {
    for (const m of source) {
      const sim = new SimMessage('interval', m.key, 0, m.records, [], null, -1, m.value, 0, m.value.length);
      while (!sink.write(sim)) await sink.drain();
      keep?.push(m);
      out.records += m.records;
      out.messages++;
      out.bytes += m.value.length;
    }
    closed = true;
    const acked = await sink.close();
    const got = acked.topics[topic]?.messages ?? 0;
    if (got !== out.messages) throw new PevmeterError('PEV_KAFKA', `bench: ${got} of ${out.messages} messages to ${topic} were acknowledged`);
  } finally {
    if (!closed) await sink.close(10_000).catch(() => undefined);
  }
  out.seconds = (performance.now() - started) / 1000;
  return out;
}

/** Produce times of a rate-limited run, by partition and offset (what the latency figures need). */
export interface ProduceLog {
  /** Per partition: offset -> produce time (epoch ms, fractional); NaN where not produced here. */
  byPartition: Map<number, { base: number; times: number[]; records: number[] }>;
  records: number;
  messages: number;
  seconds: number;
  firstMs: number;
  lastMs: number;
}

/** Progress of a steady-rate producer, readable while it runs. */
export interface SteadyProgress {
  /** Records and messages handed to librdkafka so far. */
  records: number;
  messages: number;
  bytes: number;
  /** Records and messages the broker acknowledged so far. */
  deliveredRecords: number;
  deliveredMessages: number;
}

export interface SteadyOptions {
  /** Each acknowledged message, with the offset the broker gave it and its produce time (epoch ms). */
  onDelivered?: (partition: number, offset: number, producedMs: number, records: number) => void;
  /** Filled in as the producer goes (for progress lines). */
  progress?: SteadyProgress;
}

export interface SteadySummary {
  records: number;
  messages: number;
  bytes: number;
  /** From the first produce call until the source ended (the flush not included). */
  seconds: number;
  firstMs: number;
  /** The last produce call (epoch ms). */
  lastMs: number;
}

/**
 * node-rdkafka hands the JavaScript side at most 100 delivery reports per turn of the event loop
 * (src/callbacks.cc, DeliveryReportDispatcher::Flush). A producer that makes more messages than
 * that per turn falls behind its reports for good: a 30-minute soak at 32,886 records/s ended 14.3
 * million reports behind (every message stored), which also delays the latency matching. So each
 * turn produces at most this many messages, and the loop turns again at once while behind schedule.
 */
const MESSAGES_PER_TURN = 80;

/**
 * Produces what `source` yields at `recordsPerS` (records, not messages), in ticks of a few
 * milliseconds, until the source ends; then flushes and waits for every delivery report. The
 * source is pulled only as fast as the rate allows, so it may be endless or made on the fly (the
 * soak's fleets), and nothing is kept per message: `onDelivered` gets each message's partition,
 * offset and produce time, which is also its Kafka timestamp (CreateTime, rounded to the ms).
 */
export async function produceSteady(brokers: string, topic: string, source: Iterator<DataMessage>, recordsPerS: number, o: SteadyOptions = {}): Promise<SteadySummary> {
  const producer = await connectProducer(brokers, { 'linger.ms': 5, acks: 1 });
  const progress: SteadyProgress = o.progress ?? { records: 0, messages: 0, bytes: 0, deliveredRecords: 0, deliveredMessages: 0 };
  let failed: LibrdKafkaError | undefined;
  producer.on('delivery-report', (err: LibrdKafkaError | null, report: DeliveryReport) => {
    if (err) {
      failed ??= err;
      return;
    }
    const sent = report.opaque as { t: number; records: number };
    progress.deliveredMessages++;
    progress.deliveredRecords += sent.records;
    o.onDelivered?.(report.partition, report.offset, sent.t, sent.records);
  });
  producer.setPollInterval(5);
  const origin = performance.timeOrigin;
  const t0 = performance.now();
  let records = 0;
  let lastT = t0;
  let next = source.next();
  try {
    while (next.done !== true) {
      const due = ((performance.now() - t0) / 1000) * recordsPerS;
      let burst = 0;
      let queueFull = false;
      while (next.done !== true && records < due && burst++ < MESSAGES_PER_TURN) {
        const m = next.value;
        const now = origin + performance.now();
        try {
          producer.produce(topic, null, m.value, m.key, Math.round(now), { t: now, records: m.records }, headersOf(m.records));
        } catch (err) {
          if ((err as LibrdKafkaError).code !== QUEUE_FULL) throw kafkaError(`produce to ${topic}`, err as Error);
          queueFull = true;
          break;
        }
        records += m.records;
        progress.records += m.records;
        progress.messages++;
        progress.bytes += m.value.length;
        lastT = performance.now();
        next = source.next();
      }
      if (failed) throw kafkaError(`delivery to ${topic}`, failed);
      // Behind the schedule: turn the event loop at once (the turn serves delivery reports);
      // otherwise, or when librdkafka's queue is full (turning at once would only spin), wait for
      // the next tick of the schedule.
      if (records < due && !queueFull) await new Promise<void>((r) => setImmediate(r));
      else await sleep(1);
    }
    const seconds = (performance.now() - t0) / 1000;
    await flush(producer);
    // Delivery reports are served on this thread, between produce calls: at a high rate on a busy
    // machine they fall behind the broker (a 30-minute soak at 32,886 records/s ended with 14.3
    // million of 59.2 million still to hear, every message stored). Wait as long as they come.
    let heard = progress.deliveredMessages;
    let deadline = Date.now() + 60_000;
    while (progress.deliveredMessages < progress.messages && !failed && Date.now() < deadline) {
      await sleep(10);
      if (progress.deliveredMessages > heard) {
        heard = progress.deliveredMessages;
        deadline = Date.now() + 60_000;
      }
    }
    if (failed) throw kafkaError(`delivery to ${topic}`, failed);
    if (progress.deliveredMessages < progress.messages) throw new PevmeterError('PEV_KAFKA', `bench: ${progress.deliveredMessages} of ${progress.messages} messages to ${topic} were acknowledged (none for 60 s)`);
    return { records: progress.records, messages: progress.messages, bytes: progress.bytes, seconds, firstMs: origin + t0, lastMs: origin + lastT };
  } finally {
    await disconnect(producer);
  }
}

/**
 * Produces `messages` at `recordsPerS` (the steady producer above) and records each message's
 * produce time against the offset the broker gave it, for the latency figures.
 */
export async function produceAtRate(brokers: string, topic: string, messages: readonly DataMessage[], recordsPerS: number): Promise<ProduceLog> {
  const reports: { partition: number; offset: number; t: number; records: number }[] = [];
  const s = await produceSteady(brokers, topic, messages[Symbol.iterator](), recordsPerS, {
    onDelivered: (partition, offset, t, records) => reports.push({ partition, offset, t, records }),
  });
  const byPartition: ProduceLog['byPartition'] = new Map();
  reports.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  for (const r of reports) {
    let p = byPartition.get(r.partition);
    if (!p) byPartition.set(r.partition, (p = { base: r.offset, times: [], records: [] }));
    const i = r.offset - p.base;
    while (p.times.length < i) {
      p.times.push(Number.NaN);
      p.records.push(0);
    }
    p.times[i] = r.t;
    p.records[i] = r.records;
  }
  return { byPartition, records: s.records, messages: s.messages, seconds: s.seconds, firstMs: s.firstMs, lastMs: s.firstMs + s.seconds * 1000 };
}
