/**
 * The truth's counted intervals: their sum, count and energy per UTC minute, and the `minutes`
 * pairs built from those on first read.
 */
import type { Scratch } from './scratch.js';
import type { SessionTruth } from './types.js';

/**
 * Sum, count and per-minute energy of the counted intervals, minutes by their delivered start:
 * the pairs flattened (minute, Wh, minute, Wh...) in minute order, one allocation per session.
 */
export function countedIntervals(start: Float64Array, energy: Float64Array, counted: Uint8Array, withMinutes: boolean, scratch: Scratch): { sum: number; unique: number; minutes: Float64Array } {
  let sum = 0;
  let unique = 0;
  let pairs = 0;
  let lastMinute = -Infinity;
  let sorted = true;
  // At most one pair per interval; pairs are staged in scratch and copied once, exactly sized.
  const staged = scratch.f64('minutes', withMinutes ? 2 * start.length : 0);
  for (let k = 0; k < start.length; k++) {
    if (!counted[k]) continue;
    const e = energy[k]!;
    sum += e;
    unique++;
    if (!withMinutes) continue;
    const minute = Math.floor(start[k]! / 60_000) * 60;
    if (pairs > 0 && minute === lastMinute) {
      staged[2 * pairs - 1] = staged[2 * pairs - 1]! + e;
    } else {
      if (minute < lastMinute) sorted = false;
      staged[2 * pairs] = minute;
      staged[2 * pairs + 1] = e;
      pairs++;
      lastMinute = minute;
    }
  }
  if (sorted) return { sum, unique, minutes: staged.slice(0, 2 * pairs) };
  // Clock skew can repeat or reorder minutes: merge equal minutes, sort.
  const by = new Map<number, number>();
  for (let j = 0; j < pairs; j++) by.set(staged[2 * j]!, (by.get(staged[2 * j]!) ?? 0) + staged[2 * j + 1]!);
  const keys = [...by.keys()].sort((x, y) => x - y);
  const minutes = new Float64Array(keys.length * 2);
  keys.forEach((key, j) => {
    minutes[2 * j] = key;
    minutes[2 * j + 1] = by.get(key)!;
  });
  return { sum, unique, minutes };
}

/**
 * The truth's `minutes` as [minute, Wh] pairs, built on first read from the flat pairs, which
 * stay reachable under MINUTES for writers that print them without building the pairs (a million
 * little arrays per million intervals are most of what the garbage collector would otherwise do).
 * The property is an enumerable getter, so JSON.stringify and spreads see an ordinary array.
 */
export const MINUTES = Symbol('pevmeter.sim.minutes');

export function attachMinutes(truth: SessionTruth, flat: Float64Array): SessionTruth {
  let pairs: [number, number][] | undefined;
  Object.defineProperty(truth, 'minutes', {
    enumerable: true,
    configurable: true,
    get: (): [number, number][] => {
      if (!pairs) {
        pairs = new Array<[number, number]>(flat.length / 2);
        for (let j = 0; j < pairs.length; j++) pairs[j] = [flat[2 * j]!, flat[2 * j + 1]!];
      }
      return pairs;
    },
  });
  Object.defineProperty(truth, MINUTES, { value: flat, enumerable: false });
  return truth;
}

/** The flat minute pairs of a truth made here, or undefined for a truth from elsewhere. */
export function flatMinutes(truth: SessionTruth): Float64Array | undefined {
  return (truth as unknown as Record<symbol, Float64Array | undefined>)[MINUTES];
}
