/**
 * Options of the benchmark harness: validated once into one typed object, from command-line flags
 * (`node dist/bench/harness/main.js --records 2000000 ...`) or from code (the smoke test).
 * Unknown options are rejected and every error names the option.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { ConfigError } from '../../schemas/errors.js';
import { packageRoot } from '../../schemas/index.js';

export const PHASES = ['e2e', 'scaling', 'limits', 'server', 'latency', 'memory', 'peer'] as const;
export type Phase = (typeof PHASES)[number];

export interface BenchOptions {
  /** Interval records per pre-produced topic. */
  records: number;
  partitions: number;
  /** Records per Kafka message; the first is the headline setting. */
  recordsPerMessage: number[];
  /** Worker threads for the scaling runs; the last is the headline setting. */
  workers: number[];
  phases: Set<Phase>;
  brokers: string;
  /** A ClickHouse server (credentials in the URL allowed): adds the `server` phase. */
  clickhouseUrl: string | undefined;
  /** Offered load of the latency run, as a share of the measured maximum. */
  latencyLoad: number;
  /** Offered load in records/s; overrides latencyLoad (when no maximum is measured in this run). */
  latencyRate: number | undefined;
  latencySeconds: number;
  latencyPollMs: number;
  /** Concurrently active sessions of the memory run, and intervals each. */
  sessions: number;
  intervalsPerSession: number;
  /** Profile the pipeline with --cpu-prof: when a target is missed, always, or never. */
  profile: 'auto' | 'always' | 'never';
  kcat: boolean;
  /** Read limits re-read the topic until at least this many seconds were timed (small topics). */
  limitSeconds: number;
  keepTopics: boolean;
  /** Where JSON, markdown and SVG go; undefined writes nothing (tests). */
  outDir: string | undefined;
  /** Where chDB folders and profiles of this run go (removed afterwards unless keepTopics). */
  workDir: string;
  seed: string;
  /** Per child process. */
  timeoutS: number;
  quiet: boolean;
  /** Write latest.* even when the machine was busy (the run's own files are always written, marked). */
  allowBusy: boolean;
  /**
   * Extra pipeline config flags (dotted paths, as `loadConfig` flags) for every pipeline run: the
   * way to try a setting without changing code, e.g. kafka.rdkafka.enable.partition.eof=true.
   */
  pipelineFlags: Record<string, string | number | boolean>;
}

export type BenchOptionsInput = Partial<Omit<BenchOptions, 'phases'>> & { phases?: Iterable<Phase> };

const KNOWN = new Set([
  'records', 'partitions', 'recordsPerMessage', 'workers', 'phases', 'brokers', 'clickhouseUrl', 'latencyLoad',
  'latencyRate', 'latencySeconds', 'latencyPollMs', 'sessions', 'intervalsPerSession', 'profile', 'kcat',
  'keepTopics', 'outDir', 'workDir', 'seed', 'timeoutS', 'quiet', 'pipelineFlags', 'limitSeconds', 'allowBusy',
]);

