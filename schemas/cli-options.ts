/**
 * Flag groups shared by the commands of several stages, mapped onto configuration paths, so
 * `ingest`, `run`, `migrate` and `reconcile` spell the same thing the same way. Each command adds
 * only the groups it uses: `reconcile` reads the store, so it offers the store flags and not
 * Kafka's. The groups live here, at the bottom layer, because every stage's command uses them.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type Config } from './config.js';

/** The configuration file and the store: what every command that opens the store takes. */
export interface StoreFlags {
  config?: string;
  data?: string;
  clickhouseUrl?: string;
  clickhouseUser?: string;
  database?: string;
  logLevel?: string;
}

/** Kafka, the registry, the worker pool and the ops endpoint: what the ingest commands add. */
export interface PipelineFlags {
  brokers?: string;
  group?: string;
  registry?: string;
  workers?: number;
  httpPort?: number;
}

export type CommonFlags = StoreFlags & PipelineFlags;

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, got "${value}"`);
    return n;
  };
}

/** A commander parser that accepts one of `values` and refuses anything else with a usage error. */
export function oneOf<T extends string>(name: string, values: readonly T[]) {
  return (v: string): T => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`${name} must be one of ${values.join(', ')}, got "${v}"`);
    return v as T;
  };
}

/** -c, the store flags and --log-level. */
export function addStoreOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'configuration file (YAML or JSON); see docs/configuration.md')
    .option('--data <dir>', 'embedded store folder (chDB) [store.path, default .data/chdb]')
    .option('--clickhouse-url <url>', 'use a ClickHouse server over HTTP instead of the embedded store (password: PEVMETER_CLICKHOUSE_PASSWORD)')
    .option('--clickhouse-user <name>', 'ClickHouse user [store.username]')
    .option('--database <name>', 'ClickHouse database [store.database, default pevmeter]')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent [log.level]');
}

/** Kafka, registry, workers and the metrics port, on top of the store flags. */
export function addPipelineOptions(cmd: Command): Command {
  return addStoreOptions(cmd)
    .option('--brokers <list>', 'Kafka bootstrap servers [kafka.brokers]')
    .option('--group <id>', 'Kafka consumer group [kafka.groupId]')
    .option('--registry <url>', 'Confluent-compatible Schema Registry [registry.url]; default: schemas/ in this package')
    .option('--workers <n>', 'decode worker threads [pipeline.workers]', positiveInt('--workers'))
    .option('--http-port <port>', 'metrics and health port, 0 = off [http.port]', positiveInt('--http-port'));
}

/** The configuration a command's flags resolve to (flags win over environment, file and defaults). */
export function configFromFlags(flags: CommonFlags, extra: Record<string, unknown> = {}): Config {
  return loadConfig({
    file: flags.config,
    flags: {
      'store.path': flags.data,
      'store.kind': flags.clickhouseUrl ? 'http' : undefined,
      'store.url': flags.clickhouseUrl,
      'store.username': flags.clickhouseUser,
      'store.database': flags.database,
      'kafka.brokers': flags.brokers,
      'kafka.groupId': flags.group,
      'registry.url': flags.registry,
      'pipeline.workers': flags.workers,
      'http.port': flags.httpPort,
      'log.level': flags.logLevel,
      ...extra,
    },
  });
}
