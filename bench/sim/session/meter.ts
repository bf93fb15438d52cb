/**
 * Step 8: the EUMD's register and intervals along the power curve, with the meter's own faults
 * (spike, register reset).
 */
import type { Rng } from '../random.js';
import type { ChargePlan, SessionContext, SessionSpec } from './types.js';

export interface Metered {
  /** True interval starts, energies and registers (as measured; spike and reset included). */
  start: Float64Array;
  energy: Float64Array;
  register: Float64Array;
  /** Running sum of energy through each interval. */
  cum: Float64Array;
  total: number;
  registerAfter: number;
}

/** Step 8: the EUMD's intervals. Register = floor of the real meter reading at each interval end. */
export function meter(ctx: SessionContext, spec: SessionSpec, plan: ChargePlan, fr: Rng, detail: Record<string, unknown>): Metered {
  const n = plan.n;
  // Per-session arrays are views of buffers reused from session to session: only the flat plan
  // outlives a session's building.
  const sc = ctx.scratch;
  const start = sc.f64('start', n);
  const energy = sc.f64('energy', n);
  const register = sc.f64('register', n);
  const r0 = spec.registerBefore;
  meterIntervals(plan, ctx.intervalMs, r0, start, energy, register);
  let after = r0 + plan.energy;
  if (spec.fault === 'spike') {
    const j = fr.int(1, n - 2);
    const maxWh = (Math.max(plan.rateW, spec.premise.ratedW) * ctx.options.intervalS) / 3600;
    const extra = Math.ceil(maxWh * fr.range(3, 8));
    energy[j] = energy[j]! + extra;
    for (let k = j; k < n; k++) register[k] = register[k]! + extra;
    after += extra;
    Object.assign(detail, { seq: j, extra_wh: extra, max_interval_wh: maxWh });
  }
  if (spec.fault === 'register_reset') {
    const r = fr.int(2, n - 2);
    const base = register[r - 1]!;
    for (let k = r; k < n; k++) register[k] = register[k]! - base;
    after -= base;
    Object.assign(detail, { seq: r, register_before_wh: base });
  }
  const cum = sc.f64('cum', n);
  const total = prefixSums(energy, cum);
  return { start, energy, register, cum, total, registerAfter: after };
}

/**
 * The EUMD's intervals: start of each, and the integer register at its end (floor of the real
 * meter reading `r0 + energy so far`), the interval's energy being the register difference.
 */
function meterIntervals(plan: ChargePlan, I: number, r0: number, start: Float64Array, energy: Float64Array, register: Float64Array): void {
  let prev = Math.floor(r0);
  const n = start.length;
  for (let k = 0; k < n; k++) {
    const slot = plan.firstSlot + k;
    start[k] = slot * I;
    const reg = Math.floor(r0 + energyAt(plan, ((slot + 1) * I - plan.cs) / 1000));
    energy[k] = reg - prev;
    register[k] = reg;
    prev = reg;
  }
}

/** Energy (Wh, real) delivered `t` seconds after charging start: constant power, then a linear taper. */
function energyAt(plan: ChargePlan, t: number): number {
  if (t <= 0) return 0;
  if (t >= plan.total) return plan.energy;
  if (t <= plan.t1) return (plan.power * t) / 3600;
  const u = t - plan.t1;
  return plan.energy * plan.f + (plan.power * u - ((plan.power - plan.m * plan.power) * u * u) / (2 * plan.taper)) / 3600;
}

/** Running sums into `cum`; returns the total. */
function prefixSums(values: Float64Array, cum: Float64Array): number {
  let run = 0;
  for (let k = 0; k < values.length; k++) cum[k] = run += values[k]!;
  return run;
}
