/**
 * Flags shared by every command that touches Kafka or the store, mapped onto configuration paths,
 * so `simulate`, `ingest`, `run` and `reconcile` spell the same thing the same way.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig, type Config } from './config.js';

export interface CommonFlags {
  config?: string;
  data?: string;
  clickhouseUrl?: string;
  clickhouseUser?: string;
  database?: string;
  brokers?: string;
  group?: string;
  registry?: string;
  workers?: number;
  logLevel?: string;
  httpPort?: number;
}

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, got "${value}"`);
    return n;
  };
}

export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'configuration file (YAML or JSON); see docs/configuration.md')
    .option('--data <dir>', 'embedded store folder (chDB) [store.path, default .data/chdb]')
    .option('--clickhouse-url <url>', 'use a ClickHouse server over HTTP instead of the embedded store (password: PEVMETER_CLICKHOUSE_PASSWORD)')
    .option('--clickhouse-user <name>', 'ClickHouse user [store.username]')
    .option('--database <name>', 'ClickHouse database [store.database, default pevmeter]')
    .option('--brokers <list>', 'Kafka bootstrap servers [kafka.brokers]')
    .option('--group <id>', 'Kafka consumer group [kafka.groupId]')
    .option('--registry <url>', 'Confluent-compatible Schema Registry [registry.url]; default: schemas/ in this package')
    .option('--workers <n>', 'decode worker threads [pipeline.workers]', positiveInt('--workers'))
    .option('--http-port <port>', 'metrics and health port, 0 = off [http.port]', positiveInt('--http-port'))
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent [log.level]');
}

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
