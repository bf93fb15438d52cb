/**
 * One benchmark run, phase by phase, on one machine, the figures side by side:
 *
 *   produce    topic sets of N interval records per records-per-message setting (untimed)
 *   e2e        the pipeline on the headline setting; scaling: every workers x rpm setting
 *   limits     per setting: Kafka read (node-rdkafka, kcat), decode (one core), ClickHouse write
 *   server     the same against a ClickHouse server, when CLICKHOUSE_URL is given
 *   latency    a fresh topic produced at a fixed share of the measured maximum, polled for visibility
 *   memory     100,000 sessions active at once, peak RSS of the pipeline
 *   peer       ClickHouse's Kafka engine on the same topic (bench/peer, when present)
 *   profile    a --cpu-prof run of the headline setting when a target is missed
 *
 * A phase that fails is recorded in `errors` and the run goes on: a partial report is still
 * evidence, and the exit code says it is partial.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { packageRoot } from '../../schemas/index.js';
import { fleetMessages, repack, syntheticSessions } from './data.js';
import { createTopics, deleteTopics, produceAll, produceAtRate, topicSetNames, topicsOf, type DataMessage, type ProduceLog } from './kafka.js';
import { kcatReadLimit } from '../measure/kcat.js';
import { latencyStats } from './latency.js';
import { describeMachine } from '../measure/machine.js';
import type { BenchOptions } from './options.js';
import { runPipeline, storeFlags, type RunContext } from './pipeline-run.js';
import { summarizeProfiles } from './profile.js';
import type { StageLimitJob } from './protocol.js';
import { bestPipelineWrite, collectFigures, evaluateTargets } from './report.js';
import { startChild } from './spawn.js';
import type { StageLimitsResult } from './child-limits.js';
import { brokerPid } from './watch.js';
import type { BenchResult, PipelineRun, ReadLimit, StageLimits, TopicSet } from './types.js';
import type { StoreOptions } from '../../aggregate/store/types.js';
import { loadConfig } from '../../schemas/config.js';
import { unitMessages } from '../../ingest/pipeline/kafka-loop.js';

/** The pipeline's consume batch, unit bound and in-flight units (schemas/config.ts defaults). */
const DEFAULTS = loadConfig({ env: {} });
const CONSUME_BATCH = DEFAULTS.kafka.consumeBatch;
const MAX_INFLIGHT_UNITS = DEFAULTS.pipeline.maxInflightUnits;
/**
 * Rows each write variant inserts (the first ones decoded): a write limit is steady well before
 * 2 million rows, and four variants per setting would otherwise dominate the run's time.
 */
const WRITE_LIMIT_ROWS = 1_000_000;
/** chDB and servers squash inserts above this into blocks anyway (max_insert_block_size). */
const MAX_ROWS_PER_INSERT = 1_048_576;

