/**
 * Produce-to-queryable latency over a long run, with nothing kept per record once it is visible.
 *
 * The definition is the harness's latency phase (bench/harness/latency.ts): per record, the start
 * of the first ClickHouse poll whose newly visible interval_raw parts hold its (partition, offset),
 * minus the moment the producer handed its message to librdkafka. The harness keeps every produce
 * time for a 20 s run; a 30-minute soak cannot, so here:
 *
 *   delivered(p, offset, t, records)  a delivery report: the message waits, sorted by offset, in
 *                                     its partition's pending list
 *   observe(observation)              a poll saw offset ranges become visible at time t; buffered
 *   settle()                          matches the buffered observations (earliest first) against
 *                                     the pending messages: each match is a latency, added to the
 *                                     current window's histogram and the run's; matched messages
 *                                     leave the list
 *
 * Matching may run late (every sample): the latency is the observation's own time minus the
 * produce time, not the time of matching. An observation may name offsets whose delivery report
 * has not arrived yet (the event loop was busy): the part above the highest offset delivered so
 * far is kept and matched again at the next settle. Offsets nobody produced here (the warm-up) and
 * offsets seen before (a part merged from seen ones) find nothing pending and are ignored.
 *
 * Latencies go into histograms of 1 ms buckets (percentiles exact to the millisecond, below).
 */
import type { VisibilityObservation } from '../harness/types.js';

/** Counts of whole milliseconds 0..maxMs-1, one overflow bucket above; nearest-rank percentiles. */
export class MsHistogram {
  private readonly counts: Float64Array;
  private n = 0;
  private top = 0;

  constructor(readonly maxMs = 120_000) {
    this.counts = new Float64Array(maxMs + 1);
  }

  /** Adds `weight` records of latency `ms` (fractional ms fall into their whole-ms bucket). */
  add(ms: number, weight = 1): void {
    const v = Math.max(0, ms);
    this.counts[Math.min(this.maxMs, Math.floor(v))]! += weight;
    this.n += weight;
    if (v > this.top) this.top = v;
  }

  get count(): number {
    return this.n;
  }

  /** Largest latency added (exact, not bucketed). */
  get max(): number {
    return this.top;
  }

  /**
   * Nearest-rank percentile, as bench/harness/latency.ts computes it over sorted values: the
   * value at rank ceil(q * n). Returned as the bucket's whole millisecond (the overflow bucket
   * answers with the exact maximum). Undefined when empty.
   */
  percentile(q: number): number | undefined {
    if (this.n === 0) return undefined;
    const rank = Math.min(this.n, Math.max(1, Math.ceil(q * this.n)));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return i === this.maxMs ? this.top : i;
    }
    return this.top;
  }

  merge(other: MsHistogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i] ?? 0;
    this.n += other.n;
    if (other.top > this.top) this.top = other.top;
  }

  reset(): void {
    this.counts.fill(0);
    this.n = 0;
    this.top = 0;
  }
}

export interface LatencyWindow {
  /** Records that became visible (and were matched) since the previous window. */
  records: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  maxMs: number | undefined;
}

interface Pending {
  offsets: number[];
  times: number[];
  records: number[];
  /** Highest offset delivered so far in the partition. */
  maxDelivered: number;
}

/** First index in sorted `a` whose value is >= x. */
function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class VisibilityTracker {
  private readonly partitions = new Map<number, Pending>();
  private buffered: VisibilityObservation[] = [];
  private readonly window: MsHistogram;
  readonly total: MsHistogram;

  constructor(maxMs = 120_000) {
    this.window = new MsHistogram(maxMs);
    this.total = new MsHistogram(maxMs);
  }

  delivered(partition: number, offset: number, producedMs: number, records: number): void {
    let p = this.partitions.get(partition);
    if (!p) this.partitions.set(partition, (p = { offsets: [], times: [], records: [], maxDelivered: -1 }));
    // Delivery reports of a partition come in offset order; insert in place if one does not.
    const i = p.offsets.length === 0 || p.offsets[p.offsets.length - 1]! < offset ? p.offsets.length : lowerBound(p.offsets, offset);
    p.offsets.splice(i, 0, offset);
    p.times.splice(i, 0, producedMs);
    p.records.splice(i, 0, records);
    if (offset > p.maxDelivered) p.maxDelivered = offset;
  }

  observe(o: VisibilityObservation): void {
    this.buffered.push(o);
  }

  /** Matches what was observed; returns the records matched. */
  settle(): number {
    const obs = this.buffered.sort((a, b) => a.t - b.t);
    this.buffered = [];
    const matchedBefore = this.total.count;
    const done = new Map<number, Set<number>>();
    for (const o of obs) {
      const p = this.partitions.get(o.partition);
      const maxDelivered = p?.maxDelivered ?? -1;
      const later: [number, number][] = [];
      for (const [lo, hi] of o.ranges) {
        if (hi > maxDelivered) later.push([Math.max(lo, maxDelivered + 1), hi]);
        if (!p || lo > maxDelivered) continue;
        let matched = done.get(o.partition);
        if (!matched) done.set(o.partition, (matched = new Set()));
        for (let i = lowerBound(p.offsets, lo); i < p.offsets.length && p.offsets[i]! <= hi; i++) {
          if (matched.has(i)) continue;
          matched.add(i);
          const ms = o.t - p.times[i]!;
          this.window.add(ms, p.records[i]);
          this.total.add(ms, p.records[i]);
        }
      }
      if (later.length > 0) this.buffered.push({ t: o.t, partition: o.partition, ranges: later });
    }
    for (const [partition, matched] of done) {
      if (matched.size === 0) continue;
      const p = this.partitions.get(partition)!;
      const keep = (_: number, i: number) => !matched.has(i);
      p.offsets = p.offsets.filter(keep);
      p.times = p.times.filter(keep);
      p.records = p.records.filter(keep);
    }
    return this.total.count - matchedBefore;
  }

  /** Records delivered and not seen visible yet. */
  pendingRecords(): number {
    let n = 0;
    for (const p of this.partitions.values()) for (const r of p.records) n += r;
    return n;
  }

  /** Observations waiting for their delivery reports. */
  waitingObservations(): number {
    return this.buffered.length;
  }

  /** The window's figures since the previous call; starts the next window. */
  takeWindow(): LatencyWindow {
    const w = this.window;
    const out: LatencyWindow = { records: w.count, p50Ms: w.percentile(0.5), p99Ms: w.percentile(0.99), maxMs: w.count > 0 ? w.max : undefined };
    w.reset();
    return out;
  }
}
