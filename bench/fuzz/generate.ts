/**
 * Seeded payloads for fuzzing the decode path: valid framed records of every kind (single and
 * multi-record messages, and records written with schemas the registry may hand out beside ours),
 * then mutated. The same seed gives the same payloads, byte for byte, so a failure reproduces
 * from `--seed` and the batch number alone.
 *
 * Mutations, each drawn with a fixed weight and stacked one to three deep:
 *   bitflip     1-8 random bits
 *   interesting a byte set to 0x00, 0x01, 0x7f, 0x80 or 0xff
 *   truncate    cut at a random position (0 to length - 1)
 *   insert      1-16 random bytes at a random position
 *   delete      a random range removed
 *   length      a varint the schema walk located (string length, union index, enum index, number)
 *               replaced by a hostile one: -1, -2^31, 2^31 - 1, 2^53, a 10-byte run that never ends...
 *   schema-id   bytes 1-4 replaced: a random u32, another kind's ID, or one of the extra IDs below
 *   magic       byte 0 set to a non-zero value
 *   header      `pev-records` set to 0, 2, 65535, 70000, -1, '', 'abc', '1e3' or a random count
 *   random      the whole value replaced by 0-300 random bytes (sometimes starting 0x00)
 *   splice      the head of this value joined to the tail of another seed
 *   empty       an empty value or a tombstone (null)
 *   oversize    padded past the batch's maxMessageBytes
 *
 * Extra schema IDs the fuzz batches carry beside schemas/subjects.json:
 *   7777  text that is not JSON                       (a registry answering garbage for an ID)
 *   7778  a valid Avro record of a foreign name       (PEV_UNKNOWN_SCHEMA territory)
 *   7779  EumdInterval with energy_wh as a string     (PEV_SCHEMA_INCOMPATIBLE)
 *   7780  EumdInterval v2 with an added defaulted field: valid records go through a resolver
 */
import type { MessageHeader } from 'node-rdkafka';
import { writeLong } from '../sim/avro-write.js';
import { Rng } from '../sim/random.js';
import { frame } from '../../ingest/codec/framing.js';
import { RECORD_KINDS, latestSchema, localSchemas, parseSchema } from '../../schemas/index.js';
import type { Enrollment, EumdInterval, RecordKind, SessionEvent, SessionEventBody, VehicleReport } from '../../schemas/index.js';

export const MUTATIONS = [
  'bitflip', 'interesting', 'truncate', 'insert', 'delete', 'length', 'schema-id', 'magic', 'header', 'random', 'splice', 'empty', 'oversize',
] as const;
export type Mutation = (typeof MUTATIONS)[number];
const WEIGHTS: Record<Mutation, number> = {
  bitflip: 16, interesting: 8, truncate: 10, insert: 8, delete: 5, length: 14, 'schema-id': 8, magic: 3, header: 8, random: 6, splice: 5, empty: 2, oversize: 1,
};
/** Share of messages left as valid seeds (so good records mix with bad ones in every batch). */
const VALID_SHARE = 0.12;

/** The schema texts a fuzz batch resolves: ours plus the extra IDs above. */
export function fuzzSchemas(): { id: number; text: string }[] {
  const interval = JSON.parse(latestSchema('interval').text) as { fields: { name: string; type: unknown }[] };
  const incompatible = { ...interval, fields: interval.fields.map((f) => (f.name === 'energy_wh' ? { ...f, type: 'string' } : f)) };
  const v2 = { ...interval, fields: [...interval.fields, { name: 'phase', type: 'int', default: 1 }] };
  return [
    ...localSchemas().map((s) => ({ id: s.id, text: s.text })),
    { id: 7777, text: '<html>502 Bad Gateway</html>' },
    { id: 7778, text: JSON.stringify({ type: 'record', name: 'Foo', namespace: 'other', fields: [{ name: 'a', type: 'string' }] }) },
    { id: 7779, text: JSON.stringify(incompatible) },
    { id: 7780, text: JSON.stringify(v2) },
  ];
}

/** Where a varint sits in an encoded seed, and what it encodes. */
interface Varint {
  at: number;
  what: 'length' | 'union' | 'enum' | 'number';
}

interface Seed {
  kind: RecordKind;
  value: Buffer;
  records: number;
  varints: Varint[];
}

