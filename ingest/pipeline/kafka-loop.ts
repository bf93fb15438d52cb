/**
 * The streaming loop: consume a unit of work (one batched consume call), hand it to the processor
 * (decode in the pool, write to ClickHouse, dead-letter), and commit its offsets strictly in
 * consume order once it is durable.
 *
 *   consume ──▶ unit 1 ──process──▶ durable ──commit 1──▶
 *   consume ──▶ unit 2 ──process──────────▶ durable ──(waits for commit 1)──commit 2──▶
 *
 * Up to `maxInflightUnits` units are processed at once (decode and inserts overlap); commits form
 * one chain, so a partition's committed offset never passes a record that is not durable. When a
 * unit fails for good (the store rejects a write), the chain stops: nothing after it is
 * committed, the loop halts, and the process exits non-zero for an operator to look at.
 * When the window is full, every assigned partition is paused (the consumer keeps polling so it
 * stays in the group); messages fetched before the pause took effect are carried into the next unit.
 */
import type { Message } from 'node-rdkafka';
import type { Config } from '../../schemas/config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { tpKey, type IngestConsumer } from '../kafka/consumer.js';
import { recordCountOf } from '../codec/framing.js';
import { UnitAbandoned, type PartitionSlice, type UnitOutcome, type UnitProcessor } from './unit.js';

export interface LoopSummary {
  units: number;
  messages: number;
  records: number;
  deadLetters: number;
  committedUnits: number;
  /** Units given up on at shutdown (UnitAbandoned); nothing after the first is committed. */
  abandonedUnits: number;
  halted: Error | undefined;
}

export interface LoopOptions {
  /** Aborting stops consuming; in-flight units finish and commit (graceful drain). */
  stop: AbortSignal;
  /** Hard abort: in-flight units are abandoned uncommitted (the drain ran out of time). */
  kill: AbortSignal;
  /**
   * Stop by itself once nothing arrived for this long, nothing is in flight, and the group's
   * committed offsets are at the high watermarks of every partition of the subscribed topics.
   */
  idleExitMs?: number;
  onUnitCommitted?: (unit: number, outcome: UnitOutcome) => void;
}

/**
 * Fault-run hook (bench/chaos, docs/faults.md): with PEVMETER_TEST_CRASH_AFTER_INSERT=N the process
 * SIGKILLs itself once unit N is durable and before its offsets are committed, the one crash point
 * a kill from outside hits only by chance. Unset (0) in production.
 */
const CRASH_AFTER_INSERT = Number(process.env['PEVMETER_TEST_CRASH_AFTER_INSERT'] ?? 0);

/**
 * Idle this long (nothing consumed, nothing in flight), the loop resumes every assigned partition
 * again, and again at most this often while idle: a partition left paused by a rebalance would
 * otherwise never be read (IngestConsumer.reassertResumed).
 */
const REASSERT_RESUME_IDLE_MS = 1_000;
const REASSERT_RESUME_EVERY_MS = 5_000;

/** How long a full window is waited on before the partitions are paused. */
const PAUSE_AFTER_MS = 1_000;

/** The first unit's size in messages, before the records per message are known. */
export const FIRST_UNIT_MESSAGES = 1_024;

/**
 * Messages the next consume asks for: units are bounded in records, not only messages, because a
 * message may carry up to 65,535 records (header pev-records) and a unit's rows are held until it
 * commits. `perMessage` is the mean records per message of the last unit (0 = none seen yet).
 */
export function unitMessages(consumeBatch: number, maxUnitRecords: number, perMessage: number): number {
  if (perMessage <= 0) return Math.min(consumeBatch, FIRST_UNIT_MESSAGES);
  return Math.max(1, Math.min(consumeBatch, Math.floor(maxUnitRecords / perMessage)));
}

/** Declared records in a batch of messages (an unusable header counts as one record). */
function recordsIn(messages: readonly Message[]): number {
  let n = 0;
  for (const m of messages) n += m.headers ? Math.max(1, recordCountOf(m.headers)) : 1;
  return n;
}

interface Inflight {
  id: number;
  done: Promise<void>;
}

