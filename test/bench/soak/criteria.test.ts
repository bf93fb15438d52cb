import t from 'tap';
import { DEFAULT_BOUNDS, evaluateSoak, leastSquares, secondHalfTrend, type SoakEnd, type TrendSample } from '../../../bench/soak/criteria.js';

const MIB = 1024 * 1024;

/** Load samples every 60 s from 0 to `toS`, RSS from `rss(t)` MiB, p99 from `p99(t)`. */
function series(toS: number, rss: (t: number) => number, p99: (t: number) => number | null): TrendSample[] {
  const out: TrendSample[] = [];
  for (let s = 0; s <= toS; s += 60) out.push({ t: s, phase: 'load', rssBytes: rss(s) * MIB, p99Ms: p99(s) });
  return out;
}

const clean: SoakEnd = {
  finalLag: 0, producedRecords: 1000, rowsWritten: 1000,
  truth: { status: 'pass', expectedRecords: 1000, expectedWh: 81_234, actualRecords: 1000, actualWh: 81_234 },
};

t.test('least squares: exact lines, and nothing from fewer than two distinct x', (t) => {
  t.same(leastSquares([[0, 1], [1, 3], [2, 5]]), { slope: 2, intercept: 1, n: 3 });
  t.same(leastSquares([[0, 4], [2, 0], [4, -4]]), { slope: -2, intercept: 4, n: 3 });
  t.equal(leastSquares([[0, 0], [1, 1], [2, 0], [3, 1]])?.slope, 0.2, 'a sawtooth has a small slope');
  t.equal(leastSquares([[5, 1]]), undefined);
  t.equal(leastSquares([[5, 1], [5, 2]]), undefined);
  t.end();
});

t.test('the trend is over the second half of the load phase only, per hour', (t) => {
  // Warm-up growth in the first half (400 -> 700 MiB), flat from 5 min on; a drain sample far above.
  const samples = series(600, (s) => (s < 300 ? 400 + s : 700), () => 500);
  samples.push({ t: 630, phase: 'drain', rssBytes: 5_000 * MIB, p99Ms: 9_000 });
  const rss = secondHalfTrend(samples, (s) => s.rssBytes / MIB, 128);
  t.equal(rss.slopePerHour, 0);
  t.equal(rss.samples, 6, 't = 300, 360, ..., 600 s');
  t.same(rss.line, { fromMin: 5, toMin: 10, fromY: 700, toY: 700 });
  t.end();
});

t.test('RSS growth at the bound passes, above it fails; p99 likewise; gaps in p99 are skipped', (t) => {
  const at = (perMin: number) => series(600, (s) => 400 + (perMin * s) / 60, (s) => (s === 420 ? null : 500));
  const ok = evaluateSoak(at(2), clean, DEFAULT_BOUNDS);
  t.ok(Math.abs(ok.rss.slopePerHour! - 120) < 1e-9, `2 MiB a minute is 120 MiB an hour: ${ok.rss.slopePerHour}`);
  t.same(ok.criteria.find((c) => c.name === 'rss-trend'), { name: 'rss-trend', ok: true, detail: '+120.0 MiB per hour over the second half (6 samples; bound +128 MiB per hour)' });
  t.same(ok.criteria.find((c) => c.name === 'p99-trend'), { name: 'p99-trend', ok: true, detail: '+0.0 ms per hour over the second half (5 samples; bound +1000 ms per hour)' });
  t.equal(ok.passed, true);

  const leak = evaluateSoak(at(3), clean, DEFAULT_BOUNDS);
  t.same(leak.criteria.find((c) => c.name === 'rss-trend'), { name: 'rss-trend', ok: false, detail: '+180.0 MiB per hour over the second half (6 samples; bound +128 MiB per hour)' });
  t.equal(leak.passed, false);

  const slower = evaluateSoak(series(600, () => 400, (s) => 500 + s), clean, DEFAULT_BOUNDS);
  t.same(slower.criteria.find((c) => c.name === 'p99-trend'), { name: 'p99-trend', ok: false, detail: '+3600.0 ms per hour over the second half (6 samples; bound +1000 ms per hour)' });
  const shrinking = evaluateSoak(series(600, (s) => 900 - s, () => 500), clean, DEFAULT_BOUNDS);
  t.same(shrinking.criteria.find((c) => c.name === 'rss-trend'), { name: 'rss-trend', ok: true, detail: '-3600.0 MiB per hour over the second half (6 samples; bound +128 MiB per hour)' }, 'a falling RSS is no upward trend');
  t.end();
});

t.test('too few samples in the second half fails, never passes by default', (t) => {
  const v = evaluateSoak(series(360, () => 400, () => 500), clean, DEFAULT_BOUNDS);
  t.same(v.criteria.slice(0, 2), [
    { name: 'rss-trend', ok: false, detail: 'too short to judge: 4 samples in the second half (at least 5)' },
    { name: 'p99-trend', ok: false, detail: 'too short to judge: 4 samples in the second half (at least 5)' },
  ]);
  t.equal(v.passed, false);
  const none = evaluateSoak(series(600, () => 400, () => null), clean, DEFAULT_BOUNDS);
  t.same(none.criteria[1], { name: 'p99-trend', ok: false, detail: 'too short to judge: 0 samples in the second half (at least 5)' }, 'no record became visible: no p99, no pass');
  t.end();
});

t.test('lag must be back to zero and every record a row; totals must equal the truth for every record produced', (t) => {
  const flat = series(600, () => 400, () => 500);
  t.same(evaluateSoak(flat, clean).criteria.slice(2), [
    { name: 'lag-zero', ok: true, detail: 'consumer lag 0 messages after the drain; 1000 rows written for 1000 records produced' },
    { name: 'truth', ok: true, detail: 'pass: store 1000 intervals / 81234 Wh, truth 1000 / 81234 Wh' },
  ]);
  const lagging = evaluateSoak(flat, { ...clean, finalLag: 3, rowsWritten: 997 });
  t.same(lagging.criteria[2], { name: 'lag-zero', ok: false, detail: 'consumer lag 3 messages after the drain; 997 rows written for 1000 records produced' });
  t.equal(lagging.passed, false);
  const lost = evaluateSoak(flat, { ...clean, truth: { status: 'fail', expectedRecords: 1000, expectedWh: 81_234, actualRecords: 999, actualWh: 81_150 } });
  t.same(lost.criteria[3], { name: 'truth', ok: false, detail: 'fail: store 999 intervals / 81150 Wh, truth 1000 / 81234 Wh' });
  const partial = evaluateSoak(flat, { ...clean, producedRecords: 1200, rowsWritten: 1200 });
  t.same(partial.criteria[3], { name: 'truth', ok: false, detail: 'pass: store 1000 intervals / 81234 Wh, truth 1000 / 81234 Wh; the truth covers 1000 records but 1200 were produced' }, 'a truth that misses records is no pass');
  const blind = evaluateSoak(flat, { ...clean, truth: { ...clean.truth, status: 'unverified', error: 'store not readable: gone' } });
  t.same(blind.criteria[3], { name: 'truth', ok: false, detail: 'unverified: store 1000 intervals / 81234 Wh, truth 1000 / 81234 Wh (store not readable: gone)' });
  t.end();
});
