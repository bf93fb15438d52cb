/**
 * The fault runs (issue 6). Each scenario feeds a simulated fleet to fresh topics, runs the
 * ingest service as child processes, injects its fault, lets the pipeline recover, and then checks
 * two things against ground truth:
 *
 *   totals   per-session energy and per-minute sums equal the simulator's truth (bench/sim/truth.ts)
 *   offsets  every committed offset is backed by stored rows, and the group ends at the high
 *            watermarks (nothing left behind, nothing committed past unwritten data)
 *
 * and reports records fed, faults injected, records lost, records double counted, recovery time and
 * redelivered records. The scenarios:
 *
 *   kill      SIGKILL the ingest N times at seeded random points of the load, restart on the same
 *             data and group; counts the kills that caught rows inserted but not yet committed
 *   broker    stop a private broker mid-load, start it again; the consumer reconnects, and a
 *             SIGTERM after the restart drains and exits in time
 *   store     stop the ClickHouse server (18.16, HTTP) for a while; partitions pause, memory stays
 *             bounded, no offset passes durable data, lag returns to zero
 *   rejected  make the store refuse writes for good mid-load (table gone, user read-only, password
 *             changed); the service halts with exit code 2 and never commits past the rejected unit
 *   scale     consumer group 1 -> 2 -> 1 under load (HTTP store shared by both); redelivery counted
 *   replay    a new group reads everything again into a fresh store: rollups identical
 *   checker   the checker's own check: a double delivery read without deduplication must fail, an
 *             unreachable store must read 'unverified'
 *
 * Redelivery is measured as rows in interval_raw beyond one per (partition, offset, seq). Merges of
 * ReplacingMergeTree collapse exact copies, so the runs switch background merges off for
 * interval_raw (a measuring choice: totals are exact with or without merges, which the integration
 * tests show with merges on).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore } from '../../aggregate/store/connect.js';
import { toInt } from '../../aggregate/store/values.js';
import type { Store, StoreOptions } from '../../aggregate/store/types.js';
import { checkOffsets, checkTruth, redeliveredRows, type OffsetCheck, type TruthCheck, type TruthSource } from '../sim/truth.js';
import { resolveConfig } from '../../reconcile/config.js';
import { reconcilePeriod } from '../../reconcile/run.js';
import type { Period } from '../../reconcile/types.js';
import { Rng } from '../sim/random.js';
import { defaultFaultShares, simulateFleet, type FleetOptionsInput } from '../sim/fleet.js';
import { IngestProcess, scrapeMetrics, tail, writeIngestConfig, type ExitInfo, type IngestConfigOptions, type IngestProcessOptions } from './ingest-process.js';
import { OffsetReader, createTopics, deleteTopics, feedFleet, partitionsOf, sourceTopics, topicSet, tpKey, type FeedResult, type TopicPartition, type TopicSet } from './kafka.js';
import { TcpProxy } from './proxy.js';
import { freePort, usersXmlOf, type BrokerControl, type ClickhouseControl } from './services.js';

export const SCENARIOS = ['kill', 'broker', 'store', 'rejected', 'scale', 'replay', 'checker'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ChaosContext {
  /** The shared broker (every scenario but `broker`). */
  brokers: string;
  workDir: string;
  /** Records to feed per scenario (at least; the fleet is sized with a margin). */
  records: number;
  seed: string;
  partitions: number;
  /** SIGKILLs in the kill scenario. */
  kills: number;
  brokerDownMs: number;
  storeDownMs: number;
  /** A private broker the broker scenario may kill (started on first use). */
  privateBroker: () => Promise<BrokerControl>;
  /** A private ClickHouse server (18.16) the store scenarios may stop (started on first use). */
  clickhouse: () => Promise<ClickhouseControl>;
  log: (line: string) => void;
  /** Keep topics, stores and logs after the run. */
  keep: boolean;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  status: 'pass' | 'fail' | 'unverified';
  recordsFed: number;
  messagesFed: number;
  intervalRecords: number;
  sessions: number;
  faultsInjected: number;
  faults: string[];
  /** Interval records and Wh missing from the totals, plus offsets committed with nothing stored. */
  lost: { records: number; wh: number; uncoveredOffsets: number };
  doubleCounted: { records: number; wh: number };
  /** Longest time from the end of a fault to progress (or lag zero, per scenario); null when n/a. */
  recoveryMs: number | null;
  recoveryNote: string;
  /** Interval rows stored beyond one per (partition, offset, seq): Kafka redelivery made durable. */
  redelivered: number | null;
  rawRows: number | null;
  truth: Pick<TruthCheck, 'status' | 'source' | 'sessions' | 'mismatchedSessions' | 'mismatchedMinutes' | 'unexpectedSessions' | 'examples' | 'expected' | 'actual'> & { error?: string };
  offsets: Pick<OffsetCheck, 'status' | 'uncovered' | 'lag'> & { copies: number; error?: string };
  checks: Check[];
  seconds: number;
  details: Record<string, unknown>;
}

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
function drainTimeoutMs(messages: number): number {
  return 120_000 + Math.ceil(messages / 1_500) * 1_000;
}

