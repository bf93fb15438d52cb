/**
 * What the harness and its child processes say to each other over the fork IPC channel.
 *
 *   harness ──{ type: 'job', job }──▶ child          one job per child process
 *   harness ──{ type: 'stop' }──────▶ child          drain and stop (pipeline jobs)
 *   child ───{ type: 'event', name, data }──▶ harness   e.g. 'ready' with the ops port
 *   child ───{ type: 'result', result }─────▶ harness   then the child exits
 *   child ───{ type: 'error', message }─────▶ harness
 *
 * Every measured stage runs in a child of its own, so the producer, the poller and the harness
 * never share the CPU and memory figures of what is measured.
 */
import type { StoreOptions } from '../../aggregate/store/types.js';

export interface PipelineJob {
  kind: 'pipeline';
  /** Config flags as dotted paths (loadConfig({ env: {}, flags })). */
  flags: Record<string, string | number | boolean>;
  /** Safety net only: the harness stops the child once every row is written. */
  idleExitMs: number;
  sampleMs: number;
  /** Poll ClickHouse for newly visible offsets (the latency run). */
  pollMs?: number;
  /** After the run, read every session's rollup and minutes back (the memory run). */
  readBack?: boolean;
  /**
   * Long runs (the soak): send each poll's observations as a 'visibility' event instead of keeping
   * them, read parts only above the offsets already seen (a big merged part is not listed again),
   * and send a 'sample' event this often with the process's RSS and the store's size on disk.
   */
  stream?: { sampleEveryMs: number };
}

export interface ReadLimitJob {
  kind: 'read-limit';
  brokers: string;
  topic: string;
  partitions: number;
  messages: number;
  consumeBatch: number;
  /** Re-read the topic until at least this long was timed. */
  minSeconds: number;
}

export interface StageLimitJob {
  kind: 'stage-limits';
  brokers: string;
  topic: string;
  partitions: number;
  messages: number;
  records: number;
  consumeBatch: number;
  /** Rows per insert: what the pipeline's units held on the same data. */
  rowsPerInsert: number;
  /** Inserts in flight at once (the pipeline allows maxInflightUnits). */
  concurrency: number[];
  store: StoreOptions;
  /** Also time the text insert where the pipeline writes columns (chDB), for comparison. */
  compareText: boolean;
  /** Insert at most this many of the decoded rows per variant (whole inserts). */
  maxRows: number;
}

export type ChildJob = PipelineJob | ReadLimitJob | StageLimitJob;

export type ToChild = { type: 'job'; job: ChildJob } | { type: 'stop' };
export type FromChild =
  | { type: 'event'; name: string; data: Record<string, unknown> }
  | { type: 'result'; result: unknown }
  | { type: 'error'; message: string };
