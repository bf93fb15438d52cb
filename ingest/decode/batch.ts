/**
 * The decode workers' one job: a batch of raw message values in, TabSeparated rows (interval rows
 * as columns when the task says `columnar`), dead letters and a few counters out. Pure apart from
 * a per-thread memo of parsed schemas (IDs are immutable).
 *
 * Two inputs share one path (validation, rows, dead letters):
 *
 *   framed     Kafka messages of one partition, values back to back in `data`:
 *                message  := record{N}           N = header `pev-records`, 1 without it
 *                record   := 0x00 schema-id:u32be avro-body
 *              A framing or decode failure at record k of a message dead-letters records k..N-1 as
 *              one dead letter (nothing after it can be located); a record that decodes but fails
 *              validation is dead-lettered alone; bytes after the N-th record are one more dead
 *              letter (PEV_TRAILING_BYTES) standing for no declared record. Good records are never
 *              dropped.
 *   container  one block of an Avro object container file (see container.ts), records back to
 *              back with the file's writer schema, no framing. A block the writer compressed as
 *              one unit is trusted or rejected as one unit: a block that does not inflate or does
 *              not decode into exactly `count` records is one dead letter standing for all its
 *              records (origin: file name, first ordinal). Validation failures are per record.
 *
 * Totality: `decodeBatch` never throws. Every declared record ends as a row or inside a dead
 * letter: stats.ok + stats.deadRecords === stats.records, always; a bug that throws while a
 * record is handled dead-letters that record rather than failing the batch.
 *
 * Schemas: the writer schema of a framed record comes from its ID (task.schemas carries texts
 * the main thread resolved; parsed types are memoized per ID for the thread's lifetime). Values
 * are read as the local reader schema of the topic's record kind (schemas/avro), through an avsc
 * resolver when the writer schema differs, so rows always have the reader's shape.
 *
 * Beside this file: task.ts (the task and result shapes, the contract with the main thread) and
 * readers.ts (the per-thread schema memo).
 */
import { inflateRawSync } from 'node:zlib';
import { readSchemaId, FRAME_HEADER_BYTES } from '../codec/framing.js';
import { RecordError } from '../../schemas/errors.js';
import type { RecordErrorCode } from '../../schemas/errors.js';
import { RECORD_KINDS } from '../../schemas/index.js';
import type { EumdInterval, RecordKind } from '../../schemas/index.js';
import { TABLE_OF_KIND } from '../../schemas/tables.js';
import { TsvWriter } from '../../aggregate/store/tsv.js';
import { IntervalColumns } from '../../aggregate/store/columns.js';
import {
  rowOrigin, writeDeadLetterRow, writeEnrollmentRow, writeIntervalRow, writeSessionEventRow, writeVehicleReportRow,
} from './rows.js';
import type { RowOrigin } from './rows.js';
import { buildReader, byId, byText, errorText, learnSchemas } from './readers.js';
import { DEAD_PAYLOAD_MAX_BYTES, DEFAULT_MAX_BLOCK_BYTES } from './task.js';
import type { BatchResult, BatchStats, ContainerBlockTask, DecodeTask, FramedTask } from './task.js';
import { validateEnrollment, validateInterval, validateSessionEvent, validateVehicleReport } from './validate.js';

// ---------------------------------------------------------------------------------------------
// Per-batch state

const VALIDATE = {
  interval: validateInterval,
  sessionEvent: validateSessionEvent,
  vehicleReport: validateVehicleReport,
  enrollment: validateEnrollment,
} as const;

const WRITE = {
  interval: writeIntervalRow,
  sessionEvent: writeSessionEventRow,
  vehicleReport: writeVehicleReportRow,
  enrollment: writeEnrollmentRow,
} as const;

type Validate = (r: never, notAfterMs: number) => void;
type Write = (w: TsvWriter, r: never, o: RowOrigin, offset: number) => void;

class Batch {
  readonly rows: TsvWriter;
  readonly deadRows = new TsvWriter(4096);
  readonly origin: RowOrigin;
  readonly topic: string;
  readonly partition: number;
  readonly ingestedMs: number;
  readonly notAfterMs: number;
  readonly validate: Validate;
  readonly write: Write;
  /** The interval rows of a columnar task (then `rows` stays empty). */
  readonly columns: IntervalColumns | undefined;
  readonly stats: BatchStats;
  // Dead letters, grown as plain arrays: they are rare.
  readonly dMessage: number[] = [];
  readonly dRecord: number[] = [];
  readonly dRecords: number[] = [];
  readonly dOffset: number[] = [];
  readonly dCode: RecordErrorCode[] = [];
  readonly dText: string[] = [];
  readonly dSession: string[] = [];
  readonly dPayload: Uint8Array[] = [];