export function newRunId(now = new Date()): string {
  const iso = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${iso}-${Math.random().toString(36).slice(2, 6)}`;
}

function emptyResult(options: BenchOptions, runId: string): BenchResult {
  return {
    schema: 'pevmeter-bench/1',
    runId,
    startedAt: new Date().toISOString(),
    finishedAt: '',
    durationS: 0,
    options: {
      records: options.records, partitions: options.partitions, recordsPerMessage: options.recordsPerMessage, workers: options.workers,
      phases: [...options.phases], brokers: options.brokers, clickhouseServer: options.clickhouseUrl !== undefined, latencyLoad: options.latencyLoad,
      latencyRate: options.latencyRate ?? null, latencySeconds: options.latencySeconds, latencyPollMs: options.latencyPollMs, sessions: options.sessions,
      intervalsPerSession: options.intervalsPerSession, profile: options.profile, seed: options.seed, pipelineFlags: options.pipelineFlags,
    },
    machine: describeMachine(),
    topics: [],
    e2e: undefined,
    scaling: [],
    server: [],
    limits: [],
    headline: undefined,
    latency: undefined,
    memory: undefined,
    peer: undefined,
    reconcile: undefined,
    micro: undefined,
    targets: [],
    profile: undefined,
    figures: {},
    errors: [],
  };
}

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const t0 = performance.now();
  const runId = newRunId();
  const dir = join(options.workDir, runId);
  mkdirSync(dir, { recursive: true });
  const log = (line: string) => {
    if (!options.quiet) process.stderr.write(`${line}\n`);
  };
  const ctx: RunContext = { options, runId, dir, brokerPid: brokerPid(options.brokers), log };
  const result = emptyResult(options, runId);
  const created: string[] = [];
  const rpm0 = options.recordsPerMessage[0]!;
  const wHead = options.workers[options.workers.length - 1]!;
  const has = (p: string) => options.phases.has(p as never);
  const phase = async (name: string, fn: () => Promise<void>) => {
    const started = performance.now();
    log(`[bench] ${name}`);
    try {
      await fn();
    } catch (err) {
      const msg = `${name}: ${err instanceof Error ? err.message : String(err)}`;
      result.errors.push(msg.slice(0, 4000));
      log(`[bench] ${name} FAILED: ${msg.split('\n')[0] ?? ''}`);
    }
    log(`[bench] ${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  };

  const makeSet = async (label: string, rpm: number, source: Iterable<DataMessage>, kind: TopicSet['source'], keep?: DataMessage[]): Promise<TopicSet> => {
    const names = topicSetNames(runId, label);
    await createTopics(options.brokers, topicsOf(names), options.partitions);
    created.push(...topicsOf(names));
    const p = await produceAll(options.brokers, names.interval, source, keep);
    const set: TopicSet = { ...names, partitions: options.partitions, recordsPerMessage: rpm, records: p.records, messages: p.messages, bytes: p.bytes, produceSeconds: p.seconds, source: kind };
    result.topics.push(set);
    log(`  ${label}: ${p.records} records in ${p.messages} messages (${(p.bytes / 1e6).toFixed(1)} MB), produced in ${p.seconds.toFixed(1)} s`);
    return set;
  };

  try {
    // ---- produce
    const needLatency = has('latency');
    const rpms = has('scaling') || has('limits') ? options.recordsPerMessage : [rpm0];
    const sets = new Map<number, TopicSet>();
    // The fleet is simulated once, one record per message; other settings repack those records
    // (the latency run replays them too), so every setting carries exactly the same records.
    const singles: DataMessage[] = [];
    const kept: DataMessage[] = [];
    const needData = ['e2e', 'scaling', 'limits', 'server', 'latency', 'peer'].some(has);
    if (needData) {
      await phase('produce', async () => {
        const needSingles = rpms.some((r) => r !== 1) || needLatency;
        if (needSingles) for (const m of fleetMessages(options.records, 1, options.seed)) singles.push(m);
        for (const rpm of rpms) {
          const source = needSingles ? (rpm === 1 ? singles : repack(singles, rpm)) : fleetMessages(options.records, rpm, options.seed);
          const keep = needLatency && rpm === rpm0 ? kept : undefined;
          sets.set(rpm, await makeSet(`r${rpm}`, rpm, source, 'fleet', keep));
        }
        if (!needLatency) singles.length = 0;
      });
    }

    // ---- end to end and scaling
    const runs = new Map<string, PipelineRun>();
    const e2e = async (rpm: number, workers: number): Promise<PipelineRun | undefined> => {
      const key = `r${rpm}-w${workers}`;
      const have = runs.get(key);
      if (have) return have;
      const set = sets.get(rpm);
      if (!set) return undefined;
      const { run, child } = await runPipeline(ctx, set, { label: `e2e-${key}`, workers, store: 'embedded', expect: set.records });
      result.machine.clickhouseEmbedded ||= child.clickhouseVersion;
      runs.set(key, run);
      result.scaling.push(run);
      log(`  e2e ${key}: ${fmt(run.recordsPerS)} records/s, ${run.cpuSecondsPerMillion.toFixed(2)} CPU s/M, peak RSS ${mib(run.peakRssBytes)}${run.error ? `  ERROR ${run.error}` : ''}`);
      if (run.error) result.errors.push(`e2e ${key}: ${run.error}`);
      return run;
    };
    if (has('e2e') || has('scaling') || has('latency') || has('peer')) {
      await phase('e2e', async () => {
        result.e2e = await e2e(rpm0, wHead);
      });
    }
    if (has('scaling')) {
      await phase('scaling', async () => {
        for (const rpm of options.recordsPerMessage) for (const w of options.workers) await e2e(rpm, w);
      });
    } else if (has('limits')) {
      // The write limit inserts in the pipeline's batch sizes, which the e2e run of each setting tells.
      await phase('e2e per setting', async () => {
        for (const rpm of options.recordsPerMessage) await e2e(rpm, wHead);
      });
    }
    result.e2e ??= runs.get(`r${rpm0}-w${wHead}`);

    // ---- stage limits
    if (has('limits')) {
      await phase('limits', async () => {
        for (const rpm of options.recordsPerMessage) {
          const set = sets.get(rpm);
          if (!set) continue;
          const unit = runs.get(`r${rpm}-w${wHead}`)?.recordsPerUnit;
          // Every write variant on the headline setting; the pipeline's own path elsewhere.
          const all = rpm === rpm0;
          result.limits.push(await stageLimits(ctx, set, unit, { kind: 'embedded', path: join(dir, `chdb-limits-r${rpm}`), database: 'pevmeter' }, { compareText: all, concurrency: all ? [1, MAX_INFLIGHT_UNITS] : [MAX_INFLIGHT_UNITS] }));
        }
        result.machine.clickhouseEmbedded ||= ctx.clickhouseVersion ?? '';
      });
    }

    // ---- a ClickHouse server
    if (has('server') && options.clickhouseUrl) {
      await phase('server', async () => {
        const set = sets.get(rpm0)!;
        const { run, child } = await runPipeline(ctx, set, { label: `server-r${rpm0}-w${wHead}`, workers: wHead, store: 'http', expect: set.records });
        result.machine.clickhouseServer = child.clickhouseVersion;
        result.server.push(run);
        if (run.error) result.errors.push(`server: ${run.error}`);
        const flags = storeFlags(ctx, 'http', `limits-r${rpm0}`);
        const store: StoreOptions = {
          kind: 'http', url: String(flags['store.url']), username: String(flags['store.username']), password: String(flags['store.password']),
          database: String(flags['store.database']), requestTimeoutMs: 120_000,
        };
        const limits = await stageLimits(ctx, set, runs.get(`r${rpm0}-w${wHead}`)?.recordsPerUnit, store, { compareText: false, concurrency: [1, MAX_INFLIGHT_UNITS], reads: false });
        const mine = result.limits.find((l) => l.recordsPerMessage === rpm0);
        if (mine) mine.clickhouseWrite.push(...limits.clickhouseWrite);
        else result.limits.push(limits);
      });
    }

    // ---- headline
    const head = result.e2e;
    const lim = result.limits.find((l) => l.recordsPerMessage === rpm0);
    if (head && lim) {
      const read = Math.max(0, ...lim.kafkaRead.map((r) => r.recordsPerS));
      const best = bestPipelineWrite(lim);
      const write = best?.rowsPerS ?? 0;
      if (read > 0 && write > 0) {
        const client = lim.kafkaRead.find((r) => r.tool === 'node-rdkafka')?.recordsPerS ?? read;
        const decode = (lim.decode?.recordsPerS ?? Number.POSITIVE_INFINITY) * head.workers;
        const stages: [string, number][] = [
          ['Kafka read by node-rdkafka (the pipeline\'s client)', client],
          [`decode (${head.workers} worker${head.workers > 1 ? 's' : ''} at the one-thread limit)`, decode],
          [`ClickHouse write (${best?.path ?? 'none'})`, write],
        ];
        stages.sort((a, b) => a[1] - b[1]);
        result.headline = {
          pipelineRecordsPerS: head.recordsPerS,
          kafkaReadLimit: read,
          clickhouseWriteLimit: write,
          ratio: head.recordsPerS / Math.min(read, write),
          boundBy: read <= write ? 'Kafka read' : 'ClickHouse write',
          clientReadLimit: client,
          decodeLimitAllWorkers: Number.isFinite(decode) ? decode : 0,
          slowestStage: stages[0]![0],
          ratioToSlowestStage: head.recordsPerS / stages[0]![1],
        };
      }
    }

    // ---- latency at a fixed offered load
    if (needLatency) {
      await phase('latency', async () => {
        const max = result.e2e?.recordsPerS;
        const rate = options.latencyRate ?? (max ? Math.round(max * options.latencyLoad) : undefined);
        if (rate === undefined) throw new Error('no maximum measured and no --latency-rate given');
        const warmMessages = Math.min(1_000, Math.max(1, Math.floor(kept.length / 20)));
        const warm = kept.slice(0, warmMessages);
        const rest = kept.slice(warmMessages, warmMessages + Math.ceil((rate * options.latencySeconds) / rpm0));
        if (rest.length === 0) throw new Error('no messages kept for the latency run');
        const names = topicSetNames(runId, `lat-r${rpm0}`);
        await createTopics(options.brokers, topicsOf(names), options.partitions);
        created.push(...topicsOf(names));
        const warmRecords = warm.reduce((n, m) => n + m.records, 0);
        const restRecords = rest.reduce((n, m) => n + m.records, 0);
        const restBytes = rest.reduce((n, m) => n + m.value.length, 0);
        const set: TopicSet = { ...names, partitions: options.partitions, recordsPerMessage: rpm0, records: warmRecords + restRecords, messages: warm.length + rest.length, bytes: restBytes, produceSeconds: 0, source: 'fleet' };
        let produced: ProduceLog | undefined;
        let producerCpuSeconds = 0;
        const { run, child } = await runPipeline(ctx, set, {
          label: `latency-r${rpm0}`,
          workers: wHead,
          store: 'embedded',
          expect: set.records,
          pollMs: options.latencyPollMs,
          during: async (watch) => {
            // Warm-up: the group has joined and the pipeline has written rows before the clock runs.
            await produceAll(options.brokers, names.interval, warm);
            await watch.whenRows(warmRecords);
            const cpu0 = process.cpuUsage();
            produced = await produceAtRate(options.brokers, names.interval, rest, rate);
            const cpu = process.cpuUsage(cpu0);
            producerCpuSeconds = (cpu.user + cpu.system) / 1e6;
          },
        });
        if (!produced) throw new Error('the latency producer did not run');
        result.machine.clickhouseEmbedded ||= child.clickhouseVersion;
        const stats = latencyStats(produced, child.visibility ?? []);
        result.latency = {
          store: 'embedded',
          recordsPerMessage: rpm0,
          offeredRecordsPerS: rate,
          producedRecordsPerS: produced.records / produced.seconds,
          loadShare: max ? rate / max : 0,
          records: stats.records,
          seconds: produced.seconds,
          producerCores: producerCpuSeconds / produced.seconds,
          pollMs: options.latencyPollMs,
          p50Ms: stats.p50Ms,
          p90Ms: stats.p90Ms,
          p99Ms: stats.p99Ms,
          maxMs: stats.maxMs,
          unobserved: stats.unobserved,
          definition: 'per record: start of the first ClickHouse poll whose interval_raw parts hold its (partition, offset), minus the moment the producer handed its message to librdkafka (= its Kafka timestamp); polls every pollMs',
          peakRssBytes: run.peakRssBytes,
        };
        if (run.error) result.errors.push(`latency: ${run.error}`);
        log(`  latency at ${fmt(rate)} records/s: p50 ${stats.p50Ms.toFixed(0)} ms, p99 ${stats.p99Ms.toFixed(0)} ms, max ${stats.maxMs.toFixed(0)} ms`);
      });
    }

    // ---- memory with many concurrently active sessions
    if (has('memory')) {
      await phase('memory', async () => {
        const set = await makeSet('mem', 1, syntheticSessions(options.sessions, options.intervalsPerSession, options.seed), 'synthetic');
        set.sessions = options.sessions;
        const { run, child } = await runPipeline(ctx, set, { label: 'memory', workers: wHead, store: 'embedded', expect: set.records, readBack: true });
        result.machine.clickhouseEmbedded ||= child.clickhouseVersion;
        result.memory = {
          sessions: options.sessions,
          records: run.records,
          intervalsPerSession: options.intervalsPerSession,
          recordsPerS: run.recordsPerS,
          peakRssBytes: run.peakRssBytes,
          afterReadRssBytes: child.afterReadRssBytes ?? 0,
          readSeconds: child.readSeconds ?? 0,
          distinctSessions: child.distinctSessions,
          verified: run.verified && child.distinctSessions === options.sessions,
        };
        if (run.error) result.errors.push(`memory: ${run.error}`);
        log(`  memory: ${options.sessions} sessions, peak RSS ${mib(run.peakRssBytes)} (after reading them back: ${mib(child.afterReadRssBytes ?? 0)})`);
      });
    }

    // ---- the peer (bench/peer, issue 8): ClickHouse's Kafka engine and our pipeline on the same topic,
    // plus its exactness runs under faults; kcat is measured here already.
    if (has('peer') && sets.get(rpm0)) {
      await phase('peer', async () => {
        const set = sets.get(rpm0)!;
        const { runPeerBench } = await import('../peer/index.js');
        const r = await runPeerBench({
          brokers: options.brokers, partitions: set.partitions, recordsPerMessage: set.recordsPerMessage,
          topic: set.interval, records: set.records, messages: set.messages, runId, ours: result.e2e?.recordsPerS ?? null,
          workDir: join(dir, 'peer'), kcat: false, timeoutMs: options.timeoutS * 1000, log: (line: string) => log(`  peer: ${line}`),
        });
        const peerFig = r.peer?.recordsPerSec;
        if (typeof peerFig !== 'number') throw new Error(`bench/peer measured no peer throughput (${r.peer?.reason ?? 'no result'})`);
        result.peer = { ...r, recordsPerS: peerFig };
        log(`  peer: ${fmt(peerFig)} records/s; ours in the peer's run: ${r.ours?.recordsPerSec ? fmt(r.ours.recordsPerSec) : '-'} records/s`);
      });
    }

    // ---- figures from elsewhere
    result.reconcile = readJson(join(packageRoot(), 'bench', 'results', 'reconcile.json'));
    result.micro = readJson(join(packageRoot(), 'bench', 'results', 'micro.json'));

    // ---- targets, and a profile where one is missed
    result.targets = evaluateTargets(result);
    const missed = result.targets.some((t) => !t.met);
    if (sets.get(rpm0) && (options.profile === 'always' || (options.profile === 'auto' && missed))) {
      await phase('profile', async () => {
        const set = sets.get(rpm0)!;
        const profDir = join(dir, 'profile');
        mkdirSync(profDir, { recursive: true });
        const { run, child } = await runPipeline(ctx, set, { label: `profile-r${rpm0}-w${wHead}`, workers: wHead, store: 'embedded', expect: set.records, profileDir: profDir });
        const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(profDir, f));
        // Only the measured window: startup (module loading, chDB's session) and the drain stay out.
        const toMono = (ms: number) => child.clock.monoUs + (ms - child.clock.epochMs) * 1000;
        const window = { fromUs: toMono(child.firstUnitMs), toUs: toMono(child.firstUnitMs + run.seconds * 1000) };
        result.profile = summarizeProfiles(`${run.label}, measured window only (${fmt(run.recordsPerS)} records/s under the profiler)`, files, 15, window);
        result.profile.windowMs = Math.round(run.seconds * 1000);
        if (options.outDir !== undefined) {
          // Keep the raw profiles beside the results (git ignores bench/results/*.cpuprofile);
          // Chrome DevTools opens them.
          const outDir = options.outDir;
          mkdirSync(outDir, { recursive: true });
          const kept = files.map((f) => `${runId}-${basename(f)}`);
          files.forEach((f, i) => copyFileSync(f, join(outDir, kept[i]!)));
          result.profile.files = kept.map((f) => join(relative(packageRoot(), outDir), f));
        }
      });
      result.targets = evaluateTargets(result);
    }
  } finally {
    if (!options.keepTopics) {
      const failed = await deleteTopics(options.brokers, created).catch((err: unknown) => [String(err)]);
      if (failed.length > 0) result.errors.push(`topic cleanup: ${failed.join('; ')}`);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  result.figures = collectFigures(result);
  result.finishedAt = new Date().toISOString();
  result.durationS = Math.round((performance.now() - t0) / 100) / 10;
  return result;
}

/** The three limits of one topic: node-rdkafka read, kcat read, then decode and write. */
async function stageLimits(
  ctx: RunContext, set: TopicSet, recordsPerUnit: number | undefined, store: StoreOptions,
  o: { compareText: boolean; concurrency: number[]; reads?: boolean },
): Promise<StageLimits> {
  const reads = o.reads ?? true;
  const { options } = ctx;
  const out: StageLimits = { recordsPerMessage: set.recordsPerMessage, kafkaRead: [], decode: undefined, clickhouseWrite: [] };
  const timeoutMs = options.timeoutS * 1000;
  if (reads) {
    const read = startChild<ReadLimit>(
      { kind: 'read-limit', brokers: options.brokers, topic: set.interval, partitions: set.partitions, messages: set.messages, consumeBatch: CONSUME_BATCH, minSeconds: options.limitSeconds },
      { timeoutMs, label: `read limit r${set.recordsPerMessage}` },
    );
    const r = await read.result;
    await read.exited;
    out.kafkaRead.push(r);
    ctx.log(`  read limit r${set.recordsPerMessage} (node-rdkafka): ${fmt(r.recordsPerS)} records/s, ${fmt(r.messagesPerS)} messages/s`);
    if (options.kcat && ctx.options.phases.has('limits')) {
      try {
        const k = await kcatReadLimit(options.brokers, set.interval, set.sessionEvent, set, options.limitSeconds);
        out.kafkaRead.push(k);
        ctx.log(`  read limit r${set.recordsPerMessage} (kcat): ${fmt(k.recordsPerS)} records/s`);
      } catch (err) {
        ctx.log(`  kcat skipped: ${(err as Error).message}`);
      }
    }
  }
  const rowsPerInsert = Math.min(MAX_ROWS_PER_INSERT, Math.max(1, Math.round(recordsPerUnit ?? unitMessages(CONSUME_BATCH, DEFAULTS.pipeline.maxUnitRecords, set.recordsPerMessage) * set.recordsPerMessage)));
  const job: StageLimitJob = {
    kind: 'stage-limits', brokers: options.brokers, topic: set.interval, partitions: set.partitions, messages: set.messages, records: set.records,
    consumeBatch: CONSUME_BATCH, rowsPerInsert, concurrency: o.concurrency, store, compareText: o.compareText, maxRows: WRITE_LIMIT_ROWS,
  };
  const limits = startChild<StageLimitsResult>(job, { timeoutMs, label: `stage limits r${set.recordsPerMessage}` });
  const s = await limits.result;
  await limits.exited;
  if (reads) out.decode = s.decode;
  if (store.kind === 'embedded') ctx.clickhouseVersion ||= s.clickhouseVersion;
  out.clickhouseWrite.push(...s.write);
  if (reads) ctx.log(`  decode limit r${set.recordsPerMessage} (1 thread): ${fmt(s.decode.recordsPerS)} records/s`);
  for (const w of s.write) ctx.log(`  write limit r${set.recordsPerMessage} (${w.store}, ${w.path}, ${w.concurrency} at once, ${w.rowsPerInsert} rows/insert): ${fmt(w.rowsPerS)} rows/s${w.verified ? '' : ' NOT VERIFIED'}`);
  return out;
}

function readJson(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(0)} MiB`;
}
