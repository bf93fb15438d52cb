/**
 * Reconciliation configuration: rule thresholds and severities, tariffs and programs, read from
 * one file (YAML or JSON) and validated once, here, against one schema. Unknown keys are rejected
 * and every error names the option (`rules.vehicleMismatch.toleranceShare`). docs/reconcile.md
 * lists every option with its default and why; a test checks the two agree.
 *
 * Threshold convention, the same for every rule: a flag is raised when the observed value is
 * strictly above the threshold. A value exactly at the threshold passes.
 *
 * Money: prices are decimal strings in minor currency units per kWh (cents for USD) with at most
 * six decimals, parsed here into integers of millionths of a minor unit per kWh (`micro`). No
 * price ever becomes a floating-point number.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../schemas/errors.js';

const severity = z.enum(['warn', 'hold']);
const share = z.number().min(0).max(10);
const wh = z.int().min(0).max(1_000_000_000);
const seconds = z.int().min(0).max(30 * 86_400);
/** A bill cycle day: 1 to 28, so every month has it. */
const cycleDay = z.int().min(1).max(28);

/** A decimal amount of minor units per kWh, e.g. "31.25" (cents per kWh). */
const PRICE = /^\d{1,9}(\.\d{1,6})?$/;
const price = z.string().regex(PRICE, 'a decimal string of minor units per kWh with at most 6 decimals, e.g. "31.25"');
const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/;
const wallTime = z.string().regex(CLOCK, 'a local wall time HH:MM (00:00 to 24:00)');
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const periodName = z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'a period name: lower-case letters, digits and _');
/** As ingest/decode/validate.ts ID_PATTERNS.program: no leading '-' (an option, a spreadsheet formula). */
const programId = /^[A-Z0-9][A-Z0-9-]{0,31}$/;

// Every option of a rule has a default, so an absent rule section means all defaults; the
// generic shape hides that from the type of prefault's argument.
const rule = <T extends z.ZodRawShape>(defaultSeverity: 'warn' | 'hold', shape: T) =>
  z.strictObject({ severity: severity.default(defaultSeverity), ...shape }).prefault({} as never);

export const rulesSchema = z
  .strictObject({
    gap: rule('warn', {
      /** Missing intervals (by sequence, by time with a sequence skip, or after the last Progress count) tolerated. */
      maxMissing: z.int().min(0).default(0),
    }),
    qualityGate: rule('hold', {
      /** Share of the session's expected intervals that may be missing. */
      maxMissingShare: share.default(0.1),
    }),
    duplicateConflict: rule('hold', {
      /** Intervals with conflicting copies tolerated. */
      maxConflicts: z.int().min(0).default(0),
    }),
    sumCheck: rule('hold', {
      /** Allowed |register delta - interval sum| over contiguous runs: the larger of Wh and share of the register delta. */
      toleranceWh: wh.default(2),
      toleranceShare: share.default(0.001),
    }),
    registerReset: rule('warn', {
      maxResets: z.int().min(0).default(0),
    }),
    negative: rule('hold', {
      maxNegative: z.int().min(0).default(0),
    }),
    spike: rule('hold', {
      /** Share above the power limit an interval may reach. */
      powerTolerance: share.default(0.1),
      /** Wh on top, for the integer rounding of a register that counts whole Wh. */
      slackWh: wh.default(1),
      /** Power limit when neither a grant rate nor an enrollment rated power is known (80 A at 240 V). */
      defaultRatedPowerW: z.int().min(1).max(1_000_000).default(19_200),
    }),
    clock: rule('hold', {
      /** An interval may end this far after the run's as-of time. */
      futureToleranceS: seconds.default(300),
      /** An interval may end this far before the plug-in time reported by the session start. */
      beforeStartToleranceS: seconds.default(60),
      /** Time jumps and overlaps between consecutive sequence numbers tolerated, seconds. */
      jumpToleranceS: seconds.default(0),
    }),
    vehicleMismatch: rule('hold', {
      /** Allowed |vehicle - EUMD|: the larger of toleranceWh and toleranceShare of the EUMD energy. */
      toleranceShare: share.default(0.05),
      toleranceWh: wh.default(50),
    }),
    vehicleMissing: rule('warn', {}),
    esciMismatch: rule('warn', {
      energyToleranceShare: share.default(0.01),
      energyToleranceWh: wh.default(10),
      /** Allowed disagreement of the summary's end and duration with the intervals, seconds. */
      durationToleranceS: seconds.default(300),
    }),
    unfinished: rule('warn', {}),
    notEnrolled: rule('hold', {}),
    premiseMismatch: rule('hold', {}),
    exceedsGrant: rule('warn', {
      toleranceShare: share.default(0.01),
      toleranceWh: wh.default(0),
    }),
    offSchedule: rule('warn', {
      /** Energy in the program's restricted time-of-use periods tolerated, Wh. */
      toleranceWh: wh.default(0),
    }),
    adjustment: rule('warn', {}),
    unpriced: rule('hold', {}),
    authFailed: rule('hold', {}),
    outsideGrant: rule('warn', {
      /** Energy in intervals wholly outside the granted schedule, under a delay, tolerated, Wh. */
      toleranceWh: wh.default(0),
    }),
    enrollmentChange: rule('hold', {
      /** Time of the session outside its enrollment's validity tolerated, seconds. */
      toleranceS: seconds.default(0),
    }),
    meterMismatch: rule('hold', {}),
    estimated: rule('warn', {
      /** Intervals marked estimated or outage by the EUMD tolerated. */
      maxIntervals: z.int().min(0).default(0),
    }),
    estimateShare: rule('hold', {
      /** Missing intervals no register reading spans: interpolate their energy and bill it (marked), or leave them out. */
      method: z.enum(['interpolate', 'none']).default('interpolate'),
      /** Share of the session's energy that may be interpolated. */
      maxShare: share.default(0.05),
    }),
  })
  .prefault({});

