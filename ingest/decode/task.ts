/**
 * The contract between the main thread and the decode workers: a task of raw message values in,
 * TabSeparated rows, dead letters and counters out. Everything is plain data that crosses threads
 * by structured clone, its buffers by transfer (see batch.ts for what the worker does with it).
 */
import { partBuffers, type IntervalColumnsPart } from '../../aggregate/store/columns.js';
import type { RecordErrorCode } from '../../schemas/errors.js';
import type { RecordKind } from '../../schemas/index.js';
import type { RawTable } from '../../schemas/tables.js';

/** Inputs common to both modes. Everything is plain data: a task crosses threads by structured clone/transfer. */
export interface TaskBase {
  /** src_topic of the rows: the Kafka topic, or a container file's base name. */
  topic: string;
  /** src_partition: the Kafka partition; 0 for files. */
  partition: number;
  /** The record kind this topic carries; other record kinds are PEV_WRONG_RECORD_TYPE. */
  kind: RecordKind;
  data: ArrayBuffer;
  /** The batch's clock reading (epoch ms), for future-time checks. */
  nowMs: number;
  /** Future timestamps up to nowMs + clockSkewMs are accepted. */
  clockSkewMs: number;
  /** ingested_ms of every row. */
  ingestedMs: number;
  /**
   * Interval rows as columns (aggregate/store/columns.ts) instead of TabSeparated text: set when
   * the store takes a columnar insert (chDB). Other record kinds are always text.
   */
  columnar?: boolean;
}

export interface FramedTask extends TaskBase {
  mode?: 'framed';
  /** Message m is data[starts[m], ends[m]). */
  starts: Uint32Array;
  ends: Uint32Array;
  /** Kafka offset of message m (src_offset). */
  offsets: Float64Array;
  /** Header `pev-records` of message m; absent means 1 for every message. */
  recordCounts?: Uint16Array;
  /** Texts of schema IDs used in this batch (the main thread resolved them). */
  schemas: readonly { id: number; text: string }[];
  /** A larger value is PEV_OVERSIZE. */
  maxMessageBytes: number;
}

export interface ContainerBlockTask extends TaskBase {
  mode: 'container';
  /** The file's writer schema (header avro.schema). */
  schema: string;
  codec: 'null' | 'deflate';
  /** Records the block declares. */
  count: number;
  /** Ordinal in the file of the block's first record (src_offset of record i is firstOrdinal + i). */
  firstOrdinal: number;
  /** Inflated size limit (zip bomb guard). */
  maxBlockBytes?: number;
}

export type DecodeTask = FramedTask | ContainerBlockTask;

/** One table's rows: TabSeparated bytes in INSERT_COLUMNS order. */
export interface TableRows {
  table: RawTable;
  /** TabSeparated rows; empty when the rows came as `columns`. */
  tsv: Uint8Array<ArrayBuffer>;
  rows: number;
  /** interval_raw rows of a columnar task. */
  columns?: IntervalColumnsPart;
}

/**
 * Dead letters as parallel arrays (entry i across all of them). `records[i]` is how many declared
 * records letter i stands for: 1 for a validation failure, N-k for a framing failure at record k,
 * the block's count for a bad container block, 0 for trailing bytes.
 */
export interface DeadLetters {
  count: number;
  messageIndex: Uint32Array<ArrayBuffer>;
  recordIndex: Uint32Array<ArrayBuffer>;
  records: Uint32Array<ArrayBuffer>;
  offset: Float64Array<ArrayBuffer>;
  code: RecordErrorCode[];
  text: string[];
  /** '' when the record could not be decoded. */
  sessionId: string[];
  /** Offending bytes of all letters back to back; letter i ends at payloadEnds[i]. */
  payload: Uint8Array<ArrayBuffer>;
  payloadEnds: Uint32Array<ArrayBuffer>;
}

export interface BatchStats {
  messages: number;
  /** Declared records: sum over messages of max(N, 1); a container block's count. */
  records: number;
  ok: Record<RecordKind, number>;
  /** Declared records inside dead letters. ok[kind] + deadRecords === records. */
  deadRecords: number;
  /** Dead letters (not records) per code. */
  deadByCode: Partial<Record<RecordErrorCode, number>>;
  bytes: number;
  /**
   * Schema IDs met in this batch that the worker was not given (their records are dead-lettered
   * as PEV_UNKNOWN_SCHEMA). The caller may not have asked the registry about them yet: a later
   * record of a multi-record message can use an ID the message's first record does not.
   */
  unknownSchemaIds: number[];
}

export interface BatchResult {
  topic: string;
  partition: number;
  kind: RecordKind;
  /** The kind's table, then dead_letter; both always present (rows may be 0). */
  tables: TableRows[];
  dead: DeadLetters;
  stats: BatchStats;
}

/** Dead-letter payloads above this are cut (the message says so); a dead letter is evidence, not a backup. */
export const DEAD_PAYLOAD_MAX_BYTES = 256 * 1024;
export const DEFAULT_MAX_BLOCK_BYTES = 64 * 1024 * 1024;

/** The buffers of a result, for a transfer list. */
export function resultTransferList(r: BatchResult): ArrayBuffer[] {
  const list = new Set<ArrayBuffer>();
  for (const t of r.tables) {
    list.add(t.tsv.buffer);
    if (t.columns) for (const b of partBuffers(t.columns)) list.add(b);
  }
  const d = r.dead;
  for (const a of [d.messageIndex, d.recordIndex, d.records, d.offset, d.payload, d.payloadEnds]) list.add(a.buffer);
  return [...list].filter((b) => b.byteLength > 0);
}
