/**
 * Framing: reading the Confluent header (magic byte + schema ID) of each record in a batch buffer.
 *
 *   current   readSchemaId (ingest/codec/framing.ts): bounds and magic checks, then the ID from
 *             four indexed byte reads
 *   Buffer    buf.readUInt32BE(at + 1) after the same checks: Node's bounds-checked reader
 *   DataView  one DataView over the batch, getUint32(at + 1)
 */
import { FRAME_HEADER_BYTES, readSchemaId } from '../../ingest/codec/framing.js';
import { isMain, printResult, runCases, sampleMessages, writeMicro, type MicroResult } from './runner.js';

export function run(): MicroResult {
  const msgs = sampleMessages(10_000);
  const buf = Buffer.concat(msgs.map((m) => m.value));
  const starts = new Uint32Array(msgs.length);
  const ends = new Uint32Array(msgs.length);
  let at = 0;
  msgs.forEach((m, i) => {
    starts[i] = at;
    at += m.value.length;
    ends[i] = at;
  });
  const n = msgs.length;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return runCases('framing', 'record header read', n, [
    {
      name: 'readSchemaId (byte reads)',
      current: true,
      fn: () => {
        let s = 0;
        for (let i = 0; i < n; i++) s += readSchemaId(buf, starts[i]!, ends[i]!);
        return s;
      },
    },
    {
      name: 'Buffer.readUInt32BE',
      note: "Node's reader; its own bounds check repeats ours",
      fn: () => {
        let s = 0;
        for (let i = 0; i < n; i++) {
          const from = starts[i]!;
          if (ends[i]! - from < FRAME_HEADER_BYTES + 1 || buf[from] !== 0) throw new Error('bad frame');
          s += buf.readUInt32BE(from + 1);
        }
        return s;
      },
    },
    {
      name: 'DataView.getUint32',
      note: 'one view per batch',
      fn: () => {
        let s = 0;
        for (let i = 0; i < n; i++) {
          const from = starts[i]!;
          if (ends[i]! - from < FRAME_HEADER_BYTES + 1 || buf[from] !== 0) throw new Error('bad frame');
          s += view.getUint32(from + 1);
        }
        return s;
      },
    },
  ]);
}

if (isMain(import.meta.url)) {
  const r = run();
  printResult(r);
  writeMicro('micro-framing.json', r);
}
