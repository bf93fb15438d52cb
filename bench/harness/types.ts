/**
 * Shapes of the benchmark's results: what a run writes to `bench/results/<run>.json` and
 * `latest.json`, and what child processes send back to the harness.
 *
 * Units are in the names: `*PerS` per second of wall time, `*Bytes` bytes, `*Ms` milliseconds,
 * `cpuSecondsPerMillion` CPU seconds (user + system, every thread of the measured process) per
 * million interval records.
 */
import type { ReadLimit } from '../measure/kcat.js';
import type { MachineInfo } from '../measure/machine.js';
import type { QuietVerdict } from '../measure/quiet.js';
import type { TopicSet as PipelineTopics } from '../chaos/kafka.js';

/** A topic set the harness produced: the interval topic is the one that carries the data. */
export interface TopicSet extends PipelineTopics {
  partitions: number;
  /** Records per Kafka message the data was packed with (the header `pev-records`). */
  recordsPerMessage: number;
  /** Interval records, messages and value bytes in the interval topic. */
  records: number;
  messages: number;
  bytes: number;
  /** Wall time of producing it, seconds (simulation included when streamed from the simulator; repacked sets reuse records simulated before). */
  produceSeconds: number;
  /** Which generator made it: the fleet simulator, or the synthetic many-sessions generator. */
  source: 'fleet' | 'synthetic';
  /** Distinct session IDs in the data, when the generator knows it. */
  sessions?: number;
}

/** One sample of a child process's own counters, taken on a timer inside it. */
export interface ProcessSample {
  /** Date.now() of the sample. */
  t: number;
  /** process.cpuUsage(): every thread of the process, microseconds. */
  userUs: number;
  systemUs: number;
  rssBytes: number;
}

/** What a pipeline child measured; the harness turns it into a PipelineRun. */
export interface PipelineChildResult {
  /** The service's own summary (committed units, records it counted). */
  summary: { units: number; committedUnits: number; messages: number; records: number; deadLetters: number; exitCode: number };
  /** min(ingested_ms) and max(ingested_ms) of interval_raw: when the first and last unit started. */
  firstUnitMs: number;
  lastUnitMs: number;
  /** Rows in interval_raw and dead_letter after the run (the verification). */
  intervalRows: number;
  deadLetterRows: number;
  distinctSessions: number;
  samples: ProcessSample[];
  /** process.resourceUsage().maxRSS at the end (VmHWM), bytes. */
  peakRssBytes: number;
  cpuTotalSeconds: number;
  clickhouseVersion: string;
  /** Visibility observations of the latency poller (only when it ran). */
  visibility?: VisibilityObservation[];
  /** Peak RSS including a read of every session's rollup and minutes (memory runs only). */
  afterReadRssBytes?: number;
  readSeconds?: number;
  /** One reading of the monotonic clock V8's profiler stamps samples with, and of Date.now(). */
  clock: { monoUs: number; epochMs: number };
}

/** Offsets of one Kafka partition that became queryable between two polls. */
export interface VisibilityObservation {
  /** Date.now() when the poll that first saw them started. */
  t: number;
  partition: number;
  /** Inclusive offset ranges. */
  ranges: [number, number][];
}

/** One end-to-end pipeline run against a pre-produced topic. */
export interface PipelineRun {
  label: string;
  store: 'embedded' | 'http';
  workers: number;
  recordsPerMessage: number;
  partitions: number;
  records: number;
  messages: number;
  bytes: number;
  /** From the first unit's start (min ingested_ms) to the poll that saw every row written. */
  seconds: number;
  recordsPerS: number;
  messagesPerS: number;
  mbPerS: number;
  cpuSecondsPerMillion: number;
  /** Share of the machine's cores the pipeline process used while measured (1.0 = one core). */
  coresUsed: number;
  peakRssBytes: number;
  /** Rows in interval_raw equal records produced, and nothing was dead-lettered. */
  verified: boolean;
  intervalRows: number;
  deadLetterRows: number;
  /** Records the service itself counted in the units it committed (its LoopSummary). */
  countedRecords: number;
  units: number;
  recordsPerUnit: number;
  /** Whole child lifetime (store open, migrations, group join, drain, exit). */
  wallSeconds: number;
  /** CPU of the Kafka broker process during the measured window, when its pid is known. */
  brokerCoresUsed?: number;
  /** The pipeline's own histograms at the end (sums in seconds, counts): where a unit's time went. */
  stages?: { decodeSum: number; decodeCount: number; insertSum: number; insertCount: number; unitSum: number; unitCount: number };
  error?: string;
}


