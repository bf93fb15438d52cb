/**
 * Turns one unit of Kafka messages into durable rows: resolve the schema IDs it uses, decode its
 * partition slices in the worker pool, then write every table and the dead letters (DurableSink).
 * Used by the Kafka loop; the file ingest shares everything from the pool on.
 */
import type { Message } from 'node-rdkafka';
import type { Config } from '../../schemas/config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { RegistryError } from '../../schemas/errors.js';
import type { RecordKind } from '../../schemas/index.js';
import type { BatchResult, FramedTask } from '../decode/task.js';
import type { DecodePool } from '../decode/pool.js';
import type { ResolvedSchema, SchemaResolver } from '../registry/index.js';
import type { DeadLetter } from '../kafka/dead-letter.js';
import type { PartitionSlice, UnitOutcome, UnitProcessor } from './unit.js';
import { recordCountOf } from '../codec/framing.js';
import { UnitAbandoned } from './unit.js';
import type { DurableSink} from './sink.js';
import { TableBuffers } from './sink.js';
import { retrying } from './retry.js';

/** Messages per worker task: small enough that one busy partition still spreads over the pool. */
export const MESSAGES_PER_TASK = 4_096;

/** Packs messages into one transferable buffer with boundaries, offsets and record counts. */
export function buildFramedTask(
  topic: string,
  partition: number,
  kind: RecordKind,
  messages: readonly Message[],
  schemas: readonly { id: number; text: string }[],
  cfg: Config,
  nowMs: number,
  columnar = false,
): FramedTask {
  let total = 0;
  for (const m of messages) total += m.value ? m.value.length : 0;
  const data = new ArrayBuffer(total);
  const bytes = new Uint8Array(data);
  const starts = new Uint32Array(messages.length);
  const ends = new Uint32Array(messages.length);
  const offsets = new Float64Array(messages.length);
  let counts: Uint16Array | undefined;
  let at = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    starts[i] = at;
    if (m.value) {
      bytes.set(m.value, at);
      at += m.value.length;
    }
    ends[i] = at;
    offsets[i] = m.offset;
    if (m.headers) {
      const n = recordCountOf(m.headers);
      if (n !== 1) {
        counts ??= new Uint16Array(messages.length).fill(1);
        counts[i] = n;
      }
    }
  }
  const task: FramedTask = {
    topic, partition, kind, data, starts, ends, offsets, schemas,
    nowMs, clockSkewMs: cfg.pipeline.clockSkewMs, ingestedMs: nowMs, maxMessageBytes: cfg.pipeline.maxMessageBytes,
  };
  if (counts) task.recordCounts = counts;
  if (columnar) task.columnar = true;
  return task;
}

