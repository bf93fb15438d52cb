/**
 * The bad-input corpus: one Kafka message per malformed kind, each with what the pipeline must
 * make of it (rows kept, dead letters with code, record index and how many declared records each
 * stands for). Shared by the end-to-end corpus test and the security tests that need dead letters.
 *
 * Accounting rule every case satisfies (checked by the test before anything runs):
 *   good + sum(letter.records) === declared
 * where `declared` is max(N, 1) for a message with header `pev-records: N` (1 without it), and a
 * PEV_TRAILING_BYTES letter after N good records stands for no declared record (records 0).
 */
import { frame } from '../../../ingest/codec/framing.js';
import type { RecordErrorCode } from '../../../schemas/errors.js';
import { latestSchema } from '../../../schemas/index.js';
import type { EumdInterval, Enrollment, RecordKind, RecordOf, SessionEvent, VehicleReport } from '../../../schemas/index.js';
import { EXAMPLES } from '../../schemas/fixtures.js';

export interface ExpectedLetter {
  code: RecordErrorCode;
  /** pev-record-index of the letter. */
  recordIndex: number;
  /** Declared records the letter stands for. */
  records: number;
}

export interface CorpusCase {
  /** The malformation, as named in the issue. */
  name: string;
  kind: RecordKind;
  value: Buffer | null;
  headers?: Record<string, string>[];
  /** Rows this message must leave in its kind's table. */
  good: number;
  /** energy_wh of the good interval rows it leaves. */
  goodWh: number;
  letters: ExpectedLetter[];
  declared: number;
}

export const SCHEMA_ID = {
  interval: latestSchema('interval').id,
  sessionEvent: latestSchema('sessionEvent').id,
  vehicleReport: latestSchema('vehicleReport').id,
  enrollment: latestSchema('enrollment').id,
} as const;

export function body<K extends RecordKind>(kind: K, record: RecordOf[K]): Buffer {
  return latestSchema(kind).type.toBuffer(record);
}

export function framed<K extends RecordKind>(kind: K, record: RecordOf[K]): Buffer {
  return frame(SCHEMA_ID[kind], body(kind, record));
}

/** A distinct 16-hex session ID per number. */
export function sessionId(n: number): string {
  return `S-${n.toString(16).padStart(16, '0')}`;
}

const BASE_START = Date.UTC(2026, 9, 1, 22, 0, 0);

/** A valid interval: its own session and seq, energy 100 + n Wh over 60 s (well under 350 kW). */
export function goodInterval(n: number, over: Partial<EumdInterval> = {}): EumdInterval {
  return {
    ...EXAMPLES.interval,
    session_id: sessionId(0x1000 + n),
    seq: n,
    interval_start: BASE_START + n * 60_000,
    interval_s: 60,
    energy_wh: 100 + n,
    ...over,
  };
}

export function goodVehicleReport(n: number, over: Partial<VehicleReport> = {}): VehicleReport {
  return { ...EXAMPLES.vehicleReport, session_id: sessionId(0x2000 + n), report_time: BASE_START + n * 1000, running_wh: 1000 + n, ...over };
}

export function goodSessionEvent(n: number, over: Partial<SessionEvent> = {}): SessionEvent {
  return { ...EXAMPLES.sessionEvent, session_id: sessionId(0x3000 + n), event_seq: n, ...over };
}

export function goodEnrollment(n: number, over: Partial<Enrollment> = {}): Enrollment {
  // A distinct VIN per n: 17 characters of the VIN alphabet.
  const vin = `1HGCM82633A${(100000 + n).toString().padStart(6, '0')}`;
  return { ...EXAMPLES.enrollment, pev_id: vin, ...over };
}

/** Byte length of the SessionEvent fields before `body` (where the union index sits). */
function sessionEventHeadLength(e: SessionEvent): number {
  const type = latestSchema('sessionEvent').type as unknown as { fields: { name: string; type: { toBuffer(v: unknown): Buffer } }[] };
  let n = 0;
  for (const f of type.fields) {
    if (f.name === 'body') break;
    n += f.type.toBuffer((e as unknown as Record<string, unknown>)[f.name]).length;
  }
  return n;
}

