/**
 * Options of the fleet simulator, validated once into one typed object, and the fault catalogue:
 * what each injected fault kind does and which reconciliation codes it must trigger.
 */
import { ConfigError } from '../../schemas/errors.js';
import { MAX_ID_INDEX } from './ids.js';
import type { FlagCode } from '../../reconcile/types.js';

export const FAULT_KINDS = [
  'resend',
  'out_of_order',
  'gap',
  'interrupted',
  'vehicle_missing',
  'vehicle_off',
  'esci_summary_off',
  'not_enrolled',
  'wrong_premise',
  'clock_skew',
  'future_time',
  'register_reset',
  'exceeds_grant',
  'conflict',
  'negative_interval',
  'spike',
  'off_schedule',
  'malformed',
  // The use case's validation conditions (issue 19). Last, and share 0 by default: fault
  // assignment walks the kinds in order over one shuffle, so kinds added after the others leave
  // every existing seed's sessions, and bytes, as they were.
  'auth_failed',
  'dr_violation',
  'enrollment_ends',
  'foreign_meter',
  'estimated_intervals',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Reconciliation codes the simulator's ground truth refers to: reconciliation's own list (the
 * simulator never injects ADJUSTMENT or UNPRICED; those come from billing state and configuration).
 */
export type { FlagCode } from '../../reconcile/types.js';

/**
 * The codes each fault kind must raise. `gap` raises QUALITY_GATE as well when its missing share
 * is above GAP_QUALITY_GATE_SHARE; the simulator makes half its gap sessions of each size.
 */
export const FAULT_FLAGS: Record<FaultKind, readonly FlagCode[]> = {
  resend: [],
  out_of_order: [],
  gap: ['GAP'],
  interrupted: ['UNFINISHED'],
  vehicle_missing: ['VEHICLE_MISSING'],
  vehicle_off: ['VEHICLE_MISMATCH'],
  esci_summary_off: ['ESCI_MISMATCH'],
  not_enrolled: ['NOT_ENROLLED'],
  wrong_premise: ['PREMISE_MISMATCH'],
  clock_skew: ['CLOCK'],
  future_time: ['CLOCK', 'GAP'],
  register_reset: ['REGISTER_RESET'],
  exceeds_grant: ['EXCEEDS_GRANT'],
  conflict: ['DUPLICATE_CONFLICT'],
  negative_interval: ['NEGATIVE', 'GAP'],
  spike: ['SPIKE'],
  off_schedule: ['OFF_SCHEDULE'],
  malformed: [],
  auth_failed: ['AUTH_FAILED'],
  dr_violation: ['OUTSIDE_GRANT'],
  enrollment_ends: ['ENROLLMENT_CHANGE'],
  foreign_meter: ['METER_MISMATCH'],
  estimated_intervals: ['ESTIMATED'],
};

/** The three message-level corruptions of `malformed`, by the dead-letter code ingest gives them. */
export const MALFORMED_CODES = ['PEV_TRUNCATED', 'PEV_NO_MAGIC', 'PEV_UNKNOWN_SCHEMA'] as const;
export type MalformedCode = (typeof MALFORMED_CODES)[number];
/** A schema ID no registry holds. */
export const UNKNOWN_SCHEMA_ID = 999_999;

/** The missing-interval share above which a session is held (QUALITY_GATE's default threshold). */
export const GAP_QUALITY_GATE_SHARE = 0.1;

/**
 * Small shares, 7.1% of sessions in all, so that a 10,000-session run holds every kind at least
 * 30 times while more than 90% of sessions stay clean. The validation kinds default to 0, so the
 * default fleet of a seed is byte for byte what it was before they existed; VALIDATION_FAULT_SHARES
 * turns them on.
 */
export const defaultFaultShares: Readonly<Record<FaultKind, number>> = {
  resend: 0.005,
  out_of_order: 0.005,
  gap: 0.006,
  interrupted: 0.004,
  vehicle_missing: 0.004,
  vehicle_off: 0.004,
  esci_summary_off: 0.004,
  not_enrolled: 0.004,
  wrong_premise: 0.004,
  clock_skew: 0.004,
  future_time: 0.003,
  register_reset: 0.003,
  exceeds_grant: 0.004,
  conflict: 0.004,
  negative_interval: 0.003,
  spike: 0.003,
  off_schedule: 0.004,
  malformed: 0.003,
  auth_failed: 0,
  dr_violation: 0,
  enrollment_ends: 0,
  foreign_meter: 0,
  estimated_intervals: 0,
};

/** Shares for the validation kinds, on top of the defaults (the ground-truth test uses them). */
export const VALIDATION_FAULT_SHARES: Readonly<Partial<Record<FaultKind, number>>> = {
  auth_failed: 0.003,
  dr_violation: 0.003,
  enrollment_ends: 0.003,
  foreign_meter: 0.003,
  estimated_intervals: 0.003,
};

export const INTERVAL_LENGTHS = [15, 30, 60, 300, 900] as const;
export type IntervalLength = (typeof INTERVAL_LENGTHS)[number];

export interface FleetOptions {
  /** Everything follows from it: same seed and options, same bytes. */
  seed: string;
  /** Premises, each with one enrolled PEV, one ESCI and one EUMD. */
  premises: number;
  /** Sessions plug in within [from, to), UTC ms; they run to completion even past `to`. */
  from: number;
  to: number;
  /** EUMD metering interval, seconds. */
  intervalS: IntervalLength;
  /** Records packed per Kafka message (same ESCI and topic); header `pev-records` when > 1. */
  recordsPerMessage: number;
  /** A Progress event after every this many intervals. */
  progressEvery: number;
  /** The vehicle reports its running total about this often (rounded to whole intervals). */
  vehicleReportEveryS: number;
  /** IANA zone of the premises and the program's time-of-use schedule. */
  timeZone: string;
  /** Share of sessions per fault kind; each faulted session carries exactly one kind. */
  faults: Record<FaultKind, number>;
  /** Whether truth lines carry the per-minute energy (large for long runs). */
  truthMinutes: boolean;
}

/** What callers pass: every field optional; `noFaults` zeroes every share. */
export interface FleetOptionsInput {
  seed?: string | number;
  premises?: number;
  from?: number | string | Date;
  to?: number | string | Date;
  intervalS?: number;
  recordsPerMessage?: number;
  progressEvery?: number;
  vehicleReportEveryS?: number;
  timeZone?: string;
  faults?: Partial<Record<FaultKind, number>>;
  noFaults?: boolean;
  truthMinutes?: boolean;
}

export const DEFAULT_FROM = Date.UTC(2026, 9, 1);
export const DEFAULT_DAYS = 7;
const DAY_MS = 86_400_000;

const KNOWN_OPTIONS = new Set<string>([
  'seed', 'premises', 'from', 'to', 'intervalS', 'recordsPerMessage', 'progressEvery',
  'vehicleReportEveryS', 'timeZone', 'faults', 'noFaults', 'truthMinutes',
]);

function toMs(name: string, v: number | string | Date): number {
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : v.getTime();
  if (!Number.isInteger(ms)) throw new ConfigError(`${name}: expected an ISO date-time or epoch milliseconds, got ${JSON.stringify(v)}`);
  if (ms % 1000 !== 0) throw new ConfigError(`${name}: expected a whole second, got ${new Date(ms).toISOString()}`);
  return ms;
}

function intIn(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new ConfigError(`${name}: expected an integer in [${min}, ${max}], got ${v}`);
  return v;
}

export function resolveFleetOptions(input: FleetOptionsInput = {}): FleetOptions {
  for (const key of Object.keys(input)) {
    if (!KNOWN_OPTIONS.has(key)) throw new ConfigError(`simulateFleet: unknown option "${key}"; known: ${[...KNOWN_OPTIONS].join(', ')}`);
  }
  const from = toMs('from', input.from ?? DEFAULT_FROM);
  const to = toMs('to', input.to ?? from + DEFAULT_DAYS * DAY_MS);
  if (to <= from) throw new ConfigError(`to: expected a time after from (${new Date(from).toISOString()}), got ${new Date(to).toISOString()}`);
  if (to - from > 366 * DAY_MS) throw new ConfigError('to: a simulated range is at most 366 days');
  const intervalS = input.intervalS ?? 60;
  if (!(INTERVAL_LENGTHS as readonly number[]).includes(intervalS)) {
    throw new ConfigError(`intervalS: expected one of ${INTERVAL_LENGTHS.join(', ')} seconds, got ${intervalS}`);
  }
  const faults = {} as Record<FaultKind, number>;
  const given = input.faults ?? (input.noFaults ? {} : defaultFaultShares);
  for (const key of Object.keys(given)) {
    if (!(FAULT_KINDS as readonly string[]).includes(key)) {
      throw new ConfigError(`faults: unknown fault kind "${key}"; known: ${FAULT_KINDS.join(', ')}`);
    }
  }
  let total = 0;
  for (const kind of FAULT_KINDS) {
    const share = input.noFaults ? 0 : (given[kind] ?? 0);
    if (typeof share !== 'number' || !(share >= 0 && share <= 1)) throw new ConfigError(`faults.${kind}: expected a share in [0, 1], got ${share}`);
    faults[kind] = share;
    total += share;
  }
  if (total > 1 + 1e-9) throw new ConfigError(`faults: shares add up to ${total.toFixed(4)}; each faulted session carries one kind, so the sum must be at most 1`);
  const timeZone = input.timeZone ?? 'America/Los_Angeles';
  if (typeof timeZone !== 'string' || timeZone === '') throw new ConfigError('timeZone: expected an IANA time zone name');
  return {
    seed: String(input.seed ?? 1),
    premises: intIn('premises', input.premises ?? 1000, 1, MAX_ID_INDEX - 1),
    from,
    to,
    intervalS: intervalS as IntervalLength,
    recordsPerMessage: intIn('recordsPerMessage', input.recordsPerMessage ?? 1, 1, 4096),
    progressEvery: intIn('progressEvery', input.progressEvery ?? 15, 1, 100_000),
    vehicleReportEveryS: intIn('vehicleReportEveryS', input.vehicleReportEveryS ?? 300, 1, 86_400),
    timeZone,
    faults,
    truthMinutes: input.truthMinutes ?? true,
  };
}
