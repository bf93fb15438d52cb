/**
 * Services a fault run may break on purpose: its own Kafka broker and its own ClickHouse server
 * (Debian's 18.16), started with the scripts in test/services/ on ports nobody else uses, so
 * killing them never disturbs the shared services other tests rely on.
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { packageRoot } from '../../schemas/index.js';

const run = promisify(execFile);
const ROOT = packageRoot();

async function script(name: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<string> {
  const locks = join(ROOT, '.cache', 'locks');
  mkdirSync(locks, { recursive: true });
  const port = env['KAFKA_PORT'] ?? env['CH_HTTP_PORT'] ?? 'default';
  try {
    const { stdout } = await run('flock', ['-o', join(locks, `${name}-${port}.lock`), 'bash', join(ROOT, 'test', 'services', name), ...args], {
      env: { ...process.env, ...env },
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`test/services/${name} ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`, { cause: err });
  }
}

/** A service the run may stop and start; its data survives a stop. */
export interface Restartable {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface BrokerControl extends Restartable {
  brokers: string;
  /** Stops it and wipes its data. */
  reset(): Promise<void>;
}

/** A private single-node Kafka broker on `port` (controller on port + 1). */
export function privateBroker(port: number): BrokerControl {
  const env = { KAFKA_PORT: String(port) };
  return {
    brokers: `127.0.0.1:${port}`,
    start: async () => {
      await script('kafka.sh', ['start'], env, 300_000);
    },
    stop: async () => {
      await script('kafka.sh', ['stop'], env, 60_000);
    },
    reset: async () => {
      await script('kafka.sh', ['reset'], env, 60_000);
    },
  };
}

export interface ClickhouseControl extends Restartable {
  /** URL without credentials. */
  url: string;
  username: string;
  password: string;
  httpPort: number;
}

/** A private clickhouse-server on `httpPort` (TCP on httpPort + 1) with its own data folder. */
export async function privateClickhouse(httpPort: number): Promise<ClickhouseControl & { reset(): Promise<void> }> {
  const env = { CH_HTTP_PORT: String(httpPort), CH_TCP_PORT: String(httpPort + 1) };
  const out = await script('clickhouse-server.sh', ['start'], env, 120_000);
  const line = out.trim().split('\n').pop() ?? '';
  const u = new URL(line);
  const username = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  return {
    url: u.toString().replace(/\/$/, ''),
    username,
    password,
    httpPort,
    start: async () => {
      await script('clickhouse-server.sh', ['start'], env, 120_000);
    },
    stop: async () => {
      await script('clickhouse-server.sh', ['stop'], env, 60_000);
    },
    reset: async () => {
      await script('clickhouse-server.sh', ['reset'], env, 60_000);
    },
  };
}

/** A TCP port free on loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr !== null && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** users.xml of a private server started by test/services/clickhouse-server.sh on `httpPort`. */
export function usersXmlOf(httpPort: number): string {
  return join(process.env['CH_DIR'] ?? join(ROOT, '.cache', 'clickhouse-server'), `run-${httpPort}`, 'users.xml');
}
