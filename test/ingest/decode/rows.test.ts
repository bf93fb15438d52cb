import t from 'tap';
import {
  rowOrigin, writeDeadLetterRow, writeEnrollmentRow, writeIntervalRow, writeSessionEventRow,
  writeVehicleReportRow,
} from '../../../ingest/decode/rows.js';
import { TsvWriter, escapeTsv } from '../../../aggregate/store/tsv.js';
import { INSERT_COLUMNS } from '../../../schemas/tables.js';
import type { RawTable } from '../../../schemas/tables.js';
import type { SessionEvent } from '../../../schemas/index.js';
import {
  ENROLLMENT_CLOSED, ENROLLMENT_CLOSED_TSV, ENROLLMENT_OPEN, ENROLLMENT_OPEN_TSV, INGESTED_MS, INTERVAL, INTERVAL_TSV,
  SESSION_EVENTS, VEHICLE_REPORT, VEHICLE_REPORT_TSV, text,
} from './fixtures.js';

const origin = rowOrigin('pev.topic', 5, INGESTED_MS);
const tail = (offset: number): string => `\tpev.topic\t5\t${offset}\t${INGESTED_MS}\n`;

function one(write: (w: TsvWriter) => void): string {
  const w = new TsvWriter(64);
  write(w);
  t.equal(w.rows, 1);
  return text(w.result());
}

void t.test('each writer produces exactly one row with INSERT_COLUMNS arity', (t) => {
  const rows: [RawTable, string, string][] = [
    ['interval_raw', one((w) => writeIntervalRow(w, INTERVAL, origin, 42)), INTERVAL_TSV + tail(42)],
    ['vehicle_report_raw', one((w) => writeVehicleReportRow(w, VEHICLE_REPORT, origin, 0)), VEHICLE_REPORT_TSV + tail(0)],
    ['enrollment', one((w) => writeEnrollmentRow(w, ENROLLMENT_OPEN, origin, 9_007_199_254_740_991)), ENROLLMENT_OPEN_TSV + tail(9_007_199_254_740_991)],
    ['enrollment', one((w) => writeEnrollmentRow(w, ENROLLMENT_CLOSED, origin, 1)), ENROLLMENT_CLOSED_TSV + tail(1)],
    ...SESSION_EVENTS.map((e): [RawTable, string, string] => ['session_event_raw', one((w) => writeSessionEventRow(w, e.value as SessionEvent, origin, 7)), e.tsv + tail(7)]),
    ['dead_letter', one((w) => writeDeadLetterRow(w, 'pev.topic', 5, 11, 3, 'PEV_BAD_ID', 'bad\tid\nhere \\ ok', 'S-0\t', Uint8Array.of(0, 255, 10), INGESTED_MS)),
      `pev.topic\t5\t11\t3\tPEV_BAD_ID\tbad\\tid\\nhere \\\\ ok\tS-0\\t\tAP8K\t${INGESTED_MS}\n`],
  ];
  for (const [table, got, want] of rows) {
    t.equal(got, want, table);
    t.equal(got.slice(0, -1).split('\t').length, INSERT_COLUMNS[table].length, `${table}: ${INSERT_COLUMNS[table].length} fields`);
  }
  // Every raw table has a writer.
  t.same([...new Set(rows.map((r) => r[0]))].sort(), Object.keys(INSERT_COLUMNS).sort());
  t.end();
});

void t.test('integers: every magnitude, signs, no float artefacts', (t) => {
  const values = [0, 1, 9, 10, 99, 100, 2_147_483_647, 2_147_483_648, 4_294_967_296, 1_700_000_000_000, 9_007_199_254_740_991, -1, -10, -2_147_483_649, -9_007_199_254_740_991];
  for (let p = 1; p < 1e16; p *= 10) values.push(p, p - 1, p + 1);
  const w = new TsvWriter(16);
  for (const v of values) {
    w.reserve(17);
    w.int(v);
    w.reserve(1);
    w.tab();
  }
  t.equal(text(w.result()), values.map(String).join('\t') + '\t');
  t.end();
});

void t.test('the buffer grows from a tiny start and keeps earlier rows', (t) => {
  const w = new TsvWriter(1);
  for (let i = 0; i < 1000; i++) writeIntervalRow(w, { ...INTERVAL, seq: i }, origin, i);
  t.equal(w.rows, 1000);
  const lines = text(w.result()).split('\n');
  t.equal(lines.length, 1001);
  t.equal(lines[999], INTERVAL_TSV.replace('\t7\t', '\t999\t') + tail(999).slice(0, -1));
  t.equal(w.result().buffer.byteLength >= w.len, true);
  t.end();
});

void t.test('TSV escaping', (t) => {
  t.equal(escapeTsv('plain text'), 'plain text');
  t.equal(escapeTsv('a\\b\tc\nd\re\0f\bg\fh'), 'a\\\\b\\tc\\nd\\re\\0f\\bg\\fh');
  t.equal(escapeTsv('ünïcode ✓'), 'ünïcode ✓');
  const w = new TsvWriter(4);
  w.text('é\t✓');
  t.same([...w.result()], [...Buffer.from('é\\t✓', 'utf8')]);
  const o = rowOrigin('file\tname.avro', 0, 5);
  t.equal(text(o.prefix), 'file\\tname.avro\t0\t');
  t.equal(text(o.suffix), '\t5\n');
  t.end();
});

void t.test('self-reserving writers: any string, pre-escaped text, integers, bytes, from a one-byte buffer', (t) => {
  const strings = ['', 'S-0123456789abcdef', 'back\\slash', 'tab\there', 'line\nfeed', 'nul\0', 'bell\u0007', 'ünïcode ✓', "quote'd", '~\u007f'];
  const w = new TsvWriter(1);
  for (const s of strings) {
    w.str(s);
    w.tab();
  }
  t.equal(text(w.result()), strings.map((s) => escapeTsv(s) + '\t').join(''), 'str() escapes exactly as escapeTsv, ASCII or not');

  const e = new TsvWriter(1);
  const pieces = ["['a','b\\'c']", '[]', "['é✓','x']", ''];
  for (const p of pieces) {
    e.escaped(p);
    e.byte(44);
  }
  t.equal(text(e.result()), pieces.map((p) => p + ',').join(''), 'escaped() copies its text as is, UTF-8 encoded');

  const n = new TsvWriter(1);
  const values = [0, -1, 2_147_483_648, 1_790_000_000_000, -9_007_199_254_740_991];
  for (const v of values) {
    n.integer(v);
    n.tab();
  }
  n.end();
  t.equal(text(n.result()), values.join('\t') + '\t\n');
  t.equal(n.rows, 1);
  t.end();
});
