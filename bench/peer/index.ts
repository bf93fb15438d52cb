/**
 * The peer benchmark: pevmeter against what a ClickHouse user would build instead (ClickHouse's
 * Kafka table engine, a materialized view, a SummingMergeTree: bench/peer/peer.sql), on the same
 * topic, broker, registry endpoint and machine, one after the other in one invocation.
 *
 *   throughput   records/s from the first record read to the moment all records are queryable,
 *                for each system on a pre-produced topic (no faults); ratio = ours / peer;
 *   kcat         consume-only of the same topic (Debian's kcat), a second Kafka read limit;
 *   exactness    both fed the same simulated data with the fault kinds that touch totals (exact
 *                resends, out-of-order delivery, a duplicate interval with a different energy),
 *                each consumer process SIGKILLed once mid-run and restarted on the same folder;
 *                per-session totals compared with the simulator's ground truth.
 *
 * Each system runs in a child process of its own (chDB binds one folder per process, and a child
 * can be killed): peer-process.ts and ours-process.ts, which print JSON lines (protocol.ts).
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../schemas/errors.js';
import { packageRoot } from '../../schemas/index.js';
import { kcatReadLimit } from '../measure/kcat.js';
import { describeMachine } from '../measure/machine.js';
import type { ReadLimit } from '../measure/kcat.js';
import type { MachineInfo } from '../measure/machine.js';
import type { FaultKind, SessionTruth } from '../sim/fleet.js';
import { createTopics, deleteTopics, produceIntervalTopic, type ProducedTopic } from './kafka.js';
import { startChild, type ChildProgress, type ChildResult } from './protocol.js';
import { startRegistryEndpoint, type RegistryEndpoint } from './registry.js';

/** The fault kinds that change a session's total when counted naively. */
export const TOTAL_FAULTS = ['resend', 'out_of_order', 'conflict'] as const satisfies readonly FaultKind[];

/** ~interval records one premise produces in the simulator's default week at 60 s intervals (measured 1,470-2,300 by seed). */
const RECORDS_PER_PREMISE_WEEK = 1_500;

