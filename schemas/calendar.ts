/**
 * Local wall-clock time in an IANA time zone: the one calendar of the project. Reconcile's
 * time-of-use tables and the simulator's charging habits both read local time here.
 *
 * Offsets come from Intl (the zone database Node.js ships). `localToUtc` and `Calendar.toUtc` settle
 * the wall times a transition makes special, each by its documented rule:
 *   - a wall time that occurs twice (01:30 on a fall-back day) maps to its first occurrence (both);
 *   - a wall time that does not exist (02:30 on a spring-forward day): `localToUtc` (tariff
 *     windows) maps it to the transition instant, so a window edge never moves past the jump;
 *     `Calendar.toUtc` (simulated plug-in times) reads it with the offset before the jump, as a
 *     person whose clock was not yet set forward would, landing that far past the transition.
 *
 * `Calendar` serves per-session lookups without Date objects per call: the offset is looked up
 * once per UTC quarter hour and cached (offsets are whole quarter hours and transitions happen at
 * local quarter hours, so an offset never changes inside a UTC quarter hour).
 *
 * "Local ms" below means the wall-clock reading written as if it were UTC: local midnight of
 * 2026-10-01 in Los Angeles is Date.UTC(2026, 9, 1) in local ms.
 */
import { ConfigError } from './errors.js';

export const MINUTE_MS = 60_000;
export const QUARTER_HOUR_MS = 900_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** Local wall-clock fields of an instant. */
export function localFields(tz: string, t: number): { y: number; m: number; d: number; hh: number; mm: number; ss: number } {
  const out = { y: 0, m: 0, d: 0, hh: 0, mm: 0, ss: 0 };
  for (const p of formatter(tz).formatToParts(new Date(t))) {
    switch (p.type) {
      case 'year': out.y = Number(p.value); break;
      case 'month': out.m = Number(p.value); break;
      case 'day': out.d = Number(p.value); break;
      case 'hour': out.hh = Number(p.value); break;
      case 'minute': out.mm = Number(p.value); break;
      case 'second': out.ss = Number(p.value); break;
      default: break;
    }
  }
  return out;
}

/** Local time minus UTC at instant t, ms (-25200000 for PDT). */
export function utcOffsetMs(tz: string, t: number): number {
  const s = Math.floor(t / 1000) * 1000;
  const f = localFields(tz, s);
  return Date.UTC(f.y, f.m - 1, f.d, f.hh, f.mm, f.ss) - s;
}

/**
 * The UTC instant of a local wall time `minutes` after midnight of local date y-m-d (minutes may
 * be 1440: the next midnight). Non-existent wall times map to the transition, repeated ones to
 * their first occurrence (see the module comment).
 */
export function localToUtc(tz: string, y: number, m: number, d: number, minutes: number): number {
  const wall = Date.UTC(y, m - 1, d) + minutes * MINUTE_MS;
  const before = utcOffsetMs(tz, wall - DAY_MS);
  const after = utcOffsetMs(tz, wall + DAY_MS);
  const valid: number[] = [];
  for (const o of before === after ? [before] : [before, after]) {
    const u = wall - o;
    if (utcOffsetMs(tz, u) === o) valid.push(u);
  }
  if (valid.length > 0) return Math.min(...valid);
  // In a spring-forward gap: the transition lies between the two readings; find it to the second.
  let lo = wall - after; // still on the old offset
  let hi = wall - before; // already on the new one
  lo = Math.floor(lo / 1000);
  hi = Math.ceil(hi / 1000);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (utcOffsetMs(tz, mid * 1000) === before) lo = mid;
    else hi = mid;
  }
  return hi * 1000;
}

/** An instant as local ISO 8601 with its offset, to the second: 2026-10-04T22:00:00-07:00. */
export function formatLocal(tz: string, t: number): string {
  const f = localFields(tz, t);
  const off = Math.round(utcOffsetMs(tz, t) / MINUTE_MS);
  const a = Math.abs(off);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${f.y}-${p2(f.m)}-${p2(f.d)}T${p2(f.hh)}:${p2(f.mm)}:${p2(f.ss)}${off < 0 ? '-' : '+'}${p2(Math.floor(a / 60))}:${p2(a % 60)}`;
}

export class Calendar {
  readonly timeZone: string;
  private readonly offsets = new Map<number, number>();

  constructor(timeZone: string) {
    try {
      formatter(timeZone);
    } catch (cause) {
      throw new ConfigError(`timeZone: "${timeZone}" is not an IANA time zone this Node.js knows (${String(cause)})`);
    }
    this.timeZone = timeZone;
  }

  /** Local minus UTC, in ms, at the UTC instant `utcMs`. */
  offsetMs(utcMs: number): number {
    const quarter = Math.floor(utcMs / QUARTER_HOUR_MS);
    const cached = this.offsets.get(quarter);
    if (cached !== undefined) return cached;
    const offset = utcOffsetMs(this.timeZone, quarter * QUARTER_HOUR_MS);
    this.offsets.set(quarter, offset);
    return offset;
  }

  toLocal(utcMs: number): number {
    return utcMs + this.offsetMs(utcMs);
  }

  /**
   * The UTC instant of a local wall-clock time. A wall time in the spring-forward gap (one that
   * does not exist) is read with the offset before the jump, so it lands that far past the jump;
   * a wall time in the fall-back hour (one that occurs twice) gives its first occurrence.
   */
  toUtc(localMs: number): number {
    const before = this.offsetMs(localMs - 14 * HOUR_MS);
    const after = this.offsetMs(localMs + 14 * HOUR_MS);
    const first = localMs - before;
    if (this.toLocal(first) === localMs) return first;
    const second = localMs - after;
    if (this.toLocal(second) === localMs) return second;
    // Gap: neither offset maps back. The clock jumped from before to after at this instant.
    return localMs - before;
  }

  /** Local midnight (local ms) of the day holding `utcMs`. */
  localDayStart(utcMs: number): number {
    const local = this.toLocal(utcMs);
    return local - mod(local, DAY_MS);
  }

  /** Hours since local midnight, fractional, at `utcMs`. */
  localHour(utcMs: number): number {
    return mod(this.toLocal(utcMs), DAY_MS) / HOUR_MS;
  }

  /** The first instant >= utcMs whose local time is `hour`:00. */
  nextLocalHour(utcMs: number, hour: number): number {
    let day = this.localDayStart(utcMs);
    for (let i = 0; i < 3; i++, day += DAY_MS) {
      const at = this.toUtc(day + hour * HOUR_MS);
      if (at >= utcMs) return at;
    }
    throw new Error(`Calendar.nextLocalHour: no ${hour}:00 within 3 days of ${utcMs}`);
  }
}

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}