const windowSchema = z.strictObject({
  period: periodName,
  from: wallTime,
  to: wallTime,
  /** Days of the week the window applies on (local); all days when absent. */
  days: z.array(z.enum(DAYS)).min(1).optional(),
  /** Months (1-12) the window applies in (local); all months when absent. */
  months: z.array(z.int().min(1).max(12)).min(1).optional(),
});

const LOCAL_DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const localDate = z.string().regex(LOCAL_DATE, 'a local date YYYY-MM-DD').refine((d) => new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a calendar date');

/**
 * Holidays of a tariff: every minute of a holiday (a local date) is `period` (the default period
 * when absent), whatever the windows say. `observe: nearest-weekday` adds, for a date on a Saturday,
 * the Friday before, and for a Sunday, the Monday after (the U.S. federal rule); the date itself
 * stays a holiday too.
 */
const holidaysSchema = z.strictObject({
  dates: z.array(localDate).default([]),
  observe: z.enum(['date', 'nearest-weekday']).default('date'),
  period: periodName.optional(),
});

/**
 * A tariff version: from local midnight of `effectiveFrom` (the tariff's zone) until the next
 * version's. It inherits everything of the version before it; `prices` are merged period by period,
 * `windows` and `holidays` replace the previous ones when given.
 */
const tariffVersionSchema = z.strictObject({
  effectiveFrom: localDate,
  defaultPeriod: periodName.optional(),
  windows: z.array(windowSchema).optional(),
  prices: z.record(periodName, price).optional(),
  holidays: holidaysSchema.optional(),
});

const tariffSchema = z
  .strictObject({
    /** IANA zone the tariff's wall times are in (the program's time zone). */
    timeZone: z.string().min(1),
    currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as USD'),
    /** Period of every minute no window covers. */
    defaultPeriod: periodName,
    /** First matching window wins. A window whose `to` is not after its `from` runs past midnight. */
    windows: z.array(windowSchema).default([]),
    /** Price per period: minor units per kWh as a decimal string. */
    prices: z.record(periodName, price),
    /** Holidays of the first version (later versions inherit them unless they give their own). */
    holidays: holidaysSchema.optional(),
    /** Later versions, by strictly increasing effectiveFrom; the fields above are the version in effect before the first. */
    versions: z.array(tariffVersionSchema).default([]),
  })
  .superRefine((t, ctx) => {
    let previous = '';
    t.versions.forEach((v, i) => {
      if (v.effectiveFrom <= previous) ctx.addIssue({ code: 'custom', path: ['versions', i, 'effectiveFrom'], message: `versions must be in strictly increasing effectiveFrom order (${v.effectiveFrom} after ${previous})` });
      previous = v.effectiveFrom;
      const r = resolvedVersions(t)[i + 1]!;
      const named = new Set([r.defaultPeriod, r.holidays?.period ?? r.defaultPeriod, ...r.windows.map((w) => w.period)]);
      for (const p of named) if (r.prices[p] === undefined) ctx.addIssue({ code: 'custom', path: ['versions', i, 'prices', p], message: `period ${p} has no price in the version from ${v.effectiveFrom}` });
    });
    if (t.holidays?.period !== undefined && t.prices[t.holidays.period] === undefined) {
      ctx.addIssue({ code: 'custom', path: ['holidays', 'period'], message: `holiday period ${t.holidays.period} has no price` });
    }
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: t.timeZone });
    } catch {
      ctx.addIssue({ code: 'custom', path: ['timeZone'], message: `unknown IANA time zone ${JSON.stringify(t.timeZone)}` });
    }
    const named = new Set([t.defaultPeriod, ...t.windows.map((w) => w.period), ...(t.holidays?.period !== undefined ? [t.holidays.period] : [])]);
    for (const p of named) {
      if (t.prices[p] === undefined) ctx.addIssue({ code: 'custom', path: ['prices', p], message: `period ${p} has no price` });
    }
    for (const p of Object.keys(t.prices)) {
      if (!named.has(p)) ctx.addIssue({ code: 'custom', path: ['prices', p], message: `price for ${p}, which is neither defaultPeriod nor a window's period` });
    }
    t.windows.forEach((w, i) => {
      if (w.from === w.to) ctx.addIssue({ code: 'custom', path: ['windows', i, 'to'], message: 'a window must not be empty (from equals to)' });
    });
  });

