/**
 * The kit every scenario is built from: a scenario's topics, folders and config (setup), the
 * simulated fleet fed whole (prepare) or partly held back until the fault (heldFeed), the ingest
 * children, waits on the group's commits, the stores, and the checks against truth and offsets
 * (verify, result).
 *
 * Redelivery is measured as rows in interval_raw beyond one per (partition, offset, seq). Merges of
 * ReplacingMergeTree collapse exact copies, so the runs switch background merges off for
 * interval_raw (a measuring choice: totals are exact with or without merges, which the integration
 * tests show with merges on).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore } from '../../../aggregate/store/connect.js';
import type { Store, StoreOptions } from '../../../aggregate/store/types.js';
import { checkOffsets, checkTruth, redeliveredRows, type OffsetCheck, type TruthCheck, type TruthSource } from '../../sim/truth.js';
import { defaultFaultShares, simulateFleet, type FleetOptionsInput } from '../../sim/fleet.js';
import { IngestProcess, tail, writeIngestConfig, type IngestConfigOptions, type IngestProcessOptions } from '../ingest-process.js';
import { OffsetReader, createTopics, deleteTopics, feedFleet, partitionsOf, sourceTopics, topicSet, tpKey, type FeedResult, type TopicPartition, type TopicSet } from '../kafka.js';
import type { ClickhouseControl } from '../services.js';
import type { ScenarioName, ChaosContext, Check, ScenarioResult } from './types.js';

/** A first guess of records per premise over the default 7 days (1,500 to 2,450, depending on the seed). */
const RECORDS_PER_PREMISE_WEEK = 2_000;

const FAULT_MIX = { ...defaultFaultShares, resend: 0.05, out_of_order: 0.05 };

/**
 * The fleet for at least `records` records: default fault mix with more resends and out-of-order
 * delivery. The simulator is deterministic and a premise's sessions do not depend on how many
 * premises there are, so a dry pass (no encoding kept, ~1 s per 100,000 records) counts a guess and
 * the premises are scaled up until the count reaches `records`.
 */
export function fleetFor(records: number, seed: string): FleetOptionsInput {
  let premises = Math.max(8, Math.ceil(records / RECORDS_PER_PREMISE_WEEK));
  for (let round = 0; round < 5; round++) {
    let count = 0;
    for (const m of simulateFleet({ seed, premises, faults: FAULT_MIX, truthMinutes: false }).messages()) count += m.records;
    if (count >= records) break;
    premises = Math.ceil((premises * records * 1.02) / Math.max(1, count)) + 1;
  }
  return { seed, premises, faults: FAULT_MIX };
}

/**
 * librdkafka settings of every child. A SIGKILLed member never says goodbye: the group waits
 * session.timeout.ms (librdkafka's default: 45 s) before handing its partitions to the restarted
 * process. The broker's minimum (6 s) keeps the runs short; production picks its own trade-off
 * (or static membership with group.instance.id), see docs/faults.md.
 */
export const CHILD_RDKAFKA = { 'session.timeout.ms': 6_000, 'heartbeat.interval.ms': 1_500 } as const;

/** Bounds a drain by the data size: generous, so a slow shared machine is not a failure. */
export function drainTimeoutMs(messages: number): number {
  return 120_000 + Math.ceil(messages / 1_500) * 1_000;
}

export interface Setup {
  name: ScenarioName;
  base: string;
  brokers: string;
  topics: TopicSet;
  tps: TopicPartition[];
  group: string;
  dir: string;
  configFile: string;
  logFile: string;
  /** A ClickHouse database name for HTTP scenarios. */
  database: string;
  children: IngestProcess[];
  reader: OffsetReader;
}

export interface Prepared extends Setup {
  feed: FeedResult;
}

