/**
 * Records of every kind with the exact TabSeparated line each must become, and helpers that
 * build decode tasks from framed messages. Shared by the decode tests (not a test file itself).
 */
import { frame, writeFrameHeader } from '../../../ingest/codec/framing.js';
import type { FramedTask } from '../../../ingest/decode/task.js';
import { latestSchema, TOPICS } from '../../../schemas/index.js';
import type { RecordKind } from '../../../schemas/index.js';

export const NOW_MS = 1_700_100_000_000;
export const SKEW_MS = 300_000;
export const INGESTED_MS = 1_700_100_000_123;

export const INTERVAL = {
  esci_id: 'ESCI-0A1B2C3D', eumd_id: 'EUMD-00FF00FF', premise_id: 'P123456789', pev_id: '1HGCM82633A004352',
  session_id: 'S-0123456789abcdef', seq: 7, interval_start: 1_700_000_100_000, interval_s: 60, energy_wh: 120,
  register_wh: 98_765, quality: 3,
};
export const INTERVAL_TSV = 'S-0123456789abcdef\t7\tESCI-0A1B2C3D\tEUMD-00FF00FF\tP123456789\t1HGCM82633A004352\t1700000100\t60\t120\t98765\t3';

export const VEHICLE_REPORT = {
  session_id: 'S-0123456789abcdef', pev_id: '1HGCM82633A004352', esci_id: 'ESCI-0A1B2C3D', report_time: 1_700_000_160_500, running_wh: 4_321,
};
export const VEHICLE_REPORT_TSV = 'S-0123456789abcdef\t1700000160500\t1HGCM82633A004352\tESCI-0A1B2C3D\t4321';

export const ENROLLMENT_OPEN = {
  pev_id: '1HGCM82633A004352', premise_id: 'P123456789', account_id: 'A000000042', program_id: 'EV-TOU-OFFPEAK',
  tariff_id: 'TOU-2024', esci_id: 'ESCI-0A1B2C3D', eumd_id: 'EUMD-00FF00FF', valid_from: 1_690_000_000_000, valid_to: null, rated_power_w: 7_200,
};
export const ENROLLMENT_OPEN_TSV = '1HGCM82633A004352\tP123456789\tA000000042\tEV-TOU-OFFPEAK\tTOU-2024\tESCI-0A1B2C3D\tEUMD-00FF00FF\t1690000000000\t0\t7200';
export const ENROLLMENT_CLOSED = { ...ENROLLMENT_OPEN, valid_to: { long: 1_720_000_000_000 }, rated_power_w: 11_500 };
export const ENROLLMENT_CLOSED_TSV = '1HGCM82633A004352\tP123456789\tA000000042\tEV-TOU-OFFPEAK\tTOU-2024\tESCI-0A1B2C3D\tEUMD-00FF00FF\t1690000000000\t1720000000000\t11500';

const EVENT_HEAD = { session_id: 'S-0123456789abcdef', event_seq: 2, esci_id: 'ESCI-0A1B2C3D', premise_id: 'P123456789', pev_id: '1HGCM82633A004352', event_time: 1_700_000_050_000 };
const HEAD_TSV = (type: string): string => `S-0123456789abcdef\t2\t${type}\tESCI-0A1B2C3D\tP123456789\t1HGCM82633A004352\t1700000050000`;

