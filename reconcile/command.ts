/**
 * `pevmeter reconcile`: reconcile a billing period, optionally write the HTML report and export
 * the period's records (which freezes them). Store flags are the shared ones (--data,
 * --clickhouse-url, --database, -c for the service configuration; no Kafka flags: it only reads the store); the reconciliation rules,
 * tariffs and programs come from --reconcile-config (docs/reconcile.md).
 *
 * Output: a short summary for a person when stdout is a terminal, else (or with --json) the run
 * summary as JSON. Progress on stderr: a bar on a terminal, JSON lines otherwise (--progress
 * overrides: bar, json, none).
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { openStore, storeOptionsOf } from '../aggregate/store/connect.js';
import type { Store } from '../aggregate/store/types.js';
import { addStoreOptions, configFromFlags, oneOf, type StoreFlags } from '../schemas/cli-options.js';
import { PevmeterError } from '../schemas/errors.js';
import { parseProgressMode, progressReporter, type ProgressMode, type ProgressReporter } from '../schemas/progress.js';
import { exportCycle, exportPeriod, type ExportFormat, type ExportResult } from './billing.js';
import { loadReconcileConfig, type ReconcileConfig } from './config.js';
import { PeriodLease } from './lease.js';
import { checkOutput, writeOutput } from './output.js';
import { registerReviewCommands } from './review/command.js';
import { renderReport } from './report.js';
import { summaryText } from './summary-text.js';
import { CyclePlan, parseCycle } from './cycles.js';
import { parsePeriod, periodZone } from './local-time.js';
import { checkPeriod, parseInstant, reconcileCycle, reconcilePeriod, type ReconcileProgress, type RunSummary } from './run.js';
import type { Period, PeriodFilter } from './types.js';

export interface ReconcileFlags extends StoreFlags {
  from?: string;
  to?: string;
  cycle?: string;
  tz?: string;
  account?: string;
  premise?: string;
  pev?: string;
  program?: string;
  reconcileConfig?: string;
  asOf?: string;
  report?: string;
  export?: ExportFormat;
  out?: string;
  exportAll?: boolean;
  reprice?: boolean;
  force?: boolean;
  progress?: ProgressMode;
  json?: boolean;
}

export interface CommandIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface ReconcileCommandResult {
  summary: RunSummary;
  report: string | null;
  export: ExportResult | null;
}

/** A progress sink for `reconcilePeriod`: a bar on a terminal, JSON lines, or nothing. */
export function reconcileProgress(mode: ReconcileFlags['progress'], io: CommandIo): ProgressReporter<ReconcileProgress> {
  return progressReporter(mode, io.stderr, {
    event: 'reconcile.progress',
    format: 'reconcile |{bar}| {percentage}% | batch {value}/{total} | {sessions} sessions | {rate} sessions/s',
    position: (p) => ({
      value: p.batch,
      total: Math.max(1, p.batches),
      payload: { sessions: p.sessions, rate: p.elapsedMs > 0 ? Math.round((p.sessions * 1000) / p.elapsedMs) : 0 },
    }),
  });
}

