/**
 * The Kafka chores of the peer benchmark: fresh topics, a pre-produced interval topic, and where a
 * consumer group stands (committed offsets against the end of each partition). A group that has
 * committed the end of every partition has made everything it read durable: both the peer (the
 * Kafka engine commits after its block reached the views) and pevmeter (after the insert) commit
 * only then, so "drained" means the same thing for both.
 */
import Kafka from 'node-rdkafka';
import type { LibrdKafkaError } from 'node-rdkafka';
import { RECORDS_HEADER } from '../../ingest/codec/framing.js';
import { simulateFleet, type FleetOptionsInput, type SessionTruth } from '../sim/fleet.js';

function promised<T>(fn: (cb: (err: LibrdKafkaError | null | undefined, v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(new Error(err.message, { cause: err })) : resolve(v))));
}

export async function createTopics(brokers: string, names: readonly string[], partitions: number): Promise<void> {
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': brokers, 'client.id': 'pevmeter-bench-peer' });
  try {
    for (const topic of names) {
      await new Promise<void>((resolve, reject) =>
        admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, 30_000, (err) => {
          // Already there from an earlier attempt with the same name: fine, its content is ours.
          if (err && err.code !== Kafka.CODES.ERRORS.ERR_TOPIC_ALREADY_EXISTS) reject(new Error(`create topic ${topic}: ${err.message}`));
          else resolve();
        }),
      );
    }
  } finally {
    admin.disconnect();
  }
}

export async function deleteTopics(brokers: string, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': brokers, 'client.id': 'pevmeter-bench-peer' });
  try {
    for (const topic of names) {
      await new Promise<void>((resolve, reject) =>
        admin.deleteTopic(topic, 30_000, (err) => {
          if (err && err.code !== Kafka.CODES.ERRORS.ERR_UNKNOWN_TOPIC_OR_PART) reject(new Error(`delete topic ${topic}: ${err.message}`));
          else resolve();
        }),
      );
    }
  } finally {
    admin.disconnect();
  }
}

export interface ProducedTopic {
  topic: string;
  partitions: number;
  /** Kafka messages and the interval records they carry. */
  messages: number;
  records: number;
  /** Message value bytes. */
  bytes: number;
  recordsPerMessage: number;
  /** Per session: the sum of its unique, first-received intervals (SessionTruth.interval_sum_wh), when asked for. */
  truth: Map<string, SessionTruth> | undefined;
  produceSeconds: number;
}

export interface ProduceOptions {
  brokers: string;
  topic: string;
  partitions: number;
  recordsPerMessage: number;
  /**
   * Stop after this many interval records (a message is never split, so the last one may carry a
   * few more). Sessions cut off this way have no usable truth: only throughput runs set it.
   */
  maxRecords?: number;
  fleet: FleetOptionsInput;
  /** Keep every session's truth (the exactness run). */
  keepTruth?: boolean;
}

/**
 * Creates `topic` with `partitions` and writes the simulator's interval messages to it, keyed by
 * ESCI as devices would, with the `pev-records` header when a message packs several records.
 * Other record kinds are left out: the peer reads intervals only, so both sides get the same input.
 */
