/**
 * TabSeparated rows for the raw tables, written straight into a growable byte buffer.
 *
 *   row    := field ( TAB field )* LF           in the order of INSERT_COLUMNS[table]
 *   field  := decimal integer | text
 *   text   := UTF-8 with  \ -> \\   TAB -> \t   LF -> \n   CR -> \r   NUL -> \0   BS -> \b   FF -> \f
 *
 * ClickHouse's TabSeparated parser reads exactly these escapes. Every string column of a record
 * table is an ID that validation has matched against an ASCII pattern, so IDs are copied byte by
 * byte with no escaping; only free text (dead-letter messages, topic or file names, a session_id
 * that failed validation) goes through `text()`. Numbers are written digit by digit: no String()
 * per field, no concatenation, no per-row allocation.
 */
import type { Enrollment, EumdInterval, SessionEvent, VehicleReport } from '../../schemas/index.js';
import { EVENT_TYPES } from '../../schemas/tables.js';
import { TAB, ZERO, escapeTsv, type TsvWriter } from '../../aggregate/store/tsv.js';

/**
 * The origin columns, split around the one that varies per row:
 *   prefix  `src_topic TAB src_partition TAB`      suffix  `TAB ingested_ms LF`
 * both encoded once per batch; per row only src_offset is written.
 */
export interface RowOrigin {
  prefix: Uint8Array;
  suffix: Uint8Array;
}

export function rowOrigin(topic: string, partition: number, ingestedMs: number): RowOrigin {
  return {
    prefix: Buffer.from(`${escapeTsv(topic)}\t${partition}\t`, 'utf8'),
    suffix: Buffer.from(`\t${ingestedMs}\n`, 'latin1'),
  };
}

/** Upper bound of a number field in bytes (sign and 16 digits covers every safe integer). */
const NUM = 17;

function origin(w: TsvWriter, o: RowOrigin, offset: number): void {
  w.raw(o.prefix);
  w.int(offset);
  w.raw(o.suffix);
  w.rows++;
}

/** interval_raw. interval_start goes as epoch seconds (DateTime); validation made it a whole second. */
export function writeIntervalRow(w: TsvWriter, r: EumdInterval, o: RowOrigin, offset: number): void {
  w.reserve(r.session_id.length + r.esci_id.length + r.eumd_id.length + r.premise_id.length + r.pev_id.length + o.prefix.length + o.suffix.length + 9 * NUM + 16);
  w.ascii(r.session_id); w.tab();
  w.int(r.seq); w.tab();
  w.ascii(r.esci_id); w.tab();
  w.ascii(r.eumd_id); w.tab();
  w.ascii(r.premise_id); w.tab();
  w.ascii(r.pev_id); w.tab();
  w.int(r.interval_start / 1000); w.tab();
  w.int(r.interval_s); w.tab();
  w.int(r.energy_wh); w.tab();
  w.int(r.register_wh); w.tab();
  w.int(r.quality); w.tab();
  origin(w, o, offset);
}

export function writeVehicleReportRow(w: TsvWriter, r: VehicleReport, o: RowOrigin, offset: number): void {
  w.reserve(r.session_id.length + r.pev_id.length + r.esci_id.length + o.prefix.length + o.suffix.length + 4 * NUM + 10);
  w.ascii(r.session_id); w.tab();
  w.int(r.report_time); w.tab();
  w.ascii(r.pev_id); w.tab();
  w.ascii(r.esci_id); w.tab();
  w.int(r.running_wh); w.tab();
  origin(w, o, offset);
}

/**
 * valid_to as epoch ms, 0 when open-ended (null). Under wrapUnions: true, avsc gives the union
 * ["null", long] as null or `{ long: n }`; a plain number is accepted too (hand-made values).
 */
export function validToMs(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  return (v as { long: number }).long;
}

/** enrollment. valid_to null (open-ended) is 0 in ClickHouse. */
export function writeEnrollmentRow(w: TsvWriter, r: Enrollment, o: RowOrigin, offset: number): void {
  w.reserve(r.pev_id.length + r.premise_id.length + r.account_id.length + r.program_id.length + r.tariff_id.length
    + r.esci_id.length + r.eumd_id.length + o.prefix.length + o.suffix.length + 5 * NUM + 16);
  w.ascii(r.pev_id); w.tab();
  w.ascii(r.premise_id); w.tab();
  w.ascii(r.account_id); w.tab();
  w.ascii(r.program_id); w.tab();
  w.ascii(r.tariff_id); w.tab();
  w.ascii(r.esci_id); w.tab();
  w.ascii(r.eumd_id); w.tab();
  w.int(r.valid_from); w.tab();
  w.int(validToMs(r.valid_to)); w.tab();
  w.int(r.rated_power_w); w.tab();
  origin(w, o, offset);
}