const incentiveSchema = z.strictObject({
  /** Credit in minor units per kWh, as a decimal string. */
  creditPerKwh: price,
  /** Periods whose energy earns the credit; every period when absent. */
  periods: z.array(periodName).min(1).optional(),
  /** Flag codes that forfeit the session's credit. */
  withheldOn: z.array(z.string().regex(/^[A-Z_]{1,32}$/)).default([]),
});

const programSchema = z
  .strictObject({
    /** Tariff used when the enrollment's tariff_id is not one of `tariffs`. */
    tariff: z.string().regex(programId),
    /** OFF_SCHEDULE: energy in these periods of the tariff is charging outside the program's schedule. */
    restrictedPeriods: z.array(periodName).default([]),
    incentive: incentiveSchema.optional(),
    /**
     * Later versions of the program's incentive, from local midnight of effectiveFrom in the
     * tariff's zone: `incentive` replaces the one before (null: no credit from then on).
     */
    versions: z.array(z.strictObject({ effectiveFrom: localDate, incentive: incentiveSchema.nullable() })).default([]),
  })
  .superRefine((p, ctx) => {
    let previous = '';
    p.versions.forEach((v, i) => {
      if (v.effectiveFrom <= previous) ctx.addIssue({ code: 'custom', path: ['versions', i, 'effectiveFrom'], message: `versions must be in strictly increasing effectiveFrom order (${v.effectiveFrom} after ${previous})` });
      previous = v.effectiveFrom;
    });
  });

export const DEFAULT_TARIFFS = {
  // Illustrative prices in the shape of a California residential EV time-of-use rate; not a
  // published tariff. Wall times in the program's zone; 16:00-21:00 is the on-peak window the
  // EV-TOU-OFFPEAK program asks customers to avoid.
  'EV-TOU-2026': {
    timeZone: 'America/Los_Angeles',
    currency: 'USD',
    defaultPeriod: 'off_peak',
    windows: [
      { period: 'peak', from: '16:00', to: '21:00' },
      { period: 'super_off_peak', from: '00:00', to: '06:00' },
    ],
    prices: { peak: '48.5', off_peak: '31.2', super_off_peak: '24.75' },
  },
  'EV-FLAT-2026': {
    timeZone: 'America/Los_Angeles',
    currency: 'USD',
    defaultPeriod: 'flat',
    windows: [],
    prices: { flat: '33.6' },
  },
};

