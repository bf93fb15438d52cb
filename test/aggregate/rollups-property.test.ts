/**
 * Property: whatever the delivery (exact resends, Kafka redeliveries of the same offset, conflicting
 * copies, reversed or shuffled sending order, sessions cut off mid-way, copies on another
 * partition) and however the rows are split into inserts, the aggregates kept as rows arrive equal
 * the truth computed here from the deliveries and the read-time views of 002, to the Wh, before and
 * after OPTIMIZE ... FINAL. chDB in-process, seeded: a failure names its seed.
 */
import t from 'tap';
import type { Test } from 'tap';
import { allRollups, minutesSlice, refreshRollups, rollupTotals, sessionMinutes, sessionRollup, sessionsBy, staleSessions } from '../../aggregate/rollups.js';
import { toInt } from '../../aggregate/store/values.js';
import type { Store } from '../../aggregate/store/types.js';
import { Rng } from '../../bench/sim/random.js';
import { FactsReader } from '../../reconcile/facts.js';
import { tempStore } from '../helpers/services.js';
import { tsv } from './store/fixtures.js';

const T0 = 1_790_000_000;
const ROUNDS = 6;
const SESSIONS_PER_ROUND = 14;

interface Copy {
  session_id: string;
  seq: number;
  interval_start: number;
  interval_s: number;
  energy_wh: number;
  register_wh: number;
  src_partition: number;
  src_offset: number;
}

interface EndCopy {
  session_id: string;
  event_seq: number;
  energy_wh: number;
  src_partition: number;
  src_offset: number;
}

interface Truth {
  energyWh: number;
  intervals: number;
  expected: number;
  conflicts: number;
  firstMs: number;
  lastMs: number;
  hasEnd: boolean;
  endWh: number | null;
  minutes: Map<number, number>;
}

/** One round: sessions, every delivery of their records, in the order the rows reach the store. */
function round(rng: Rng, r: number): { copies: Copy[]; ends: EndCopy[] } {
  const copies: Copy[] = [];
  const ends: EndCopy[] = [];
  const nextOffset = [0, 0, 0, 0].map((_, p) => 1000 * r + p * 100_000);
  const take = (p: number): number => nextOffset[p]!++;
  for (let s = 0; s < SESSIONS_PER_ROUND; s++) {
    const sid = `S-${r.toString(16).padStart(2, '0')}${rng.hex(14)}`;
    const partition = rng.int(0, 3);
    const n = rng.int(1, 140); // crosses the state's 64-seq blocks
    const len = rng.choice([30, 60, 90, 300]);
    const start = T0 + rng.int(0, 86_400);
    const order = Array.from({ length: n }, (_, k) => k);
    const shape = rng.choice(['in order', 'reversed', 'shuffled'] as const);
    if (shape === 'reversed') order.reverse();
    if (shape === 'shuffled') rng.shuffle(order);
    // Interrupted: the last part of the sending order never arrives.
    const sent = rng.bernoulli(0.3) ? order.slice(0, rng.int(1, n)) : order;
    let register = rng.int(0, 1_000_000);
    for (const seq of sent) {
      if (rng.bernoulli(0.05)) continue; // a gap
      const energy = rng.int(0, 2_500);
      register += energy;
      const c: Copy = { session_id: sid, seq, interval_start: start + seq * len, interval_s: len, energy_wh: energy, register_wh: register, src_partition: partition, src_offset: take(partition) };
      copies.push(c);
      if (rng.bernoulli(0.15)) copies.push({ ...c }); // Kafka redelivery: same offset
      if (rng.bernoulli(0.1)) copies.push({ ...c, src_offset: take(partition) }); // ESCI resend
      if (rng.bernoulli(0.08)) {
        // A conflicting copy sent later, sometimes with another start (a key from content would
        // then count the seq in another minute).
        const shift = rng.bernoulli(0.5) ? rng.choice([-120, 60, 600]) : 0;
        copies.push({ ...c, energy_wh: energy + rng.int(1, 50), interval_start: c.interval_start + shift, src_offset: take(partition) });
      }
      if (rng.bernoulli(0.03)) {
        // A copy that went through another partition after a repartition: (partition, offset)
        // order decides which one counts, as at read time.
        const other = (partition + 1) % 4;
        copies.push({ ...c, energy_wh: energy + 7, src_partition: other, src_offset: take(other) });
      }
    }
    if (sent.length === n && rng.bernoulli(0.8)) {
      const end: EndCopy = { session_id: sid, event_seq: n + 1, energy_wh: rng.int(0, 100_000), src_partition: partition, src_offset: take(partition) };
      ends.push(end);
      if (rng.bernoulli(0.3)) ends.push({ ...end, src_offset: take(partition) });
      if (rng.bernoulli(0.2)) ends.push({ ...end, energy_wh: end.energy_wh + 1, src_offset: take(partition) });
    }
  }
  // Units of different partitions reach the store in any order.
  rng.shuffle(copies);
  rng.shuffle(ends);
  return { copies, ends };
}

