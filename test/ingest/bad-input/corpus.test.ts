/**
 * End to end: the bad-input corpus (cases.ts) produced to the real broker between good records,
 * consumed by the real service (runIngestService, embedded store), then container files with a
 * damaged header, sync marker and block through the file ingest. For every bad record: its stable
 * code and origin in the dead-letter topic and in the dead_letter table; for every good record:
 * its row, exactly; for every message: good + dead-lettered = declared; and the offsets committed
 * to the end, i.e. the pipeline kept going.
 *
 * chDB allows one store folder per process: this file uses one folder for both runs.
 */
import t from 'tap';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../../aggregate/store/connect.js';
import type { Store } from '../../../aggregate/store/types.js';
import { toInt } from '../../../aggregate/store/values.js';
import { loadConfig } from '../../../schemas/config.js';
import type { Config } from '../../../schemas/config.js';
import { decodeBatch } from '../../../ingest/decode/batch.js';
import { createLogger } from '../../../ingest/log.js';
import { buildFramedTask } from '../../../ingest/pipeline/processor.js';
import { ingestFiles } from '../../../ingest/pipeline/files.js';
import { runIngestService, withPipeline } from '../../../ingest/service.js';
import { localSchemas } from '../../../schemas/index.js';
import type { RecordKind } from '../../../schemas/index.js';
import { TABLE_OF_KIND } from '../../../schemas/tables.js';
import { kafkaBrokers, brokerRun } from '../../helpers/services.js';
import { corpus, framed, goodEnrollment, goodInterval, goodSessionEvent, goodVehicleReport } from './cases.js';
import type { CorpusCase } from './cases.js';
import { buildContainer } from './container-files.js';
import { committedOffsets, createTopics, produceAll, readTopic } from './kafka.js';
import { runCli } from '../../security/helpers.js';
import type { OutMessage, Produced } from './kafka.js';

const MAX_MESSAGE_BYTES = 4096;
/** Good enrollments carry an end date: the wrapped-union branch of valid_to must reach the store. */
const VALID_TO = Date.UTC(2027, 0, 1);
const PARTITIONS: Record<RecordKind, number> = { interval: 2, sessionEvent: 1, vehicleReport: 1, enrollment: 1 };

const brokers = await kafkaBrokers();
const { run, topics, dlqTopic, dir } = brokerRun(t, 'badin');

function config(): Config {
  return loadConfig({
    env: {},
    flags: {
      'kafka.brokers': brokers,
      'kafka.groupId': `${run}-group`,
      'kafka.dlqTopic': dlqTopic,
      'kafka.topics.interval': topics.interval,
      'kafka.topics.sessionEvent': topics.sessionEvent,
      'kafka.topics.vehicleReport': topics.vehicleReport,
      'kafka.topics.enrollment': topics.enrollment,
      'store.path': join(dir, 'chdb'),
      'pipeline.maxMessageBytes': MAX_MESSAGE_BYTES,
      'pipeline.workers': 2,
      'http.port': 0,
      'log.level': 'info',
    },
  });
}

function goodOf(kind: RecordKind, n: number): Buffer {
  switch (kind) {
    case 'interval': return framed('interval', goodInterval(n));
    case 'sessionEvent': return framed('sessionEvent', goodSessionEvent(n));
    case 'vehicleReport': return framed('vehicleReport', goodVehicleReport(n));
    case 'enrollment': return framed('enrollment', goodEnrollment(n, { valid_to: { long: VALID_TO } }));
  }
}

const nowMs = Date.now();
const cases = corpus(nowMs, MAX_MESSAGE_BYTES);

void t.test('the corpus: at least 15 malformed kinds, each accounted for', (t) => {
  const names = new Set(cases.map((c) => c.name));
  t.equal(names.size, cases.length, 'names are distinct');
  t.ok(cases.length >= 15, `${cases.length} malformed kinds in the Kafka corpus`);
  for (const c of cases) {
    const dead = c.letters.reduce((n, l) => n + l.records, 0);
    t.equal(c.good + dead, c.declared, `${c.name}: good ${c.good} + dead-lettered ${dead} = declared ${c.declared}`);
  }
  t.end();
});

