/**
 * The ground-truth checker: compares what a store holds with what the simulator says happened.
 *
 * Per session it compares energy (Wh) and counted intervals; per (session, UTC minute) it compares
 * the minute's energy. Everything is exact integers: one Wh off anywhere is a failure. The verdict
 * has three values, because a checker that cannot look must not say "pass":
 *
 *   pass        every session and every minute equals the truth, and nothing else is stored
 *   fail        at least one difference (lost, double counted, a wrong minute, a stray session)
 *   unverified  the check itself could not run (store unreachable, a table missing, an answer of
 *               the wrong shape): nothing is known, and callers must treat it as not passing
 *
 * Four ways to read the store (`source`):
 *   aggregates    the aggregates kept as rows arrive, through aggregate/rollups.ts (what billing
 *                 reads; ClickHouse 23.8+, chDB)
 *   views         the read-time views session_rollup and session_minute (ClickHouse 23.8+, chDB)
 *   raw-dedup     the same read-time rule written directly over interval_raw: per (session, seq)
 *                 the first received copy (lowest partition, offset) counts. Runs on 18.16, the
 *                 outage-test server, which has no views.
 *   raw-no-dedup  sums every stored row. Deliberately wrong: it exists so the checker can be shown
 *                 to fail on a store that holds a redelivery (the checker's own check, issue 6).
 *
 * Also here: the offset check. A partition's committed offset C claims that every message below C
 * is durable; `checkOffsets` counts the distinct source offsets below C found in the raw tables and
 * dead_letter (every message leaves at least one row in one of them) and reports any shortfall.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allRollups, minutesSlice } from '../../aggregate/rollups.js';
import { toInt } from '../../aggregate/store/values.js';
import type { Store } from '../../aggregate/store/types.js';
import type { SessionTruth } from './fleet.js';
import { TRUTH_FILE } from './file-writer.js';

/** The simulator's truth as written beside a fleet's files (truth.jsonl, one session a line). */
export function readTruthFile(dir: string): SessionTruth[] {
  const out: SessionTruth[] = [];
  for (const line of readFileSync(join(dir, TRUTH_FILE), 'utf8').split('\n')) if (line !== '') out.push(JSON.parse(line) as SessionTruth);
  return out;
}

export type TruthSource = 'aggregates' | 'views' | 'raw-dedup' | 'raw-no-dedup';
export type Verdict = 'pass' | 'fail' | 'unverified';

/** The part of the simulator's truth the checker needs (SessionTruth fits). */
export type CheckedTruth = Pick<SessionTruth, 'session_id' | 'interval_sum_wh' | 'intervals_delivered_unique' | 'minutes'>;

export interface TruthCheckOptions {
  source?: TruthSource;
  /** Compare per-minute sums too (default true). */
  minutes?: boolean;
  /** Examples of differences kept in the result (default 10). */
  examples?: number;
}

export interface Shortfall {
  /** Intervals (rows of the deduplicated view) missing or extra. */
  records: number;
  wh: number;
}

export interface TruthCheck {
  status: Verdict;
  source: TruthSource;
  /** Sessions in the truth with at least one counted interval (the ones the store must hold). */
  sessions: number;
  expected: { wh: number; records: number; minutes: number };
  actual: { wh: number; records: number; minutes: number; sessions: number };
  /** Energy and intervals the store is missing, summed over sessions that read low. */
  lost: Shortfall;
  /** Energy and intervals the store holds beyond the truth, summed over sessions that read high. */
  doubleCounted: Shortfall;
  mismatchedSessions: number;
  mismatchedMinutes: number;
  /** Sessions in the store that the truth does not have (counted in doubleCounted too). */
  unexpectedSessions: number;
  examples: string[];
  /** Why the verdict is 'unverified'. */
  error?: string;
}

interface SessionRow {
  session_id: string;
  wh: unknown;
  n: unknown;
}

interface MinuteRow {
  session_id: string;
  m: unknown;
  wh: unknown;
}

function sessionQuery(source: Exclude<TruthSource, 'aggregates'>): string {
  switch (source) {
    case 'views':
      return 'SELECT session_id, energy_wh AS wh, intervals_seen AS n FROM {db}.session_rollup';
    case 'raw-dedup':
      return (
        'SELECT session_id, sum(e) AS wh, count() AS n FROM ' +
        '(SELECT session_id, seq, argMin(energy_wh, (src_partition, src_offset)) AS e FROM {db}.interval_raw GROUP BY session_id, seq) ' +
        'GROUP BY session_id'
      );
    case 'raw-no-dedup':
      return 'SELECT session_id, sum(energy_wh) AS wh, count() AS n FROM {db}.interval_raw GROUP BY session_id';
  }
}

