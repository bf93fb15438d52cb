/**
 * Options of the soak (`npm run bench:soak -- --help`): validated once, every error names its flag.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../schemas/errors.js';
import { packageRoot } from '../../schemas/index.js';
import { DEFAULT_BOUNDS, type SoakBounds } from './criteria.js';
import { parseFlag } from '../harness/options.js';
import type { TruthSource } from '../sim/truth.js';

export interface SoakOptions {
  brokers: string;
  /** Length of the load phase. */
  minutes: number;
  /** Offered load in records/s; undefined: `load` times the maximum measured by a burst first. */
  rate: number | undefined;
  load: number;
  /** Records of the burst that measures the maximum. */
  burstRecords: number;
  partitions: number;
  workers: number;
  recordsPerMessage: number;
  /** Seconds between samples. */
  sampleS: number;
  /** How often the pipeline's poller looks for newly visible rows. */
  pollMs: number;
  /** Seconds of load per simulated fleet (the truth is whole per fleet). */
  chunkS: number;
  /** After the load: how long the pipeline may take to reach lag 0. */
  drainTimeoutS: number;
  /** Check the truth per minute too: 'auto' when the run holds at most 2,000,000 records. */
  truthMinutes: boolean | 'auto';
  truthSource: TruthSource;
  bounds: SoakBounds;
  seed: string;
  /** Where soak.json / soak.svg (or soak-<run>.*) go; undefined writes nothing (tests). */
  outDir: string | undefined;
  /** chDB folders of the run (removed afterwards unless keep). */
  workDir: string;
  keep: boolean;
  allowBusy: boolean;
  /** Extra pipeline config flags (dotted paths). */
  pipelineFlags: Record<string, string | number | boolean>;
  log: (line: string) => void;
}

export type SoakOptionsInput = Partial<Omit<SoakOptions, 'bounds'>> & { bounds?: Partial<SoakBounds> };

