import t from 'tap';
import type { Test } from 'tap';
import avro from 'avsc';
import { decodeBatch, deadBlockResult } from '../../../ingest/decode/batch.js';
import { cachedSchemaIds } from '../../../ingest/decode/readers.js';
import { DEAD_PAYLOAD_MAX_BYTES } from '../../../ingest/decode/task.js';
import type { BatchResult, FramedTask } from '../../../ingest/decode/task.js';
import { latestSchema, TOPICS } from '../../../schemas/index.js';
import { INSERT_COLUMNS } from '../../../schemas/tables.js';
import {
  ENROLLMENT_CLOSED, ENROLLMENT_CLOSED_TSV, ENROLLMENT_OPEN, ENROLLMENT_OPEN_TSV, INTERVAL, INTERVAL_TSV, NOW_MS, SESSION_EVENTS,
  SKEW_MS, VEHICLE_REPORT, VEHICLE_REPORT_TSV, body, framed, framedTask, originTsv, rawFrame, text,
} from './fixtures.js';
import type { Message } from './fixtures.js';
import { columnsAsTsv } from '../../helpers/columns.js';

const IT = TOPICS.interval;
const rowsOf = (r: BatchResult): string => text(r.tables[0]!.tsv);
const deadRowsOf = (r: BatchResult): string => text(r.tables[1]!.tsv);
const intervalRow = (over: Partial<typeof INTERVAL>, offset: number): string => {
  const v = { ...INTERVAL, ...over };
  return `${v.session_id}\t${v.seq}\t${v.esci_id}\t${v.eumd_id}\t${v.premise_id}\t${v.pev_id}\t${v.interval_start / 1000}\t${v.interval_s}\t${v.energy_wh}\t${v.register_wh}\t${v.quality}` + originTsv(IT, 3, offset);
};

/** Every declared record is a row or inside a dead letter; the tables agree with the counts. */
function checkAccounting(t: Test, r: BatchResult, name: string): void {
  const ok = r.stats.ok[r.kind];
  t.equal(ok + r.stats.deadRecords, r.stats.records, `${name}: good + dead = input`);
  t.equal(r.tables[0]!.rows, ok, `${name}: row count`);
  t.equal(rowsOf(r).split('\n').length - 1, ok, `${name}: TSV lines`);
  t.equal(r.tables[1]!.rows, r.dead.count, `${name}: dead_letter rows`);
  let sum = 0;
  for (const n of r.dead.records) sum += n;
  t.equal(sum, r.stats.deadRecords, `${name}: dead records add up`);
  for (const line of deadRowsOf(r).split('\n').slice(0, -1)) t.equal(line.split('\t').length, INSERT_COLUMNS.dead_letter.length, `${name}: dead_letter arity`);
}

void t.test('round trip: every record kind, framed, becomes its exact TSV line', (t) => {
  const cases: [kind: 'interval' | 'vehicleReport' | 'enrollment' | 'sessionEvent', values: object[], lines: string[]][] = [
    ['interval', [INTERVAL], [INTERVAL_TSV]],
    ['vehicleReport', [VEHICLE_REPORT], [VEHICLE_REPORT_TSV]],
    ['enrollment', [ENROLLMENT_OPEN, ENROLLMENT_CLOSED], [ENROLLMENT_OPEN_TSV, ENROLLMENT_CLOSED_TSV]],
    ['sessionEvent', SESSION_EVENTS.map((e) => e.value), SESSION_EVENTS.map((e) => e.tsv)],
  ];
  for (const [kind, values, lines] of cases) {
    const r = decodeBatch(framedTask(kind, values.map((v) => ({ value: framed(kind, v) }))));
    t.equal(r.dead.count, 0, `${kind}: no dead letters ${r.dead.text.join('; ')}`);
    t.equal(r.kind, kind);
    t.equal(r.tables[0]!.table, { interval: 'interval_raw', vehicleReport: 'vehicle_report_raw', enrollment: 'enrollment', sessionEvent: 'session_event_raw' }[kind]);
    t.equal(rowsOf(r), lines.map((l, i) => l + originTsv(TOPICS[kind], 3, 100 + i)).join(''), kind);
    t.equal(r.stats.ok[kind], values.length);
    checkAccounting(t, r, kind);
  }
  t.end();
});

