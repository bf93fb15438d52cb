/**
 * The checker's own check (issue 6): a checker that cannot fail proves nothing. On a real chDB
 * store, rows made by the real decode path (`decodeBatch`, no pool, no Kafka) are inserted once and
 * then a second time, as a redelivery after a crash would insert them:
 *   - read with deduplication (the views, or the same rule over the raw table) it passes;
 *   - read with deduplication switched off it fails, and says by exactly how much;
 *   - a store that lost a session fails with exactly that session's energy as lost;
 *   - a store it cannot read, or that answers nonsense, reads 'unverified', never 'pass'.
 */
import t from 'tap';
import { openStore } from '../../../aggregate/store/connect.js';
import type { Store } from '../../../aggregate/store/types.js';
import { simulateFleet, type FleetOptionsInput, type SessionTruth } from '../../../bench/sim/fleet.js';
import { decodeBatch } from '../../../ingest/decode/batch.js';
import { type FramedTask } from '../../../ingest/decode/task.js';
import { latestSchema, localSchemas } from '../../../schemas/index.js';
import { tempStore } from '../../helpers/services.js';
import { checkOffsets, checkTruth, type CheckedTruth } from '../../../bench/sim/truth.js';

/** The fleet's interval messages decoded into interval_raw TSV, as one partition of one topic. */
function intervalRows(options: FleetOptionsInput): { tsv: Uint8Array; rows: number; truths: SessionTruth[]; messages: number } {
  const truths: SessionTruth[] = [];
  const values: Buffer[] = [];
  for (const m of simulateFleet(options).messages((s) => truths.push(s))) if (m.kind === 'interval') values.push(Buffer.from(m.value));
  let total = 0;
  for (const v of values) total += v.length;
  const data = new ArrayBuffer(total);
  const bytes = new Uint8Array(data);
  const starts = new Uint32Array(values.length);
  const ends = new Uint32Array(values.length);
  const offsets = new Float64Array(values.length);
  let at = 0;
  values.forEach((v, i) => {
    starts[i] = at;
    bytes.set(v, at);
    at += v.length;
    ends[i] = at;
    offsets[i] = i;
  });
  const task: FramedTask = {
    topic: 'checker.interval', partition: 0, kind: 'interval', data, starts, ends, offsets,
    schemas: localSchemas().map((s) => ({ id: s.id, text: s.text })),
    nowMs: Date.now(), clockSkewMs: 300_000, ingestedMs: Date.now(), maxMessageBytes: 1 << 20,
  };
  const result = decodeBatch(task);
  const table = result.tables.find((x) => x.table === 'interval_raw');
  if (!table) throw new Error('no interval rows');
  return { tsv: table.tsv, rows: table.rows, truths, messages: values.length };
}

const FLEET = { seed: 'checker-1', premises: 12, from: '2026-10-01T00:00:00Z', to: '2026-10-03T00:00:00Z' } as const;

