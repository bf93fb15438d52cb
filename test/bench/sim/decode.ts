/**
 * Independent readers for the simulator tests: decode framed messages and container files with
 * avsc (not with the simulator's own writers), and per-session views of what was delivered.
 */
import { createReadStream } from 'node:fs';
import avro from 'avsc';
import { AVRO_OPTIONS, schemaById, type EumdInterval, type Enrollment, type SessionEvent, type VehicleReport, type RecordKind } from '../../../schemas/index.js';

export interface Decoded {
  kind: RecordKind;
  record: unknown;
  /** The record's Avro body. */
  body: Buffer;
}

/** Decodes the framed records of a message value, given their bounds. */
export function decodeFramed(value: Buffer, bounds: readonly number[]): Decoded[] {
  const out: Decoded[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const start = bounds[i]!;
    const end = bounds[i + 1]!;
    if (value[start] !== 0) throw new Error(`record ${i}: no magic byte`);
    const id = value.readUInt32BE(start + 1);
    const schema = schemaById(id);
    if (!schema) throw new Error(`record ${i}: unknown schema ${id}`);
    const body = value.subarray(start + 5, end);
    const decoded: { value: unknown; offset: number } = schema.type.decode(body, 0);
    const { value: record, offset } = decoded;
    if (offset !== body.length) throw new Error(`record ${i}: decoded ${offset} of ${body.length} bytes`);
    out.push({ kind: schema.kind, record, body });
  }
  return out;
}

/** Decodes every framed record of a message value, finding the boundaries by decoding. */
export function decodeMessage(value: Buffer, count: number): Decoded[] {
  const bounds = [0];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const schema = schemaById(value.readUInt32BE(pos + 1));
    if (!schema) throw new Error('unknown schema');
    const { offset } = schema.type.decode(value, pos + 5);
    if (offset < 0) throw new Error('truncated');
    pos = offset;
    bounds.push(pos);
  }
  if (pos !== value.length) throw new Error(`trailing bytes: ${value.length - pos}`);
  return decodeFramed(value, bounds);
}

/** Records and raw bodies of a container file, in file order. */
export async function readContainer(path: string): Promise<{ records: unknown[]; bodies: Buffer[] }> {
  const bodies: Buffer[] = [];
  let type: avro.Type | undefined;
  await new Promise<void>((resolve, reject) => {
    createReadStream(path)
      .pipe(new avro.streams.BlockDecoder({ noDecode: true, parseHook: (s: avro.Schema) => avro.Type.forSchema(s, AVRO_OPTIONS) }))
      .on('metadata', (t: avro.Type) => (type = t))
      .on('data', (b: Buffer) => bodies.push(b))
      .on('end', resolve)
      .on('error', reject);
  });
  const t = type;
  if (!t) throw new Error(`${path}: no container header`);
  return { records: bodies.map((b) => t.fromBuffer(b) as unknown), bodies };
}

export interface Delivery {
  record: EumdInterval;
  body: string;
}

/** What arrived for one session, in delivery order. */
export interface SessionView {
  intervals: Delivery[];
  events: SessionEvent[];
  reports: VehicleReport[];
}

export class Collector {
  readonly sessions = new Map<string, SessionView>();
  readonly enrollments: Enrollment[] = [];

  add(kind: RecordKind, record: unknown, body: Buffer): void {
    if (kind === 'enrollment') {
      this.enrollments.push(record as Enrollment);
      return;
    }
    const id = (record as { session_id: string }).session_id;
    let v = this.sessions.get(id);
    if (!v) this.sessions.set(id, (v = { intervals: [], events: [], reports: [] }));
    if (kind === 'interval') v.intervals.push({ record: record as EumdInterval, body: body.toString('hex') });
    else if (kind === 'sessionEvent') v.events.push(record as SessionEvent);
    else v.reports.push(record as VehicleReport);
  }
}

/** The first received copy of each seq that passes validation (ingest dead-letters the rest). */
export function countedIntervals(v: SessionView): Map<number, EumdInterval> {
  const first = new Map<number, EumdInterval>();
  for (const d of v.intervals) {
    const r = d.record;
    if (first.has(r.seq)) continue;
    first.set(r.seq, r);
  }
  for (const [seq, r] of first) if (r.energy_wh < 0 || r.interval_start >= FUTURE) first.delete(seq);
  return first;
}

export const FUTURE = Date.UTC(2099, 0, 1);

/** Local hour of day in a zone, by Intl, cached per UTC hour (independent of schemas/calendar.ts). */
export function localHourOf(timeZone: string): (utcMs: number) => number {
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', hour: 'numeric', minute: 'numeric' });
  const cache = new Map<number, number>();
  return (utcMs: number): number => {
    const hourKey = Math.floor(utcMs / 3_600_000);
    let base = cache.get(hourKey);
    if (base === undefined) {
      const parts = fmt.formatToParts(hourKey * 3_600_000);
      base = Number(parts.find((p) => p.type === 'hour')?.value) + Number(parts.find((p) => p.type === 'minute')?.value) / 60;
      cache.set(hourKey, base);
    }
    return (base + (utcMs - hourKey * 3_600_000) / 3_600_000) % 24;
  };
}