export interface PeerBenchOptions {
  /** Kafka bootstrap servers (default: KAFKA_BROKERS, else 127.0.0.1:19092). */
  brokers?: string;
  /** Interval records in the throughput topic (default 1,000,000). */
  records?: number;
  partitions?: number;
  recordsPerMessage?: number;
  seed?: string | number;
  /** A pre-produced interval topic to use instead of producing one; `records` (and `messages`, for kcat) must then say what it holds. */
  topic?: string;
  messages?: number;
  /** Names this run's topics, groups and folders (default: time and pid). */
  runId?: string;
  /** Our throughput as the caller (the bench harness) measured it on the same topic: kept beside ours, for reference. */
  ours?: number | null;
  /** Where the chDB folders and dumps go. Default .cache/bench-peer/<run>, removed afterwards unless `keep`; a folder the caller gives is left to the caller. */
  workDir?: string;
  keep?: boolean;
  /** The peer's kafka_num_consumers (default min(partitions, cores), as ClickHouse's docs advise). */
  consumers?: number;
  /** Our decode workers (default: the product's default). */
  workers?: number;
  /** Which systems, in order (default ['peer', 'ours']). */
  systems?: ('peer' | 'ours')[];
  /** Run kcat consume-only (default: when kcat is on PATH). */
  kcat?: boolean;
  /** Exactness run: false to skip; otherwise its size (default ~200,000 records) and share of sessions per fault kind (default 0.2). */
  exactness?: false | { records?: number; share?: number };
  /** Per child run (default 900 s). */
  timeoutMs?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface SystemFigures {
  recordsPerSec: number | null;
  /** First record read to all records queryable. */
  seconds: number | null;
  /** First to last message read (the rest of `seconds` is flushing/writing the tail). */
  readSeconds: number | null;
  records: number;
  /** Records the system showed queryable when it stopped (the peer: sum of `intervals`; ours: rows of interval_raw). */
  rowsQueryable: number;
  cpuSeconds: number | null;
  /** CPU seconds (every thread of the process) per million records in the measured window: steadier than records/s on a busy machine. */
  cpuSecondsPerMillion: number | null;
  maxRssMiB: number;
  reason: ChildResult['reason'];
  info: Record<string, unknown>;
}

export interface ExactnessRow {
  system: 'peer' | 'ours';
  sessions: number;
  /** Sessions whose total differs from the truth, and by how many Wh in all (sum of |difference|). */
  sessionsDiffering: number;
  whDiffAbs: number;
  /** Signed: positive is over-counting. */
  whDiffSigned: number;
  truthWh: number;
  measuredWh: number;
  /** Per fault kind ('clean' for sessions without one): sessions, differing, |Wh|. */
  byFault: Record<string, { sessions: number; differing: number; whDiffAbs: number }>;
  /**
   * Rows the system holds at the end against records in the topic. The peer: sum of `intervals`,
   * every delivery (an excess is Kafka redelivery). Ours: rows of interval_raw, which background
   * merges of exact copies may bring below the records delivered (harmless: reads deduplicate).
   */
  rowsStored: number;
  recordsInTopic: number;
  /** Where the SIGKILL landed (seconds after the first start); null when the run drained before the kill point. */
  kill: { messagesRead: number; rowsQueryable: number; afterSeconds: number } | null;
  /** From the restart to drained. */
  restartSeconds: number;
}

export interface PeerBenchResult {
  schema: 'pevmeter-bench-peer/1';
  runId: string;
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  /** The peer's records/s again, under the name the bench harness reads (PeerFigure). */
  recordsPerS: number | null;
  conditions: {
    brokers: string;
    partitions: number;
    recordsPerMessage: number;
    records: number;
    messages: number;
    bytes: number;
    peerConsumers: number;
    peerSql: string;
    note: string;
  };
  peer: SystemFigures | null;
  ours: SystemFigures | null;
  /** ours.recordsPerSec / peer.recordsPerSec. */
  ratio: number | null;
  /** The caller's own figure for our pipeline on this topic (the harness's e2e run), when given. */
  oursFromCaller: number | null;
  /** GET /schemas/ids/{id} the registry endpoint answered (both systems fetch each schema once per process). */
  registryRequests: number;
  /** kcat consume-only of the same topic (bench/measure/kcat.ts): a second Kafka read limit. */
  kcat: ReadLimit | null;
  exactness: {
    records: number;
    messages: number;
    sessions: number;
    faultShare: number;
    faultSessions: Record<string, number>;
    peer: ExactnessRow | null;
    ours: ExactnessRow | null;
  } | null;
}

function figures(r: ChildResult): SystemFigures {
  return {
    recordsPerSec: r.recordsPerSec,
    seconds: r.seconds,
    readSeconds: r.firstReadMs !== null && r.lastReadMs !== null ? (r.lastReadMs - r.firstReadMs) / 1000 : null,
    records: r.target,
    rowsQueryable: r.rows,
    cpuSeconds: r.cpuSeconds,
    cpuSecondsPerMillion: r.cpuSeconds !== null && r.target > 0 ? (r.cpuSeconds / r.target) * 1e6 : null,
    maxRssMiB: Math.round(r.maxRssMiB),
    reason: r.reason,
    info: r.info,
  };
}

function runId(): string {
  return `${Date.now().toString(36)}${process.pid.toString(36)}`;
}

interface Ctx {
  brokers: string;
  registry: RegistryEndpoint;
  work: string;
  id: string;
  partitions: number;
  consumers: number;
  workers: number | undefined;
  timeoutMs: number;
  log: (line: string) => void;
  /** Empty topics the service subscribes to besides the interval topic, and its dead-letter topic. */
  others: string;
}

function childFlags(ctx: Ctx, system: 'peer' | 'ours', topic: string, target: number, tag: string): Record<string, string | number> {
  const flags: Record<string, string | number> = {
    dir: join(ctx.work, `${system}-${tag}`),
    brokers: ctx.brokers,
    topic,
    group: `bench-${system}-${tag}-${ctx.id}`,
    'registry-url': ctx.registry.url,
    target,
    'timeout-ms': ctx.timeoutMs,
  };
  if (system === 'peer') flags['consumers'] = ctx.consumers;
  else {
    flags['other-topics'] = ctx.others;
    if (ctx.workers !== undefined) flags['workers'] = ctx.workers;
  }
  return flags;
}

async function throughput(ctx: Ctx, system: 'peer' | 'ours', topic: string, records: number): Promise<SystemFigures> {
  ctx.log(`${system}: consuming ${records} records from ${topic}`);
  const child = startChild(system === 'peer' ? 'peer-process' : 'ours-process', { ...childFlags(ctx, system, topic, records, 'tput'), until: 'rows' });
  const r = await child.result;
  if (r.reason !== 'target') throw new Error(`${system} did not make ${records} records queryable within ${ctx.timeoutMs} ms (${r.rows} queryable)`);
  const f = figures(r);
  ctx.log(`${system}: ${f.recordsPerSec?.toFixed(0)} records/s (${f.seconds} s, read in ${f.readSeconds} s)`);
  return f;
}

function readDump(file: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const row = JSON.parse(line) as { session_id: string; wh: number | string };
    out.set(row.session_id, (out.get(row.session_id) ?? 0) + Number(row.wh));
  }
  return out;
}

