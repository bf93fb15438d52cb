/**
 * Avro object container files (batch uploads), read incrementally: a block at a time, never the
 * whole file in memory. Blocks come out still compressed; the decode workers inflate and decode
 * them (decodeBatch with mode 'container'), so the reading thread only delimits.
 *
 *   file    := header block*
 *   header  := magic meta sync
 *   magic   := 'O' 'b' 'j' 0x01
 *   meta    := map-block* 0                  an Avro map<bytes>:
 *   map-block := count:long [size:long if count < 0] ( key:string value:bytes ){|count|}
 *              keys used: avro.schema (writer schema JSON, required), avro.codec ('null' when absent)
 *   sync    := 16 bytes, random per file
 *   block   := count:long size:long data:byte{size} sync
 *              count = records in the block, size = bytes of data after compression:
 *              'null' stores the records as they are, 'deflate' as raw RFC 1951 deflate
 *   long    := zig-zag varint, 1 to 10 bytes, little-endian groups of 7 bits
 *
 * Failures and recovery (each failure is one 'bad' item, which the caller dead-letters whole with
 * origin = file name + first ordinal of the block; ordinals stay deterministic, so a re-upload of
 * the same file yields the same src_offsets):
 *   PEV_CONTAINER_HEADER  bad magic, meta or schema, unsupported codec: nothing can be read.
 *   PEV_CONTAINER_SYNC    the 16 bytes after a block's data are not the file's sync marker.
 *   PEV_CONTAINER_BLOCK   a block header that is no pair of sane longs, a size over the limit,
 *                         or a file that ends inside a block.
 * After a bad block, reading goes on at the next block boundary found: first where the block's
 * own size says the next block starts (if a well-formed block with a correct marker is there:
 * only the marker was damaged), else just after the next occurrence of the sync marker in the
 * bytes that follow the bad block's start. A bad block with a credible count advances the
 * ordinals by that count; otherwise by 1 (its real count is unknowable).
 */
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { RecordErrorCode } from '../../schemas/errors.js';
import { parseSchema } from '../../schemas/index.js';
import type { RecordKind } from '../../schemas/index.js';
import { DEAD_PAYLOAD_MAX_BYTES, DEFAULT_MAX_BLOCK_BYTES } from './task.js';
import type { ContainerBlockTask } from './task.js';

export const CONTAINER_MAGIC = Buffer.from('Obj\x01', 'latin1');
export const SYNC_BYTES = 16;

export type ContainerCodec = 'null' | 'deflate';

export interface ContainerHeader {
  type: 'header';
  schema: string;
  codec: ContainerCodec;
  sync: Uint8Array;
  /** Other metadata entries, as raw bytes. */
  meta: Map<string, Uint8Array>;
}

export interface ContainerBlock {
  type: 'block';
  firstOrdinal: number;
  count: number;
  codec: ContainerCodec;
  schema: string;
  /** The block's stored (possibly compressed) bytes, alone in their ArrayBuffer: transferable. */
  data: ArrayBuffer;
  /** Byte position of the block in the file. */
  position: number;
}

export interface ContainerBad {
  type: 'bad';
  firstOrdinal: number;
  /** Records the bad item stands for: the declared count when credible, else 1. */
  count: number;
  code: Extract<RecordErrorCode, 'PEV_CONTAINER_HEADER' | 'PEV_CONTAINER_SYNC' | 'PEV_CONTAINER_BLOCK'>;
  message: string;
  /** The skipped bytes (cut to DEAD_PAYLOAD_MAX_BYTES). */
  payload: Uint8Array;
  position: number;
}

export type ContainerItem = ContainerHeader | ContainerBlock | ContainerBad;

export interface ContainerReadOptions {
  /** Largest stored block accepted (default 64 MiB); a larger declared size is PEV_CONTAINER_BLOCK. */
  maxBlockBytes?: number;
  /** Largest header accepted (default 1 MiB). */
  maxHeaderBytes?: number;
}

/**
 * Pending bytes of a stream. `buf[pos..]` is unread; `base` is the file position of buf[0].
 * Bytes are kept from a `mark` on, so a bad block's bytes remain available for its dead letter
 * and for a look-ahead that may have to be undone.
 */