// Session event body bytes with a patched union index or enum index: the head fields are
// encoded by a record of just those fields, so the union index sits right after them.
function patchedEvent(unionIndex: number, enumIndex: number): Buffer {
  const head = avro.Type.forSchema({
    type: 'record', name: 'Head', fields: [
      { name: 'session_id', type: 'string' }, { name: 'event_seq', type: 'int' }, { name: 'esci_id', type: 'string' },
      { name: 'premise_id', type: 'string' }, { name: 'pev_id', type: 'string' }, { name: 'event_time', type: 'long' },
    ],
  });
  const full = body('sessionEvent', SESSION_EVENTS[0]!.value);
  const at = head.toBuffer(SESSION_EVENTS[0]!.value).length;
  full[at] = unionIndex * 2; // zig-zag
  full[at + 1] = enumIndex * 2;
  return rawFrame(1002, full);
}

const good = (seq: number): Message => ({ value: framed('interval', { ...INTERVAL, seq }) });
const bad = (over: object): Uint8Array => framed('interval', { ...INTERVAL, ...over });
const limit = NOW_MS + SKEW_MS;
const intervalBody = body('interval', INTERVAL);

interface Case {
  name: string;
  kind?: 'interval' | 'sessionEvent';
  message: Message;
  code: string;
  /** Declared records the dead letter stands for (default 1). */
  records?: number;
  /** Good rows from the bad message itself (records before the failure). */
  alsoGood?: number;
  task?: Partial<FramedTask>;
  session?: string;
}

const corpus: Case[] = [
  { name: 'no magic byte', message: { value: Buffer.concat([Buffer.of(7), bad({}).subarray(1)]) }, code: 'PEV_NO_MAGIC' },
  { name: 'unknown schema ID', message: { value: rawFrame(9999, intervalBody) }, code: 'PEV_UNKNOWN_SCHEMA' },
  { name: 'truncated body', message: { value: bad({}).subarray(0, 60) }, code: 'PEV_TRUNCATED' },
  { name: 'trailing bytes', message: { value: Buffer.concat([bad({ seq: 50 }), Buffer.of(1, 2, 3)]) }, code: 'PEV_TRAILING_BYTES', records: 0, alsoGood: 1 },
  { name: 'wrong record type for the topic', message: { value: framed('vehicleReport', VEHICLE_REPORT) }, code: 'PEV_WRONG_RECORD_TYPE', session: VEHICLE_REPORT.session_id },
  { name: 'empty value', message: { value: new Uint8Array(0) }, code: 'PEV_EMPTY_VALUE' },
  { name: 'header only', message: { value: rawFrame(1001, new Uint8Array(0)) }, code: 'PEV_SHORT_FRAME' },
  { name: 'oversize message', message: { value: Buffer.concat([bad({}), Buffer.alloc(200)]) }, code: 'PEV_OVERSIZE', task: { maxMessageBytes: 256 } },
  { name: 'negative energy', message: { value: bad({ energy_wh: -40 }) }, code: 'PEV_NEGATIVE_ENERGY', session: INTERVAL.session_id },
  { name: 'energy above 350 kW', message: { value: bad({ energy_wh: 6_000 }) }, code: 'PEV_ENERGY_RANGE', session: INTERVAL.session_id },
  { name: 'interval length not allowed', message: { value: bad({ interval_s: 120 }) }, code: 'PEV_INTERVAL_LENGTH', session: INTERVAL.session_id },
  { name: 'timestamp out of range', message: { value: bad({ interval_start: 900_000_000_000 }) }, code: 'PEV_TIME_RANGE', session: INTERVAL.session_id },
  { name: 'future beyond skew', message: { value: bad({ interval_start: limit - (limit % 1000) + 60_000 }) }, code: 'PEV_FUTURE_TIME', session: INTERVAL.session_id },
  { name: 'ID with control characters', message: { value: bad({ premise_id: 'P12345\u00006789' }) }, code: 'PEV_BAD_ID', session: INTERVAL.session_id },
  { name: 'session ID with a newline', message: { value: bad({ session_id: 'S-0123456789abcd\n' }) }, code: 'PEV_BAD_ID', session: 'S-0123456789abcd\n' },
  { name: 'malformed VIN', message: { value: bad({ pev_id: 'WVWZZZ1JZXW00000I' }) }, code: 'PEV_BAD_ID', session: INTERVAL.session_id },
  { name: 'seq out of range', message: { value: bad({ seq: 20_000_000 }) }, code: 'PEV_SEQ_RANGE', session: INTERVAL.session_id },
  { name: 'bad enum index', kind: 'sessionEvent', message: { value: patchedEvent(0, 5) }, code: 'PEV_AVRO_INVALID' },
  { name: 'invalid union index', kind: 'sessionEvent', message: { value: patchedEvent(9, 0) }, code: 'PEV_AVRO_INVALID' },
  // interval_start is the long after 5 strings (76 bytes) and seq (1 byte).
  { name: 'long beyond 2^53', message: { value: rawFrame(1001, Buffer.concat([intervalBody.subarray(0, 77), Buffer.alloc(10, 0xff), Buffer.of(1)])) }, code: 'PEV_AVRO_INVALID' },
  { name: 'fewer records than pev-records', message: { value: Buffer.concat([bad({ seq: 60 }), bad({ seq: 61 })]), records: 3 }, code: 'PEV_TRUNCATED', alsoGood: 2 },
  { name: 'pev-records 0 with bytes', message: { value: bad({}), records: 0 }, code: 'PEV_TRAILING_BYTES' },
];

