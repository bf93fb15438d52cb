/**
 * Per-minute aggregation in the decode worker. The pipeline sums nothing at write time (totals
 * are computed at read time, exactly once, by ClickHouse views); the worker only counts the
 * distinct (session, minute) pairs of a batch for progress metrics. Compared here:
 *
 *   current       the worker's count (Batch.countInterval in ingest/decode/batch.ts, private, so
 *                 reproduced line for line): a session maps to its one minute, or to a Set once it
 *                 has two; consecutive records of the same session and minute short-circuit
 *   string key    a Set of `${session}:${minute}` strings (one string per record)
 *   nested maps   Map<session, Map<minute, Wh>>: what write-time pre-aggregation of per-minute
 *                 energy would cost the worker (rejected for exactness, measured for its price)
 */
import { latestSchema, type EumdInterval } from '../../schemas/index.js';
import { isMain, printResult, runCases, sampleMessages, writeMicro, type MicroResult } from './runner.js';

/** Batch.countInterval's algorithm, per batch. */
function countCurrent(records: readonly EumdInterval[]): number {
  const minutes = new Map<string, number | Set<number>>();
  let lastSession = '';
  let lastMinute = -1;
  let energy = 0;
  for (const r of records) {
    energy += r.energy_wh;
    const minute = Math.floor(r.interval_start / 60_000);
    const sid = r.session_id;
    if (minute === lastMinute && sid === lastSession) continue;
    lastSession = sid;
    lastMinute = minute;
    const seen = minutes.get(sid);
    if (seen === undefined) minutes.set(sid, minute);
    else if (typeof seen === 'number') {
      if (seen !== minute) minutes.set(sid, new Set([seen, minute]));
    } else seen.add(minute);
  }
  let n = 0;
  for (const v of minutes.values()) n += typeof v === 'number' ? 1 : v.size;
  return n + (energy & 1);
}

export function run(): MicroResult {
  const type = latestSchema('interval').type;
  // 15 s intervals put four records in each minute, so the minute logic has work to do.
  const records = sampleMessages(10_000).map((m) => type.fromBuffer(m.value.subarray(5)) as EumdInterval);
  const n = records.length;
  return runCases('minute-aggregation', 'interval record', n, [
    { name: 'session -> minute | Set (countInterval)', current: true, fn: () => countCurrent(records) },
    {
      name: 'Set of "session:minute" strings',
      note: 'one string per record',
      fn: () => {
        const set = new Set<string>();
        for (const r of records) set.add(`${r.session_id}:${Math.floor(r.interval_start / 60_000)}`);
        return set.size;
      },
    },
    {
      name: 'Map<session, Map<minute, Wh>> (pre-aggregation)',
      note: 'write-time per-minute sums: not exact under redelivery, so not used',
      fn: () => {
        const by = new Map<string, Map<number, number>>();
        for (const r of records) {
          const minute = Math.floor(r.interval_start / 60_000);
          let m = by.get(r.session_id);
          if (!m) by.set(r.session_id, (m = new Map<number, number>()));
          m.set(minute, (m.get(minute) ?? 0) + r.energy_wh);
        }
        return by.size;
      },
    },
  ]);
}

if (isMain(import.meta.url)) {
  const r = run();
  printResult(r);
  writeMicro('micro-minute-aggregation.json', r);
}