  constructor(readonly task: DecodeTask, readonly kind: RecordKind, expectedBytes: number) {
    // Expected rows: a framed interval record is about 100 bytes, whatever the records per message.
    this.columns = kind === 'interval' && task.columnar === true
      ? new IntervalColumns(task.mode === 'container' ? task.count : Math.max(task.starts?.length ?? 0, Math.ceil(expectedBytes / 200)))
      : undefined;
    this.rows = new TsvWriter(this.columns ? 64 : expectedBytes);
    this.topic = typeof task.topic === 'string' ? task.topic : String(task.topic);
    this.partition = finiteInt(task.partition);
    this.ingestedMs = finiteInt(task.ingestedMs);
    this.origin = rowOrigin(this.topic, this.partition, this.ingestedMs);
    this.notAfterMs = finiteNumber(task.nowMs) + finiteNumber(task.clockSkewMs);
    this.validate = VALIDATE[kind];
    this.write = WRITE[kind];
    this.stats = {
      messages: 0, records: 0, ok: { interval: 0, sessionEvent: 0, vehicleReport: 0, enrollment: 0 },
      deadRecords: 0, deadByCode: {}, bytes: 0, unknownSchemaIds: [],
    };
  }

  /**
   * Validates and writes one decoded record; a failure dead-letters it alone. A half-written row
   * is rolled back, so neither the TSV nor the columns ever hold a partial row.
   */
  accept(value: unknown, m: number, k: number, offset: number, bytes: Uint8Array, from: number, to: number): void {
    const rows = this.rows;
    const len = rows.len;
    const count = rows.rows;
    const columnRows = this.columns?.rows ?? 0;
    try {
      this.validate(value as never, this.notAfterMs);
      if (this.columns) this.columns.write(value as EumdInterval, offset);
      else this.write(rows, value as never, this.origin, offset);
    } catch (err) {
      rows.len = len;
      rows.rows = count;
      this.columns?.truncate(columnRows);
      const code = err instanceof RecordError ? err.code : 'PEV_AVRO_INVALID';
      const sid = (value as { session_id?: unknown } | null)?.session_id;
      this.dead(m, k, 1, offset, code, errorText(err), typeof sid === 'string' ? sid : '', bytes, from, to);
      return;
    }
    this.stats.ok[this.kind]++;
  }

  dead(
    m: number, k: number, records: number, offset: number, code: RecordErrorCode, text: string, sessionId: string,
    bytes: Uint8Array, from: number, to: number,
  ): void {
    let end = to;
    let message = text;
    if (end - from > DEAD_PAYLOAD_MAX_BYTES) {
      end = from + DEAD_PAYLOAD_MAX_BYTES;
      message += ` (payload cut to its first ${DEAD_PAYLOAD_MAX_BYTES} of ${to - from} bytes)`;
    }
    const payload = from < end ? new Uint8Array(bytes.subarray(from, end)) : new Uint8Array(0);
    this.dMessage.push(m);
    this.dRecord.push(k);
    this.dRecords.push(records);
    this.dOffset.push(offset);
    this.dCode.push(code);
    this.dText.push(message);
    this.dSession.push(sessionId);
    this.dPayload.push(payload);
    this.stats.deadRecords += records;
    this.stats.deadByCode[code] = (this.stats.deadByCode[code] ?? 0) + 1;
    writeDeadLetterRow(this.deadRows, this.topic, this.partition, offset, k, code, message, sessionId, payload, this.ingestedMs);
  }

