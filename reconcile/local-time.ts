/**
 * Periods written as a person writes them: local dates in the program's time zone.
 *
 * `--from 2026-10` is local midnight of October 1, `--from 2026-10-03` local midnight of that date,
 * in the zone given by `--tz`, else the zone of `--program`'s tariff, else the one zone every
 * configured tariff shares; with tariffs in several zones and neither flag, a local date is refused
 * (which midnight would it be?). `--to` takes the same forms and is exclusive (`--to 2026-11`: up to
 * local midnight of November 1); with `--from YYYY-MM` and no `--to`, the period is that month.
 * Local midnights come from schemas/calendar.ts, so a month with a DST change is an hour shorter or
 * longer in UTC. Instants with `Z` or an offset, and epoch milliseconds, are read as before;
 * a date-time without a zone stays refused (at a DST change it names no single instant).
 */
import { localToUtc } from '../schemas/calendar.js';
import { PevmeterError } from '../schemas/errors.js';
import type { ReconcileConfig } from './config.js';
import { parseInstant } from './run.js';
import type { Period } from './types.js';

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
const DATE = /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/** The zone local dates are read in (see the module comment); null when none applies. */
export function periodZone(cfg: ReconcileConfig, o: { tz?: string; program?: string }): string | null {
  if (o.tz !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: o.tz });
    } catch {
      throw new PevmeterError('PEV_INPUT', `--tz: ${JSON.stringify(o.tz)} is not an IANA time zone (America/Los_Angeles)`);
    }
    return o.tz;
  }
  if (o.program !== undefined) {
    const p = cfg.programs[o.program];
    const t = p === undefined ? undefined : cfg.tariffs[p.tariff];
    if (t !== undefined) return t.timeZone;
  }
  const zones = new Set(Object.values(cfg.tariffs).map((t) => t.timeZone));
  return zones.size === 1 ? [...zones][0]! : null;
}

/** Local midnight of a `YYYY-MM` (its first day) or `YYYY-MM-DD`, or null when the text is neither. */
function localDate(name: string, text: string, tz: string | null): { ms: number; month: { y: number; m: number } | null } | null {
  const mm = MONTH.exec(text);
  const dd = mm === null ? DATE.exec(text) : null;
  if (mm === null && dd === null) return null;
  if (tz === null) {
    throw new PevmeterError('PEV_INPUT', `${name}: ${text} is a local date, and the configured tariffs are in more than one time zone: name one with --tz (or --program), or write an instant with Z`);
  }
  const y = Number((mm ?? dd)![1]);
  const m = Number((mm ?? dd)![2]);
  const d = dd === null ? 1 : Number(dd[3]);
  const check = new Date(Date.UTC(y, m - 1, d));
  if (check.getUTCMonth() !== m - 1) throw new PevmeterError('PEV_INPUT', `${name}: ${text} is not a date`);
  return { ms: localToUtc(tz, y, m, d, 0), month: mm === null ? null : { y, m } };
}

/** `--from`/`--to` to a UTC period: local dates in `tz`, or instants. */
export function parsePeriod(from: string, to: string | undefined, tz: string | null): Period {
  const f = localDate('--from', from, tz);
  const fromMs = f?.ms ?? parseInstant('--from', from);
  if (to === undefined) {
    if (f?.month == null) throw new PevmeterError('PEV_INPUT', '--to is required unless --from is a month (YYYY-MM)');
    const { y, m } = f.month;
    return { fromMs, toMs: localToUtc(tz!, m === 12 ? y + 1 : y, m === 12 ? 1 : m + 1, 1, 0) };
  }
  const t = localDate('--to', to, tz);
  return { fromMs, toMs: t?.ms ?? parseInstant('--to', to) };
}