export interface FuzzMessage {
  value: Buffer | null;
  headers?: MessageHeader[];
  mutations: string;
}

export interface FuzzBatch {
  /** The record kind of the topic the batch pretends to come from. */
  kind: RecordKind;
  messages: FuzzMessage[];
}

interface AvroTypeLike {
  typeName: string;
  fields?: { name: string; type: AvroTypeLike }[];
  types?: AvroTypeLike[];
  branchName?: string;
  toBuffer(v: unknown): Buffer;
}

/** Records where each varint of an encoded value starts (schema walk: record, union, enum, string, int/long). */
function locate(type: AvroTypeLike, value: unknown, at: number, out: Varint[]): number {
  switch (type.typeName) {
    case 'record': {
      let pos = at;
      for (const f of type.fields ?? []) pos = locate(f.type, (value as Record<string, unknown>)[f.name], pos, out);
      return pos;
    }
    case 'union:wrapped': {
      out.push({ at, what: 'union' });
      if (value === null) return at + 1;
      const [name, inner] = Object.entries(value as Record<string, unknown>)[0]!;
      const index = (type.types ?? []).findIndex((b) => b.branchName === name);
      return locate(type.types![index]!, inner, at + type.toBuffer(value).length - type.types![index]!.toBuffer(inner).length, out);
    }
    case 'enum':
      out.push({ at, what: 'enum' });
      return at + type.toBuffer(value).length;
    case 'string':
    case 'bytes':
      out.push({ at, what: 'length' });
      return at + type.toBuffer(value).length;
    default:
      out.push({ at, what: 'number' });
      return at + type.toBuffer(value).length;
  }
}

/** Hostile varints for `length` mutations, as bytes. */
const HOSTILE_VARINTS: readonly Buffer[] = [
  ...[-1, -2, -64, -(2 ** 31), 0, 1, 63, 64, 127, 128, 2 ** 31 - 1, 2 ** 32, 2 ** 40, 2 ** 53 - 1].map((n) => {
    const b = Buffer.alloc(10);
    return b.subarray(0, writeLong(b, 0, n));
  }),
  Buffer.alloc(10, 0xff), // continuation bit on every byte: a varint that never ends
  Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), // 11 bytes
];

const HOSTILE_COUNTS = ['0', '2', '3', '65535', '70000', '-1', '', 'abc', '1e3', ' 2', '0x10', '4294967297'];

export class PayloadGenerator {
  readonly rng: Rng;
  private readonly seeds: Seed[] = [];
  private readonly byKind = new Map<RecordKind, Seed[]>();
  private readonly ids: number[];
  /** The maxMessageBytes the oversize mutation exceeds. */
  readonly maxMessageBytes: number;

  constructor(seed: number | string, options: { maxMessageBytes?: number; seeds?: number } = {}) {
    this.rng = new Rng(`fuzz/${String(seed)}`);
    this.maxMessageBytes = options.maxMessageBytes ?? 8192;
    this.ids = fuzzSchemas().map((s) => s.id);
    const r = this.rng.fork('seeds');
    const n = options.seeds ?? 64;
    for (let i = 0; i < n; i++) {
      for (const kind of RECORD_KINDS) this.addSeed(this.single(kind, r, i));
    }
    // Multi-record messages (intervals travel in those), and v2-written intervals (resolver path).
    for (let i = 0; i < n; i++) {
      const k = r.int(2, 5);
      const parts = Array.from({ length: k }, (_, j) => this.single('interval', r, i * 8 + j));
      const varints: Varint[] = [];
      let at = 0;
      for (const p of parts) {
        for (const v of p.varints) varints.push({ at: v.at + at, what: v.what });
        at += p.value.length;
      }
      this.addSeed({ kind: 'interval', value: Buffer.concat(parts.map((p) => p.value)), records: k, varints });
    }
    const v2 = parseSchema(fuzzSchemas().find((s) => s.id === 7780)!.text) as unknown as AvroTypeLike;
    for (let i = 0; i < n / 4; i++) {
      const rec = { ...this.interval(r, i), phase: r.int(0, 3) };
      const varints: Varint[] = [];
      locate(v2, rec, 5, varints);
      this.addSeed({ kind: 'interval', value: frame(7780, v2.toBuffer(rec)), records: 1, varints });
    }
  }