class ByteQueue {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  base = 0;
  eof = false;
  private readonly it: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  get position(): number {
    return this.base + this.pos;
  }

  /** True when `n` bytes from file position `at` are buffered (reading more as needed). */
  async has(at: number, n: number): Promise<boolean> {
    const want = at - this.base + n;
    if (this.buf.length >= want) return true;
    const parts: Buffer[] = [this.buf];
    let total = this.buf.length;
    while (total < want && !this.eof) {
      const next = await this.it.next();
      if (next.done) {
        this.eof = true;
        break;
      }
      const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      parts.push(chunk);
      total += chunk.length;
    }
    if (parts.length > 1) this.buf = Buffer.concat(parts, total);
    return total >= want;
  }

  /** Forgets bytes before file position `at`. */
  drop(at: number): void {
    const cut = Math.min(at - this.base, this.buf.length);
    if (cut <= 0) return;
    this.buf = this.buf.subarray(cut);
    this.base += cut;
    this.pos = Math.max(0, this.pos - cut);
  }

  seek(at: number): void {
    this.pos = at - this.base;
  }

  /** Bytes [from, to) by file position, copied. */
  copy(from: number, to: number): Uint8Array {
    return new Uint8Array(this.buf.subarray(from - this.base, to - this.base));
  }

  byteAt(at: number): number {
    return this.buf[at - this.base]!;
  }

  /**
   * Reads a zig-zag long at file position `at`: [value, bytes used], or null when the file ends
   * inside it, or [NaN, n] when it is no valid long (over 10 bytes, or beyond 2^53).
   */
  async long(at: number): Promise<[number, number] | null> {
    await this.has(at, 10);
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const idx = at - this.base + i;
      if (idx >= this.buf.length) return null;
      const b = this.buf[idx]!;
      n += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(n)) return [NaN, i + 1];
        return [n % 2 === 0 ? n / 2 : -(n + 1) / 2, i + 1];
      }
    }
    return [NaN, 10];
  }

  /** File position of the next sync marker at or after `from`, or -1 at the end of the file. Drops bytes it passes. */
  async find(sync: Uint8Array, from: number): Promise<number> {
    let at = from;
    for (;;) {
      const i = this.buf.indexOf(sync, Math.max(0, at - this.base));
      if (i >= 0) return this.base + i;
      if (this.eof) return -1;
      // Keep the last 15 bytes: a marker may straddle two reads.
      at = Math.max(from, this.base + this.buf.length - (SYNC_BYTES - 1));
      this.drop(at);
      const before = this.buf.length;
      await this.has(this.base, before + 1);
      if (this.buf.length === before) return -1;
    }
  }
}

function bad(
  code: ContainerBad['code'], message: string, firstOrdinal: number, count: number, q: ByteQueue, from: number, to: number,
): ContainerBad {
  const end = Math.min(to, from + DEAD_PAYLOAD_MAX_BYTES, q.base + q.buf.length);
  const start = Math.max(from, q.base);
  return { type: 'bad', firstOrdinal, count, code, message, payload: start < end ? q.copy(start, end) : new Uint8Array(0), position: from };
}