void t.test('malformed corpus: each kind gets its code; good records around it stay intact', (t) => {
  t.ok(corpus.length >= 15, `${corpus.length} malformed kinds`);
  for (const c of corpus) {
    const kind = c.kind ?? 'interval';
    const goodBefore = kind === 'interval' ? good(1) : { value: framed('sessionEvent', SESSION_EVENTS[3]!.value) };
    const goodAfter = kind === 'interval' ? good(2) : { value: framed('sessionEvent', SESSION_EVENTS[4]!.value) };
    const r = decodeBatch(framedTask(kind, [goodBefore, c.message, goodAfter], c.task ?? {}));
    t.same(r.dead.code, [c.code], `${c.name}: code (${r.dead.text.join('; ')})`);
    t.equal(r.dead.records[0], c.records ?? 1, `${c.name}: records in the dead letter`);
    t.equal(r.dead.offset[0], 101, `${c.name}: origin offset`);
    t.equal(r.dead.messageIndex[0], 1, `${c.name}: message index`);
    t.equal(r.dead.sessionId[0], c.session ?? '', `${c.name}: session id`);
    t.equal(r.stats.deadByCode[c.code as 'PEV_NO_MAGIC'], 1, `${c.name}: counted by code`);
    if (kind === 'interval') {
      const expected = [intervalRow({ seq: 1 }, 100)];
      if (c.name === 'trailing bytes') expected.push(intervalRow({ seq: 50 }, 101));
      if (c.name === 'fewer records than pev-records') expected.push(intervalRow({ seq: 60 }, 101), intervalRow({ seq: 61 }, 101));
      expected.push(intervalRow({ seq: 2 }, 102));
      t.equal(rowsOf(r), expected.join(''), `${c.name}: good rows exact`);
    } else {
      t.equal(rowsOf(r), SESSION_EVENTS[3]!.tsv + originTsv(TOPICS.sessionEvent, 3, 100) + SESSION_EVENTS[4]!.tsv + originTsv(TOPICS.sessionEvent, 3, 102), `${c.name}: good rows exact`);
    }
    t.equal(r.stats.ok[kind], 2 + (c.alsoGood ?? 0), `${c.name}: good count`);
    // The dead_letter row carries origin, code and the offending bytes.
    const fields = deadRowsOf(r).split('\t');
    t.same(fields.slice(0, 5), [TOPICS[kind], '3', '101', String(r.dead.recordIndex[0]), c.code], `${c.name}: dead_letter origin`);
    const payload = r.dead.payload.subarray(0, r.dead.payloadEnds[0]);
    t.equal(fields[7], Buffer.from(payload).toString('base64'), `${c.name}: payload base64`);
    checkAccounting(t, r, c.name);
  }
  t.end();
});

