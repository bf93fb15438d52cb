/**
 * Produce-to-queryable latency, per record:
 *
 *   latency = (start of the first ClickHouse poll whose result contains the record's Kafka offset)
 *           - (the moment the producer handed the record's message to librdkafka, which is also
 *              the message's Kafka timestamp)
 *
 * "Contains" means a data part of interval_raw holds a row with that (src_partition, src_offset):
 * the record is in ClickHouse and every read view (interval_unique, session_minute) includes it,
 * so its minute's running sum is up to date. The poll interval is part of the figure (a reader
 * polling every 100 ms sees the data that late), as are the producer's linger (5 ms), the broker,
 * the consumer's fetch wait, decode, insert and the commit-order wait of the pipeline.
 */
import type { ProduceLog } from './kafka.js';
import type { VisibilityObservation } from './types.js';

export interface LatencyStats {
  records: number;
  unobserved: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function latencyStats(log: ProduceLog, observations: readonly VisibilityObservation[]): LatencyStats {
  const byT = [...observations].sort((a, b) => a.t - b.t);
  const values: number[] = [];
  let unobserved = 0;
  for (const [partition, p] of log.byPartition) {
    const seen = new Float64Array(p.times.length).fill(Number.NaN);
    for (const o of byT) {
      if (o.partition !== partition) continue;
      for (const [lo, hi] of o.ranges) {
        const from = Math.max(lo, p.base) - p.base;
        const to = Math.min(hi, p.base + p.times.length - 1) - p.base;
        for (let i = from; i <= to; i++) if (Number.isNaN(seen[i]!)) seen[i] = o.t;
      }
    }
    for (let i = 0; i < p.times.length; i++) {
      const produced = p.times[i]!;
      const records = p.records[i]!;
      if (Number.isNaN(produced)) continue;
      if (Number.isNaN(seen[i]!)) {
        unobserved += records;
        continue;
      }
      const ms = Math.max(0, seen[i]! - produced);
      for (let r = 0; r < records; r++) values.push(ms);
    }
  }
  const sorted = Float64Array.from(values).sort();
  return {
    records: values.length,
    unobserved,
    p50Ms: percentile(sorted, 0.5),
    p90Ms: percentile(sorted, 0.9),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.length > 0 ? sorted[sorted.length - 1]! : 0,
  };
}
