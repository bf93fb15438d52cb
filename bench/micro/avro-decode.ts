/**
 * Avro decode of an EumdInterval body inside a batch buffer.
 *
 *   current     type.decode(buf, offset): reads in place, returns the value and the next offset,
 *               which is how a multi-record message is walked without a view per record
 *   fromBuffer  type.fromBuffer(buf.subarray(body, end)): a Buffer view per record, and avsc
 *               checks that the view is consumed exactly
 *   resolver    type.decode(buf, offset, resolver) from an older writer schema version: the cost
 *               of schema evolution on the hot path (only when the IDs differ)
 *   by hand     a reader written for EumdInterval alone: varints and latin1 strings straight from
 *               the bytes (IDs are ASCII once validated; a non-ASCII byte would decode differently
 *               from UTF-8 and then fail validation). Checked against avsc on every sample record.
 */
import { FRAME_HEADER_BYTES } from '../../ingest/codec/framing.js';
import { latestSchema, parseSchema, type EumdInterval } from '../../schemas/index.js';
import { isMain, printResult, runCases, sampleMessages, writeMicro, type MicroResult } from './runner.js';

/** Position of the hand-written reader (module state: no tuple per varint). */
let pos = 0;

function readLong(b: Buffer): number {
  let n = 0;
  let scale = 1;
  let k: number;
  do {
    k = b[pos++]!;
    n += (k & 0x7f) * scale;
    scale *= 128;
  } while (k & 0x80);
  // Zig-zag: even n is n / 2, odd n is -(n + 1) / 2 (exact below 2^53).
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}

function readAscii(b: Buffer): string {
  const len = readLong(b);
  // latin1Slice is what Buffer#toString('latin1') calls after its argument checks.
  const s = (b as Buffer & { latin1Slice(start: number, end: number): string }).latin1Slice(pos, pos + len);
  pos += len;
  return s;
}

function readInterval(b: Buffer, from: number): EumdInterval {
  pos = from;
  return {
    esci_id: readAscii(b), eumd_id: readAscii(b), premise_id: readAscii(b), pev_id: readAscii(b), session_id: readAscii(b),
    seq: readLong(b), interval_start: readLong(b), interval_s: readLong(b), energy_wh: readLong(b), register_wh: readLong(b), quality: readLong(b),
  };
}

function readerPos(): number {
  return pos;
}

export function run(): MicroResult {
  const msgs = sampleMessages(10_000);
  const buf = Buffer.concat(msgs.map((m) => m.value));
  const bodies = new Uint32Array(msgs.length);
  const ends = new Uint32Array(msgs.length);
  let at = 0;
  msgs.forEach((m, i) => {
    bodies[i] = at + FRAME_HEADER_BYTES;
    at += m.value.length;
    ends[i] = at;
  });
  const n = msgs.length;
  const type = latestSchema('interval').type;
  // The same schema parsed again stands in for another writer version: avsc builds a field-by-field
  // resolver for a distinct type object, which is the path a different schema ID takes.
  const resolver = type.createResolver(parseSchema(latestSchema('interval').text));
  for (let i = 0; i < n; i++) {
    const a = JSON.stringify(type.decode(buf, bodies[i]).value);
    const b = JSON.stringify(readInterval(buf, bodies[i]!));
    if (a !== b || readerPos() !== ends[i]) throw new Error(`hand-written reader disagrees with avsc on record ${i}: ${a} vs ${b}`);
  }
  return runCases('avro-decode', 'interval record', n, [
    {
      name: 'type.decode(buf, offset)',
      current: true,
      fn: () => {
        let s = 0;
        for (let i = 0; i < n; i++) {
          const out = type.decode(buf, bodies[i]);
          s += out.offset;
        }
        return s;
      },
    },
    {
      name: 'type.fromBuffer(subarray)',
      note: 'a view per record; rejected: one allocation per record and no offset to walk multi-record messages',
      fn: () => {
        let s = 0;
        for (let i = 0; i < n; i++) {
          const v = type.fromBuffer(buf.subarray(bodies[i], ends[i])) as { seq: number };
          s += v.seq;
        }
        return s;
      },
    },
    {
      name: 'type.decode(buf, offset, resolver)',
      note: 'what a record written with another schema version costs',
      fn: () => {
        let s = 0;
        for (let i = 0; i < n; i++) s += type.decode(buf, bodies[i], resolver).offset;
        return s;
      },
    },
    {
      name: 'hand-written EumdInterval reader',
      note: 'the ceiling for avsc on this record: same object out, latin1 strings, no generic dispatch',
      fn: () => {
        let s = 0;
        for (let i = 0; i < n; i++) s += readInterval(buf, bodies[i]!).seq;
        return s;
      },
    },
  ]);
}

if (isMain(import.meta.url)) {
  const r = run();
  printResult(r);
  writeMicro('micro-avro-decode.json', r);
}
