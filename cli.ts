#!/usr/bin/env node
/**
 * The pevmeter command line: the top of the layers. Each stage registers its own commands with
 * only the options it uses; this file assembles them and turns errors into one clear line and an
 * exit code (64 for a usage or input error, a review action refused included; 1 otherwise).
 */
import { Command } from 'commander';
import { PevmeterError } from './schemas/errors.js';
import { registerRefreshCommand, registerSqlCommand } from './aggregate/command.js';
import { scrubSecrets } from './schemas/scrub.js';
import { registerIngestCommands } from './ingest/command.js';
import { registerReconcileCommand } from './reconcile/command.js';
import { registerStatementCommand } from './reconcile/statement.js';
import { registerRunCommand } from './bench/sim/run-command.js';
import { registerSimulateCommand } from './bench/sim/command.js';

const program = new Command('pevmeter')
  .description('Meter-data stream processor for PEV home charging: Kafka (Avro) to per-minute running sums in ClickHouse, reconciled before billing.')
  .showHelpAfterError()
  .configureOutput({ outputError: (s, write) => write(s) });

registerIngestCommands(program);
registerRunCommand(program);
registerSimulateCommand(program);
registerReconcileCommand(program);
registerStatementCommand(program);
registerRefreshCommand(program);
registerSqlCommand(program);

/** The secrets the environment holds (PEVMETER_*PASSWORD, *TOKEN): the CLI's last line of defence. */
function envSecrets(): string[] {
  return Object.entries(process.env).filter(([k, v]) => /^PEVMETER_.*(PASSWORD|TOKEN)$/.test(k) && v).map(([, v]) => v!);
}

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof PevmeterError) {
    // Errors are scrubbed where they are made; this catches what a library put in a message.
    process.stderr.write(`pevmeter: ${err.code}: ${scrubSecrets(err.message, envSecrets())}\n`);
    process.exitCode = err.code === 'PEV_CONFIG' || err.code === 'PEV_INPUT' || err.code.startsWith('PEV_REVIEW_') ? 64 : 1;
  } else {
    process.stderr.write(`pevmeter: ${scrubSecrets((err as Error).stack ?? String(err), envSecrets())}\n`);
    process.exitCode = 1;
  }
});
