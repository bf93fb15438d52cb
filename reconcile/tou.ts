/**
 * Time of use: which tariff period each instant belongs to, in the program's time zone, and the
 * exact split of a session's energy into those periods, priced in integer minor units.
 *
 * Calendar. A tariff's windows are local wall times ("16:00"-"21:00"). For every local date in a
 * range we convert the date's window edges to UTC once, giving a sorted table of UTC cuts with
 * the period of each stretch between them; looking an instant up is a binary search. Because the
 * conversion is per local date, a 23-hour day (spring forward) and a 25-hour day (fall back) come
 * out right by construction. Two rules settle wall times a transition makes special:
 *   - a wall time that does not exist (02:30 on a spring-forward day) maps to the transition
 *     instant (the first instant after the skipped hour);
 *   - a wall time that occurs twice (01:30 on a fall-back day) maps to its first occurrence.
 * A window matches a date by the date it starts on (`days`, `months`); one whose `to` is not
 * after its `from` runs past midnight into the next date. Windows are tried in order, the first
 * covering a minute wins, and `defaultPeriod` takes every minute no window covers.
 *
 * Exact split. A piece of energy (an interval, or a register delta across a gap) is split by the
 * cuts inside it in proportion to time, with integers only: each part gets floor(E * d_i / D),
 * and the Wh left over go one each to the parts with the largest remainders (E * d_i mod D), the
 * earlier part first on a tie (largest-remainder method). The parts always add up to E exactly.
 *
 * Money. A price is an integer of millionths of a minor unit per kWh (config.ts). A line's amount
 * is Wh * price / 10^9 minor units, rounded half up (half a cent rounds to the next cent), once
 * per line; a bill's total is the sum of its rounded lines. All products are taken in BigInt.
 */
import { parsePriceMicro, resolvedVersions, WEEKDAYS, type ProgramConfig, type TariffConfig, type TariffVersion } from './config.js';
import type { Period, Piece } from './types.js';
import { DAY_MS, MINUTE_MS, localFields, localToUtc } from '../schemas/calendar.js';


function ymd(date: string): [number, number, number] {
  return [Number(date.slice(0, 4)), Number(date.slice(5, 7)), Number(date.slice(8, 10))];
}

/** A version's holiday dates (local, YYYY-MM-DD), with the observed weekday ones (config.ts). */
function holidayDates(v: TariffVersion): Set<string> {
  const out = new Set<string>();
  for (const d of v.holidays?.dates ?? []) {
    out.add(d);
    if (v.holidays?.observe === 'nearest-weekday') {
      const t = Date.UTC(...(ymd(d).map((x, i) => (i === 1 ? x - 1 : x)) as [number, number, number]));
      const dow = new Date(t).getUTCDay();
      if (dow === 6) out.add(new Date(t - DAY_MS).toISOString().slice(0, 10));
      if (dow === 0) out.add(new Date(t + DAY_MS).toISOString().slice(0, 10));
    }
  }
  return out;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':') as [string, string];
  return Number(h) * 60 + Number(m);
}

/** Sorted UTC cuts and the period of each stretch between them. */
export interface Stretches {
  readonly periods: readonly string[];
  readonly cuts: readonly number[];
  readonly periodOf: readonly number[];
  stretchAt(t: number): number;
}

/** One stretch covering all time: for sessions with no tariff, split only at the period's edges. */
export const ALL_TIME: Stretches = {
  periods: ['all'],
  cuts: [-8.64e15, 8.64e15],
  periodOf: [0],
  stretchAt: () => 0,
};

/** The stretches of a tariff over a range of local dates. */
export class TouCalendar implements Stretches {
  /** Period names; a stretch's period is an index into this. */
  readonly periods: string[];
  /** cuts[k] is where stretch k starts; the last cut ends the covered range. */
  readonly cuts: number[] = [];
  readonly periodOf: number[] = [];
  /** Price of each period, millionths of a minor unit per kWh, parsed once. */
  readonly priceMicro: number[];
  readonly fromMs: number;
  readonly toMs: number;

