/**
 * The fuzz run: seeded batches of mutated payloads through decodeBatch in this thread, then a
 * smaller share through the worker pool (the path the service uses: structured clone, transfer,
 * piscina), every result checked (check.ts). Pool results must also equal the in-thread result
 * of the same task byte for byte: a worker is the same function, wherever it runs.
 *
 * "No hang": in this thread a batch cannot be interrupted, so its time is measured and a batch
 * over `maxBatchMs` is a failure; through the pool every batch races a timer, and one that does not
 * answer in time is a failure and ends the run (a stuck worker would hold the pool).
 */
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../../schemas/config.js';
import { decodeBatch } from '../../ingest/decode/batch.js';
import type { BatchResult } from '../../ingest/decode/task.js';
import { createDecodePool } from '../../ingest/decode/pool.js';
import { checkBatch, taskOf } from './check.js';
import { PayloadGenerator, fuzzSchemas } from './generate.js';

export interface FuzzOptions {
  /** Payloads decoded in this thread. */
  payloads: number;
  /** Payloads decoded through the worker pool, on top of `payloads`. */
  poolPayloads: number;
  seed: string;
  /** Messages per batch (one worker task). */
  batchSize: number;
  threads: number;
  /** A batch slower than this is a failure (default 10 s: far above any real batch). */
  maxBatchMs: number;
  /** Time the pool's threads get to start before the first timed batch (default 120 s). */
  warmupMs?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface FuzzSummary {
  seed: string;
  payloads: number;
  poolPayloads: number;
  batches: number;
  poolBatches: number;
  records: number;
  good: number;
  deadRecords: number;
  letters: number;
  lettersByCode: Record<string, number>;
  /** Batches that broke an invariant, threw, timed out or differed between pool and thread. */
  failedBatches: number;
  /** The first problems found, with the batch number (reproduce with the same seed). */
  problems: string[];
  maxBatchMs: number;
  maxPoolBatchMs: number;
  seconds: number;
  payloadsPerSecond: number;
}

/** Fixed clock: results do not depend on the day the run happens. */
const NOW_MS = Date.UTC(2026, 11, 1);
const MAX_MESSAGE_BYTES = 8192;
const MAX_PROBLEMS = 25;

function sameResult(a: BatchResult, b: BatchResult): string | undefined {
  if (JSON.stringify(a.stats) !== JSON.stringify(b.stats)) return 'stats differ';
  for (let i = 0; i < a.tables.length; i++) {
    const x = a.tables[i]!;
    const y = b.tables[i];
    if (!y || x.table !== y.table || x.rows !== y.rows || !Buffer.from(x.tsv).equals(Buffer.from(y.tsv))) return `table ${x.table} differs`;
  }
  if (a.dead.code.join() !== b.dead.code.join() || !Buffer.from(a.dead.payload).equals(Buffer.from(b.dead.payload))) return 'dead letters differ';
  return undefined;
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzSummary> {
  const started = performance.now();
  const gen = new PayloadGenerator(o.seed, { maxMessageBytes: MAX_MESSAGE_BYTES });
  const schemas = fuzzSchemas();
  const cfg = loadConfig({ env: {}, flags: { 'pipeline.maxMessageBytes': MAX_MESSAGE_BYTES } });
  const s: FuzzSummary = {
    seed: o.seed, payloads: 0, poolPayloads: 0, batches: 0, poolBatches: 0, records: 0, good: 0, deadRecords: 0, letters: 0,
    lettersByCode: {}, failedBatches: 0, problems: [], maxBatchMs: 0, maxPoolBatchMs: 0, seconds: 0, payloadsPerSecond: 0,
  };
  const note = (batch: number, where: string, problems: string[]) => {
    if (problems.length === 0) return;
    s.failedBatches++;
    for (const p of problems) if (s.problems.length < MAX_PROBLEMS) s.problems.push(`batch ${batch} (${where}): ${p}`);
  };
  const tally = (r: BatchResult) => {
    s.records += r.stats.records;
    s.deadRecords += r.stats.deadRecords;
    s.good += r.stats.records - r.stats.deadRecords;
    s.letters += r.dead.count;
    for (const [code, n] of Object.entries(r.stats.deadByCode)) s.lettersByCode[code] = (s.lettersByCode[code] ?? 0) + (n ?? 0);
  };
  const total = o.payloads + o.poolPayloads;

  while (s.payloads < o.payloads) {
    const batch = gen.batch(Math.min(o.batchSize, o.payloads - s.payloads));
    const id = s.batches++;
    const t0 = performance.now();
    let result: BatchResult;
    try {
      result = decodeBatch(taskOf(batch, schemas, cfg, NOW_MS));
    } catch (err) {
      note(id, 'thread', [`decodeBatch threw: ${err instanceof Error ? err.stack ?? err.message : String(err)}`]);
      s.payloads += batch.messages.length;
      continue;
    }
    const ms = performance.now() - t0;
    s.maxBatchMs = Math.max(s.maxBatchMs, ms);
    const problems = checkBatch(batch, result);
    if (ms > o.maxBatchMs) problems.push(`took ${ms.toFixed(0)} ms (limit ${o.maxBatchMs})`);
    note(id, 'thread', problems);
    tally(result);
    s.payloads += batch.messages.length;
    o.onProgress?.(s.payloads, total);
  }

  if (o.poolPayloads > 0) {
    const pool = createDecodePool({ threads: o.threads, maxQueue: o.threads * 4 });
    let stuck = false;
    try {
      // Workers start lazily (under a TypeScript loader they compile the decoder first): one
      // warm-up task per thread, untimed but bounded, so the first timed batches measure decoding.
      const warmupMs = o.warmupMs ?? 120_000;
      const warm = gen.batch(1);
      const ready = Promise.all(Array.from({ length: o.threads }, () => pool.run(taskOf(warm, schemas, cfg, NOW_MS))));
      let warmTimer: NodeJS.Timeout | undefined;
      const warmed = await Promise.race([ready.then(() => true), new Promise<false>((r) => (warmTimer = setTimeout(() => r(false), warmupMs)))]);
      clearTimeout(warmTimer);
      if (!warmed) throw new Error(`the decode pool did not start within ${warmupMs} ms`);
      const window: Promise<void>[] = [];
      while (s.poolPayloads < o.poolPayloads && !stuck) {
        const batch = gen.batch(Math.min(o.batchSize, o.poolPayloads - s.poolPayloads));
        const id = s.batches + s.poolBatches++;
        s.poolPayloads += batch.messages.length;
        const reference = decodeBatch(taskOf(batch, schemas, cfg, NOW_MS));
        const t0 = performance.now();
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), o.maxBatchMs);
        });
        const job = Promise.race([pool.run(taskOf(batch, schemas, cfg, NOW_MS)), timeout]).then(
          (r) => {
            clearTimeout(timer);
            if (r === 'timeout') {
              stuck = true;
              note(id, 'pool', [`no answer within ${o.maxBatchMs} ms`]);
              return;
            }
            s.maxPoolBatchMs = Math.max(s.maxPoolBatchMs, performance.now() - t0);
            const problems = checkBatch(batch, r);
            const diff = sameResult(r, reference);
            if (diff) problems.push(`pool result differs from the in-thread result: ${diff}`);
            note(id, 'pool', problems);
            tally(r);
            o.onProgress?.(s.payloads + s.poolPayloads, total);
          },
          (err: unknown) => {
            clearTimeout(timer);
            note(id, 'pool', [`pool task failed: ${err instanceof Error ? err.message : String(err)}`]);
          },
        );
        window.push(job);
        if (window.length >= o.threads * 2) await window.shift();
      }
      await Promise.all(window);
    } finally {
      // A stuck worker never finishes its task, and close() would wait for it: the caller exits.
      if (stuck) void pool.close();
      else await pool.close();
    }
  }
  s.seconds = (performance.now() - started) / 1000;
  s.payloadsPerSecond = Math.round((s.payloads + s.poolPayloads) / s.seconds);
  return s;
}
