/**
 * Avro object container files written byte by byte (not with avsc's BlockEncoder, whose block
 * boundaries depend on its buffer size), so a test knows exactly where each block and sync
 * marker sits and can damage one of them.
 *
 *   file   := 'Obj' 0x01  meta:map<bytes>  sync[16]  block*
 *   block  := count:long  size:long  data[size]  sync[16]
 */
import { deflateRawSync } from 'node:zlib';
import avro from 'avsc';
import { latestSchema } from '../../../schemas/index.js';
import type { RecordKind, RecordOf } from '../../../schemas/index.js';

const LONG = avro.Type.forSchema('long');
const META = avro.Type.forSchema({ type: 'map', values: 'bytes' });

export interface BuiltContainer {
  bytes: Buffer;
  sync: Buffer;
  /** Byte position of each block's header, data and trailing sync marker. */
  blocks: { at: number; dataAt: number; size: number; syncAt: number }[];
}

/** A container file with `blocks[i]` records in block i, in the kind's latest schema. */
export function buildContainer<K extends RecordKind>(kind: K, blocks: RecordOf[K][][], codec: 'null' | 'deflate' = 'null', syncByte = 0x5a): BuiltContainer {
  return buildContainerOf(latestSchema(kind), blocks, codec, syncByte);
}

/** The same for any schema, such as a record the product does not read. */
export function buildContainerOf(s: { text: string; type: avro.Type }, blocks: unknown[][], codec: 'null' | 'deflate' = 'null', syncByte = 0x5a): BuiltContainer {
  const sync = Buffer.alloc(16, syncByte);
  for (let i = 0; i < 16; i++) sync[i] = (syncByte + i * 7) & 0xff;
  const parts: Buffer[] = [
    Buffer.from('Obj\x01', 'latin1'),
    META.toBuffer({ 'avro.schema': Buffer.from(s.text, 'utf8'), 'avro.codec': Buffer.from(codec, 'utf8') }),
    sync,
  ];
  let pos = parts.reduce((n, p) => n + p.length, 0);
  const out: BuiltContainer['blocks'] = [];
  for (const records of blocks) {
    const raw = Buffer.concat(records.map((r) => s.type.toBuffer(r)));
    const data = codec === 'deflate' ? deflateRawSync(raw) : raw;
    const head = Buffer.concat([LONG.toBuffer(records.length), LONG.toBuffer(data.length)]);
    out.push({ at: pos, dataAt: pos + head.length, size: data.length, syncAt: pos + head.length + data.length });
    parts.push(head, data, sync);
    pos += head.length + data.length + 16;
  }
  return { bytes: Buffer.concat(parts), sync, blocks: out };
}