void t.test('dead-letter payloads are the offending bytes', (t) => {
  const junk = bad({ energy_wh: -1 });
  const r = decodeBatch(framedTask('interval', [good(1), { value: Buffer.concat([bad({ seq: 3 }), junk]), records: 2 }]));
  t.same(r.dead.code, ['PEV_NEGATIVE_ENERGY']);
  t.same([...r.dead.payload], [...junk], 'only the failing record, not the message');
  t.equal(r.dead.recordIndex[0], 1);
  t.equal(r.dead.text[0], 'energy_wh -1 Wh is negative');
  const huge = decodeBatch(framedTask('interval', [{ value: new Uint8Array(DEAD_PAYLOAD_MAX_BYTES + 10).fill(9) }]));
  t.equal(huge.dead.payload.length, DEAD_PAYLOAD_MAX_BYTES);
  t.match(huge.dead.text[0], /payload cut to its first 262144 of 262154 bytes/);
  t.end();
});

void t.test('multi-record messages: N = 16', (t) => {
  const start = 1_700_000_040_000; // a whole minute
  const rec = (seq: number, over: object = {}): Buffer => framed('interval', { ...INTERVAL, seq, interval_s: 15, energy_wh: 25 + seq, interval_start: start + seq * 15_000, ...over });
  const all = Array.from({ length: 16 }, (_, i) => rec(i));
  const second = Array.from({ length: 16 }, (_, i) => rec(100 + i, { session_id: 'S-00000000000000ff', interval_start: start + i * 15_000 }));
  second[5] = rec(105, { session_id: 'S-00000000000000ff', energy_wh: -1 });
  const cut = Buffer.concat(second.slice(0, 9).concat([second[9]!.subarray(0, 20)]));
  const r = decodeBatch(framedTask('interval', [{ value: Buffer.concat(all), records: 16 }, { value: cut, records: 16 }]));
  t.equal(r.stats.records, 32);
  t.equal(r.stats.ok.interval, 24, '16 + 5 + 3 good');
  t.same(r.dead.code, ['PEV_NEGATIVE_ENERGY', 'PEV_TRUNCATED']);
  t.same([...r.dead.recordIndex], [5, 9]);
  t.same([...r.dead.records], [1, 7], 'a validation failure is one record; truncation at 9 takes 9..15');
  t.same([...r.dead.offset], [101, 101]);
  t.same(r.dead.sessionId, ['S-00000000000000ff', '']);
  const lines = rowsOf(r).split('\n').slice(0, -1);
  t.equal(lines.length, 24);
  t.equal(lines[0], intervalRow({ seq: 0, interval_s: 15, energy_wh: 25, interval_start: start }, 100).slice(0, -1));
  t.equal(lines[15], intervalRow({ seq: 15, interval_s: 15, energy_wh: 40, interval_start: start + 225_000 }, 100).slice(0, -1));
  t.equal(lines[23], intervalRow({ seq: 108, session_id: 'S-00000000000000ff', interval_s: 15, energy_wh: 133, interval_start: start + 120_000 }, 101).slice(0, -1));
  checkAccounting(t, r, 'N = 16');
  t.end();
});

