/**
 * interval_raw rows as columns, for chDB's Arrow input: the embedded store's insert format for the
 * one table that takes nearly every record.
 *
 * Decode workers write each interval into per-column buffers (IntervalColumns): IDs as Arrow UTF-8
 * (bytes back to back, int32 end offsets), numbers as little-endian uint32 or int64 (two uint32
 * halves). The buffers are transferred to the main thread, which concatenates a unit's parts
 * (`arrowColumns`: copies and offset shifts, no per-field work) and hands them to chDB as an Arrow
 * table that an `INSERT ... SELECT` reads (aggregate/store/connect.ts). ClickHouse then parses
 * nothing: against the TabSeparated insert this cut the pipeline's CPU per record by about a
 * quarter at 16 records per message (docs/architecture.md, "Hot path").
 *
 * The origin columns that are the same for a whole batch (src_topic, src_partition, ingested_ms)
 * are kept once per part and spread over its rows only when the parts are joined.
 */
import type { EumdInterval } from '../../schemas/index.js';

/** Column order of the Arrow table; the INSERT names them, so it need not match INSERT_COLUMNS. */
export const STRING_COLUMNS = ['session_id', 'esci_id', 'eumd_id', 'premise_id', 'pev_id'] as const;
export const UINT32_COLUMNS = ['seq', 'interval_start', 'interval_s', 'quality'] as const;
export const INT64_COLUMNS = ['energy_wh', 'register_wh', 'src_offset'] as const;
const ORIGIN_COLUMNS = ['src_topic', 'src_partition', 'ingested_ms'] as const;
export const ARROW_INSERT_COLUMNS: readonly string[] = [...STRING_COLUMNS, ...UINT32_COLUMNS, ...INT64_COLUMNS, ...ORIGIN_COLUMNS];

/** One batch's interval rows, as transferred from a worker. */
export interface IntervalColumnsPart {
  rows: number;
  /** Per STRING_COLUMNS entry: the bytes, and rows + 1 offsets (offsets[0] = 0). */
  strings: { data: Uint8Array<ArrayBuffer>; offsets: Int32Array<ArrayBuffer> }[];
  /** Per UINT32_COLUMNS entry, one value per row. */
  uint32: Uint32Array<ArrayBuffer>[];
  /** Per INT64_COLUMNS entry, (low, high) uint32 halves per row. */
  int64: Uint32Array<ArrayBuffer>[];
  topic: string;
  partition: number;
  ingestedMs: number;
}

const bytes = (n: number) => new Uint8Array(new ArrayBuffer(n));
const words = (n: number) => new Uint32Array(new ArrayBuffer(n * 4));

/** A growable byte buffer (one string column's bytes). */
class Grow {
  len = 0;
  constructor(public buf: Uint8Array<ArrayBuffer>) {}

