/**
 * What the network, the ESCI or the EUMD's clock do to the intervals on their way (gap, resend,
 * clock skew...): which are delivered, which count, and with what start and energy.
 */
import type { Rng } from '../random.js';
import { skewBeforeStartAllowed } from './plan.js';
import type { Metered } from './meter.js';
import type { ChargePlan, SessionContext, SessionSpec } from './types.js';

// Fault variants (Fleet hands them out with the kind).
export const GAP_SMALL = 0;
export const GAP_LARGE = 1;

export interface Delivered {
  /** Interval starts and energies as delivered. */
  outStart: Float64Array;
  outEnergy: Float64Array;
  /** 1 when the interval is delivered at all; 1 when it is delivered and passes validation. */
  delivered: Uint8Array;
  counted: Uint8Array;
  /** Last seq delivered (interrupted), else n - 1. */
  cut: number;
  conflictSeq: number;
  conflictWh: number;
  resendSeqs: number[];
  oooWindow: number;
}

/** What the network, the ESCI or the EUMD's clock do to the intervals on their way. */
export function deliveryFaults(ctx: SessionContext, spec: SessionSpec, plan: ChargePlan, m: Metered, fr: Rng, detail: Record<string, unknown>): Delivered {
  const n = plan.n;
  const I = ctx.intervalMs;
  const sc = ctx.scratch;
  const { start, energy } = m;
  const outStart = sc.f64('outStart', n);
  outStart.set(start);
  const outEnergy = sc.f64('outEnergy', n);
  outEnergy.set(energy);
  const delivered = sc.u8('delivered', n).fill(1);
  const counted = sc.u8('counted', n).fill(1);
  const d: Delivered = { outStart, outEnergy, delivered, counted, cut: n - 1, conflictSeq: -1, conflictWh: 0, resendSeqs: [], oooWindow: 0 };
  switch (spec.fault) {
    case 'gap': {
      // One run of lost intervals, never the first or the last, so the register span still
      // gives the true energy; small gaps stay under the QUALITY_GATE share, large ones exceed it.
      const missing = spec.variant === GAP_SMALL
        ? Math.max(1, Math.floor(n * fr.range(0.02, 0.08)))
        : Math.min(n - 2, Math.ceil(n * fr.range(0.15, 0.35)));
      const g0 = fr.int(1, n - 1 - missing);
      for (let k = g0; k < g0 + missing; k++) delivered[k] = counted[k] = 0;
      Object.assign(detail, { first_missing_seq: g0, missing, missing_share: missing / n, quality_gate: spec.variant === GAP_LARGE });
      break;
    }
    case 'interrupted': {
      // Cut right after a vehicle report, so the vehicle's last total and the intervals agree.
      const candidates: number[] = [];
      for (let k = ctx.vehicleEvery - 1; k <= n - 2; k += ctx.vehicleEvery) if (k >= 1) candidates.push(k);
      d.cut = fr.choice(candidates);
      for (let k = d.cut + 1; k < n; k++) delivered[k] = counted[k] = 0;
      Object.assign(detail, { last_seq: d.cut });
      break;
    }
    case 'clock_skew': {
      // Either the first intervals carry times before the plug-in (only where that cannot look
      // like on-peak charging or move the span by more than a few minutes), or a few intervals
      // repeat the previous one's start. Starts stay on interval boundaries.
      const beforeStart = skewBeforeStartAllowed(ctx, spec.premise, plan) && fr.bernoulli(0.5);
      const seqs: number[] = [];
      if (beforeStart) {
        const count = Math.min(fr.int(1, 2), n - 2);
        const shift = fr.int(count, 3);
        const target = Math.floor(spec.plugIn / I) * I - shift * I;
        const by = start[0]! - target;
        for (let k = 0; k < count; k++) {
          outStart[k] = start[k]! - by;
          seqs.push(k);
        }
      } else {
        const want = fr.int(1, 3);
        const pool = fr.shuffle(Array.from({ length: n - 2 }, (_, k) => k + 1));
        for (const k of pool) {
          if (seqs.length >= want) break;
          if (seqs.includes(k - 1) || seqs.includes(k + 1)) continue;
          seqs.push(k);
        }
        seqs.sort((a, b) => a - b);
        for (const k of seqs) outStart[k] = start[k - 1]!;
      }
      Object.assign(detail, { variant: beforeStart ? 'before_start' : 'overlap', seqs });
      break;
    }
    case 'future_time': {
      const k = fr.int(1, n - 2);
      outStart[k] = start[k]! + ctx.futureShiftMs;
      counted[k] = 0;
      Object.assign(detail, { seq: k, interval_start: outStart[k] });
      break;
    }
    case 'negative_interval': {
      const k = fr.int(1, n - 2);
      outEnergy[k] = -(energy[k]! > 0 ? energy[k]! : fr.int(1, 50));
      counted[k] = 0;
      Object.assign(detail, { seq: k, delivered_wh: outEnergy[k], true_wh: energy[k] });
      break;
    }
    case 'conflict': {
      d.conflictSeq = fr.int(1, n - 2);
      const e = energy[d.conflictSeq]!;
      // Smaller than the true value (never negative, never a spike) unless there is no room.
      d.conflictWh = e >= 2 ? e - 1 - fr.int(0, Math.min(e - 2, 10)) : e + 1;
      Object.assign(detail, { seq: d.conflictSeq, first_wh: e, conflicting_wh: d.conflictWh });
      break;
    }
    case 'resend': {
      const copies = Math.max(1, Math.round(n * fr.range(0.01, 0.05)));
      d.resendSeqs = fr.shuffle(Array.from({ length: n }, (_, k) => k)).slice(0, copies).sort((a, b) => a - b);
      Object.assign(detail, { seqs: d.resendSeqs });
      break;
    }
    case 'out_of_order':
      d.oooWindow = fr.int(3, Math.min(8, n));
      Object.assign(detail, { window: d.oooWindow });
      break;
    default:
      break;
  }
  return d;
}