/** Minute rows of one slice of sessions (slices keep each answer small on million-row runs). */
function minuteQuery(source: Exclude<TruthSource, 'aggregates'>, slice: number, slices: number): string {
  const where = `cityHash64(session_id) % ${slices} = ${slice}`;
  switch (source) {
    case 'views':
      return `SELECT session_id, toUInt32(minute) AS m, energy_wh AS wh FROM {db}.session_minute WHERE ${where}`;
    case 'raw-dedup':
      return (
        'SELECT session_id, toUInt32(toStartOfMinute(st)) AS m, sum(e) AS wh FROM ' +
        '(SELECT session_id, seq, argMin((energy_wh, interval_start), (src_partition, src_offset)) AS f, f.1 AS e, f.2 AS st ' +
        `FROM {db}.interval_raw WHERE ${where} GROUP BY session_id, seq) GROUP BY session_id, m`
      );
    case 'raw-no-dedup':
      return `SELECT session_id, toUInt32(toStartOfMinute(interval_start)) AS m, sum(energy_wh) AS wh FROM {db}.interval_raw WHERE ${where} GROUP BY session_id, m`;
  }
}

/** The aggregates are read through their API, in the row shapes the comparison below takes. */
async function sessionRows(store: Store, source: TruthSource): Promise<SessionRow[]> {
  if (source !== 'aggregates') return store.select<SessionRow>(sessionQuery(source));
  return (await allRollups(store)).map((r) => ({ session_id: r.sessionId, wh: r.energyWh, n: r.intervalsSeen }));
}

async function minuteRows(store: Store, source: TruthSource, slice: number, slices: number): Promise<MinuteRow[]> {
  if (source !== 'aggregates') return store.select<MinuteRow>(minuteQuery(source, slice, slices));
  return (await minutesSlice(store, slice, slices)).map((m) => ({ session_id: m.sessionId, m: m.minuteMs / 1000, wh: m.energyWh }));
}