function truthOf(copies: readonly Copy[], ends: readonly EndCopy[]): Map<string, Truth> {
  const first = new Map<string, Copy>();
  const contents = new Map<string, Set<string>>();
  const before = (a: Copy, b: Copy): boolean => a.src_partition < b.src_partition || (a.src_partition === b.src_partition && a.src_offset < b.src_offset);
  for (const c of copies) {
    const k = `${c.session_id}/${c.seq}`;
    const f = first.get(k);
    if (f === undefined || before(c, f)) first.set(k, c);
    const set = contents.get(k) ?? new Set<string>();
    set.add(`${c.interval_start}/${c.energy_wh}/${c.register_wh}`);
    contents.set(k, set);
  }
  const out = new Map<string, Truth>();
  for (const [k, c] of first) {
    let s = out.get(c.session_id);
    if (s === undefined) {
      s = { energyWh: 0, intervals: 0, expected: 0, conflicts: 0, firstMs: Infinity, lastMs: 0, hasEnd: false, endWh: null, minutes: new Map() };
      out.set(c.session_id, s);
    }
    s.energyWh += c.energy_wh;
    s.intervals += 1;
    s.expected = Math.max(s.expected, c.seq + 1);
    if (contents.get(k)!.size > 1) s.conflicts += 1;
    s.firstMs = Math.min(s.firstMs, c.interval_start * 1000);
    s.lastMs = Math.max(s.lastMs, (c.interval_start + c.interval_s) * 1000);
    const m = Math.floor(c.interval_start / 60) * 60_000;
    s.minutes.set(m, (s.minutes.get(m) ?? 0) + c.energy_wh);
  }
  const firstEnd = new Map<string, EndCopy>();
  for (const e of ends) {
    const f = firstEnd.get(e.session_id);
    if (f === undefined || e.src_partition < f.src_partition || (e.src_partition === f.src_partition && e.src_offset < f.src_offset)) firstEnd.set(e.session_id, e);
  }
  for (const [sid, e] of firstEnd) {
    const s = out.get(sid);
    if (s !== undefined) {
      s.hasEnd = true;
      s.endWh = e.energy_wh;
    }
  }
  return out;
}

/** Inserts rows in random block splits. */
async function insertSplit<T extends object>(store: Store, rng: Rng, table: 'interval_raw' | 'session_event_raw', rows: readonly T[], toRow: (x: T) => Record<string, string | number>): Promise<number> {
  let inserts = 0;
  for (let k = 0; k < rows.length; ) {
    const size = rng.bernoulli(0.2) ? 1 : rng.int(1, 200);
    await store.insertTsv(table, [tsv(table, rows.slice(k, k + size).map(toRow))]);
    k += size;
    inserts++;
  }
  return inserts;
}

const ivRow = (c: Copy): Record<string, string | number> => ({
  ...c, esci_id: 'ESCI-1', eumd_id: 'EUMD-1', premise_id: 'P1', pev_id: 'PEV1', quality: 0, src_topic: 'pev.eumd-interval', ingested_ms: 1,
});
const endRow = (e: EndCopy): Record<string, string | number> => ({
  session_id: e.session_id, event_seq: e.event_seq, event_type: 'END', esci_id: 'ESCI-1', premise_id: 'P1', pev_id: 'PEV1',
  event_time_ms: T0 * 1000, energy_wh: e.energy_wh, src_topic: 'pev.session-event', src_partition: e.src_partition, src_offset: e.src_offset, ingested_ms: 1,
});

