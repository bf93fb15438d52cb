import t from 'tap';
import { latencyStats, percentile } from '../../../bench/harness/latency.js';
import type { ProduceLog } from '../../../bench/harness/kafka.js';

function log(parts: Record<number, { base: number; times: number[]; records?: number[] }>): ProduceLog {
  const byPartition: ProduceLog['byPartition'] = new Map();
  let records = 0;
  for (const [p, v] of Object.entries(parts)) {
    const rec = v.records ?? v.times.map(() => 1);
    records += rec.reduce((a, b) => a + b, 0);
    byPartition.set(Number(p), { base: v.base, times: v.times, records: rec });
  }
  return { byPartition, records, messages: 0, seconds: 1, firstMs: 0, lastMs: 0 };
}

void t.test('percentile is nearest-rank', (t) => {
  const v = Float64Array.from([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  t.equal(percentile(v, 0.5), 50);
  t.equal(percentile(v, 0.99), 100);
  t.equal(percentile(v, 0.1), 10);
  t.equal(percentile(new Float64Array(0), 0.5), 0);
  t.end();
});

void t.test('each offset takes the first poll that saw it; merged parts do not move it later', (t) => {
  const s = latencyStats(
    log({ 0: { base: 100, times: [1000, 1010, 1020, 1030] }, 1: { base: 0, times: [1005, 1015] } }),
    [
      // a merged part seen later covers offsets already seen: the earlier time stays
      { t: 1500, partition: 0, ranges: [[100, 103]] },
      { t: 1100, partition: 0, ranges: [[100, 101]] },
      { t: 1200, partition: 0, ranges: [[102, 103]] },
      { t: 1105, partition: 1, ranges: [[0, 1]] },
      // offsets of another run's producer (below base) are ignored
      { t: 1000, partition: 1, ranges: [[-5, -1]] },
    ],
  );
  t.equal(s.records, 6);
  t.equal(s.unobserved, 0);
  // latencies: p0 100, 90, 180, 170; p1 100, 90 -> sorted 90 90 100 100 170 180
  t.equal(s.p50Ms, 100);
  t.equal(s.p99Ms, 180);
  t.equal(s.maxMs, 180);
  t.end();
});

void t.test('multi-record messages weigh by records; unseen records are counted, not dropped', (t) => {
  const s = latencyStats(log({ 0: { base: 0, times: [0, 10, 20], records: [16, 16, 16] } }), [{ t: 500, partition: 0, ranges: [[0, 1]] }]);
  t.equal(s.records, 32);
  t.equal(s.unobserved, 16);
  // 16 records at 500 ms and 16 at 490 ms: the 16th of 32 is the median
  t.equal(s.p50Ms, 490);
  t.equal(s.maxMs, 500);
  t.end();
});
