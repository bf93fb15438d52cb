/**
 * `pevmeter simulate`: the fleet simulator on the command line. Writes Avro container files,
 * truth.jsonl and manifest.json to --out, or produces to Kafka with --kafka (truth and manifest
 * still go to --out; add --files for the container files too), in one pass over the stream.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { RECORD_KINDS, TOPICS, type RecordKind } from '../../schemas/index.js';
import { ConfigError } from '../../schemas/errors.js';
import { FAULT_KINDS, Fleet, defaultFaultShares, type FaultKind, type FleetOptionsInput } from './fleet.js';
import { FileSink } from './file-writer.js';
import { KafkaSink, type TopicAck } from './kafka-writer.js';

export interface SimulateRun {
  fleet: FleetOptionsInput;
  /** Folder for truth.jsonl and manifest.json (and the container files). */
  out: string;
  /** Write the Avro container files (default: unless `kafka` is given). */
  files?: boolean;
  kafka?: { brokers: string; partitions?: number; topicPrefix?: string; timestamps?: 'simulated' | 'now' };
}

export interface SimulateSummary {
  out: string;
  sessions: number;
  faultedSessions: number;
  faults: Record<FaultKind, number>;
  /** Good records per topic and in all (malformed messages not included). */
  records: Record<string, number>;
  totalRecords: number;
  intervalRecords: number;
  /** Message value bytes produced, malformed included. */
  bytes: number;
  malformedMessages: number;
  files: Record<string, { records: number; bytes: number }> | null;
  kafka: { brokers: string; messages: number; bytes: number; topics: Record<string, TopicAck> } | null;
  seconds: number;
  recordsPerSecond: number;
  intervalRecordsPerSecond: number;
}

/** Runs the simulator once, feeding the file sink and (optionally) Kafka from the same stream. */
export async function runSimulation(run: SimulateRun): Promise<SimulateSummary> {
  const started = process.hrtime.bigint();
  const fleet = new Fleet(run.fleet);
  const files = new FileSink(run.out, fleet, { containers: run.files ?? run.kafka === undefined });
  const kafka = run.kafka ? await KafkaSink.open({ ...run.kafka }) : undefined;
  let kafkaResult: SimulateSummary['kafka'] = null;
  try {
    if (kafka) {
      let sinceYield = 0;
      for (const m of fleet.messages((t) => files.session(t))) {
        files.message(m);
        while (!kafka.write(m)) await kafka.drain();
        if (++sinceYield >= 20_000) {
          sinceYield = 0;
          await new Promise<void>((r) => setImmediate(r));
        }
      }
    } else {
      // Files only: bodies go straight into the containers (no message objects, no copy).
      const writers = files.bodyWriters();
      if (writers) files.skipMalformed(fleet.forEachBody(writers, (t) => files.session(t)).malformed);
      else fleet.forEach(() => undefined, (t) => files.session(t));
    }
  } finally {
    if (kafka) {
      const acked = await kafka.close();
      kafkaResult = { brokers: run.kafka?.brokers ?? '', ...acked };
    }
  }
  const { files: written } = files.close();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const counts = fleet.counts;
  const records: Record<string, number> = {};
  let totalRecords = 0;
  let bytes = 0;
  for (const kind of RECORD_KINDS) {
    const t = counts.topics[TOPICS[kind]]!;
    records[TOPICS[kind]] = t.records;
    totalRecords += t.records;
    bytes += t.bytes;
  }
  return {
    out: run.out,
    sessions: fleet.sessionCount,
    faultedSessions: Object.values(fleet.faultCounts).reduce((a, b) => a + b, 0),
    faults: fleet.faultCounts,
    records,
    totalRecords,
    intervalRecords: counts.intervalRecords,
    bytes,
    malformedMessages: counts.malformed.messages,
    files: written ? Object.fromEntries(RECORD_KINDS.map((k: RecordKind) => [TOPICS[k], { records: written[k].records, bytes: written[k].bytes }])) : null,
    kafka: kafkaResult,
    seconds,
    recordsPerSecond: Math.round(totalRecords / Math.max(seconds, 1e-9)),
    intervalRecordsPerSecond: Math.round(counts.intervalRecords / Math.max(seconds, 1e-9)),
  };
}

interface SimulateFlags {
  premises: number;
  from?: string;
  to?: string;
  seed: string;
  intervalS: number;
  recordsPerMessage: number;
  fault: string[];
  faults: boolean;
  out: string;
  files?: boolean;
  kafka?: string;
  partitions: number;
  topicPrefix?: string;
  json?: boolean;
}

