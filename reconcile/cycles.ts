/**
 * Bill cycles: each account is billed over its own cycle, in its program's time zone.
 *
 * Cycle day. From the reconcile configuration (`cycles.accounts`, account ID to day 1-28, else
 * `cycles.defaultDay`): the billing calendar is the utility's customer system's, not something an
 * ESCI reports, so it is configuration, not an enrollment attribute. Cycle `2026-10` of an account
 * with cycle day 5 runs from 2026-10-05 00:00 to 2026-11-05 00:00 local time (a cycle is named by
 * the month it starts in). Days stop at 28 so that every month has the day.
 *
 * Time zone. The zone of the session's tariff (the program's zone, `tariffs.<id>.timeZone`), the
 * same one its time-of-use windows are read in; a session with no priced program (held: not
 * enrolled, unpriced) uses `cycles.timeZone`. Local midnights come from schemas/calendar.ts, so a
 * cycle that contains a DST change is 1 hour shorter or longer in UTC, by construction.
 *
 * Which cycle a session belongs to. The cycle of its account whose period holds the session's
 * anchor: the plug-in time of its START event, else its first interval's start, else its first
 * event. It is the instant the enrollment (and so the account) is looked up at, it is reported
 * first and does not move when a late interval arrives, and a session belongs to exactly one
 * cycle of its account because consecutive cycles of an account share their edge. The whole
 * session is billed in that cycle (no split at the cycle's end), so across cycles every session
 * is billed once and none is left out.
 *
 * Storage. A cycle's records are billing records like a period's, with `cycle` set and the
 * account's cycle period as their period; the billing state (versions, frozen exports) is looked
 * up by (cycle, session).
 */
import type { Store } from '../aggregate/store/types.js';
import { DAY_MS, localToUtc } from '../schemas/calendar.js';
import { PevmeterError } from '../schemas/errors.js';
import { recordStates, type RecordState } from './billing.js';
import type { ReconcileConfig } from './config.js';
import { conflicts, exportedPeriods, overlapError } from './export-scope.js';
import type { EnrollmentFact, Period, PeriodFilter, SessionFacts } from './types.js';

export interface Cycle {
  label: string;
  year: number;
  /** 1-12. */
  month: number;
}

/** `2026-10` -> the cycle starting in October 2026. */
export function parseCycle(text: string): Cycle {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(text);
  if (m === null) throw new PevmeterError('PEV_INPUT', `--cycle: ${JSON.stringify(text)} is not a cycle; write the month it starts in, YYYY-MM (2026-10)`);
  return { label: text, year: Number(m[1]), month: Number(m[2]) };
}

/** The UTC period of a cycle for a cycle day in a zone: [day d of the month, day d of the next month), local midnights. */
export function cyclePeriod(c: Cycle, day: number, tz: string): Period {
  const nextYear = c.month === 12 ? c.year + 1 : c.year;
  const nextMonth = c.month === 12 ? 1 : c.month + 1;
  return { fromMs: localToUtc(tz, c.year, c.month, day, 0), toMs: localToUtc(tz, nextYear, nextMonth, day, 0) };
}

export function cycleDayOf(cfg: ReconcileConfig, accountId: string): number {
  return cfg.cycles.accounts[accountId] ?? cfg.cycles.defaultDay;
}

/** The zone a session's cycle is read in: its tariff's, else the configured one. */
export function zoneOf(cfg: ReconcileConfig, tariffId: string | null): string {
  const t = tariffId === null ? undefined : cfg.tariffs[tariffId];
  return t?.timeZone ?? cfg.cycles.timeZone;
}

/** The tariff a session of this enrollment is priced on (as run.ts resolves it), or null. */
export function tariffOf(cfg: ReconcileConfig, e: Pick<EnrollmentFact, 'programId' | 'tariffId'> | null): string | null {
  if (e === null) return null;
  const program = cfg.programs[e.programId];
  if (program === undefined) return null;
  return cfg.tariffs[e.tariffId] !== undefined ? e.tariffId : program.tariff;
}

/** The instant that places a session in a cycle: plug-in, else first interval start, else first event. */
export function anchorMs(f: Pick<SessionFacts, 'start' | 'intervals' | 'firstEventMs'>): number {
  if (f.start !== null) return f.start.plugInMs;
  let first = Infinity;
  for (const x of f.intervals) if (x.startMs < first) first = x.startMs;
  return Number.isFinite(first) ? first : f.firstEventMs;
}

/** One cycle run: which period each account bills, and what to read. */
export class CyclePlan {
  readonly cycle: Cycle;
  /** Facts are read for this window: every cycle period of the configuration, a day wider each side. */
  readonly readWindow: Period;
  private readonly periods = new Map<string, Period>();