  /** The period name of each label (labels of later tariff versions are `name@effectiveFrom`). */
  readonly baseNames: string[];
  /** The tariff's versions and their effective instants (the first from the beginning of time). */
  readonly versionStarts: { effectiveFrom: string; fromMs: number }[];

  /** The tariff (or program) version each label belongs to: its effectiveFrom, '' for the first. */
  readonly versionOf: string[];

  /**
   * `extraVersions`: dates a program's incentive changes on (local dates in the tariff's zone);
   * each starts a version of the calendar that inherits the tariff's prices unchanged, so that
   * energy is split there and each piece meets the incentive in effect.
   */
  constructor(
    readonly tariffId: string,
    readonly tariff: TariffConfig,
    fromMs: number,
    toMs: number,
    extraVersions: readonly string[] = [],
  ) {
    const tz = tariff.timeZone;
    const own = new Set(tariff.versions.map((v) => v.effectiveFrom));
    const merged = [...tariff.versions, ...extraVersions.filter((d) => !own.has(d)).map((d) => ({ effectiveFrom: d }))].sort((a, b) => (a.effectiveFrom < b.effectiveFrom ? -1 : 1));
    const versions = resolvedVersions({ ...tariff, versions: merged });
    this.versionStarts = versions.map((v) => ({ effectiveFrom: v.effectiveFrom, fromMs: v.effectiveFrom === '' ? -8.64e15 : localToUtc(tz, ...ymd(v.effectiveFrom), 0) }));
    // Labels: the first version's periods by name (as before versions existed), a later version's
    // as name@effectiveFrom, so a bill across a rate change has a line per version and price.
    const names: string[] = [];
    const bases: string[] = [];
    const prices: number[] = [];
    const versionOf: string[] = [];
    const label = (v: TariffVersion, name: string): number => {
      const l = v.effectiveFrom === '' ? name : `${name}@${v.effectiveFrom}`;
      let i = names.indexOf(l);
      if (i === -1) {
        i = names.push(l) - 1;
        bases.push(name);
        prices.push(parsePriceMicro(v.prices[name] ?? '0'));
        versionOf.push(v.effectiveFrom);
      }
      return i;
    };
    const compiled = versions.map((v) => ({
      from: v.effectiveFrom,
      defaultLabel: label(v, v.defaultPeriod),
      holidayLabel: label(v, v.holidays?.period ?? v.defaultPeriod),
      holidays: holidayDates(v),
      windows: v.windows.map((w) => ({
        period: label(v, w.period),
        from: minutesOf(w.from),
        to: minutesOf(w.to),
        days: w.days === undefined ? null : new Set(w.days.map((d) => WEEKDAYS.indexOf(d))),
        months: w.months === undefined ? null : new Set(w.months),
      })),
    }));
    this.periods = names;
    this.baseNames = bases;
    this.priceMicro = prices;
    this.versionOf = versionOf;
    type Compiled = (typeof compiled)[number];
    const versionOn = (date: string): Compiled => {
      let c = compiled[0]!;
      for (const x of compiled) if (x.from <= date) c = x;
      return c;
    };
    const matches = (w: Compiled['windows'][number], y: number, m: number, d: number): boolean => {
      const dow = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7; // 0 = Monday
      return (w.days === null || w.days.has(dow)) && (w.months === null || w.months.has(m));
    };
    // One local date before the range's first and one after its last: a stretch may start there.
    const first = localFields(tz, fromMs);
    const last = localFields(tz, toMs);
    const lastDay = Date.UTC(last.y, last.m - 1, last.d) + DAY_MS;
    for (let day = Date.UTC(first.y, first.m - 1, first.d) - DAY_MS; day <= lastDay; day += DAY_MS) {
      const dt = new Date(day);
      const y = dt.getUTCFullYear();
      const m = dt.getUTCMonth() + 1;
      const d = dt.getUTCDate();
      const prev = new Date(day - DAY_MS);
      const py = prev.getUTCFullYear();
      const pm = prev.getUTCMonth() + 1;
      const pd = prev.getUTCDate();
      // The version in effect on this local date (versions start at local midnight), and whether
      // the date is one of its holidays: then the whole day is the holiday period.
      const date = dt.toISOString().slice(0, 10);
      const version = versionOn(date);
      const windows = version.windows;
      const holiday = version.holidays.has(date);
      // A window running past midnight from the day before belongs to the day before's version.
      const prevDate = prev.toISOString().slice(0, 10);
      const prevVersion = versionOn(prevDate);
      // Minute ranges of this date and the window index covering each, by priority.
      const spans: { a: number; b: number; w: number; period: number }[] = [];
      if (!holiday) {
        windows.forEach((w, i) => {
          if (w.from < w.to) {
            if (matches(w, y, m, d)) spans.push({ a: w.from, b: w.to, w: i, period: w.period });
          }
        });
        windows.forEach((w, i) => {
          if (w.from >= w.to && matches(w, y, m, d)) spans.push({ a: w.from, b: 1440, w: i, period: w.period });
        });
      }
      if (!prevVersion.holidays.has(prevDate)) {
        prevVersion.windows.forEach((w, i) => {
          if (w.from >= w.to && w.to > 0 && matches(w, py, pm, pd)) spans.push({ a: 0, b: w.to, w: i, period: w.period });
        });
      }
      const marks = new Set<number>([0, 1440]);
      for (const s of spans) {
        marks.add(s.a);
        marks.add(s.b);
      }
      const sorted = [...marks].sort((a, b) => a - b);
      for (let k = 0; k + 1 < sorted.length; k++) {
        const a = sorted[k]!;
        const b = sorted[k + 1]!;
        let best: (typeof spans)[number] | null = null;
        for (const s of spans) if (s.a <= a && b <= s.b && (best === null || s.w < best.w)) best = s;
        const period = best !== null ? best.period : holiday ? version.holidayLabel : version.defaultLabel;
        const ua = localToUtc(tz, y, m, d, a);
        const ub = localToUtc(tz, y, m, d, b);
        if (ub <= ua) continue; // collapsed by a spring-forward gap
        this.push(ua, period);
        if (k + 2 === sorted.length && day === lastDay) this.cuts.push(ub);
      }
    }
    this.fromMs = this.cuts[0]!;
    this.toMs = this.cuts[this.cuts.length - 1]!;
  }