  need(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = bytes(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
}

export class IntervalColumns {
  rows = 0;
  /** Rows the fixed-width columns (string ends, uint32, int64) have room for. */
  private capacity: number;
  private readonly data: Grow[];
  /** End offset of each row's string, per string column. */
  private ends: Uint32Array<ArrayBuffer>[];
  private uint32: Uint32Array<ArrayBuffer>[];
  /** (low, high) uint32 halves per row. */
  private int64: Uint32Array<ArrayBuffer>[];

  constructor(expectedRows: number) {
    this.capacity = Math.max(16, expectedRows);
    // IDs are 10 to 20 characters (schemas/avro): room for the expected rows without regrowing.
    this.data = STRING_COLUMNS.map(() => new Grow(bytes(this.capacity * 24)));
    this.ends = STRING_COLUMNS.map(() => words(this.capacity));
    this.uint32 = UINT32_COLUMNS.map(() => words(this.capacity));
    this.int64 = INT64_COLUMNS.map(() => words(2 * this.capacity));
  }

  /** Appends one validated interval (IDs are ASCII, numbers safe integers) from Kafka offset `offset`. */
  write(r: EumdInterval, offset: number): void {
    // Every fixed-width column holds `rows` rows, so one check covers them all.
    const row = this.rows;
    if (row === this.capacity) this.growFixed();
    this.string(0, row, r.session_id);
    this.string(1, row, r.esci_id);
    this.string(2, row, r.eumd_id);
    this.string(3, row, r.premise_id);
    this.string(4, row, r.pev_id);
    const u = this.uint32;
    u[0]![row] = r.seq;
    // DateTime column: epoch seconds (validation made the start a whole second).
    u[1]![row] = r.interval_start / 1000;
    u[2]![row] = r.interval_s;
    u[3]![row] = r.quality;
    const l = this.int64;
    const at = 2 * row;
    setInt64(l[0]!, at, r.energy_wh);
    setInt64(l[1]!, at, r.register_wh);
    setInt64(l[2]!, at, offset);
    this.rows = row + 1;
  }

  /** Drops everything after the first `rows` rows (a row whose writing threw). */
  truncate(rows: number): void {
    this.rows = rows;
    for (let i = 0; i < STRING_COLUMNS.length; i++) this.data[i]!.len = rows === 0 ? 0 : this.ends[i]![rows - 1]!;
  }

  result(topic: string, partition: number, ingestedMs: number): IntervalColumnsPart {
    const rows = this.rows;
    return {
      rows,
      strings: this.data.map((d, i) => {
        const offsets = new Int32Array(new ArrayBuffer((rows + 1) * 4));
        offsets.set(this.ends[i]!.subarray(0, rows), 1);
        return { data: d.buf.subarray(0, d.len), offsets };
      }),
      uint32: this.uint32.map((c) => c.subarray(0, rows)),
      int64: this.int64.map((c) => c.subarray(0, 2 * rows)),
      topic,
      partition,
      ingestedMs,
    };
  }

  private growFixed(): void {
    const grow = (a: Uint32Array<ArrayBuffer>) => {
      const next = words(a.length * 2);
      next.set(a);
      return next;
    };
    this.capacity *= 2;
    this.ends = this.ends.map(grow);
    this.uint32 = this.uint32.map(grow);
    this.int64 = this.int64.map(grow);
  }

  private string(i: number, row: number, s: string): void {
    const d = this.data[i]!;
    const n = s.length;
    if (d.len + n > d.buf.length) d.need(n);
    const b = d.buf;
    let p = d.len;
    for (let k = 0; k < n; k++) b[p++] = s.charCodeAt(k);
    d.len = p;
    this.ends[i]![row] = p;
  }
}

/** v (a safe integer) as little-endian (low, high) uint32 halves at a[at], a[at + 1]. */
function setInt64(a: Uint32Array, at: number, v: number): void {
  a[at] = v >>> 0;
  a[at + 1] = Math.floor(v / 4_294_967_296) >>> 0;
}

/** The buffers of a part, for a transfer list. */
export function partBuffers(p: IntervalColumnsPart): ArrayBuffer[] {
  const list: ArrayBuffer[] = [];
  for (const s of p.strings) list.push(s.data.buffer, s.offsets.buffer);
  for (const a of p.uint32) list.push(a.buffer);
  for (const a of p.int64) list.push(a.buffer);
  return list;
}

/** One column in the form chDB's Arrow C-data binding takes (format letters of the Arrow spec). */
export interface ArrowColumn {
  name: string;
  format: 'u' | 'I' | 'i' | 'l';
  length: number;
  nullCount: 0;
  buffers: (Buffer | null)[];
}

const view = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Joins a unit's parts into one Arrow table, in ARROW_INSERT_COLUMNS order. */
export function arrowColumns(parts: readonly IntervalColumnsPart[]): ArrowColumn[] {
  let rows = 0;
  for (const p of parts) rows += p.rows;
  const out: ArrowColumn[] = [];
  STRING_COLUMNS.forEach((name, i) => {
    let size = 0;
    for (const p of parts) size += p.strings[i]!.data.length;
    const data = Buffer.allocUnsafe(size);
    const offsets = new Int32Array(rows + 1);
    let at = 0;
    let r = 0;
    for (const p of parts) {
      const s = p.strings[i]!;
      data.set(s.data, at);
      for (let k = 1; k <= p.rows; k++) offsets[r + k] = s.offsets[k]! + at;
      r += p.rows;
      at += s.data.length;
    }
    out.push({ name, format: 'u', length: rows, nullCount: 0, buffers: [null, view(offsets), data] });
  });
  const joined = (name: string, format: 'I' | 'l', pick: (p: IntervalColumnsPart) => Uint32Array<ArrayBuffer>, width: number) => {
    const all = new Uint32Array(rows * width);
    let at = 0;
    for (const p of parts) {
      const v = pick(p);
      all.set(v, at);
      at += v.length;
    }
    out.push({ name, format, length: rows, nullCount: 0, buffers: [null, view(all)] });
  };
  UINT32_COLUMNS.forEach((name, i) => joined(name, 'I', (p) => p.uint32[i]!, 1));
  INT64_COLUMNS.forEach((name, i) => joined(name, 'l', (p) => p.int64[i]!, 2));

  let topicSize = 0;
  for (const p of parts) topicSize += Buffer.byteLength(p.topic, 'utf8') * p.rows;
  const topics = Buffer.allocUnsafe(topicSize);
  const topicOffsets = new Int32Array(rows + 1);
  const partitions = new Int32Array(rows);
  const ingested = new Uint32Array(rows * 2);
  let r = 0;
  let at = 0;
  for (const p of parts) {
    const topic = Buffer.from(p.topic, 'utf8');
    // One native fill per part repeats the topic's bytes (a set() per row cost a tenth of the
    // main thread at 16 records per message).
    if (topic.length > 0) topics.fill(topic, at, at + topic.length * p.rows);
    partitions.fill(p.partition, r, r + p.rows);
    const low = p.ingestedMs >>> 0;
    const high = Math.floor(p.ingestedMs / 4_294_967_296) >>> 0;
    for (let k = 0; k < p.rows; k++) {
      at += topic.length;
      ingested[2 * r] = low;
      ingested[2 * r + 1] = high;
      topicOffsets[++r] = at;
    }
  }
  out.push({ name: 'src_topic', format: 'u', length: rows, nullCount: 0, buffers: [null, view(topicOffsets), topics] });
  out.push({ name: 'src_partition', format: 'i', length: rows, nullCount: 0, buffers: [null, view(partitions)] });
  out.push({ name: 'ingested_ms', format: 'l', length: rows, nullCount: 0, buffers: [null, view(ingested)] });
  return out;
}