/** Per-session totals against the truth (SessionTruth.interval_sum_wh). */
export function compareTotals(
  system: 'peer' | 'ours',
  truth: ReadonlyMap<string, SessionTruth>,
  measured: ReadonlyMap<string, number>,
): Pick<ExactnessRow, 'system' | 'sessions' | 'sessionsDiffering' | 'whDiffAbs' | 'whDiffSigned' | 'truthWh' | 'measuredWh' | 'byFault'> {
  const byFault: ExactnessRow['byFault'] = {};
  let differing = 0;
  let abs = 0;
  let signed = 0;
  let truthWh = 0;
  let measuredWh = 0;
  for (const [id, t] of truth) {
    const got = measured.get(id) ?? 0;
    const d = got - t.interval_sum_wh;
    const kind = t.faults[0] ?? 'clean';
    const k = (byFault[kind] ??= { sessions: 0, differing: 0, whDiffAbs: 0 });
    k.sessions += 1;
    truthWh += t.interval_sum_wh;
    measuredWh += got;
    if (d !== 0) {
      differing += 1;
      abs += Math.abs(d);
      signed += d;
      k.differing += 1;
      k.whDiffAbs += Math.abs(d);
    }
  }
  // A session the system invented counts as differing by all of its energy.
  for (const [id, wh] of measured) {
    if (truth.has(id)) continue;
    const k = (byFault['unknown'] ??= { sessions: 0, differing: 0, whDiffAbs: 0 });
    k.sessions += 1;
    measuredWh += wh;
    if (wh !== 0) {
      differing += 1;
      abs += Math.abs(wh);
      signed += wh;
      k.differing += 1;
      k.whDiffAbs += Math.abs(wh);
    }
  }
  return { system, sessions: truth.size, sessionsDiffering: differing, whDiffAbs: abs, whDiffSigned: signed, truthWh, measuredWh, byFault };
}

/**
 * One system on the faulted topic: started, SIGKILLed once mid-run, restarted on the same folder
 * and group, run until its group has committed the whole topic, then its per-session totals
 * compared with the truth. "Mid-run" is the same moment for both: the first progress report with
 * at least half the messages read. What was queryable then is reported with it: on restart, both
 * re-read from their last commit, and whatever had been written but not committed is delivered again.
 */
async function exactnessRun(ctx: Ctx, system: 'peer' | 'ours', topic: ProducedTopic): Promise<ExactnessRow> {
  const entry = system === 'peer' ? 'peer-process' : 'ours-process';
  const dump = join(ctx.work, `${system}-exact.jsonl`);
  const flags = { ...childFlags(ctx, system, topic.topic, topic.records, 'exact'), until: 'drained', dump };
  const half = Math.ceil(topic.messages / 2);
  ctx.log(`${system}: exactness run, SIGKILL once ${half} of ${topic.messages} messages are read`);
  const first = startChild(entry, flags);
  const t0 = Date.now();
  let atKill: ChildProgress | undefined;
  try {
    atKill = await first.until((p) => p.messagesRead >= half);
  } catch (err) {
    // It drained before a progress report showed half the topic read: then there is no kill to report.
    const r = await first.result.catch(() => undefined);
    if (r?.reason !== 'drained') throw new Error(`${system} (exactness, first run) ended before the kill point: ${(err as Error).message}\n${first.stderrTail()}`, { cause: err });
  }
  let r: ChildResult;
  let t1 = Date.now();
  if (atKill) {
    await first.kill();
    ctx.log(`${system}: killed at ${atKill.messagesRead} messages read, ${atKill.rows} rows queryable; restarting on the same folder`);
    t1 = Date.now();
    r = await startChild(entry, flags).result;
  } else {
    ctx.log(`${system}: drained before the kill point; no kill`);
    r = await first.result;
  }
  if (r.reason !== 'drained') throw new Error(`${system} (exactness) did not drain its group within ${ctx.timeoutMs} ms`);
  const cmp = compareTotals(system, topic.truth ?? new Map(), readDump(dump));
  ctx.log(`${system}: ${cmp.sessionsDiffering} of ${cmp.sessions} sessions differ, ${cmp.whDiffSigned} Wh; ${r.rows} rows for ${topic.records} records`);
  return {
    ...cmp,
    rowsStored: r.rows,
    recordsInTopic: topic.records,
    kill: atKill ? { messagesRead: atKill.messagesRead, rowsQueryable: atKill.rows, afterSeconds: (atKill.atMs - t0) / 1000 } : null,
    restartSeconds: (Date.now() - t1) / 1000,
  };
}