  private addSeed(s: Seed): void {
    this.seeds.push(s);
    let list = this.byKind.get(s.kind);
    if (!list) this.byKind.set(s.kind, (list = []));
    list.push(s);
  }

  private interval(r: Rng, i: number): EumdInterval {
    const s = r.choice([15, 30, 60, 300, 900]);
    return {
      esci_id: `ESCI-${r.hex(8).toUpperCase()}`,
      eumd_id: `EUMD-${r.hex(8).toUpperCase()}`,
      premise_id: `P${String(r.int(0, 999_999_999)).padStart(9, '0')}`,
      pev_id: `5YJ3E1EA${r.choice(['J', 'K', 'L'])}F${String(r.int(0, 9_999_999)).padStart(7, '0')}`,
      session_id: `S-${r.hex(16)}`,
      seq: i,
      interval_start: Date.UTC(2026, 0, 1) + r.int(0, 300 * 24 * 60) * 60_000,
      interval_s: s,
      energy_wh: r.int(0, Math.floor((350_000 * s) / 3600)),
      register_wh: r.int(0, 2 ** 40),
      quality: r.int(0, 15),
    };
  }

  private single(kind: RecordKind, r: Rng, i: number): Seed {
    const schema = latestSchema(kind);
    let value: unknown;
    const t0 = Date.UTC(2026, 5, 1) + r.int(0, 100 * 24 * 3600) * 1000;
    const ids = this.interval(r, i);
    switch (kind) {
      case 'interval':
        value = ids;
        break;
      case 'vehicleReport':
        value = { session_id: ids.session_id, pev_id: ids.pev_id, esci_id: ids.esci_id, report_time: t0, running_wh: r.int(0, 100_000) } satisfies VehicleReport;
        break;
      case 'enrollment':
        value = {
          pev_id: ids.pev_id, premise_id: ids.premise_id, account_id: `A${String(r.int(0, 999_999_999)).padStart(9, '0')}`,
          program_id: r.choice(['EV-TOU', 'EV-FLAT', 'EV-TOU-OFFPEAK']), tariff_id: 'TOU-EV-2026', esci_id: ids.esci_id, eumd_id: ids.eumd_id,
          valid_from: Date.UTC(2026, 0, 1), valid_to: r.bernoulli(0.3) ? { long: Date.UTC(2027, 0, 1) } : null,
          rated_power_w: r.int(1000, 19_200),
        } satisfies Enrollment;
        break;
      case 'sessionEvent': {
        const bodies: SessionEventBody[] = [
          { 'pevmeter.v1.SessionStart': { connection: r.choice(['CORDSET', 'PREMISE_EVSE'] as const), binding: r.choice(['BOUND', 'AUTH_FAILED', 'NOT_ENROLLED'] as const), plug_in_time: t0 } },
          { 'pevmeter.v1.EnergyRequest': { requested_wh: r.int(0, 80_000), max_rate_w: r.int(1000, 19_200), departure_time: t0 + 8 * 3600_000 } },
          { 'pevmeter.v1.EnergyAvailable': { granted_wh: r.int(0, 80_000), rate_w: r.int(1000, 19_200), schedule_start: t0, schedule_end: t0 + 3600_000, delay_reason: r.choice(['NONE', 'OFF_PEAK', 'DEMAND_RESPONSE', 'RANDOM_DELAY'] as const) } },
          { 'pevmeter.v1.Progress': { running_wh: r.int(0, 80_000), intervals: r.int(0, 500) } },
          { 'pevmeter.v1.SessionEnd': { start_time: t0, end_time: t0 + 3600_000, duration_s: 3600, energy_wh: r.int(0, 80_000) } },
        ];
        value = { session_id: ids.session_id, event_seq: i, esci_id: ids.esci_id, premise_id: ids.premise_id, pev_id: ids.pev_id, event_time: t0 + 7200_000, body: r.choice(bodies) } satisfies SessionEvent;
        break;
      }
    }
    const varints: Varint[] = [];
    locate(schema.type as unknown as AvroTypeLike, value, 5, varints);
    return { kind, value: frame(schema.id, schema.type.toBuffer(value)), records: 1, varints };
  }