/** `p`, or a rejection with the signal's reason as soon as it aborts (p goes on, unheard). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export class KafkaUnitProcessor implements UnitProcessor {
  private readonly kindOfTopic = new Map<string, RecordKind>();
  /**
   * Resolved schema texts by ID (IDs are immutable, so a found schema is kept for good). An ID the
   * registry does not know is not remembered here: the resolver caches that answer for a while
   * (registry.notFoundCacheMs), then asks again, so a schema registered late is picked up.
   */
  private readonly schemas = new Map<number, ResolvedSchema>();

  constructor(
    private readonly cfg: Config,
    private readonly pool: DecodePool,
    private readonly resolver: SchemaResolver,
    private readonly sink: DurableSink,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    const t = cfg.kafka.topics;
    this.kindOfTopic.set(t.interval, 'interval');
    this.kindOfTopic.set(t.sessionEvent, 'sessionEvent');
    this.kindOfTopic.set(t.vehicleReport, 'vehicleReport');
    this.kindOfTopic.set(t.enrollment, 'enrollment');
  }

  /**
   * Resolves schema IDs not cached yet; returns how many were found. A registry outage is waited
   * out here, with the unit (and so the partitions) held: records are never dead-lettered because
   * the registry was down.
   */
  private async resolveIds(ids: Iterable<number>, kill: AbortSignal, stop?: AbortSignal): Promise<number> {
    const missing = new Set<number>();
    for (const id of ids) if (!this.schemas.has(id)) missing.add(id);
    if (missing.size === 0) return 0;
    // Nothing of the unit is written while it waits here, so once a lookup has failed a stop
    // gives the unit up at once, even in the middle of the next lookup (whose own retries and
    // timeouts can take many seconds). The first lookup always runs to its end: while draining,
    // a unit with a new schema ID must still be able to progress when the registry answers.
    const signal = stop ? AbortSignal.any([kill, stop]) : kill;
    let failed = false;
    const lookup = () => {
      const p = this.resolver.resolve([...missing]).catch((err: unknown) => {
        failed = true;
        throw err;
      });
      return failed ? untilAborted(p, signal) : p;
    };
    const found = await retrying(lookup, {
      initialMs: this.cfg.pipeline.retryInitialMs,
      maxMs: this.cfg.pipeline.retryMaxMs,
      signal,
      onRetry: (err, attempt, waitMs) => {
        this.metrics.registryRetries.inc();
        this.log.warn({ attempt, waitMs, code: (err as RegistryError).code, err: (err as Error).message, ids: [...missing] }, 'schema registry unavailable; consumption paused until it answers (no record is dead-lettered for this)');
      },
    }).catch((err: unknown) => {
      if (failed && stop?.aborted && !kill.aborted) throw new UnitAbandoned(`stopping while schema IDs ${[...missing].join(', ')} could not be resolved: ${(err as Error).message}`);
      throw err;
    });
    let n = 0;
    for (const id of missing) {
      const schema = found.get(id);
      if (schema) {
        this.schemas.set(id, schema);
        n++;
      }
    }
    return n;
  }

  /** The schema IDs the unit's messages start with (later records of a message are seen by the workers). */
  private static firstIds(slices: readonly PartitionSlice[]): Set<number> {
    const ids = new Set<number>();
    let last = -1;
    for (const s of slices) {
      for (const m of s.messages) {
        const v = m.value;
        if (!v || v.length < 5 || v[0] !== 0) continue;
        const id = v.readUInt32BE(1);
        // Almost every message of a topic names the same ID: skip the set for repeats.
        if (id !== last) ids.add((last = id));
      }
    }
    return ids;
  }

  private knownSchemas(): { id: number; text: string }[] {
    const out: { id: number; text: string }[] = [];
    for (const s of this.schemas.values()) out.push({ id: s.id, text: s.text });
    return out;
  }

  private async decode(slices: readonly PartitionSlice[]): Promise<{ slice: PartitionSlice; first: number; result: BatchResult }[]> {
    const schemas = this.knownSchemas();
    const now = Date.now();
    const jobs: Promise<{ slice: PartitionSlice; first: number; result: BatchResult }>[] = [];
    for (const slice of slices) {
      const kind = this.kindOfTopic.get(slice.topic);
      if (!kind) continue;
      for (let first = 0; first < slice.messages.length; first += MESSAGES_PER_TASK) {
        const part = slice.messages.slice(first, first + MESSAGES_PER_TASK);
        const task = buildFramedTask(slice.topic, slice.partition, kind, part, schemas, this.cfg, now, this.sink.columnar);
        const end = this.metrics.decodeSeconds.startTimer();
        jobs.push(
          this.pool.run(task).then((result) => {
            end();
            return { slice, first, result };
          }),
        );
      }
    }
    return Promise.all(jobs);
  }

  /**
   * Not async on purpose: the unit's messages (tens of thousands of node-rdkafka objects, each with
   * its own value and key Buffers) are the largest live set on the main thread. Only `prepare`'s
   * frame holds them, and it ends once the rows and letters are cut out, so they die young instead
   * of surviving the insert in the old generation.
   */
  process(slices: readonly PartitionSlice[], kill: AbortSignal, stop?: AbortSignal): Promise<UnitOutcome> {
    return this.prepare(slices, kill, stop).then(async ({ buffers, letters, records }) => {
      await this.sink.write(buffers, letters, kill);
      return { records, deadLetters: letters.length };
    });
  }

  /** Decodes the unit into table rows and dead letters; nothing of the messages is kept after. */
  private async prepare(slices: readonly PartitionSlice[], kill: AbortSignal, stop?: AbortSignal): Promise<{ buffers: TableBuffers; letters: DeadLetter[]; records: number }> {
    await this.resolveIds(KafkaUnitProcessor.firstIds(slices), kill, stop);
    let done = await this.decode(slices);
    // A later record of a multi-record message may name an ID that no message starts with. When
    // the registry knows it, the unit is decoded again (nothing of it is written yet), so such a
    // record is never dead-lettered as unknown while its schema exists.
    const later = new Set<number>();
    for (const d of done) for (const id of d.result.stats.unknownSchemaIds) later.add(id);
    if (later.size > 0 && (await this.resolveIds(later, kill, stop)) > 0) done = await this.decode(slices);
    const buffers = new TableBuffers();
    const letters: DeadLetter[] = [];
    let records = 0;
    for (const { slice, first, result } of done) {
      for (const t of result.tables) buffers.addRows(t);
      records += result.stats.records;
      this.metrics.recordsIn.inc({ topic: slice.topic }, result.stats.records);
      const dead = result.dead;
      const payload = Buffer.from(dead.payload.buffer, dead.payload.byteOffset, dead.payload.byteLength);
      for (let i = 0; i < dead.count; i++) {
        const msg = slice.messages[first + dead.messageIndex[i]!]!;
        const code = dead.code[i]!;
        this.metrics.deadLetters.inc({ code });
        // The letter carries the bytes the worker blamed (one record, or the rest of the message
        // from a framing failure), already cut to DEAD_PAYLOAD_MAX_BYTES: never the whole message,
        // which may be larger than the dead-letter topic takes, once per bad record.
        const from = i === 0 ? 0 : dead.payloadEnds[i - 1]!;
        letters.push({
          originTopic: slice.topic,
          originPartition: slice.partition,
          originOffset: msg.offset,
          recordIndex: dead.recordIndex[i]!,
          code,
          message: dead.text[i]!,
          value: payload.subarray(from, dead.payloadEnds[i]),
          key: msg.key ?? null,
        });
      }
    }
    return { buffers, letters, records };
  }
}