// Good records before every bad one, and one after the last, in the same partition, so each bad
// record sits between good ones and a stalled partition would leave the tail unwritten.
interface Planned extends OutMessage {
  case?: CorpusCase;
  goodKind?: RecordKind;
  goodN?: number;
}
const plan: Planned[] = [];
let n = 0;
const nextPartition: Record<RecordKind, number> = { interval: 0, sessionEvent: 0, vehicleReport: 0, enrollment: 0 };
for (const c of cases) {
  const partition = nextPartition[c.kind]++ % PARTITIONS[c.kind];
  n++;
  plan.push({ topic: topics[c.kind], partition, value: goodOf(c.kind, n), key: 'ESCI-00A1B2C3', goodKind: c.kind, goodN: n });
  const m: Planned = { topic: topics[c.kind], partition, value: c.value, key: 'ESCI-00A1B2C3', case: c };
  if (c.headers) m.headers = c.headers;
  plan.push(m);
}
for (const kind of Object.keys(topics) as RecordKind[]) {
  for (let p = 0; p < PARTITIONS[kind]; p++) {
    n++;
    plan.push({ topic: topics[kind], partition: p, value: goodOf(kind, n), key: 'ESCI-00A1B2C3', goodKind: kind, goodN: n });
  }
}

void t.test('Kafka: bad records dead-lettered with code and origin, good records intact', async (t) => {
  await createTopics(brokers, [
    ...(Object.keys(topics) as RecordKind[]).map((k) => ({ name: topics[k], partitions: PARTITIONS[k] })),
    { name: dlqTopic, partitions: 1 },
  ]);
  const produced = await produceAll(brokers, plan);
  const planned = produced as (Produced & Planned)[];
  for (let i = 0; i < plan.length; i++) Object.assign(planned[i]!, { case: plan[i]!.case, goodKind: plan[i]!.goodKind, goodN: plan[i]!.goodN });

  const cfg = config();
  const logPath = join(dir, 'service.log');
  const fd = openSync(logPath, 'w');
  const started = Date.now();
  let result;
  try {
    result = await runIngestService(cfg, { idleExitMs: 8_000, log: createLogger('info', fd) });
  } finally {
    closeSync(fd);
  }
  t.comment(`service ran ${((Date.now() - started) / 1000).toFixed(1)} s over ${plan.length} messages`);
  const logText = readFileSync(logPath, 'utf8');

  const declared = planned.reduce((s, m) => s + (m.case ? m.case.declared : 1), 0);
  const letters = planned.flatMap((m) => (m.case ? m.case.letters.map((l) => ({ m, l })) : []));
  t.equal(result.exitCode, 0, 'the service exits 0');
  t.equal(result.halted, undefined, 'the loop never halted');
  t.equal(result.messages, plan.length, 'every message consumed once');
  t.equal(result.records, declared, `records counted = declared input (${declared})`);
  t.equal(result.deadLetters, letters.length, `dead letters = ${letters.length}`);
  t.notMatch(logText, /"level":(50|60)/, 'no error or fatal log line');

  const store = await openStore({ kind: 'embedded', path: cfg.store.path, database: cfg.store.database });
  t.teardown(() => store.close());

  await t.test('good records: exact rows and Wh per table', async (t) => {
    for (const kind of Object.keys(topics) as RecordKind[]) {
      const table = TABLE_OF_KIND[kind];
      const expected = planned
        .filter((m) => m.topic === topics[kind])
        .flatMap((m) => {
          const good = m.case ? m.case.good : 1;
          return Array.from({ length: good }, () => `${m.partition}:${m.offset}`);
        })
        .sort();
      const rows = await store.select<{ p: number; o: string }>(`SELECT src_partition AS p, src_offset AS o FROM {db}.${table} WHERE src_topic = {topic:String}`, { topic: topics[kind] });
      t.same(rows.map((r) => `${r.p}:${r.o}`).sort(), expected, `${table}: one row per good record, at its origin (${expected.length})`);
    }
    const wantWh = planned
      .filter((m) => m.topic === topics.interval)
      .reduce((s, m) => s + (m.case ? m.case.goodWh : goodInterval(m.goodN!).energy_wh), 0);
    const [wh] = await store.select<{ n: string; wh: string }>('SELECT count() AS n, sum(energy_wh) AS wh FROM {db}.interval_raw WHERE src_topic = {topic:String}', { topic: topics.interval });
    t.equal(toInt(wh?.wh), wantWh, `interval energy is exactly ${wantWh} Wh`);
    // Each good interval is stored with the values it was sent with.
    const goods = planned.filter((m) => m.goodKind === 'interval');
    const got = await store.select<{ session_id: string; seq: number; energy_wh: string; src_offset: string; src_partition: number }>(
      'SELECT session_id, seq, energy_wh, src_offset, src_partition FROM {db}.interval_raw WHERE src_topic = {topic:String} AND session_id IN {ids:Array(String)}',
      { topic: topics.interval, ids: goods.map((m) => goodInterval(m.goodN!).session_id) },
    );
    const byId = new Map(got.map((r) => [r.session_id, r]));
    let exact = 0;
    for (const m of goods) {
      const want = goodInterval(m.goodN!);
      const r = byId.get(want.session_id);
      if (r && r.seq === want.seq && toInt(r.energy_wh) === want.energy_wh && toInt(r.src_offset) === m.offset && r.src_partition === m.partition) exact++;
    }
    t.equal(exact, goods.length, `all ${goods.length} single good intervals stored exactly`);
    const ends = await store.select<{ v: string; n: string }>('SELECT toString(valid_to_ms) AS v, count() AS n FROM {db}.enrollment WHERE src_topic = {topic:String} GROUP BY v', { topic: topics.enrollment });
    t.same(ends.map((e) => [e.v, toInt(e.n)]), [[String(VALID_TO), planned.filter((m) => m.goodKind === 'enrollment').length]], 'every good enrollment keeps its end date');
  });

  await t.test('dead-letter topic: code and origin headers, original value', async (t) => {
    const dlq = await readTopic(brokers, dlqTopic, 1, letters.length);
    t.equal(dlq.length, letters.length, `${letters.length} messages in the dead-letter topic`);
    const key = (topic: string, partition: number | string, offset: number | string, index: number | string, code: string) => `${topic}|${partition}|${offset}|${index}|${code}`;
    const want = letters.map(({ m, l }) => key(m.topic, m.partition, m.offset, l.recordIndex, l.code)).sort();
    const got = dlq.map((d) => key(d.headers['pev-origin-topic'] ?? '', d.headers['pev-origin-partition'] ?? '', d.headers['pev-origin-offset'] ?? '', d.headers['pev-record-index'] ?? '', d.headers['pev-error-code'] ?? '')).sort();
    t.same(got, want, 'origin topic, partition, offset, record index and code of every letter');
    for (const { m, l } of letters) {
      const d = dlq.find((x) => x.headers['pev-origin-topic'] === m.topic && x.headers['pev-origin-offset'] === String(m.offset) && x.headers['pev-origin-partition'] === String(m.partition) && x.headers['pev-record-index'] === String(l.recordIndex));
      const name = m.case!.name;
      t.ok(d, `${name}: found`);
      if (!d) continue;
      t.ok((d.headers['pev-error-message'] ?? '').length > 0, `${name}: ${l.code}: ${d.headers['pev-error-message'] ?? ''}`);
      const sent = m.value ?? Buffer.alloc(0);
      const got = d.value ?? Buffer.alloc(0);
      // A letter holds the bytes it stands for: the whole message when nothing of it was good,
      // else the bad record's frame or the unreadable rest, never a copy of the whole message.
      if (l.recordIndex === 0 && m.case!.good === 0) t.same(got, sent, `${name}: value kept unchanged`);
      else t.ok(got.length < sent.length && sent.includes(got), `${name}: value is the ${got.length} bytes of the bad part, not the ${sent.length}-byte message`);
    }
    const codes = [...new Set(letters.map(({ l }) => l.code))].sort();
    t.comment(`codes seen in the dead-letter topic: ${codes.join(', ')} (${codes.length})`);
  });

  await t.test('dead_letter table: one row per bad record, same code and origin', async (t) => {
    const rows = await store.select<{ src_topic: string; src_partition: number; src_offset: string; code: string; session_id: string; message: string }>(
      'SELECT src_topic, src_partition, src_offset, code, session_id, message FROM {db}.dead_letter WHERE src_topic IN {topics:Array(String)}',
      { topics: Object.values(topics) },
    );
    const got = rows.map((r) => `${r.src_topic}|${r.src_partition}|${r.src_offset}|${r.code}`).sort();
    const want = letters.map(({ m, l }) => `${m.topic}|${m.partition}|${m.offset}|${l.code}`).sort();
    t.same(got, want, `${want.length} rows with code and origin`);
    const ctl = rows.find((r) => r.session_id.startsWith('S-01\t'));
    t.equal(ctl?.session_id, 'S-01\t23\n45\\67\u000089ab', 'a session ID with tab, newline, backslash and NUL is stored as sent, in one row');
  });

  await t.test('the pipeline kept going: offsets committed to the end of every partition', async (t) => {
    const parts = (Object.keys(topics) as RecordKind[]).flatMap((k) => Array.from({ length: PARTITIONS[k] }, (_, p) => ({ topic: topics[k], partition: p })));
    const committed = await committedOffsets(brokers, cfg.kafka.groupId, parts);
    for (const p of parts) {
      const last = Math.max(...planned.filter((m) => m.topic === p.topic && m.partition === p.partition).map((m) => m.offset));
      t.equal(committed.get(`${p.topic}[${p.partition}]`), last + 1, `${p.topic}[${p.partition}] committed past its last message`);
    }
  });
});