void t.test('a clean single delivery passes; a double delivery passes with dedup and fails without', async (t) => {
  const store = await tempStore(t);
  const { tsv, rows, truths } = intervalRows({ ...FLEET, noFaults: true });
  t.ok(rows > 1_000, `${rows} interval rows`);
  t.equal(latestSchema('interval').id, 1001);
  await store.insertTsv('interval_raw', [tsv]);
  const expectedWh = truths.reduce((a, s) => a + s.interval_sum_wh, 0);
  const expectedRecords = truths.reduce((a, s) => a + s.intervals_delivered_unique, 0);
  t.equal(expectedRecords, rows, 'no faults: one row per counted interval');

  for (const source of ['aggregates', 'views', 'raw-dedup', 'raw-no-dedup'] as const) {
    const once = await checkTruth(store, truths, { source });
    t.equal(once.status, 'pass', `single delivery, ${source}: ${once.examples.join('; ')}`);
    t.equal(once.actual.wh, expectedWh);
  }

  // The redelivery: the same rows again, in a second insert (as after a crash between insert and commit).
  await store.insertTsv('interval_raw', [tsv]);
  for (const source of ['aggregates', 'views', 'raw-dedup'] as const) {
    const twice = await checkTruth(store, truths, { source });
    t.equal(twice.status, 'pass', `double delivery read with dedup (${source}) still passes`);
  }
  const broken = await checkTruth(store, truths, { source: 'raw-no-dedup' });
  t.equal(broken.status, 'fail', 'double delivery read without dedup fails the checker');
  const nonZeroMinutes = truths.reduce((a, s) => a + s.minutes.filter(([, wh]) => wh !== 0).length, 0);
  const sessionsWithEnergy = truths.filter((s) => s.interval_sum_wh !== 0 && s.intervals_delivered_unique > 0).length;
  t.same(
    { lost: broken.lost, doubleCounted: broken.doubleCounted, mismatchedMinutes: broken.mismatchedMinutes, unexpected: broken.unexpectedSessions },
    { lost: { records: 0, wh: 0 }, doubleCounted: { records: expectedRecords, wh: expectedWh }, mismatchedMinutes: nonZeroMinutes, unexpected: 0 },
    'everything counted twice, and said so exactly',
  );
  t.ok(broken.mismatchedSessions >= sessionsWithEnergy);
  t.ok(broken.examples.length > 0 && broken.examples.length <= 10);
});

void t.test('faults in the data: resends, conflicts, out-of-order and dead letters still check exactly', async (t) => {
  const store = await tempStore(t);
  const { tsv, truths } = intervalRows({ ...FLEET, faults: { resend: 0.3, out_of_order: 0.2, conflict: 0.1, negative_interval: 0.05, future_time: 0.05, clock_skew: 0.05 } });
  await store.insertTsv('interval_raw', [tsv]);
  await store.insertTsv('interval_raw', [tsv]);
  const check = await checkTruth(store, truths);
  t.equal(check.status, 'pass', check.examples.join('\n'));
  const victim = truths.find((s) => s.intervals_delivered_unique > 3 && s.interval_sum_wh > 0);
  if (!victim) throw new Error('no session to lose');

  await t.test('a lost session fails with its exact energy', async (t) => {
    await store.client.command({
      query: `ALTER TABLE ${store.database}.interval_raw DELETE WHERE session_id = {s:String}`,
      query_params: { s: victim.session_id },
      clickhouse_settings: { mutations_sync: '2' },
    });
    const lost = await checkTruth(store, truths);
    t.equal(lost.status, 'fail');
    t.same(lost.lost, { records: victim.intervals_delivered_unique, wh: victim.interval_sum_wh });
    t.same(lost.doubleCounted, { records: 0, wh: 0 });
    t.equal(lost.mismatchedSessions, 1);
    t.equal(lost.mismatchedMinutes, victim.minutes.length);
  });

  await t.test('a truth with a session the store never saw, or without one it holds, fails', async (t) => {
    const present = truths.filter((s) => s.intervals_delivered_unique > 0 && s !== victim);
    const extra: CheckedTruth = { session_id: 'S-00000000000000ff', interval_sum_wh: 7, intervals_delivered_unique: 1, minutes: [[1_790_000_000, 7]] };
    const more = await checkTruth(store, [...truths, extra]);
    t.equal(more.status, 'fail');
    t.ok(more.lost.wh >= 7);
    const fewer = await checkTruth(store, truths.filter((s) => s !== present[0]));
    t.equal(fewer.status, 'fail');
    t.equal(fewer.unexpectedSessions, 1);
  });
});

/** A store whose every read fails or answers nonsense, as chosen. */
function fakeStore(select: (query: string) => Promise<unknown[]>): Store {
  return {
    database: 'pevmeter',
    kind: 'http',
    client: undefined as never,
    migrate: () => Promise.reject(new Error('not here')),
    insertTsv: () => Promise.reject(new Error('not here')),
    insertTsvColumns: () => Promise.reject(new Error('not here')),
    select: <T>(q: string) => select(q) as Promise<T[]>,
    close: () => Promise.resolve(),
  };
}

