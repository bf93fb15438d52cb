/**
 * Real services for integration tests. The environment wins (CI starts the services once and
 * exports KAFKA_BROKERS and CLICKHOUSE_URL); without it, the local scripts in test/services/ start
 * them on first use and leave them running for the next test file (tap runs each file in its own
 * process, two at a time: the scripts serialize concurrent starts with a lock).
 *
 * Tests that stop a server on purpose (outage tests) never touch the shared one: they start a
 * private instance with `privateClickhouseServer(t)` on their own ports and data folder.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { inspect, promisify } from 'node:util';
import type { Test } from 'tap';
import { topicSet } from '../../bench/chaos/kafka.js';
import type { RecordKind } from '../../schemas/index.js';
import { openStore } from '../../aggregate/store/connect.js';
import type { Store, StoreOptions } from '../../aggregate/store/types.js';
import { packageRoot } from '../../schemas/index.js';

const run = promisify(execFile);
const ROOT = packageRoot();
const SERVICES = join(ROOT, 'test', 'services');
const LOCKS = join(ROOT, '.cache', 'locks');

async function script(
  name: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 600_000,
): Promise<string> {
  mkdirSync(LOCKS, { recursive: true });
  // flock: a second test file asking for the same service waits for the first start to finish.
  // -o: the service started in the background must not inherit (and hold) the lock.
  const port = env['KAFKA_PORT'] ?? env['CH_HTTP_PORT'] ?? process.env['KAFKA_PORT'] ?? 'default';
  const lock = join(LOCKS, `${name}-${port}.lock`);
  try {
    const { stdout } = await run('flock', ['-o', lock, 'bash', join(SERVICES, name), ...args], {
      env: { ...process.env, ...env },
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`test/services/${name} ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`, { cause: err });
  }
}

let brokers: Promise<string> | undefined;

/**
 * Bootstrap servers of a Kafka 4.x broker: KAFKA_BROKERS when set, otherwise the local broker
 * (`test/services/kafka.sh start`, 127.0.0.1:19092 or KAFKA_PORT), started if it is not running.
 */
export function kafkaBrokers(): Promise<string> {
  const fromEnv = process.env['KAFKA_BROKERS'];
  if (fromEnv !== undefined && fromEnv !== '') return Promise.resolve(fromEnv);
  brokers ??= script('kafka.sh', ['start']).then(() => `127.0.0.1:${process.env['KAFKA_PORT'] ?? '19092'}`);
  return brokers;
}

/** Where a ClickHouse server answers over HTTP, and as whom to log in. */
export interface ClickhouseServer {
  /** The URL without credentials. */
  url: string;
  username: string;
  password: string;
}

/** Splits `http://user:password@host:port/` into a credential-free URL and the credentials. */
export function parseServerUrl(text: string): ClickhouseServer {
  const u = new URL(text);
  const username = decodeURIComponent(u.username) || process.env['CLICKHOUSE_USER'] || 'default';
  const password = decodeURIComponent(u.password) || process.env['CLICKHOUSE_PASSWORD'] || '';
  u.username = '';
  u.password = '';
  return { url: u.toString().replace(/\/$/, ''), username, password };
}

