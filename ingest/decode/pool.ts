/**
 * The decode worker pool: piscina threads running ingest/decode/worker. A task's `data` and index
 * arrays are transferred to the worker (the caller must not use them afterwards); the result's
 * buffers come back by transfer too.
 *
 * Worker file: `worker.js` beside this module when running compiled (dist/ingest/decode/), and
 * `worker.ts` beside it when tests run the TypeScript source under tap: tap starts node with its
 * TypeScript loader in execArgv (`--import .../@tapjs/...`), worker threads inherit execArgv, so
 * the loader is active in the workers too (test/ingest/decode/pool.test.ts proves it).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { ConfigError } from '../../schemas/errors.js';
import type { BatchResult, DecodeTask } from './task.js';

export interface DecodePoolOptions {
  /** Worker threads (default: available cores minus one, at least 1). */
  threads?: number;
  /** Tasks waiting for a thread before run() rejects (default threads * 4). Backpressure belongs to the caller; this is a bound, not a buffer. */
  maxQueue?: number;
}

export interface DecodePool {
  run(task: DecodeTask): Promise<BatchResult>;
  /** Threads and queue: for metrics. */
  readonly threads: number;
  readonly queueSize: number;
  close(): Promise<void>;
}

/** The worker module beside this one, compiled or source. */
export function workerFile(): string {
  const js = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(js)) return js;
  return fileURLToPath(new URL('./worker.ts', import.meta.url));
}

export function createDecodePool(options: DecodePoolOptions = {}): DecodePool {
  const cores = Math.max(1, availableParallelism() - 1);
  const threads = options.threads ?? cores;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new ConfigError(`decode.threads must be an integer from 1 to 256; got ${String(options.threads)}`);
  }
  const maxQueue = options.maxQueue ?? threads * 4;
  if (!Number.isInteger(maxQueue) || maxQueue < 0) {
    throw new ConfigError(`decode.maxQueue must be a non-negative integer; got ${String(options.maxQueue)}`);
  }
  const pool = new Piscina<DecodeTask, BatchResult>({
    filename: workerFile(),
    minThreads: threads,
    maxThreads: threads,
    maxQueue,
    // Workers keep their parsed-schema memo for the pool's lifetime.
    idleTimeout: Infinity,
  });
  return {
    threads,
    get queueSize() {
      return pool.queueSize;
    },
    run(task) {
      return pool.run(task, { transferList: transferListOf(task) });
    },
    close() {
      return pool.close();
    },
  };
}

/** The task's buffers, transferred rather than copied. */
function transferListOf(task: DecodeTask): ArrayBuffer[] {
  const list = new Set<ArrayBuffer>();
  const add = (b: ArrayBufferLike | undefined): void => {
    if (b instanceof ArrayBuffer && b.byteLength > 0) list.add(b);
  };
  add(task.data);
  if (task.mode !== 'container') {
    add(task.starts.buffer);
    add(task.ends.buffer);
    add(task.offsets.buffer);
    add(task.recordCounts?.buffer);
  }
  return [...list];
}
