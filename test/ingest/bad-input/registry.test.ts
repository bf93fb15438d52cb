/**
 * A Schema Registry that is down, then answers garbage, then answers correctly, end to end through
 * runIngestService with registry.url pointing at a loopback server this test controls:
 *
 *   down      nothing listens on the port (connection refused)
 *   garbage   every request gets the next of: HTML with 200, a non-string schema, a schema that is
 *             no Avro, 500, a 404 without error_code 40403, 503, a connection cut mid-answer,
 *             401, and an answer that never comes (registry.timeoutMs)
 *   correct   the schemas of schemas/subjects.json by ID, 404/40403 for any other ID
 *
 * While the registry is down or talks garbage: a clear log line per retry, nothing stored, nothing
 * dead-lettered, nothing committed. Once it answers: every good record stored once, and only the
 * records whose schema ID does not exist, or cannot be read as ours, are dead-lettered.
 */
import t from 'tap';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { openStore } from '../../../aggregate/store/connect.js';
import { toInt } from '../../../aggregate/store/values.js';
import { loadConfig } from '../../../schemas/config.js';
import { createLogger } from '../../../ingest/log.js';
import { runIngestService } from '../../../ingest/service.js';
import { localSchemas, parseSchema } from '../../../schemas/index.js';
import type { RecordKind } from '../../../schemas/index.js';
import { TABLE_OF_KIND } from '../../../schemas/tables.js';
import { kafkaBrokers, brokerRun, waitFor } from '../../helpers/services.js';
import { body, framed, goodEnrollment, goodInterval, goodSessionEvent, goodVehicleReport } from './cases.js';
import { committedOffsets, createTopics, produceAll, readTopic } from './kafka.js';
import type { OutMessage } from './kafka.js';
import { frame } from '../../../ingest/codec/framing.js';

const brokers = await kafkaBrokers();
const { run, topics, dlqTopic, dir } = brokerRun(t, 'regout');

type Mode = 'garbage' | 'correct';
let mode: Mode = 'garbage';
let garbageServed = 0;
const GARBAGE: ((res: ServerResponse) => void)[] = [
  (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Welcome to nginx</body></html>'),
  (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"schema": 42}'),
  (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ schema: '{"type": "nonsense"}' })),
  (res) => res.writeHead(500).end('Internal Server Error'),
  (res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"error_code": 404, "message": "HTTP 404 Not Found"}'),
  (res) => res.writeHead(503).end('Service Unavailable'),
  (res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
    res.write('{"schema": "{\\"type');
    res.socket?.destroy();
  },
  (res) => res.writeHead(401, { 'content-type': 'application/json' }).end('{"error_code": 40101, "message": "Unauthorized"}'),
  () => undefined, // never answers: the client's timeout must fire
];
const byId = new Map(localSchemas().map((s) => [s.id, s.text]));
// An EumdInterval a producer registered with energy_wh as a string: the registry has it, the
// local reader schema cannot resolve it, so its records are PEV_SCHEMA_INCOMPATIBLE.
const INCOMPATIBLE_ID = 7779;
const intervalJson = JSON.parse(byId.get(1001)!) as { fields: { name: string; type: unknown }[] };
const incompatible = { ...intervalJson, fields: intervalJson.fields.map((f) => (f.name === 'energy_wh' ? { ...f, type: 'string' } : f)) };
byId.set(INCOMPATIBLE_ID, JSON.stringify(incompatible));
const requests: string[] = [];

function handle(req: IncomingMessage, res: ServerResponse): void {
  requests.push(`${mode} ${req.method ?? ''} ${req.url ?? ''}`);
  if (mode === 'garbage') {
    GARBAGE[garbageServed++ % GARBAGE.length]!(res);
    return;
  }
  const m = /^\/schemas\/ids\/(\d+)$/.exec(req.url ?? '');
  const text = m ? byId.get(Number(m[1])) : undefined;
  if (text === undefined) {
    res.writeHead(404, { 'content-type': 'application/vnd.schemaregistry.v1+json' }).end('{"error_code": 40403, "message": "Schema not found"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/vnd.schemaregistry.v1+json' }).end(JSON.stringify({ schema: text }));
}