const KNOWN_OPTIONS = new Set<string>([
  'brokers', 'records', 'partitions', 'recordsPerMessage', 'seed', 'topic', 'messages', 'runId', 'ours', 'workDir', 'keep',
  'consumers', 'workers', 'systems', 'kcat', 'exactness', 'timeoutMs', 'log',
]);

/** Rejects unknown keys and impossible numbers once, naming the option. */
function checkOptions(o: PeerBenchOptions): void {
  for (const key of Object.keys(o)) {
    if (!KNOWN_OPTIONS.has(key)) throw new ConfigError(`runPeerBench: unknown option "${key}"; known: ${[...KNOWN_OPTIONS].join(', ')}`);
  }
  const ints: [string, number | undefined, number][] = [
    ['records', o.records, 1],
    ['partitions', o.partitions, 1],
    ['recordsPerMessage', o.recordsPerMessage, 1],
    ['messages', o.messages, 0],
    ['consumers', o.consumers, 1],
    ['workers', o.workers, 1],
    ['timeoutMs', o.timeoutMs, 1_000],
    ['exactness.records', o.exactness ? o.exactness.records : undefined, 1],
  ];
  for (const [name, v, min] of ints) {
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= min)) throw new ConfigError(`runPeerBench: ${name} must be an integer >= ${min}, got ${String(v)}`);
  }
  const share = o.exactness ? o.exactness.share : undefined;
  if (share !== undefined && !(share > 0 && share * TOTAL_FAULTS.length <= 1)) {
    throw new ConfigError(`runPeerBench: exactness.share must be in (0, ${(1 / TOTAL_FAULTS.length).toFixed(3)}] (one share per fault kind: ${TOTAL_FAULTS.join(', ')}), got ${share}`);
  }
  for (const s of o.systems ?? []) if (s !== 'peer' && s !== 'ours') throw new ConfigError(`runPeerBench: systems: expected 'peer' and/or 'ours', got ${JSON.stringify(s)}`);
  if (o.topic !== undefined && o.records === undefined) throw new ConfigError('runPeerBench: a pre-produced topic needs records (the interval records it holds)');
}

