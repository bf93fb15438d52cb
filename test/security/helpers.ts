/**
 * Shared by the security tests: distinctive secrets and a scanner that looks for them in every
 * form they could leak in (as is, URL-encoded, inside a Basic auth header), the command line run
 * as a child process with all of its output captured, and loopback HTTP helpers.
 */
import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { packageRoot } from '../../schemas/index.js';

export const ROOT = packageRoot();

/** Values no code, log or fixture would contain by accident; none is a substring of another. */
export const SECRETS = {
  clickhousePassword: 'Zq9-secret-ch',
  clickhouseUrlPassword: 'Zq9-urlsecret-ch',
  saslPassword: 'Zq9-secret-sasl',
  sslKeyPassword: 'Zq9-secret-sslkey',
  registryPassword: 'Zq9-secret-regpw',
  registryUrlPassword: 'Zq9-urlsecret-reg',
  registryToken: 'Zq9-secret-token',
} as const;

export const USERS = { clickhouse: 'pevmeter', sasl: 'sasl-user', registry: 'reg-user' } as const;

/** Every form of every secret worth looking for: raw, URL-encoded, base64 of user:secret (Basic auth). */
export function secretForms(): { name: string; form: string }[] {
  const out: { name: string; form: string }[] = [];
  for (const [name, s] of Object.entries(SECRETS)) {
    out.push({ name, form: s });
    if (encodeURIComponent(s) !== s) out.push({ name: `${name} (URL-encoded)`, form: encodeURIComponent(s) });
    for (const user of [...Object.values(USERS), 'default']) out.push({ name: `${name} (Basic ${user}:...)`, form: Buffer.from(`${user}:${s}`).toString('base64') });
  }
  return out;
}

/** Leaks in `text`: which secret, in which form, with 60 characters of context. */
export function findLeaks(text: string): string[] {
  const leaks: string[] = [];
  for (const { name, form } of secretForms()) {
    let at = text.indexOf(form);
    while (at >= 0) {
      leaks.push(`${name}: ...${text.slice(Math.max(0, at - 60), at + form.length + 20).replace(/\n/g, '\\n')}...`);
      at = text.indexOf(form, at + 1);
    }
  }
  return leaks;
}

/** The pevmeter command line the tests spawn, run from source. */
export const CLI_ENTRY = join(ROOT, 'cli.ts');

/** Node arguments that let a child run TypeScript source the way this test process does. */
export function tsNodeArgs(): string[] {
  return process.execArgv.filter((a) => /@tapjs[/\\]typescript|^--enable-source-maps$/.test(a));
}

function tsNodeEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('TS_NODE_') && v !== undefined) out[k] = v;
  return out;
}

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Every /metrics, /healthz and /readyz answer scraped while it ran. */
  scraped: string[];
  ms: number;
}

export interface ChildOptions {
  env: Record<string, string>;
  /** Scrape /metrics (and /healthz, /readyz) on this port while the child runs. */
  metricsPort?: number;
  /**
   * Sends SIGTERM once this holds for the output and scrapes so far (a service that would otherwise
   * wait forever). Checked on every stderr chunk and after every round of scrapes.
   */
  stopWhen?: (stderr: string, stdout: string, scraped: readonly string[]) => boolean;
  timeoutMs: number;
}

/** Runs the CLI with `args`, capturing everything it writes; SIGKILL at `timeoutMs`. */
export async function runCli(args: readonly string[], o: ChildOptions): Promise<ChildRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [...tsNodeArgs(), CLI_ENTRY, ...args], {
    cwd: ROOT,
    // Only what the run needs: no inherited PEVMETER_* or service variables change the scenario.
    // TS_NODE_* carries tap's loader settings (transpile only, the project file) to the child.
    env: { ...tsNodeEnv(), PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let stopped = false;
  const scraped: string[] = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const stopIfDone = (): void => {
    if (!stopped && o.stopWhen?.(stderr, stdout, scraped)) {
      stopped = true;
      child.kill('SIGTERM');
    }
  };
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    stopIfDone();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
  const killer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
  let running = true;
  void done.then(() => (running = false));
  const scraping = (async () => {
    if (o.metricsPort === undefined) return;
    while (running) {
      for (const path of ['/metrics', '/healthz', '/readyz']) {
        try {
          const res = await httpGet(o.metricsPort, path);
          scraped.push(`${path} ${res.status}\n${res.body}`);
        } catch {
          // not listening yet, or gone
        }
      }
      stopIfDone();
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  const end = await done;
  clearTimeout(killer);
  await scraping;
  return { ...end, stdout, stderr, scraped, ms: Date.now() - started };
}

/**
 * GET on a fresh connection closed after the answer. A kept-alive connection that is busy every
 * few hundred milliseconds would hold the ops server's close() open (see endpoints.test.ts), and a
 * scraper must not change how the process it watches shuts down.
 */
export function httpGet(port: number, path: string, timeoutMs = 2_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** A loopback port nothing listens on (taken, then released). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
