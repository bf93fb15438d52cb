/**
 * The ingest service as the fault runs see it: a child process running the compiled CLI
 * (`node dist/cli.js ingest ...`), which can be killed at any moment and started again on
 * the same data folder and consumer group. A process of its own is the only honest way to crash
 * it (SIGKILL leaves no chance to clean up), and chDB allows one data folder per process, so the
 * runner opens the store itself only while no child runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { packageRoot } from '../../schemas/index.js';
import type { TopicSet } from './kafka.js';

/** The CLI the children run: PEVMETER_CLI when set, otherwise the compiled one in dist/. */
export function ingestCli(): string {
  const fromEnv = process.env['PEVMETER_CLI'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const cli = join(packageRoot(), 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (the fault runs use the compiled CLI)`);
  return cli;
}

export interface IngestConfigOptions {
  topics: TopicSet;
  consumeBatch?: number;
  maxInflightUnits?: number;
  retryInitialMs?: number;
  retryMaxMs?: number;
  shutdownTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** librdkafka settings passed through. */
  rdkafka?: Record<string, string | number | boolean>;
}

/** Writes the YAML config file a child reads with --config (topics and tuning; the rest are flags). */
export function writeIngestConfig(path: string, o: IngestConfigOptions): string {
  const pipeline: Record<string, number> = {};
  if (o.maxInflightUnits !== undefined) pipeline['maxInflightUnits'] = o.maxInflightUnits;
  if (o.retryInitialMs !== undefined) pipeline['retryInitialMs'] = o.retryInitialMs;
  if (o.retryMaxMs !== undefined) pipeline['retryMaxMs'] = o.retryMaxMs;
  if (o.shutdownTimeoutMs !== undefined) pipeline['shutdownTimeoutMs'] = o.shutdownTimeoutMs;
  const doc: Record<string, unknown> = {
    kafka: {
      topics: { interval: o.topics.interval, sessionEvent: o.topics.sessionEvent, vehicleReport: o.topics.vehicleReport, enrollment: o.topics.enrollment },
      dlqTopic: o.topics.dlq,
      ...(o.consumeBatch !== undefined ? { consumeBatch: o.consumeBatch } : {}),
      ...(o.rdkafka !== undefined ? { rdkafka: o.rdkafka } : {}),
    },
  };
  if (Object.keys(pipeline).length > 0) doc['pipeline'] = pipeline;
  if (o.requestTimeoutMs !== undefined) doc['store'] = { requestTimeoutMs: o.requestTimeoutMs };
  writeFileSync(path, stringify(doc));
  return path;
}

export interface IngestProcessOptions {
  brokers: string;
  group: string;
  configFile: string;
  /** Embedded store folder (chDB); ignored when clickhouseUrl is set. */
  dataDir?: string;
  clickhouseUrl?: string;
  clickhouseUser?: string;
  /** Passed as PEVMETER_CLICKHOUSE_PASSWORD, never on the command line. */
  clickhousePassword?: string;
  /** Exit by itself once drained and idle this long; absent: run until signalled. */
  untilIdleMs?: number;
  logLevel?: string;
  workers?: number;
  /** stdout and stderr are appended here. */
  logFile: string;
  env?: Record<string, string>;
  /** Sample the child's resident memory this often (ms); 0 = never. */
  rssEveryMs?: number;
  /** Serve /metrics on this loopback port (default 0: off). */
  httpPort?: number;
  /** ClickHouse database (default pevmeter). */
  database?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Milliseconds from spawn to exit. */
  ms: number;
}

/** Resident set size of a process in KiB (Linux /proc), or undefined once it is gone. */
export function rssKb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] !== undefined ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export class IngestProcess {
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  readonly startedAt = Date.now();
  /** Largest RSS sampled (KiB) and every sample as [ms since start, KiB]. */
  rssPeakKb = 0;
  readonly rssSamples: [number, number][] = [];
  private exit: ExitInfo | undefined;
  private readonly child: ChildProcess;
  private sampler: NodeJS.Timeout | undefined;

  private constructor(o: IngestProcessOptions) {
    const args = [ingestCli(), 'ingest', '--brokers', o.brokers, '--group', o.group, '--config', o.configFile, '--http-port', String(o.httpPort ?? 0), '--log-level', o.logLevel ?? 'warn'];
    if (o.database !== undefined) args.push('--database', o.database);
    if (o.clickhouseUrl !== undefined) {
      args.push('--clickhouse-url', o.clickhouseUrl);
      if (o.clickhouseUser !== undefined) args.push('--clickhouse-user', o.clickhouseUser);
    } else if (o.dataDir !== undefined) {
      args.push('--data', o.dataDir);
    }
    if (o.untilIdleMs !== undefined) args.push('--until-idle', String(o.untilIdleMs));
    if (o.workers !== undefined) args.push('--workers', String(o.workers));
    const fd = openSync(o.logFile, 'a');
    const env: NodeJS.ProcessEnv = { ...process.env, ...(o.env ?? {}) };
    // The children take everything from flags and the config file, nothing from a stray environment.
    for (const k of Object.keys(env)) if (k.startsWith('PEVMETER_') && k !== 'PEVMETER_CLI' && !(o.env && k in o.env)) delete env[k];
    if (o.clickhousePassword !== undefined) env['PEVMETER_CLICKHOUSE_PASSWORD'] = o.clickhousePassword;
    try {
      this.child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd], env });
    } finally {
      closeSync(fd);
    }
    if (this.child.pid === undefined) throw new Error('ingest child did not start');
    this.pid = this.child.pid;
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.child.once('exit', (code, signal) => {
        if (this.sampler) clearInterval(this.sampler);
        this.exit = { code, signal, ms: Date.now() - this.startedAt };
        resolve(this.exit);
      });
    });
    const every = o.rssEveryMs ?? 250;
    if (every > 0) {
      this.sampler = setInterval(() => {
        const kb = rssKb(this.pid);
        if (kb === undefined) return;
        this.rssSamples.push([Date.now() - this.startedAt, kb]);
        if (kb > this.rssPeakKb) this.rssPeakKb = kb;
      }, every);
      this.sampler.unref();
    }
  }

  static start(o: IngestProcessOptions): IngestProcess {
    return new IngestProcess(o);
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  get exitInfo(): ExitInfo | undefined {
    return this.exit;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Waits for the exit; SIGKILLs the child and throws once `timeoutMs` passes. */
  async wait(timeoutMs: number, what = 'ingest child'): Promise<ExitInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.kill('SIGKILL');
        reject(new Error(`${what} (pid ${this.pid}) did not exit within ${timeoutMs} ms; killed`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The last `lines` lines of a log file, for failure messages; a line that only repeats the one
 * before it but for its time (librdkafka says "all broker connections are down" every few ms
 * while a broker is away) is counted, not repeated.
 */
export function tail(path: string, lines = 30): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return '';
  }
  const out: string[] = [];
  let last = '';
  let repeats = 0;
  for (const line of text.trimEnd().split('\n')) {
    const key = line.replace(/"time":\d+,?/, '');
    if (key === last) {
      repeats++;
      continue;
    }
    if (repeats > 0) out.push(`  (repeated ${repeats} more times)`);
    out.push(line);
    last = key;
    repeats = 0;
  }
  if (repeats > 0) out.push(`  (repeated ${repeats} more times)`);
  return out.slice(-lines).join('\n');
}

/**
 * The child's Prometheus metrics as `name{labels}` -> value (labels as printed), or undefined when
 * the endpoint does not answer (the child is starting, stopping or gone).
 */
export async function scrapeMetrics(port: number): Promise<Map<string, number> | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return undefined;
    const out = new Map<string, number>();
    for (const line of (await res.text()).split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const cut = line.lastIndexOf(' ');
      out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
    }
    return out;
  } catch {
    return undefined;
  }
}
