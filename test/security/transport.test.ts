/**
 * TLS and SASL are configurable and reach the clients that use them.
 *
 * ClickHouse, end to end: an HTTPS server with a certificate from a private CA made here (openssl)
 * stands in for ClickHouse. With `store.caCertPath` the store connects and sends its credentials
 * over TLS; without it, or with another CA, the connection is refused as untrusted (a rejection,
 * not an outage to wait out), and the error names the certificate problem, not the password.
 *
 * Kafka, at the client level (no TLS broker here): `kafka.rdkafka` settings (security.protocol,
 * sasl.*, ssl.*) are in the librdkafka configuration of the consumer and of the dead-letter
 * producer, the pipeline's own settings (manual commits, group) cannot be overridden by them, and
 * librdkafka really loads the client key with ssl.key.password: the right password gets as far as
 * the network, a wrong one fails on the key.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { openStore } from '../../aggregate/store/connect.js';
import { loadConfig } from '../../schemas/config.js';
import { createLogger } from '../../ingest/log.js';
import { IngestConsumer } from '../../ingest/kafka/consumer.js';
import { KafkaDeadLetterSink, pickClientSettings } from '../../ingest/kafka/dead-letter.js';
import { Metrics } from '../../ingest/metrics.js';
import { storeOptionsOf } from '../../aggregate/store/connect.js';
import { kafkaBrokers, uniqueName } from '../helpers/services.js';
import { SECRETS, USERS, findLeaks, freePort } from './helpers.js';

const dir = t.testdir({});

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
}

/** A CA, a server certificate for 127.0.0.1 signed by it, a client key encrypted with a password, and an unrelated CA. */
function makePki(): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  openssl('req', '-x509', ...ec, '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=pevmeter test CA');
  openssl('req', '-x509', ...ec, '-nodes', '-keyout', 'other-ca.key', '-out', 'other-ca.pem', '-days', '2', '-subj', '/CN=someone else');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('req', ...ec, '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  openssl('req', ...ec, '-passout', `pass:${SECRETS.sslKeyPassword}`, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=pevmeter-ingest');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '2');
}
makePki();

