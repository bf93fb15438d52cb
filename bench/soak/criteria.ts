/**
 * When a soak passes: pure functions of its samples and end state, nothing measured here.
 *
 *   rss-trend    the ingest process's RSS has no upward trend: the least-squares slope of RSS
 *                against time over the second half of the load phase (the first half is warm-up:
 *                caches, pools and the heap grow to their working size) is at most
 *                `rssMiBPerHour` (default 128 MiB per hour: a leak that fills 1.5 GiB within a
 *                working day fails; the sawtooth of a heap that collects does not)
 *   p99-trend    the same for the per-sample produce-to-queryable p99, at most `p99MsPerHour`
 *                (default 1,000 ms per hour: +250 ms over a 15-minute second half; a pipeline
 *                falling behind gains seconds)
 *   lag-zero     after the producer stops, the group's committed offsets reach the high watermarks
 *                (consumer lag 0) and the pipeline wrote a row per record produced
 *   truth        the stored totals equal the simulator's truth (bench/sim/truth.ts `checkTruth`):
 *                per session energy (Wh) and intervals, and per minute where checked
 *
 * A trend needs at least `minTrendSamples` samples in the second half; with fewer it fails as "too
 * short to judge", never passes by default. The p99 target of issue 17 (under 2 s at half the
 * maximum load) is reported beside the criteria as a target, not a soak criterion.
 */

export interface SoakBounds {
  rssMiBPerHour: number;
  p99MsPerHour: number;
  minTrendSamples: number;
  /** The latency target reported beside the criteria (issue 17: 2,000 ms). */
  p99TargetMs: number;
}

export const DEFAULT_BOUNDS: SoakBounds = { rssMiBPerHour: 128, p99MsPerHour: 1_000, minTrendSamples: 5, p99TargetMs: 2_000 };

/** What the criteria read of one sample. */
export interface TrendSample {
  /** Seconds since the load started. */
  t: number;
  phase: 'load' | 'drain';
  rssBytes: number;
  /** p99 of the records that became visible during the sample's window; null when none did. */
  p99Ms: number | null;
}

export interface Line {
  /** Change of y per unit of x. */
  slope: number;
  intercept: number;
  n: number;
}

/** Ordinary least squares of y on x; undefined for fewer than two points or one distinct x. */
export function leastSquares(points: readonly (readonly [number, number])[]): Line | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) * (x - mx);
    sxy += (x - mx) * (y - my);
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, n };
}

export interface Trend {
  /** Per hour: MiB for RSS, ms for p99. */
  slopePerHour: number | null;
  bound: number;
  samples: number;
  /** The fitted line over the second half, in the chart's units (x minutes; y MiB or ms). */
  line: { fromMin: number; toMin: number; fromY: number; toY: number } | null;
}

/**
 * The trend of `value` over the second half of the load phase: samples with t at or after half
 * the load phase's last sample time. x in hours, so the slope is per hour.
 */
export function secondHalfTrend(samples: readonly TrendSample[], value: (s: TrendSample) => number | null, bound: number): Trend {
  const load = samples.filter((s) => s.phase === 'load');
  const end = load.length > 0 ? load[load.length - 1]!.t : 0;
  const points: [number, number][] = [];
  for (const s of load) {
    if (s.t < end / 2) continue;
    const v = value(s);
    if (v !== null && Number.isFinite(v)) points.push([s.t / 3600, v]);
  }
  const fit = leastSquares(points);
  if (!fit) return { slopePerHour: null, bound, samples: points.length, line: null };
  const from = points[0]![0];
  const to = points[points.length - 1]![0];
  return {
    slopePerHour: fit.slope,
    bound,
    samples: points.length,
    line: { fromMin: from * 60, toMin: to * 60, fromY: fit.intercept + fit.slope * from, toY: fit.intercept + fit.slope * to },
  };
}

export interface Criterion {
  name: 'rss-trend' | 'p99-trend' | 'lag-zero' | 'truth';
  ok: boolean;
  detail: string;
}

export interface SoakEnd {
  /** Consumer lag in messages after the drain (committed offsets against high watermarks). */
  finalLag: number;
  /** Records the producer had acknowledged, rows the pipeline reported written to interval_raw. */
  producedRecords: number;
  rowsWritten: number;
  /** The truth check's verdict and its counts. */
  truth: { status: 'pass' | 'fail' | 'unverified'; expectedRecords: number; expectedWh: number; actualRecords: number; actualWh: number; error?: string };
}

export interface SoakVerdict {
  passed: boolean;
  criteria: Criterion[];
  rss: Trend;
  p99: Trend;
}

const MIB = 1024 * 1024;

function trendCriterion(name: 'rss-trend' | 'p99-trend', t: Trend, unit: string, min: number): Criterion {
  if (t.slopePerHour === null || t.samples < min) {
    return { name, ok: false, detail: `too short to judge: ${t.samples} samples in the second half (at least ${min})` };
  }
  const ok = t.slopePerHour <= t.bound;
  return { name, ok, detail: `${t.slopePerHour >= 0 ? '+' : ''}${t.slopePerHour.toFixed(1)} ${unit} per hour over the second half (${t.samples} samples; bound +${t.bound} ${unit} per hour)` };
}

export function evaluateSoak(samples: readonly TrendSample[], end: SoakEnd, bounds: SoakBounds = DEFAULT_BOUNDS): SoakVerdict {
  const rss = secondHalfTrend(samples, (s) => s.rssBytes / MIB, bounds.rssMiBPerHour);
  const p99 = secondHalfTrend(samples, (s) => s.p99Ms, bounds.p99MsPerHour);
  const criteria: Criterion[] = [trendCriterion('rss-trend', rss, 'MiB', bounds.minTrendSamples), trendCriterion('p99-trend', p99, 'ms', bounds.minTrendSamples)];
  const drained = end.finalLag === 0 && end.rowsWritten === end.producedRecords;
  criteria.push({
    name: 'lag-zero',
    ok: drained,
    detail: `consumer lag ${end.finalLag} messages after the drain; ${end.rowsWritten} rows written for ${end.producedRecords} records produced`,
  });
  const t = end.truth;
  const totalsEqual = t.status === 'pass' && t.expectedRecords === end.producedRecords;
  criteria.push({
    name: 'truth',
    ok: totalsEqual,
    detail:
      `${t.status}: store ${t.actualRecords} intervals / ${t.actualWh} Wh, truth ${t.expectedRecords} / ${t.expectedWh} Wh` +
      (t.expectedRecords !== end.producedRecords ? `; the truth covers ${t.expectedRecords} records but ${end.producedRecords} were produced` : '') +
      (t.error ? ` (${t.error})` : ''),
  });
  return { passed: criteria.every((c) => c.ok), criteria, rss, p99 };
}
