#!/usr/bin/env node
/**
 * The pevmeter command line. Each stage registers its own commands; this file only assembles
 * them and turns errors into one clear line and an exit code.
 */
import { Command } from 'commander';
import { addCommonOptions, configFromFlags, type CommonFlags } from './cli-options.js';
import { PevmeterError } from '../schemas/errors.js';
import { createLogger } from './log.js';
import { ingestFiles } from './pipeline/files.js';
import { openMigratedStore, runIngestService, withPipeline } from './service.js';
import { registerRunCommand } from './run-command.js';
import { registerSimulateCommand } from '../bench/sim/command.js';
import { registerReconcileCommand } from '../reconcile/command.js';

const program = new Command('pevmeter')
  .description('Meter-data stream processor for PEV home charging: Kafka (Avro) to per-minute running sums in ClickHouse, reconciled before billing.')
  .showHelpAfterError()
  .configureOutput({ outputError: (s, write) => write(s) });

addCommonOptions(
  program
    .command('ingest')
    .description('the streaming service: consume the ESCI topics, store in ClickHouse, commit after durable writes; SIGTERM drains and exits')
    .option('--until-idle <ms>', 'exit by itself once nothing arrived for this long (tests, backfills)', (v) => Number(v)),
).action(async (flags: CommonFlags & { untilIdle?: number }) => {
  const cfg = configFromFlags(flags);
  const result = await runIngestService(cfg, { handleSignals: true, ...(flags.untilIdle !== undefined ? { idleExitMs: flags.untilIdle } : {}) });
  process.exitCode = result.exitCode;
});

addCommonOptions(
  program
    .command('ingest-files')
    .description('batch upload: Avro object container files through the same worker pool and store')
    .argument('<files...>', 'container files (.avro), one record kind each'),
).action(async (files: string[], flags: CommonFlags) => {
  const cfg = configFromFlags(flags);
  const log = createLogger(cfg.log.level);
  const summary = await withPipeline(cfg, log, (p) => ingestFiles(files, p));
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
});

addCommonOptions(program.command('migrate').description('create or update the ClickHouse tables and views (idempotent)')).action(async (flags: CommonFlags) => {
  const cfg = configFromFlags(flags);
  const log = createLogger(cfg.log.level);
  const store = await openMigratedStore(cfg, log);
  await store.close();
});

registerRunCommand(program);
registerSimulateCommand(program);
registerReconcileCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof PevmeterError) {
    process.stderr.write(`pevmeter: ${err.code}: ${err.message}\n`);
    process.exitCode = err.code === 'PEV_CONFIG' || err.code === 'PEV_INPUT' ? 64 : 1;
  } else {
    process.stderr.write(`pevmeter: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
});
