/**
 * Estimates for missing intervals (docs/reconcile.md, "Estimation"), integers only.
 *
 *   - Exact, from the register: a gap with readings on both sides and no reset between is
 *     measured by the register (the reading after minus the reading before, minus the interval
 *     after's own energy). Nothing is estimated; measures.ts counts it in `registerGapWh`.
 *   - Interpolated, where no reading spans the gap: between two intervals received, the missing
 *     ones lie on the straight line from the energy of the interval before to that of the interval
 *     after (`between`); before the first interval received or after the last, each missing one
 *     repeats its nearest neighbour's energy (`flat`). Negative neighbours count as 0.
 *
 * Each missing interval takes one slot of the session's interval length, starting where the gap
 * starts, so the estimate falls into the time-of-use periods of the time it fills.
 */
import type { BillLine, PricedBill } from './tou.js';
import type { Piece } from './types.js';

/**
 * k missing intervals between one of `before` Wh and one of `after` Wh: interval i (1..k) is
 * (before × (k+1−i) + after × i) / (k+1) Wh, floored; the Wh left to reach the total,
 * k × (before + after) / 2 rounded half up, go one each to the largest remainders, earlier first.
 */
export function between(before: number, after: number, k: number): number[] {
  if (k <= 0) return [];
  const a = Math.max(0, before);
  const b = Math.max(0, after);
  const D = k + 1;
  const out: number[] = [];
  const rem: { i: number; r: number }[] = [];
  let sum = 0;
  for (let i = 1; i <= k; i++) {
    const n = a * (D - i) + b * i;
    const q = Math.floor(n / D);
    out.push(q);
    rem.push({ i: i - 1, r: n - q * D });
    sum += q;
  }
  const total = Math.floor((k * (a + b) + 1) / 2);
  rem.sort((x, y) => y.r - x.r || x.i - y.i);
  for (let j = 0; j < total - sum; j++) out[rem[j]!.i]!++;
  return out;
}

/** k missing intervals next to one of `wh` Wh, before the first or after the last received. */
export function flat(wh: number, k: number): number[] {
  return k <= 0 ? [] : new Array<number>(k).fill(Math.max(0, wh));
}

/** Pieces for estimated intervals laid one slot of `slotMs` each from `fromMs`. */
export function slots(energies: readonly number[], fromMs: number, slotMs: number): Piece[] {
  const len = Math.max(1, slotMs);
  return energies.map((wh, j) => ({ startMs: fromMs + j * len, endMs: fromMs + (j + 1) * len, wh }));
}

/**
 * Marks the interpolated part of each period's energy on the bill: after the period's energy line,
 * a line of kind 'estimated' with the interpolated Wh in the billing period (`insideWh`, by tariff
 * period index), price and amount 0: it says how much of the energy line above it is an estimate
 * and adds nothing to the total.
 */
export function markEstimated(bill: PricedBill, periods: readonly string[], insideWh: readonly number[]): void {
  const out: BillLine[] = [];
  for (const l of bill.lines) {
    out.push(l);
    if (l.kind !== 'energy') continue;
    const i = periods.indexOf(l.period);
    const wh = i < 0 ? 0 : (insideWh[i] ?? 0);
    if (wh !== 0) out.push({ kind: 'estimated', period: l.period, wh, priceMicro: 0, amountMinor: 0 });
  }
  bill.lines = out;
}