async function readHeader(q: ByteQueue, maxHeaderBytes: number): Promise<ContainerHeader | ContainerBad> {
  const headerBad = (message: string): ContainerBad => bad('PEV_CONTAINER_HEADER', message, 0, 1, q, 0, maxHeaderBytes);
  if (!(await q.has(0, 4)) || !CONTAINER_MAGIC.equals(q.buf.subarray(0, 4))) {
    return headerBad("file does not start with the Avro container magic 'Obj\\x01'");
  }
  let at = 4;
  const meta = new Map<string, Uint8Array>();
  for (;;) {
    if (at > maxHeaderBytes) return headerBad(`header is larger than ${maxHeaderBytes} bytes`);
    const c = await q.long(at);
    if (!c || Number.isNaN(c[0])) return headerBad(`metadata map is truncated or corrupt at byte ${at}`);
    at += c[1];
    let count = c[0];
    if (count === 0) break;
    if (count < 0) {
      count = -count;
      const size = await q.long(at);
      if (!size || Number.isNaN(size[0])) return headerBad(`metadata map block size is corrupt at byte ${at}`);
      at += size[1];
    }
    for (let i = 0; i < count; i++) {
      const parts: Uint8Array[] = [];
      for (let j = 0; j < 2; j++) {
        const len = await q.long(at);
        if (!len || Number.isNaN(len[0]) || len[0] < 0 || len[0] > maxHeaderBytes) return headerBad(`metadata entry is corrupt at byte ${at}`);
        at += len[1];
        if (!(await q.has(at, len[0]))) return headerBad('file ends inside the header');
        parts.push(q.copy(at, at + len[0]));
        at += len[0];
      }
      meta.set(Buffer.from(parts[0]!).toString('utf8'), parts[1]!);
    }
  }
  if (!(await q.has(at, SYNC_BYTES))) return headerBad('file ends before the sync marker');
  const sync = q.copy(at, at + SYNC_BYTES);
  at += SYNC_BYTES;
  const schemaBytes = meta.get('avro.schema');
  if (!schemaBytes) return headerBad('header has no avro.schema');
  const schema = Buffer.from(schemaBytes).toString('utf8');
  try {
    parseSchema(schema);
  } catch (err) {
    return headerBad(`avro.schema does not parse: ${err instanceof Error ? err.message : String(err)}`);
  }
  const codecBytes = meta.get('avro.codec');
  const codec = codecBytes ? Buffer.from(codecBytes).toString('utf8') : 'null';
  if (codec !== 'null' && codec !== 'deflate') return headerBad(`avro.codec ${JSON.stringify(codec)} is not supported (null, deflate)`);
  meta.delete('avro.schema');
  meta.delete('avro.codec');
  q.seek(at);
  q.drop(at);
  return { type: 'header', schema, codec, sync, meta };
}

/** Parses the block header at `at`: [count, size, bytes used], or a reason it is no block. */
async function blockHeader(q: ByteQueue, at: number, maxBlockBytes: number): Promise<[number, number, number] | string> {
  const c = await q.long(at);
  if (!c) return 'file ends inside a block header';
  const s = await q.long(at + c[1]);
  if (!s) return 'file ends inside a block header';
  const count = c[0];
  const size = s[0];
  if (!(count >= 0) || !(size >= 0)) return `block header is corrupt (count ${count}, size ${size})`;
  if (size > maxBlockBytes) return `block declares ${size} bytes; the limit is ${maxBlockBytes}`;
  // Records of our schemas take at least one byte each.
  if (count > size) return `block declares ${count} records in ${size} bytes`;
  return [count, size, c[1] + s[1]];
}

function sameSync(q: ByteQueue, at: number, sync: Uint8Array): boolean {
  for (let i = 0; i < SYNC_BYTES; i++) if (q.byteAt(at + i) !== sync[i]) return false;
  return true;
}

/**
 * Yields the header, then every block in file order, with a 'bad' item in place of each block
 * that cannot be delimited. Throws only when the source itself fails (an I/O error), never for
 * bad content. A bad header is the only item after which nothing more is read.
 */
