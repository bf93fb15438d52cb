/**
 * Configuration: one typed object resolved from, in rising precedence, defaults, a config file
 * (YAML or JSON), environment variables and command-line flags; validated once, here, against one
 * schema. Unknown keys are rejected and every error names the option (`store.url`, not "invalid").
 * docs/configuration.md lists every option with its default; a test checks the two agree.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { TOPICS } from './index.js';
import { ConfigError } from './errors.js';

const rdkafkaValue = z.union([z.string(), z.number(), z.boolean()]);

export const configSchema = z.strictObject({
  kafka: z
    .strictObject({
      /** Bootstrap servers, comma-separated host:port. */
      brokers: z.string().min(1).default('127.0.0.1:19092'),
      groupId: z.string().min(1).default('pevmeter-ingest'),
      topics: z
        .strictObject({
          interval: z.string().min(1).default(TOPICS.interval),
          sessionEvent: z.string().min(1).default(TOPICS.sessionEvent),
          vehicleReport: z.string().min(1).default(TOPICS.vehicleReport),
          enrollment: z.string().min(1).default(TOPICS.enrollment),
        })
        .prefault({}),
      dlqTopic: z.string().min(1).default('pev.dead-letter'),
      /** Passed to librdkafka as is (security.protocol, sasl.*, ssl.*, fetch sizes...). */
      rdkafka: z.record(z.string(), rdkafkaValue).default({}),
      /** Messages taken per consume call: one unit of work, committed together. */
      consumeBatch: z.int().min(1).max(1_000_000).default(20_000),
      consumeTimeoutMs: z.int().min(1).max(60_000).default(100),
    })
    .prefault({}),
  registry: z
    .strictObject({
      /** Confluent-compatible Schema Registry base URL; without it, schemas come from schemas/. */
      url: z.url().optional(),
      username: z.string().optional(),
      password: z.string().optional(),
      token: z.string().optional(),
      timeoutMs: z.int().min(100).max(120_000).default(5_000),
      /** Largest answer read from the registry; a larger one is PEV_REGISTRY_TOO_LARGE. */
      maxResponseBytes: z.int().min(1024).max(256 * 1024 * 1024).default(4 * 1024 * 1024),
    })
    .prefault({}),
  store: z
    .strictObject({
      kind: z.enum(['embedded', 'http']).default('embedded'),
      /** Folder chDB persists to (embedded). */
      path: z.string().min(1).default('.data/chdb'),
      url: z.url().default('http://127.0.0.1:8123'),
      /** '' = the URL's user, else `default`. */
      username: z.string().default(''),
      password: z.string().default(''),
      database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a ClickHouse identifier: letters, digits, _').default('pevmeter'),
      caCertPath: z.string().optional(),
      requestTimeoutMs: z.int().min(1_000).max(600_000).default(60_000),
    })
    .prefault({}),
  pipeline: z
    .strictObject({
      /** Decode worker threads. */
      workers: z.int().min(1).max(64).default(Math.max(1, Math.min(2, availableParallelism()))),
      /** Units (consume batches) decoded or being written at once; bounds memory. */
      maxInflightUnits: z.int().min(1).max(64).default(3),
      /**
       * Records per unit, at most (about: the consume size follows the records per message of the
       * last unit). With kafka.consumeBatch it bounds what a unit holds until it commits.
       */
      maxUnitRecords: z.int().min(1).max(10_000_000).default(100_000),
      maxMessageBytes: z.int().min(64).max(100 * 1024 * 1024).default(1024 * 1024),
      /** How far in the future a record's timestamp may be before it is dead-lettered. */
      clockSkewMs: z.int().min(0).max(7 * 24 * 3600 * 1000).default(5 * 60 * 1000),
      /** First and largest wait between retries of a store write that failed retryably. */
      retryInitialMs: z.int().min(1).max(60_000).default(200),
      retryMaxMs: z.int().min(1).max(600_000).default(5_000),
      /** SIGTERM/SIGINT: drain, commit and exit within this time. */
      shutdownTimeoutMs: z.int().min(1_000).max(600_000).default(30_000),
    })
    .prefault({}),
  http: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      /** Port of /metrics, /healthz and /readyz; 0 turns the server off. */
      port: z.int().min(0).max(65_535).default(9464),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** Environment variables and the option each sets. Secrets have variables so they stay out of files. */
