/**
 * What a session's facts say once, before any rule looks at them: the EUMD energy (register
 * first), the interval sum, missing intervals, time disagreements, and the energy timeline the
 * time-of-use split works on. Pure and configuration-free; rules compare these with thresholds.
 *
 * The EUMD energy, register first. `register_wh` is the meter's cumulative reading at the end of
 * an interval, so over a run of intervals the energy is last reading minus the reading before the
 * first one (first reading minus its own interval's energy: no earlier reading is known). A
 * reading lower than the one before it is a register reset (meter swap, rollover, firmware): the
 * session splits into segments there, each counted as its own last-minus-first, so a reset never
 * produces negative or lost energy beyond the interval it happened in. The register counts
 * energy in intervals that never arrived (a gap), which the interval sum cannot: that is why it
 * comes first, and the interval sum is the cross-check (the sum check) over contiguous runs only.
 *
 * The energy timeline (`pieces`) sums exactly to the EUMD energy: the first interval of a register
 * segment is its own piece; each later interval holds its register delta from the interval
 * before, over its own time, or over [end of the interval before, its end) when seqs were skipped,
 * so energy measured across a gap is spread over the gap's time rather than piled on one interval.
 * A meter without register readings (all 0) gives the intervals themselves.
 *
 * Missing intervals no register reading spans are interpolated (estimate.ts) into a separate
 * timeline, `interpolatedPieces`, which billing adds only when configured to.
 */
import { between, flat, slots } from './estimate.js';
import type { IntervalFact, Piece, SessionFacts, SessionMeasures } from './types.js';

/** The most common interval length, the shortest on a tie; 0 for none. */
export function modalLength(intervals: readonly IntervalFact[]): number {
  if (intervals.length === 0) return 0;
  const counts = new Map<number, number>();
  for (const iv of intervals) counts.set(iv.lenS, (counts.get(iv.lenS) ?? 0) + 1);
  let best = 0;
  let bestCount = -1;
  for (const [len, c] of counts) {
    if (c > bestCount || (c === bestCount && len < best)) {
      best = len;
      bestCount = c;
    }
  }
  return best;
}

