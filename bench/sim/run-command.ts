/**
 * `pevmeter run`: the main job on the embedded default, end to end on one machine. It simulates a
 * fleet (with ground truth), streams it through the same worker pool and store code as the
 * service (Avro container files as the source, or Kafka with --kafka), and prints what a utility
 * engineer would check first: sessions, energy, per-minute rows, rejects by code, and whether the
 * stored totals equal the simulator's truth.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { addPipelineOptions, configFromFlags, positiveInt, type CommonFlags } from '../../schemas/cli-options.js';
import type { Config } from '../../schemas/config.js';
import { createLogger, type Logger } from '../../ingest/log.js';
import { ingestFilesWithProgress } from '../../ingest/files-command.js';
import { openMigratedStore, runIngestService, withPipeline } from '../../ingest/service.js';
import { refreshRollups, rollupTotals } from '../../aggregate/rollups.js';
import { toInt } from '../../aggregate/store/index.js';
import type { Store } from '../../aggregate/store/types.js';
import { TOPICS } from '../../schemas/index.js';
import { writeFleetFiles } from './file-writer.js';
import { ensureTopics, produceFleet } from './kafka-writer.js';
import type { FleetOptionsInput } from './fleet.js';
import { checkTruth, readTruthFile } from './truth.js';

interface RunFlags extends CommonFlags {
  premises: number;
  days: number;
  seed: number;
  intervalS: number;
  faults: boolean;
  kafka?: boolean;
  partitions: number;
  json?: boolean;
}

const DAY_MS = 86_400_000;

export interface RunSummary {
  source: 'files' | 'kafka';
  fleetDir: string;
  storePath: string;
  database: string;
  seconds: number;
  recordsIn: number;
  recordsPerSecond: number;
  sessions: number;
  energyWh: number;
  truthEnergyWh: number;
  exact: boolean;
  mismatchedSessions: number;
  minuteRows: number;
  /** Session rollups finished after ingest (`pevmeter refresh`), and how long that took. */
  rollupsFinished: number;
  refreshSeconds: number;
  unfinishedSessions: number;
  conflicts: number;
  deadLetters: Record<string, number>;
}

async function storedFacts(store: Store) {
  const db = store.database;
  // Totals and per-session energy from the aggregates (aggregate/rollups.ts), as billing reads them.
  const totals = await rollupTotals(store);
  const dead = await store.select<{ code: string; n: unknown }>(`SELECT code, count() AS n FROM (SELECT DISTINCT src_topic, src_partition, src_offset, record_index, code FROM ${db}.dead_letter) GROUP BY code ORDER BY code`);
  return {
    sessions: totals.sessions,
    energyWh: totals.energyWh,
    unfinished: totals.unfinished,
    conflicts: totals.conflicts,
    minuteRows: totals.minutes,
    deadLetters: Object.fromEntries(dead.map((d) => [d.code, toInt(d.n)])),
  };
}

async function ingestFromFiles(cfg: Config, log: Logger, dir: string, showProgress: boolean): Promise<number> {
  const files = [TOPICS.enrollment, TOPICS.sessionEvent, TOPICS.vehicleReport, TOPICS.interval].map((t) => join(dir, `${t}.avro`)).filter((p) => existsSync(p));
  const summary = await withPipeline(cfg, log, (p) => ingestFilesWithProgress(files, p, showProgress ? process.stderr : undefined, 'ingest  '));
  return summary.records;
}

/** The reconcile command covering the simulated days; its end crosses months (31 days end on 11-01). */
export function reconcileHint(days: number, dataPath: string): string {
  const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  const from = Date.UTC(2026, 9, 1);
  return `npx pevmeter reconcile --from ${iso(from)} --to ${iso(from + days * DAY_MS)} --data ${dataPath} --report report.html`;
}

