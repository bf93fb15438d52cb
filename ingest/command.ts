/**
 * The ingest stage's commands: `ingest` (the streaming service), `ingest-files` (batch upload of
 * Avro container files) and `migrate` (create or update the store's tables, as ingest does at start).
 */
import type { Command } from 'commander';
import { addPipelineOptions, configFromFlags, type CommonFlags } from '../schemas/cli-options.js';
import { createLogger } from './log.js';
import { ingestFilesWithProgress } from './files-command.js';
import { openMigratedStore, runIngestService, withPipeline } from './service.js';

export function registerIngestCommands(program: Command): void {
  addPipelineOptions(
    program
      .command('ingest')
      .description('the streaming service: consume the ESCI topics, store in ClickHouse, commit after durable writes; SIGTERM drains and exits')
      .option('--until-idle <ms>', 'exit by itself once nothing arrived for this long (tests, backfills)', (v) => Number(v)),
  ).action(async (flags: CommonFlags & { untilIdle?: number }) => {
    const cfg = configFromFlags(flags);
    const result = await runIngestService(cfg, { handleSignals: true, ...(flags.untilIdle !== undefined ? { idleExitMs: flags.untilIdle } : {}) });
    process.exitCode = result.exitCode;
  });

  addPipelineOptions(
    program
      .command('ingest-files')
      .description('batch upload: Avro object container files through the same worker pool and store')
      .argument('<files...>', 'container files (.avro), one record kind each'),
  ).action(async (files: string[], flags: CommonFlags) => {
    const cfg = configFromFlags(flags);
    const log = createLogger(cfg.log.level);
    const summary = await withPipeline(cfg, log, (p) => ingestFilesWithProgress(files, p, process.stderr));
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  });

  addPipelineOptions(program.command('migrate').description('create or update the ClickHouse tables and views (idempotent)')).action(async (flags: CommonFlags) => {
    const cfg = configFromFlags(flags);
    const log = createLogger(cfg.log.level);
    const store = await openMigratedStore(cfg, log);
    await store.close();
  });
}