  private push(at: number, period: number): void {
    const n = this.periodOf.length;
    if (n > 0 && this.periodOf[n - 1] === period) return;
    if (n > 0 && this.cuts[n - 1] === at) {
      this.periodOf[n - 1] = period;
      return;
    }
    this.cuts.push(at);
    this.periodOf.push(period);
  }

  /** Index of the stretch holding instant t. */
  stretchAt(t: number): number {
    if (t < this.fromMs || t >= this.toMs) {
      throw new RangeError(`TouCalendar ${this.tariffId}: ${new Date(t).toISOString()} is outside [${new Date(this.fromMs).toISOString()}, ${new Date(this.toMs).toISOString()})`);
    }
    let lo = 0;
    let hi = this.periodOf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.cuts[mid]! <= t) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  periodAt(t: number): string {
    return this.periods[this.periodOf[this.stretchAt(t)]!]!;
  }
}

/**
 * Splits `total` Wh over parts weighted by `weights` (positive integers, e.g. milliseconds):
 * floor shares, then the leftover Wh to the largest remainders, the earlier part on a tie.
 * The result always sums to `total`.
 */
export function allocate(total: number, weights: readonly number[]): number[] {
  const n = weights.length;
  if (n === 1) return [total];
  if (total < 0) return allocate(-total, weights).map((x) => (x === 0 ? 0 : -x));
  let W = 0;
  for (const w of weights) W += w;
  const out = new Array<number>(n);
  const rem = new Array<number | bigint>(n);
  let given = 0;
  if (Number.isSafeInteger(total * W)) {
    for (let i = 0; i < n; i++) {
      const p = total * weights[i]!;
      const q = Math.floor(p / W);
      out[i] = q;
      rem[i] = p - q * W;
      given += q;
    }
  } else {
    const T = BigInt(total);
    const BW = BigInt(W);
    for (let i = 0; i < n; i++) {
      const p = T * BigInt(weights[i]!);
      const q = p / BW;
      out[i] = Number(q);
      rem[i] = p - q * BW;
      given += Number(q);
    }
  }
  let left = total - given;
  if (left > 0) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => {
      const ra = rem[a]!;
      const rb = rem[b]!;
      return ra > rb ? -1 : ra < rb ? 1 : a - b;
    });
    for (let k = 0; left > 0; k++, left--) out[order[k]!]! += 1;
  }
  return out;
}