export function registerRunCommand(program: Command): void {
  addPipelineOptions(
    program
      .command('run')
      .description('the main job: simulate a fleet, ingest it through the worker pool into the store, print a summary')
      .option('--premises <n>', 'homes in the simulated fleet', positiveInt('--premises'), 200)
      .option('--days <n>', 'days simulated from 2026-10-01 UTC', positiveInt('--days'), 7)
      .option('--seed <n>', 'simulator seed (same seed, same data)', positiveInt('--seed'), 1)
      .option('--interval-s <s>', 'EUMD metering interval, seconds', positiveInt('--interval-s'), 60)
      .option('--no-faults', 'simulate a clean fleet (no injected faults)')
      .option('--kafka', 'go through the Kafka broker (--brokers) instead of container files, on topics of its own')
      .option('--partitions <n>', 'partitions per topic with --kafka', positiveInt('--partitions'), 4)
      .option('--json', 'print the summary as JSON'),
  ).action(async (flags: RunFlags) => {
    let cfg = configFromFlags(flags, { 'http.port': flags.httpPort ?? 0 });
    if (flags.kafka) {
      // A run owns its topics and group, so a second run never reads the first one's records.
      const prefix = `pevmeter-run-${Date.now().toString(36)}.`;
      cfg = configFromFlags(flags, {
        'http.port': flags.httpPort ?? 0,
        'kafka.groupId': flags.group ?? `${prefix}ingest`,
        'kafka.dlqTopic': `${prefix}dead-letter`,
        'kafka.topics.interval': `${prefix}${TOPICS.interval}`,
        'kafka.topics.sessionEvent': `${prefix}${TOPICS.sessionEvent}`,
        'kafka.topics.vehicleReport': `${prefix}${TOPICS.vehicleReport}`,
        'kafka.topics.enrollment': `${prefix}${TOPICS.enrollment}`,
      });
    }
    const log = createLogger(flags.logLevel ?? 'warn');
    const showProgress = process.stderr.isTTY && !flags.json;
    const started = Date.now();
    const fleetOptions: FleetOptionsInput = {
      premises: flags.premises,
      seed: flags.seed,
      from: Date.UTC(2026, 9, 1),
      to: Date.UTC(2026, 9, 1) + flags.days * DAY_MS,
      intervalS: flags.intervalS,
      ...(flags.faults ? {} : { noFaults: true }),
    };
    const dataRoot = resolve(cfg.store.path, '..');
    const fleetDir = join(dataRoot, `fleet-s${flags.seed}-p${flags.premises}-d${flags.days}${flags.faults ? '' : '-clean'}`);
    if (!flags.json) process.stderr.write(`simulating ${flags.premises} homes over ${flags.days} days (seed ${flags.seed}) into ${fleetDir}\n`);
    await writeFleetFiles(fleetOptions, fleetDir);
    const ingestStarted = Date.now();
    let recordsIn: number;
    if (flags.kafka) {
      await ensureTopics(cfg.kafka.brokers, [cfg.kafka.dlqTopic], flags.partitions, 1, cfg.kafka.rdkafka);
      const produced = await produceFleet(fleetOptions, { brokers: cfg.kafka.brokers, partitions: flags.partitions, topics: cfg.kafka.topics, rdkafka: cfg.kafka.rdkafka });
      if (!flags.json) process.stderr.write(`produced ${produced.messages} messages to ${cfg.kafka.brokers} (topics ${cfg.kafka.topics.interval}, ...); consuming until drained\n`);
      const result = await runIngestService(cfg, { idleExitMs: 4_000, log });
      recordsIn = result.records;
      if (result.exitCode !== 0) process.exitCode = result.exitCode;
    } else {
      recordsIn = await ingestFromFiles(cfg, log, fleetDir, showProgress);
    }
    const ingestSeconds = (Date.now() - ingestStarted) / 1000;
    const store = await openMigratedStore(cfg, log);
    let facts;
    let check;
    let refresh;
    try {
      // What a deployment does after ingest (or every few minutes): finish the rollups, so the
      // totals below and a billing system's lookups read one row per session.
      refresh = await refreshRollups(store);
      facts = await storedFacts(store);
      check = await checkTruth(store, readTruthFile(fleetDir), { source: 'views' });
    } finally {
      await store.close();
    }
    const summary: RunSummary = {
      source: flags.kafka ? 'kafka' : 'files',
      fleetDir,
      storePath: cfg.store.kind === 'embedded' ? resolve(cfg.store.path) : cfg.store.url,
      database: cfg.store.database,
      seconds: (Date.now() - started) / 1000,
      recordsIn,
      recordsPerSecond: Math.round(recordsIn / Math.max(ingestSeconds, 0.001)),
      sessions: facts.sessions,
      energyWh: facts.energyWh,
      truthEnergyWh: check.expected.wh,
      exact: check.status === 'pass',
      mismatchedSessions: check.mismatchedSessions,
      minuteRows: facts.minuteRows,
      rollupsFinished: refresh.stale,
      refreshSeconds: Number(refresh.seconds.toFixed(3)),
      unfinishedSessions: facts.unfinished,
      conflicts: facts.conflicts,
      deadLetters: facts.deadLetters,
    };
    if (flags.json) {
      process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    } else {
      const kwh = (wh: number) => (wh / 1000).toLocaleString('en-US', { minimumFractionDigits: 3, maximumFractionDigits: 3 });
      // Printed for the user to run, never executed here.
      const lookQuery = `SELECT * FROM ${summary.database}.session_rollup LIMIT 10`;
      const dead = Object.entries(summary.deadLetters).map(([c, n]) => `${c} ${n}`).join(', ') || 'none';
      process.stdout.write(
        [
          '',
          'pevmeter run',
          `  source             ${summary.source === 'kafka' ? `Kafka ${cfg.kafka.brokers}` : `Avro container files in ${fleetDir}`}`,
          `  records ingested   ${summary.recordsIn.toLocaleString('en-US')} in ${ingestSeconds.toFixed(1)} s (${summary.recordsPerSecond.toLocaleString('en-US')} records/s)`,
          `  sessions           ${summary.sessions.toLocaleString('en-US')} (${summary.unfinishedSessions} without an end summary, kept to their last minute)`,
          `  energy             ${kwh(summary.energyWh)} kWh (${summary.energyWh.toLocaleString('en-US')} Wh)`,
          `  simulator truth    ${kwh(summary.truthEnergyWh)} kWh: ${summary.exact ? 'exact, every session' : `${summary.mismatchedSessions} sessions differ`}`,
          `  per-minute rows    ${summary.minuteRows.toLocaleString('en-US')}`,
          `  finished rollups   ${summary.rollupsFinished.toLocaleString('en-US')} sessions in ${summary.refreshSeconds.toFixed(1)} s (pevmeter refresh)`,
          `  conflicts          ${summary.conflicts} intervals resent with different values (first received counts)`,
          `  dead letters       ${dead}`,
          `  data               ${summary.storePath} (database ${summary.database})`,
          '',
          'Look inside (embedded store, from this folder):',
          `  ${reconcileHint(flags.days, cfg.store.path)}`,
          `  npx pevmeter sql --data ${cfg.store.path} "${lookQuery}"`,
          '',
        ].join('\n'),
      );
    }
    if (!summary.exact) process.exitCode = process.exitCode ?? 1;
  });
}