export async function* readContainer(source: AsyncIterable<Uint8Array> | FileHandle, options: ContainerReadOptions = {}): AsyncGenerator<ContainerItem> {
  const maxBlockBytes = options.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES;
  const maxHeaderBytes = options.maxHeaderBytes ?? 1024 * 1024;
  // A file handle is read from its current start and left open: its owner closes it.
  const stream: AsyncIterable<Uint8Array> = Symbol.asyncIterator in source
    ? source
    : (source.createReadStream({ autoClose: false, start: 0, highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>);
  const q = new ByteQueue(stream);
  const header = await readHeader(q, maxHeaderBytes);
  yield header;
  if (header.type !== 'header') return;
  const { sync, codec, schema } = header;
  let ordinal = 0;
  for (;;) {
    const start = q.position;
    q.drop(start);
    if (!(await q.has(start, 1))) return;
    const h = await blockHeader(q, start, maxBlockBytes);
    let problem: { code: ContainerBad['code']; message: string; count: number };
    if (typeof h !== 'string') {
      const [count, size, used] = h;
      const dataAt = start + used;
      const syncAt = dataAt + size;
      if (await q.has(syncAt, SYNC_BYTES)) {
        if (sameSync(q, syncAt, sync)) {
          if (count > 0) {
            const data = new ArrayBuffer(size);
            new Uint8Array(data).set(q.buf.subarray(dataAt - q.base, syncAt - q.base));
            yield { type: 'block', firstOrdinal: ordinal, count, codec, schema, data, position: start };
          }
          ordinal += count;
          q.seek(syncAt + SYNC_BYTES);
          continue;
        }
        problem = { code: 'PEV_CONTAINER_SYNC', message: `block at byte ${start} (ordinal ${ordinal}) is not followed by the file's sync marker`, count };
        // Only the marker damaged? Then a well-formed block starts right after it.
        const next = syncAt + SYNC_BYTES;
        if (await wellFormedBlockAt(q, next, sync, maxBlockBytes)) {
          yield bad(problem.code, problem.message, ordinal, count, q, start, next);
          ordinal += count;
          q.seek(next);
          continue;
        }
      } else {
        problem = { code: 'PEV_CONTAINER_BLOCK', message: `file ends inside the block at byte ${start} (ordinal ${ordinal}; declares ${count} records in ${size} bytes)`, count };
      }
    } else {
      problem = { code: 'PEV_CONTAINER_BLOCK', message: `${h} at byte ${start} (ordinal ${ordinal})`, count: 1 };
    }
    // Scan for the next marker; the block after it is where reading resumes. The skipped bytes
    // are the dead letter's payload: keep their head before the scan lets them go.
    const head = bad(problem.code, problem.message, ordinal, 0, q, start, start + DEAD_PAYLOAD_MAX_BYTES);
    const found = await q.find(sync, start + 1);
    const end = found < 0 ? q.base + q.buf.length : found + SYNC_BYTES;
    const count = problem.count > 0 ? problem.count : 1;
    const payload = head.payload.length > end - start ? head.payload.subarray(0, end - start) : head.payload;
    const message = problem.message + (found < 0 ? '; no later sync marker, rest of file skipped' : `; resumed at byte ${end}`);
    yield { type: 'bad', firstOrdinal: ordinal, count, code: problem.code, message, payload, position: start };
    ordinal += count;
    if (found < 0) return;
    q.seek(end);
  }
}

async function wellFormedBlockAt(q: ByteQueue, at: number, sync: Uint8Array, maxBlockBytes: number): Promise<boolean> {
  if (!(await q.has(at, 1))) return q.eof; // the damaged marker ended the file
  const h = await blockHeader(q, at, maxBlockBytes);
  if (typeof h === 'string') return false;
  const syncAt = at + h[2] + h[1];
  return (await q.has(syncAt, SYNC_BYTES)) && sameSync(q, syncAt, sync);
}

/** readContainer over a file, read in 256 KiB chunks. */
export function readContainerFile(path: string, options: ContainerReadOptions = {}): AsyncGenerator<ContainerItem> {
  return readContainer(createReadStream(path, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>, options);
}

/** The worker task for a block. */
export function containerBlockTask(
  block: ContainerBlock,
  base: { topic: string; kind: RecordKind; nowMs: number; clockSkewMs: number; ingestedMs: number; partition?: number; maxBlockBytes?: number; columnar?: boolean },
): ContainerBlockTask {
  const task: ContainerBlockTask = {
    mode: 'container', topic: base.topic, partition: base.partition ?? 0, kind: base.kind, data: block.data,
    nowMs: base.nowMs, clockSkewMs: base.clockSkewMs, ingestedMs: base.ingestedMs, schema: block.schema,
    codec: block.codec, count: block.count, firstOrdinal: block.firstOrdinal,
  };
  if (base.maxBlockBytes !== undefined) task.maxBlockBytes = base.maxBlockBytes;
  if (base.columnar) task.columnar = true;
  return task;
}
