import t from 'tap';
import { MsHistogram, VisibilityTracker } from '../../../bench/soak/visibility.js';

t.test('histogram: nearest-rank percentiles to the whole ms, as the harness ranks sorted values', (t) => {
  const h = new MsHistogram(1_000);
  t.equal(h.percentile(0.99), undefined, 'empty: no percentile');
  for (let v = 1; v <= 100; v++) h.add(v + 0.4);
  t.equal(h.count, 100);
  t.equal(h.percentile(0.5), 50, 'rank 50 of 100');
  t.equal(h.percentile(0.99), 99);
  t.equal(h.percentile(1), 100);
  t.equal(h.max, 100.4, 'the maximum is exact');
  h.add(5_000, 2);
  t.equal(h.percentile(1), 5_000, 'the overflow bucket answers with the exact maximum');
  t.equal(h.count, 102);
  h.reset();
  t.equal(h.count, 0);
  t.end();
});

t.test('tracker: each record once, at the first observation that holds it; weights are records per message', (t) => {
  const v = new VisibilityTracker();
  // Partition 0, offsets 10..13 produced at 1000, 1010, 1020, 1030 ms; offset 12 carries 16 records.
  v.delivered(0, 10, 1_000, 1);
  v.delivered(0, 11, 1_010, 1);
  v.delivered(0, 12, 1_020, 16);
  v.delivered(0, 13, 1_030, 1);
  v.delivered(1, 0, 1_000, 1);
  // A later observation of the same offsets (a merged part) must not count them again, nor win.
  v.observe({ t: 1_900, partition: 0, ranges: [[0, 13]] });
  v.observe({ t: 1_500, partition: 0, ranges: [[10, 11]] });
  v.observe({ t: 1_600, partition: 0, ranges: [[12, 12]] });
  t.equal(v.settle(), 1 + 1 + 16 + 1, 'offsets 10..13 matched; offsets 0..9 (the warm-up, not ours) ignored');
  t.equal(v.pendingRecords(), 1, 'partition 1 offset 0 still waits');
  const w = v.takeWindow();
  // Latencies: 500 (1), 490 (1), 580 (16), 870 (1): sorted ranks 1..19 -> 490, 500, 580 x16, 870.
  t.same(w, { records: 19, p50Ms: 580, p99Ms: 870, maxMs: 870 });
  t.same(v.takeWindow(), { records: 0, p50Ms: undefined, p99Ms: undefined, maxMs: undefined }, 'the next window starts empty');
  t.equal(v.total.count, 19, 'the run total keeps them');
  t.end();
});

t.test('tracker: an observation ahead of its delivery report waits for it, keeping its own time', (t) => {
  const v = new VisibilityTracker();
  v.delivered(0, 0, 1_000, 1);
  v.observe({ t: 1_300, partition: 0, ranges: [[0, 2]] });
  t.equal(v.settle(), 1, 'offset 0 now; 1 and 2 not delivered yet');
  t.equal(v.waitingObservations(), 1);
  v.delivered(0, 1, 1_100, 1);
  v.delivered(0, 2, 1_200, 1);
  t.equal(v.settle(), 2, 'matched at the next settle');
  t.equal(v.waitingObservations(), 0);
  t.same(v.takeWindow(), { records: 3, p50Ms: 200, p99Ms: 300, maxMs: 300 }, 'latencies 300, 200, 100: the observation time, not the settle time');
  t.end();
});

t.test('tracker: a delivery report out of offset order is kept sorted', (t) => {
  const v = new VisibilityTracker();
  v.delivered(2, 5, 1_000, 1);
  v.delivered(2, 3, 1_000, 1);
  v.delivered(2, 4, 1_000, 1);
  v.observe({ t: 1_250, partition: 2, ranges: [[3, 4]] });
  t.equal(v.settle(), 2);
  t.equal(v.pendingRecords(), 1, 'offset 5 waits');
  t.end();
});
