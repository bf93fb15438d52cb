/**
 * The data the harness feeds the pipeline: exactly N interval records from the fleet simulator,
 * or a synthetic stream over many concurrently active sessions (the memory run).
 *
 * Only interval records are produced: the targets are stated in interval records per second, and
 * the peers' published figures are rows per second of one table. Faults are off, so every record
 * must land in interval_raw and the row count verifies the run.
 */
import { writeFrameHeader } from '../../ingest/codec/framing.js';
import { latestSchema } from '../../schemas/index.js';
import { simulateFleet } from '../sim/fleet.js';
import { intervalPrefix, writeLong } from '../sim/avro-write.js';
import { IdFactory } from '../sim/ids.js';
import { Rng } from '../sim/random.js';
import type { DataMessage } from './kafka.js';

const DAY_MS = 86_400_000;
/** Sessions start within one simulated day, in the past so no record is "from the future". */
export const FLEET_FROM = Date.UTC(2026, 9, 1);

/**
 * The first `records` interval records of simulated fleets, packed `recordsPerMessage` to a
 * message (the simulator packs a session's records; a session's last message may hold fewer).
 * A fleet of about records / 250 premises over one day holds enough; if one runs dry, another
 * fleet with a derived seed continues.
 */
export function* fleetMessages(records: number, recordsPerMessage: number, seed: string): Generator<DataMessage> {
  let left = records;
  for (let round = 0; left > 0; round++) {
    if (round > 20) throw new Error(`bench: the simulator ran dry before ${records} records`);
    const fleet = simulateFleet({
      seed: round === 0 ? seed : `${seed}/${round}`,
      premises: Math.max(8, Math.ceil(left / 250)),
      from: FLEET_FROM,
      to: FLEET_FROM + DAY_MS,
      intervalS: 60,
      recordsPerMessage,
      noFaults: true,
      truthMinutes: false,
    });
    for (const m of fleet.messages()) {
      if (m.kind !== 'interval') continue;
      if (m.records <= left) {
        left -= m.records;
        yield { key: m.key, value: m.value, records: m.records };
      } else {
        // Cut the last message to the records still wanted: bounds mark each framed record.
        yield { key: m.key, value: m.value.subarray(0, m.bounds[left]), records: left };
        left = 0;
      }
      if (left === 0) return;
    }
  }
}

/**
 * The same records packed `recordsPerMessage` to a message per key (ESCI), the way an ESCI batches
 * its own records: a key's records keep their order, and a message goes out when it is full (the
 * rest at the end). Repacking the single-record stream is much cheaper than simulating the fleet
 * again, and every setting then carries exactly the same records.
 */
export function* repack(source: Iterable<DataMessage>, recordsPerMessage: number): Generator<DataMessage> {
  const open = new Map<string, Buffer[]>();
  const flush = (key: string, parts: Buffer[]): DataMessage => ({ key, value: Buffer.concat(parts), records: parts.length });
  for (const m of source) {
    if (m.records !== 1) throw new Error('bench: repack takes single-record messages');
    let parts = open.get(m.key);
    if (!parts) open.set(m.key, (parts = []));
    parts.push(m.value);
    if (parts.length === recordsPerMessage) {
      open.delete(m.key);
      yield flush(m.key, parts);
    }
  }
  for (const [key, parts] of open) yield flush(key, parts);
}

/** A session of the synthetic stream: its constant Avro prefix and register. */
interface SyntheticSession {
  key: string;
  prefix: Buffer;
  register: number;
}

/**
 * `sessions` sessions that are all active at once: round r sends interval r of every session,
 * session after session, so every consume batch touches thousands of distinct sessions and all of
 * them stay open for the whole stream. Times are whole minutes in the recent past (one interval of
 * 60 s per round, the last one a few minutes ago), so every record passes validation.
 */
export function* syntheticSessions(sessions: number, intervals: number, seed: string, nowMs = Date.now()): Generator<DataMessage> {
  const rng = new Rng(`${seed}/synthetic`);
  const ids = new IdFactory(rng.fork('ids'));
  const list: SyntheticSession[] = [];
  for (let i = 0; i < sessions; i++) {
    const esci = ids.esciId(i);
    const mix = (Math.imul(i + 1, 0x9e3779b1) >>> 0).toString(16).padStart(8, '0');
    const sessionId = `S-${mix}${i.toString(16).padStart(8, '0')}`;
    list.push({ key: esci, prefix: intervalPrefix(esci, ids.eumdId(i), ids.premiseId(i), ids.vin(i, rng.fork('vin', i)), sessionId), register: 1_000_000 + i });
  }
  const schemaId = latestSchema('interval').id;
  const start = Math.floor(nowMs / 60_000) * 60_000 - (intervals + 5) * 60_000;
  const scratch = Buffer.allocUnsafe(256);
  for (let r = 0; r < intervals; r++) {
    const t = start + r * 60_000;
    for (let i = 0; i < sessions; i++) {
      const s = list[i]!;
      // 7.2 kW for a minute, plus a little per-session variation: 110 to 129 Wh.
      const wh = 110 + ((i + r) % 20);
      s.register += wh;
      let pos = writeFrameHeader(scratch, 0, schemaId);
      scratch.set(s.prefix, pos);
      pos += s.prefix.length;
      // The EumdInterval fields after the IDs: seq, interval_start, interval_s, energy_wh, register_wh, quality.
      for (const v of [r, t, 60, wh, s.register, 0]) pos = writeLong(scratch, pos, v);
      yield { key: s.key, value: Buffer.from(scratch.subarray(0, pos)), records: 1 };
    }
  }
}