export async function runPeerBench(options: PeerBenchOptions = {}): Promise<PeerBenchResult> {
  checkOptions(options);
  const brokers = options.brokers ?? (process.env['KAFKA_BROKERS'] || '127.0.0.1:19092');
  const partitions = options.partitions ?? 2;
  const recordsPerMessage = options.recordsPerMessage ?? 1;
  const records = options.records ?? 1_000_000;
  const seed = options.seed ?? 1;
  const systems = options.systems ?? ['peer', 'ours'];
  const log = options.log ?? (() => undefined);
  const startedAt = new Date().toISOString();
  const id = (options.runId ?? runId()).toLowerCase().replace(/[^a-z0-9-]/g, '-');
  const machine = describeMachine();
  const work = options.workDir ?? join(packageRoot(), '.cache', 'bench-peer', id);
  mkdirSync(work, { recursive: true });
  if (options.kcat === true && machine.kcat === undefined) throw new Error('kcat is not on PATH (Debian: apt-get install kcat)');
  const withKcat = options.kcat ?? machine.kcat !== undefined;

  const registry = await startRegistryEndpoint();
  const created: string[] = [];
  try {
    const others = ['session-event', 'vehicle-report', 'enrollment', 'dead-letter'].map((k) => `bench-peer-${k}-${id}`);
    await createTopics(brokers, others, partitions);
    created.push(...others);
    const ctx: Ctx = {
      brokers,
      registry,
      work,
      id,
      partitions,
      consumers: options.consumers ?? Math.max(1, Math.min(partitions, availableParallelism())),
      workers: options.workers,
      timeoutMs: options.timeoutMs ?? 900_000,
      log,
      others: others.join(','),
    };

    let topic: { name: string; records: number; messages: number; bytes: number };
    if (options.topic !== undefined) {
      topic = { name: options.topic, records, messages: options.messages ?? 0, bytes: 0 };
    } else {
      log(`producing ${records} interval records (${partitions} partitions, ${recordsPerMessage} per message)`);
      created.push(`bench-peer-interval-${id}`);
      const p = await produceIntervalTopic({
        brokers,
        topic: `bench-peer-interval-${id}`,
        partitions,
        recordsPerMessage,
        maxRecords: records,
        // Generous: the stream stops at `records`, and premises vary (some charge less often).
        fleet: { seed, premises: Math.ceil(records / (RECORDS_PER_PREMISE_WEEK / 2)) + 5, noFaults: true },
      });
      topic = { name: p.topic, records: p.records, messages: p.messages, bytes: p.bytes };
      log(`produced ${p.records} records in ${p.messages} messages (${(p.bytes / 1048576).toFixed(1)} MiB) in ${p.produceSeconds.toFixed(1)} s`);
    }

    let kcat: ReadLimit | null = null;
    if (withKcat && topic.messages > 0) {
      // The empty dead-letter topic gives kcat's own start-up time, which is subtracted.
      kcat = await kcatReadLimit(brokers, topic.name, others[3]!, { messages: topic.messages, records: topic.records, bytes: topic.bytes });
      log(`kcat: ${kcat.messages} messages, ${kcat.recordsPerS.toFixed(0)} records/s`);
    }

    const figs: { peer: SystemFigures | null; ours: SystemFigures | null } = { peer: null, ours: null };
    for (const s of systems) figs[s] = await throughput(ctx, s, topic.name, topic.records);
    const ratio = figs.peer?.recordsPerSec && figs.ours?.recordsPerSec ? figs.ours.recordsPerSec / figs.peer.recordsPerSec : null;

    let exactness: PeerBenchResult['exactness'] = null;
    if (options.exactness !== false) {
      const size = options.exactness?.records ?? 200_000;
      const share = options.exactness?.share ?? 0.2;
      const faults = Object.fromEntries(TOTAL_FAULTS.map((k) => [k, share]));
      log(`producing the exactness topic (~${size} records, ${share * 100}% of sessions per fault kind: ${TOTAL_FAULTS.join(', ')})`);
      created.push(`bench-peer-exact-${id}`);
      const p = await produceIntervalTopic({
        brokers,
        topic: `bench-peer-exact-${id}`,
        partitions,
        recordsPerMessage,
        keepTruth: true,
        fleet: { seed: `${String(seed)}-exact`, premises: Math.max(2, Math.round(size / RECORDS_PER_PREMISE_WEEK)), faults },
      });
      const faultSessions: Record<string, number> = {};
      for (const t of p.truth?.values() ?? []) {
        const k = t.faults[0] ?? 'clean';
        faultSessions[k] = (faultSessions[k] ?? 0) + 1;
      }
      exactness = { records: p.records, messages: p.messages, sessions: p.truth?.size ?? 0, faultShare: share, faultSessions, peer: null, ours: null };
      for (const s of systems) exactness[s] = await exactnessRun(ctx, s, p);
    }

    const version = figs.peer?.info['clickhouse'];
    if (typeof version === 'string') machine.clickhouseEmbedded = `${version} (chDB)`;
    return {
      schema: 'pevmeter-bench-peer/1',
      runId: id,
      startedAt,
      finishedAt: new Date().toISOString(),
      machine,
      recordsPerS: figs.peer?.recordsPerSec ?? null,
      conditions: {
        brokers,
        partitions,
        recordsPerMessage,
        records: topic.records,
        messages: topic.messages,
        bytes: topic.bytes,
        peerConsumers: ctx.consumers,
        peerSql: 'bench/peer/peer.sql',
        note: 'throughput = records from the first record read to the moment all are queryable; each system alone, one after the other, same topic, broker and registry endpoint',
      },
      peer: figs.peer,
      ours: figs.ours,
      ratio,
      oursFromCaller: options.ours ?? null,
      registryRequests: registry.requests(),
      kcat,
      exactness,
    };
  } finally {
    await registry.close();
    // The broker keeps logs forever (retention -1): a bench leaves no topic behind unless asked to.
    if (!options.keep) await deleteTopics(brokers, created).catch((err: unknown) => log(`could not delete topics: ${(err as Error).message}`));
    if (!options.keep && options.workDir === undefined) rmSync(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}