export const DEFAULT_PROGRAMS = {
  'EV-TOU-OFFPEAK': {
    tariff: 'EV-TOU-2026',
    restrictedPeriods: ['peak'],
    incentive: { creditPerKwh: '5', periods: ['off_peak', 'super_off_peak'], withheldOn: ['OFF_SCHEDULE', 'OUTSIDE_GRANT'] },
  },
  'EV-FLAT': { tariff: 'EV-FLAT-2026', restrictedPeriods: [] },
};

export const configSchema = z
  .strictObject({
    rules: rulesSchema,
    /** Giving `tariffs` replaces the built-in set (keys are tariff_id). */
    tariffs: z.record(z.string().regex(programId, 'a tariff_id: [A-Z0-9][A-Z0-9-]{0,31}'), tariffSchema).prefault(DEFAULT_TARIFFS),
    /** Giving `programs` replaces the built-in set (keys are program_id). */
    programs: z.record(z.string().regex(programId, 'a program_id: [A-Z0-9][A-Z0-9-]{0,31}'), programSchema).prefault(DEFAULT_PROGRAMS),
    sessions: z
      .strictObject({
        /** Data of a session is read this many days either side of the period: the longest session reconciled whole. */
        maxSpanDays: z.int().min(1).max(60).default(7),
        /** Target sessions per set-based query batch (memory per batch). */
        batchSessions: z.int().min(1_000).max(2_000_000).default(65_536),
      })
      .prefault({}),
    cycles: z
      .strictObject({
        /** Cycle day of every account not listed in `accounts`: a cycle runs from this day of its month, local midnight. */
        defaultDay: cycleDay.default(1),
        /** Zone of the cycle of a session with no priced program (held, not enrolled): the others use their tariff's. */
        timeZone: z.string().min(1).default('America/Los_Angeles'),
        /** Account ID to its cycle day (1-28): the utility's billing calendar, from its customer system. */
        accounts: z.record(z.string().regex(/^A[0-9]{9}$/, 'an account_id: A and nine digits'), cycleDay).default({}),
      })
      .prefault({})
      .superRefine((c, ctx) => {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: c.timeZone });
        } catch {
          ctx.addIssue({ code: 'custom', path: ['timeZone'], message: `unknown IANA time zone ${JSON.stringify(c.timeZone)}` });
        }
      }),
    report: z
      .strictObject({
        /** Held sessions drawn minute by minute in the HTML report. */
        maxHeldSessions: z.int().min(0).max(1_000).default(25),
        /** Half-width of the vehicle-versus-EUMD histogram, percent. */
        histogramRangePercent: z.int().min(1).max(100).default(30),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    for (const [id, p] of Object.entries(c.programs)) {
      const tariff = c.tariffs[p.tariff];
      if (tariff === undefined) {
        ctx.addIssue({ code: 'custom', path: ['programs', id, 'tariff'], message: `tariff ${p.tariff} is not in tariffs` });
        continue;
      }
      const periods = new Set([tariff.defaultPeriod, ...tariff.windows.map((w) => w.period)]);
      p.restrictedPeriods.forEach((r, i) => {
        if (!periods.has(r)) ctx.addIssue({ code: 'custom', path: ['programs', id, 'restrictedPeriods', i], message: `period ${r} is not a period of tariff ${p.tariff}` });
      });
      p.incentive?.periods?.forEach((r, i) => {
        if (!periods.has(r)) ctx.addIssue({ code: 'custom', path: ['programs', id, 'incentive', 'periods', i], message: `period ${r} is not a period of tariff ${p.tariff}` });
      });
      p.versions.forEach((v, k) => {
        v.incentive?.periods?.forEach((r, i) => {
          if (!periods.has(r)) ctx.addIssue({ code: 'custom', path: ['programs', id, 'versions', k, 'incentive', 'periods', i], message: `period ${r} is not a period of tariff ${p.tariff}` });
        });
      });
      if (p.incentive !== undefined) {
        // A credit above a period's price would bill that energy below zero.
        const credit = parsePriceMicro(p.incentive.creditPerKwh);
        for (const r of p.incentive.periods ?? [...periods]) {
          const price = tariff.prices[r];
          if (price !== undefined && credit > parsePriceMicro(price)) {
            ctx.addIssue({ code: 'custom', path: ['programs', id, 'incentive', 'creditPerKwh'], message: `credit ${p.incentive.creditPerKwh} exceeds the ${r} price ${price} of tariff ${p.tariff}` });
          }
        }
      }
    }
  });