  constructor(
    private readonly cfg: ReconcileConfig,
    cycle: string | Cycle,
  ) {
    this.cycle = typeof cycle === 'string' ? parseCycle(cycle) : cycle;
    const days = new Set([cfg.cycles.defaultDay, ...Object.values(cfg.cycles.accounts)]);
    const zones = new Set([cfg.cycles.timeZone, ...Object.values(cfg.tariffs).map((t) => t.timeZone)]);
    let from = Infinity;
    let to = -Infinity;
    for (const d of days) {
      for (const z of zones) {
        const p = this.periodFor(d, z);
        from = Math.min(from, p.fromMs);
        to = Math.max(to, p.toMs);
      }
    }
    // A session is read when its records touch the window; its anchor (the plug-in) can precede
    // its first record by the seconds a START event takes, and charging can start hours later.
    this.readWindow = { fromMs: from - DAY_MS, toMs: to + DAY_MS };
  }

  periodFor(day: number, tz: string): Period {
    const key = `${day}|${tz}`;
    let p = this.periods.get(key);
    if (p === undefined) {
      p = cyclePeriod(this.cycle, day, tz);
      this.periods.set(key, p);
    }
    return p;
  }

  /** The cycle period of an account's session priced on `tariffId` (null: unpriced). */
  accountPeriod(accountId: string, tariffId: string | null): Period {
    return this.periodFor(cycleDayOf(this.cfg, accountId), zoneOf(this.cfg, tariffId));
  }

  /** The session's billing period when its anchor falls in its account's cycle period, else null (another cycle's). */
  assign(f: SessionFacts, accountId: string, tariffId: string | null): Period | null {
    const p = this.accountPeriod(accountId, tariffId);
    const a = anchorMs(f);
    return a >= p.fromMs && a < p.toMs ? p : null;
  }

  /**
   * Refuses the run when an account it may bill has an export of an overlapping period that is
   * not this cycle's period of that account. `enrollments`: every enrollment valid in the window
   * (the accounts and zones the run can meet).
   */
  async checkOverlap(store: Store, enrollments: readonly EnrollmentFact[], filters: PeriodFilter): Promise<void> {
    const exported = await exportedPeriods(store, this.readWindow, filters.accountId ?? '');
    if (exported.length === 0) return;
    const periodsOf = new Map<string, Period[]>();
    const add = (account: string, p: Period): void => {
      const list = periodsOf.get(account) ?? [];
      if (!list.some((x) => x.fromMs === p.fromMs && x.toMs === p.toMs)) list.push(p);
      periodsOf.set(account, list);
    };
    for (const e of enrollments) {
      if (filters.accountId !== undefined && filters.accountId !== '' && e.accountId !== filters.accountId) continue;
      add(e.accountId, this.accountPeriod(e.accountId, tariffOf(this.cfg, e)));
    }
    for (const ex of exported) {
      const candidates = ex.account === '' ? [...periodsOf.values()].flat() : (periodsOf.get(ex.account) ?? []);
      for (const p of candidates) if (conflicts(ex, p, this.cycle.label)) throw overlapError(ex, p, this.cycle.label);
    }
  }
}

const CYCLE_STATE_SQL = `
SELECT session_id, version, status, content_digest AS sha, energy_wh, amount_minor, currency
FROM {db}.billing_record FINAL
WHERE cycle = {cycle:String} AND session_id >= {lo:String} AND session_id < {hi:String}
ORDER BY session_id, version DESC, updated_ms DESC
LIMIT 1 BY session_id
`;

const CYCLE_EXPORTED_SQL = `
SELECT session_id, max(version) AS ex_version, argMax(content_digest, version) AS ex_sha, argMax(energy_wh, version) AS ex_energy_wh,
  argMax(amount_minor, version) AS ex_amount_minor, argMax(config_sha256, version) AS ex_config
FROM {db}.billing_export
WHERE cycle = {cycle:String} AND session_id >= {lo:String} AND session_id < {hi:String}
GROUP BY session_id
`;

/** Billing state of the sessions of a session-ID range in a cycle: by (cycle, session), whatever the account's period. */
export async function loadCycleStates(store: Store, cycle: string, range: { lo: string; hi: string }): Promise<Map<string, RecordState>> {
  const params = { cycle, lo: range.lo, hi: range.hi };
  const [latest, exported] = await Promise.all([
    store.select<Record<string, string | number>>(CYCLE_STATE_SQL, params),
    store.select<Record<string, string | number>>(CYCLE_EXPORTED_SQL, params),
  ]);
  return recordStates(latest, exported);
}