interface Setup {
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

interface Prepared extends Setup {
  feed: FeedResult;
}

/** Topics, folders, config and an offset reader for a scenario; no data yet. */
async function setup(ctx: ChaosContext, name: ScenarioName, brokers: string, config: Omit<IngestConfigOptions, 'topics'> = {}): Promise<Setup> {
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

function fed(ctx: ChaosContext, s: Setup, feed: FeedResult): void {
  ctx.log(`[${s.name}] fed ${feed.records.toLocaleString('en-US')} records (${feed.messages.toLocaleString('en-US')} messages, ${feed.truths.length} sessions) in ${feed.seconds.toFixed(1)} s`);
}

async function prepare(ctx: ChaosContext, name: ScenarioName, brokers: string, config: Omit<IngestConfigOptions, 'topics'> = {}, records = ctx.records): Promise<Prepared> {
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

interface HeldFeed {
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
function heldFeed(ctx: ChaosContext, s: Setup, fraction: number, window?: number): HeldFeed {
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

function startChild(p: Setup, o: Partial<IngestProcessOptions>): IngestProcess {
  // PEVMETER_CHAOS_LOG_LEVEL=info (or debug) when a run needs explaining.
  const logLevel = process.env['PEVMETER_CHAOS_LOG_LEVEL'] ?? 'warn';
  const child = IngestProcess.start({ brokers: p.brokers, group: p.group, configFile: p.configFile, logFile: p.logFile, dataDir: join(p.dir, 'chdb'), logLevel, ...o });
  p.children.push(child);
  return child;
}

async function cleanup(ctx: ChaosContext, p: Setup): Promise<void> {
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
async function waitCommitted(p: Setup, target: number, o: { timeoutMs: number; child?: IngestProcess; what: string }): Promise<number> {
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

async function withStore<T>(options: StoreOptions, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore(options);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function embeddedOptions(p: Setup, folder = 'chdb'): StoreOptions {
  return { kind: 'embedded', path: join(p.dir, folder), database: 'pevmeter' };
}

/**
 * The runner's own access to a server: the test account, or, where the scenario breaks that
 * account on purpose (rejected), the server's `default` user (no password, loopback only in the
 * script's users.xml).
 */
function httpOptions(ch: ClickhouseControl, database: string, as: 'account' | 'default' = 'account'): StoreOptions {
  const who = as === 'default' ? { username: 'default', password: '' } : { username: ch.username, password: ch.password };
  return { kind: 'http', url: ch.url, ...who, database, requestTimeoutMs: 60_000 };
}

/**
 * Migrates and switches background merges off for interval_raw (see the module comment), unless
 * `merges` is 'keep': on the 18.16 server a run of many small inserts with merges stopped reaches
 * its 300-part limit ("Too many parts"), which the ingest rightly treats as retryable and waits on.
 */
async function prepareStore(options: StoreOptions, merges: 'stop' | 'keep' = 'stop'): Promise<void> {
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

interface Verification {
  truth: TruthCheck;
  offsets: OffsetCheck;
  /** Partitions whose committed offset is short of the high watermark at the end. */
  lagging: { topic: string; partition: number; committed: number; high: number }[];
  copies: number;
  redelivered: number | null;
  rawRows: number | null;
}

async function verify(p: Prepared, options: StoreOptions, source: TruthSource): Promise<Verification> {
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

function result(p: Prepared, v: Verification, r: { faults: string[]; recoveryMs: number | null; recoveryNote: string; checks: Check[]; started: number; details?: Record<string, unknown> }): ScenarioResult {
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

/**
 * A stuck child, described: whether its event loop still answers (/metrics), what its metrics say,
 * and what each of its threads waits on (Linux /proc: a JS thread parked in a futex while
 * librdkafka's threads run is a blocked event loop).
 */
async function diagnose(child: IngestProcess, metricsPort: number): Promise<string> {
  const m = await scrapeMetrics(metricsPort);
  const metrics = m
    ? [...m.entries()].filter(([k]) => /^pevmeter_(paused|inflight_units|offset_commits_total|store_retries_total|dead_letters_total|messages_in_total)/.test(k)).map(([k, v]) => `${k}=${v}`).join(' ')
    : '/metrics does not answer (event loop blocked, or the process is gone)';
  const threads: string[] = [];
  try {
    for (const tid of readdirSync(`/proc/${child.pid}/task`)) {
      const at = (f: string) => readFileSync(`/proc/${child.pid}/task/${tid}/${f}`, 'utf8').trim();
      threads.push(`${at('comm')}:${at('wchan')}`);
    }
  } catch {
    // gone
  }
  let stack = '';
  if (!m && child.running) {
    // The JS thread's native stack says where it is stuck (gdb, when installed).
    try {
      const bt = execFileSync('gdb', ['-p', String(child.pid), '-batch', '-ex', 'thread 1', '-ex', 'bt 25'], { timeout: 60_000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      stack = '\n' + bt.split('\n').filter((l) => /^#\d+/.test(l)).map((l) => l.replace(/ \(.*?\) at /, ' at ').slice(0, 160)).join('\n');
    } catch {
      stack = ' (no gdb stack)';
    }
  }
  return `DIAGNOSIS pid ${child.pid} running=${child.running}; ${metrics}; threads ${threads.join(' ')}${stack}`;
}

/** Rows stored at or beyond each partition's committed offset: written, not yet committed. */
async function rowsBeyondCommit(store: Store, committed: Map<string, number>, tps: readonly TopicPartition[]): Promise<number> {
  let rows = 0;
  for (const tp of tps) {
    const from = Math.max(0, committed.get(tpKey(tp.topic, tp.partition)) ?? -1);
    for (const t of ['interval_raw', 'session_event_raw', 'vehicle_report_raw', 'enrollment', 'dead_letter']) {
      const [r] = await store.select<{ n: unknown }>(
        `SELECT count() AS n FROM {db}.${t} WHERE src_topic = {topic:String} AND src_partition = {partition:UInt32} AND src_offset >= {from:UInt64}`,
        { topic: tp.topic, partition: tp.partition, from },
      );
      rows += toInt(r?.n);
    }
  }
  return rows;
}

/** What the group claims per partition, with the feed's exact-copy offsets (known so far). */
function claims(p: Setup, copies: Map<string, Set<number>>, committed: Map<string, number>) {
  return p.tps.map((tp) => ({
    topic: tp.topic,
    partition: tp.partition,
    committed: committed.get(tpKey(tp.topic, tp.partition)) ?? -1,
    copies: copies.get(tpKey(tp.topic, tp.partition)) ?? new Set<number>(),
  }));
}

// ------------------------------------------------------------------------------------------- kill

export async function killScenario(ctx: ChaosContext): Promise<ScenarioResult> {
  const started = Date.now();
  // Small units (2,000 messages), so kills fall at many different points of the commit cycle.
  const s = await setup(ctx, 'kill', ctx.brokers, { consumeBatch: 2_000 });
  // The feed keeps at most WINDOW messages ahead of the group's commits: data keeps arriving for
  // as long as the kills go on, whatever the machine's speed, so every kill lands under load.
  const WINDOW = 12_000;
  const pacer = await OffsetReader.open(s.brokers, s.group);
  const copies = new Map<string, Set<number>>();
  let stopped = false;
  let onReady = (): void => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  ctx.log(`[kill] feeding ~${ctx.records.toLocaleString('en-US')} records to ${s.base}.*, at most ${WINDOW} messages ahead of the commits`);
  const feeding = feedFleet({
    brokers: s.brokers,
    topics: s.topics,
    fleet: fleetFor(ctx.records, `${ctx.seed}-kill`),
    copies,
    pace: async (produced) => {
      if (produced >= WINDOW) onReady();
      while (!stopped) {
        let committed: number;
        try {
          committed = await pacer.committedTotal(s.tps, 5_000);
        } catch {
          return;
        }
        if (produced - committed <= WINDOW) return;
        await sleep(50);
      }
    },
  });
  feeding.catch(() => undefined);
  try {
    await Promise.race([ready, feeding]);
    const store = embeddedOptions(s);
    await prepareStore(store);
    const rng = new Rng(`${ctx.seed}-kill-points`);
    // Kill points in messages committed, evenly spread over 90% of the records asked for, each
    // jittered by a third of the spacing, then a random extra delay so a kill does not always come
    // right after a commit.
    const spacing = (0.9 * ctx.records) / (ctx.kills + 1);
    const points = Array.from({ length: ctx.kills }, (_, k) => Math.floor((k + 1) * spacing + rng.range(-spacing / 3, spacing / 3)));
    const faults: string[] = [];
    const kills: Record<string, unknown>[] = [];
    const checks: Check[] = [];
    const recoveries: number[] = [];
    let betweenInsertAndCommit = 0;
    let coverageFailures = 0;
    const longWait = drainTimeoutMs(ctx.records);
    let hookedKills = 0;
    let hookedBetween = 0;
    for (let k = 0; k < points.length; k++) {
      // Every third kill is the process's own, through the fault-run hook: right after unit N is
      // durable and before its commit, the point an outside kill only hits by chance.
      const crashAfter = k % 3 === 2 ? rng.int(2, 5) : 0;
      const child = startChild(s, crashAfter > 0 ? { env: { PEVMETER_TEST_CRASH_AFTER_INSERT: String(crashAfter) } } : {});
      const before = await s.reader.committedTotal(s.tps);
      let exit: ExitInfo;
      if (crashAfter > 0) {
        // Should the data run out before unit N, the kill comes from outside after all.
        const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
        exit = await child.exited;
        clearTimeout(timer);
      } else {
        // Recovery: from the restart to the first commit beyond what the killed process left.
        await waitCommitted(s, before + 1, { timeoutMs: longWait, child, what: `kill ${k + 1}: first commit after restart` });
        if (k > 0) recoveries.push(Date.now() - child.startedAt);
        await waitCommitted(s, Math.max(before + 1, points[k]!), { timeoutMs: longWait, child, what: `kill ${k + 1}: progress to ${points[k]!} committed` });
        await sleep(rng.int(0, 300));
        child.kill('SIGKILL');
        exit = await child.exited;
      }
      const committed = await s.reader.committed(s.tps);
      // Every message below a committed offset was produced and acknowledged long ago, so its
      // copy status is known by now.
      const claimsNow = s.tps.map((tp) => ({ ...tp, committed: committed.get(tpKey(tp.topic, tp.partition)) ?? -1, copies: copies.get(tpKey(tp.topic, tp.partition)) ?? new Set<number>() }));
      const inspect = await withStore(store, async (st) => ({
        beyond: await rowsBeyondCommit(st, committed, s.tps),
        coverage: await checkOffsets(st, claimsNow),
      }));
      let committedTotal = 0;
      for (const v of committed.values()) committedTotal += Math.max(0, v);
      if (inspect.beyond > 0) betweenInsertAndCommit++;
      if (crashAfter > 0) {
        hookedKills++;
        if (inspect.beyond > 0) hookedBetween++;
      }
      if (inspect.coverage.status !== 'pass') coverageFailures++;
      faults.push(`SIGKILL ${k + 1}${crashAfter > 0 ? ` (self, after unit ${crashAfter} was inserted)` : ''} at ${committedTotal} messages committed${inspect.beyond > 0 ? `, ${inspect.beyond} rows inserted but not committed` : ''}`);
      kills.push({ kill: k + 1, hook: crashAfter > 0 ? `after insert of unit ${crashAfter}` : null, signal: exit.signal, aliveMs: exit.ms, committed: committedTotal, rowsInsertedNotCommitted: inspect.beyond, offsetsWithoutRows: inspect.coverage.uncovered });
      ctx.log(`[kill] ${faults[faults.length - 1]!}`);
    }
    const last = startChild(s, { untilIdleMs: 4_000 });
    const before = await s.reader.committedTotal(s.tps);
    await waitCommitted(s, before + 1, { timeoutMs: longWait, child: last, what: 'final run: first commit' });
    recoveries.push(Date.now() - last.startedAt);
    const feed = await feeding;
    fed(ctx, s, feed);
    const p: Prepared = { ...s, feed };
    const exit = await last.wait(drainTimeoutMs(feed.messages), 'final ingest run');
    let uncoveredAtKills = 0;
    for (const kInfo of kills) uncoveredAtKills += Number(kInfo['offsetsWithoutRows'] ?? 0);
    checks.push({ name: 'every kill was a SIGKILL under load', ok: kills.every((x) => x['signal'] === 'SIGKILL') && kills.every((x) => Number(x['committed']) < feed.messages), detail: `${kills.length} kills, all before the last message was committed` });
    checks.push({ name: 'committed offsets were backed by stored rows after every kill', ok: coverageFailures === 0, detail: `${coverageFailures} kills left committed offsets without rows (${uncoveredAtKills} offsets in all)` });
    checks.push({
      name: 'kills landed between an insert and its commit',
      ok: betweenInsertAndCommit > 0 && hookedBetween === hookedKills,
      detail: `${betweenInsertAndCommit} of ${kills.length} kills left rows inserted but not committed (${hookedBetween} of the ${hookedKills} made there on purpose)`,
    });
    checks.push({ name: 'final run drained and exited 0', ok: exit.code === 0, detail: `exit ${JSON.stringify(exit)}` });
    const v = await verify(p, store, 'views');
    return result(p, v, {
      faults,
      recoveryMs: recoveries.length > 0 ? Math.max(...recoveries) : null,
      recoveryNote: 'restart of the killed process to its first new commit (process start, store open, group rebalance after the session timeout), worst of all kills',
      checks,
      started,
      details: { kills, betweenInsertAndCommit, hookedKills, recoveriesMs: recoveries },
    });
  } finally {
    stopped = true;
    await feeding.catch(() => undefined);
    await pacer.close();
    await cleanup(ctx, s);
  }
}

// ------------------------------------------------------------------------------------------- broker

export async function brokerScenario(ctx: ChaosContext): Promise<ScenarioResult> {
  const started = Date.now();
  const broker = await ctx.privateBroker();
  await broker.start();
  const s = await setup(ctx, 'broker', broker.brokers, { consumeBatch: 5_000, rdkafka: { 'reconnect.backoff.max.ms': 2_000 } });
  // Half the data waits until the broker is back, so consumption goes on after the restart.
  const feed0 = heldFeed(ctx, s, 0.5);
  try {
    await feed0.holding;
    const store = embeddedOptions(s);
    await prepareStore(store);
    const checks: Check[] = [];
    const faults: string[] = [];
    const metricsPort = await freePort();
    const child = startChild(s, { httpPort: metricsPort });
    const atStop = await waitCommitted(s, Math.floor(feed0.backlog * 0.3), { timeoutMs: drainTimeoutMs(feed0.backlog), child, what: 'progress before the broker stops' });
    await broker.stop();
    ctx.log(`[broker] broker stopped at ${atStop} committed; down for ${ctx.brokerDownMs} ms`);
    await sleep(ctx.brokerDownMs);
    const aliveDuringOutage = child.running;
    await broker.start();
    const upAt = Date.now();
    faults.push(`broker stopped for ${ctx.brokerDownMs} ms at ${atStop} messages committed, restarted`);
    const resumed = await waitCommitted(s, atStop + 1, { timeoutMs: 180_000, child, what: 'progress after the broker restart' }).catch(async (err: Error) => {
      // Say whether the process still answers (its event loop turns) and what its metrics show.
      throw new Error(`${await diagnose(child, metricsPort)}\n${err.message}`);
    });
    const recoveryMs = Date.now() - upAt;
    ctx.log(`[broker] progress resumed ${recoveryMs} ms after the restart (${resumed} committed)`);
    feed0.release();
    const feed = await feed0.feeding;
    fed(ctx, s, feed);
    const p: Prepared = { ...s, feed };
    const total = feed.messages;
    // Shut down in the middle of the load, after the restart: it must not hang.
    await waitCommitted(p, Math.min(total, resumed + Math.floor((total - resumed) / 3)), { timeoutMs: drainTimeoutMs(total), child, what: 'more progress after the restart' });
    const termAt = Date.now();
    child.kill('SIGTERM');
    const term = await child.wait(60_000, 'SIGTERM after the broker restart');
    const shutdownMs = Date.now() - termAt;
    faults.push('SIGTERM under load after the broker restart');
    checks.push({ name: 'the ingest survived the broker outage', ok: aliveDuringOutage, detail: aliveDuringOutage ? 'kept running' : `exited ${JSON.stringify(child.exitInfo)}` });
    checks.push({ name: 'shutdown after the broker restart exits 0 within 30 s', ok: term.code === 0 && shutdownMs <= 30_000, detail: `exit ${term.code} after ${shutdownMs} ms` });
    const last = startChild(p, { untilIdleMs: 4_000 });
    const exit = await last.wait(drainTimeoutMs(total), 'final ingest run');
    checks.push({ name: 'final run drained and exited 0', ok: exit.code === 0, detail: `exit ${JSON.stringify(exit)}` });
    const v = await verify(p, store, 'views');
    return result(p, v, { faults, recoveryMs, recoveryNote: 'broker back up to the first new commit', checks, started, details: { shutdownMs, committedAtStop: atStop } });
  } finally {
    feed0.release();
    await feed0.feeding.catch(() => undefined);
    await cleanup(ctx, s);
  }
}

// ------------------------------------------------------------------------------------------- store

export async function storeScenario(ctx: ChaosContext): Promise<ScenarioResult> {
  const started = Date.now();
  const ch = await ctx.clickhouse();
  // Units of 5,000 messages, so several are in flight when the server goes.
  const s = await setup(ctx, 'store', ctx.brokers, { retryMaxMs: 2_000, requestTimeoutMs: 10_000, consumeBatch: 5_000 });
  const proxy = await TcpProxy.start(ch.httpPort);
  // Half the data is a backlog; the other half is produced while the server is down, so the
  // consumer has to hold back new data it cannot store.
  const feed0 = heldFeed(ctx, s, 0.5);
  const { backlog, feeding } = feed0;
  try {
    await feed0.holding;
    const direct = httpOptions(ch, s.database);
    await prepareStore(direct);
    const checks: Check[] = [];
    const metricsPort = await freePort();
    const child = startChild(s, { clickhouseUrl: proxy.url, clickhouseUser: ch.username, clickhousePassword: ch.password, database: s.database, untilIdleMs: 8_000, httpPort: metricsPort, rssEveryMs: 200 });
    const atStop = await waitCommitted(s, Math.floor(backlog * 0.3), { timeoutMs: drainTimeoutMs(backlog), child, what: 'progress before the server stops' });
    const rssBefore = child.rssPeakKb;
    const stopAt = Date.now();
    await ch.stop();
    feed0.release();
    ctx.log(`[store] ClickHouse server stopped at ${atStop} committed; down for ${ctx.storeDownMs} ms while the rest of the data arrives`);
    // While it is down: what the group commits, whether consumption pauses, and memory.
    const committedDuring = new Map<string, number>();
    let pausedSeen = false;
    let maxInflight = 0;
    let retries = 0;
    const outageSamples: [number, number][] = [];
    while (Date.now() - stopAt < ctx.storeDownMs) {
      try {
        for (const [k, v] of await s.reader.committed(s.tps, 5_000)) committedDuring.set(k, Math.max(committedDuring.get(k) ?? -1, v));
      } catch {
        // a slow answer: the next round asks again
      }
      const m = await scrapeMetrics(metricsPort);
      if (m) {
        if (m.get('pevmeter_paused') === 1) pausedSeen = true;
        maxInflight = Math.max(maxInflight, m.get('pevmeter_inflight_units') ?? 0);
        retries = Math.max(retries, m.get('pevmeter_store_retries_total') ?? 0);
      }
      const last = child.rssSamples[child.rssSamples.length - 1];
      if (last) outageSamples.push(last);
      await sleep(500);
    }
    const aliveDuringOutage = child.running;
    const feed = await feeding;
    fed(ctx, s, feed);
    const p: Prepared = { ...s, feed };
    const total = feed.messages;
    // Bring the server back where only this runner can see it, and compare what the group
    // committed during the outage with what the server holds.
    proxy.block();
    await ch.start();
    const snapshot = await withStore(direct, (st) => checkOffsets(st, claims(p, p.feed.copies, committedDuring)));
    let committedAtOutage = 0;
    for (const v of committedDuring.values()) committedAtOutage += Math.max(0, v);
    proxy.unblock();
    const upAt = Date.now();
    ctx.log(`[store] server back; offsets committed during the outage: ${committedAtOutage}, backed by stored rows: ${snapshot.status}`);
    await waitCommitted(p, total, { timeoutMs: drainTimeoutMs(total), child, what: 'lag back to zero after the outage' });
    const recoveryMs = Date.now() - upAt;
    const exit = await child.wait(drainTimeoutMs(total), 'ingest after the outage');
    const outagePeakKb = Math.max(0, ...outageSamples.map(([, kb]) => kb));
    checks.push({ name: 'the ingest waited the outage out', ok: aliveDuringOutage, detail: aliveDuringOutage ? 'kept running' : `exited ${JSON.stringify(child.exitInfo)}` });
    checks.push({ name: 'consumption paused during the outage', ok: pausedSeen && maxInflight <= 3, detail: `pevmeter_paused seen 1: ${pausedSeen}; inflight units at most ${maxInflight} (limit 3); store retries ${retries}` });
    checks.push({ name: 'no offset committed past durable data during the outage', ok: snapshot.status === 'pass', detail: `${snapshot.uncovered} offsets committed without rows${snapshot.error ? `; ${snapshot.error}` : ''}` });
    checks.push({ name: 'memory bounded during the outage', ok: outagePeakKb > 0 && outagePeakKb <= Math.max(rssBefore * 1.5, rssBefore + 262_144), detail: `RSS peak ${Math.round(rssBefore / 1024)} MiB before, ${Math.round(outagePeakKb / 1024)} MiB during` });
    checks.push({ name: 'lag back to zero and a clean exit', ok: exit.code === 0, detail: `exit ${JSON.stringify(exit)}` });
    const v = await verify(p, direct, 'raw-dedup');
    return result(p, v, {
      faults: [`ClickHouse server stopped for ${ctx.storeDownMs} ms at ${atStop} of ${total} messages committed, with ${total - backlog} more arriving meanwhile`],
      recoveryMs,
      recoveryNote: 'server reachable again to consumer lag zero (every partition committed to its high watermark)',
      checks,
      started,
      details: { committedAtStop: atStop, committedAtOutage, rssBeforeKb: rssBefore, rssOutagePeakKb: outagePeakKb, maxInflight, storeRetries: retries, outageRss: outageSamples },
    });
  } finally {
    feed0.release();
    await feeding.catch(() => undefined);
    await proxy.close();
    await cleanup(ctx, s);
  }
}

// ------------------------------------------------------------------------------------------- rejected

type Rejection = 'missing-table' | 'read-only' | 'wrong-password';

export async function rejectedScenario(ctx: ChaosContext): Promise<ScenarioResult> {
  const started = Date.now();
  const ch = await ctx.clickhouse();
  // Small units, and a feed paced at most 12,000 messages ahead of the commits, so data is still
  // flowing when each fault comes however fast the pipeline is: a unit has to hit it.
  const p = await setup(ctx, 'rejected', ctx.brokers, { requestTimeoutMs: 10_000, consumeBatch: 2_000 });
  const feed0 = heldFeed(ctx, p, 0.1, 12_000);
  const usersXml = usersXmlOf(ch.httpPort);
  const original = readFileSync(usersXml, 'utf8');
  const restoreUsers = async () => {
    writeFileSync(usersXml, original);
    await waitForLogin(ch, ch.username, ch.password, true);
  };
  try {
    await feed0.holding;
    feed0.release();
    const admin = httpOptions(ch, p.database, 'default');
    // 2,000-message units make about 600 inserts per million records: merges stay on (the
    // redelivered count is then a lower bound; this scenario is about commits, not redelivery).
    await prepareStore(admin, 'keep');
    // Round targets from the records asked for; the exact message count is known when the feed ends.
    const total = ctx.records;
    const checks: Check[] = [];
    const faults: string[] = [];
    const rounds: Record<string, unknown>[] = [];
    const kinds: Rejection[] = ['missing-table', 'read-only', 'wrong-password'];
    for (const [i, kind] of kinds.entries()) {
      const child = startChild(p, { clickhouseUrl: ch.url, clickhouseUser: ch.username, clickhousePassword: ch.password, database: p.database });
      const before = await p.reader.committedTotal(p.tps);
      await waitCommitted(p, Math.min(total, Math.max(before + 1, Math.floor((total * (i + 1)) / 5))), { timeoutMs: drainTimeoutMs(total), child, what: `progress before ${kind}` });
      feed0.gate(false);
      const injectedAt = Date.now();
      if (kind === 'missing-table') {
        await withStore(admin, (s) => s.client.command({ query: `RENAME TABLE ${p.database}.interval_raw TO ${p.database}.interval_raw_hidden` }));
      } else {
        const edited = kind === 'read-only'
          ? original.replace(new RegExp(`(<${ch.username}>[\\s\\S]*?<profile>)default(</profile>)`), '$1readonly$2')
          : original.replace(new RegExp(`(<${ch.username}>[\\s\\S]*?<password>)[^<]*(</password>)`), '$1not-the-password$2');
        if (edited === original) throw new Error(`rejected: could not edit ${usersXml} for ${kind}`);
        writeFileSync(usersXml, edited);
        await waitForLogin(ch, ch.username, ch.password, kind === 'read-only' ? 'readonly' : false);
      }
      faults.push(`store refuses writes: ${kind}`);
      feed0.gate(true);
      const exit = await child.wait(120_000, `ingest after ${kind}`);
      const haltMs = Date.now() - injectedAt;
      const committed = await p.reader.committed(p.tps);
      // Undo the fault, then look: every committed offset must be backed by stored rows.
      if (kind === 'missing-table') await withStore(admin, (s) => s.client.command({ query: `RENAME TABLE ${p.database}.interval_raw_hidden TO ${p.database}.interval_raw` }));
      else await restoreUsers();
      const coverage = await withStore(admin, (s) => checkOffsets(s, claims(p, feed0.copies, committed)));
      let committedTotal = 0;
      for (const v of committed.values()) committedTotal += Math.max(0, v);
      const log = tail(p.logFile, 200);
      const halted = /ingest halted/.test(log);
      rounds.push({ kind, exit, haltMs, committed: committedTotal, coverage: coverage.status, uncovered: coverage.uncovered, haltLogged: halted });
      checks.push({ name: `${kind}: the service halts with exit code 2`, ok: exit.code === 2, detail: `exit ${JSON.stringify(exit)} ${haltMs} ms after the fault` });
      checks.push({ name: `${kind}: nothing committed past the rejected unit`, ok: coverage.status === 'pass', detail: `${coverage.uncovered} committed offsets without rows${coverage.error ? `; ${coverage.error}` : ''}` });
      ctx.log(`[rejected] ${kind}: exit ${exit.code} after ${haltMs} ms; committed ${committedTotal}; coverage ${coverage.status}`);
    }
    const fixedAt = Date.now();
    const last = startChild(p, { clickhouseUrl: ch.url, clickhouseUser: ch.username, clickhousePassword: ch.password, database: p.database, untilIdleMs: 4_000 });
    const feed = await feed0.feeding;
    fed(ctx, p, feed);
    const exit = await last.wait(drainTimeoutMs(feed.messages), 'final ingest run');
    checks.push({ name: 'after the fix, a restart drains and exits 0', ok: exit.code === 0, detail: `exit ${JSON.stringify(exit)}` });
    const fedAll: Prepared = { ...p, feed };
    const v = await verify(fedAll, admin, 'raw-dedup');
    return result(fedAll, v, { faults, recoveryMs: Date.now() - fixedAt, recoveryNote: 'restart after the operator fix to drained (includes the 4 s idle exit)', checks, started, details: { rounds } });
  } finally {
    writeFileSync(usersXml, original);
    feed0.stop();
    await feed0.feeding.catch(() => undefined);
    await cleanup(ctx, p);
  }
}

/**
 * Waits until the server applies an edited users.xml (it rereads it every few seconds): logging in
 * works (`true`), fails (`false`), or works read-only (`'readonly'`).
 */
async function waitForLogin(ch: ClickhouseControl, username: string, password: string, want: boolean | 'readonly'): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    let state: boolean | 'readonly' = false;
    try {
      // POST: ClickHouse runs every GET request read-only, which would hide what is being waited for.
      const res = await fetch(`${ch.url}/`, {
        method: 'POST',
        body: "SELECT value FROM system.settings WHERE name = 'readonly'",
        headers: { Authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` },
        signal: AbortSignal.timeout(3_000),
      });
      if (res.ok) state = (await res.text()).trim() === '0' ? true : 'readonly';
    } catch {
      state = false;
    }
    if (state === want) return;
    if (Date.now() > deadline) throw new Error(`users.xml change not applied within 30 s (login state ${String(state)}, wanted ${String(want)})`);
    await sleep(250);
  }
}

// ------------------------------------------------------------------------------------------- scale

export async function scaleScenario(ctx: ChaosContext): Promise<ScenarioResult> {
  const started = Date.now();
  const ch = await ctx.clickhouse();
  const s = await setup(ctx, 'scale', ctx.brokers, { consumeBatch: 5_000 });
  // A third is a backlog; the rest arrives while the group changes shape, paced so that the
  // second change still happens under load.
  const feed0 = heldFeed(ctx, s, 0.35, 12_000);
  try {
    await feed0.holding;
    const admin = httpOptions(ch, s.database);
    await prepareStore(admin);
    const checks: Check[] = [];
    const http = { clickhouseUrl: ch.url, clickhouseUser: ch.username, clickhousePassword: ch.password, database: s.database };
    const first = startChild(s, http);
    const at1 = await waitCommitted(s, Math.floor(feed0.backlog * 0.4), { timeoutMs: drainTimeoutMs(feed0.backlog), child: first, what: 'progress with one consumer' });
    const second = startChild(s, http);
    feed0.release();
    const joinedAt = Date.now();
    await waitCommitted(s, at1 + 1, { timeoutMs: 120_000, child: second, what: 'progress after the second consumer joined' });
    const joinRecovery = Date.now() - joinedAt;
    // The leave comes while the paced feed is still producing: about 30 % into the rest of the data.
    const at2 = await waitCommitted(s, Math.floor(feed0.backlog + (ctx.records - feed0.backlog) * 0.3), { timeoutMs: drainTimeoutMs(ctx.records), child: second, what: 'progress with two consumers' });
    const leftAt = Date.now();
    first.kill('SIGTERM');
    const firstExit = await first.wait(60_000, 'first consumer leaving');
    const leaveMs = Date.now() - leftAt;
    await waitCommitted(s, at2 + 1, { timeoutMs: 120_000, child: second, what: 'progress after the first consumer left' });
    const leaveRecovery = Date.now() - leftAt;
    const feed = await feed0.feeding;
    fed(ctx, s, feed);
    const p: Prepared = { ...s, feed };
    const total = feed.messages;
    checks.push({ name: 'the first consumer left while data was still arriving', ok: at2 + 1 < total, detail: `left at ${at2} of ${total} messages committed` });
    await waitCommitted(p, total, { timeoutMs: drainTimeoutMs(total), child: second, what: 'drain with one consumer' });
    second.kill('SIGTERM');
    const secondExit = await second.wait(60_000, 'second consumer stopping');
    checks.push({ name: 'the consumer that left exited 0 within 30 s', ok: firstExit.code === 0 && leaveMs <= 30_000, detail: `exit ${firstExit.code} after ${leaveMs} ms` });
    checks.push({ name: 'the remaining consumer drained and exited 0', ok: secondExit.code === 0, detail: `exit ${JSON.stringify(secondExit)}` });
    const v = await verify(p, admin, 'raw-dedup');
    return result(p, v, {
      faults: [`second consumer joined at ${at1} messages committed (1 -> 2)`, `first consumer left at ${at2} of ${total} (2 -> 1, SIGTERM)`],
      recoveryMs: Math.max(joinRecovery, leaveRecovery),
      recoveryNote: 'membership change to the first new commit, worst of join and leave',
      checks,
      started,
      details: { joinRecoveryMs: joinRecovery, leaveRecoveryMs: leaveRecovery, leaveMs },
    });
  } finally {
    feed0.stop();
    await feed0.feeding.catch(() => undefined);
    await cleanup(ctx, s);
  }
}

// ------------------------------------------------------------------------------------------- replay

interface Rollups {
  sessions: number;
  rollupRows: Map<string, string>;
  minuteRows: number;
  minuteHash: string;
  uniqueRows: number;
  uniqueHash: string;
  deadLetters: number;
}

async function rollupsOf(options: StoreOptions): Promise<Rollups> {
  return withStore(options, async (s) => {
    const rows = await s.select<Record<string, unknown>>('SELECT * FROM {db}.session_rollup ORDER BY session_id');
    const rollupRows = new Map(rows.map((r) => [String(r['session_id']), JSON.stringify(r)]));
    const [m] = await s.select<{ n: unknown; h: unknown }>('SELECT count() AS n, sum(cityHash64(session_id, minute, energy_wh, intervals, running_wh)) AS h FROM {db}.session_minute');
    const [u] = await s.select<{ n: unknown; h: unknown }>(
      'SELECT count() AS n, sum(cityHash64(session_id, seq, esci_id, eumd_id, premise_id, pev_id, interval_start, interval_s, energy_wh, register_wh, quality, copies)) AS h FROM {db}.interval_unique',
    );
    const [d] = await s.select<{ n: unknown }>('SELECT uniqExact(src_topic, src_partition, src_offset, code) AS n FROM {db}.dead_letter');
    return {
      sessions: rows.length,
      rollupRows,
      minuteRows: toInt(m?.n),
      minuteHash: String(m?.h),
      uniqueRows: toInt(u?.n),
      uniqueHash: String(u?.h),
      deadLetters: toInt(d?.n),
    };
  });
}

const DAY_MS = 86_400_000;

/** Whole UTC days around every interval a store holds: the billing period the replay reconciles. */
async function periodOf(options: StoreOptions): Promise<Period> {
  const [r] = await withStore(options, (s) => s.select<{ lo: unknown; hi: unknown }>('SELECT toInt64(min(interval_start)) * 1000 AS lo, toInt64(max(interval_start)) * 1000 AS hi FROM {db}.interval_unique'));
  const lo = toInt(r?.lo);
  const hi = toInt(r?.hi);
  return { fromMs: Math.floor(lo / DAY_MS) * DAY_MS - DAY_MS, toMs: Math.ceil(hi / DAY_MS) * DAY_MS + DAY_MS };
}

interface Reconciled {
  sessions: number;
  billed: number;
  held: number;
  /** Every column of every current reconcile row but the run's identity, checksummed. */
  sessionHash: string;
  flags: number;
  records: number;
  /** Every column of every current billing record but the run's identity and write time. */
  recordHash: string;
}

/**
 * Reconciles `period` on a store as of a fixed instant and checksums what the billing system reads:
 * the current reconcile rows (status, energies, every flag with its numbers and threshold) and the
 * current billing records (lines, amounts, warn codes, digest).
 */
async function reconciledOf(options: StoreOptions, period: Period): Promise<Reconciled> {
  return withStore(options, async (s) => {
    const run = await reconcilePeriod(s, period, {}, resolveConfig({ report: { maxHeldSessions: 0 } }), { asOfMs: period.toMs + DAY_MS });
    const params = { from_ms: period.fromMs, to_ms: period.toMs };
    const [r] = await s.select<{ n: unknown; f: unknown; h: unknown }>(
      `SELECT count() AS n, sum(length(flag_code)) AS f, sum(cityHash64(session_id, status, account_id, premise_id, pev_id, esci_id, program_id, tariff_id, session_start_ms, session_end_ms,
         eumd_wh, interval_sum_wh, period_wh, has_end, esci_wh, has_vehicle, vehicle_wh, has_grant, granted_wh, intervals_seen, intervals_missing,
         flag_code, flag_severity, flag_observed, flag_threshold, flag_detail)) AS h
       FROM {db}.reconcile_current(from_ms = {from_ms:Int64}, to_ms = {to_ms:Int64})`,
      params,
    );
    const [b] = await s.select<{ n: unknown; h: unknown }>(
      `SELECT count() AS n, sum(cityHash64(session_id, version, status, account_id, premise_id, pev_id, program_id, tariff_id, currency, session_start_ms, session_end_ms,
         energy_wh, session_energy_wh, line_kind, line_period, line_wh, line_price_micro, line_amount_minor, incentive_minor, amount_minor, warn_codes, content_digest)) AS h
       FROM {db}.billing_current(from_ms = {from_ms:Int64}, to_ms = {to_ms:Int64})`,
      params,
    );
    return {
      sessions: run.sessions,
      billed: run.billed,
      held: run.held,
      sessionHash: String(r?.h),
      flags: toInt(r?.f),
      records: toInt(b?.n),
      recordHash: String(b?.h),
    };
  });
}

export async function replayScenario(ctx: ChaosContext): Promise<ScenarioResult> {
  const started = Date.now();
  const p = await prepare(ctx, 'replay', ctx.brokers);
  try {
    const total = p.feed.messages;
    const first = embeddedOptions(p, 'chdb');
    const second = embeddedOptions(p, 'chdb-replay');
    await prepareStore(first);
    await prepareStore(second);
    const checks: Check[] = [];
    const a = startChild(p, { untilIdleMs: 4_000 });
    const aExit = await a.wait(drainTimeoutMs(total), 'first pass');
    const replayGroup = `${p.group}-replay`;
    const replayStarted = Date.now();
    const b = IngestProcess.start({ brokers: p.brokers, group: replayGroup, configFile: p.configFile, logFile: p.logFile, dataDir: join(p.dir, 'chdb-replay'), untilIdleMs: 4_000 });
    p.children.push(b);
    const bExit = await b.wait(drainTimeoutMs(total), 'replay');
    const replayMs = Date.now() - replayStarted;
    checks.push({ name: 'both passes drained and exited 0', ok: aExit.code === 0 && bExit.code === 0, detail: `first ${JSON.stringify(aExit)}, replay ${JSON.stringify(bExit)}` });
    const ra = await rollupsOf(first);
    const rb = await rollupsOf(second);
    let differing = 0;
    const examples: string[] = [];
    for (const [id, row] of ra.rollupRows) {
      if (rb.rollupRows.get(id) !== row) {
        differing++;
        if (examples.length < 5) examples.push(`${id}: ${row} vs ${rb.rollupRows.get(id) ?? 'missing'}`);
      }
    }
    for (const id of rb.rollupRows.keys()) if (!ra.rollupRows.has(id)) differing++;
    checks.push({ name: 'session rollups identical (every column)', ok: differing === 0 && ra.sessions === rb.sessions, detail: `${ra.sessions} vs ${rb.sessions} sessions, ${differing} differ${examples.length ? `: ${examples.join('; ')}` : ''}` });
    checks.push({ name: 'per-minute running sums identical', ok: ra.minuteRows === rb.minuteRows && ra.minuteHash === rb.minuteHash, detail: `${ra.minuteRows} vs ${rb.minuteRows} rows, checksum ${ra.minuteHash} vs ${rb.minuteHash}` });
    checks.push({ name: 'deduplicated intervals identical', ok: ra.uniqueRows === rb.uniqueRows && ra.uniqueHash === rb.uniqueHash, detail: `${ra.uniqueRows} vs ${rb.uniqueRows} rows` });
    checks.push({ name: 'dead letters identical', ok: ra.deadLetters === rb.deadLetters, detail: `${ra.deadLetters} vs ${rb.deadLetters}` });
    const period = await periodOf(first);
    const ca = await reconciledOf(first, period);
    const cb = await reconciledOf(second, period);
    checks.push({
      name: 'reconciliation identical: flags and billing records',
      ok: ca.sessions > 0 && ca.sessions === cb.sessions && ca.sessionHash === cb.sessionHash && ca.records === cb.records && ca.recordHash === cb.recordHash,
      detail: `${ca.sessions} vs ${cb.sessions} sessions (${ca.billed}/${cb.billed} billed, ${ca.held}/${cb.held} held), ${ca.flags} vs ${cb.flags} flags, checksum ${ca.sessionHash} vs ${cb.sessionHash}; ${ca.records} vs ${cb.records} billing records, checksum ${ca.recordHash} vs ${cb.recordHash}`,
    });
    // The replay group's offsets are checked against the replay store; the first pass against truth too.
    const firstTruth = await withStore(first, (s) => checkTruth(s, p.feed.truths));
    checks.push({ name: 'the first pass equals the truth too', ok: firstTruth.status === 'pass', detail: `${firstTruth.status} ${firstTruth.examples.slice(0, 2).join('; ')}` });
    const replay: Prepared = { ...p, group: replayGroup, reader: await OffsetReader.open(p.brokers, replayGroup) };
    let v: Verification;
    try {
      v = await verify(replay, second, 'views');
    } finally {
      await replay.reader.close();
    }
    return result(p, v, {
      faults: ['full replay from the earliest offset by a new group into a fresh store'],
      recoveryMs: null,
      recoveryNote: `no recovery: the replay itself took ${replayMs} ms`,
      checks,
      started,
      details: { replayMs, sessions: ra.sessions, minuteRows: ra.minuteRows, uniqueRows: ra.uniqueRows, deadLetters: ra.deadLetters, reconciled: ca },
    });
  } finally {
    await cleanup(ctx, p);
  }
}

// ------------------------------------------------------------------------------------------- checker

/**
 * The checker's own check. One store receives everything twice (two consumer groups, as a
 * redelivery of the whole stream would): read with deduplication it must pass; read without, it
 * must fail and name the double count; an unreachable store must read 'unverified'.
 */
export async function checkerScenario(ctx: ChaosContext): Promise<ScenarioResult> {
  const started = Date.now();
  const records = Math.min(ctx.records, 50_000);
  const p = await prepare(ctx, 'checker', ctx.brokers, {}, records);
  try {
    const store = embeddedOptions(p);
    await prepareStore(store);
    const total = p.feed.messages;
    const a = startChild(p, { untilIdleMs: 3_000 });
    const aExit = await a.wait(drainTimeoutMs(total), 'first delivery');
    const again = IngestProcess.start({ brokers: p.brokers, group: `${p.group}-again`, configFile: p.configFile, logFile: p.logFile, dataDir: join(p.dir, 'chdb'), untilIdleMs: 3_000 });
    p.children.push(again);
    const bExit = await again.wait(drainTimeoutMs(total), 'second delivery');
    const checks: Check[] = [{ name: 'both deliveries drained', ok: aExit.code === 0 && bExit.code === 0, detail: `${JSON.stringify(aExit)} ${JSON.stringify(bExit)}` }];
    const [withDedup, rawDedup, noDedup] = await withStore(store, async (s) => [
      await checkTruth(s, p.feed.truths, { source: 'views' }),
      await checkTruth(s, p.feed.truths, { source: 'raw-dedup' }),
      await checkTruth(s, p.feed.truths, { source: 'raw-no-dedup' }),
    ]);
    checks.push({ name: 'double delivery read with deduplication passes', ok: withDedup.status === 'pass' && rawDedup.status === 'pass', detail: `views ${withDedup.status}, raw-dedup ${rawDedup.status}` });
    checks.push({
      name: 'double delivery read without deduplication fails',
      ok: noDedup.status === 'fail' && noDedup.doubleCounted.wh >= noDedup.expected.wh,
      detail: `${noDedup.status}: ${noDedup.doubleCounted.wh} Wh and ${noDedup.doubleCounted.records} intervals double counted (truth ${noDedup.expected.wh} Wh)`,
    });
    const unreachable = await withStore({ kind: 'http', url: 'http://127.0.0.1:9', username: 'default', password: '', database: 'pevmeter', requestTimeoutMs: 2_000 }, (s) => checkTruth(s, p.feed.truths));
    checks.push({ name: 'an unreachable store reads unverified', ok: unreachable.status === 'unverified', detail: `${unreachable.status}: ${unreachable.error ?? ''}` });
    const missing = await withStore({ ...store, database: 'no_such_database' }, (s) => checkTruth(s, p.feed.truths));
    checks.push({ name: 'a store without the tables reads unverified', ok: missing.status === 'unverified', detail: `${missing.status}: ${(missing.error ?? '').slice(0, 120)}` });
    // The group-level offsets: the second group must have drained too.
    const v = await verify(p, store, 'views');
    return result(p, v, {
      faults: ['every record delivered twice (two groups into one store)', 'dedup switched off in the reader', 'checker pointed at an unreachable store'],
      recoveryMs: null,
      recoveryNote: 'n/a',
      checks,
      started,
      details: { noDedup: { doubleCounted: noDedup.doubleCounted, mismatchedSessions: noDedup.mismatchedSessions, mismatchedMinutes: noDedup.mismatchedMinutes } },
    });
  } finally {
    await cleanup(ctx, p);
  }
}

export const RUNNERS: Record<ScenarioName, (ctx: ChaosContext) => Promise<ScenarioResult>> = {
  kill: killScenario,
  broker: brokerScenario,
  store: storeScenario,
  rejected: rejectedScenario,
  scale: scaleScenario,
  replay: replayScenario,
  checker: checkerScenario,
};

/** Copies a scenario's ingest log next to its result (kept even when data is removed). */
export function keepLog(ctx: ChaosContext, name: ScenarioName, dest: string): void {
  try {
    cpSync(join(ctx.workDir, name, 'ingest.log'), dest);
  } catch {
    // no log: nothing ran
  }
}