async function compare(t: Test, store: Store, truth: Map<string, Truth>, when: string): Promise<void> {
  const expected = [...truth.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  const rollups = await allRollups(store);
  t.same(
    rollups.map((r) => [r.sessionId, r.energyWh, r.intervalsSeen, r.intervalsExpected, r.conflicts, r.firstIntervalMs, r.lastActivityMs, r.hasEnd, r.endEnergyWh]),
    expected.map(([sid, s]) => [sid, s.energyWh, s.intervals, s.expected, s.conflicts, s.firstMs, s.lastMs, s.hasEnd, s.endWh]),
    `${when}: aggregates equal the truth`,
  );
  // One session at a time (finished rows where current, states for the rest) gives the same.
  const one: unknown[] = [];
  for (const r of rollups) one.push(await sessionRollup(store, r.sessionId));
  t.same(one, rollups, `${when}: each session's own rollup equals the whole-store read`);
  // The premise index knows a session from its events and its seq 0 (docs/architecture.md): the
  // sessions here that lost both are found by ID only.
  const indexed = new Set((await store.select<{ session_id: string }>("SELECT DISTINCT session_id FROM {db}.session_by_premise WHERE premise_id = 'P1'")).map((r) => r.session_id));
  const premise = await sessionsBy(store, { premiseId: 'P1' }, { fromMs: 0, toMs: 4_000_000_000_000 });
  t.same(premise, rollups.filter((r) => indexed.has(r.sessionId)), `${when}: and so does the lookup of their premise (${premise.length} of ${rollups.length} indexed)`);
  // The paths a fleet takes, driven here by naming few IDs per query: a program's sessions read in
  // runs, and whole-store reads computed from the states when more sessions are stale than that.
  t.same(await sessionsBy(store, { premiseId: 'P1' }, { fromMs: 0, toMs: 4_000_000_000_000 }, { idsPerQuery: 7 }), premise, `${when}: the premise read in runs of 7 IDs`);
  const stale = (await staleSessions(store)).length;
  t.same(await allRollups(store, { idsPerQuery: 2 }), rollups, `${when}: the whole store with at most 2 IDs named (${stale} stale: ${stale > 2 ? 'all from the states' : 'named'})`);
  const view = await store.select<Record<string, unknown>>(
    'SELECT session_id, energy_wh, intervals_seen, intervals_expected, conflicts, toInt64(toUInt32(first_interval_start)) * 1000 AS f, toInt64(toUInt32(last_activity)) * 1000 AS l, has_end, end_energy_wh FROM {db}.session_rollup ORDER BY session_id',
  );
  t.same(
    view.map((r) => [r['session_id'], ...['energy_wh', 'intervals_seen', 'intervals_expected', 'conflicts', 'f', 'l'].map((k) => toInt(r[k])), toInt(r['has_end']) === 1, r['end_energy_wh'] === null ? null : toInt(r['end_energy_wh'])]),
    rollups.map((r) => [r.sessionId, r.energyWh, r.intervalsSeen, r.intervalsExpected, r.conflicts, r.firstIntervalMs, r.lastActivityMs, r.hasEnd, r.endEnergyWh]),
    `${when}: aggregates equal the read-time view session_rollup`,
  );
  const minutes = await minutesSlice(store, 0, 1);
  const expectedMinutes: [string, number, number, number][] = [];
  for (const [sid, s] of expected) {
    let running = 0;
    for (const [m, wh] of [...s.minutes.entries()].sort(([a], [b]) => a - b)) {
      running += wh;
      expectedMinutes.push([sid, m, wh, running]);
    }
  }
  t.same(minutes.map((m) => [m.sessionId, m.minuteMs, m.energyWh, m.runningWh]), expectedMinutes, `${when}: minutes and running sums equal the truth`);
  // Session by session: from the finished row where it is current (every other round), else the states.
  const perSession: [string, number, number, number][] = [];
  for (const r of rollups) perSession.push(...(await sessionMinutes(store, r.sessionId)).map((m): [string, number, number, number] => [m.sessionId, m.minuteMs, m.energyWh, m.runningWh]));
  t.same(perSession, expectedMinutes, `${when}: each session's own minutes equal the truth`);
  const totals = { sessions: rollups.length, energyWh: 0, intervals: 0, conflicts: 0, unfinished: 0, minutes: expectedMinutes.length };
  for (const r of rollups) {
    totals.energyWh += r.energyWh;
    totals.intervals += r.intervalsSeen;
    totals.conflicts += r.conflicts;
    totals.unfinished += r.hasEnd ? 0 : 1;
  }
  for (const idsPerQuery of [2, undefined]) {
    t.same(await rollupTotals(store, idsPerQuery === undefined ? {} : { idsPerQuery }), totals, `${when}: the totals, at most ${idsPerQuery ?? 'the default'} IDs named`);
  }
  // Reconcile reads the raw tables with its own copy of the rule (reconcile/facts.ts,
  // dedupIntervals; docs/architecture.md says why): held to the same answer here.
  const reader = new FactsReader(store, {
    period: { fromMs: (T0 - 86_400) * 1000, toMs: (T0 + 3 * 86_400) * 1000 }, filters: {}, asOfMs: (T0 + 4 * 86_400) * 1000, maxSpanDays: 7, batchSessions: 64,
  });
  await reader.open();
  const facts: [string, number, number, number, number, number][] = [];
  for await (const b of reader.read()) {
    await b.each((f) => {
      if (f.intervals.length === 0) return; // events only: no rollup, as in session_rollup
      const last = f.intervals.reduce((a, i) => Math.max(a, i.startMs + i.lenS * 1000), 0);
      facts.push([f.sessionId, f.intervals.reduce((a, i) => a + i.energyWh, 0), f.intervals.length, f.intervals.filter((i) => i.copies > 1).length, Math.min(...f.intervals.map((i) => i.startMs)), last]);
    });
  }
  facts.sort(([a], [b]) => (a < b ? -1 : 1));
  t.same(facts, rollups.map((r) => [r.sessionId, r.energyWh, r.intervalsSeen, r.conflicts, r.firstIntervalMs, r.lastActivityMs]), `${when}: reconcile's facts equal the aggregates`);
  const viewMinutes = await store.select<Record<string, unknown>>(
    'SELECT session_id, toInt64(toUInt32(minute)) * 1000 AS m, energy_wh, running_wh FROM {db}.session_minute ORDER BY session_id, m',
  );
  t.same(viewMinutes.map((r) => [r['session_id'], toInt(r['m']), toInt(r['energy_wh']), toInt(r['running_wh'])]), expectedMinutes, `${when}: and the read-time view session_minute`);
}

void t.test('aggregates equal the truth and the read-time views under random deliveries', async (t) => {
  const store = await tempStore(t);
  const all: Copy[] = [];
  const allEnds: EndCopy[] = [];
  let inserts = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const seed = `rollups-property-${r}`;
    const rng = new Rng(seed);
    const { copies, ends } = round(rng, r);
    all.push(...copies);
    allEnds.push(...ends);
    inserts += await insertSplit(store, rng, 'interval_raw', copies, ivRow);
    inserts += await insertSplit(store, rng, 'session_event_raw', ends, endRow);
    await compare(t, store, truthOf(all, allEnds), `after round ${r} (seed ${seed})`);
    if (r % 2 === 1) {
      // Finish the rollups now and then: the next round's rows make some of them stale again.
      const refreshed = await refreshRollups(store, { chunk: 16 });
      t.ok(refreshed.stale > 0, `round ${r}: ${refreshed.stale} rollups to finish`);
      t.same(await staleSessions(store), [], `after round ${r}'s refresh nothing is stale`);
      await compare(t, store, truthOf(all, allEnds), `after round ${r}'s refresh`);
      // A late interval for finished sessions: their finished rows are out of date at once, and
      // the reads must answer from the states (the energy changes, so a stale row would show).
      const late: Copy[] = [];
      const last = new Map<string, Copy>();
      for (const c of all) if ((last.get(c.session_id)?.seq ?? -1) < c.seq) last.set(c.session_id, c);
      for (const c of rng.shuffle([...last.values()]).slice(0, 5)) {
        late.push({ ...c, seq: c.seq + 1, interval_start: c.interval_start + c.interval_s, energy_wh: rng.int(1, 500), src_partition: 99, src_offset: late.length + 10 * r });
      }
      all.push(...late);
      await store.insertTsv('interval_raw', [tsv('interval_raw', late.map(ivRow))]);
      inserts++;
      t.equal((await staleSessions(store)).length, 5, `round ${r}: the late intervals make their 5 sessions stale`);
      await compare(t, store, truthOf(all, allEnds), `after round ${r}'s late intervals`);
    }
  }
  const truth = truthOf(all, allEnds);
  // The seeds' deliveries, pinned so that a change to the generator is seen: 6,243 rows (15 of
  // them late intervals) for 84 sessions, 480 seqs in conflict, in 98 inserts.
  t.same(
    { sessions: truth.size, conflicts: [...truth.values()].reduce((a, s) => a + s.conflicts, 0), copies: all.length, inserts },
    { sessions: 84, conflicts: 480, copies: 6243, inserts: 98 },
  );
  for (const table of ['interval_raw', 'session_event_raw', 'interval_copies', 'session_event_state', 'session_rollup_final']) {
    await store.client.command({ query: `OPTIMIZE TABLE ${store.database}.${table} FINAL` });
  }
  await compare(t, store, truth, 'after OPTIMIZE FINAL');
  await refreshRollups(store);
  t.same(await staleSessions(store), [], 'every rollup finished');
  await compare(t, store, truth, 'every rollup finished, after OPTIMIZE FINAL');
});