  finish(): BatchResult {
    const n = this.dCode.length;
    let total = 0;
    for (const p of this.dPayload) total += p.length;
    const payload = new Uint8Array(new ArrayBuffer(total));
    const payloadEnds = new Uint32Array(n);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const p = this.dPayload[i]!;
      payload.set(p, at);
      at += p.length;
      payloadEnds[i] = at;
    }
    return {
      topic: this.topic,
      partition: this.partition,
      kind: this.kind,
      tables: [
        this.columns
          ? {
            table: TABLE_OF_KIND[this.kind], tsv: this.rows.result(), rows: this.columns.rows,
            columns: this.columns.result(this.topic, this.partition, this.ingestedMs),
          }
          : { table: TABLE_OF_KIND[this.kind], tsv: this.rows.result(), rows: this.rows.rows },
        { table: 'dead_letter', tsv: this.deadRows.result(), rows: this.deadRows.rows },
      ],
      dead: {
        count: n,
        messageIndex: Uint32Array.from(this.dMessage),
        recordIndex: Uint32Array.from(this.dRecord),
        records: Uint32Array.from(this.dRecords),
        offset: Float64Array.from(this.dOffset),
        code: this.dCode,
        text: this.dText,
        sessionId: this.dSession,
        payload,
        payloadEnds,
      },
      stats: this.stats,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Framed (Kafka) batches

function decodeFramed(task: FramedTask, batch: Batch, kind: RecordKind): void {
  learnSchemas(task.schemas);
  const data = task.data instanceof ArrayBuffer ? task.data : new ArrayBuffer(0);
  const whole = Buffer.from(data);
  const starts = task.starts;
  const ends = task.ends;
  const offsets = task.offsets;
  const counts = task.recordCounts;
  const maxBytes = task.maxMessageBytes > 0 ? task.maxMessageBytes : Infinity;
  const n = Math.min(starts?.length ?? 0, ends?.length ?? 0, offsets?.length ?? 0);
  const stats = batch.stats;
  stats.messages = n;
  stats.bytes = whole.length;
  for (let m = 0; m < n; m++) {
    const start = starts[m]!;
    const end = ends[m]!;
    const offset = offsets[m]!;
    const declared = counts ? counts[m] ?? 1 : 1;
    const records = declared > 0 ? declared : 1;
    stats.records += records;
    if (!(start <= end && end <= whole.length)) {
      batch.dead(m, 0, records, offset, 'PEV_TRUNCATED', `message bounds [${start}, ${end}) lie outside the ${whole.length}-byte batch buffer`, '', whole, 0, 0);
      continue;
    }
    if (end - start > maxBytes) {
      batch.dead(m, 0, records, offset, 'PEV_OVERSIZE', `message is ${end - start} bytes; the limit is ${maxBytes}`, '', whole, start, end);
      continue;
    }
    if (declared === 0) {
      // `pev-records: 0` declares nothing, yet the message exists: it must be accounted for once.
      if (end === start) batch.dead(m, 0, 1, offset, 'PEV_EMPTY_VALUE', 'message value is empty and declares 0 records', '', whole, start, end);
      else batch.dead(m, 0, 1, offset, 'PEV_TRAILING_BYTES', `message declares 0 records but holds ${end - start} bytes`, '', whole, start, end);
      continue;
    }
    // Records are decoded in the whole batch buffer (no view per message). A record that reads
    // past its message's end is redone in a view that ends there, which tells a truncated body
    // (offset -1) from a corrupt one; a record that fits reads the same bytes either way.
    let buf = whole;
    let pos = start;
    let k = 0;
    for (; k < declared; k++) {
      if (k > 0 && pos === end) {
        batch.dead(m, k, declared - k, offset, 'PEV_TRUNCATED', `message ends after ${k} records; header pev-records declares ${declared}`, '', whole, pos, end);
        break;
      }
      let id: number;
      try {
        id = readSchemaId(buf, pos, end);
      } catch (err) {
        batch.dead(m, k, declared - k, offset, codeOf(err, 'PEV_SHORT_FRAME'), errorText(err), '', whole, pos, end);
        break;
      }
      const reader = byId.get(id);
      const body = pos + FRAME_HEADER_BYTES;
      if (reader === undefined || reader.writer === undefined) {
        if (reader === undefined && !batch.stats.unknownSchemaIds.includes(id)) batch.stats.unknownSchemaIds.push(id);
        const text = reader?.problem?.message ?? `schema ID ${id} is not in the registry`;
        batch.dead(m, k, declared - k, offset, 'PEV_UNKNOWN_SCHEMA', text, '', whole, pos, end);
        break;
      }
      let value: unknown;
      let next: number;
      try {
        const wrong = reader.kind !== kind;
        let out: { value: unknown; offset: number };
        try {
          out = wrong || reader.reader === undefined ? reader.writer.decode(buf, body) : reader.reader.decode(buf, body, reader.resolver);
          if (out.offset > end) throw new RangeError('record runs past its message');
        } catch (err) {
          if (buf.length === end) throw err;
          buf = whole.subarray(0, end);
          out = wrong || reader.reader === undefined ? reader.writer.decode(buf, body) : reader.reader.decode(buf, body, reader.resolver);
        }
        next = out.offset;
        value = out.value;
        if (next > body && (wrong || reader.reader === undefined)) {
          // Readable with its own schema, so it can be skipped and the rest of the message kept.
          const problem = wrong
            ? { code: 'PEV_WRONG_RECORD_TYPE' as const, message: `schema ${id} is ${reader.name}; topic ${task.topic} carries ${kind} records` }
            : reader.problem!;
          const sid = (value as { session_id?: unknown } | null)?.session_id;
          batch.dead(m, k, 1, offset, problem.code, problem.message, typeof sid === 'string' ? sid : '', whole, pos, next);
          pos = next;
          continue;
        }
      } catch (err) {
        batch.dead(m, k, declared - k, offset, 'PEV_AVRO_INVALID', `record ${k}: ${errorText(err)}`, '', whole, pos, end);
        break;
      }
      if (next === -1) {
        batch.dead(m, k, declared - k, offset, 'PEV_TRUNCATED', `record ${k} (schema ${id}) ends past the message's ${end - start} bytes`, '', whole, pos, end);
        break;
      }
      if (!(next > body && next <= end)) {
        batch.dead(m, k, declared - k, offset, 'PEV_AVRO_INVALID', `record ${k} (schema ${id}) has a negative length field`, '', whole, pos, end);
        break;
      }
      batch.accept(value, m, k, offset, whole, pos, next);
      pos = next;
    }
    if (k === declared && pos < end) {
      batch.dead(m, declared, 0, offset, 'PEV_TRAILING_BYTES', `${end - pos} bytes follow the ${declared} declared record(s)`, '', whole, pos, end);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Container blocks

function decodeBlock(task: ContainerBlockTask, batch: Batch, kind: RecordKind): void {
  const stored = task.data instanceof ArrayBuffer ? new Uint8Array(task.data) : new Uint8Array(0);
  const count = Number.isSafeInteger(task.count) && task.count > 0 ? task.count : 0;
  const first = finiteInt(task.firstOrdinal);
  const stats = batch.stats;
  stats.messages = 1;
  stats.records = count;
  stats.bytes = stored.length;
  const whole = (code: RecordErrorCode, message: string): void => {
    batch.dead(0, 0, count, first, code, message, '', stored, 0, stored.length);
  };
  let reader = byText.get(task.schema);
  if (!reader) {
    reader = buildReader('the container file schema', String(task.schema));
    byText.set(task.schema, reader);
  }
  if (reader.writer === undefined) return whole('PEV_CONTAINER_HEADER', reader.problem?.message ?? 'container file schema does not parse');
  if (reader.kind !== kind) return whole('PEV_WRONG_RECORD_TYPE', `container file schema is ${reader.name}; ${task.topic} is read as ${kind} records`);
  if (reader.reader === undefined) return whole(reader.problem?.code ?? 'PEV_SCHEMA_INCOMPATIBLE', reader.problem?.message ?? 'schema cannot be read');
  let buf: Buffer;
  if (task.codec === 'deflate') {
    try {
      buf = inflateRawSync(stored, { maxOutputLength: task.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES });
    } catch (err) {
      return whole('PEV_CONTAINER_BLOCK', `block at ordinal ${first} does not inflate: ${errorText(err)}`);
    }
  } else if (task.codec === 'null') {
    buf = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  } else {
    return whole('PEV_CONTAINER_HEADER', `unsupported codec ${JSON.stringify(task.codec)}`);
  }
  // First decode every record; only a block that decodes exactly into `count` records is used.
  const values: unknown[] = new Array<unknown>(count);
  const ends = new Uint32Array(count);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    let out: { value: unknown; offset: number };
    try {
      out = reader.reader.decode(buf, pos, reader.resolver);
    } catch (err) {
      return whole('PEV_CONTAINER_BLOCK', `block at ordinal ${first}: record ${i} of ${count} does not decode: ${errorText(err)}`);
    }
    if (!(out.offset > pos)) return whole('PEV_CONTAINER_BLOCK', `block at ordinal ${first} declares ${count} records; its data ends inside record ${i}`);
    values[i] = out.value;
    ends[i] = pos = out.offset;
  }
  if (pos !== buf.length) return whole('PEV_CONTAINER_BLOCK', `block at ordinal ${first}: ${buf.length - pos} bytes follow its ${count} declared records`);
  let from = 0;
  for (let i = 0; i < count; i++) {
    batch.accept(values[i], 0, i, first + i, buf, from, ends[i]!);
    from = ends[i]!;
  }
}

// ---------------------------------------------------------------------------------------------

/** Decodes, validates and encodes one batch. Never throws (see the module comment). */
export function decodeBatch(task: DecodeTask): BatchResult {
  const kind: RecordKind = RECORD_KINDS.includes(task?.kind) ? task.kind : 'interval';
  const framed = task?.mode !== 'container';
  const dataBytes = task?.data instanceof ArrayBuffer ? task.data.byteLength : 0;
  // Rows are about twice the Avro size (decimal digits, tabs); a first guess saves regrowth.
  const batch = new Batch(task, kind, framed ? dataBytes * 2 + 1024 : dataBytes * 8 + 1024);
  if (!RECORD_KINDS.includes(task?.kind)) {
    const records = framed ? countDeclared(task) : Math.max(0, Number(task.count) || 0);
    batch.stats.records = records;
    batch.dead(0, 0, records, 0, 'PEV_WRONG_RECORD_TYPE', `task names no record kind (${String(task?.kind)})`, '', new Uint8Array(0), 0, 0);
    return batch.finish();
  }
  try {
    if (framed) decodeFramed(task, batch, kind);
    else decodeBlock(task, batch, kind);
  } catch (err) {
    // Unreachable by design: every record path above catches. Should a bug throw anyway, what is
    // not yet accounted for is dead-lettered, so counts still add up and the partition moves on.
    const missing = batch.stats.records - batch.stats.ok[kind] - batch.stats.deadRecords;
    batch.dead(0, 0, Math.max(0, missing), 0, 'PEV_AVRO_INVALID', `decoder fault: ${errorText(err)}`, '', new Uint8Array(0), 0, 0);
  }
  return batch.finish();
}

/** decodeBatch for one container block (the same path; `mode` filled in). */
export function decodeContainerBlock(task: Omit<ContainerBlockTask, 'mode'>): BatchResult {
  return decodeBatch({ ...task, mode: 'container' });
}

function countDeclared(task: FramedTask): number {
  const n = Math.min(task.starts?.length ?? 0, task.ends?.length ?? 0, task.offsets?.length ?? 0);
  let records = 0;
  for (let m = 0; m < n; m++) records += Math.max(1, task.recordCounts?.[m] ?? 1);
  return records;
}

/**
 * The result for a container block the reader could not even delimit (bad sync marker, corrupt
 * block header, truncated file, bad file header): one dead letter for the whole block, origin
 * file name + first ordinal, as a normal BatchResult so it is stored like any other.
 */
export function deadBlockResult(args: {
  topic: string; partition: number; kind: RecordKind; firstOrdinal: number; count: number;
  code: RecordErrorCode; message: string; payload: Uint8Array; ingestedMs: number;
}): BatchResult {
  const task: ContainerBlockTask = {
    mode: 'container', topic: args.topic, partition: args.partition, kind: args.kind, data: new ArrayBuffer(0),
    nowMs: 0, clockSkewMs: 0, ingestedMs: args.ingestedMs, schema: '', codec: 'null', count: args.count, firstOrdinal: args.firstOrdinal,
  };
  const batch = new Batch(task, args.kind, 64);
  batch.stats.messages = 1;
  batch.stats.records = args.count;
  batch.stats.bytes = args.payload.length;
  batch.dead(0, 0, args.count, args.firstOrdinal, args.code, args.message, '', args.payload, 0, args.payload.length);
  return batch.finish();
}

function codeOf(err: unknown, fallback: RecordErrorCode): RecordErrorCode {
  return err instanceof RecordError ? err.code : fallback;
}

function finiteInt(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : 0;
}

function finiteNumber(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