function num(name: string, v: unknown, min: number, max: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new ConfigError(`soak option ${name}: expected ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

export function resolveSoakOptions(i: SoakOptionsInput = {}): SoakOptions {
  const brokers = i.brokers ?? process.env['KAFKA_BROKERS'] ?? '127.0.0.1:19092';
  if (brokers === '') throw new ConfigError('soak option brokers: expected host:port[,host:port...]');
  const source = i.truthSource ?? 'aggregates';
  if (!['aggregates', 'views', 'raw-dedup'].includes(source)) throw new ConfigError(`soak option truthSource: expected aggregates, views or raw-dedup, got ${JSON.stringify(source)}`);
  const b = { ...DEFAULT_BOUNDS, ...(i.bounds ?? {}) };
  return {
    brokers,
    minutes: num('minutes', i.minutes ?? 30, 0.1, 24 * 60),
    rate: i.rate === undefined ? undefined : num('rate', i.rate, 1, 10_000_000, true),
    load: num('load', i.load ?? 0.5, 0.01, 1),
    burstRecords: num('burstRecords', i.burstRecords ?? 500_000, 1_000, 100_000_000, true),
    partitions: num('partitions', i.partitions ?? 4, 1, 256, true),
    workers: num('workers', i.workers ?? 2, 1, 64, true),
    recordsPerMessage: num('recordsPerMessage', i.recordsPerMessage ?? 1, 1, 4096, true),
    sampleS: num('sampleS', i.sampleS ?? 10, 0.5, 3600),
    pollMs: num('pollMs', i.pollMs ?? 100, 5, 10_000, true),
    chunkS: num('chunkS', i.chunkS ?? 60, 1, 3600),
    drainTimeoutS: num('drainTimeoutS', i.drainTimeoutS ?? 300, 5, 3600),
    truthMinutes: i.truthMinutes ?? 'auto',
    truthSource: source,
    bounds: {
      rssMiBPerHour: num('bounds.rssMiBPerHour', b.rssMiBPerHour, 0, 1e9),
      p99MsPerHour: num('bounds.p99MsPerHour', b.p99MsPerHour, 0, 1e9),
      minTrendSamples: num('bounds.minTrendSamples', b.minTrendSamples, 2, 1e6, true),
      p99TargetMs: num('bounds.p99TargetMs', b.p99TargetMs, 0, 1e9),
    },
    seed: i.seed ?? 'soak',
    outDir: 'outDir' in i ? i.outDir : join(packageRoot(), 'bench', 'results'),
    workDir: i.workDir ?? join(packageRoot(), '.data', 'bench'),
    keep: i.keep ?? false,
    allowBusy: i.allowBusy ?? false,
    pipelineFlags: { ...(i.pipelineFlags ?? {}) },
    log: i.log ?? ((line) => process.stderr.write(`${line}\n`)),
  };
}

const HELP = `pevmeter soak: the ingest service under a steady load for a long time

  npm run bench:soak [-- options]

  --minutes M            length of the load phase (default 30)
  --rate N               offered load in records/s (default: --load times a maximum measured first)
  --load SHARE           share of the measured maximum (default 0.5)
  --burst-records N      records of the burst that measures the maximum (default 500000)
  --partitions P         partitions of the topics (default 4)
  --workers W            decode worker threads (default 2)
  --rpm N                records per Kafka message (default 1)
  --sample-s S           seconds between samples (default 10)
  --poll-ms MS           how often the pipeline's poller looks for newly visible rows (default 100)
  --chunk-s S            seconds of load per simulated fleet (default 60)
  --drain-timeout-s S    after the load, how long the pipeline may take to reach lag 0 (default 300)
  --truth-minutes on|off|auto   compare per-minute sums with the truth too (auto: runs of up to 2,000,000 records)
  --truth-source S       aggregates (default), views or raw-dedup
  --max-rss-slope MIB    bound on the RSS trend, MiB per hour (default ${DEFAULT_BOUNDS.rssMiBPerHour})
  --max-p99-slope MS     bound on the p99 trend, ms per hour (default ${DEFAULT_BOUNDS.p99MsPerHour})
  --brokers HOST:PORT    Kafka bootstrap servers (default $KAFKA_BROKERS or 127.0.0.1:19092)
  --seed TEXT            simulator seed (soak)
  --out DIR              results folder (default bench/results)
  --keep                 keep the topics and the chDB folder (.data/bench/<run>)
  --allow-busy           write soak.json / soak.svg even if other work shared the machine
  --set PATH=VALUE       a pipeline config flag (repeatable)
`;

/** Parses command-line flags; undefined after printing help. */
export function parseSoakArgs(argv: readonly string[]): SoakOptions | undefined {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      minutes: { type: 'string' }, rate: { type: 'string' }, load: { type: 'string' }, 'burst-records': { type: 'string' },
      partitions: { type: 'string' }, workers: { type: 'string' }, rpm: { type: 'string' }, 'sample-s': { type: 'string' },
      'poll-ms': { type: 'string' }, 'chunk-s': { type: 'string' }, 'drain-timeout-s': { type: 'string' }, 'truth-minutes': { type: 'string' },
      'truth-source': { type: 'string' }, 'max-rss-slope': { type: 'string' }, 'max-p99-slope': { type: 'string' }, brokers: { type: 'string' },
      seed: { type: 'string' }, out: { type: 'string' }, keep: { type: 'boolean' }, 'allow-busy': { type: 'boolean' },
      set: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return undefined;
  }
  const n = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const x = Number(v.replaceAll('_', ''));
    if (v.trim() === '' || !Number.isFinite(x)) throw new ConfigError(`--${name}: expected a number, got ${JSON.stringify(v)}`);
    return x;
  };
  const i: SoakOptionsInput = {};
  const set = <K extends keyof SoakOptionsInput>(k: K, v: SoakOptionsInput[K] | undefined): void => {
    if (v !== undefined) i[k] = v;
  };
  set('minutes', n('minutes', values.minutes));
  set('rate', n('rate', values.rate));
  set('load', n('load', values.load));
  set('burstRecords', n('burst-records', values['burst-records']));
  set('partitions', n('partitions', values.partitions));
  set('workers', n('workers', values.workers));
  set('recordsPerMessage', n('rpm', values.rpm));
  set('sampleS', n('sample-s', values['sample-s']));
  set('pollMs', n('poll-ms', values['poll-ms']));
  set('chunkS', n('chunk-s', values['chunk-s']));
  set('drainTimeoutS', n('drain-timeout-s', values['drain-timeout-s']));
  const tm = values['truth-minutes'];
  if (tm !== undefined) {
    if (!['on', 'off', 'auto'].includes(tm)) throw new ConfigError(`--truth-minutes: expected on, off or auto, got ${JSON.stringify(tm)}`);
    i.truthMinutes = tm === 'auto' ? 'auto' : tm === 'on';
  }
  if (values['truth-source'] !== undefined) i.truthSource = values['truth-source'] as TruthSource;
  const bounds: Partial<SoakBounds> = {};
  const rs = n('max-rss-slope', values['max-rss-slope']);
  if (rs !== undefined) bounds.rssMiBPerHour = rs;
  const ps = n('max-p99-slope', values['max-p99-slope']);
  if (ps !== undefined) bounds.p99MsPerHour = ps;
  i.bounds = bounds;
  set('brokers', values.brokers);
  set('seed', values.seed);
  set('outDir', values.out);
  if (values.keep) i.keep = true;
  if (values['allow-busy']) i.allowBusy = true;
  if (values.set) i.pipelineFlags = Object.fromEntries(values.set.map(parseFlag));
  return resolveSoakOptions(i);
}
