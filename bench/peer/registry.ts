/**
 * The smallest Confluent-compatible Schema Registry the benchmark needs, serving the schemas of
 * schemas/subjects.json (the one source of schema IDs). ClickHouse's AvroConfluent format and
 * pevmeter's HTTP resolver both fetch a schema by the ID in a record's framing header:
 *
 *   GET /schemas/ids/{id}   200 {"schema": "<json text>"}
 *                           404 {"error_code": 40403, "message": "Schema not found"}
 *   anything else           404 {"error_code": 404, "message": "..."}
 *
 * Both clients cache a schema after the first fetch, so the endpoint is off the hot path; it
 * counts requests so a run can show that the registry was really used.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { localSchemas } from '../../schemas/index.js';

export interface RegistryEndpoint {
  /** Base URL, e.g. http://127.0.0.1:43121 (no trailing slash). */
  readonly url: string;
  /** GET /schemas/ids/{id} answered so far, found or not. */
  readonly requests: () => number;
  close(): Promise<void>;
}

const ID_PATH = /^\/schemas\/ids\/(\d{1,10})\/?(?:\?.*)?$/;

export async function startRegistryEndpoint(host = '127.0.0.1', port = 0): Promise<RegistryEndpoint> {
  const byId = new Map<number, string>(localSchemas().map((s) => [s.id, JSON.stringify({ schema: s.text, schemaType: 'AVRO' })]));
  let requests = 0;
  const server = createServer((req, res) => {
    const m = req.method === 'GET' ? ID_PATH.exec(req.url ?? '') : null;
    if (!m) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error_code: 404, message: `not served here: ${req.method ?? '?'} ${req.url ?? ''}` }));
      return;
    }
    requests += 1;
    const body = byId.get(Number(m[1]));
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      res.end(JSON.stringify({ error_code: 40403, message: 'Schema not found' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${host}:${addr.port}`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
