/**
 * Local wall-clock arithmetic for one IANA time zone, without Date objects per call: the UTC
 * offset is looked up once per UTC hour through Intl and cached (every zone changes offset on a
 * quarter hour at most, and all of today's transitions fall on whole hours UTC, so an hour's
 * offset is constant). Used per session, never per interval.
 *
 * "Local ms" below means the wall-clock reading written as if it were UTC: local midnight of
 * 2026-10-01 in Los Angeles is Date.UTC(2026, 9, 1) in local ms.
 */
import { ConfigError } from '../../schemas/errors.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export class Calendar {
  readonly timeZone: string;
  private readonly format: Intl.DateTimeFormat;
  private readonly offsets = new Map<number, number>();

  constructor(timeZone: string) {
    try {
      this.format = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch (cause) {
      throw new ConfigError(`timeZone: "${timeZone}" is not an IANA time zone this Node.js knows (${String(cause)})`);
    }
    this.timeZone = timeZone;
  }

  /** Local minus UTC, in ms, at the UTC instant `utcMs`. */
  offsetMs(utcMs: number): number {
    const hour = Math.floor(utcMs / HOUR_MS);
    const cached = this.offsets.get(hour);
    if (cached !== undefined) return cached;
    const at = hour * HOUR_MS;
    const p: Record<string, number> = {};
    for (const part of this.format.formatToParts(at)) if (part.type !== 'literal') p[part.type] = Number(part.value);
    const wall = Date.UTC(p['year'] ?? 1970, (p['month'] ?? 1) - 1, p['day'] ?? 1, p['hour'] ?? 0, p['minute'] ?? 0, p['second'] ?? 0);
    const offset = wall - at;
    this.offsets.set(hour, offset);
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