function one(name: string, kind: RecordKind, value: Buffer | null, code: RecordErrorCode, extra: Partial<CorpusCase> = {}): CorpusCase {
  return { name, kind, value, good: 0, goodWh: 0, letters: [{ code, recordIndex: 0, records: 1 }], declared: 1, ...extra };
}

/**
 * The corpus. `nowMs` is the time the test runs (future timestamps are relative to it);
 * `maxMessageBytes` is pipeline.maxMessageBytes of the run (the oversize case exceeds it).
 */
export function corpus(nowMs: number, maxMessageBytes: number): CorpusCase[] {
  const ok = framed('interval', goodInterval(900));
  const cases: CorpusCase[] = [];

  cases.push(one('no magic byte', 'interval', Buffer.concat([Buffer.from([0x01]), ok.subarray(1)]), 'PEV_NO_MAGIC'));
  cases.push(one('frame shorter than its header', 'interval', Buffer.from([0, 0, 0, 0x03, 0xe9]), 'PEV_SHORT_FRAME'));
  cases.push(one('unknown schema ID', 'interval', frame(4242, body('interval', goodInterval(901))), 'PEV_UNKNOWN_SCHEMA'));
  cases.push(one('truncated body', 'interval', ok.subarray(0, ok.length - 3), 'PEV_TRUNCATED'));
  cases.push({
    name: 'trailing bytes after the record', kind: 'interval', value: Buffer.concat([framed('interval', goodInterval(902)), Buffer.from([0x02, 0x04])]),
    good: 1, goodWh: 1002, letters: [{ code: 'PEV_TRAILING_BYTES', recordIndex: 1, records: 0 }], declared: 1,
  });
  cases.push(one('wrong record type for the topic', 'interval', framed('vehicleReport', goodVehicleReport(903)), 'PEV_WRONG_RECORD_TYPE'));
  cases.push(one('empty value', 'interval', Buffer.alloc(0), 'PEV_EMPTY_VALUE'));
  cases.push(one('null value (tombstone)', 'interval', null, 'PEV_EMPTY_VALUE'));
  cases.push(one('oversize message', 'interval', Buffer.concat([ok, Buffer.alloc(maxMessageBytes + 1 - ok.length, 0x41)]), 'PEV_OVERSIZE'));
  cases.push(one('negative energy', 'interval', framed('interval', goodInterval(904, { energy_wh: -5 })), 'PEV_NEGATIVE_ENERGY'));
  cases.push(one('energy beyond 350 kW', 'interval', framed('interval', goodInterval(905, { energy_wh: 10_000 })), 'PEV_ENERGY_RANGE'));
  cases.push(one('interval length not allowed', 'interval', framed('interval', goodInterval(906, { interval_s: 45 })), 'PEV_INTERVAL_LENGTH'));
  cases.push(one('timestamp out of range (1999)', 'interval', framed('interval', goodInterval(907, { interval_start: Date.UTC(1999, 11, 31, 23, 0, 0) })), 'PEV_TIME_RANGE'));
  const future = Math.floor((nowMs + 24 * 3600_000) / 1000) * 1000;
  cases.push(one('future timestamp beyond skew', 'interval', framed('interval', goodInterval(908, { interval_start: future })), 'PEV_FUTURE_TIME'));
  cases.push(one('ID with control characters', 'interval', framed('interval', goodInterval(909, { esci_id: 'ESCI-0\t\n1B2C3' })), 'PEV_BAD_ID'));
  // The session_id goes into the dead_letter row as it came: TSV escaping must keep it one row.
  cases.push(one('session ID with tab, newline, backslash and NUL', 'interval', framed('interval', goodInterval(910, { session_id: 'S-01\t23\n45\\67\u000089ab' })), 'PEV_BAD_ID'));
  cases.push(one('malformed VIN (I and O)', 'interval', framed('interval', goodInterval(911, { pev_id: 'IHGCM82633O004352' })), 'PEV_BAD_ID'));
  cases.push(one('sequence number negative', 'interval', framed('interval', goodInterval(912, { seq: -1 })), 'PEV_SEQ_RANGE'));
  // A string whose length field is negative (zig-zag 0x01 = -1) at the first field. avsc moves its
  // read position back by one and reads on until it runs past the message: PEV_TRUNCATED, as
  // docs/errors.md says for a corrupt length that runs past the end.
  cases.push(one('negative string length', 'interval', Buffer.concat([ok.subarray(0, 5), Buffer.from([0x01]), ok.subarray(6)]), 'PEV_TRUNCATED'));

  const multi = [goodInterval(913), goodInterval(914, { energy_wh: -1 }), goodInterval(915)];
  cases.push({
    name: 'multi-record message with one bad record among good ones', kind: 'interval',
    value: Buffer.concat(multi.map((r) => framed('interval', r))), headers: [{ 'pev-records': '3' }],
    good: 2, goodWh: 1013 + 1015, letters: [{ code: 'PEV_NEGATIVE_ENERGY', recordIndex: 1, records: 1 }], declared: 3,
  });
  cases.push({
    name: 'multi-record message with a framing failure at record 1', kind: 'interval',
    value: Buffer.concat([framed('interval', goodInterval(916)), Buffer.from([0x07]), framed('interval', goodInterval(917)).subarray(1), framed('interval', goodInterval(918))]),
    headers: [{ 'pev-records': '3' }],
    good: 1, goodWh: 1016, letters: [{ code: 'PEV_NO_MAGIC', recordIndex: 1, records: 2 }], declared: 3,
  });
  cases.push({
    name: 'pev-records header that lies (declares 3, holds 2)', kind: 'interval',
    value: Buffer.concat([framed('interval', goodInterval(919)), framed('interval', goodInterval(920))]), headers: [{ 'pev-records': '3' }],
    good: 2, goodWh: 1019 + 1020, letters: [{ code: 'PEV_TRUNCATED', recordIndex: 2, records: 1 }], declared: 3,
  });
  cases.push({
    name: 'pev-records header that lies (declares 1, holds 2)', kind: 'interval',
    value: Buffer.concat([framed('interval', goodInterval(921)), framed('interval', goodInterval(922))]), headers: [{ 'pev-records': '1' }],
    good: 1, goodWh: 1021, letters: [{ code: 'PEV_TRAILING_BYTES', recordIndex: 1, records: 0 }], declared: 1,
  });
  cases.push(one('pev-records header that is no number', 'interval', framed('interval', goodInterval(923)), 'PEV_TRAILING_BYTES', { headers: [{ 'pev-records': 'many' }] }));

  // Session events: Avro-level corruption of a union and an enum.
  const end = goodSessionEvent(930);
  const endBytes = framed('sessionEvent', end);
  const at = 5 + sessionEventHeadLength(end);
  if (endBytes[at] !== 0x08) throw new Error(`corpus: SessionEnd union index expected at byte ${at}`);
  const badUnion = Buffer.from(endBytes);
  badUnion[at] = 0x12; // union index 9: the union has 5 branches
  cases.push(one('bad union index', 'sessionEvent', badUnion, 'PEV_AVRO_INVALID'));
  const start = goodSessionEvent(931, { body: { 'pevmeter.v1.SessionStart': { connection: 'CORDSET', binding: 'BOUND', plug_in_time: BASE_START } } });
  const startBytes = framed('sessionEvent', start);
  const at2 = 5 + sessionEventHeadLength(start);
  if (startBytes[at2] !== 0x00 || startBytes[at2 + 1] !== 0x00) throw new Error('corpus: SessionStart layout changed');
  const badEnum = Buffer.from(startBytes);
  badEnum[at2 + 1] = 0x0e; // Connection index 7: the enum has 2 symbols
  cases.push(one('bad enum index', 'sessionEvent', badEnum, 'PEV_AVRO_INVALID'));

  cases.push(one('vehicle report with negative running total', 'vehicleReport', framed('vehicleReport', goodVehicleReport(940, { running_wh: -10 })), 'PEV_NEGATIVE_ENERGY'));
  cases.push(one('enrollment with zero rated power', 'enrollment', framed('enrollment', goodEnrollment(950, { rated_power_w: 0 })), 'PEV_FIELD_RANGE'));
  cases.push(one('enrollment account ID malformed', 'enrollment', framed('enrollment', goodEnrollment(951, { account_id: "A1' OR 1=1 --" })), 'PEV_BAD_ID'));
  return cases;
}