void t.test('container files: bad header, bad sync marker, bad block, bad records', async (t) => {
  const files = join(dir, 'files');
  mkdirSync(files, { recursive: true });
  const iv = (i: number) => goodInterval(2000 + i);
  // Sync marker after block 1 damaged: block 1 is one dead letter, the rest is read.
  const sync = buildContainer('interval', [[iv(0)], [iv(1)], [iv(2), iv(3)], [iv(4)]]);
  sync.bytes[sync.blocks[1]!.syncAt + 3]! ^= 0xff;
  // Magic damaged: nothing can be read.
  const header = buildContainer('interval', [[iv(10), iv(11)]]);
  header.bytes[1] = 0x42;
  // Deflate block 1 replaced by bytes that do not inflate (0xff: a reserved block type).
  const block = buildContainer('interval', [[iv(20), iv(21)], [iv(22), iv(23)], [iv(24)]], 'deflate');
  block.bytes.fill(0xff, block.blocks[1]!.dataAt, block.blocks[1]!.dataAt + block.blocks[1]!.size);
  // Records that decode but fail validation, per record.
  const records = buildContainer('interval', [[iv(30), goodInterval(2031, { energy_wh: -7 }), iv(32), goodInterval(2033, { interval_s: 7 })]]);
  const sources = { 'pev-file-sync': sync, 'pev-file-header': header, 'pev-file-block': block, 'pev-file-records': records };
  const paths = Object.entries(sources).map(([name, c]) => {
    const p = join(files, `${name}.avro`);
    writeFileSync(p, c.bytes);
    return p;
  });

  const cfg = config();
  const logPath = join(dir, 'files.log');
  const fd = openSync(logPath, 'w');
  let summary;
  try {
    summary = await withPipeline(cfg, createLogger('info', fd), (p) => ingestFiles(paths, p));
  } finally {
    closeSync(fd);
  }
  // Declared records: 5 + 1 (a bad header stands for one) + 5 + 4.
  t.equal(summary.records, 15, 'records counted');
  t.same(summary.deadByCode, { PEV_CONTAINER_SYNC: 1, PEV_CONTAINER_HEADER: 1, PEV_CONTAINER_BLOCK: 1, PEV_NEGATIVE_ENERGY: 1, PEV_INTERVAL_LENGTH: 1 }, 'one letter per damaged unit, with its code');
  t.equal(summary.rowsByTable['interval_raw'], 4 + 0 + 3 + 2, 'good records stored');
  t.equal(summary.rowsByTable['dead_letter'], 5, 'dead_letter rows');

  const store: Store = await openStore({ kind: 'embedded', path: cfg.store.path, database: cfg.store.database });
  t.teardown(() => store.close());
  const dead = await store.select<{ src_topic: string; src_offset: string; code: string; message: string }>(
    "SELECT src_topic, src_offset, code, message FROM {db}.dead_letter WHERE src_topic LIKE 'pev-file-%' ORDER BY src_topic, src_offset",
  );
  t.same(dead.map((r) => `${r.src_topic}@${r.src_offset}:${r.code}`), [
    'pev-file-block@2:PEV_CONTAINER_BLOCK',
    'pev-file-header@0:PEV_CONTAINER_HEADER',
    'pev-file-records@1:PEV_NEGATIVE_ENERGY',
    'pev-file-records@3:PEV_INTERVAL_LENGTH',
    'pev-file-sync@1:PEV_CONTAINER_SYNC',
  ], 'origin: file name and first ordinal of the damaged unit');
  const rows = await store.select<{ src_topic: string; src_offset: string; seq: number; energy_wh: string }>(
    "SELECT src_topic, src_offset, seq, energy_wh FROM {db}.interval_raw WHERE src_topic LIKE 'pev-file-%' ORDER BY src_topic, src_offset",
  );
  t.same(rows.map((r) => `${r.src_topic}@${r.src_offset}:${r.seq}:${r.energy_wh}`), [
    'pev-file-block@0:2020:2120', 'pev-file-block@1:2021:2121', 'pev-file-block@4:2024:2124',
    'pev-file-records@0:2030:2130', 'pev-file-records@2:2032:2132',
    'pev-file-sync@0:2000:2100', 'pev-file-sync@2:2002:2102', 'pev-file-sync@3:2003:2103', 'pev-file-sync@4:2004:2104',
  ], 'good records at their ordinals, exact Wh');
  t.equal(rows.length + 1 + 1 + 2 + 1 + 1, summary.records, 'good 9 + dead-lettered 6 (sync block 1, header 1, deflate block 2, records 2) = declared 15');
});

