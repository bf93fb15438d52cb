/**
 * `npm run bench:micro`: every micro-benchmark in this folder, one after the other, printed and
 * written to bench/results/micro.json (which the main report quotes) and micro-<time>.json.
 */
import { arch, cpus } from 'node:os';
import { run as avroDecode } from './avro-decode.js';
import { run as framing } from './framing.js';
import { run as rowEncoding } from './row-encoding.js';
import { isMain, printResult, writeMicro, type MicroResult } from './runner.js';
import { run as validate } from './validate.js';

export const MICRO_BENCHES: Record<string, () => MicroResult> = {
  framing,
  'avro-decode': avroDecode,
  validate,
  'row-encoding': rowEncoding,
};

export function runAll(only?: readonly string[]): { machine: Record<string, unknown>; results: MicroResult[] } {
  const results: MicroResult[] = [];
  for (const [name, fn] of Object.entries(MICRO_BENCHES)) {
    if (only && only.length > 0 && !only.includes(name)) continue;
    const r = fn();
    printResult(r);
    results.push(r);
  }
  const c = cpus();
  return { machine: { cpus: c.length, cpuModel: c[0]?.model.trim() ?? 'unknown', arch: arch(), node: process.version }, results };
}

if (isMain(import.meta.url)) {
  const out = { at: new Date().toISOString(), ...runAll(process.argv.slice(2)) };
  const stamp = out.at.replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  process.stderr.write(`[micro] wrote ${writeMicro('micro.json', out)} and ${writeMicro(`micro-${stamp}.json`, out)}\n`);
}