export async function produceIntervalTopic(o: ProduceOptions): Promise<ProducedTopic> {
  await createTopics(o.brokers, [o.topic], o.partitions);
  const producer = new Kafka.Producer({
    'bootstrap.servers': o.brokers,
    'client.id': 'pevmeter-bench-peer-producer',
    dr_cb: true,
    'linger.ms': 20,
    'batch.num.messages': 10_000,
    'queue.buffering.max.messages': 200_000,
    'queue.buffering.max.kbytes': 262_144,
    'message.max.bytes': 10_000_000,
  });
  await promised<unknown>((cb) => producer.connect({}, cb));
  producer.setPollInterval(5);
  let acked = 0;
  let failed: Error | undefined;
  producer.on('delivery-report', (err) => {
    acked += 1;
    if (err && !failed) failed = new Error(`delivery to ${o.topic} failed: ${err.message}`);
  });
  const truth = o.keepTruth ? new Map<string, SessionTruth>() : undefined;
  const fleet = simulateFleet({ ...o.fleet, recordsPerMessage: o.recordsPerMessage });
  const gen = fleet.messages(truth ? (s) => truth.set(s.session_id, s) : undefined);
  const started = process.hrtime.bigint();
  let messages = 0;
  let records = 0;
  let bytes = 0;
  const max = o.maxRecords ?? Infinity;
  try {
    for (let next = gen.next(); !next.done && records < max; next = gen.next()) {
      const m = next.value;
      if (m.kind !== 'interval') continue;
      const headers = m.records > 1 ? [{ [RECORDS_HEADER]: String(m.records) }] : undefined;
      for (;;) {
        try {
          producer.produce(o.topic, null, m.value, m.key, m.timestampMs, null, headers);
          break;
        } catch (err) {
          if ((err as LibrdKafkaError).code !== Kafka.CODES.ERRORS.ERR__QUEUE_FULL) throw err;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      messages += 1;
      records += m.records;
      bytes += m.value.length;
      if (failed) throw failed;
    }
    if (records < max && max !== Infinity) throw new Error(`the fleet ran out at ${records} interval records, below the ${max} asked for; give it more premises or days`);
    await new Promise<void>((resolve, reject) => producer.flush(60_000, (err) => (err ? reject(new Error(`flush to ${o.topic}: ${err.message}`)) : resolve())));
    const deadline = Date.now() + 60_000;
    while (acked < messages && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (failed) throw failed;
    if (acked < messages) throw new Error(`only ${acked} of ${messages} messages to ${o.topic} were acknowledged within 60 s`);
  } finally {
    await new Promise((r) => producer.disconnect(10_000, r));
  }
  return {
    topic: o.topic,
    partitions: o.partitions,
    messages,
    records,
    bytes,
    recordsPerMessage: o.recordsPerMessage,
    truth,
    produceSeconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

export interface GroupPosition {
  /** Sum over partitions of (end offset - committed offset); a partition never committed counts whole. */
  lag: number;
  end: number;
  committed: number;
}

/**
 * How far `group` is behind on `topic`. Uses a consumer that never subscribes, so it fetches the
 * group's offsets without joining the group or disturbing its members.
 */
export class GroupWatcher {
  private readonly consumer: Kafka.KafkaConsumer;
  private partitions = 0;

  constructor(
    private readonly brokers: string,
    private readonly group: string,
    private readonly topic: string,
  ) {
    this.consumer = new Kafka.KafkaConsumer({ 'bootstrap.servers': this.brokers, 'group.id': this.group, 'enable.auto.commit': false, 'client.id': 'pevmeter-bench-peer-watch' }, {});
  }

  async connect(): Promise<void> {
    await promised<unknown>((cb) => this.consumer.connect({ topic: this.topic, timeout: 10_000 }, cb));
    const md = await promised<Kafka.Metadata>((cb) => {
      this.consumer.getMetadata({ topic: this.topic, timeout: 10_000 }, cb);
    });
    this.partitions = md.topics.find((t) => t.name === this.topic)?.partitions.length ?? 0;
    if (this.partitions === 0) throw new Error(`topic ${this.topic} has no partitions (does it exist?)`);
  }

  async position(): Promise<GroupPosition> {
    const tps = Array.from({ length: this.partitions }, (_, partition) => ({ topic: this.topic, partition }));
    const committed = await promised<Kafka.TopicPartitionOffset[]>((cb) => this.consumer.committed(tps, 10_000, cb));
    let lag = 0;
    let end = 0;
    let sum = 0;
    for (const tp of tps) {
      const wm = await promised<Kafka.WatermarkOffsets>((cb) => {
        this.consumer.queryWatermarkOffsets(tp.topic, tp.partition, 10_000, cb);
      });
      const c = committed.find((x) => x.partition === tp.partition)?.offset ?? -1;
      const at = c >= 0 ? c : wm.lowOffset;
      end += wm.highOffset;
      sum += Math.max(0, at);
      lag += Math.max(0, wm.highOffset - at);
    }
    return { lag, end, committed: sum };
  }

  async close(): Promise<void> {
    if (!this.consumer.isConnected()) return;
    await new Promise<void>((resolve) => this.consumer.disconnect(() => resolve()));
  }
}