/** Topics, folders, config and an offset reader for a scenario; no data yet. */
export async function setup(ctx: ChaosContext, name: ScenarioName, brokers: string, config: Omit<IngestConfigOptions, 'topics'> = {}): Promise<Setup> {
  const stamp = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const base = `chaos_${name}_${stamp}`;
  const topics = topicSet(base);
  const dir = join(ctx.workDir, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await createTopics(brokers, [...sourceTopics(topics), topics.dlq], ctx.partitions);
  const group = `${base}-group`;
  return {
    name,
    base,
    brokers,
    topics,
    tps: partitionsOf(sourceTopics(topics), ctx.partitions),
    group,
    dir,
    configFile: writeIngestConfig(join(dir, 'ingest.yaml'), { topics, ...config, rdkafka: { ...CHILD_RDKAFKA, ...(config.rdkafka ?? {}) } }),
    logFile: join(dir, 'ingest.log'),
    database: base.replace(/[^A-Za-z0-9_]/g, '_'),
    children: [],
    reader: await OffsetReader.open(brokers, group),
  };
}

export function fed(ctx: ChaosContext, s: Setup, feed: FeedResult): void {
  ctx.log(`[${s.name}] fed ${feed.records.toLocaleString('en-US')} records (${feed.messages.toLocaleString('en-US')} messages, ${feed.truths.length} sessions) in ${feed.seconds.toFixed(1)} s`);
}

export async function prepare(ctx: ChaosContext, name: ScenarioName, brokers: string, config: Omit<IngestConfigOptions, 'topics'> = {}, records = ctx.records): Promise<Prepared> {
  const s = await setup(ctx, name, brokers, config);
  try {
    ctx.log(`[${name}] feeding ~${records.toLocaleString('en-US')} records to ${s.base}.*`);
    const feed = await feedFleet({ brokers, topics: s.topics, fleet: fleetFor(records, `${ctx.seed}-${name}`) });
    fed(ctx, s, feed);
    return { ...s, feed };
  } catch (err) {
    await cleanup(ctx, s);
    throw err;
  }
}

export interface HeldFeed {
  /** Messages produced before the hold. */
  backlog: number;
  /** Resolves once the backlog is on the broker (or the whole feed is, if it is smaller). */
  holding: Promise<unknown>;
  /** Produces the rest. */
  release: () => void;
  feeding: Promise<FeedResult>;
  /** Exact-copy offsets per partition, filled as delivery reports arrive. */
  copies: Map<string, Set<number>>;
  /** Releases the rest and stops pacing it: for a run that ends early (nothing consumes any more). */
  stop: () => void;
  /**
   * Closes (false) or opens (true) the paced feed: while closed it produces nothing more. A run
   * closes it while a fault is being put in place and opens it once the fault holds, so the next
   * unit meets the fault however fast the pipeline drained what was there.
   */
  gate: (open: boolean) => void;
}


/**
 * Feeds `fraction` of the data as a backlog and holds the rest until `release`: a scenario can
 * then inject its fault while data is still arriving, whatever the machine's speed. With `window`,
 * the rest is produced at most that many messages ahead of the group's commits, so a pipeline
 * faster than the scenario's steps cannot drain everything before a later fault (a pace that sees
 * no commit for a minute stops holding back).
 */
export function heldFeed(ctx: ChaosContext, s: Setup, fraction: number, window?: number): HeldFeed {
  let released = false;
  let stopped = false;
  let opened: Promise<void> = Promise.resolve();
  let open = (): void => undefined;
  let release = (): void => undefined;
  const resume = new Promise<void>((r) => (release = () => {
    released = true;
    r();
  }));
  let onHold = (): void => undefined;
  const held = new Promise<void>((r) => (onHold = r));
  const backlog = Math.floor(ctx.records * fraction);
  ctx.log(`[${s.name}] feeding ~${ctx.records.toLocaleString('en-US')} records to ${s.base}.* (${backlog.toLocaleString('en-US')} first, the rest during the fault${window === undefined ? '' : `, at most ${window.toLocaleString('en-US')} messages ahead of the commits`})`);
  let pacer: Promise<OffsetReader> | undefined;
  const pace = async (produced: number): Promise<void> => {
    if (window === undefined || !released || stopped) return;
    await opened;
    pacer ??= OffsetReader.open(s.brokers, s.group);
    const reader = await pacer;
    let last = -1;
    let since = Date.now();
    while (!stopped) {
      let committed: number;
      try {
        committed = await reader.committedTotal(s.tps, 5_000);
      } catch {
        return;
      }
      if (produced - committed <= window) return;
      if (committed !== last) {
        last = committed;
        since = Date.now();
      } else if (Date.now() - since > 60_000) {
        return;
      }
      await sleep(50);
    }
  };
  const copies = new Map<string, Set<number>>();
  const feeding = feedFleet({ brokers: s.brokers, topics: s.topics, fleet: fleetFor(ctx.records, `${ctx.seed}-${s.name}`), hold: { afterMessages: backlog, onHold, resume }, pace, copies });
  const closed = feeding.finally(async () => {
    if (pacer) await (await pacer).close();
  });
  closed.catch(() => undefined);
  const gate = (wantOpen: boolean): void => {
    if (wantOpen) {
      open();
    } else {
      open();
      opened = new Promise<void>((r) => (open = r));
    }
  };
  const stop = (): void => {
    stopped = true;
    gate(true);
    release();
  };
  return { backlog, holding: Promise.race([held, closed]), release, feeding: closed, copies, stop, gate };
}

export function startChild(p: Setup, o: Partial<IngestProcessOptions>): IngestProcess {
  // PEVMETER_CHAOS_LOG_LEVEL=info (or debug) when a run needs explaining.
  const logLevel = process.env['PEVMETER_CHAOS_LOG_LEVEL'] ?? 'warn';
  const child = IngestProcess.start({ brokers: p.brokers, group: p.group, configFile: p.configFile, logFile: p.logFile, dataDir: join(p.dir, 'chdb'), logLevel, ...o });
  p.children.push(child);
  return child;
}

export async function cleanup(ctx: ChaosContext, p: Setup): Promise<void> {
  for (const c of p.children) c.kill('SIGKILL');
  await Promise.all(p.children.map((c) => c.exited));
  await p.reader.close();
  if (!ctx.keep) {
    await deleteTopics(p.brokers, [...sourceTopics(p.topics), p.topics.dlq]).catch(() => undefined);
    rmSync(join(p.dir, 'chdb'), { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    rmSync(join(p.dir, 'chdb-replay'), { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/** Polls the group's committed total until it reaches `target`; returns it. */
export async function waitCommitted(p: Setup, target: number, o: { timeoutMs: number; child?: IngestProcess; what: string }): Promise<number> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    let total = -1;
    try {
      total = await p.reader.committedTotal(p.tps, 5_000);
    } catch {
      // broker away: keep polling until the deadline
    }
    if (total >= target) return total;
    if (o.child && !o.child.running) throw new Error(`${o.what}: the ingest exited (${JSON.stringify(o.child.exitInfo)}) at ${total} of ${target} committed\n${tail(p.logFile)}`);
    if (Date.now() > deadline) throw new Error(`${o.what}: ${total} of ${target} committed after ${o.timeoutMs} ms\n${tail(p.logFile)}`);
    await sleep(100);
  }
}

export async function withStore<T>(options: StoreOptions, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore(options);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function embeddedOptions(p: Setup, folder = 'chdb'): StoreOptions {
  return { kind: 'embedded', path: join(p.dir, folder), database: 'pevmeter' };
}

/**
 * The runner's own access to a server: the test account, or, where the scenario breaks that
 * account on purpose (rejected), the server's `default` user (no password, loopback only in the
 * script's users.xml).
 */
export function httpOptions(ch: ClickhouseControl, database: string, as: 'account' | 'default' = 'account'): StoreOptions {
  const who = as === 'default' ? { username: 'default', password: '' } : { username: ch.username, password: ch.password };
  return { kind: 'http', url: ch.url, ...who, database, requestTimeoutMs: 60_000 };
}

/**
 * Migrates and switches background merges off for interval_raw (see the module comment), unless
 * `merges` is 'keep': on the 18.16 server a run of many small inserts with merges stopped reaches
 * its 300-part limit ("Too many parts"), which the ingest rightly treats as retryable and waits on.
 */
export async function prepareStore(options: StoreOptions, merges: 'stop' | 'keep' = 'stop'): Promise<void> {
  await withStore(options, async (s) => {
    await s.migrate();
    if (merges === 'keep') return;
    if (s.kind === 'embedded') {
      await s.client.command({
        query: `ALTER TABLE ${s.database}.interval_raw MODIFY SETTING max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1`,
      });
    } else {
      // 18.16 has no MODIFY SETTING; this holds until the server restarts (store scenario: a lower bound).
      await s.client.command({ query: `SYSTEM STOP MERGES ${s.database}.interval_raw` });
    }
  });
}

export interface Verification {
  truth: TruthCheck;
  offsets: OffsetCheck;
  /** Partitions whose committed offset is short of the high watermark at the end. */
  lagging: { topic: string; partition: number; committed: number; high: number }[];
  copies: number;
  redelivered: number | null;
  rawRows: number | null;
}

export async function verify(p: Prepared, options: StoreOptions, source: TruthSource): Promise<Verification> {
  const table = await p.reader.table(p.tps);
  return withStore(options, async (store) => {
    const truth = await checkTruth(store, p.feed.truths, { source });
    const offsets = await checkOffsets(store, table.map((o) => ({ ...o, copies: p.feed.copies.get(tpKey(o.topic, o.partition)) ?? new Set<number>() })), { requireDrained: true });
    let copies = 0;
    for (const part of offsets.partitions) copies += part.copies;
    let redelivered: number | null = null;
    let rawRows: number | null = null;
    try {
      const r = await redeliveredRows(store);
      redelivered = r.redelivered;
      rawRows = r.rows;
    } catch {
      // reported as null: unknown, not zero
    }
    return { truth, offsets, copies, redelivered, rawRows, lagging: table.filter((o) => o.committed < o.high) };
  });
}

export function result(p: Prepared, v: Verification, r: { faults: string[]; recoveryMs: number | null; recoveryNote: string; checks: Check[]; started: number; details?: Record<string, unknown> }): ScenarioResult {
  const truthStatus = v.truth.status;
  const checksOk = r.checks.every((c) => c.ok);
  const status = truthStatus === 'unverified' || v.offsets.status === 'unverified' ? 'unverified' : truthStatus === 'pass' && v.offsets.status === 'pass' && checksOk ? 'pass' : 'fail';
  const t = v.truth;
  return {
    scenario: p.name,
    status,
    recordsFed: p.feed.records,
    messagesFed: p.feed.messages,
    intervalRecords: p.feed.intervalRecords,
    sessions: p.feed.truths.length,
    faultsInjected: r.faults.length,
    faults: r.faults,
    lost: { records: t.lost.records, wh: t.lost.wh, uncoveredOffsets: v.offsets.uncovered },
    doubleCounted: { records: t.doubleCounted.records, wh: t.doubleCounted.wh },
    recoveryMs: r.recoveryMs,
    recoveryNote: r.recoveryNote,
    redelivered: v.redelivered,
    rawRows: v.rawRows,
    truth: {
      status: t.status, source: t.source, sessions: t.sessions, mismatchedSessions: t.mismatchedSessions, mismatchedMinutes: t.mismatchedMinutes,
      unexpectedSessions: t.unexpectedSessions, examples: t.examples, expected: t.expected, actual: t.actual, ...(t.error ? { error: t.error } : {}),
    },
    offsets: { status: v.offsets.status, uncovered: v.offsets.uncovered, lag: v.offsets.lag, copies: v.copies, ...(v.offsets.error ? { error: v.offsets.error } : {}) },
    checks: r.checks,
    seconds: Math.round((Date.now() - r.started) / 100) / 10,
    // What an operator would look at first when a run does not pass.
    details: status === 'pass' ? (r.details ?? {}) : { ...(r.details ?? {}), lagging: v.lagging, logTail: tail(p.logFile, 80) },
  };
}

/** What the group claims per partition, with the feed's exact-copy offsets (known so far). */
export function claims(p: Setup, copies: Map<string, Set<number>>, committed: Map<string, number>) {
  return p.tps.map((tp) => ({
    topic: tp.topic,
    partition: tp.partition,
    committed: committed.get(tpKey(tp.topic, tp.partition)) ?? -1,
    copies: copies.get(tpKey(tp.topic, tp.partition)) ?? new Set<number>(),
  }));
}