void t.test('a columnar task gives the same interval rows as columns, and the same dead letters', (t) => {
  const start = 1_700_000_040_000;
  const rec = (seq: number, over: object = {}): Buffer => framed('interval', { ...INTERVAL, seq, interval_start: start + seq * 60_000, energy_wh: 10 + seq, ...over });
  const messages: Message[] = [
    { value: rec(0) },
    { value: Buffer.concat([rec(1), rec(2, { energy_wh: -5 }), rec(3)]), records: 3 },
    { value: rec(4, { session_id: 'not a session' }) },
    { value: Buffer.concat([rec(5), rec(6).subarray(0, 12)]), records: 2 },
    { value: rec(7, { register_wh: 12_884_901_893 }) },
  ];
  const asText = decodeBatch(framedTask('interval', messages));
  const asColumns = decodeBatch(framedTask('interval', messages, { columnar: true }));
  t.same(asColumns.dead.code, ['PEV_NEGATIVE_ENERGY', 'PEV_BAD_ID', 'PEV_TRUNCATED']);
  t.same(asColumns.dead, asText.dead, 'dead letters do not depend on the row format');
  t.same(asColumns.stats, asText.stats);
  t.equal(asColumns.tables[0]!.rows, 5);
  t.equal(asColumns.tables[0]!.tsv.length, 0, 'no text rows beside the columns');
  t.equal(columnsAsTsv([asColumns.tables[0]!.columns!]), rowsOf(asText), 'every good row, value for value');
  t.equal(rowsOf(asText).split('\n').length - 1, 5);
  t.equal(text(asColumns.tables[1]!.tsv), deadRowsOf(asText));
  t.equal(asText.tables[0]!.columns, undefined, 'a text task has no columns');
  const events = decodeBatch(framedTask('sessionEvent', [{ value: framed('sessionEvent', SESSION_EVENTS[0]!.value) }], { columnar: true }));
  t.equal(rowsOf(events), SESSION_EVENTS[0]!.tsv + originTsv(TOPICS.sessionEvent, 3, 100), 'other record kinds stay text');
  t.end();
});

void t.test('schemas: cached per ID, evolution through a resolver, incompatible and wrong-kind schemas', (t) => {
  const first = decodeBatch(framedTask('interval', [good(1)]));
  t.equal(first.dead.count, 0);
  t.ok(cachedSchemaIds().includes(1001));
  const again = decodeBatch(framedTask('interval', [good(2)], { schemas: [] }));
  t.equal(again.dead.count, 0, 'the second batch needs no schema text');

  // Version 2 adds a field with a default; records written with it read as the local shape.
  const v2 = JSON.parse(latestSchema('interval').text) as { fields: object[] };
  v2.fields.push({ name: 'firmware', type: 'string', default: '' });
  const v2Type = avro.Type.forSchema(v2 as avro.Schema, { wrapUnions: true });
  const v2Record = rawFrame(2001, v2Type.toBuffer({ ...INTERVAL, seq: 3, firmware: '4.1.7' }));
  // An "EumdInterval" whose energy is a string cannot be read as ours.
  const broken = JSON.parse(latestSchema('interval').text) as { fields: { name: string; type: unknown }[] };
  broken.fields = broken.fields.map((f) => (f.name === 'energy_wh' ? { ...f, type: 'string' } : f));
  const brokenType = avro.Type.forSchema(broken as avro.Schema, { wrapUnions: true });
  const brokenRecord = rawFrame(2002, brokenType.toBuffer({ ...INTERVAL, energy_wh: 'lots' }));
  const r = decodeBatch(framedTask('interval', [{ value: Buffer.concat([v2Record, brokenRecord, v2Record]), records: 3 }], {
    schemas: [{ id: 2001, text: JSON.stringify(v2) }, { id: 2002, text: JSON.stringify(broken) }, { id: 2003, text: '{"type": "nonsense"' }],
  }));
  t.equal(rowsOf(r), intervalRow({ seq: 3 }, 100).repeat(2), 'v2 records read as v1; the incompatible one is skipped, the rest kept');
  t.same(r.dead.code, ['PEV_SCHEMA_INCOMPATIBLE']);
  t.equal(r.dead.sessionId[0], INTERVAL.session_id);
  t.match(r.dead.text[0], /schema 2002 \(pevmeter\.v1\.EumdInterval\) cannot be read as the local/);
  checkAccounting(t, r, 'evolution');

  const garbage = decodeBatch(framedTask('interval', [{ value: rawFrame(2003, intervalBody) }], { schemas: [] }));
  t.same(garbage.dead.code, ['PEV_UNKNOWN_SCHEMA']);
  t.match(garbage.dead.text[0], /schema 2003 does not parse as Avro/);
  t.end();
});

