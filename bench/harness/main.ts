/**
 * `npm run bench` (and the narrower bench:* scripts): runs the benchmark, prints the markdown
 * table, and writes bench/results/<run>.json, latest.json, latest.md and latest.svg.
 * Exits 1 when a phase failed or a run did not verify (the figures are written anyway); a missed
 * target is a finding, not a failure, and exits 0.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseBenchArgs } from './options.js';
import { markdownReport } from './report.js';
import { runBench } from './run.js';
import { resultSvg } from './svg.js';
import type { BenchResult } from './types.js';

export function writeResults(dir: string, r: BenchResult): string[] {
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(r, null, 2) + '\n';
  const md = markdownReport(r);
  const svg = resultSvg(r);
  const files = [
    [join(dir, `${r.runId}.json`), json],
    [join(dir, 'latest.json'), json],
    [join(dir, 'latest.md'), md],
    [join(dir, `${r.runId}.svg`), svg],
    [join(dir, 'latest.svg'), svg],
  ] as const;
  for (const [path, text] of files) writeFileSync(path, text);
  return files.map(([p]) => p);
}

async function main(): Promise<number> {
  const options = parseBenchArgs(process.argv.slice(2));
  if (!options) return 0;
  const result = await runBench(options);
  process.stdout.write(markdownReport(result));
  if (options.outDir !== undefined) {
    const files = writeResults(options.outDir, result);
    process.stderr.write(`[bench] wrote ${files.join(', ')}\n`);
  }
  return result.errors.length > 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(2);
    },
  );
}
