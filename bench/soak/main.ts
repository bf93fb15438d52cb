/**
 * `npm run bench:soak`: the ingest service under a steady 50 % of its measured maximum for 30
 * minutes (bench/soak/run.ts), judged by bench/soak/criteria.ts. Prints a line per sample and a
 * summary; writes soak.json and soak.svg under bench/results/ when the machine was quiet
 * (bench/measure/quiet.ts), else soak-<run>.json/.svg marked not publishable (--allow-busy
 * writes soak.* anyway, marked). Exit code 0 when every criterion passed, 1 when one failed, 2 when
 * the run itself broke.
 */
import { pathToFileURL } from 'node:url';
import { servicePids, verdictLines, watchQuiet } from '../measure/quiet.js';
import { parseSoakArgs } from './options.js';
import { soakSummary, writeSoakResults } from './report.js';
import { runSoak } from './run.js';

async function main(): Promise<number> {
  let options: ReturnType<typeof parseSoakArgs>;
  try {
    options = parseSoakArgs(process.argv.slice(2));
  } catch (err) {
    // A wrong flag is the user's mistake, not a broken run: name it and exit 1.
    const e = err as { code?: string; message: string };
    const unknown = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'([^']+)'/.exec(e.message)?.[1] : undefined;
    process.stderr.write(`bench:soak: ${unknown !== undefined ? `unknown option '${unknown}'` : e.message} (--help lists the options)\n`);
    return 1;
  }
  if (!options) return 0;
  const watch = watchQuiet({ servicePids: servicePids() });
  const result = await runSoak(options);
  result.quiet = watch.stop();
  process.stdout.write(soakSummary(result));
  if (options.outDir !== undefined) {
    const files = writeSoakResults(options.outDir, result, { allowBusy: options.allowBusy });
    process.stderr.write(`[soak] wrote ${files.join(', ')}\n`);
  }
  for (const line of verdictLines('soak', result.quiet, 'npm run bench:soak')) process.stderr.write(line + '\n');
  return result.verdict.passed && result.errors.length === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`bench:soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(2);
    },
  );
}