/** Energy of a session by tariff period (indices of `cal.periods`), inside and outside the billing period. */
export interface TouSplit {
  inside: number[];
  outside: number[];
}

/**
 * Splits the timeline over the calendar's stretches and the billing period's edges, exactly.
 * A piece wholly inside one stretch and one side of the period is added as is.
 */
export function splitPieces(pieces: readonly Piece[], cal: Stretches, period: Period): TouSplit {
  const P = cal.periods.length;
  const inside = new Array<number>(P).fill(0);
  const outside = new Array<number>(P).fill(0);
  const points: number[] = [];
  const weights: number[] = [];
  const labels: number[] = [];
  for (const piece of pieces) {
    if (piece.wh === 0 || piece.endMs <= piece.startMs) {
      if (piece.wh !== 0) {
        // A zero-length piece cannot be split by time: it belongs where it starts.
        const k = cal.stretchAt(piece.startMs);
        const side = piece.startMs >= period.fromMs && piece.startMs < period.toMs ? inside : outside;
        side[cal.periodOf[k]!]! += piece.wh;
      }
      continue;
    }
    const k0 = cal.stretchAt(piece.startMs);
    const stretchEnd = k0 + 1 < cal.cuts.length ? cal.cuts[k0 + 1]! : Infinity;
    const startsInside = piece.startMs >= period.fromMs && piece.startMs < period.toMs;
    if (piece.endMs <= stretchEnd && (startsInside ? piece.endMs <= period.toMs : piece.endMs <= period.fromMs || piece.startMs >= period.toMs)) {
      // The common case, taken without building the cut lists: one stretch, one side of the period.
      (startsInside ? inside : outside)[cal.periodOf[k0]!]! += piece.wh;
      continue;
    }
    points.length = 0;
    points.push(piece.startMs);
    for (let k = k0 + 1; k < cal.periodOf.length && cal.cuts[k]! < piece.endMs; k++) points.push(cal.cuts[k]!);
    for (const edge of [period.fromMs, period.toMs]) {
      if (edge > piece.startMs && edge < piece.endMs && !points.includes(edge)) points.push(edge);
    }
    if (points.length > 1) points.sort((a, b) => a - b);
    points.push(piece.endMs);
    weights.length = 0;
    labels.length = 0;
    let k = k0;
    for (let i = 0; i + 1 < points.length; i++) {
      const a = points[i]!;
      while (k + 1 < cal.periodOf.length && cal.cuts[k + 1]! <= a) k++;
      weights.push(points[i + 1]! - a);
      labels.push(cal.periodOf[k]! + (a >= period.fromMs && a < period.toMs ? 0 : P));
    }
    const parts = weights.length === 1 ? [piece.wh] : allocate(piece.wh, weights);
    for (let i = 0; i < parts.length; i++) {
      const l = labels[i]!;
      if (l < P) inside[l]! += parts[i]!;
      else outside[l - P]! += parts[i]!;
    }
  }
  return { inside, outside };
}

/** Per-minute energy (UTC minute start, Wh) of a timeline, by the same exact split. */
export function minuteSeries(pieces: readonly Piece[]): [number, number][] {
  const by = new Map<number, number>();
  for (const piece of pieces) {
    if (piece.wh === 0) continue;
    const a = piece.startMs;
    const b = Math.max(piece.endMs, a + 1);
    const weights: number[] = [];
    const minutes: number[] = [];
    for (let t = a; t < b; ) {
      const m = Math.floor(t / MINUTE_MS) * MINUTE_MS;
      const next = Math.min(m + MINUTE_MS, b);
      weights.push(next - t);
      minutes.push(m);
      t = next;
    }
    const parts = allocate(piece.wh, weights);
    parts.forEach((wh, i) => by.set(minutes[i]!, (by.get(minutes[i]!) ?? 0) + wh));
  }
  return [...by.entries()].sort((x, y) => x[0] - y[0]);
}