void t.test('enrollment with an end date (valid_to set) is stored, not dead-lettered', (t) => {
  const s = localSchemas().find((x) => x.kind === 'enrollment')!;
  const value = framed('enrollment', goodEnrollment(990, { valid_to: { long: VALID_TO } }));
  const msg = { topic: 'e', partition: 0, offset: 0, value, size: value.length, timestamp: 0 };
  const r = decodeBatch(buildFramedTask('e', 0, 'enrollment', [msg], [{ id: s.id, text: s.text }], config(), Date.now()));
  t.equal(r.stats.ok.enrollment, 1, 'stored');
  t.same(r.dead.code, [], `no dead letter (got ${r.dead.code.join(', ')}: ${r.dead.text.join('; ')})`);
  t.match(Buffer.from(r.tables[0]!.tsv).toString(), new RegExp(`\\t${VALID_TO}\\t7200\\t`), 'valid_to_ms in the row');
  t.end();
});

// A known bug, kept visible (reported): ingestFiles submits one pool task per block and only
// flushes after unitRecords (100,000) records, so a file of many small blocks overruns the pool's
// queue (pipeline.workers * 64 tasks): `ingest-files` dies with "Task queue is at limit", as an
// unhandled rejection. Run through the CLI in a child process so the crash cannot take this file down.

void t.test('a container file of 300 one-record blocks is ingested', async (t) => {
  const file = join(dir, 'pev-file-many-blocks.avro');
  writeFileSync(file, buildContainer('interval', Array.from({ length: 300 }, (_, i) => [goodInterval(3000 + i)])).bytes);
  const r = await runCli(['ingest-files', '--data', join(dir, 'chdb-many'), '--workers', '2', '--log-level', 'warn', file], { env: {}, timeoutMs: 180_000 });
  t.comment(`ingest-files exit ${String(r.code)}: ${(r.stderr.match(/Error: [^\n]*/) ?? [''])[0]}`);
  t.equal(r.code, 0, 'exits 0');
  t.match(r.stdout, /"records": 300/, 'all 300 records counted');
});