void t.test('ClickHouse over TLS: store.caCertPath is used; untrusted servers are refused', async (t) => {
  const seen: { user: string | undefined; key: string | undefined; auth: string | undefined; tls: boolean }[] = [];
  const server = createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, (req: IncomingMessage, res: ServerResponse) => {
    seen.push({
      user: req.headers['x-clickhouse-user'] as string | undefined,
      key: req.headers['x-clickhouse-key'] as string | undefined,
      auth: req.headers.authorization,
      tls: (req.socket as TLSSocket).encrypted === true,
    });
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-ndjson', 'x-clickhouse-format': 'JSONEachRow' }).end('{"x":1}\n'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const env = { PEVMETER_CLICKHOUSE_URL: `https://127.0.0.1:${port}`, PEVMETER_CLICKHOUSE_USER: USERS.clickhouse, PEVMETER_CLICKHOUSE_PASSWORD: SECRETS.clickhousePassword, PEVMETER_STORE: 'http' };

  const cfg = loadConfig({ env, flags: { 'store.caCertPath': join(dir, 'ca.pem') } });
  const options = storeOptionsOf(cfg);
  t.match(options, { kind: 'http', url: `https://127.0.0.1:${port}`, caCertPath: join(dir, 'ca.pem') }, 'the config hands caCertPath to the store');
  const store = await openStore(options);
  t.same(await store.select('SELECT 1 AS x'), [{ x: 1 }], 'with the CA: the query goes through');
  await store.close();
  t.ok(seen.length > 0 && seen.every((s) => s.tls), 'every request came over TLS');
  const creds = seen[0]!;
  const basic = creds.auth?.startsWith('Basic ') ? Buffer.from(creds.auth.slice(6), 'base64').toString() : undefined;
  t.ok(creds.key === SECRETS.clickhousePassword || basic === `${USERS.clickhouse}:${SECRETS.clickhousePassword}`, 'the credentials were sent (inside TLS)');

  for (const [what, flags] of [
    ['no CA configured', {}],
    ['another CA', { 'store.caCertPath': join(dir, 'other-ca.pem') }],
  ] as const) {
    const before = seen.length;
    const s = await openStore(storeOptionsOf(loadConfig({ env, flags })));
    const err = (await s.select('SELECT 1 AS x').then(() => undefined, (e: unknown) => e)) as { code?: string; retryable?: boolean; message?: string } | undefined;
    await s.close();
    t.match(err, { code: 'PEV_STORE_REJECTED', retryable: false }, `${what}: refused, not retried`);
    t.match(err?.message, /certificate/i, `${what}: the error names the certificate: ${err?.message ?? ''}`);
    t.same(findLeaks(String(err?.message)), [], `${what}: no password in the error`);
    t.equal(seen.length, before, `${what}: no request reached the server`);
  }

  await t.rejects(openStore(storeOptionsOf(loadConfig({ env, flags: { 'store.caCertPath': join(dir, 'missing.pem') } }))), { code: 'PEV_CONFIG', message: /caCertPath/ }, 'a CA file that cannot be read is a config error naming the option');
});

const security = {
  'security.protocol': 'SASL_SSL',
  'sasl.mechanisms': 'SCRAM-SHA-512',
  'sasl.username': USERS.sasl,
  'sasl.password': SECRETS.saslPassword,
  'ssl.ca.location': join(dir, 'ca.pem'),
  'ssl.certificate.location': join(dir, 'client.pem'),
  'ssl.key.location': join(dir, 'client.key'),
  'ssl.key.password': SECRETS.sslKeyPassword,
  'ssl.endpoint.identification.algorithm': 'https',
};

void t.test('Kafka consumer: security settings reach librdkafka; the pipeline settings cannot be overridden', (t) => {
  const file = join(dir, 'kafka.yaml');
  writeFileSync(file, JSON.stringify({ kafka: { rdkafka: { ...security, 'sasl.password': undefined, 'enable.auto.commit': true, 'group.id': 'hijack', 'fetch.min.bytes': 1024 } } }));
  // The SASL secret from the environment, as docs/configuration.md recommends.
  const cfg = loadConfig({ file, env: { PEVMETER_KAFKA_SASL_PASSWORD: SECRETS.saslPassword, PEVMETER_KAFKA_GROUP_ID: 'pevmeter-ingest' } });
  const consumer = new IngestConsumer(cfg, createLogger('silent'), new Metrics());
  const conf = (consumer as unknown as { consumer: { globalConfig: Record<string, unknown> } }).consumer.globalConfig;
  t.match(conf, security, 'security.protocol, sasl.* and ssl.* as configured');
  t.equal(conf['fetch.min.bytes'], 1024, 'other librdkafka settings pass through');
  t.equal(conf['enable.auto.commit'], false, 'auto commit stays off whatever the pass-through says');
  t.equal(conf['enable.auto.offset.store'], false);
  t.equal(conf['group.id'], 'pevmeter-ingest', 'kafka.groupId wins over a group.id in the pass-through');
  t.end();
});

void t.test('dead-letter producer: client-level security settings reach librdkafka, consumer-only ones do not', async (t) => {
  const picked = pickClientSettings({ ...security, 'fetch.min.bytes': 1024, 'group.id': 'x', 'socket.keepalive.enable': true });
  t.same(picked, { ...security, 'socket.keepalive.enable': true }, 'pickClientSettings keeps security.*, sasl.*, ssl.*, socket.*');
  // Against the real broker in PLAINTEXT (no TLS listener here), so connect and close are quick;
  // what matters is the configuration object the producer hands librdkafka.
  const brokers = await kafkaBrokers();
  const plain = { ...security, 'security.protocol': 'PLAINTEXT' };
  const sink = new KafkaDeadLetterSink(uniqueName('dlq'), brokers, plain);
  const inner = sink as unknown as { producer: { globalConfig: Record<string, unknown> }; ready: Promise<void> };
  const conf = inner.producer.globalConfig;
  // close() before the producer has connected throws "Producer not connected" and leaves it
  // running (reported): wait for the connection first.
  await inner.ready;
  await sink.close();
  t.match(conf, plain, 'every security setting is in the producer configuration');
  t.equal(conf['enable.idempotence'], true, 'the producer keeps its own guarantees');
});

void t.test('librdkafka loads the client key with ssl.key.password: right password reaches the network, a wrong one fails on the key', async (t) => {
  const closed = await freePort();
  const attempt = async (keyPassword: string): Promise<string> => {
    const cfg = loadConfig({ env: {}, flags: { 'kafka.brokers': `127.0.0.1:${closed}`, 'kafka.groupId': uniqueName('tls') } });
    cfg.kafka.rdkafka = { ...security, 'security.protocol': 'SSL', 'ssl.key.password': keyPassword, 'ssl.endpoint.identification.algorithm': 'none' };
    const consumer = new IngestConsumer(cfg, createLogger('silent'), new Metrics());
    try {
      await consumer.connect(2_000);
      return 'connected';
    } catch (err) {
      return (err as Error).message;
    } finally {
      await consumer.disconnect(3_000);
    }
  };
  const right = await attempt(SECRETS.sslKeyPassword);
  const wrong = await attempt('not-the-password');
  t.notMatch(right, /ssl\.key|private key|decrypt/i, `right password: fails only on the network (${right})`);
  t.match(wrong, /ssl|key|decrypt/i, `wrong password: fails on the key (${wrong})`);
  t.same(findLeaks(`${right}\n${wrong}`), [], 'neither error shows the password');
});

void t.test('dead-letter producer: close() right after construction', async (t) => {
  const brokers = await kafkaBrokers();
  const sink = new KafkaDeadLetterSink(uniqueName('dlq'), brokers, {});
  const early = await sink.close().then(() => 'closed', (e: unknown) => (e as Error).message);
  // Known bug, kept visible (reported): flush() throws on a producer that has not connected yet,
  // so a service that fails before the producer connects cannot close it.
  t.equal(early, 'closed', `close() before the connection completes (got: ${early})`);
  await (sink as unknown as { ready: Promise<void> }).ready;
  await sink.close();
});
