import t from 'tap';
import { TsvCursor } from '../../reconcile/tsv-read.js';
import { tempStore } from '../helpers/services.js';

void t.test("TsvCursor reads back what ClickHouse writes: escapes, arrays, 64-bit IDs, signs", async (t) => {
  const store = await tempStore(t, { migrate: false });
  const strings = ['plain', 'tab\there', "quo'te", 'back\\slash', 'line\nfeed', 'cr\rnul\0', 'ünïcode ✓', '', '[not,an,array]', "['x']"];
  const ints = [0, 1, -1, 2_147_483_648, 65_000_000_000, -9_007_199_254_740_991, 9_007_199_254_740_991];
  const rs = await store.client.query({
    query: `SELECT arrayJoin({strings:Array(String)}) AS s, {strings:Array(String)} AS arr, {ints:Array(Int64)} AS n, toInt64(n[6]) AS one,
              [toString(toUInt64(18446744073709551615))] AS h, CAST([] AS Array(String)) AS es, CAST([] AS Array(Int64)) AS en
            ORDER BY s`,
    format: 'TabSeparated',
    query_params: { strings, ints },
  });
  const c = new TsvCursor(await rs.text());
  const seen: string[] = [];
  while (c.more) {
    seen.push(c.str());
    t.same(c.strs(), strings);
    t.same(c.ints(), ints);
    t.equal(c.int(), -9_007_199_254_740_991);
    t.same(c.strs(), ['18446744073709551615']);
    t.same(c.strs(), []);
    t.same(c.ints(), []);
  }
  // ClickHouse orders strings by their bytes.
  t.same(seen, [...strings].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
});

void t.test('TsvCursor refuses output of another shape, saying where', (t) => {
  t.throws(() => new TsvCursor('12x\n').int(), /expected a field separator/);
  t.throws(() => new TsvCursor('x\n').int(), /expected an integer/);
  t.throws(() => new TsvCursor('[1;2]\n').ints(), /expected , or \]/);
  t.throws(() => new TsvCursor("['a\n").strs(), /unterminated string/);
  t.throws(() => new TsvCursor('a').str(), /expected a field separator/);
  t.end();
});