void t.test('an infrastructure error while checking reads unverified, never pass', async (t) => {
  const truths: CheckedTruth[] = [{ session_id: 'S-0000000000000001', interval_sum_wh: 10, intervals_delivered_unique: 2, minutes: [[1_790_000_000, 10]] }];

  await t.test('a server nobody answers on', async (t) => {
    const store = await openStore({ kind: 'http', url: 'http://127.0.0.1:9', username: 'default', password: '', database: 'pevmeter', requestTimeoutMs: 2_000 });
    t.teardown(() => store.close());
    const r = await checkTruth(store, truths);
    t.equal(r.status, 'unverified');
    t.match(r.error, /store not readable/);
    const o = await checkOffsets(store, [{ topic: 'x', partition: 0, committed: 5 }]);
    t.equal(o.status, 'unverified');
  });

  await t.test('an empty truth is no excuse: the store is still read', async (t) => {
    const r = await checkTruth(fakeStore(() => Promise.reject(new Error('connect ECONNREFUSED'))), []);
    t.equal(r.status, 'unverified');
  });

  await t.test('a database without the tables', async (t) => {
    const store = await tempStore(t, { database: 'nothing_here', migrate: false });
    const r = await checkTruth(store, truths);
    t.equal(r.status, 'unverified');
    t.match(r.error, /store not readable/);
  });

  await t.test('answers of the wrong shape', async (t) => {
    for (const rows of [[{ session_id: 'S-0000000000000001', wh: 'ten', n: '2' }], [{ sid: 'S-0000000000000001' }], [{ session_id: 1, wh: '10', n: '2' }]]) {
      const r = await checkTruth(fakeStore(() => Promise.resolve(rows)), truths);
      t.equal(r.status, 'unverified', JSON.stringify(rows));
      t.match(r.error, /wrong shape/);
    }
  });

  await t.test('sessions readable but minutes not: unverified, not a half pass', async (t) => {
    const store = fakeStore((q) =>
      /session_rollup/.test(q) ? Promise.resolve([{ session_id: 'S-0000000000000001', wh: '10', n: '2' }]) : Promise.reject(new Error('Code: 241. DB::Exception: Memory limit exceeded')),
    );
    const r = await checkTruth(store, truths);
    t.equal(r.status, 'unverified');
    t.match(r.error, /Memory limit/);
  });
});

void t.test('offset check: holes fail, exact copies count as stored, lag is reported', async (t) => {
  const rows = (offsets: number[]) => offsets.map((o) => ({ o: String(o) }));
  const store = fakeStore((q) => Promise.resolve(/src_partition = 0/.test(q) ? rows([0, 1, 2, 4]) : rows([0, 1])));
  const hole = await checkOffsets(store, [{ topic: 'a.interval', partition: 0, committed: 5, high: 5 }]);
  t.equal(hole.status, 'fail');
  t.equal(hole.uncovered, 1);
  t.same(hole.partitions[0]?.missing, [3]);
  const copy = await checkOffsets(store, [{ topic: 'a.interval', partition: 0, committed: 5, high: 5, copies: new Set([3]) }]);
  t.equal(copy.status, 'pass');
  t.equal(copy.partitions[0]?.copies, 1);
  const behind = await checkOffsets(store, [{ topic: 'a.interval', partition: 1, committed: 2, high: 9 }], { requireDrained: true });
  t.equal(behind.status, 'fail');
  t.equal(behind.uncovered, 0);
  t.equal(behind.lag, 7);
  const none = await checkOffsets(store, [{ topic: 'a.interval', partition: 1, committed: -1, high: 0 }], { requireDrained: true });
  t.equal(none.status, 'pass');
  const beyond = await checkOffsets(fakeStore(() => Promise.resolve(rows([0, 7]))), [{ topic: 'a.interval', partition: 0, committed: 5 }]);
  t.equal(beyond.status, 'unverified', 'an offset the query should not return means the check is broken');
});
