/**
 * One end-to-end run: the pipeline in a child process against a pre-produced topic set, watched
 * from here until every record is a row in interval_raw, then stopped and verified.
 *
 * What the figures cover:
 *   start  min(ingested_ms) of interval_raw: the clock reading of the first unit of work, taken
 *          right after its consume call returned (group join and startup are outside);
 *   end    the first /metrics scrape (every 20 ms once 85% of the rows are in, 250 ms before)
 *          showing pevmeter_rows_written_total for interval_raw at the number of records
 *          produced: every row inserted, so queryable;
 *   CPU    the child's process.cpuUsage() (all its threads: main, decode workers, librdkafka,
 *          chDB) interpolated at start and end from its own 50 ms samples.
 */
import { join } from 'node:path';
import type { BenchOptions } from './options.js';
import { benchError, startChild } from './spawn.js';
import { cpuSecondsAt } from './sampler.js';
import { metricValue, procCpuSeconds, scrape } from './watch.js';
import type { PipelineJob } from './protocol.js';
import type { PipelineChildResult, PipelineRun, TopicSet } from './types.js';

export interface RunContext {
  options: BenchOptions;
  runId: string;
  /** Folder for this run's chDB folders and profiles. */
  dir: string;
  brokerPid: number | undefined;
  log: (line: string) => void;
  /** chDB's version, once a child has asked it. */
  clickhouseVersion?: string;
}

export interface PipelineRunOptions {
  label: string;
  workers: number;
  store: 'embedded' | 'http';
  /** Records expected in interval_raw when the run is complete. */
  expect: number;
  pollMs?: number;
  readBack?: boolean;
  profileDir?: string;
  /** Runs once the pipeline is up (the latency producer); the watch goes on meanwhile. */
  during?: (watch: RowWatch) => Promise<void>;
}

export interface RowWatch {
  /** Rows of interval_raw written so far, as of the last scrape. */
  rows(): number;
  /** Resolves with the scrape time at which rows reached `n`. */
  whenRows(n: number): Promise<number>;
}

/** The child samples its own CPU and RSS this often. */
const SAMPLE_MS = 50;
/**
 * Scrape period: rendering /metrics (prom-client with default metrics) costs the pipeline's main
 * thread about a millisecond, so scrape rarely while far from done and often near the end, where
 * the period is the resolution of the end time.
 */
const SCRAPE_FAR_MS = 250;
const SCRAPE_NEAR_MS = 20;
/** No new row for this long after rows started to arrive: the run is stuck, stop it. */
const STALL_MS = 30_000;

export function storeFlags(ctx: RunContext, kind: 'embedded' | 'http', label: string): Record<string, string | number | boolean> {
  if (kind === 'embedded') return { 'store.kind': 'embedded', 'store.path': join(ctx.dir, `chdb-${label}`), 'store.database': 'pevmeter' };
  const u = new URL(ctx.options.clickhouseUrl!);
  const flags: Record<string, string | number | boolean> = {
    'store.kind': 'http',
    'store.database': `bench_${ctx.runId.replace(/[^A-Za-z0-9_]/g, '_')}_${label.replace(/[^A-Za-z0-9_]/g, '_')}`.slice(0, 63),
    'store.username': decodeURIComponent(u.username) || process.env['CLICKHOUSE_USER'] || 'default',
    'store.password': decodeURIComponent(u.password) || process.env['CLICKHOUSE_PASSWORD'] || '',
  };
  u.username = '';
  u.password = '';
  flags['store.url'] = u.toString();
  return flags;
}

/** The pipeline's config flags for a run on `set`: its topics, its own group, the store, the extra flags. */
export function pipelineFlags(ctx: RunContext, set: TopicSet, label: string, workers: number, store: 'embedded' | 'http'): Record<string, string | number | boolean> {
  return {
    'kafka.brokers': ctx.options.brokers,
    'kafka.groupId': `bench-${ctx.runId}-${label}`,
    'kafka.topics.interval': set.interval,
    'kafka.topics.sessionEvent': set.sessionEvent,
    'kafka.topics.vehicleReport': set.vehicleReport,
    'kafka.topics.enrollment': set.enrollment,
    'kafka.dlqTopic': set.dlq,
    'pipeline.workers': workers,
    'http.port': 0,
    'log.level': 'warn',
    ...storeFlags(ctx, store, label),
    ...ctx.options.pipelineFlags,
  };
}

