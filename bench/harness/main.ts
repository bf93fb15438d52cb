/**
 * `npm run bench` (and the narrower bench:* scripts): runs the benchmark, prints the markdown
 * table, and writes bench/results/<run>.json, latest.json, latest.md and latest.svg.
 * Exits 1 when a phase failed or a run did not verify (the figures are written anyway); a missed
 * target is a finding, not a failure, and exits 0.
 *
 * latest.* is what the README quotes, so only a quiet run may write it: the machine is watched
 * while the benchmark runs (bench/measure/quiet.ts), and a run during which other work used the
 * CPU writes only its own <run>.json and .svg, marked not publishable, and says how to rerun
 * (--allow-busy overrides, for a deliberate run on a shared machine).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { servicePids, verdictLines, watchQuiet } from '../measure/quiet.js';
import { parseBenchArgs } from './options.js';
import { evaluateTargets, markdownReport } from './report.js';
import { runBench } from './run.js';
import { resultSvg } from './svg.js';
import type { BenchResult } from './types.js';

/** Writes the run's files, and latest.* when the run may be published (or `allowBusy`). */
export function writeResults(dir: string, r: BenchResult, o: { allowBusy?: boolean } = {}): string[] {
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(r, null, 2) + '\n';
  const svg = resultSvg(r);
  const files: [string, string][] = [
    [join(dir, `${r.runId}.json`), json],
    [join(dir, `${r.runId}.svg`), svg],
  ];
  if (r.quiet?.publishable === true || o.allowBusy === true) {
    files.push([join(dir, 'latest.json'), json], [join(dir, 'latest.md'), markdownReport(r)], [join(dir, 'latest.svg'), svg]);
  }
  for (const [path, text] of files) writeFileSync(path, text);
  return files.map(([p]) => p);
}

async function main(): Promise<number> {
  const options = parseBenchArgs(process.argv.slice(2));
  if (!options) return 0;
  const watch = watchQuiet({ servicePids: servicePids() });
  const result = await runBench(options);
  result.quiet = watch.stop();
  // The targets' analyses say whether other work shared the machine: judge that by the watch,
  // which only now has its verdict (the start load average alone lags and misleads).
  result.targets = evaluateTargets(result);
  process.stdout.write(markdownReport(result));
  if (options.outDir !== undefined) {
    const files = writeResults(options.outDir, result, { allowBusy: options.allowBusy });
    process.stderr.write(`[bench] wrote ${files.join(', ')}\n`);
  }
  for (const line of verdictLines('bench', result.quiet, 'npm run bench')) process.stderr.write(line + '\n');
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
