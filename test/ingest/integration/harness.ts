/**
 * Shared set-up of the ingest integration tests: fresh topics and a consumer group per test, the
 * ingest service as child processes (bench/chaos/ingest-process.ts: the compiled CLI, so
 * `npm run build` must have run), and the embedded store opened by the test only after every child
 * has exited (chDB holds one folder per process and locks it).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { openStore } from '../../../aggregate/store/connect.js';
import type { Store } from '../../../aggregate/store/types.js';
import { IngestProcess, tail, writeIngestConfig, type IngestConfigOptions, type IngestProcessOptions } from '../../../bench/chaos/ingest-process.js';
import { CHILD_RDKAFKA } from '../../../bench/chaos/scenarios/kit.js';
import { createTopics, deleteTopics, partitionsOf, sourceTopics, topicSet, type TopicSet } from '../../../bench/chaos/kafka.js';
import { privateBroker, type BrokerControl, type ClickhouseControl } from '../../../bench/chaos/services.js';
import type { ChaosContext } from '../../../bench/chaos/scenarios/types.js';
import { clickhouseServer, kafkaBrokers, uniqueName } from '../../helpers/services.js';

export interface IntegrationRun {
  brokers: string;
  topics: TopicSet;
  group: string;
  partitions: number;
  /** Working folder of the test (config, logs, the chDB folder). */
  dir: string;
  dataDir: string;
  configFile: string;
  logFile: string;
  /** Every source partition, for offset checks. */
  sourcePartitions: { topic: string; partition: number }[];
  /** Starts an ingest child with this run's topics, group and data folder. */
  start(extra?: Partial<IngestProcessOptions>): IngestProcess;
  /** Opens the chDB folder the children wrote (none may be running); closed at teardown. */
  openStore(): Promise<Store>;
  /** Opens the chDB folder for `fn` only, so a child can use it again afterwards. */
  withStore<T>(fn: (store: Store) => Promise<T>): Promise<T>;
}

export async function integrationRun(t: Test, name: string, o: { partitions?: number; config?: Omit<IngestConfigOptions, 'topics'>; brokers?: string } = {}): Promise<IntegrationRun> {
  const brokers = o.brokers ?? (await kafkaBrokers());
  const base = uniqueName(name);
  const topics = topicSet(base);
  const partitions = o.partitions ?? 4;
  await createTopics(brokers, [...sourceTopics(topics), topics.dlq], partitions);
  const dir = t.testdirName;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const dataDir = join(dir, 'chdb');
  const configFile = writeIngestConfig(join(dir, 'ingest.yaml'), { topics, ...(o.config ?? {}), rdkafka: { ...CHILD_RDKAFKA, ...(o.config?.rdkafka ?? {}) } });
  const logFile = join(dir, 'ingest.log');
  const children: IngestProcess[] = [];
  const stores: Store[] = [];
  t.teardown(async () => {
    for (const s of stores) await s.close();
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await deleteTopics(brokers, [...sourceTopics(topics), topics.dlq]);
    if (process.env['PEVMETER_KEEP_TEST_DATA'] === undefined) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });
  return {
    brokers,
    topics,
    group: `${base}-group`,
    partitions,
    dir,
    dataDir,
    configFile,
    logFile,
    sourcePartitions: partitionsOf(sourceTopics(topics), partitions),
    start(extra = {}) {
      const child = IngestProcess.start({ brokers, group: `${base}-group`, configFile, dataDir, logFile, ...extra });
      children.push(child);
      return child;
    },
    async openStore() {
      const running = children.filter((c) => c.running).map((c) => c.pid);
      if (running.length > 0) throw new Error(`openStore: ingest children ${running.join(', ')} still run on ${dataDir}`);
      const store = await openStore({ kind: 'embedded', path: dataDir, database: 'pevmeter' });
      stores.push(store);
      return store;
    },
    async withStore(fn) {
      const running = children.filter((c) => c.running).map((c) => c.pid);
      if (running.length > 0) throw new Error(`withStore: ingest children ${running.join(', ')} still run on ${dataDir}`);
      const store = await openStore({ kind: 'embedded', path: dataDir, database: 'pevmeter' });
      try {
        return await fn(store);
      } finally {
        await store.close();
      }
    },
  };
}

/** The run's log tail, for assertion messages. */
export function logTail(run: IntegrationRun, lines = 40): string {
  return tail(run.logFile, lines);
}

/**
 * A context for the fault-run scenarios (bench/chaos/scenarios/) inside a test: the shared
 * broker, the test's own folder, a seed; the ClickHouse server is the caller's choice (a private
 * one when the scenario stops it, the shared one otherwise).
 */
export async function scenarioContext(
  t: Test,
  o: { records: number; seed: string; clickhouse?: () => Promise<ClickhouseControl>; kills?: number; storeDownMs?: number; brokerDownMs?: number; brokerPort?: number },
): Promise<ChaosContext> {
  const brokers = await kafkaBrokers();
  const workDir = t.testdirName;
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  t.teardown(() => {
    if (process.env['PEVMETER_KEEP_TEST_DATA'] === undefined) rmSync(workDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });
  let broker: BrokerControl | undefined;
  t.teardown(async () => {
    if (broker) await broker.reset();
  });
  return {
    brokers,
    workDir,
    records: o.records,
    seed: o.seed,
    partitions: 4,
    kills: o.kills ?? 5,
    brokerDownMs: o.brokerDownMs ?? 5_000,
    storeDownMs: o.storeDownMs ?? 10_000,
    privateBroker: () => Promise.resolve((broker ??= privateBroker(o.brokerPort ?? 19_392))),
    clickhouse: o.clickhouse ?? sharedClickhouse,
    log: (line) => t.comment(line),
    keep: false,
  };
}

/** The shared ClickHouse server (18.16 unless CLICKHOUSE_URL says otherwise); tests never stop it. */
export async function sharedClickhouse(): Promise<ClickhouseControl> {
  const server = await clickhouseServer();
  const refuse = () => Promise.reject(new Error('the shared ClickHouse server is not stopped by tests; use privateClickhouseServer'));
  return { ...server, httpPort: Number(new URL(server.url).port), start: refuse, stop: refuse };
}