/**
 * session_event_raw: one wide row per event. The body branch decides event_type and which
 * columns carry values; the other branches' columns are 0 or '' (the DDL has no Nullable, so a
 * query tells branches apart by event_type, never by a zero).
 *
 *   START      connection, binding, plug_in_ms
 *   REQUEST    requested_wh, max_rate_w, departure_ms
 *   AVAILABLE  granted_wh, rate_w, schedule_start_ms, schedule_end_ms, delay_reason
 *   PROGRESS   running_wh, intervals
 *   END        start_ms, end_ms, duration_s, energy_wh
 */
export function writeSessionEventRow(w: TsvWriter, r: SessionEvent, o: RowOrigin, offset: number): void {
  w.reserve(r.session_id.length + r.esci_id.length + r.premise_id.length + r.pev_id.length + o.prefix.length + o.suffix.length + 23 * NUM + 64);
  w.ascii(r.session_id); w.tab();
  w.int(r.event_seq); w.tab();
  const b = r.body as Partial<Record<string, unknown>>;
  let v: unknown;
  let type: string;
  // Column groups after pev_id/event_time_ms; each branch fills its own, zeros elsewhere.
  if ((v = b['pevmeter.v1.Progress']) !== undefined) type = EVENT_TYPES['pevmeter.v1.Progress'];
  else if ((v = b['pevmeter.v1.SessionStart']) !== undefined) type = EVENT_TYPES['pevmeter.v1.SessionStart'];
  else if ((v = b['pevmeter.v1.EnergyRequest']) !== undefined) type = EVENT_TYPES['pevmeter.v1.EnergyRequest'];
  else if ((v = b['pevmeter.v1.EnergyAvailable']) !== undefined) type = EVENT_TYPES['pevmeter.v1.EnergyAvailable'];
  else if ((v = b['pevmeter.v1.SessionEnd']) !== undefined) type = EVENT_TYPES['pevmeter.v1.SessionEnd'];
  else throw new TypeError('session event body holds no known branch');
  w.ascii(type); w.tab();
  w.ascii(r.esci_id); w.tab();
  w.ascii(r.premise_id); w.tab();
  w.ascii(r.pev_id); w.tab();
  w.int(r.event_time); w.tab();
  if (type === 'START') {
    const p = v as { connection: string; binding: string; plug_in_time: number };
    w.ascii(p.connection); w.tab();
    w.ascii(p.binding); w.tab();
    w.int(p.plug_in_time); w.tab();
  } else {
    w.tab(); w.tab(); w.int(0); w.tab();
  }
  if (type === 'REQUEST') {
    const p = v as { requested_wh: number; max_rate_w: number; departure_time: number };
    w.int(p.requested_wh); w.tab();
    w.int(p.max_rate_w); w.tab();
    w.int(p.departure_time); w.tab();
  } else {
    zeros(w, 3);
  }
  if (type === 'AVAILABLE') {
    const p = v as { granted_wh: number; rate_w: number; schedule_start: number; schedule_end: number; delay_reason: string };
    w.int(p.granted_wh); w.tab();
    w.int(p.rate_w); w.tab();
    w.int(p.schedule_start); w.tab();
    w.int(p.schedule_end); w.tab();
    w.ascii(p.delay_reason); w.tab();
  } else {
    zeros(w, 4);
    w.tab();
  }
  if (type === 'PROGRESS') {
    const p = v as { running_wh: number; intervals: number };
    w.int(p.running_wh); w.tab();
    w.int(p.intervals); w.tab();
  } else {
    zeros(w, 2);
  }
  if (type === 'END') {
    const p = v as { start_time: number; end_time: number; duration_s: number; energy_wh: number };
    w.int(p.start_time); w.tab();
    w.int(p.end_time); w.tab();
    w.int(p.duration_s); w.tab();
    w.int(p.energy_wh); w.tab();
  } else {
    zeros(w, 4);
  }
  origin(w, o, offset);
}

function zeros(w: TsvWriter, n: number): void {
  for (let i = 0; i < n; i++) {
    w.bytes[w.len++] = ZERO;
    w.bytes[w.len++] = TAB;
  }
}

/** One dead_letter row; `sessionId` is '' when the record could not be decoded. */
export function writeDeadLetterRow(
  w: TsvWriter, topic: string, partition: number, offset: number, recordIndex: number, code: string, message: string,
  sessionId: string, payload: Uint8Array, ingestedMs: number,
): void {
  w.text(topic);
  w.reserve(3 * NUM + 3 + code.length);
  w.tab(); w.int(partition); w.tab(); w.int(offset); w.tab(); w.int(recordIndex); w.tab();
  w.ascii(code);
  w.reserve(1); w.tab();
  w.text(message);
  w.reserve(1); w.tab();
  w.text(sessionId);
  w.reserve(1); w.tab();
  w.base64(payload);
  w.reserve(NUM + 2); w.tab();
  w.int(ingestedMs);
  w.end();
}