export async function runPipeline(ctx: RunContext, set: TopicSet, o: PipelineRunOptions): Promise<{ run: PipelineRun; child: PipelineChildResult }> {
  const job: PipelineJob = {
    kind: 'pipeline',
    flags: pipelineFlags(ctx, set, o.label, o.workers, o.store),
    idleExitMs: STALL_MS * 2,
    sampleMs: SAMPLE_MS,
  };
  if (o.pollMs !== undefined) job.pollMs = o.pollMs;
  if (o.readBack) job.readBack = true;
  const execArgv = o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] : [];
  const started = Date.now();
  const child = startChild<PipelineChildResult>(job, { timeoutMs: ctx.options.timeoutS * 1000, execArgv, label: `pipeline ${o.label}` });

  let rows = 0;
  let lastText = '';
  let lastChange = Date.now();
  let sawRows = false;
  let endMs = 0;
  const broker: { t: number; cpu: number }[] = [];
  const waiters: { n: number; resolve: (t: number) => void }[] = [];
  const watch: RowWatch = {
    rows: () => rows,
    whenRows: (n) => (rows >= n ? Promise.resolve(Date.now()) : new Promise((resolve) => waiters.push({ n, resolve }))),
  };

  let done = false;
  const finished = child.result.finally(() => {
    done = true;
  });
  const ready = await Promise.race([child.event('ready'), finished.then(() => undefined)]);
  if (!ready) return { run: failedRun(o, set, 'the pipeline stopped before it was ready'), child: await finished };
  const port = Number(ready['port']);
  const during = o.during ? o.during(watch) : Promise.resolve();
  let duringError: unknown;
  during.catch((err: unknown) => {
    duringError = err;
  });

  while (!done) {
    const t = Date.now();
    try {
      const text = await scrape(port);
      lastText = text;
      const now = metricValue(text, 'pevmeter_rows_written_total', 'table="interval_raw"');
      if (now !== rows) {
        rows = now;
        lastChange = t;
        sawRows = true;
      }
    } catch {
      // The ops server closes while the child drains: the loop ends with the child.
    }
    if (ctx.brokerPid !== undefined) {
      const cpu = procCpuSeconds(ctx.brokerPid);
      if (cpu !== undefined) broker.push({ t, cpu });
    }
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (rows >= waiters[i]!.n) {
        waiters[i]!.resolve(t);
        waiters.splice(i, 1);
      }
    }
    if (rows >= o.expect && endMs === 0) {
      endMs = t;
      await during.catch(() => undefined);
      child.stop();
    } else if (endMs === 0 && sawRows && Date.now() - lastChange > STALL_MS) {
      ctx.log(`  ${o.label}: no progress for ${STALL_MS / 1000} s at ${rows} of ${o.expect} rows; stopping`);
      child.stop();
      break;
    } else if (duringError) {
      child.stop();
      break;
    }
    const near = rows >= 0.85 * o.expect || waiters.some((w) => rows >= 0.85 * w.n);
    await new Promise((r) => setTimeout(r, near ? SCRAPE_NEAR_MS : SCRAPE_FAR_MS));
  }
  const result = await finished;
  await child.exited;
  if (duringError) throw duringError instanceof Error ? duringError : benchError('the run alongside the pipeline failed');
  const wallSeconds = (Date.now() - started) / 1000;

  const startMs = result.firstUnitMs;
  const end = endMs || lastChange;
  const seconds = Math.max(1e-3, (end - startMs) / 1000);
  const cpu = cpuSecondsAt(result.samples, end) - cpuSecondsAt(result.samples, startMs);
  const records = result.intervalRows;
  const errors: string[] = [];
  if (result.intervalRows !== o.expect) errors.push(`interval_raw holds ${result.intervalRows} rows; ${o.expect} records were produced`);
  if (result.deadLetterRows !== 0) errors.push(`${result.deadLetterRows} dead letters`);
  if (result.summary.exitCode !== 0) errors.push(`service exit code ${result.summary.exitCode}`);
  if (result.summary.records !== o.expect) errors.push(`the service counted ${result.summary.records} records in committed units; ${o.expect} were produced`);
  const run: PipelineRun = {
    label: o.label,
    store: o.store,
    workers: o.workers,
    recordsPerMessage: set.recordsPerMessage,
    partitions: set.partitions,
    records,
    messages: set.messages,
    bytes: set.bytes,
    seconds,
    recordsPerS: records / seconds,
    messagesPerS: set.messages / seconds,
    mbPerS: set.bytes / 1e6 / seconds,
    cpuSecondsPerMillion: records > 0 ? (cpu / records) * 1e6 : 0,
    coresUsed: cpu / seconds,
    peakRssBytes: result.peakRssBytes,
    verified: errors.length === 0,
    intervalRows: result.intervalRows,
    deadLetterRows: result.deadLetterRows,
    countedRecords: result.summary.records,
    units: result.summary.units,
    recordsPerUnit: result.summary.units > 0 ? result.summary.records / result.summary.units : 0,
    wallSeconds,
  };
  if (lastText) {
    const v = (name: string, label?: string) => metricValue(lastText, name, label);
    run.stages = {
      decodeSum: v('pevmeter_decode_batch_seconds_sum'), decodeCount: v('pevmeter_decode_batch_seconds_count'),
      insertSum: v('pevmeter_insert_seconds_sum', 'table="interval_raw"'), insertCount: v('pevmeter_insert_seconds_count', 'table="interval_raw"'),
      unitSum: v('pevmeter_unit_seconds_sum'), unitCount: v('pevmeter_unit_seconds_count'),
    };
  }
  const b = brokerCores(broker, startMs, end);
  if (b !== undefined) run.brokerCoresUsed = b;
  if (errors.length > 0) run.error = errors.join('; ');
  return { run, child: result };
}

function brokerCores(samples: { t: number; cpu: number }[], from: number, to: number): number | undefined {
  const inside = samples.filter((s) => s.t >= from - SCRAPE_FAR_MS && s.t <= to + SCRAPE_FAR_MS);
  if (inside.length < 2) return undefined;
  const a = inside[0]!;
  const b = inside[inside.length - 1]!;
  return b.t > a.t ? (b.cpu - a.cpu) / ((b.t - a.t) / 1000) : undefined;
}

function failedRun(o: PipelineRunOptions, set: TopicSet, error: string): PipelineRun {
  return {
    label: o.label, store: o.store, workers: o.workers, recordsPerMessage: set.recordsPerMessage, partitions: set.partitions,
    records: 0, messages: set.messages, bytes: set.bytes, seconds: 0, recordsPerS: 0, messagesPerS: 0, mbPerS: 0,
    cpuSecondsPerMillion: 0, coresUsed: 0, peakRssBytes: 0, verified: false, intervalRows: 0, deadLetterRows: 0, countedRecords: 0, units: 0,
    recordsPerUnit: 0, wallSeconds: 0, error,
  };
}