void t.test('decodeBatch is total: garbage tasks dead-letter, never throw', (t) => {
  let seed = 12_345;
  const rnd = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed % n;
  };
  const valid = Buffer.concat([good(1).value, good(2).value]);
  let records = 0;
  for (let i = 0; i < 300; i++) {
    const bytes = Buffer.from(valid);
    for (let j = rnd(6); j > 0; j--) bytes[rnd(bytes.length)] = rnd(256);
    const n = 1 + rnd(4);
    const starts = new Uint32Array(n);
    const ends = new Uint32Array(n);
    for (let m = 0; m < n; m++) {
      starts[m] = rnd(bytes.length + 5);
      ends[m] = rnd(3) === 0 ? starts[m]! + rnd(300) : Math.min(bytes.length, starts[m]! + rnd(bytes.length));
    }
    const data = new ArrayBuffer(bytes.length);
    new Uint8Array(data).set(bytes);
    const task = framedTask('interval', [], {
      data, starts, ends, offsets: new Float64Array(n).fill(i), recordCounts: Uint16Array.from({ length: n }, () => rnd(4)),
    });
    let r: BatchResult | undefined;
    t.doesNotThrow(() => (r = decodeBatch(task)), `mutation ${i}`);
    if (r) {
      records += r.stats.records;
      if (r.stats.ok.interval + r.stats.deadRecords !== r.stats.records) t.fail(`mutation ${i}: counts do not add up`);
    }
  }
  t.ok(records > 300);
  const nonsense: unknown[] = [
    {},
    { kind: 'interval' },
    { kind: 'nope', starts: Uint32Array.of(0), ends: Uint32Array.of(0), offsets: Float64Array.of(0) },
    { ...framedTask('interval', [good(1)]), data: 'not a buffer' },
    { ...framedTask('interval', [good(1)]), schemas: [null, { id: 'x' }] },
    { mode: 'container', kind: 'interval', data: new ArrayBuffer(3), count: 2, schema: 'x', codec: 'zstd', firstOrdinal: 0 },
  ];
  for (const task of nonsense) {
    let r: BatchResult | undefined;
    t.doesNotThrow(() => (r = decodeBatch(task as never)));
    t.equal(r!.stats.ok.interval + r!.stats.deadRecords, r!.stats.records, JSON.stringify(Object.keys(task as object)));
  }
  t.end();
});

void t.test('deadBlockResult: a whole block as one dead letter', (t) => {
  const r = deadBlockResult({
    topic: 'fleet-001.avro', partition: 0, kind: 'interval', firstOrdinal: 4000, count: 250, code: 'PEV_CONTAINER_SYNC',
    message: 'bad marker', payload: Uint8Array.of(1, 2), ingestedMs: 5,
  });
  t.equal(r.stats.records, 250);
  t.equal(r.stats.deadRecords, 250);
  t.equal(r.tables[0]!.rows, 0);
  t.equal(deadRowsOf(r), 'fleet-001.avro\t0\t4000\t0\tPEV_CONTAINER_SYNC\tbad marker\t\tAQI=\t5\n');
  t.end();
});
