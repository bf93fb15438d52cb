#!/usr/bin/env node
/**
 * Fuzzes the decode path: `node dist/bench/fuzz/main.js --payloads 1000000`.
 *
 *   --payloads N        payloads decoded in this thread (default 1,000,000)
 *   --pool-payloads N   payloads decoded through the worker pool as well (default payloads / 10)
 *   --seed S            PRNG seed (default 1); the same seed gives the same payloads
 *   --batch N           messages per batch, i.e. per worker task (default 500)
 *   --threads N         pool threads (default 2)
 *   --max-batch-ms N    a batch slower than this is a failure (default 10000)
 *   --out DIR           where the JSON summary goes (default bench/results)
 *
 * Prints the figures and writes them as JSON; exits 1 when any batch broke an invariant (the
 * problems name the batch: rerun with the same seed to reproduce).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../schemas/index.js';
import { runFuzz } from './run.js';
import type { FuzzOptions } from './run.js';

function parseArgs(argv: readonly string[]): FuzzOptions & { out: string } {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node dist/bench/fuzz/main.js [--payloads N] [--pool-payloads N] [--seed S] [--batch N] [--threads N] [--max-batch-ms N] [--out DIR]\n');
      process.exit(0);
    }
    const next = argv[i + 1];
    if (!a.startsWith('--') || next === undefined) throw new Error(`fuzz: unexpected argument ${JSON.stringify(a)}; see --help`);
    values.set(a.slice(2), next);
    i++;
  }
  const int = (name: string, dflt: number, min: number): number => {
    const raw = values.get(name);
    values.delete(name);
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`fuzz: --${name} must be an integer >= ${min}; got ${JSON.stringify(raw)}`);
    return n;
  };
  const payloads = int('payloads', 1_000_000, 1);
  const o = {
    payloads,
    poolPayloads: int('pool-payloads', Math.floor(payloads / 10), 0),
    batchSize: int('batch', 500, 1),
    threads: int('threads', 2, 1),
    maxBatchMs: int('max-batch-ms', 10_000, 1),
    seed: values.get('seed') ?? '1',
    out: values.get('out') ?? join(packageRoot(), 'bench', 'results'),
  };
  values.delete('seed');
  values.delete('out');
  if (values.size > 0) throw new Error(`fuzz: unknown option --${[...values.keys()][0]!}; see --help`);
  return o;
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  let shown = 0;
  const summary = await runFuzz({
    ...o,
    onProgress: (done, total) => {
      const pct = Math.floor((done / total) * 10);
      if (pct > shown) {
        shown = pct;
        process.stderr.write(`fuzz: ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} payloads\n`);
      }
    },
  });
  const lines = [
    `seed                 ${summary.seed}`,
    `payloads (thread)    ${summary.payloads.toLocaleString('en-US')} in ${summary.batches} batches`,
    `payloads (pool)      ${summary.poolPayloads.toLocaleString('en-US')} in ${summary.poolBatches} batches`,
    `records declared     ${summary.records.toLocaleString('en-US')}`,
    `good                 ${summary.good.toLocaleString('en-US')}`,
    `dead-lettered        ${summary.deadRecords.toLocaleString('en-US')} records in ${summary.letters.toLocaleString('en-US')} letters`,
    `letters by code      ${Object.entries(summary.lettersByCode).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ')}`,
    `slowest batch        ${summary.maxBatchMs.toFixed(1)} ms (thread), ${summary.maxPoolBatchMs.toFixed(1)} ms (pool)`,
    `time                 ${summary.seconds.toFixed(1)} s, ${summary.payloadsPerSecond.toLocaleString('en-US')} payloads/s`,
    `failed batches       ${summary.failedBatches}`,
    ...summary.problems.map((p) => `  ${p}`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  mkdirSync(o.out, { recursive: true });
  const file = join(o.out, `fuzz-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(summary, null, 2) + '\n');
  process.stdout.write(`results: ${file}\n`);
  return summary.failedBatches === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fuzz: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
