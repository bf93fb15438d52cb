/**
 * The HTTP schema resolver against a small Confluent-compatible server in this process, which
 * implements the documented endpoints (GET /schemas/ids/{id}, POST /subjects/{s}/versions, 404
 * with error_code 40403) and can misbehave on demand. test/ingest/registry/apicurio.test.ts runs
 * the same client against a real registry.
 */
import t from 'tap';
import type { Test } from 'tap';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpSchemaResolver, LocalSchemaResolver, createSchemaResolver, registerLocalSchemas } from '../../../ingest/registry/index.js';
import type { RetryEvent } from '../../../ingest/registry/index.js';
import { RegistryError } from '../../../schemas/errors.js';
import { latestSchema, localSchemas } from '../../../schemas/index.js';

type Mode = 'ok' | 'garbage-json' | 'bad-schema' | 'no-schema' | 'html-404' | 'slow' | 'protobuf' | 'unauthorized';

class FakeRegistry {
  server: Server;
  mode: Mode = 'ok';
  /** Answer 503 to this many requests first. */
  failFirst = 0;
  requests = 0;
  authorization: (string | undefined)[] = [];
  paths: string[] = [];
  readonly schemas = new Map<number, string>([[1001, latestSchema('interval').text]]);
  private nextId = 1;

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/v1`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    this.authorization.push(req.headers.authorization);
    this.paths.push(`${req.method} ${req.url}`);
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const send = (status: number, payload: unknown, type = 'application/vnd.schemaregistry.v1+json'): void => {
      res.writeHead(status, { 'content-type': type });
      res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
    };
    if (this.failFirst > 0) {
      this.failFirst--;
      return send(503, { error_code: 50302, message: 'warming up' });
    }
    if (this.mode === 'unauthorized') return send(401, { error_code: 401, message: 'Unauthorized' });
    if (this.mode === 'slow') await new Promise((r) => setTimeout(r, 400));
    const get = /^\/api\/v1\/schemas\/ids\/(\d+)$/.exec(req.url ?? '');
    if (req.method === 'GET' && get) {
      const id = Number(get[1]);
      if (this.mode === 'garbage-json') return send(200, '<html>proxy error</html>', 'text/html');
      if (this.mode === 'no-schema') return send(200, { schemaType: 'AVRO' });
      if (this.mode === 'bad-schema') return send(200, { schema: '{"type": "record", "name": "X", "fields": "none"}' });
      if (this.mode === 'html-404') return send(404, '<html>Not Found</html>', 'text/html');
      if (this.mode === 'protobuf') return send(200, { schema: 'syntax = "proto3";', schemaType: 'PROTOBUF' });
      const text = this.schemas.get(id);
      if (text === undefined) return send(404, { error_code: 40403, message: 'Schema not found' });
      return send(200, { schema: text });
    }
    const post = /^\/api\/v1\/subjects\/([^/]+)\/versions$/.exec(req.url ?? '');
    if (req.method === 'POST' && post) {
      const parsed = JSON.parse(body) as { schema: string };
      for (const [id, text] of this.schemas) if (text === parsed.schema) return send(200, { id });
      const id = this.nextId++;
      this.schemas.set(id, parsed.schema);
      return send(200, { id });
    }
    return send(404, { error_code: 404, message: 'HTTP 404 Not Found' });
  }
}

async function registry(t: Test): Promise<{ fake: FakeRegistry; url: string }> {
  const fake = new FakeRegistry();
  const url = await fake.start();
  t.teardown(() => fake.close());
  return { fake, url };
}

const fast = { retries: 3, backoffMs: 5, maxBackoffMs: 20, timeoutMs: 2000 };

void t.test('resolves IDs, says null for 40403, and caches (schema IDs are immutable)', async (t) => {
  const { fake, url } = await registry(t);
  const r = new HttpSchemaResolver({ url, ...fast });
  t.teardown(() => r.close());
  const got = await r.resolve([1001, 4242, 1001]);
  t.same(got.get(1001), { id: 1001, text: latestSchema('interval').text });
  t.equal(got.get(4242), null);
  t.equal(fake.requests, 2, 'one request per distinct ID');
  t.same(fake.paths.sort(), ['GET /api/v1/schemas/ids/1001', 'GET /api/v1/schemas/ids/4242']);
  const again = await r.resolve([1001, 4242]);
  t.equal(again.get(1001)?.text, latestSchema('interval').text);
  t.equal(again.get(4242), null);
  t.equal(fake.requests, 2, 'cache hit: no second request');
  // Concurrent lookups of one ID share one request.
  fake.schemas.set(7, latestSchema('enrollment').text);
  const [a, b] = await Promise.all([r.resolve([7]), r.resolve([7])]);
  t.equal(a.get(7)?.text, b.get(7)?.text);
  t.equal(fake.requests, 3);
  t.equal(fake.authorization[0], undefined, 'no credentials configured, none sent');
});

void t.test('a registry that is down: RegistryError UNAVAILABLE, retryable, after bounded retries', async (t) => {
  const { fake, url } = await registry(t);
  await fake.close();
  const retries: RetryEvent[] = [];
  const r = new HttpSchemaResolver({ url, ...fast, password: 's3cret-pw', username: 'svc', onRetry: (e) => retries.push(e) });
  t.teardown(() => r.close());
  const started = Date.now();
  const err = await r.resolve([1001]).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof RegistryError);
  t.match(err, { code: 'PEV_REGISTRY_UNAVAILABLE', retryable: true, message: /schema 1001: cannot reach the registry at http:\/\/127\.0\.0\.1:\d+\/api\/v1: ECONNREFUSED/ });
  t.notMatch((err as Error).message, /s3cret|svc/, 'no credentials in the error');
  t.equal(retries.length, 3, 'three retries after the first attempt');
  t.same(retries.map((e) => e.attempt), [1, 2, 3]);
  t.ok(retries.every((e) => e.delayMs >= 0 && e.delayMs <= 20), 'backoff capped by maxBackoffMs');
  t.ok(Date.now() - started < 5000, 'bounded in time');
  t.notMatch(JSON.stringify(retries), /s3cret/);
});

void t.test('retry then success: a registry warming up', async (t) => {
  const { fake, url } = await registry(t);
  fake.failFirst = 2;
  const retries: RetryEvent[] = [];
  const r = new HttpSchemaResolver({ url, ...fast, onRetry: (e) => retries.push(e), random: () => 0.5 });
  t.teardown(() => r.close());
  const got = await r.resolve([1001]);
  t.equal(got.get(1001)?.text, latestSchema('interval').text);
  t.equal(fake.requests, 3);
  t.same(retries.map((e) => [e.attempt, e.delayMs, e.code]), [[1, 2, 'PEV_REGISTRY_UNAVAILABLE'], [2, 5, 'PEV_REGISTRY_UNAVAILABLE']], 'full jitter: random x min(max, base x 2^n)');
});

void t.test('garbage answers: PEV_REGISTRY_RESPONSE, nothing cached, nothing resolved as missing', async (t) => {
  const { fake, url } = await registry(t);
  const cases: [Mode, RegExp, number][] = [
    ['garbage-json', /answered HTTP 200 without a schema: "<html>proxy error<\/html>"/, 4],
    ['no-schema', /answered HTTP 200 without a schema/, 4],
    ['bad-schema', /schema 1001 from http:\/\/127\.0\.0\.1:\d+\/api\/v1 does not parse as Avro/, 4],
    ['html-404', /answered 404 without error_code 40403 \(is registry\.url the API root\?\)/, 1],
    ['unauthorized', /refused the request \(HTTP 401\); check registry\.username\/password or registry\.token/, 1],
  ];
  for (const [mode, message, requests] of cases) {
    fake.mode = mode;
    fake.requests = 0;
    const r = new HttpSchemaResolver({ url, ...fast, token: 'tok-123' });
    const err = await r.resolve([1001]).then(() => undefined, (e: unknown) => e);
    t.match(err, { name: 'RegistryError', code: 'PEV_REGISTRY_RESPONSE', retryable: true, message }, mode);
    t.notMatch((err as Error).message, /tok-123/, `${mode}: no token in the error`);
    t.equal(fake.requests, requests, `${mode}: ${requests} request(s)`);
    fake.mode = 'ok';
    t.equal((await r.resolve([1001])).get(1001)?.id, 1001, `${mode}: the failure was not cached`);
    await r.close();
  }
  fake.mode = 'protobuf';
  const r = new HttpSchemaResolver({ url, ...fast });
  t.equal((await r.resolve([1001])).get(1001), null, 'a Protobuf schema is no Avro schema for this ID');
  await r.close();
});

void t.test('timeouts count as unavailable', async (t) => {
  const { fake, url } = await registry(t);
  fake.mode = 'slow';
  const r = new HttpSchemaResolver({ url, retries: 1, backoffMs: 1, timeoutMs: 100 });
  t.teardown(() => r.close());
  const err = await r.resolve([1001]).then(() => undefined, (e: unknown) => e);
  t.match(err, { code: 'PEV_REGISTRY_UNAVAILABLE', message: /no answer within 100 ms/ });
  t.equal(fake.requests, 2);
});

void t.test('credentials: basic from options or URL, bearer token; never in messages', async (t) => {
  const { fake, url } = await registry(t);
  const withUser = url.replace('http://', 'http://user%40corp:p%3Ass@');
  const viaUrl = new HttpSchemaResolver({ url: withUser, ...fast });
  t.equal(viaUrl.http.endpoint, url, 'the printable endpoint has no user info');
  await viaUrl.resolve([1001]);
  await viaUrl.close();
  const viaOptions = new HttpSchemaResolver({ url, ...fast, username: 'svc', password: 'pw' });
  await viaOptions.resolve([1001]);
  await viaOptions.close();
  const bearer = new HttpSchemaResolver({ url, ...fast, token: 'abc.def' });
  await bearer.resolve([1001]);
  await bearer.close();
  t.same(fake.authorization, [
    `Basic ${Buffer.from('user@corp:p:ss').toString('base64')}`,
    `Basic ${Buffer.from('svc:pw').toString('base64')}`,
    'Bearer abc.def',
  ]);
  t.throws(() => new HttpSchemaResolver({ url, token: 't', username: 'u', password: 'p' }), { code: 'PEV_CONFIG', message: /registry\.token and registry\.username are exclusive/ });
  t.throws(() => new HttpSchemaResolver({ url, username: 'u' }), { code: 'PEV_CONFIG', message: /registry\.username needs registry\.password/ });
  t.throws(() => new HttpSchemaResolver({ url: 'not a url' }), { code: 'PEV_CONFIG', message: /registry\.url/ });
  t.throws(() => new HttpSchemaResolver({ url: 'ftp://x' }), { code: 'PEV_CONFIG', message: /registry\.url must be http/ });
  t.throws(() => new HttpSchemaResolver({ url, retries: -1 }), { code: 'PEV_CONFIG', message: /registry\.retries/ });
});

void t.test('registerLocalSchemas pushes schemas/subjects.json; the resolver reads them back', async (t) => {
  const { fake, url } = await registry(t);
  fake.schemas.clear();
  const ids = await registerLocalSchemas(url, fast);
  t.same(ids.map((i) => i.subject), localSchemas().map((s) => s.subject));
  t.same(ids.map((i) => i.registryId), [1, 2, 3, 4], 'the registry assigns IDs');
  t.same(ids.map((i) => i.localId), [1001, 1002, 1003, 1004]);
  t.same(fake.paths.map((p) => p.replace(/versions$/, '')), localSchemas().map((s) => `POST /api/v1/subjects/${s.subject}/`));
  const again = await registerLocalSchemas(url, fast);
  t.same(again.map((i) => i.registryId), [1, 2, 3, 4], 'registration is idempotent');
  const r = new HttpSchemaResolver({ url, ...fast });
  t.teardown(() => r.close());
  const got = await r.resolve([1, 2, 3, 4]);
  t.same([...got.values()].map((s) => s?.text), localSchemas().map((s) => s.text));
});

void t.test('local resolver and the factory', async (t) => {
  const local = new LocalSchemaResolver();
  const got = await local.resolve([1001, 1002, 1003, 1004, 9]);
  t.same([...got.keys()], [1001, 1002, 1003, 1004, 9]);
  t.same(got.get(1002), { id: 1002, text: latestSchema('sessionEvent').text, subject: 'pev.session-event-value' });
  t.equal(got.get(9), null);
  await local.close();
  t.ok(createSchemaResolver() instanceof LocalSchemaResolver);
  t.ok(createSchemaResolver({ url: '' }) instanceof LocalSchemaResolver);
  const http = createSchemaResolver({ url: 'http://127.0.0.1:9/x' });
  t.ok(http instanceof HttpSchemaResolver);
  await http.close();
});
