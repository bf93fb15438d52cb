/**
 * Interval rows as columns (the chDB insert format): values written, rolled back and joined
 * exactly, int64 halves included. Pure; the insert itself is tested against chDB in connect.test.ts.
 */
import t from 'tap';
import { ARROW_INSERT_COLUMNS, IntervalColumns, arrowColumns } from '../../../aggregate/store/columns.js';
import type { EumdInterval } from '../../../schemas/index.js';
import { columnsAsTsv } from '../../helpers/columns.js';

const base: EumdInterval = {
  esci_id: 'ESCI-0A1B2C3D', eumd_id: 'EUMD-00FF00FF', premise_id: 'P123456789', pev_id: '1HGCM82633A004352',
  session_id: 'S-0123456789abcdef', seq: 7, interval_start: 1_700_000_100_000, interval_s: 60, energy_wh: 120,
  register_wh: 98_765, quality: 3,
};
const line = (r: EumdInterval, topic: string, partition: number, offset: number, ingestedMs: number): string =>
  [r.session_id, r.seq, r.esci_id, r.eumd_id, r.premise_id, r.pev_id, r.interval_start / 1000, r.interval_s, r.energy_wh, r.register_wh, r.quality,
    topic, partition, offset, ingestedMs].join('\t') + '\n';

void t.test('rows written, one rolled back, and two parts joined read back exactly', (t) => {
  const a = new IntervalColumns(2);
  const r0 = { ...base };
  const r1 = { ...base, seq: 8, energy_wh: 5_000_000_000, register_wh: 9_007_199_254_740_991 };
  const bad = { ...base, session_id: 'S-ffffffffffffffff', seq: 9 };
  const r2 = { ...base, seq: 10, pev_id: 'JH4KA7561PC008269', energy_wh: 0, register_wh: 4_294_967_296 };
  a.write(r0, 100);
  a.write(r1, 123_456_789_012);
  a.write(bad, 102);
  a.truncate(2);
  a.write(r2, 103);
  const b = new IntervalColumns(16);
  const r3 = { ...base, session_id: 'S-00000000000000b2', seq: 0, interval_start: 1_700_000_160_000 };
  b.write(r3, 7);
  const partA = a.result('pev.eumd-interval', 3, 1_765_000_000_123);
  const partB = b.result('pev.other', 0, 1);
  t.same([partA.rows, partB.rows], [3, 1]);
  t.equal(
    columnsAsTsv([partA, partB]),
    line(r0, 'pev.eumd-interval', 3, 100, 1_765_000_000_123) + line(r1, 'pev.eumd-interval', 3, 123_456_789_012, 1_765_000_000_123)
      + line(r2, 'pev.eumd-interval', 3, 103, 1_765_000_000_123) + line(r3, 'pev.other', 0, 7, 1),
  );
  const columns = arrowColumns([partA, partB]);
  t.same(columns.map((c) => c.name), ARROW_INSERT_COLUMNS);
  t.same(columns.map((c) => c.length), ARROW_INSERT_COLUMNS.map(() => 4));
  t.same(columns.map((c) => c.format), ['u', 'u', 'u', 'u', 'u', 'I', 'I', 'I', 'I', 'l', 'l', 'l', 'u', 'i', 'l']);
  t.end();
});

void t.test('columns grow past their first capacity (rows and string bytes), a rollback in the middle', (t) => {
  const c = new IntervalColumns(0); // room for 16 rows at first
  const rows = Array.from({ length: 70 }, (_, i) => ({ ...base, session_id: `S-${i.toString(16).padStart(16, '0')}`, seq: i, energy_wh: i * 1_000_000_007 }));
  let expected = '';
  for (const [i, r] of rows.entries()) {
    if (i === 33) {
      c.write({ ...r, seq: 999 }, 999);
      c.truncate(33);
    }
    c.write(r, 10_000 + i);
    expected += line(r, 'pev.eumd-interval', 1, 10_000 + i, 5);
  }
  const part = c.result('pev.eumd-interval', 1, 5);
  t.equal(part.rows, 70);
  t.equal(columnsAsTsv([part]), expected, '70 rows exact after growing from 16 (int64 energies above 2^32)');
  t.end();
});

void t.test('an empty topic name (a container file named .avro) joins as empty strings', (t) => {
  const c = new IntervalColumns(2);
  c.write(base, 0);
  c.write({ ...base, seq: 8 }, 1);
  t.equal(columnsAsTsv([c.result('', 0, 9)]), line(base, '', 0, 0, 9) + line({ ...base, seq: 8 }, '', 0, 1, 9));
  t.end();
});

void t.test('an empty part and a part truncated to nothing join to no rows', (t) => {
  const a = new IntervalColumns(0);
  a.write(base, 1);
  a.truncate(0);
  const part = a.result('x', 0, 0);
  t.equal(part.rows, 0);
  t.equal(columnsAsTsv([part, new IntervalColumns(4).result('y', 1, 1)]), '');
  t.same(arrowColumns([part]).map((c) => c.length), ARROW_INSERT_COLUMNS.map(() => 0));
  t.end();
});