/** Groups messages by partition, keeping order; drops messages of partitions no longer owned. */
function slice(consumer: IngestConsumer, messages: readonly Message[]): PartitionSlice[] {
  const byTp = new Map<string, PartitionSlice>();
  // A consume batch comes in runs of one partition's messages: the last slice usually matches,
  // which saves building a key string per message.
  let last: PartitionSlice | undefined;
  for (const m of messages) {
    if (last !== undefined && last.partition === m.partition && last.topic === m.topic) {
      last.messages.push(m);
      continue;
    }
    const key = tpKey(m.topic, m.partition);
    let s = byTp.get(key);
    if (!s) {
      const epoch = consumer.epochOf(m.topic, m.partition);
      if (epoch === undefined) continue;
      s = { topic: m.topic, partition: m.partition, epoch, messages: [] };
      byTp.set(key, s);
    }
    s.messages.push(m);
    last = s;
  }
  return [...byTp.values()];
}

export async function runKafkaLoop(
  cfg: Config,
  consumer: IngestConsumer,
  processor: UnitProcessor,
  metrics: Metrics,
  log: Logger,
  opts: LoopOptions,
): Promise<LoopSummary> {
  const summary: LoopSummary = { units: 0, messages: 0, records: 0, deadLetters: 0, committedUnits: 0, abandonedUnits: 0, halted: undefined };
  const inflight: Inflight[] = [];
  let commitChain: Promise<void> = Promise.resolve();
  let carry: Message[] = [];
  let perMessage = 0;
  const want = () => unitMessages(cfg.kafka.consumeBatch, cfg.pipeline.maxUnitRecords, perMessage);
  let idleSince = Date.now();
  let lastReassert = 0;
  const revoked = new Set<string>();
  consumer.onRevoke = (keys) => {
    for (const k of keys) revoked.add(k);
    carry = carry.filter((m) => !keys.includes(tpKey(m.topic, m.partition)));
  };

  const halt = (err: Error) => {
    if (!summary.halted) {
      summary.halted = err;
      log.error({ err: err.message, code: (err as { code?: string }).code }, 'ingest halted: a write was rejected for good; nothing past it is committed');
    }
  };

  while (!opts.stop.aborted && !summary.halted) {
    if (inflight.length >= cfg.pipeline.maxInflightUnits && !consumer.paused) {
      // A full window usually frees within a unit's write time. Pausing is for longer waits (a
      // slow or absent store): librdkafka drops a paused partition's prefetched messages and
      // fetches them again on resume, which at every unit boundary cost a third of the throughput.
      // Meanwhile its prefetch stays bounded by queued.max.messages.kbytes.
      const oldest = inflight[0]!;
      await Promise.race([oldest.done, new Promise((r) => setTimeout(r, PAUSE_AFTER_MS))]);
      if (inflight.length < cfg.pipeline.maxInflightUnits) continue;
    }
    if (inflight.length >= cfg.pipeline.maxInflightUnits) {
      consumer.pauseAll();
      metrics.paused.set(1);
      // Keep polling (group membership, rebalances) but never drop what arrives; a unit's worth
      // waiting is enough (consume(1) still polls).
      const extra = await consumer.consume(Math.max(1, want() - carry.length));
      if (extra.length > 0) carry.push(...extra);
      // The window may have emptied while consume() waited: then there is nothing to wait for.
      const oldest = inflight[0];
      if (oldest) await Promise.race([oldest.done, new Promise((r) => setTimeout(r, 100))]);
      continue;
    }
    if (consumer.paused) {
      consumer.resumeAll();
      metrics.paused.set(0);
    }
    const size = want();
    let messages: Message[];
    if (carry.length >= size) {
      messages = carry.splice(0, size);
    } else {
      try {
        messages = await consumer.consume(size - carry.length);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'consume failed; retrying');
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (carry.length > 0) {
        messages = carry.concat(messages);
        carry = [];
      }
    }
    if (messages.length === 0) {
      // Time with units in flight (or paused behind them) is not idle time.
      if (inflight.length > 0) idleSince = Date.now();
      const now = Date.now();
      if (now - idleSince >= REASSERT_RESUME_IDLE_MS && now - lastReassert >= REASSERT_RESUME_EVERY_MS) {
        lastReassert = now;
        consumer.reassertResumed();
      }
      if (opts.idleExitMs !== undefined && inflight.length === 0 && Date.now() - idleSince >= opts.idleExitMs) {
        // Idle is not drained: partitions may be between owners after a rebalance, or a commit may
        // have failed and left its data to be read again. Exit only once the group's committed
        // offsets reach the high watermarks; otherwise wait another idle window.
        let drained = false;
        try {
          // Commits are asynchronous: store the latest offsets (and any a failed commit left
          // behind) before asking the broker where the group stands.
          consumer.flushCommits();
          drained = await consumer.drained();
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'idle, but the drain check failed; staying');
        }
        if (drained) break;
        idleSince = Date.now();
      }
      continue;
    }
    idleSince = Date.now();
    perMessage = recordsIn(messages) / messages.length;
    const slices = slice(consumer, messages);
    const id = ++summary.units;
    summary.messages += messages.length;
    for (const s of slices) metrics.messagesIn.inc({ topic: s.topic }, s.messages.length);
    const started = process.hrtime.bigint();
    // Taken now so that nothing below holds the messages: the unit's commit needs only these.
    const offsets = slices.map((s) => ({ topic: s.topic, partition: s.partition, epoch: s.epoch, offset: s.messages[s.messages.length - 1]!.offset + 1 }));
    const work = processor.process(slices, opts.kill, opts.stop);
    // Once a unit halts the loop, the chain never awaits the units behind it; when those fail too
    // (the same missing table), their rejections must not go unhandled, or Node ends the process
    // with exit code 1 in the middle of the halt instead of the halt's orderly exit code 2.
    work.catch(() => undefined);
    const entry: Inflight = { id, done: Promise.resolve() };
    commitChain = commitChain.then(async () => {
      if (summary.halted) return;
      let outcome: UnitOutcome;
      try {
        outcome = await work;
      } catch (err) {
        if (err instanceof UnitAbandoned) {
          // Commits stay in consume order: once one unit is given up, none after it may commit.
          if (summary.abandonedUnits++ === 0) log.info({ unit: id, why: err.message }, 'unit abandoned at shutdown, uncommitted; its messages are read again at the next start');
        } else {
          halt(err as Error);
        }
        return;
      }
      if (summary.abandonedUnits > 0) return;
      if (opts.kill.aborted) return;
      if (CRASH_AFTER_INSERT > 0 && id === CRASH_AFTER_INSERT) process.kill(process.pid, 'SIGKILL');
      try {
        consumer.commit(offsets);
        metrics.commits.inc();
      } catch (err) {
        // The data is durable; a later commit (or the final flush) covers these offsets. Until
        // then a restart re-reads them, which read-time deduplication absorbs.
        log.warn({ err: (err as Error).message, unit: id }, 'offset commit failed; a later commit will cover it');
      }
      summary.records += outcome.records;
      summary.deadLetters += outcome.deadLetters;
      summary.committedUnits++;
      metrics.unitSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      opts.onUnitCommitted?.(id, outcome);
    });
    entry.done = commitChain.finally(() => {
      const i = inflight.indexOf(entry);
      if (i >= 0) inflight.splice(i, 1);
      metrics.inflightUnits.set(inflight.length);
    });
    inflight.push(entry);
    metrics.inflightUnits.set(inflight.length);
  }

  // Drain: every unit consumed so far finishes and commits (or the kill signal abandons it).
  await Promise.race([
    commitChain,
    new Promise<void>((resolve) => {
      if (opts.kill.aborted) resolve();
      else opts.kill.addEventListener('abort', () => resolve(), { once: true });
    }),
  ]);
  if (!opts.kill.aborted) {
    // The last asynchronous commits, stored before the consumer leaves the group.
    try {
      const offsets = consumer.flushCommits();
      log.info({ offsets: Object.fromEntries(offsets.map((o) => [`${o.topic}[${o.partition}]`, o.offset])) }, 'offsets committed at the end of the drain');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'final offset commit failed; the uncommitted tail is read again at the next start');
    }
  }
  return summary;
}
