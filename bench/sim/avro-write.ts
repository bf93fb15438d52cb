/**
 * Avro binary writers for the simulator's two hot records, the EUMD interval and the vehicle
 * report, written straight into a reused buffer.
 *
 * Why not avsc here: a session's intervals differ only in their trailing numbers, while the five
 * ID strings in front are the same for the whole session. Encoding that prefix once per session and
 * appending six varints per interval is what lets the simulator outrun the pipeline it feeds.
 * avsc stays the reference: test/bench/sim/avro-write.test.ts checks these bytes equal
 * `type.toBuffer(record)` for the same record, and every other record goes through avsc.
 *
 * Avro binary, as used here:
 *   int, long   zig-zag then base-128 varint, low group first, high bit = more follows
 *   string      long byte length, then UTF-8 bytes (all IDs are ASCII)
 *   record      fields in schema order, nothing between them
 */

/** Writes `n` (a safe integer) as an Avro int/long at `pos`; returns the position after it. */
export function writeLong(buf: Uint8Array, pos: number, n: number): number {
  if (n >= 0 && n < 64) {
    buf[pos] = n * 2;
    return pos + 1;
  }
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  if (z < 4294967296) {
    while (z > 0x7f) {
      buf[pos++] = (z & 0x7f) | 0x80;
      z >>>= 7;
    }
    buf[pos++] = z;
    return pos;
  }
  // Beyond 32 bits bit operators would truncate: split once into the low 28 bits (four full
  // groups, all followed by more) and the rest (at most 25 bits), instead of dividing per group.
  const high = Math.floor(z / 268435456);
  let low = z - high * 268435456;
  buf[pos++] = (low & 0x7f) | 0x80;
  low >>>= 7;
  buf[pos++] = (low & 0x7f) | 0x80;
  low >>>= 7;
  buf[pos++] = (low & 0x7f) | 0x80;
  buf[pos++] = (low >>> 7) | 0x80;
  let h = high;
  while (h > 0x7f) {
    buf[pos++] = (h & 0x7f) | 0x80;
    h >>>= 7;
  }
  buf[pos++] = h;
  return pos;
}

/**
 * writeLong(buf, pos, src[i]), reading the value here: a large number (a timestamp) passed to a
 * call that is not inlined is boxed on the heap, and the simulator writes millions of them.
 */
export function writeLongAt(buf: Uint8Array, pos: number, src: Float64Array, i: number): number {
  const n = src[i]!;
  if (n >= 0 && n < 64) {
    buf[pos] = n * 2;
    return pos + 1;
  }
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  if (z < 4294967296) {
    while (z > 0x7f) {
      buf[pos++] = (z & 0x7f) | 0x80;
      z >>>= 7;
    }
    buf[pos++] = z;
    return pos;
  }
  const high = Math.floor(z / 268435456);
  let low = z - high * 268435456;
  buf[pos++] = (low & 0x7f) | 0x80;
  low >>>= 7;
  buf[pos++] = (low & 0x7f) | 0x80;
  low >>>= 7;
  buf[pos++] = (low & 0x7f) | 0x80;
  buf[pos++] = (low >>> 7) | 0x80;
  let h = high;
  while (h > 0x7f) {
    buf[pos++] = (h & 0x7f) | 0x80;
    h >>>= 7;
  }
  buf[pos++] = h;
  return pos;
}

/** Writes an ASCII string as an Avro string. */
export function writeAscii(buf: Uint8Array, pos: number, s: string): number {
  pos = writeLong(buf, pos, s.length);
  for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
  return pos;
}

/** Encoded Avro strings, back to back: the constant head of a session's records. */
export function encodeStrings(...parts: string[]): Buffer {
  const out = Buffer.allocUnsafe(parts.reduce((n, s) => n + s.length + 10, 0));
  let pos = 0;
  for (const s of parts) pos = writeAscii(out, pos, s);
  return Buffer.from(out.subarray(0, pos));
}

/** Head of an EumdInterval: esci_id, eumd_id, premise_id, pev_id, session_id. */
export function intervalPrefix(esciId: string, eumdId: string, premiseId: string, pevId: string, sessionId: string): Buffer {
  return encodeStrings(esciId, eumdId, premiseId, pevId, sessionId);
}

/** Head of a VehicleReport: session_id, pev_id, esci_id. */
export function vehiclePrefix(sessionId: string, pevId: string, esciId: string): Buffer {
  return encodeStrings(sessionId, pevId, esciId);
}

/**
 * Position of the branch named `name` (short or full name) in the union type of record field
 * `field`, read from the schema's JSON text: a union is written as that position (a long) before
 * the branch's value.
 */
export function unionBranch(schemaJson: string, field: string, name: string): number {
  const schema = JSON.parse(schemaJson) as { fields?: { name: string; type: unknown }[] };
  const union = schema.fields?.find((f) => f.name === field)?.type;
  if (!Array.isArray(union)) throw new Error(`unionBranch: field ${field} is not a union`);
  const i = union.findIndex((t: unknown) => {
    const n = typeof t === 'string' ? t : (t as { name?: string }).name;
    return n !== undefined && (n === name || n.endsWith('.' + name) || name.endsWith('.' + n));
  });
  if (i < 0) throw new Error(`unionBranch: no branch ${name} in ${field}`);
  return i;
}