export function measure(f: SessionFacts): SessionMeasures {
  const iv = f.intervals;
  const n = iv.length;
  const L = modalLength(iv);
  const Lms = L * 1000;

  let startMs = Infinity;
  let endMs = -Infinity;
  let intervalSumWh = 0;
  let conflicts = 0;
  let conflictMaxDeltaWh = 0;
  let negatives = 0;
  let minEnergyWh = n > 0 ? Infinity : 0;
  let wrongLength = 0;
  let registerAvailable = false;
  for (let k = 0; k < n; k++) {
    const x = iv[k]!;
    const end = x.startMs + x.lenS * 1000;
    if (x.startMs < startMs) startMs = x.startMs;
    if (end > endMs) endMs = end;
    intervalSumWh += x.energyWh;
    if (x.copies > 1) {
      conflicts++;
      if (x.conflictDeltaWh > conflictMaxDeltaWh) conflictMaxDeltaWh = x.conflictDeltaWh;
    }
    if (x.energyWh < 0) negatives++;
    if (x.energyWh < minEnergyWh) minEnergyWh = x.energyWh;
    if (x.lenS !== L) wrongLength++;
    if (x.registerWh !== 0) registerAvailable = true;
  }
  if (n === 0) {
    startMs = f.end?.startMs ?? f.start?.plugInMs ?? f.firstEventMs;
    endMs = f.end?.endMs ?? f.lastEventMs;
    if (endMs < startMs) endMs = startMs;
  }

  // Missing intervals: seqs before the first, skips between, and the tail the last Progress
  // count (or the last dead-lettered seq: a refused interval is a missing one) says existed. A
  // skip counts the larger of the seqs and the interval slots its time spans. Consecutive seqs
  // with time between them are not missing data but wrong timestamps (CLOCK): an EUMD reports
  // every interval of a session, zero-energy ones included.
  const gapRanges: [number, number][] = [];
  let missing = 0;
  let overlaps = 0;
  let maxOverlapS = 0;
  let timeJumps = 0;
  let maxJumpS = 0;
  let registerGapWh = 0;
  let interpolated = 0;
  let interpolatedWh = 0;
  const interpolatedPieces: Piece[] = [];
  const estimate = (energies: number[], fromMs: number): void => {
    interpolated += energies.length;
    for (const p of slots(energies, fromMs, Lms)) {
      interpolatedWh += p.wh;
      interpolatedPieces.push(p);
    }
  };
  if (n > 0) {
    const first = iv[0]!;
    if (first.seq > 0) {
      missing += first.seq;
      gapRanges.push([first.startMs - first.seq * Lms, first.startMs]);
      estimate(flat(first.energyWh, first.seq), first.startMs - first.seq * Lms);
    }
    for (let k = 1; k < n; k++) {
      const a = iv[k - 1]!;
      const b = iv[k]!;
      const aEnd = a.startMs + a.lenS * 1000;
      const skipped = b.seq - a.seq - 1;
      const gapMs = b.startMs - aEnd;
      if (gapMs < 0) {
        overlaps++;
        maxOverlapS = Math.max(maxOverlapS, -gapMs / 1000);
      }
      if (skipped > 0) {
        const spanned = Lms > 0 && gapMs > 0 ? Math.round(gapMs / Lms) : 0;
        const k = Math.max(skipped, spanned);
        missing += k;
        gapRanges.push([aEnd, Math.max(aEnd, b.startMs)]);
        // Readings on both sides, no reset between: the register measured the gap.
        if (a.registerWh !== 0 && b.registerWh >= a.registerWh) registerGapWh += Math.max(0, b.registerWh - a.registerWh - b.energyWh);
        else estimate(between(a.energyWh, b.energyWh, k), aEnd);
      } else if (gapMs > 0) {
        timeJumps++;
        maxJumpS = Math.max(maxJumpS, gapMs / 1000);
      }
    }
    const last = iv[n - 1]!;
    const tail = Math.max(f.progress?.intervals ?? 0, lastDeadSeq(f) + 1) - (last.seq + 1);
    if (tail > 0) {
      missing += tail;
      const lastEnd = last.startMs + last.lenS * 1000;
      gapRanges.push([lastEnd, lastEnd + tail * Lms]);
      estimate(flat(last.energyWh, tail), lastEnd);
    }
  } else {
    // No interval at all: nothing to bill from, however the session ended.
    missing = Math.max(1, f.progress?.intervals ?? 0, lastDeadSeq(f) + 1);
  }

  // Register segments, the sum check over contiguous runs, and the timeline.
  let resets = 0;
  let eumdWh = 0;
  let runRegisterWh = 0;
  let runIntervalWh = 0;
  const pieces: Piece[] = [];
  if (!registerAvailable) {
    eumdWh = intervalSumWh;
    for (const x of iv) pieces.push({ startMs: x.startMs, endMs: x.startMs + x.lenS * 1000, wh: x.energyWh });
  } else if (n > 0) {
    const first = iv[0]!;
    let segStart = first.registerWh - first.energyWh;
    pieces.push({ startMs: first.startMs, endMs: first.startMs + first.lenS * 1000, wh: first.energyWh });
    for (let k = 1; k < n; k++) {
      const a = iv[k - 1]!;
      const b = iv[k]!;
      const bEnd = b.startMs + b.lenS * 1000;
      if (b.registerWh < a.registerWh) {
        resets++;
        eumdWh += a.registerWh - segStart;
        segStart = b.registerWh - b.energyWh;
        pieces.push({ startMs: b.startMs, endMs: bEnd, wh: b.energyWh });
        continue;
      }
      const delta = b.registerWh - a.registerWh;
      if (b.seq === a.seq + 1) {
        runRegisterWh += delta;
        runIntervalWh += b.energyWh;
      }
      const aEnd = a.startMs + a.lenS * 1000;
      const from = b.seq > a.seq + 1 && aEnd < b.startMs && aEnd < bEnd ? aEnd : b.startMs;
      pieces.push({ startMs: from, endMs: bEnd, wh: delta });
    }
    eumdWh += iv[n - 1]!.registerWh - segStart;
  }

  const seen = n;
  return {
    intervalS: L,
    startMs,
    endMs,
    seen,
    expected: seen + missing,
    missing,
    gapRanges,
    conflicts,
    conflictMaxDeltaWh,
    negatives,
    minEnergyWh,
    wrongLength,
    overlaps,
    maxOverlapS,
    timeJumps,
    maxJumpS,
    registerAvailable,
    resets,
    eumdWh,
    intervalSumWh,
    runRegisterWh,
    runIntervalWh,
    pieces,
    registerGapWh,
    interpolated,
    interpolatedWh,
    interpolatedPieces,
  };
}

/** The highest seq among the session's dead-lettered intervals; -1 for none. */
function lastDeadSeq(f: SessionFacts): number {
  const d = f.deadIntervalSeqs;
  return d.length > 0 ? d[d.length - 1]! : -1;
}