export type ReconcileConfig = z.infer<typeof configSchema>;

export interface TariffVersion {
  /** '' for the first version (in effect before every other). */
  effectiveFrom: string;
  defaultPeriod: string;
  windows: z.infer<typeof windowSchema>[];
  prices: Record<string, string>;
  holidays: z.infer<typeof holidaysSchema> | undefined;
}

/** A tariff's versions, each complete (inheritance applied), first one first. */
export function resolvedVersions(t: Pick<z.infer<typeof tariffSchema>, 'defaultPeriod' | 'windows' | 'prices' | 'holidays' | 'versions'>): TariffVersion[] {
  const out: TariffVersion[] = [{ effectiveFrom: '', defaultPeriod: t.defaultPeriod, windows: t.windows, prices: t.prices, holidays: t.holidays }];
  for (const v of t.versions) {
    const prev = out[out.length - 1]!;
    out.push({
      effectiveFrom: v.effectiveFrom,
      defaultPeriod: v.defaultPeriod ?? prev.defaultPeriod,
      windows: v.windows ?? prev.windows,
      prices: { ...prev.prices, ...(v.prices ?? {}) },
      holidays: v.holidays ?? prev.holidays,
    });
  }
  return out;
}
export type ReconcileConfigInput = z.input<typeof configSchema>;
export type RulesConfig = ReconcileConfig['rules'];
export type TariffConfig = ReconcileConfig['tariffs'][string];
export type ProgramConfig = ReconcileConfig['programs'][string];
export type Weekday = (typeof DAYS)[number];
export const WEEKDAYS = DAYS;

/** Validates a config tree (already parsed); throws ConfigError naming every bad option. */
export function resolveConfig(input: unknown = {}): ReconcileConfig {
  const result = configSchema.safeParse(input ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const path = i.path.map(String).join('.') || '(top level)';
      const keys = i.code === 'unrecognized_keys' ? ` (${i.keys.join(', ')})` : '';
      return `${path}: ${i.message}${keys}`;
    });
    throw new ConfigError(`invalid reconcile configuration: ${lines.join('; ')}`);
  }
  return result.data;
}

/** Reads a YAML or JSON file (JSON is YAML) and validates it; no file gives the defaults. */
export function loadReconcileConfig(file?: string): ReconcileConfig {
  if (file === undefined) return resolveConfig({});
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`reconcile config ${file} cannot be read: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`reconcile config ${file} is not valid YAML or JSON: ${(err as Error).message}`);
  }
  if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
    throw new ConfigError(`reconcile config ${file} must hold a mapping at the top level`);
  }
  return resolveConfig(parsed ?? {});
}

/** SHA-256 of the resolved configuration: recorded with each run, so a result names what produced it. */
export function configHash(cfg: ReconcileConfig): string {
  return createHash('sha256').update(JSON.stringify(cfg)).digest('hex');
}

/**
 * "31.25" minor units per kWh -> 31_250_000 millionths of a minor unit per kWh. Exact: digits are
 * shifted, never multiplied as a float.
 */
export function parsePriceMicro(text: string): number {
  if (!PRICE.test(text)) throw new ConfigError(`price ${JSON.stringify(text)}: expected a decimal string with at most 6 decimals`);
  const [whole, frac = ''] = text.split('.') as [string, string?];
  return Number(whole) * 1_000_000 + Number(frac.padEnd(6, '0'));
}