  /** `size` messages for one topic kind: mostly that kind's seeds, some of other kinds. */
  batch(size: number): FuzzBatch {
    const r = this.rng;
    const kind = r.choice(RECORD_KINDS);
    const own = this.byKind.get(kind)!;
    const messages: FuzzMessage[] = [];
    for (let i = 0; i < size; i++) {
      const seed = r.bernoulli(0.85) ? r.choice(own) : r.choice(this.seeds);
      messages.push(this.mutate(seed, r));
    }
    return { kind, messages };
  }

  private mutate(seed: Seed, r: Rng): FuzzMessage {
    let value: Buffer | null = Buffer.from(seed.value);
    let headers: MessageHeader[] | undefined = seed.records > 1 ? [{ 'pev-records': String(seed.records) }] : undefined;
    if (r.bernoulli(VALID_SHARE)) return { value, ...(headers ? { headers } : {}), mutations: 'none' };
    const applied: string[] = [];
    const depth = r.weighted([1, 2, 3], [70, 22, 8]);
    for (let d = 0; d < depth; d++) {
      const m = r.weighted(MUTATIONS, MUTATIONS.map((x) => WEIGHTS[x]));
      applied.push(m);
      const v: Buffer = value ?? Buffer.alloc(0);
      switch (m) {
        case 'bitflip': {
          if (v.length === 0) break;
          const flips = r.int(1, 8);
          for (let k = 0; k < flips; k++) v[r.int(0, v.length - 1)]! ^= 1 << r.int(0, 7);
          break;
        }
        case 'interesting':
          if (v.length > 0) v[r.int(0, v.length - 1)] = r.choice([0x00, 0x01, 0x7f, 0x80, 0xff]);
          break;
        case 'truncate':
          value = v.subarray(0, v.length === 0 ? 0 : r.int(0, v.length - 1));
          break;
        case 'insert': {
          const at = r.int(0, v.length);
          const extra = Buffer.alloc(r.int(1, 16));
          for (let k = 0; k < extra.length; k++) extra[k] = r.int(0, 255);
          value = Buffer.concat([v.subarray(0, at), extra, v.subarray(at)]);
          break;
        }
        case 'delete': {
          if (v.length === 0) break;
          const from = r.int(0, v.length - 1);
          value = Buffer.concat([v.subarray(0, from), v.subarray(Math.min(v.length, from + r.int(1, 12)))]);
          break;
        }
        case 'length': {
          // Only meaningful on an unchanged layout; after another mutation it is one more corruption.
          const spot = seed.varints.length > 0 ? r.choice(seed.varints) : undefined;
          if (!spot || spot.at >= v.length) break;
          let end = spot.at;
          while (end < v.length && end - spot.at < 10 && (v[end]! & 0x80) !== 0) end++;
          value = Buffer.concat([v.subarray(0, spot.at), r.choice(HOSTILE_VARINTS), v.subarray(Math.min(v.length, end + 1))]);
          applied[applied.length - 1] = `length:${spot.what}`;
          break;
        }
        case 'schema-id': {
          if (v.length < 5) break;
          const id = r.bernoulli(0.5) ? r.choice(this.ids) : r.u32();
          v.writeUInt32BE(id >>> 0, 1);
          break;
        }
        case 'magic':
          if (v.length > 0) v[0] = r.int(1, 255);
          break;
        case 'header':
          headers = [{ 'pev-records': r.bernoulli(0.7) ? r.choice(HOSTILE_COUNTS) : String(r.int(1, 8)) }];
          if (r.bernoulli(0.2)) headers.push({ 'pev-records': '1' });
          break;
        case 'random': {
          const out = Buffer.alloc(r.int(0, 300));
          for (let k = 0; k < out.length; k++) out[k] = r.int(0, 255);
          if (out.length > 0 && r.bernoulli(0.5)) out[0] = 0;
          value = out;
          break;
        }
        case 'splice': {
          const other = r.choice(this.seeds).value;
          value = Buffer.concat([v.subarray(0, r.int(0, v.length)), other.subarray(r.int(0, other.length))]);
          break;
        }
        case 'empty':
          value = r.bernoulli(0.5) ? null : Buffer.alloc(0);
          break;
        case 'oversize':
          value = Buffer.concat([v, Buffer.alloc(this.maxMessageBytes + 1 - Math.min(v.length, this.maxMessageBytes), 0x20)]);
          break;
      }
    }
    return { value, ...(headers ? { headers } : {}), mutations: applied.join('+') };
  }
}