function intOption(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${name}: expected a positive integer, got "${v}"`);
    return n;
  };
}

function collectFault(v: string, previous: string[]): string[] {
  return [...previous, v];
}

/** --fault values ("gap=0.01") over the default shares, or over none with --no-faults. */
export function faultShares(pairs: readonly string[], noFaults: boolean): Partial<Record<FaultKind, number>> {
  const shares: Partial<Record<FaultKind, number>> = noFaults ? {} : { ...defaultFaultShares };
  for (const pair of pairs) {
    const m = /^([a-z_]+)=([0-9.]+)$/.exec(pair);
    const kind = m?.[1] as FaultKind | undefined;
    if (!m || !kind || !(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw new ConfigError(`--fault: expected KIND=SHARE with KIND one of ${FAULT_KINDS.join(', ')}, got "${pair}"`);
    }
    shares[kind] = Number(m[2]);
  }
  return shares;
}

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('simulate a fleet of home chargers with ground truth: Avro container files (or Kafka), truth.jsonl, manifest.json')
    .option('--premises <n>', 'premises, each with one enrolled PEV, ESCI and EUMD', intOption('--premises'), 1000)
    .option('--from <iso>', 'first plug-in time, UTC (default 2026-10-01T00:00:00Z)')
    .option('--to <iso>', 'plug-ins before this time, UTC (default: --from plus 7 days)')
    .option('--seed <seed>', 'same seed and options, same bytes', '1')
    .option('--interval-s <s>', 'EUMD metering interval: 15, 30, 60, 300 or 900 seconds', intOption('--interval-s'), 60)
    .option('--records-per-message <n>', 'records packed per Kafka message (header pev-records)', intOption('--records-per-message'), 1)
    .option('--fault <kind=share>', `share of sessions with a fault kind (repeatable): ${FAULT_KINDS.join(', ')}`, collectFault, [])
    .option('--no-faults', 'no default fault shares (only those given with --fault)')
    .option('--out <dir>', 'folder for the files, truth.jsonl and manifest.json', '.data/sim')
    .option('--kafka <brokers>', 'produce to these Kafka brokers instead of writing container files')
    .option('--files', 'with --kafka, write the container files as well')
    .option('--partitions <n>', 'partitions of topics created with --kafka', intOption('--partitions'), 4)
    .option('--topic-prefix <prefix>', 'prefix for the topic names with --kafka')
    .option('--json', 'print the summary as JSON')
    .action(async (flags: SimulateFlags) => {
      const fleet: FleetOptionsInput = {
        premises: flags.premises,
        seed: flags.seed,
        intervalS: flags.intervalS,
        recordsPerMessage: flags.recordsPerMessage,
        faults: faultShares(flags.fault, !flags.faults),
        ...(flags.from !== undefined ? { from: flags.from } : {}),
        ...(flags.to !== undefined ? { to: flags.to } : {}),
      };
      const summary = await runSimulation({
        fleet,
        out: resolve(flags.out),
        ...(flags.files ? { files: true } : {}),
        ...(flags.kafka !== undefined
          ? { kafka: { brokers: flags.kafka, partitions: flags.partitions, ...(flags.topicPrefix !== undefined ? { topicPrefix: flags.topicPrefix } : {}) } }
          : {}),
      });
      process.stdout.write(flags.json ? JSON.stringify(summary, null, 2) + '\n' : formatSummary(summary));
    });
}

export function formatSummary(s: SimulateSummary): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const faults = Object.entries(s.faults).filter(([, c]) => c > 0).map(([k, c]) => `${k} ${c}`).join(', ') || 'none';
  const lines = [
    '',
    'pevmeter simulate',
    `  sessions        ${n(s.sessions)} (${n(s.faultedSessions)} with an injected fault)`,
    `  faults          ${faults}`,
    `  records         ${n(s.totalRecords)} (${n(s.intervalRecords)} intervals), ${n(s.malformedMessages)} malformed messages`,
    `  bytes           ${n(s.bytes)}`,
    `  time            ${s.seconds.toFixed(2)} s: ${n(s.recordsPerSecond)} records/s, ${n(s.intervalRecordsPerSecond)} interval records/s`,
    `  output          ${s.out}${s.files ? ' (Avro container files, truth.jsonl, manifest.json)' : ' (truth.jsonl, manifest.json)'}`,
  ];
  if (s.kafka) lines.push(`  kafka           ${n(s.kafka.messages)} messages, ${n(s.kafka.bytes)} bytes acknowledged by ${s.kafka.brokers}`);
  return lines.join('\n') + '\n\n';
}
