#!/usr/bin/env node
/**
 * `npm run chaos` (= `npm run build && node dist/bench/chaos/main.js`): the fault runs of issue 6.
 *
 *   node dist/bench/chaos/main.js --scenario all --records 1000000
 *   node dist/bench/chaos/main.js --scenario kill,store --records 100000 --kills 10
 *
 * Needs the shared Kafka broker (started if missing: test/services/kafka.sh), Java for a private
 * broker (broker scenario) and Debian's clickhouse-server (store, rejected, scale). Exit code 0 when
 * every scenario passed, 1 otherwise (a failed or unverified scenario).
 */
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { packageRoot } from '../../schemas/index.js';
import { runChaos } from './run.js';
import { SCENARIOS, type ScenarioName } from './scenarios/index.js';
import { privateBroker } from './services.js';

function int(name: string, min: number) {
  return (v: string): number => {
    const x = Number(v.replace(/[_,]/g, ''));
    if (!Number.isInteger(x) || x < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${v}"`);
    return x;
  };
}

function scenarios(v: string): ScenarioName[] {
  if (v === 'all') return [...SCENARIOS];
  const list = v.split(',').map((s) => s.trim());
  for (const s of list) if (!(SCENARIOS as readonly string[]).includes(s)) throw new InvalidArgumentError(`--scenario: unknown "${s}"; known: all, ${SCENARIOS.join(', ')}`);
  return list as ScenarioName[];
}

const root = packageRoot();
const program = new Command('chaos')
  .description('fault runs: feed simulated records, inject a fault, recover, check totals and offsets against ground truth')
  .option('--scenario <list>', `all, or a comma-separated list of ${SCENARIOS.join(', ')}`, scenarios, [...SCENARIOS])
  .option('--records <n>', 'records fed per scenario (at least)', int('--records', 1_000), 1_000_000)
  .option('--seed <text>', 'simulation and fault-timing seed', 'chaos-1')
  .option('--partitions <n>', 'partitions per topic', int('--partitions', 1), 4)
  .option('--kills <n>', 'SIGKILLs in the kill scenario', int('--kills', 1), 12)
  .option('--broker-down-ms <ms>', 'how long the broker stays down', int('--broker-down-ms', 0), 10_000)
  .option('--store-down-ms <ms>', 'how long the ClickHouse server stays down', int('--store-down-ms', 0), 30_000)
  .option('--broker-port <port>', 'port of the private broker the broker scenario kills', int('--broker-port', 1), 19_292)
  .option('--clickhouse-port <port>', 'HTTP port of the private ClickHouse server (0: a free one)', int('--clickhouse-port', 0), 0)
  .option('--out <dir>', 'results folder', join(root, 'bench', 'results'))
  .option('--work <dir>', 'working folder (stores, logs)', join(root, '.cache', 'chaos'))
  .option('--keep', 'keep topics and stores after the run', false)
  .action(async (o: { scenario: ScenarioName[]; records: number; seed: string; partitions: number; kills: number; brokerDownMs: number; storeDownMs: number; brokerPort: number; clickhousePort: number; out: string; work: string; keep: boolean }) => {
    let brokers = process.env['KAFKA_BROKERS'];
    if (brokers === undefined || brokers === '') {
      const shared = privateBroker(Number(process.env['KAFKA_PORT'] ?? 19_092));
      await shared.start();
      brokers = shared.brokers;
    }
    const started = Date.now();
    const results = await runChaos({
      scenarios: o.scenario,
      records: o.records,
      seed: o.seed,
      partitions: o.partitions,
      kills: o.kills,
      brokerDownMs: o.brokerDownMs,
      storeDownMs: o.storeDownMs,
      brokers,
      brokerPort: o.brokerPort,
      clickhousePort: o.clickhousePort,
      workDir: o.work,
      outDir: o.out,
      keep: o.keep,
      log: (line) => process.stdout.write(line + '\n'),
    });
    const bad = results.filter((r) => r.status !== 'pass');
    process.stdout.write(`\n${results.length - bad.length} of ${results.length} scenarios passed in ${((Date.now() - started) / 1000).toFixed(0)} s; results in ${o.out}/chaos.md\n`);
    process.exitCode = bad.length === 0 ? 0 : 1;
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`chaos: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
