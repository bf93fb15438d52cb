/**
 * `npm run bench:peer`: pevmeter against ClickHouse's Kafka engine + materialized view + SummingMergeTree
 * (bench/peer/peer.sql) on one topic, plus kcat's consume-only limit and the exactness run. Writes
 * bench/results/peer.json and prints a table.
 *
 *   node dist/bench/peer/main.js [options]     (--help lists them)
 *
 * Needs a Kafka broker (KAFKA_BROKERS, else 127.0.0.1:19092: test/services/kafka.sh start).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { packageRoot } from '../../schemas/index.js';
import { servicePids, verdictLines, watchQuiet } from '../measure/quiet.js';
import { runPeerBench, TOTAL_FAULTS, type PeerBenchOptions } from './index.js';
import { renderTable } from './report.js';

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v.replace(/[_,]/g, ''));
    if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${name}: expected a positive integer, got "${v}"`);
    return n;
  };
}

function share(v: string): number {
  const n = Number(v);
  if (!(n > 0 && n <= 1 / TOTAL_FAULTS.length)) throw new InvalidArgumentError(`--fault-share: expected a share in (0, ${(1 / TOTAL_FAULTS.length).toFixed(3)}], got "${v}"`);
  return n;
}

function systems(v: string): ('peer' | 'ours')[] {
  const list = v.split(',');
  for (const s of list) if (s !== 'peer' && s !== 'ours') throw new InvalidArgumentError(`--systems: expected peer and/or ours, got "${s}"`);
  return list as ('peer' | 'ours')[];
}

interface Flags {
  records?: number; partitions?: number; recordsPerMessage?: number; seed?: string; exactRecords?: number; faultShare: number;
  exactness: boolean; kcat: boolean; systems?: ('peer' | 'ours')[]; consumers?: number; workers?: number; keep: boolean; out: string; allowBusy?: boolean;
  topic?: string; topicRecords?: number; topicMessages?: number;
}

const program = new Command('bench:peer')
  .description('pevmeter against ClickHouse\'s Kafka engine + materialized view on one topic: records/s, CPU, and per-session exactness under resends, conflicts and a SIGKILL')
  .option('--records <n>', 'interval records in the throughput topic (default 1,000,000)', positiveInt('--records'))
  .option('--partitions <n>', 'partitions of the topic (default 2)', positiveInt('--partitions'))
  .option('--records-per-message <n>', 'records per Kafka message (default 1)', positiveInt('--records-per-message'))
  .option('--seed <text>', 'simulation seed (default 1)')
  .option('--exact-records <n>', 'records of the exactness run (default about 200,000)', positiveInt('--exact-records'))
  .option('--fault-share <x>', `share of sessions per fault kind in the exactness run, at most ${(1 / TOTAL_FAULTS.length).toFixed(3)}`, share, 0.2)
  .option('--no-exactness', 'skip the exactness run')
  .option('--no-kcat', "skip kcat's consume-only limit (default: run it when kcat is on PATH)")
  .option('--systems <list>', 'peer, ours, or both in the order given (default peer,ours)', systems)
  .option('--consumers <n>', "the peer's kafka_num_consumers (default min(partitions, cores))", positiveInt('--consumers'))
  .option('--workers <n>', "pevmeter's decode workers (default: the product's default)", positiveInt('--workers'))
  .option('--keep', 'keep the chDB folders under .cache/bench-peer', false)
  .option('--out <file>', 'where the JSON of a quiet run goes; a busy run writes peer-<run>.json beside it', join(packageRoot(), 'bench', 'results', 'peer.json'))
  .option('--allow-busy', 'write --out even if other work shared the machine (the result says so)')
  .option('--topic <name>', 'a pre-produced interval topic instead of producing one (needs --topic-records)')
  .option('--topic-records <n>', 'interval records the --topic holds', positiveInt('--topic-records'))
  .option('--topic-messages <n>', 'messages the --topic holds (for kcat)', positiveInt('--topic-messages'))
  .addHelpText('after', '\nNeeds a Kafka broker (KAFKA_BROKERS, else 127.0.0.1:19092: test/services/kafka.sh start).')
  .action(async (f: Flags) => {
    // Commander sets a --no-x flag's default to true: only an explicit --no-kcat turns kcat off.
    const o: PeerBenchOptions = { log: (line) => process.stderr.write(`[bench:peer] ${line}\n`), keep: f.keep };
    if (f.records !== undefined) o.records = f.records;
    if (f.partitions !== undefined) o.partitions = f.partitions;
    if (f.recordsPerMessage !== undefined) o.recordsPerMessage = f.recordsPerMessage;
    if (f.seed !== undefined) o.seed = f.seed;
    if (f.consumers !== undefined) o.consumers = f.consumers;
    if (f.workers !== undefined) o.workers = f.workers;
    if (!f.kcat) o.kcat = false;
    if (f.systems !== undefined) o.systems = f.systems;
    o.exactness = f.exactness ? { share: f.faultShare, ...(f.exactRecords !== undefined ? { records: f.exactRecords } : {}) } : false;
    if (f.topic !== undefined) {
      if (f.topicRecords === undefined) throw new InvalidArgumentError('--topic needs --topic-records (the interval records it holds)');
      o.topic = f.topic;
      o.records = f.topicRecords;
      if (f.topicMessages !== undefined) o.messages = f.topicMessages;
    }
    // Only a quiet run replaces the published figures (bench/measure/quiet.ts).
    const watch = watchQuiet({ servicePids: servicePids() });
    const result = await runPeerBench(o);
    const quiet = watch.stop();
    const published = { ...result, quiet };
    const requested = resolve(f.out);
    const out = quiet.publishable || f.allowBusy === true ? requested : join(dirname(requested), `peer-${result.runId}.json`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(published, null, 2) + '\n');
    process.stdout.write(renderTable(result) + `\n\nwritten: ${out}\n`);
    const busyNote = out === requested ? ' (written anyway: --allow-busy)' : ` ${requested} is unchanged.`;
    for (const line of verdictLines('bench:peer', quiet, 'npm run bench:peer', busyNote)) process.stderr.write(line + '\n');
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`bench:peer: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