/** One SessionEvent per body branch and its line: only that branch's columns set, others 0 or ''. */
export const SESSION_EVENTS: { name: string; value: object; tsv: string }[] = [
  {
    name: 'START',
    value: { ...EVENT_HEAD, body: { 'pevmeter.v1.SessionStart': { connection: 'PREMISE_EVSE', binding: 'BOUND', plug_in_time: 1_700_000_000_000 } } },
    tsv: `${HEAD_TSV('START')}\tPREMISE_EVSE\tBOUND\t1700000000000\t0\t0\t0\t0\t0\t0\t0\t\t0\t0\t0\t0\t0\t0`,
  },
  {
    name: 'REQUEST',
    value: { ...EVENT_HEAD, body: { 'pevmeter.v1.EnergyRequest': { requested_wh: 30_000, max_rate_w: 7_200, departure_time: 1_700_030_000_000 } } },
    tsv: `${HEAD_TSV('REQUEST')}\t\t\t0\t30000\t7200\t1700030000000\t0\t0\t0\t0\t\t0\t0\t0\t0\t0\t0`,
  },
  {
    name: 'AVAILABLE',
    value: { ...EVENT_HEAD, body: { 'pevmeter.v1.EnergyAvailable': { granted_wh: 25_000, rate_w: 6_600, schedule_start: 1_700_010_000_000, schedule_end: 1_700_020_000_000, delay_reason: 'OFF_PEAK' } } },
    tsv: `${HEAD_TSV('AVAILABLE')}\t\t\t0\t0\t0\t0\t25000\t6600\t1700010000000\t1700020000000\tOFF_PEAK\t0\t0\t0\t0\t0\t0`,
  },
  {
    name: 'PROGRESS',
    value: { ...EVENT_HEAD, body: { 'pevmeter.v1.Progress': { running_wh: 1_234, intervals: 11 } } },
    tsv: `${HEAD_TSV('PROGRESS')}\t\t\t0\t0\t0\t0\t0\t0\t0\t0\t\t1234\t11\t0\t0\t0\t0`,
  },
  {
    name: 'END',
    value: { ...EVENT_HEAD, body: { 'pevmeter.v1.SessionEnd': { start_time: 1_700_000_000_000, end_time: 1_700_003_600_000, duration_s: 3_600, energy_wh: 6_543 } } },
    tsv: `${HEAD_TSV('END')}\t\t\t0\t0\t0\t0\t0\t0\t0\t0\t\t0\t0\t1700000000000\t1700003600000\t3600\t6543`,
  },
];

/** The record body (Avro, unframed) of a value, with the kind's local schema. */
export function body(kind: RecordKind, value: unknown): Buffer {
  return latestSchema(kind).type.toBuffer(value);
}

/** A framed record with the kind's local schema ID (or `id`). */
export function framed(kind: RecordKind, value: unknown, id = latestSchema(kind).id): Buffer {
  return frame(id, body(kind, value));
}

/** A frame header and raw bytes after it. */
export function rawFrame(id: number, bytes: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + bytes.length);
  writeFrameHeader(out, 0, id);
  out.set(bytes, 5);
  return out;
}

export interface Message {
  value: Uint8Array;
  /** Header pev-records; absent = 1. */
  records?: number;
  offset?: number;
}

/** A framed batch task from message values, offsets 100, 101, ... unless given. */
export function framedTask(kind: RecordKind, messages: Message[], over: Partial<FramedTask> = {}): FramedTask {
  const total = messages.reduce((n, m) => n + m.value.length, 0);
  const data = new ArrayBuffer(total);
  const bytes = new Uint8Array(data);
  const starts = new Uint32Array(messages.length);
  const ends = new Uint32Array(messages.length);
  const offsets = new Float64Array(messages.length);
  const counts = new Uint16Array(messages.length);
  let at = 0;
  messages.forEach((m, i) => {
    bytes.set(m.value, at);
    starts[i] = at;
    at += m.value.length;
    ends[i] = at;
    offsets[i] = m.offset ?? 100 + i;
    counts[i] = m.records ?? 1;
  });
  return {
    topic: TOPICS[kind], partition: 3, kind, data, starts, ends, offsets, recordCounts: counts,
    schemas: [1001, 1002, 1003, 1004].map((id) => {
      const s = latestSchemaById(id);
      return { id, text: s };
    }),
    nowMs: NOW_MS, clockSkewMs: SKEW_MS, ingestedMs: INGESTED_MS, maxMessageBytes: 1_000_000,
    ...over,
  };
}

function latestSchemaById(id: number): string {
  const kinds: RecordKind[] = ['interval', 'sessionEvent', 'vehicleReport', 'enrollment'];
  for (const k of kinds) if (latestSchema(k).id === id) return latestSchema(k).text;
  throw new Error(`no local schema ${id}`);
}

/** The origin columns of a row. */
export function originTsv(topic: string, partition: number, offset: number): string {
  return `\t${topic}\t${partition}\t${offset}\t${INGESTED_MS}\n`;
}

export function text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}