class ShapeError extends Error {}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new ShapeError(`${what}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}

function int(v: unknown, what: string): number {
  try {
    return toInt(v);
  } catch {
    throw new ShapeError(`${what}: expected an integer, got ${JSON.stringify(v)}`);
  }
}

/**
 * Compares `store` with `truth`. Never throws: a failure to read is the 'unverified' verdict, with
 * the reason in `error`.
 */
export async function checkTruth(store: Store, truth: readonly CheckedTruth[], opts: TruthCheckOptions = {}): Promise<TruthCheck> {
  const source = opts.source ?? 'views';
  const maxExamples = opts.examples ?? 10;
  const result: TruthCheck = {
    status: 'unverified',
    source,
    sessions: 0,
    expected: { wh: 0, records: 0, minutes: 0 },
    actual: { wh: 0, records: 0, minutes: 0, sessions: 0 },
    lost: { records: 0, wh: 0 },
    doubleCounted: { records: 0, wh: 0 },
    mismatchedSessions: 0,
    mismatchedMinutes: 0,
    unexpectedSessions: 0,
    examples: [],
  };
  const example = (s: string) => {
    if (result.examples.length < maxExamples) result.examples.push(s);
  };
  const bySession = new Map<string, CheckedTruth>();
  for (const t of truth) {
    if (bySession.has(t.session_id)) {
      result.error = `truth lists session ${t.session_id} twice`;
      return result;
    }
    bySession.set(t.session_id, t);
    if (t.intervals_delivered_unique > 0) result.sessions++;
    result.expected.wh += t.interval_sum_wh;
    result.expected.records += t.intervals_delivered_unique;
    result.expected.minutes += t.minutes.length;
  }
  try {
    const rows = await sessionRows(store, source);
    const seen = new Set<string>();
    for (const r of rows) {
      const id = str(r.session_id, 'session_id');
      const wh = int(r.wh, `energy of ${id}`);
      const n = int(r.n, `intervals of ${id}`);
      if (seen.has(id)) throw new ShapeError(`session ${id} appears twice in the store's answer`);
      seen.add(id);
      result.actual.sessions++;
      result.actual.wh += wh;
      result.actual.records += n;
      const t = bySession.get(id);
      if (!t) {
        result.unexpectedSessions++;
        result.mismatchedSessions++;
        result.doubleCounted.wh += Math.max(0, wh);
        result.doubleCounted.records += n;
        example(`session ${id}: in the store (${wh} Wh, ${n} intervals) but not in the truth`);
        continue;
      }
      if (wh !== t.interval_sum_wh || n !== t.intervals_delivered_unique) {
        result.mismatchedSessions++;
        example(`session ${id}: store ${wh} Wh / ${n} intervals, truth ${t.interval_sum_wh} Wh / ${t.intervals_delivered_unique} intervals`);
      }
      if (wh < t.interval_sum_wh) result.lost.wh += t.interval_sum_wh - wh;
      else result.doubleCounted.wh += wh - t.interval_sum_wh;
      if (n < t.intervals_delivered_unique) result.lost.records += t.intervals_delivered_unique - n;
      else result.doubleCounted.records += n - t.intervals_delivered_unique;
    }
    for (const t of truth) {
      if (seen.has(t.session_id) || t.intervals_delivered_unique === 0) continue;
      result.mismatchedSessions++;
      result.lost.wh += t.interval_sum_wh;
      result.lost.records += t.intervals_delivered_unique;
      example(`session ${t.session_id}: missing from the store (truth ${t.interval_sum_wh} Wh, ${t.intervals_delivered_unique} intervals)`);
    }

    if (opts.minutes ?? true) {
      const slices = Math.max(1, Math.ceil(result.expected.minutes / 250_000));
      const withMinutes = new Set<string>();
      for (let slice = 0; slice < slices; slice++) {
        const got = await minuteRows(store, source, slice, slices);
        const stored = new Map<string, Map<number, number>>();
        for (const r of got) {
          const id = str(r.session_id, 'session_id');
          const m = int(r.m, `minute of ${id}`);
          const wh = int(r.wh, `minute energy of ${id}`);
          let perMinute = stored.get(id);
          if (!perMinute) stored.set(id, (perMinute = new Map<number, number>()));
          if (perMinute.has(m)) throw new ShapeError(`session ${id} minute ${m} appears twice in the store's answer`);
          perMinute.set(m, wh);
          result.actual.minutes++;
        }
        for (const [id, perMinute] of stored) {
          const t = bySession.get(id);
          const expected = new Map<number, number>(t ? t.minutes : ([] as [number, number][]));
          for (const [m, wh] of perMinute) {
            const want = expected.get(m);
            if (want !== wh) {
              result.mismatchedMinutes++;
              example(`session ${id} minute ${new Date(m * 1000).toISOString()}: store ${wh} Wh, truth ${want ?? 'none'}`);
            }
          }
          for (const [m, wh] of expected) {
            if (!perMinute.has(m)) {
              result.mismatchedMinutes++;
              example(`session ${id} minute ${new Date(m * 1000).toISOString()}: missing from the store (truth ${wh} Wh)`);
            }
          }
        }
        for (const id of stored.keys()) withMinutes.add(id);
      }
      for (const t of truth) {
        if (t.minutes.length === 0 || withMinutes.has(t.session_id)) continue;
        result.mismatchedMinutes += t.minutes.length;
        example(`session ${t.session_id}: no minute rows in the store (truth has ${t.minutes.length})`);
      }
    }
  } catch (err) {
    result.status = 'unverified';
    result.error = err instanceof ShapeError ? `store answer of the wrong shape: ${err.message}` : `store not readable: ${(err as Error).message}`;
    return result;
  }
  const clean =
    result.mismatchedSessions === 0 &&
    result.mismatchedMinutes === 0 &&
    result.unexpectedSessions === 0 &&
    result.lost.wh === 0 &&
    result.lost.records === 0 &&
    result.doubleCounted.wh === 0 &&
    result.doubleCounted.records === 0;
  result.status = clean ? 'pass' : 'fail';
  return result;
}

/** One partition's committed offset against what the store holds below it. */
export interface PartitionOffsets {
  topic: string;
  partition: number;
  /** Committed offset (next to read); -1 when the group has none. */
  committed: number;
  /** High watermark (next offset the broker will assign), when known. */
  high?: number;
  /** Distinct source offsets below `committed` found in the store. */
  covered: number;
  /** Offsets below `committed` with no row of their own that are exact copies (their content is stored). */
  copies: number;
  /** Offsets below `committed` with nothing stored: the first few. */
  missing: number[];
}