/** A port nothing listens on yet (taken, then released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

void t.test('registry down, then garbage, then correct: paused with a clear log, no dead letters, then everything stored once', async (t) => {
  const partitions: Record<RecordKind, number> = { interval: 2, sessionEvent: 1, vehicleReport: 1, enrollment: 1 };
  await createTopics(brokers, [...(Object.keys(topics) as RecordKind[]).map((k) => ({ name: topics[k], partitions: partitions[k] })), { name: dlqTopic, partitions: 1 }]);
  const messages: OutMessage[] = [];
  for (let i = 0; i < 40; i++) messages.push({ topic: topics.interval, partition: i % 2, value: framed('interval', goodInterval(i)) });
  for (let i = 0; i < 5; i++) messages.push({ topic: topics.sessionEvent, partition: 0, value: framed('sessionEvent', goodSessionEvent(i)) });
  for (let i = 0; i < 5; i++) messages.push({ topic: topics.vehicleReport, partition: 0, value: framed('vehicleReport', goodVehicleReport(i)) });
  for (let i = 0; i < 3; i++) messages.push({ topic: topics.enrollment, partition: 0, value: framed('enrollment', goodEnrollment(i)) });
  // The one record whose schema really does not exist: dead-lettered once the registry answers.
  messages.push({ topic: topics.interval, partition: 1, value: frame(4242, body('interval', goodInterval(99))) });
  messages.push({ topic: topics.interval, partition: 0, value: frame(INCOMPATIBLE_ID, parseSchema(byId.get(INCOMPATIBLE_ID)!).toBuffer({ ...goodInterval(98), energy_wh: '98' })) });
  const produced = await produceAll(brokers, messages);
  const unknown = produced[produced.length - 2]!;
  const foreign = produced[produced.length - 1]!;

  const port = await freePort();
  const cfg = loadConfig({
    env: {},
    flags: {
      'kafka.brokers': brokers,
      'kafka.groupId': `${run}-group`,
      'kafka.dlqTopic': dlqTopic,
      'kafka.topics.interval': topics.interval,
      'kafka.topics.sessionEvent': topics.sessionEvent,
      'kafka.topics.vehicleReport': topics.vehicleReport,
      'kafka.topics.enrollment': topics.enrollment,
      'registry.url': `http://127.0.0.1:${port}`,
      'registry.timeoutMs': 1_000,
      'store.path': join(dir, 'chdb'),
      'pipeline.workers': 1,
      'pipeline.retryInitialMs': 100,
      'pipeline.retryMaxMs': 1_000,
      'http.port': 0,
      'log.level': 'info',
    },
  });
  const logPath = join(dir, 'service.log');
  const fd = openSync(logPath, 'w');
  const log = () => readFileSync(logPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const pauses = (code: string) => log().filter((l) => l['msg'] === 'schema registry unavailable; consumption paused until it answers (no record is dead-lettered for this)' && l['code'] === code);
  const service = runIngestService(cfg, { idleExitMs: 5_000, log: createLogger('info', fd) });
  const server = createServer(handle);
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const store = await openStore({ kind: 'embedded', path: cfg.store.path, database: cfg.store.database });
  t.teardown(() => store.close());
  const stored = async () => {
    let n = 0;
    for (const table of ['interval_raw', 'session_event_raw', 'vehicle_report_raw', 'enrollment', 'dead_letter']) {
      try {
        const [r] = await store.select<{ n: string }>(`SELECT count() AS n FROM {db}.${table}`);
        n += toInt(r?.n);
      } catch {
        // not migrated yet: nothing stored
      }
    }
    return n;
  };
  const parts = (Object.keys(topics) as RecordKind[]).flatMap((k) => Array.from({ length: partitions[k] }, (_, p) => ({ topic: topics[k], partition: p })));
  const nothingYet = async (phase: string) => {
    t.equal(await stored(), 0, `${phase}: no row and no dead letter stored`);
    t.equal((await readTopic(brokers, dlqTopic, 1, 0, 5_000)).length, 0, `${phase}: the dead-letter topic is empty`);
    const committed = await committedOffsets(brokers, cfg.kafka.groupId, parts);
    t.same([...committed.values()].filter((o) => o >= 0), [], `${phase}: no offset committed`);
  };

  try {
    // Phase 1: down.
    // The first unit holds what had arrived when it was consumed, not necessarily a message of
    // every topic: the IDs that wait are the union over the pause lines of the outage.
    const waiting = () => new Set(pauses('PEV_REGISTRY_UNAVAILABLE').flatMap((l) => l['ids'] as number[]));
    const allIds = [1001, 1002, 1003, 1004, 4242, INCOMPATIBLE_ID];
    await waitFor(() => pauses('PEV_REGISTRY_UNAVAILABLE').length >= 2 && allIds.every((id) => waiting().has(id)), { timeoutMs: 60_000, what: 'pause log lines naming every schema ID while the registry is down' });
    const down = pauses('PEV_REGISTRY_UNAVAILABLE')[0]!;
    t.match(String(down['err']), /cannot reach the registry at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/, `the log says why: ${String(down['err'])}`);
    t.same([...waiting()].sort((a, b) => a - b), [...allIds].sort((a, b) => a - b), 'and which schema IDs wait');
    await nothingYet('registry down');

    // Phase 2: garbage, one of each kind at least.
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    await waitFor(() => garbageServed >= GARBAGE.length + 2 && pauses('PEV_REGISTRY_RESPONSE').length >= 1, { timeoutMs: 120_000, what: 'every kind of garbage answer served' });
    await nothingYet('registry answering garbage');
    // The HTTP client retries 5xx, timeouts and cut connections itself; a pause line carries the
    // failure that ended its attempts, so it names the registry and what it answered.
    const responses = pauses('PEV_REGISTRY_RESPONSE').map((l) => String(l['err']));
    const reasons = [...new Set(responses.map((e) => e.replace(/^schema \d+: /, '').replace(/:\d+/, ':PORT')))];
    t.comment(`pause reasons while the registry talked garbage:\n  ${reasons.join('\n  ')}`);
    for (const e of responses) t.match(e, /^schema \d+: (registry at http:\/\/127\.0\.0\.1:\d+ (answered|refused)|schema \d+ from http:\/\/127\.0\.0\.1:\d+ does not parse as Avro)/, 'a pause line names the registry and its answer');
    // Phase 3: correct.
    mode = 'correct';
    const result = await service;
    t.equal(result.exitCode, 0, 'exits 0 once drained');
    t.equal(result.records, messages.length, 'every record counted once');
    t.equal(result.deadLetters, 2, 'two dead letters: the schema ID that does not exist, and the incompatible one');
  } finally {
    closeSync(fd);
  }

  for (const kind of Object.keys(topics) as RecordKind[]) {
    const want = produced.filter((m) => m.topic === topics[kind] && m !== unknown && m !== foreign).map((m) => `${m.partition}:${m.offset}`).sort();
    const rows = await store.select<{ p: number; o: string }>(`SELECT src_partition AS p, src_offset AS o FROM {db}.${TABLE_OF_KIND[kind]}`);
    t.same(rows.map((r) => `${r.p}:${r.o}`).sort(), want, `${TABLE_OF_KIND[kind]}: every good record once (${want.length})`);
  }
  const [wh] = await store.select<{ wh: string }>('SELECT sum(energy_wh) AS wh FROM {db}.interval_raw');
  t.equal(toInt(wh?.wh), Array.from({ length: 40 }, (_, i) => 100 + i).reduce((a, b) => a + b, 0), 'interval energy exact');
  const dlq = await readTopic(brokers, dlqTopic, 1, 2);
  t.same(
    dlq.map((d) => [d.headers['pev-error-code'], d.headers['pev-origin-offset'], d.headers['pev-origin-partition']]).sort(),
    [['PEV_SCHEMA_INCOMPATIBLE', String(foreign.offset), '0'], ['PEV_UNKNOWN_SCHEMA', String(unknown.offset), '1']],
    'the dead-letter topic holds only the unknown and the incompatible schema IDs',
  );
  const dead = await store.select<{ code: string }>('SELECT code FROM {db}.dead_letter ORDER BY code');
  t.same(dead.map((d) => d.code), ['PEV_SCHEMA_INCOMPATIBLE', 'PEV_UNKNOWN_SCHEMA']);
  t.comment(`registry requests: ${requests.filter((r) => r.startsWith('garbage')).length} garbage answers, ${requests.filter((r) => r.startsWith('correct')).length} correct; pause log lines: ${pauses('PEV_REGISTRY_UNAVAILABLE').length} unavailable, ${pauses('PEV_REGISTRY_RESPONSE').length} response`);
});
