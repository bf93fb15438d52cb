/**
 * `npm run bench:peer`: pevmeter against ClickHouse's Kafka engine + materialized view + SummingMergeTree
 * (bench/peer/peer.sql) on one topic, plus kcat's consume-only limit and the exactness run. Writes
 * bench/results/peer.json and prints a table.
 *
 *   node dist/bench/peer/main.js [--records 1000000] [--partitions 2] [--records-per-message 1]
 *        [--seed 1] [--exact-records 200000] [--fault-share 0.2] [--no-exactness] [--no-kcat]
 *        [--systems peer,ours] [--consumers C] [--workers W] [--keep] [--out FILE]
 *        [--topic NAME --topic-records N [--topic-messages M]]
 *
 * Needs a Kafka broker (KAFKA_BROKERS, else 127.0.0.1:19092: test/services/kafka.sh start).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { packageRoot } from '../../schemas/index.js';
import { runPeerBench, TOTAL_FAULTS, type PeerBenchOptions } from './index.js';
import { renderTable } from './report.js';

const VALUE_FLAGS = ['records', 'partitions', 'records-per-message', 'seed', 'exact-records', 'fault-share', 'systems', 'consumers', 'workers', 'out', 'topic', 'topic-records', 'topic-messages'];
const BOOL_FLAGS = ['no-exactness', 'no-kcat', 'keep', 'help'];

function parse(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!.replace(/^--/, '');
    if (BOOL_FLAGS.includes(name)) out.set(name, 'true');
    else if (VALUE_FLAGS.includes(name) && argv[i + 1] !== undefined) out.set(name, argv[++i]!);
    else throw new Error(`unknown or incomplete flag ${argv[i]!}; flags: ${[...VALUE_FLAGS, ...BOOL_FLAGS].map((f) => '--' + f).join(' ')}`);
  }
  return out;
}

function positiveInt(flags: Map<string, string>, name: string): number | undefined {
  const raw = flags.get(name);
  if (raw === undefined) return undefined;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got ${raw}`);
  return n;
}

async function main(): Promise<void> {
  const flags = parse(process.argv.slice(2));
  if (flags.has('help')) {
    process.stdout.write('usage: node dist/bench/peer/main.js [--records N] [--partitions P] [--records-per-message K] [--no-exactness] [--no-kcat] ... (see bench/peer/main.ts)\n');
    return;
  }
  const o: PeerBenchOptions = { log: (line) => process.stderr.write(`[bench:peer] ${line}\n`) };
  const records = positiveInt(flags, 'records');
  if (records !== undefined) o.records = records;
  const partitions = positiveInt(flags, 'partitions');
  if (partitions !== undefined) o.partitions = partitions;
  const rpm = positiveInt(flags, 'records-per-message');
  if (rpm !== undefined) o.recordsPerMessage = rpm;
  const seed = flags.get('seed');
  if (seed !== undefined) o.seed = seed;
  const consumers = positiveInt(flags, 'consumers');
  if (consumers !== undefined) o.consumers = consumers;
  const workers = positiveInt(flags, 'workers');
  if (workers !== undefined) o.workers = workers;
  if (flags.has('no-kcat')) o.kcat = false;
  if (flags.has('keep')) o.keep = true;
  const systems = flags.get('systems');
  if (systems !== undefined) {
    const list = systems.split(',');
    for (const s of list) if (s !== 'peer' && s !== 'ours') throw new Error(`--systems: expected peer and/or ours, got ${s}`);
    o.systems = list as ('peer' | 'ours')[];
  }
  if (flags.has('no-exactness')) o.exactness = false;
  else {
    const share = flags.get('fault-share');
    const n = share === undefined ? 0.2 : Number(share);
    if (!(n > 0 && n <= 1 / TOTAL_FAULTS.length)) throw new Error(`--fault-share: expected a share in (0, ${(1 / TOTAL_FAULTS.length).toFixed(3)}], got ${share}`);
    o.exactness = { share: n, ...(positiveInt(flags, 'exact-records') !== undefined ? { records: positiveInt(flags, 'exact-records')! } : {}) };
  }
  const topic = flags.get('topic');
  if (topic !== undefined) {
    const tr = positiveInt(flags, 'topic-records');
    if (tr === undefined) throw new Error('--topic needs --topic-records (the interval records it holds)');
    const tm = positiveInt(flags, 'topic-messages');
    o.topic = topic;
    o.records = tr;
    if (tm !== undefined) o.messages = tm;
  }
  const result = await runPeerBench(o);
  const out = resolve(flags.get('out') ?? join(packageRoot(), 'bench', 'results', 'peer.json'));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(renderTable(result) + `\n\nwritten: ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:peer: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