export interface DecodeLimit {
  records: number;
  messages: number;
  /** decodeBatch alone, one thread, after a warm-up. */
  seconds: number;
  recordsPerS: number;
  mbPerS: number;
  /** Packing messages into transferable tasks (buildFramedTask), the main thread's share. */
  packRecordsPerS: number;
  /** What the interval rows were written as: the pipeline's own choice for the store measured. */
  output: 'columns' | 'text';
  cpuUsPerRecord: number;
  tasks: number;
}

export interface WriteLimit {
  store: 'embedded' | 'http';
  /** The store call timed: columns (chDB's Arrow input) or TabSeparated text. */
  path: 'store.insertIntervalColumns' | 'store.insertTsv';
  /** Whether the pipeline writes interval rows this way on this store (columns on chDB, text on a server). */
  pipeline: boolean;
  rows: number;
  bytes: number;
  rowsPerInsert: number;
  concurrency: number;
  seconds: number;
  rowsPerS: number;
  mbPerS: number;
  /** CPU of the inserting process per row (µs): for chDB this is the engine's parse and write. */
  cpuUsPerRecord: number;
  verified: boolean;
}

/** The limits of each stage on one topic (one records-per-message setting). */
export interface StageLimits {
  recordsPerMessage: number;
  kafkaRead: ReadLimit[];
  decode: DecodeLimit | undefined;
  clickhouseWrite: WriteLimit[];
}

export interface LatencyResult {
  store: 'embedded' | 'http';
  recordsPerMessage: number;
  offeredRecordsPerS: number;
  /** What the producer actually achieved (it is rate-limited, so at most the offered load). */
  producedRecordsPerS: number;
  loadShare: number;
  records: number;
  seconds: number;
  /**
   * CPU the load generator (the harness's own producer, on the same machine) used while producing,
   * in cores: on a 2-core machine it is a large share of what the pipeline and broker could use.
   */
  producerCores: number;
  pollMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Records whose visibility was never observed (should be 0). */
  unobserved: number;
  definition: string;
  peakRssBytes: number;
}

export interface MemoryResult {
  sessions: number;
  records: number;
  intervalsPerSession: number;
  recordsPerS: number;
  peakRssBytes: number;
  /** Peak RSS once every session's rollup and minutes were also read back through the views. */
  afterReadRssBytes: number;
  readSeconds: number;
  distinctSessions: number;
  verified: boolean;
}

export interface ProfileFunction {
  fn: string;
  where: string;
  selfMs: number;
  selfPct: number;
}

export interface ProfileSummary {
  /** The run it profiled. */
  label: string;
  /** Length of the profiled window; a thread's totalMs against it is how busy the thread was. */
  windowMs?: number;
  files: string[];
  threads: { thread: string; totalMs: number; top: ProfileFunction[] }[];
}

export interface TargetCheck {
  name: string;
  target: string;
  value: string;
  met: boolean;
  /** When missed: the stage that bounds it and why. */
  analysis?: string;
}


export interface PeerFigure {
  recordsPerS: number;
  [key: string]: unknown;
}

export interface BenchResult {
  schema: 'pevmeter-bench/1';
  runId: string;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  options: Record<string, unknown>;
  machine: MachineInfo;
  /** Whether the machine was quiet enough to publish the figures (bench/measure/quiet.ts). */
  quiet?: QuietVerdict;
  topics: TopicSet[];
  /** The headline run: embedded store, default workers, the first records-per-message setting. */
  e2e: PipelineRun | undefined;
  scaling: PipelineRun[];
  server: PipelineRun[];
  limits: StageLimits[];
  headline: {
    pipelineRecordsPerS: number;
    /** The faster of node-rdkafka and kcat (the definition). */
    kafkaReadLimit: number;
    /** The pipeline's own write path on chDB (columns), best concurrency. */
    clickhouseWriteLimit: number;
    /** pipeline / min(kafkaReadLimit, clickhouseWriteLimit). */
    ratio: number;
    boundBy: string;
    /** node-rdkafka consume-only: what the pipeline's own Kafka client reads. */
    clientReadLimit: number;
    /** Decode limit of one thread times the decode workers. */
    decodeLimitAllWorkers: number;
    /** The lowest of the limits of the stages the pipeline runs (client read, decode x workers, write). */
    slowestStage: string;
    /** pipeline / that lowest limit. */
    ratioToSlowestStage: number;
  } | undefined;
  latency: LatencyResult | undefined;
  memory: MemoryResult | undefined;
  peer: PeerFigure | undefined;
  reconcile: Record<string, unknown> | undefined;
  micro: Record<string, unknown> | undefined;
  targets: TargetCheck[];
  profile: ProfileSummary | undefined;
  /** Flat name -> value of every figure: each must be present and positive. */
  figures: Record<string, number>;
  errors: string[];
}

export type { MachineInfo, ReadLimit };