function int(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`bench option ${name}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

function ints(name: string, v: unknown, min: number, max: number): number[] {
  if (!Array.isArray(v) || v.length === 0) throw new ConfigError(`bench option ${name}: expected a non-empty list of integers`);
  const out = v.map((x, i) => int(`${name}[${i}]`, x, min, max));
  return [...new Set(out)];
}

export function resolveBenchOptions(input: BenchOptionsInput = {}): BenchOptions {
  for (const key of Object.keys(input)) {
    if (!KNOWN.has(key)) throw new ConfigError(`bench option "${key}" is unknown; known: ${[...KNOWN].join(', ')}`);
  }
  const phases = new Set<Phase>(input.phases ?? ['e2e', 'scaling', 'limits', 'server', 'latency', 'memory', 'peer']);
  for (const p of phases) if (!(PHASES as readonly string[]).includes(p)) throw new ConfigError(`bench option phases: "${p}" is not one of ${PHASES.join(', ')}`);
  const load = input.latencyLoad ?? 0.5;
  if (!(load > 0 && load <= 1)) throw new ConfigError(`bench option latencyLoad: expected a share in (0, 1], got ${load}`);
  const rate = input.latencyRate;
  if (rate !== undefined) int('latencyRate', rate, 1, 10_000_000);
  const profile = input.profile ?? 'auto';
  if (!['auto', 'always', 'never'].includes(profile)) throw new ConfigError(`bench option profile: expected auto, always or never, got ${JSON.stringify(profile)}`);
  const brokers = input.brokers ?? process.env['KAFKA_BROKERS'] ?? '127.0.0.1:19092';
  if (brokers === '') throw new ConfigError('bench option brokers: expected host:port[,host:port...]');
  const url = input.clickhouseUrl ?? (process.env['CLICKHOUSE_URL'] || undefined);
  if (url !== undefined) {
    try {
      new URL(url);
    } catch {
      throw new ConfigError('bench option clickhouseUrl: not a URL');
    }
  }
  return {
    records: int('records', input.records ?? 2_000_000, 100, 100_000_000),
    partitions: int('partitions', input.partitions ?? 4, 1, 256),
    recordsPerMessage: ints('recordsPerMessage', input.recordsPerMessage ?? [1, 16, 64], 1, 4096),
    workers: ints('workers', input.workers ?? [1, 2], 1, 64),
    phases,
    brokers,
    clickhouseUrl: url,
    latencyLoad: load,
    latencyRate: rate,
    latencySeconds: int('latencySeconds', input.latencySeconds ?? 20, 1, 3600),
    latencyPollMs: int('latencyPollMs', input.latencyPollMs ?? 100, 5, 10_000),
    sessions: int('sessions', input.sessions ?? 100_000, 1, 4_000_000),
    intervalsPerSession: int('intervalsPerSession', input.intervalsPerSession ?? 5, 1, 10_000),
    profile,
    kcat: input.kcat ?? true,
    limitSeconds: int('limitSeconds', input.limitSeconds ?? 2, 0, 600),
    keepTopics: input.keepTopics ?? false,
    outDir: 'outDir' in input ? input.outDir : join(packageRoot(), 'bench', 'results'),
    workDir: input.workDir ?? join(packageRoot(), '.data', 'bench'),
    seed: input.seed ?? 'bench',
    timeoutS: int('timeoutS', input.timeoutS ?? 900, 10, 86_400),
    quiet: input.quiet ?? false,
    allowBusy: input.allowBusy ?? false,
    pipelineFlags: { ...(input.pipelineFlags ?? {}) },
  };
}

/** `path=value` from the command line: true/false and numbers are typed, anything else is a string. */
export function parseFlag(text: string): [string, string | number | boolean] {
  const i = text.indexOf('=');
  if (i <= 0) throw new ConfigError(`--set ${JSON.stringify(text)}: expected path=value, e.g. kafka.rdkafka.enable.partition.eof=true`);
  const key = text.slice(0, i).trim();
  const raw = text.slice(i + 1).trim();
  if (raw === 'true' || raw === 'false') return [key, raw === 'true'];
  const n = Number(raw);
  return [key, raw !== '' && Number.isFinite(n) ? n : raw];
}

const HELP = `pevmeter benchmark harness

  node dist/bench/harness/main.js [options]

  --records N            interval records per topic (default 2000000)
  --partitions P         partitions per topic (default 4)
  --rpm 1,16,64          records per Kafka message; the first is the headline setting
  --workers 1,2          decode worker threads of the scaling runs; the last is the headline setting
  --only PHASES          comma-separated: ${PHASES.join(', ')} (default: all)
  --brokers HOST:PORT    Kafka bootstrap servers (default $KAFKA_BROKERS or 127.0.0.1:19092)
  --clickhouse-url URL   also run against this ClickHouse server (default $CLICKHOUSE_URL)
  --latency-load SHARE   offered load of the latency run, share of the measured maximum (0.5)
  --latency-rate R       offered load in records/s (instead of a share of a measured maximum)
  --latency-seconds S    length of the latency run (20)
  --latency-poll-ms MS   how often the latency poller queries ClickHouse (100)
  --sessions N           concurrently active sessions of the memory run (100000)
  --intervals K          intervals per session in the memory run (5)
  --profile MODE         auto (when a target is missed), always, never (default auto)
  --no-kcat              skip the kcat read limit
  --limit-seconds S      read limits re-read a topic until S seconds were timed (2)
  --keep                 keep topics and chDB folders
  --out DIR              results folder (default bench/results)
  --seed TEXT            simulator seed (bench)
  --timeout S            limit per child process (900)
  --quiet                less progress output
  --allow-busy           write latest.* even if other work shared the machine (by default a busy run
                         writes only its own <run>.json, marked not publishable)
  --set PATH=VALUE       a pipeline config flag for every pipeline run (repeatable), e.g.
                         --set kafka.rdkafka.enable.partition.eof=true --set pipeline.maxInflightUnits=4
`;

/** Parses command-line flags; returns undefined after printing help. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions | undefined {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      records: { type: 'string' },
      partitions: { type: 'string' },
      rpm: { type: 'string' },
      workers: { type: 'string' },
      only: { type: 'string' },
      brokers: { type: 'string' },
      'clickhouse-url': { type: 'string' },
      'latency-load': { type: 'string' },
      'latency-rate': { type: 'string' },
      'latency-seconds': { type: 'string' },
      'latency-poll-ms': { type: 'string' },
      sessions: { type: 'string' },
      intervals: { type: 'string' },
      profile: { type: 'string' },
      'no-kcat': { type: 'boolean' },
      'limit-seconds': { type: 'string' },
      keep: { type: 'boolean' },
      out: { type: 'string' },
      seed: { type: 'string' },
      timeout: { type: 'string' },
      quiet: { type: 'boolean' },
      'allow-busy': { type: 'boolean' },
      set: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return undefined;
  }
  const num = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v.replaceAll('_', ''));
    if (!Number.isFinite(n)) throw new ConfigError(`--${name}: expected a number, got ${JSON.stringify(v)}`);
    return n;
  };
  const list = (name: string, v: string | undefined): number[] | undefined => (v === undefined ? undefined : v.split(',').map((x) => num(name, x.trim())!));
  const input: BenchOptionsInput = {};
  const set = <K extends keyof BenchOptionsInput>(k: K, v: BenchOptionsInput[K] | undefined): void => {
    if (v !== undefined) input[k] = v;
  };
  set('records', num('records', values.records));
  set('partitions', num('partitions', values.partitions));
  set('recordsPerMessage', list('rpm', values.rpm));
  set('workers', list('workers', values.workers));
  if (values.only !== undefined) input.phases = values.only.split(',').map((s) => s.trim()) as Phase[];
  set('brokers', values.brokers);
  set('clickhouseUrl', values['clickhouse-url']);
  set('latencyLoad', num('latency-load', values['latency-load']));
  set('latencyRate', num('latency-rate', values['latency-rate']));
  set('latencySeconds', num('latency-seconds', values['latency-seconds']));
  set('latencyPollMs', num('latency-poll-ms', values['latency-poll-ms']));
  set('sessions', num('sessions', values.sessions));
  set('intervalsPerSession', num('intervals', values.intervals));
  if (values.profile !== undefined) input.profile = values.profile as BenchOptions['profile'];
  if (values['no-kcat']) input.kcat = false;
  set('limitSeconds', num('limit-seconds', values['limit-seconds']));
  if (values.keep) input.keepTopics = true;
  set('outDir', values.out);
  set('seed', values.seed);
  set('timeoutS', num('timeout', values.timeout));
  if (values.quiet) input.quiet = true;
  if (values['allow-busy']) input.allowBusy = true;
  if (values.set) input.pipelineFlags = Object.fromEntries(values.set.map(parseFlag));
  return resolveBenchOptions(input);
}
