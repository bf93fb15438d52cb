import t from 'tap';
import { measure, modalLength } from '../../reconcile/measures.js';
import { clean, drop, edit, START } from './session.js';

const sum = (xs: { wh: number }[]): number => xs.reduce((a, p) => a + p.wh, 0);

void t.test('a clean session: register first equals the interval sum, nothing missing', (t) => {
  const m = measure(clean({ n: 30, wh: 100 }));
  t.match(m, {
    intervalS: 60, seen: 30, expected: 30, missing: 0, conflicts: 0, negatives: 0, wrongLength: 0, overlaps: 0, timeJumps: 0,
    registerAvailable: true, resets: 0, eumdWh: 3000, intervalSumWh: 3000, runRegisterWh: 2900, runIntervalWh: 2900,
    startMs: START, endMs: START + 30 * 60_000,
  });
  t.equal(m.pieces.length, 30);
  t.equal(sum(m.pieces), 3000);
  t.end();
});

void t.test('a gap: the register counts the missing energy, the interval sum cannot', (t) => {
  const f = drop(clean({ n: 30, wh: 100 }), 10, 11, 12);
  const m = measure(f);
  t.match(m, { seen: 27, missing: 3, expected: 30, eumdWh: 3000, intervalSumWh: 2700, runRegisterWh: 2500, runIntervalWh: 2500 });
  t.same(m.gapRanges, [[START + 10 * 60_000, START + 13 * 60_000]]);
  // The interval after the gap holds the gap's energy spread over [end of interval 9, end of interval 13).
  const after = m.pieces.find((p) => p.endMs === START + 14 * 60_000)!;
  t.same(after, { startMs: START + 10 * 60_000, endMs: START + 14 * 60_000, wh: 400 });
  t.equal(sum(m.pieces), 3000);
  t.end();
});

void t.test('missing by time when a seq skip spans more slots than seqs; missing first seqs; the tail after Progress', (t) => {
  let f = drop(clean({ n: 20, wh: 50 }), 5);
  f = edit(f, 5, { startMs: START + 8 * 60_000 }); // seq 6 now starts 3 slots after seq 4 ended
  t.equal(measure(f).missing, 3, 'the larger of 1 seq and 3 slots');
  const head = drop(clean({ n: 20, wh: 50 }), 0, 1);
  t.match(measure(head), { missing: 2, expected: 20, seen: 18 });
  const tail = { ...clean({ n: 20, wh: 50 }), progress: { runningWh: 1100, intervals: 22 } };
  t.match(measure(tail), { missing: 2, expected: 22 });
  const none = { ...clean({ n: 20 }), intervals: [] };
  t.match(measure(none), { seen: 0, missing: 20, expected: 20, eumdWh: 0 }, 'no interval: everything the Progress count names is missing');
  t.end();
});

void t.test('a register reset splits the session into segments; no negative energy', (t) => {
  const f = clean({ n: 10, wh: 100 });
  // From interval 6 on the register restarts at 0: readings 100, 200, 300, 400.
  for (let k = 6; k < 10; k++) f.intervals[k]!.registerWh = (k - 5) * 100;
  const m = measure(f);
  t.match(m, { resets: 1, eumdWh: 1000, intervalSumWh: 1000, runRegisterWh: 800, runIntervalWh: 800 });
  t.equal(sum(m.pieces), 1000);
  t.end();
});

void t.test('overlaps, time jumps and lengths', (t) => {
  let f = clean({ n: 10 });
  f = edit(f, 4, { startMs: START + 3 * 60_000 }); // seq 4 starts where seq 3 started
  const m = measure(f);
  t.match(m, { overlaps: 1, maxOverlapS: 60, timeJumps: 1, maxJumpS: 60, missing: 0 });
  const g = edit(clean({ n: 10 }), 9, { lenS: 30 });
  t.match(measure(g), { wrongLength: 1, intervalS: 60 });
  t.equal(modalLength([]), 0);
  t.equal(modalLength(clean({ n: 2, lenS: 30 }).intervals.concat(clean({ n: 2, lenS: 15 }).intervals)), 15, 'a tie goes to the shorter');
  t.end();
});

void t.test('no register readings: the interval sum is the EUMD energy', (t) => {
  const f = clean({ n: 5, wh: 70 });
  for (const x of f.intervals) x.registerWh = 0;
  const m = measure(f);
  t.match(m, { registerAvailable: false, eumdWh: 350, intervalSumWh: 350, resets: 0 });
  t.equal(sum(m.pieces), 350);
  t.end();
});

void t.test('conflicts and negatives are counted', (t) => {
  let f = edit(clean({ n: 5 }), 2, { copies: 2, conflictDeltaWh: 7 });
  f = edit(f, 3, { energyWh: -4 });
  t.match(measure(f), { conflicts: 1, conflictMaxDeltaWh: 7, negatives: 1, minEnergyWh: -4 });
  t.end();
});
