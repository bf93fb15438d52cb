/**
 * Avro object container file writer, for already-encoded record bodies.
 *
 *   header   'O' 'b' 'j' 0x01
 *            metadata: map<bytes> { "avro.schema": schema JSON, "avro.codec": "null" }
 *            16-byte sync marker
 *   block*   long record count, long byte size, the records back to back, the sync marker
 *
 * Why not avsc's BlockEncoder: it takes objects and encodes them again, and draws a random sync
 * marker; the simulator hands over bytes it already encoded and needs the same file for the same
 * seed, so the marker comes from the caller. avsc's BlockDecoder reads these files (tested).
 *
 * Each block is assembled in one buffer with room for its header in front, so a full block leaves
 * in a single write with no copy beyond the one that put the record in.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { writeAscii, writeLong } from './avro-write.js';
import type { BodyWriter } from './fleet.js';

/**
 * Flags of every file the simulator writes into its --out folder: created or truncated, but a
 * symbolic link in place of a file is refused (ELOOP) rather than followed to its target. The
 * folder is the simulator's own and is rewritten on every run, so existing files are replaced.
 */
export const NO_FOLLOW_WRITE = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

export const CONTAINER_MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]);
export const SYNC_BYTES = 16;
/** Room in front of a block for its two varints (at most 10 bytes each). */
const HEAD_ROOM = 20;

export interface ContainerStats {
  path: string;
  records: number;
  bytes: number;
  blocks: number;
}

export class ContainerWriter implements BodyWriter {
  private readonly fd: number;
  private readonly sync: Buffer;
  private readonly blockBytes: number;
  private block: Buffer;
  private used = HEAD_ROOM;
  private count = 0;
  private readonly stats: ContainerStats;

  constructor(path: string, schemaJson: string, syncMarker: Uint8Array, blockBytes = 64 * 1024) {
    if (syncMarker.length !== SYNC_BYTES) throw new RangeError(`ContainerWriter: sync marker must be ${SYNC_BYTES} bytes, got ${syncMarker.length}`);
    this.sync = Buffer.from(syncMarker);
    this.blockBytes = blockBytes;
    this.block = Buffer.allocUnsafe(HEAD_ROOM + blockBytes + 4096 + SYNC_BYTES);
    this.stats = { path, records: 0, bytes: 0, blocks: 0 };
    this.fd = openSync(path, NO_FOLLOW_WRITE, 0o644);
    const schema = Buffer.from(schemaJson, 'utf8');
    const head = Buffer.allocUnsafe(64 + schema.length);
    let pos = CONTAINER_MAGIC.copy(head, 0);
    pos = writeLong(head, pos, 2);
    pos = writeAscii(head, pos, 'avro.schema');
    pos = writeLong(head, pos, schema.length);
    pos += schema.copy(head, pos);
    pos = writeAscii(head, pos, 'avro.codec');
    pos = writeAscii(head, pos, 'null');
    pos = writeLong(head, pos, 0);
    pos += this.sync.copy(head, pos);
    this.write(head, 0, pos);
  }

  /** Appends one encoded record: src[start, end). */
  append(src: Buffer, start: number, end: number): void {
    const buf = this.room(end - start);
    this.done(this.used + src.copy(buf, this.used, start, end));
  }

  /** Makes room for a record of up to `bytes` at `at`; returns the block to encode it into. */
  room(bytes: number): Buffer {
    if (this.used + bytes + SYNC_BYTES > this.block.length) {
      if (this.count > 0) this.flush();
      if (HEAD_ROOM + bytes + SYNC_BYTES > this.block.length) this.block = Buffer.allocUnsafe(HEAD_ROOM + bytes + SYNC_BYTES);
    }
    return this.block;
  }

  /** Where the next record goes in the block `room` returned. */
  get at(): number {
    return this.used;
  }

  /** A record was written at `at`, ending at `end`. */
  done(end: number): void {
    this.used = end;
    this.count++;
    if (this.used - HEAD_ROOM >= this.blockBytes) this.flush();
  }

  /** Writes the last block and closes the file. */
  close(): ContainerStats {
    if (this.count > 0) this.flush();
    closeSync(this.fd);
    return { ...this.stats };
  }

  private flush(): void {
    const size = this.used - HEAD_ROOM;
    // The two varints go right-aligned into the room in front of the records.
    const tmp = this.block;
    let headLen = writeLong(VARINTS, 0, this.count);
    headLen = writeLong(VARINTS, headLen, size);
    const from = HEAD_ROOM - headLen;
    VARINTS.copy(tmp, from, 0, headLen);
    this.used += this.sync.copy(tmp, this.used);
    this.write(tmp, from, this.used);
    this.stats.records += this.count;
    this.stats.blocks++;
    this.count = 0;
    this.used = HEAD_ROOM;
  }

  private write(buf: Buffer, from: number, to: number): void {
    let at = from;
    while (at < to) at += writeSync(this.fd, buf, at, to - at);
    this.stats.bytes += to - from;
  }
}

const VARINTS = Buffer.alloc(HEAD_ROOM);
