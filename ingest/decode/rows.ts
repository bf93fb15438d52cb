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

const TAB = 9;
const LF = 10;
const MINUS = 45;
const ZERO = 48;

/**
 * A byte buffer that grows by doubling. `bytes` and `buf` view the same ArrayBuffer (the Buffer
 * view only for Node's UTF-8 and base64 writers); the result hands out a view of the written part
 * whose ArrayBuffer can be transferred to another thread.
 */
export class TsvWriter {
  bytes: Uint8Array<ArrayBuffer>;
  buf: Buffer;
  len = 0;
  rows = 0;

  constructor(initialBytes = 64 * 1024) {
    this.bytes = new Uint8Array(new ArrayBuffer(Math.max(64, initialBytes)));
    this.buf = Buffer.from(this.bytes.buffer, 0, this.bytes.byteLength);
  }

  /** Makes room for `n` more bytes. Callers reserve an upper bound once per row, not per byte. */
  reserve(n: number): void {
    const need = this.len + n;
    if (need <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(new ArrayBuffer(size));
    next.set(this.bytes.subarray(0, this.len));
    this.bytes = next;
    this.buf = Buffer.from(next.buffer, 0, next.byteLength);
  }

  /** An ASCII string known to need no escaping (a validated ID, an enum symbol). Reserve first. */
  ascii(s: string): void {
    const b = this.bytes;
    let p = this.len;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.len = p;
  }

  /** Pre-encoded bytes (a per-batch origin prefix). Reserve first. */
  raw(src: Uint8Array): void {
    const b = this.bytes;
    let p = this.len;
    for (let i = 0; i < src.length; i++) b[p++] = src[i]!;
    this.len = p;
  }

  /** An integer of up to 2^53 in magnitude, in decimal. Reserve 17 bytes first. */
  int(value: number): void {
    let n = value;
    if (n < 0) {
      this.bytes[this.len++] = MINUS;
      n = -n;
    }
    if (n < 2_147_483_648) {
      this.small(n);
      return;
    }
    // Millisecond times and offsets: split into groups of 8 digits so every division is an
    // int32 division (a float division per digit costs about twice as much).
    const hi = Math.floor(n / 1e8);
    if (hi < 2_147_483_648) {
      this.small(hi);
    } else {
      const top = Math.floor(hi / 1e8);
      this.small(top);
      this.pad8(hi - top * 1e8);
    }
    this.pad8(n - hi * 1e8);
  }

  /** 0 <= n < 2^31. */
  private small(value: number): void {
    let n = value;
    const digits = n < 100_000
      ? (n < 100 ? (n < 10 ? 1 : 2) : n < 1000 ? 3 : n < 10_000 ? 4 : 5)
      : n < 10_000_000 ? (n < 1_000_000 ? 6 : 7) : n < 100_000_000 ? 8 : n < 1_000_000_000 ? 9 : 10;
    const b = this.bytes;
    let i = this.len + digits;
    this.len = i;
    while (n >= 10) {
      const q = (n / 10) | 0;
      b[--i] = ZERO + (n - q * 10);
      n = q;
    }
    b[--i] = ZERO + n;
  }

  /** 0 <= n < 10^8 as exactly 8 digits. */
  private pad8(value: number): void {
    let n = value;
    const b = this.bytes;
    let i = this.len + 8;
    this.len = i;
    for (let k = 0; k < 8; k++) {
      const q = (n / 10) | 0;
      b[--i] = ZERO + (n - q * 10);
      n = q;
    }
  }

  tab(): void {
    this.bytes[this.len++] = TAB;
  }

  /** One byte (a bracket or comma of an array field). Reserve first. */
  byte(b: number): void {
    this.bytes[this.len++] = b;
  }

  /** Ends a row. */
  end(): void {
    this.bytes[this.len++] = LF;
    this.rows++;
  }

  /** Free text, TSV-escaped and UTF-8 encoded. Off the hot path (reserves for itself). */
  text(s: string): void {
    const escaped = escapeTsv(s);
    this.reserve(Buffer.byteLength(escaped, 'utf8') + 1);
    this.len += this.buf.write(escaped, this.len, 'utf8');
  }

  /**
   * Any string, TSV-escaped: copied byte by byte when it is ASCII with nothing to escape (the
   * IDs read back from the store), else through `text()`. Reserves for itself and the separator
   * after it, as do `escaped` and `integer`.
   */
  str(s: string): void {
    this.reserve(s.length + 1);
    const b = this.bytes;
    const start = this.len;
    let p = start;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      // Backslash, every control character up to CR (TAB, LF, CR, NUL, BS, FF among them), non-ASCII.
      if (c >= 128 || c === 92 || c <= 13) {
        this.len = start;
        this.text(s);
        return;
      }
      b[p++] = c;
    }
    this.len = p;
  }

  /** Text already in its TSV form (an escaped array element), UTF-8 encoded. Reserves for itself. */
  escaped(s: string): void {
    this.reserve(s.length * 3 + 1);
    const b = this.bytes;
    let p = this.len;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 128) {
        // Non-ASCII: Node's UTF-8 encoder from here on (short strings: cheaper to copy ASCII by hand).
        this.len = p + this.buf.write(s.slice(i), p, 'utf8');
        return;
      }
      b[p++] = c;
    }
    this.len = p;
  }

  /** An integer field that reserves for itself (rows whose size is not bounded up front). */
  integer(value: number): void {
    this.reserve(18);
    this.int(value);
  }

  /** Bytes as base64 text (dead-letter payloads). Reserves for itself. */
  base64(src: Uint8Array): void {
    const text = Buffer.from(src.buffer, src.byteOffset, src.byteLength).toString('base64');
    this.reserve(text.length);
    this.len += this.buf.write(text, this.len, 'latin1');
  }

  /** The written bytes, as a view whose ArrayBuffer can be transferred. */
  result(): Uint8Array<ArrayBuffer> {
    return this.bytes.subarray(0, this.len);
  }
}

const NEEDS_ESCAPE = /[\\\t\n\r\0\b\f]/;
const ESCAPE_ALL = /[\\\t\n\r\0\b\f]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0', '\b': '\\b', '\f': '\\f' };

/** TabSeparated escaping of one field's text. */
export function escapeTsv(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPE_ALL, (c) => ESCAPES[c] ?? c) : s;
}

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
