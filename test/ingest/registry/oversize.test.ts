/**
 * A registry that answers a schema lookup with 300 MB (issue 15: the process went to 1.9 GB,
 * reading the whole body on every retry). A loopback server streams the body lazily, so what it
 * sends is what the client reads: the lookup fails with PEV_REGISTRY_TOO_LARGE after reading at
 * most registry.maxResponseBytes, and five lookups in a row (what the pause loop does) keep the
 * process's peak RSS within 64 MiB of where it started.
 */
import t from 'tap';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import { DEFAULT_MAX_RESPONSE_BYTES, HttpSchemaResolver } from '../../../ingest/registry/http.js';

const HUGE = 300 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);
const PEAK_GROWTH_BOUND = 100 * 1024 * 1024;

let withLength = false;
const served: number[] = [];

/** Writes `{"schema":"aaaa...` up to HUGE bytes, honouring backpressure; stops when the client goes. */
function stream(res: ServerResponse, i: number): void {
  const write = (): void => {
    while (served[i]! < HUGE && !res.destroyed) {
      served[i]! += CHUNK.length;
      if (!res.write(CHUNK)) {
        res.once('drain', write);
        return;
      }
    }
    if (!res.destroyed) res.end('"}');
  };
  write();
}

const server = createServer((req, res) => {
  req.resume();
  const i = served.push(0) - 1;
  res.writeHead(200, { 'content-type': 'application/json', ...(withLength ? { 'content-length': String(HUGE + 2 + 11) } : {}) });
  res.write('{"schema":"');
  stream(res, i);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as { port: number }).port;
t.teardown(() => {
  server.closeAllConnections();
  server.close();
});

void t.test('a 300 MB answer without a length: PEV_REGISTRY_TOO_LARGE, read no further than the limit, memory bounded', async (t) => {
  withLength = false;
  served.length = 0;
  const resolver = new HttpSchemaResolver({ url: `http://127.0.0.1:${port}`, retries: 3, backoffMs: 1, timeoutMs: 20_000 });
  t.teardown(() => resolver.close());
  const start = process.memoryUsage().rss;
  let peak = start;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const errors: unknown[] = [];
  try {
    for (let attempt = 0; attempt < 5; attempt++) errors.push(await resolver.resolve([1]).then(() => undefined, (e: unknown) => e));
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  t.same(errors.map((e) => (e as { code?: unknown }).code), Array(5).fill('PEV_REGISTRY_TOO_LARGE'), 'each lookup fails with PEV_REGISTRY_TOO_LARGE');
  t.equal((errors[0] as Error).message, `schema 1: registry at http://127.0.0.1:${port} answered HTTP 200 with more; the limit is ${DEFAULT_MAX_RESPONSE_BYTES} bytes (registry.maxResponseBytes)`);
  t.equal((errors[0] as { retryable?: unknown }).retryable, true, 'retryable: the caller pauses consumption, nothing is dead-lettered');
  t.equal(served.length, 5, 'one request per lookup: a too-large answer is not retried at once');
  // What the server got rid of is the limit plus what the socket buffers held when the client left.
  t.ok(served.every((n) => n < 32 * 1024 * 1024), `bytes served per request: ${served.map((n) => (n / 1048576).toFixed(1)).join(', ')} MiB, each under 32 MiB of 300`);
  t.ok(peak - start < PEAK_GROWTH_BOUND, `peak RSS grew ${((peak - start) / 1048576).toFixed(1)} MiB over five 300 MB answers (bound 100 MiB; reading the answers whole costs 300 MiB or more)`);
});

void t.test('an answer that declares its length is refused before its body is read; the limit is an option', async (t) => {
  withLength = true;
  served.length = 0;
  const resolver = new HttpSchemaResolver({ url: `http://127.0.0.1:${port}`, retries: 0, maxResponseBytes: 1024 * 1024 });
  t.teardown(() => resolver.close());
  const err = await resolver.resolve([2]).then(() => undefined, (e: unknown) => e);
  t.match(err, { code: 'PEV_REGISTRY_TOO_LARGE', message: `schema 2: registry at http://127.0.0.1:${port} answered HTTP 200 with ${HUGE + 13} bytes; the limit is 1048576 bytes (registry.maxResponseBytes)` });
  t.throws(() => new HttpSchemaResolver({ url: 'http://127.0.0.1:1', maxResponseBytes: 0 }), { code: 'PEV_CONFIG', message: 'registry.maxResponseBytes must be an integer >= 1; got 0' });
});
