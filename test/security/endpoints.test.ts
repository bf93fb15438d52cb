/**
 * The HTTP surface: /metrics, /healthz and /readyz only, GET only, bound to loopback by default.
 * There is no other endpoint, so none needs a token: every other path answers 404 and every other
 * method 405. The listening sockets are read from /proc (address and owner), not inferred: while
 * the service runs, this process listens on exactly one socket, the ops port on 127.0.0.1.
 */
import t from 'tap';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { Agent, get as httpGet } from 'node:http';
import { join } from 'node:path';
import { loadConfig } from '../../schemas/config.js';
import { Metrics, startOpsServer } from '../../ingest/metrics.js';
import { runIngestService } from '../../ingest/service.js';
import { createTopics } from '../ingest/bad-input/kafka.js';
import { kafkaBrokers, uniqueName } from '../helpers/services.js';

interface Listener {
  address: string;
  port: number;
  inode: string;
}

/** IPv4/IPv6 listening TCP sockets of the machine, from /proc/net/tcp{,6}. */
function listeners(): Listener[] {
  const out: Listener[] = [];
  for (const [file, v6] of [['/proc/net/tcp', false], ['/proc/net/tcp6', true]] as const) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      const [hex, portHex] = f[1]!.split(':') as [string, string];
      out.push({ address: v6 ? ipv6(hex) : ipv4(hex), port: parseInt(portHex, 16), inode: f[9]! });
    }
  }
  return out;
}

function ipv4(hex: string): string {
  return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
}

function ipv6(hex: string): string {
  // Four little-endian 32-bit words.
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) for (const i of [3, 2, 1, 0]) bytes.push(parseInt(hex.slice(w * 8 + i * 2, w * 8 + i * 2 + 2), 16));
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return `::ffff:${bytes.slice(12).join('.')}`;
  if (bytes.every((b, i) => b === (i === 15 ? 1 : 0))) return '::1';
  if (bytes.every((b) => b === 0)) return '::';
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Listening sockets owned by this process (socket inodes among /proc/self/fd). */
function ownListeners(): Listener[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return listeners().filter((l) => inodes.has(l.inode));
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** Paths an operator or an attacker might try; none exists. */
const NOT_SERVED = ['/', '/admin', '/api', '/api/v1/query', '/config', '/env', '/.env', '/debug', '/debug/pprof', '/status', '/shutdown', '/metrics/', '/metrics/../config', '/healthz/x', '/readyz/', '/METRICS', '//metrics', '/%2e%2e/etc/passwd', '/index.html', '/favicon.ico'];

async function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: method === 'HEAD' ? '' : await res.text(), headers: res.headers };
}

void t.test('the default http.host is loopback, and the documented default says so', (t) => {
  const cfg = loadConfig({ env: {} });
  t.equal(cfg.http.host, '127.0.0.1');
  t.equal(cfg.http.port, 9464);
  t.match(readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8'), /`http\.host`\s*\|\s*`127\.0\.0\.1`/, 'docs/configuration.md states it');
  t.end();
});

void t.test('ops server: three GET endpoints, everything else 404 or 405, bound to 127.0.0.1', async (t) => {
  const metrics = new Metrics();
  metrics.deadLetters.inc({ code: 'PEV_NO_MAGIC' });
  const ops = await startOpsServer(metrics, loadConfig({ env: {} }).http.host, 0);
  t.teardown(() => ops.close());
  const mine = listeners().filter((l) => l.port === ops.port);
  t.same(mine.map((l) => l.address), ['127.0.0.1'], `port ${ops.port} listens on 127.0.0.1 only`);

  const m = await get(ops.port, '/metrics');
  t.equal(m.status, 200);
  t.match(m.body, /pevmeter_dead_letters_total\{code="PEV_NO_MAGIC"\} 1/);
  t.equal((await get(ops.port, '/metrics?name[]=x')).status, 200, 'a query string changes nothing');
  t.same(await get(ops.port, '/healthz').then((r) => [r.status, r.body]), [200, 'ok\n']);
  t.same(await get(ops.port, '/readyz').then((r) => [r.status, r.body]), [503, 'not ready\n'], 'not ready until the pipeline runs');
  ops.setReady(true);
  t.equal((await get(ops.port, '/readyz')).status, 200);
  for (const path of NOT_SERVED) t.equal((await get(ops.port, path)).status, 404, `GET ${path}: 404`);
  for (const path of ['/metrics', '/healthz', '/readyz', '/admin']) {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'HEAD']) {
      const r = await get(ops.port, path, method);
      t.equal(r.status, 405, `${method} ${path}: 405`);
      t.equal(r.headers.get('allow'), 'GET');
    }
  }
});

void t.test('the running service listens on one socket only: the ops port, on loopback', async (t) => {
  const brokers = await kafkaBrokers();
  const run = uniqueName('endpoints');
  const dir = join(t.testdirName, 'chdb');
  rmSync(t.testdirName, { recursive: true, force: true });
  mkdirSync(t.testdirName, { recursive: true });
  t.teardown(() => rmSync(t.testdirName, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  const before = new Set(ownListeners().map((l) => l.inode));
  // ingest checks its dead-letter topic at start; the broker does not create topics on first use.
  await createTopics(brokers, [{ name: `${run}.dlq`, partitions: 1 }]);
  const cfg = loadConfig({ env: {}, flags: { 'kafka.brokers': brokers, 'kafka.groupId': run, 'kafka.dlqTopic': `${run}.dlq`, 'store.path': dir, 'http.port': 0, 'log.level': 'silent', 'pipeline.workers': 1 } });
  let seen: Listener[] = [];
  let port: number | undefined;
  const result = await runIngestService(cfg, {
    idleExitMs: 3_000,
    onReady: (info) => {
      port = info.port;
      seen = ownListeners().filter((l) => !before.has(l.inode));
    },
  });
  t.equal(result.exitCode, 0);
  t.ok(port !== undefined && port > 0, `ops port ${String(port)}`);
  t.same(seen.map((l) => `${l.address}:${l.port}`), [`127.0.0.1:${String(port)}`], 'one new listening socket, the ops port on 127.0.0.1');
  t.ok(seen.every((l) => LOOPBACK.has(l.address)));
});

void t.test('ops server close() does not wait for a client that keeps its connection busy', async (t) => {
  const ops = await startOpsServer(new Metrics(), '127.0.0.1', 0);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let polling = true;
  // A scraper or probe on one kept-alive connection, every 200 ms (under Node's 5 s keep-alive timeout).
  const poll = (async () => {
    while (polling) {
      await new Promise<void>((resolve) => {
        const req = httpGet({ host: '127.0.0.1', port: ops.port, path: '/healthz', agent }, (res) => res.resume().on('end', resolve));
        req.on('error', () => resolve());
      });
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  await new Promise((r) => setTimeout(r, 500));
  const started = Date.now();
  const closed = await Promise.race([ops.close().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 3_000))]);
  // Shutdown awaits ops.close() last: a probe that keeps its connection busy must not hold it open.
  t.ok(closed, `close() resolves within 3 s (${closed ? `${Date.now() - started} ms` : 'still open'})`);
  polling = false;
  await poll;
  agent.destroy();
  if (!closed) await ops.close();
});
