/**
 * Credentials never appear in logs, errors or metrics. The ingest command runs as a child process
 * with every secret set to a distinctive value (ClickHouse password, in the environment and in
 * the URL; SASL password; SSL key password; registry token, password, and password in the URL),
 * at log level debug, through a normal run and through each failure path that talks about the
 * thing the secret opens: a registry that refuses, a registry that is down, a ClickHouse server
 * that rejects the password, one that is down, and SASL against a broker that does not speak it.
 * All of stdout, stderr and every /metrics, /healthz, /readyz answer are scanned for each secret,
 * raw, URL-encoded and as a Basic auth header.
 *
 * In-process, the errors themselves (message, cause chain, util.inspect of the whole object) are
 * scanned too: a caller may log an error object whole.
 */
import t from 'tap';
import type { Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { openStore } from '../../aggregate/store/connect.js';
import { loadConfig, redactedConfig } from '../../schemas/config.js';
import { HttpSchemaResolver } from '../../ingest/registry/http.js';
import { scrubSecrets } from '../../schemas/scrub.js';
import { secretsOf } from '../../ingest/service.js';
import { localSchemas } from '../../schemas/index.js';
import { clickhouseServer, kafkaBrokers, brokerRun } from '../helpers/services.js';
import { corpus, framed, goodInterval, goodSessionEvent } from '../ingest/bad-input/cases.js';
import { createTopics, produceAll } from '../ingest/bad-input/kafka.js';
import type { OutMessage } from '../ingest/bad-input/kafka.js';
import { SECRETS, USERS, findLeaks, freePort, httpGet, runCli } from './helpers.js';
import type { ChildRun } from './helpers.js';

const brokers = await kafkaBrokers();
const { run, topics, dlqTopic, dir } = brokerRun(t, 'secrets');

// A registry that serves our schemas to the right credentials only, and remembers what it was sent.
type RegistryMode = 'token' | 'refuse';
let registryMode: RegistryMode = 'token';
const authSeen: string[] = [];
const schemas = new Map(localSchemas().map((s) => [s.id, s.text]));
const registry = createServer((req: IncomingMessage, res: ServerResponse) => {
  const auth = req.headers.authorization ?? '';
  authSeen.push(auth);
  if (registryMode === 'refuse' || auth !== `Bearer ${SECRETS.registryToken}`) {
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"error_code": 40101, "message": "Unauthorized"}');
    return;
  }
  const text = schemas.get(Number(/\/schemas\/ids\/(\d+)$/.exec(req.url ?? '')?.[1]));
  if (text === undefined) res.writeHead(404).end('{"error_code": 40403, "message": "Schema not found"}');
  else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ schema: text }));
});
await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
const registryPort = (registry.address() as { port: number }).port;
t.teardown(() => {
  registry.closeAllConnections();
  registry.close();
});

await createTopics(brokers, [...Object.values(topics).map((name) => ({ name, partitions: 1 })), { name: dlqTopic, partitions: 1 }]);
const messages: OutMessage[] = [];
for (let i = 0; i < 20; i++) messages.push({ topic: topics.interval, partition: 0, value: framed('interval', goodInterval(i)) });
for (let i = 0; i < 3; i++) messages.push({ topic: topics.sessionEvent, partition: 0, value: framed('sessionEvent', goodSessionEvent(i)) });
// Bad records, so the dead-letter path and its messages run with the secrets set.
for (const c of corpus(Date.now(), 1024 * 1024).filter((c) => c.kind === 'interval' && c.name !== 'oversize message').slice(0, 12)) {
  const m: OutMessage = { topic: topics.interval, partition: 0, value: c.value };
  if (c.headers) m.headers = c.headers;
  messages.push(m);
}
await produceAll(brokers, messages);

/** A config file with the non-secret settings of a scenario; secrets come from the environment. */
function configFile(name: string, rdkafka: Record<string, string>): string {
  const path = join(dir, `${name}.yaml`);
  const yaml = {
    kafka: { topics, dlqTopic, rdkafka },
    registry: { timeoutMs: 1_000 },
    store: { path: join(dir, `${name}-chdb`), requestTimeoutMs: 5_000 },
    pipeline: { workers: 1, shutdownTimeoutMs: 2_000, retryInitialMs: 100, retryMaxMs: 200 },
  };
  writeFileSync(path, JSON.stringify(yaml, null, 2));
  return path;
}