function lastUrl(stdout: string): string {
  const line = stdout.trim().split('\n').pop() ?? '';
  if (!/^https?:\/\//.test(line)) throw new Error(`clickhouse-server.sh printed no URL: ${JSON.stringify(stdout)}`);
  return line;
}

let shared: Promise<string> | undefined;

/**
 * URL of a ClickHouse server, credentials included (`http://user:password@127.0.0.1:18123`):
 * CLICKHOUSE_URL when set, otherwise the shared local 18.16 server (test/services/clickhouse-server.sh),
 * started if needed. Only for tests that need a server process; everything else uses `tempStore`.
 */
export function clickhouseServerUrl(): Promise<string> {
  const fromEnv = process.env['CLICKHOUSE_URL'];
  if (fromEnv !== undefined && fromEnv !== '') return Promise.resolve(fromEnv);
  shared ??= script('clickhouse-server.sh', ['start']).then(lastUrl);
  return shared;
}

export async function clickhouseServer(): Promise<ClickhouseServer> {
  return parseServerUrl(await clickhouseServerUrl());
}

/** StoreOptions for the HTTP transport against `server`, in `database`. */
export function httpStoreOptions(
  server: ClickhouseServer,
  database: string,
  overrides: Partial<Extract<StoreOptions, { kind: 'http' }>> = {},
): StoreOptions {
  return {
    kind: 'http',
    url: server.url,
    username: server.username,
    password: server.password,
    database,
    requestTimeoutMs: 10_000,
    ...overrides,
  };
}

/** A ClickHouse server process this test owns: it may stop and start it at will. */
export interface PrivateClickhouseServer extends ClickhouseServer {
  httpPort: number;
  /** Starts it (again, on the same data) and waits until /ping answers. */
  start(): Promise<void>;
  /** Kills it; the data stays for the next start. */
  stop(): Promise<void>;
  /** Sends a signal to the server process (SIGSTOP/SIGCONT make a hung server without closing sockets). */
  signal(sig: NodeJS.Signals): void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr !== null && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/**
 * Starts a private Debian clickhouse-server (18.16) on free loopback ports with its own data
 * folder; stopped and wiped when the test ends.
 */
export async function privateClickhouseServer(t: Test): Promise<PrivateClickhouseServer> {
  const httpPort = await freePort();
  let tcpPort = await freePort();
  while (tcpPort === httpPort) tcpPort = await freePort();
  const env = { CH_HTTP_PORT: String(httpPort), CH_TCP_PORT: String(tcpPort) };
  const chDir = process.env['CH_DIR'] ?? join(ROOT, '.cache', 'clickhouse-server');
  const server = parseServerUrl(lastUrl(await script('clickhouse-server.sh', ['start'], env, 120_000)));
  t.teardown(async () => {
    try {
      process.kill(Number(readFileSync(join(chDir, `run-${httpPort}`, 'pid'), 'utf8').trim()), 'SIGCONT');
    } catch {
      // not running or already stopped: nothing to resume
    }
    await script('clickhouse-server.sh', ['reset'], env, 60_000);
  });
  return {
    ...server,
    httpPort,
    start: async () => {
      await script('clickhouse-server.sh', ['start'], env, 120_000);
    },
    stop: async () => {
      await script('clickhouse-server.sh', ['stop'], env, 60_000);
    },
    signal: (sig) => {
      const pidFile = join(chDir, `run-${httpPort}`, 'pid');
      process.kill(Number(readFileSync(pidFile, 'utf8').trim()), sig);
    },
  };
}

/**
 * An embedded (chDB) store in a fresh folder named after the test, migrated unless
 * `migrate: false`, closed and removed when the test ends. chDB holds one folder per process: use
 * one tempStore at a time per test file (sequential subtests are fine; a tempStore in a parent
 * and another in its subtest are not).
 */
export async function tempStore(t: Test, opts: { database?: string; migrate?: boolean } = {}): Promise<Store> {
  // Not t.testdir(): tap removes that folder on its own schedule, while chDB's background merge
  // threads may still be finishing a part just after close; removal here retries instead.
  const dir = join(t.testdirName, 'chdb');
  rmSync(dir, { recursive: true, force: true });
  const store = await openStore({ kind: 'embedded', path: dir, database: opts.database ?? 'pevmeter' });
  t.teardown(async () => {
    await store.close();
    rmSync(t.testdirName, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });
  if (opts.migrate ?? true) await store.migrate();
  return store;
}

let counter = 0;

/**
 * A name unique across processes and runs, usable as a Kafka topic, a consumer group and a
 * ClickHouse database: `[a-z0-9_]` only, starting with the prefix.
 */
export function uniqueName(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  counter += 1;
  return `${clean}_${process.pid.toString(36)}_${Date.now().toString(36)}_${counter}`;
}

/**
 * A run of one test file against the real broker: a unique name, its source topics by record kind
 * and dead-letter topic (named as the fault runs name them, bench/chaos/kafka.ts topicSet), and a
 * fresh folder under tap's test dir, removed when the file's tests end.
 */
export function brokerRun(t: Test, prefix: string): { run: string; topics: Record<RecordKind, string>; dlqTopic: string; dir: string } {
  const run = uniqueName(prefix);
  const { dlq: dlqTopic, ...topics } = topicSet(run);
  const dir = t.testdirName;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  t.teardown(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  return { run, topics, dlqTopic, dir };
}

/**
 * Polls `cond` until it returns a truthy value (returned) or `timeoutMs` passes, then fails with
 * `timed out after N ms waiting for <what>` plus the last error `cond` threw, if any.
 */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  opts: { timeoutMs: number; what: string; intervalMs?: number },
): Promise<NonNullable<T>> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError === undefined ? '' : `; last error: ${lastError instanceof Error ? lastError.message : inspect(lastError)}`;
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${why}`);
    }
    await new Promise((r) => setTimeout(r, Math.min(opts.intervalMs ?? 100, Math.max(1, deadline - Date.now()))));
  }
}
