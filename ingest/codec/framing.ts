/**
 * Confluent wire framing.
 *
 *   byte 0      magic, always 0
 *   bytes 1-4   schema ID, unsigned 32-bit big-endian
 *   bytes 5..   Avro binary body, exactly one record, nothing after it
 *
 * Functions here only slice; they never copy the body.
 */
import type { MessageHeader } from 'node-rdkafka';
import { RecordError } from '../../schemas/errors.js';

export const FRAME_HEADER_BYTES = 5;
export const MAGIC_BYTE = 0;

/** Writes the 5-byte header into `out` at `at`; returns the offset just past it. */
export function writeFrameHeader(out: Uint8Array, at: number, schemaId: number): number {
  out[at] = MAGIC_BYTE;
  out[at + 1] = (schemaId >>> 24) & 0xff;
  out[at + 2] = (schemaId >>> 16) & 0xff;
  out[at + 3] = (schemaId >>> 8) & 0xff;
  out[at + 4] = schemaId & 0xff;
  return at + FRAME_HEADER_BYTES;
}

/** A framed message: header then body, in a fresh buffer. */
export function frame(schemaId: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  writeFrameHeader(out, 0, schemaId);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Reads the schema ID of a framed message in `buf[start, end)`. Throws a RecordError naming what
 * is wrong: an empty value, a frame too short for its header, or a first byte that is not 0.
 */
export function readSchemaId(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len === 0) throw new RecordError('PEV_EMPTY_VALUE', 'message value is empty; expected a Confluent-framed Avro record');
  if (buf[start] !== MAGIC_BYTE) {
    throw new RecordError('PEV_NO_MAGIC', `first byte is 0x${(buf[start] ?? 0).toString(16).padStart(2, '0')}; expected magic byte 0x00 of Confluent framing`);
  }
  if (len < FRAME_HEADER_BYTES + 1) {
    throw new RecordError('PEV_SHORT_FRAME', `message is ${len} bytes; a framed record needs a 5-byte header and a body`);
  }
  return ((buf[start + 1]! << 24) | (buf[start + 2]! << 16) | (buf[start + 3]! << 8) | buf[start + 4]!) >>> 0;
}

/**
 * Kafka header of a message that packs several framed records back to back: their count, in
 * decimal. Without it a message holds one record.
 */
export const RECORDS_HEADER = 'pev-records';

/** The `pev-records` header of a message: how many framed records its value holds (1 without it). */
export function recordCountOf(headers: MessageHeader[] | undefined): number {
  if (!headers) return 1;
  for (const h of headers) {
    const v = h[RECORDS_HEADER];
    if (v === undefined) continue;
    const text = typeof v === 'string' ? v : v.toString('latin1');
    // Plain decimal digits only: Number() would also take ' 2', '0x10' and '1e3'.
    // An unusable header is left for the worker to judge: 0 makes it dead-letter the message.
    const n = /^[0-9]{1,5}$/.test(text) ? Number.parseInt(text, 10) : 0;
    return n >= 1 && n <= 65_535 ? n : 0;
  }
  return 1;
}