/** Half up on the magnitude: amount of `wh` at `priceMicro` millionths of a minor unit per kWh. */
export function amountMinor(wh: number, priceMicro: number): number {
  const p = BigInt(wh) * BigInt(priceMicro);
  const neg = p < 0n;
  const mag = neg ? -p : p;
  const q = (mag * 2n + 1_000_000_000n) / 2_000_000_000n;
  return Number(neg ? -q : q);
}

const credits = new Map<string, number>();
/** A program's credit, parsed once per text (a million sessions share a handful of programs). */
function creditMicro(text: string): number {
  let v = credits.get(text);
  if (v === undefined) {
    v = parsePriceMicro(text);
    credits.set(text, v);
  }
  return v;
}

export interface BillLine {
  /** 'estimated': the part of a period's energy line that was interpolated (amount 0, not added). */
  kind: 'energy' | 'incentive' | 'estimated';
  period: string;
  wh: number;
  /** Millionths of a minor unit per kWh (negative for a credit). */
  priceMicro: number;
  amountMinor: number;
}

export interface PricedBill {
  currency: string;
  lines: BillLine[];
  energyWh: number;
  incentiveWh: number;
  incentiveMinor: number;
  totalMinor: number;
}

/**
 * Prices the in-period energy: one energy line per tariff period with energy, then the program's
 * credit on the energy of its periods, unless one of the session's flags withholds it.
 */
export function priceSplit(cal: TouCalendar, inside: readonly number[], program: ProgramConfig | undefined, flagCodes: readonly string[]): PricedBill {
  const lines: BillLine[] = [];
  let energyWh = 0;
  let total = 0;
  cal.periods.forEach((name, i) => {
    const wh = inside[i] ?? 0;
    if (wh === 0) return;
    const price = cal.priceMicro[i]!;
    const amount = amountMinor(wh, price);
    lines.push({ kind: 'energy', period: name, wh, priceMicro: price, amountMinor: amount });
    energyWh += wh;
    total += amount;
  });
  let incentiveWh = 0;
  let incentiveMinor = 0;
  // The program's incentive versions: the first (its own `incentive`), then `versions`. Each
  // label's energy meets the one in effect on its calendar version's date; one line per version.
  const incentives: { from: string; inc: ProgramConfig['incentive'] | null }[] = [{ from: '', inc: program?.incentive ?? null }];
  for (const v of program?.versions ?? []) incentives.push({ from: v.effectiveFrom, inc: v.incentive });
  const whBy = new Array<number>(incentives.length).fill(0);
  cal.baseNames.forEach((name, i) => {
    let k = 0;
    for (let j = 1; j < incentives.length; j++) if (incentives[j]!.from <= cal.versionOf[i]!) k = j;
    const inc = incentives[k]!.inc;
    if (inc != null && (inc.periods === undefined || inc.periods.includes(name))) whBy[k]! += inside[i] ?? 0;
  });
  incentives.forEach(({ from, inc }, k) => {
    if (inc == null || inc.withheldOn.some((c) => flagCodes.includes(c))) return;
    const credit = creditMicro(inc.creditPerKwh);
    const wh = whBy[k]!;
    if (wh === 0 || credit === 0) return;
    const amount = -amountMinor(wh, credit);
    const label = inc.periods === undefined ? '*' : inc.periods.join('+');
    lines.push({ kind: 'incentive', period: from === '' ? label : `${label}@${from}`, wh, priceMicro: -credit, amountMinor: amount });
    incentiveWh += wh;
    incentiveMinor += amount;
    total += amount;
  });
  return { currency: cal.tariff.currency, lines, energyWh, incentiveWh, incentiveMinor, totalMinor: total };
}