export const ENV_OPTIONS: Record<string, string> = {
  PEVMETER_KAFKA_BROKERS: 'kafka.brokers',
  PEVMETER_KAFKA_GROUP_ID: 'kafka.groupId',
  PEVMETER_KAFKA_SASL_USERNAME: 'kafka.rdkafka.sasl.username',
  PEVMETER_KAFKA_SASL_PASSWORD: 'kafka.rdkafka.sasl.password',
  PEVMETER_REGISTRY_URL: 'registry.url',
  PEVMETER_REGISTRY_USERNAME: 'registry.username',
  PEVMETER_REGISTRY_PASSWORD: 'registry.password',
  PEVMETER_REGISTRY_TOKEN: 'registry.token',
  PEVMETER_STORE: 'store.kind',
  PEVMETER_DATA_DIR: 'store.path',
  PEVMETER_CLICKHOUSE_URL: 'store.url',
  PEVMETER_CLICKHOUSE_USER: 'store.username',
  PEVMETER_CLICKHOUSE_PASSWORD: 'store.password',
  PEVMETER_CLICKHOUSE_DATABASE: 'store.database',
  PEVMETER_WORKERS: 'pipeline.workers',
  PEVMETER_HTTP_PORT: 'http.port',
  PEVMETER_LOG_LEVEL: 'log.level',
};

/** Options whose values are secrets: redacted from logs, errors and metrics. */
export const SECRET_PATHS = ['store.password', 'registry.password', 'registry.token', 'kafka.rdkafka["sasl.password"]', 'kafka.rdkafka["ssl.key.password"]'];

type Tree = Record<string, unknown>;

/** Sets `a.b.c` in a tree; under `kafka.rdkafka` the rest of the path is one librdkafka key. */
function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.startsWith('kafka.rdkafka.') ? ['kafka', 'rdkafka', path.slice('kafka.rdkafka.'.length)] : path.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]!] = value;
}

function isPlainObject(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(into: Tree, from: Tree): Tree {
  for (const [k, v] of Object.entries(from)) {
    if (v === undefined) continue;
    const cur = into[k];
    into[k] = isPlainObject(cur) && isPlainObject(v) && k !== 'rdkafka' ? merge({ ...cur }, v) : isPlainObject(cur) && isPlainObject(v) ? { ...cur, ...v } : v;
  }
  return into;
}

/** Numbers in the environment arrive as strings; coerce where the schema wants an integer. */
function coerceEnv(path: string, raw: string): unknown {
  if (path === 'pipeline.workers' || path === 'http.port') {
    const n = Number(raw);
    return Number.isInteger(n) ? n : raw;
  }
  if (path === 'store.kind' && raw !== 'embedded' && raw !== 'http') return raw;
  return raw;
}

export interface LoadConfigOptions {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Flag values as dotted paths, e.g. { 'store.kind': 'http' }. */
  flags?: Record<string, unknown>;
}

export function loadConfig(opts: LoadConfigOptions = {}): Config {
  let tree: Tree = {};
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`config file ${opts.file} cannot be read: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new ConfigError(`config file ${opts.file} is not valid YAML or JSON: ${(err as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined && !isPlainObject(parsed)) throw new ConfigError(`config file ${opts.file} must hold a mapping at the top level`);
    tree = merge(tree, parsed ?? {});
  }
  const env = opts.env ?? process.env;
  const fromEnv: Tree = {};
  for (const [name, path] of Object.entries(ENV_OPTIONS)) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') setPath(fromEnv, path, coerceEnv(path, raw));
  }
  tree = merge(tree, fromEnv);
  const fromFlags: Tree = {};
  for (const [path, value] of Object.entries(opts.flags ?? {})) if (value !== undefined) setPath(fromFlags, path, value);
  tree = merge(tree, fromFlags);
  const result = configSchema.safeParse(tree);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const path = i.path.map(String).join('.') || '(top level)';
      const keys = i.code === 'unrecognized_keys' ? ` (${i.keys.join(', ')})` : '';
      return `${path}: ${i.message}${keys}`;
    });
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  const cfg = result.data;
  if (cfg.pipeline.retryMaxMs < cfg.pipeline.retryInitialMs) {
    throw new ConfigError('invalid configuration: pipeline.retryMaxMs must be >= pipeline.retryInitialMs');
  }
  return cfg;
}

/**
 * A URL as it may be shown: the password of its user info replaced. Both URLs accept credentials
 * in user info (store.url, registry.url), so printing them as given would print the password.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//[redacted]@');
  }
  if (u.password === '') return url;
  return `${u.protocol}//${u.username}:[redacted]@${u.host}${u.pathname}${u.search}${u.hash}`;
}

/** The configuration as it may be shown: secrets replaced. */
export function redactedConfig(cfg: Config): unknown {
  const copy = structuredClone(cfg) as Tree & Config;
  copy.store.url = redactUrl(copy.store.url);
  if (copy.registry.url) copy.registry.url = redactUrl(copy.registry.url);
  if (copy.store.password) copy.store.password = '[redacted]';
  if (copy.registry.password) copy.registry.password = '[redacted]';
  if (copy.registry.token) copy.registry.token = '[redacted]';
  for (const key of Object.keys(copy.kafka.rdkafka)) {
    if (/password|secret|token|key\.pem|sasl\.oauthbearer/i.test(key)) copy.kafka.rdkafka[key] = '[redacted]';
  }
  return copy;
}