/** Arguments of a scenario: its config file, its own group, debug logs, and an ops port to scrape. */
async function commonArgs(name: string, rdkafka: Record<string, string> = {}): Promise<{ args: string[]; port: number }> {
  const port = await freePort();
  return { args: ['ingest', '--config', configFile(name, rdkafka), '--brokers', brokers, '--group', `${run}-${name}`, '--log-level', 'debug', '--http-port', String(port)], port };
}

const allSecrets = {
  PEVMETER_CLICKHOUSE_PASSWORD: SECRETS.clickhousePassword,
  PEVMETER_KAFKA_SASL_USERNAME: USERS.sasl,
  PEVMETER_KAFKA_SASL_PASSWORD: SECRETS.saslPassword,
};

function checkNoLeak(t: Test, r: ChildRun, what: string): void {
  const all = [r.stdout, r.stderr, ...r.scraped].join('\n');
  t.same(findLeaks(all), [], `${what}: no secret in ${r.stdout.length + r.stderr.length} bytes of output and ${r.scraped.length} scrapes`);
}

void t.test('a normal run with every secret set: logs (debug), dead letters and /metrics carry none', async (t) => {
  registryMode = 'token';
  authSeen.length = 0;
  const { args, port } = await commonArgs('normal', { 'ssl.key.password': SECRETS.sslKeyPassword });
  const r = await runCli([...args, '--until-idle', '6000'], {
    env: { ...allSecrets, PEVMETER_REGISTRY_URL: `http://127.0.0.1:${registryPort}`, PEVMETER_REGISTRY_TOKEN: SECRETS.registryToken },
    metricsPort: port,
    timeoutMs: 180_000,
  });
  t.equal(r.code, 0, `exits 0 (${(r.ms / 1000).toFixed(1)} s)${r.code === 0 ? '' : `: ${r.stderr.slice(-2000)}`}`);
  t.ok(authSeen.includes(`Bearer ${SECRETS.registryToken}`), 'the registry token was used');
  t.ok(r.scraped.some((s) => s.startsWith('/metrics 200') && /pevmeter_dead_letters_total\{code="PEV_/.test(s)), 'metrics were scraped, dead letters counted');
  t.match(r.stderr, /"\[redacted\]"/, 'the config log line shows redacted values');
  checkNoLeak(t, r, 'normal run');
});

void t.test('registry refuses basic auth given in the URL: the pause log names the refusal, not the credentials', async (t) => {
  registryMode = 'refuse';
  authSeen.length = 0;
  const { args, port } = await commonArgs('refused');
  const r = await runCli(args, {
    metricsPort: port,
    env: { ...allSecrets, PEVMETER_REGISTRY_URL: `http://${USERS.registry}:${SECRETS.registryUrlPassword}@127.0.0.1:${registryPort}` },
    stopWhen: (stderr) => (stderr.match(/schema registry unavailable/g) ?? []).length >= 2,
    timeoutMs: 120_000,
  });
  t.match(r.stderr, /refused the request \(HTTP 401\)/, 'the refusal is logged');
  t.ok(authSeen.includes(`Basic ${Buffer.from(`${USERS.registry}:${SECRETS.registryUrlPassword}`).toString('base64')}`), 'the URL credentials were sent as Basic auth');
  checkNoLeak(t, r, 'registry 401');
});

const RETRIES_COUNTED = /pevmeter_registry_retries_total [1-9]/;

void t.test('registry down with a token and a password: nothing leaks from the pause or the drain', async (t) => {
  const closed = await freePort();
  const { args, port } = await commonArgs('regdown');
  const r = await runCli(args, {
    metricsPort: port,
    env: { ...allSecrets, PEVMETER_REGISTRY_URL: `http://127.0.0.1:${closed}`, PEVMETER_REGISTRY_TOKEN: SECRETS.registryToken },
    // Two pause lines, and a scrape that has seen a counted retry: stopping on the log line alone
    // raced the scraper (a 300 ms round) and once left no scrape with the counter above zero.
    stopWhen: (stderr, _stdout, scraped) =>
      (stderr.match(/schema registry unavailable/g) ?? []).length >= 2 && scraped.some((s) => RETRIES_COUNTED.test(s)),
    timeoutMs: 120_000,
  });
  t.match(r.stderr, /ECONNREFUSED/, 'the outage is logged');
  t.ok(r.scraped.some((s) => RETRIES_COUNTED.test(s)), '/metrics was scraped during the pause and counts the retries');
  checkNoLeak(t, r, 'registry down');
});

/** The shared server answers /ping within 5 s (another test may have it stopped or hung). */
async function pingable(url: string): Promise<boolean> {
  const u = new URL(url);
  return httpGet(Number(u.port), '/ping', 5_000).then((r) => r.status === 200, () => false);
}

void t.test('ClickHouse server rejects the password (environment): the error names the failure, not the password', async (t) => {
  const server = await clickhouseServer();
  if (!(await pingable(server.url))) {
    t.fail(`the shared ClickHouse server at ${server.url} does not answer /ping: cannot run this scenario`);
    return;
  }
  const { args, port } = await commonArgs('chwrong');
  const r = await runCli([...args, '--clickhouse-url', server.url, '--clickhouse-user', server.username], {
    metricsPort: port,
    env: { ...allSecrets },
    timeoutMs: 120_000,
  });
  t.equal(r.code, 1, 'exits 1');
  t.match(r.stderr, /pevmeter: PEV_STORE_REJECTED: /, 'one clear error line');
  checkNoLeak(t, r, 'wrong ClickHouse password');
});

void t.test('ClickHouse URL with the password in it, rejected: the URL is shown without it', async (t) => {
  const server = await clickhouseServer();
  if (!(await pingable(server.url))) {
    t.fail(`the shared ClickHouse server at ${server.url} does not answer /ping: cannot run this scenario`);
    return;
  }
  const url = new URL(server.url);
  url.username = USERS.clickhouse;
  url.password = SECRETS.clickhouseUrlPassword;
  const { args, port } = await commonArgs('churl');
  const r = await runCli([...args, '--clickhouse-url', url.toString()], { env: {}, metricsPort: port, timeoutMs: 120_000 });
  t.equal(r.code, 1, 'exits 1');
  t.match(r.stderr, /pevmeter: PEV_STORE_REJECTED: /, 'one clear error line');
  checkNoLeak(t, r, 'password in the ClickHouse URL');
});

void t.test('a server (or proxy) that echoes the password in its error: the echo is redacted', async (t) => {
  // Worst case for redaction: the error text itself carries the secret, as sent.
  const echo = createServer((req, res) => {
    const basic = req.headers.authorization?.startsWith('Basic ') ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString() : '';
    const key = String(req.headers['x-clickhouse-key'] ?? '');
    req.resume();
    res.writeHead(500, { 'content-type': 'text/plain', 'x-clickhouse-exception-code': '516' })
      .end(`Code: 516. DB::Exception: ${USERS.clickhouse}: Authentication failed: password '${key}' / '${basic}' is incorrect. (AUTHENTICATION_FAILED)\n`);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    echo.closeAllConnections();
    echo.close();
  });
  const port = (echo.address() as { port: number }).port;
  for (const [what, url, env] of [
    ['password in the environment', `http://127.0.0.1:${port}`, { PEVMETER_CLICKHOUSE_PASSWORD: SECRETS.clickhousePassword }],
    ['password in the URL', `http://${USERS.clickhouse}:${SECRETS.clickhouseUrlPassword}@127.0.0.1:${port}`, {}],
  ] as const) {
    const { args, port: ops } = await commonArgs(`echo-${what.split(' ').pop()!}`);
    const r = await runCli([...args, '--clickhouse-url', url, '--clickhouse-user', USERS.clickhouse], { env: { ...env }, metricsPort: ops, timeoutMs: 120_000 });
    t.equal(r.code, 1, `${what}: exits 1`);
    t.match(r.stderr, /pevmeter: PEV_STORE_REJECTED: .*Authentication failed/, `${what}: the reason is kept`);
    t.match(r.stderr, /pevmeter: PEV_STORE_REJECTED: .*\[redacted\]/, `${what}: the echoed password was there, and was replaced`);
    checkNoLeak(t, r, `${what}, echoed by the server`);
  }
});

void t.test('ClickHouse server down: the retry log lines and the final error carry no password', async (t) => {
  const closed = await freePort();
  const { args, port } = await commonArgs('chdown');
  // The password is in the URL only: another one in the environment beside it is refused (PEV_CONFIG).
  const otherSecrets = { PEVMETER_KAFKA_SASL_USERNAME: USERS.sasl, PEVMETER_KAFKA_SASL_PASSWORD: SECRETS.saslPassword };
  const r = await runCli([...args, '--clickhouse-url', `http://${USERS.clickhouse}:${SECRETS.clickhouseUrlPassword}@127.0.0.1:${closed}`], {
    metricsPort: port,
    env: otherSecrets,
    timeoutMs: 180_000,
  });
  t.equal(r.code, 1, 'gives up and exits 1');
  t.match(r.stderr, /store not reachable for migrations; retrying/, 'retries are logged');
  checkNoLeak(t, r, 'ClickHouse down');
});

void t.test('SASL against a broker that does not speak it: client errors and the final error carry no SASL password', async (t) => {
  const { args, port } = await commonArgs('sasl', { 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': 'PLAIN' });
  const r = await runCli(args, {
    metricsPort: port,
    env: { ...allSecrets },
    timeoutMs: 180_000,
  });
  t.not(r.code, 0, `fails (exit ${String(r.code)})`);
  t.match(r.stderr, /PEV_KAFKA|kafka client error/, 'the Kafka failure is logged');
  checkNoLeak(t, r, 'SASL failure');
});

void t.test('in-process: errors, their causes and their inspection carry no secret', async (t) => {
  // A ClickHouse server that is down, credentials in the URL and in the option.
  const closed = await freePort();
  const store = await openStore({
    kind: 'http', url: `http://${USERS.clickhouse}:${SECRETS.clickhouseUrlPassword}@127.0.0.1:${closed}`, username: '', password: '', database: 'pevmeter', requestTimeoutMs: 2_000,
  });
  const e1 = await store.migrate().then(() => undefined, (e: unknown) => e);
  await store.close();
  t.ok(e1, 'migrate fails');
  t.same(findLeaks(inspect(e1, { depth: 10 })), [], 'store error (URL credentials), inspected whole');
  const store2 = await openStore({ kind: 'http', url: `http://127.0.0.1:${closed}`, username: USERS.clickhouse, password: SECRETS.clickhousePassword, database: 'pevmeter', requestTimeoutMs: 2_000 });
  const e2 = await store2.migrate().then(() => undefined, (e: unknown) => e);
  await store2.close();
  t.same(findLeaks(inspect(e2, { depth: 10 })), [], 'store error (password option), inspected whole');
  // A registry that refuses, and one that is down, with each kind of credential.
  registryMode = 'refuse';
  for (const o of [
    { url: `http://127.0.0.1:${registryPort}`, token: SECRETS.registryToken },
    { url: `http://127.0.0.1:${registryPort}`, username: USERS.registry, password: SECRETS.registryPassword },
    { url: `http://${USERS.registry}:${SECRETS.registryUrlPassword}@127.0.0.1:${registryPort}/prefix` },
    { url: `http://127.0.0.1:${closed}`, token: SECRETS.registryToken },
  ]) {
    const retries: unknown[] = [];
    const r = new HttpSchemaResolver({ ...o, retries: 1, backoffMs: 1, onRetry: (e) => retries.push(e) });
    const err = await r.resolve([1001]).then(() => undefined, (e: unknown) => e);
    await r.close();
    const label = o.url.replace(/\/\/.*@/, '//user:…@');
    t.ok(err, `${label}: resolve fails`);
    t.same(findLeaks(inspect({ err, retries, endpoint: r.http.endpoint }, { depth: 10 })), [], `${label}: error, retry events and endpoint`);
  }
  // What the service logs at start, and what it scrubs free text with.
  const cfg = loadConfig({
    env: {
      PEVMETER_CLICKHOUSE_URL: `https://${USERS.clickhouse}:${SECRETS.clickhouseUrlPassword}@ch.example:8443`,
      PEVMETER_CLICKHOUSE_PASSWORD: SECRETS.clickhousePassword,
      PEVMETER_REGISTRY_URL: `https://${USERS.registry}:${SECRETS.registryUrlPassword}@registry.example`,
      PEVMETER_KAFKA_SASL_PASSWORD: SECRETS.saslPassword,
    },
    flags: { 'kafka.rdkafka.ssl.key.password': SECRETS.sslKeyPassword, 'kafka.rdkafka.sasl.oauthbearer.client.secret': SECRETS.registryToken },
  });
  t.same(findLeaks(JSON.stringify(redactedConfig(cfg))), [], 'redactedConfig: passwords in options and in URLs');
  const free = `failed: http://${USERS.clickhouse}:${SECRETS.clickhouseUrlPassword}@ch.example:8443 said ${SECRETS.clickhousePassword} ${SECRETS.saslPassword} ${SECRETS.registryUrlPassword}`;
  t.same(findLeaks(scrubSecrets(free, secretsOf(cfg))), [], 'scrubSecrets(secretsOf(cfg)) removes every configured secret from free text');
});