/** Everything `pevmeter reconcile` does after parsing flags; the store is opened and closed here unless given. */
export async function runReconcile(flags: ReconcileFlags, io: CommandIo, given?: { store: Store; config?: ReconcileConfig }): Promise<ReconcileCommandResult> {
  if (flags.cycle !== undefined && (flags.from !== undefined || flags.to !== undefined)) {
    throw new PevmeterError('PEV_INPUT', '--cycle and --from/--to exclude each other: a cycle is each account\'s own period');
  }
  if (flags.cycle === undefined && flags.from === undefined) {
    throw new PevmeterError('PEV_INPUT', 'give a period (--from and --to) or a bill cycle (--cycle YYYY-MM)');
  }
  const cfg = given?.config ?? loadReconcileConfig(flags.reconcileConfig);
  // Kept beside the resolved configuration (reconcile_config), for an auditor; loadReconcileConfig read it already.
  const configText = given?.config === undefined && flags.reconcileConfig !== undefined ? readFileSync(flags.reconcileConfig, 'utf8') : undefined;
  const cycle = flags.cycle === undefined ? null : parseCycle(flags.cycle).label;
  const zone = periodZone(cfg, { ...(flags.tz !== undefined ? { tz: flags.tz } : {}), ...(flags.program !== undefined ? { program: flags.program } : {}) });
  const period: Period | null = cycle !== null ? null : parsePeriod(flags.from!, flags.to, zone);
  if (period !== null) checkPeriod(period);
  const filters: PeriodFilter = {};
  if (flags.account !== undefined) filters.accountId = flags.account;
  if (flags.premise !== undefined) filters.premiseId = flags.premise;
  if (flags.pev !== undefined) filters.pevId = flags.pev;
  if (flags.program !== undefined) filters.programId = flags.program;
  if ((flags.export === undefined) !== (flags.out === undefined)) {
    throw new PevmeterError('PEV_INPUT', '--export and --out go together: --export csv|json --out FILE');
  }
  // Refused names are refused before any work: a run must not be wasted, nor records frozen.
  const force = flags.force === true;
  if (flags.report !== undefined) checkOutput(flags.report, { force, flag: '--report' });
  if (flags.out !== undefined) checkOutput(flags.out, { force, flag: '--out' });
  if (flags.report !== undefined && flags.out !== undefined && resolve(flags.report) === resolve(flags.out)) {
    throw new PevmeterError('PEV_INPUT', '--report and --out name the same file');
  }
  let store = given?.store;
  const owned = store === undefined;
  if (store === undefined) {
    store = await openStore(storeOptionsOf(configFromFlags(flags)));
    await store.migrate();
  }
  const progress = reconcileProgress(flags.progress, io);
  const runId = randomUUID();
  let lease: PeriodLease | undefined;
  try {
    // A run and its export under one lease: no other run rewrites a record between the two. A
    // cycle's lease covers its read window (every account's cycle period, widened), as the one
    // reconcileCycle would take alone.
    lease = await PeriodLease.acquire(store, period ?? new CyclePlan(cfg, cycle!).readWindow, runId);
    const runOpts = {
      runId,
      lease,
      ...(flags.asOf !== undefined ? { asOfMs: parseInstant('--as-of', flags.asOf) } : {}),
      onProgress: progress.onProgress,
      ...(zone !== null ? { timeZone: zone } : {}),
      ...(flags.reprice === true ? { reprice: true } : {}),
      ...(configText !== undefined ? { configText } : {}),
    };
    const summary = period !== null ? await reconcilePeriod(store, period, filters, cfg, runOpts) : await reconcileCycle(store, cycle!, filters, cfg, runOpts);
    progress.stop();
    let report: string | null = null;
    if (flags.report !== undefined) {
      writeOutput(flags.report, renderReport(summary), { force, flag: '--report' });
      report = flags.report;
    }
    let exported: ExportResult | null = null;
    if (flags.export !== undefined && flags.out !== undefined) {
      const exportOpts = { mode: flags.exportAll === true ? ('all' as const) : ('pending' as const), force };
      exported = period !== null
        ? await exportPeriod(store, period, filters, flags.export, flags.out, exportOpts)
        : await exportCycle(store, cycle!, filters, flags.export, flags.out, exportOpts);
    }
    if (flags.json === true || io.stdout.isTTY !== true) {
      // The report's per-session samples stay out of the summary (undefined is not serialized).
      io.stdout.write(JSON.stringify({ ...summary, heldSamples: undefined, report, export: exported }, null, 2) + '\n');
    } else {
      io.stdout.write(summaryText(summary, report, exported));
    }
    return { summary, report, export: exported };
  } finally {
    progress.stop();
    if (lease !== undefined) await lease.release();
    if (owned) await store.close();
  }
}

export function registerReconcileCommand(program: Command): void {
  addStoreOptions(
    program
      .command('reconcile')
      .description('reconcile a billing period: rules, flags, billing records; optionally an HTML report and an export (which freezes the records)')
      .option('--from <time>', 'period start, inclusive: a local date (2026-10, 2026-10-03: local midnight, see --tz), ISO 8601 with Z or an offset, or epoch ms')
      .option('--to <time>', 'period end, exclusive, in the same forms (optional when --from is a month: that month)')
      .option('--tz <zone>', 'IANA zone of local dates in --from/--to (default: --program\'s tariff zone, else the zone all tariffs share)')
      .option('--cycle <YYYY-MM>', 'bill cycle starting in this month: each account\'s own cycle period, in its program\'s time zone (instead of --from/--to)')
      .option('--account <id>', 'only sessions of this account (by enrollment)')
      .option('--premise <id>', 'only sessions reported for this premise')
      .option('--pev <vin>', 'only sessions of this PEV')
      .option('--program <id>', 'only sessions of this program (by enrollment)')
      .option('--reconcile-config <file>', 'rules, tariffs and programs (YAML or JSON); see docs/reconcile.md')
      .option('--as-of <time>', 'the run\'s "now" for future intervals and unfinished sessions (default: now)')
      .option('--report <file>', 'write the HTML report here')
      .option('--export <format>', 'export the period\'s pending records: csv or json (needs --out)', oneOf('--export', ['csv', 'json'] as const))
      .option('--out <file>', 'export file')
      .option('--export-all', 'export every current record, not only those not exported yet')
      .option('--reprice', 'bill exported records under this configuration (new versions, ADJUSTMENT) instead of the configuration they went out under')
      .option('--force', 'replace an existing --report or --out file (a symbolic link is refused all the same)')
      .option('--json', 'print the full run summary as JSON (the default when stdout is not a terminal)')
      .option('--progress <mode>', 'auto (bar on a terminal, JSON lines otherwise), bar, json or none', parseProgressMode, 'auto'),
  ).action(async (flags: ReconcileFlags) => {
    await runReconcile(flags, { stdout: process.stdout, stderr: process.stderr });
  });
  registerReviewCommands(program);
}
