/**
 * A small micro-benchmark runner, one file per hot function (the undici habit): each case runs a
 * batch of operations per call; the runner warms it up, then times several rounds and reports the
 * median operations per second and the spread. Results print as a table and go to JSON.
 *
 * Every case returns a value that is folded into a sink, so the JIT cannot drop the work.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../../schemas/index.js';
import { fleetMessages } from '../harness/data.js';

export interface MicroCase {
  name: string;
  /** The code the pipeline runs today (one per benchmark). */
  current?: boolean;
  /** What the alternative is, and why it was tried. */
  note?: string;
  /** Runs `opsPerCall` operations. */
  fn: () => unknown;
}

export interface CaseResult {
  name: string;
  current: boolean;
  note: string;
  opsPerS: number;
  nsPerOp: number;
  /** (max - min) / median of the rounds, percent. */
  spreadPct: number;
  rounds: number;
  /** Against the current code: > 1 is faster. */
  speedup: number;
}

export interface MicroResult {
  bench: string;
  /** What one operation is. */
  op: string;
  opsPerCall: number;
  cases: CaseResult[];
  node: string;
  at: string;
}

let sink = 0;

function fold(v: unknown): void {
  if (typeof v === 'number') sink = (sink + v) | 0;
  else if (typeof v === 'string') sink = (sink + v.length) | 0;
  else if (v && typeof v === 'object') sink = (sink + 1) | 0;
}

function timeRound(fn: () => unknown, ms: number): { calls: number; seconds: number } {
  let calls = 0;
  const t0 = performance.now();
  let now = t0;
  while (now - t0 < ms) {
    fold(fn());
    calls++;
    now = performance.now();
  }
  return { calls, seconds: (now - t0) / 1000 };
}

export function runCases(bench: string, op: string, opsPerCall: number, cases: readonly MicroCase[], o: { roundMs?: number; rounds?: number; warmMs?: number } = {}): MicroResult {
  const roundMs = o.roundMs ?? 300;
  const rounds = o.rounds ?? 5;
  const warmMs = o.warmMs ?? 300;
  const out: CaseResult[] = [];
  for (const c of cases) {
    timeRound(c.fn, warmMs);
    const rates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const { calls, seconds } = timeRound(c.fn, roundMs);
      rates.push((calls * opsPerCall) / seconds);
    }
    rates.sort((a, b) => a - b);
    const median = rates[Math.floor(rates.length / 2)]!;
    out.push({
      name: c.name, current: c.current ?? false, note: c.note ?? '', opsPerS: median, nsPerOp: 1e9 / median,
      spreadPct: ((rates[rates.length - 1]! - rates[0]!) / median) * 100, rounds, speedup: 1,
    });
  }
  const base = out.find((c) => c.current)?.opsPerS ?? out[0]?.opsPerS ?? 1;
  for (const c of out) c.speedup = c.opsPerS / base;
  return { bench, op, opsPerCall, cases: out, node: process.version, at: new Date().toISOString() };
}

export function printResult(r: MicroResult): void {
  const lines = [`${r.bench} (${r.op}, ${r.opsPerCall} per call; sink ${sink & 1})`];
  for (const c of r.cases) {
    lines.push(
      `  ${c.current ? '*' : ' '} ${c.name.padEnd(44)} ${Math.round(c.opsPerS).toLocaleString('en-US').padStart(14)} ops/s  ${c.nsPerOp.toFixed(1).padStart(8)} ns/op  ±${c.spreadPct.toFixed(1)}%  x${c.speedup.toFixed(2)}`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
}

export function resultsDir(): string {
  return join(packageRoot(), 'bench', 'results');
}

export function writeMicro(file: string, data: unknown, dir = resultsDir()): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, file);
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
  return path;
}

/** Sample data: real simulator messages, so field widths and ID shapes are the pipeline's. */
export function sampleMessages(records: number, recordsPerMessage = 1): { key: string; value: Buffer; records: number }[] {
  return [...fleetMessages(records, recordsPerMessage, 'micro')];
}

/** Runs `main` when the file is the entry point (node dist/bench/micro/<name>.js). */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && url === pathToFileURL(process.argv[1]).href;
}