export interface OffsetCheck {
  status: Verdict;
  partitions: PartitionOffsets[];
  /** Offsets below a committed offset with nothing in the store (must be 0). */
  uncovered: number;
  /** Messages between committed offsets and high watermarks (0 once drained), when watermarks are given. */
  lag: number;
  error?: string;
}

export interface OffsetClaim {
  topic: string;
  partition: number;
  committed: number;
  high?: number;
  /**
   * Offsets of messages made only of byte-identical copies of earlier records (ESCI resends):
   * ClickHouse may collapse them into the earliest copy, at insert or in a merge, so they may have
   * no row of their own although their content is durable.
   */
  copies?: ReadonlySet<number>;
}

const OFFSET_TABLES = ['interval_raw', 'session_event_raw', 'vehicle_report_raw', 'enrollment', 'dead_letter'];

/**
 * Checks that every message below each committed offset left a row in the store (raw tables or
 * dead_letter; every message leaves at least one), except exact copies, whose content is stored
 * under the earlier offset. Topics start at offset 0 (fresh test topics, no retention deletes).
 * With `requireDrained`, a committed offset short of its high watermark fails too.
 */
export async function checkOffsets(store: Store, claims: readonly OffsetClaim[], opts: { requireDrained?: boolean } = {}): Promise<OffsetCheck> {
  const out: OffsetCheck = { status: 'unverified', partitions: [], uncovered: 0, lag: 0 };
  try {
    for (const p of claims) {
      if (!/^[A-Za-z0-9._-]+$/.test(p.topic)) throw new ShapeError(`topic ${JSON.stringify(p.topic)} is not a plain topic name`);
      if (!Number.isSafeInteger(p.partition) || !Number.isSafeInteger(p.committed)) throw new ShapeError(`claim for ${p.topic}: partition and committed offset must be integers`);
      const entry: PartitionOffsets = { topic: p.topic, partition: p.partition, committed: p.committed, covered: 0, copies: 0, missing: [] };
      let uncovered = 0;
      if (p.committed > 0) {
        const union = OFFSET_TABLES.map(
          (t) => `SELECT src_offset FROM {db}.${t} WHERE src_topic = '${p.topic}' AND src_partition = ${p.partition} AND src_offset < ${p.committed}`,
        ).join(' UNION ALL ');
        const rows = await store.select<{ o: unknown }>(`SELECT DISTINCT src_offset AS o FROM (${union})`);
        const present = new Uint8Array(p.committed);
        for (const r of rows) {
          const o = int(r.o, `offset in ${p.topic}[${p.partition}]`);
          if (o < 0 || o >= p.committed) throw new ShapeError(`offset ${o} outside [0, ${p.committed}) in ${p.topic}[${p.partition}]`);
          present[o] = 1;
        }
        entry.covered = rows.length;
        for (let o = 0; o < p.committed; o++) {
          if (present[o]) continue;
          if (p.copies?.has(o)) {
            entry.copies++;
            continue;
          }
          uncovered++;
          if (entry.missing.length < 10) entry.missing.push(o);
        }
      }
      if (p.high !== undefined) {
        entry.high = p.high;
        out.lag += Math.max(0, p.high - Math.max(0, p.committed));
      }
      out.partitions.push(entry);
      out.uncovered += uncovered;
    }
  } catch (err) {
    out.error = err instanceof ShapeError ? err.message : `store not readable: ${(err as Error).message}`;
    return out;
  }
  out.status = out.uncovered === 0 && (!opts.requireDrained || out.lag === 0) ? 'pass' : 'fail';
  return out;
}

/** Rows counted in interval_raw beyond one per (partition, offset, seq): Kafka redeliveries stored. */
export async function redeliveredRows(store: Store): Promise<{ rows: number; unique: number; redelivered: number }> {
  const [r] = await store.select<{ rows: unknown; uniq: unknown }>(
    'SELECT count() AS rows, uniqExact(src_topic, src_partition, src_offset, seq) AS uniq FROM {db}.interval_raw',
  );
  const rows = toInt(r?.rows);
  const unique = toInt(r?.uniq);
  return { rows, unique, redelivered: rows - unique };
}
