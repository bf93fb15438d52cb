/**
 * The shapes reconciliation works on: a session's facts as read from the store (facts.ts), the
 * measures derived from them once (measures.ts), and the flags rules return (rules/).
 * All energy in integer Wh, all times in UTC epoch milliseconds.
 */

/** Every code a reconciliation flag can carry. Stable: stored, exported and documented. */
export const FLAG_CODES = [
  'GAP',
  'QUALITY_GATE',
  'DUPLICATE_CONFLICT',
  'SUM_CHECK',
  'REGISTER_RESET',
  'NEGATIVE',
  'SPIKE',
  'CLOCK',
  'VEHICLE_MISMATCH',
  'VEHICLE_MISSING',
  'ESCI_MISMATCH',
  'UNFINISHED',
  'NOT_ENROLLED',
  'PREMISE_MISMATCH',
  'EXCEEDS_GRANT',
  'OFF_SCHEDULE',
  'ADJUSTMENT',
  'UNPRICED',
  'AUTH_FAILED',
  'OUTSIDE_GRANT',
  'ENROLLMENT_CHANGE',
  'METER_MISMATCH',
  'ESTIMATED',
  'ESTIMATE_SHARE',
] as const;
export type FlagCode = (typeof FLAG_CODES)[number];

/** warn: billed, and the bill says why; hold: not billed until someone looks. */
export type Severity = 'warn' | 'hold';

export interface Flag {
  code: FlagCode;
  severity: Severity;
  /** The numbers that triggered the flag. */
  observed: Record<string, number>;
  /** The threshold(s) that applied; the flag is raised when an observed value is above its threshold. */
  threshold: Record<string, number>;
  /** Context that is not a number (the premise IDs of a mismatch). */
  detail?: string;
}

/** One interval of a session after read-time deduplication: the first received content of its seq. */
export interface IntervalFact {
  seq: number;
  startMs: number;
  lenS: number;
  energyWh: number;
  registerWh: number;
  /** The EUMD's quality bits: 1 estimated, 2 clock adjusted, 4 register reset seen, 8 outage (ESTIMATED reads 1 and 8). */
  quality: number;
  /** Distinct contents received for this seq: above 1 is a conflict. */
  copies: number;
  /** Largest |energy of another content - energy of the counted one|, Wh; 0 without conflict. */
  conflictDeltaWh: number;
}

export interface EnrollmentFact {
  pevId: string;
  premiseId: string;
  accountId: string;
  programId: string;
  tariffId: string;
  esciId: string;
  eumdId: string;
  validFromMs: number;
  /** 0: open-ended. */
  validToMs: number;
  ratedPowerW: number;
}

export interface SessionFacts {
  sessionId: string;
  esciId: string;
  eumdId: string;
  pevId: string;
  /** Distinct premise IDs the session's records carry (intervals and events), sorted. */
  premiseIds: string[];
  /** Unique intervals in seq order. */
  intervals: IntervalFact[];
  start: { plugInMs: number; binding: string } | null;
  request: { requestedWh: number; maxRateW: number } | null;
  grant: { grantedWh: number; rateW: number; scheduleStartMs: number; scheduleEndMs: number; delayReason: string } | null;
  progress: { runningWh: number; intervals: number } | null;
  end: { startMs: number; endMs: number; durationS: number; energyWh: number } | null;
  vehicle: { reports: number; runningWh: number; lastReportMs: number } | null;
  /** Dead-lettered records that name this session, by reason. */
  deadLetters: { negative: number; clock: number; other: number };
  /** Earliest and latest event time (0 when no event). */
  firstEventMs: number;
  lastEventMs: number;
  /** The PEV's enrollment at the ESCI's premise (or the reported one) valid at the session start. */
  enrollment: EnrollmentFact | null;
  /** Premise the ESCI belongs to by enrollment, valid at the session start; null when unknown. */
  esciPremiseId: string | null;
  /** Distinct EUMD IDs the session's intervals carry, sorted. */
  eumdIds: string[];
  /** Distinct seqs of the session's dead-lettered intervals whose record could be read, sorted. */
  deadIntervalSeqs: number[];
  /** The PEV's enrollment at the same premise valid at the session's last instant (see sessionEndMs). */
  enrollmentAtEnd: EnrollmentFact | null;
}

/** The EUMD quality bits (schemas/avro/eumd-interval.avsc). */
export const QUALITY_ESTIMATED = 1;
export const QUALITY_OUTAGE = 8;

/**
 * The end of a session for enrollment validity: the later of its last interval's end and its end
 * summary's end; the first event when it has neither. Facts and rules both use it, so the
 * enrollment looked up at the end and the rule comparing against it agree.
 */
export function sessionEndMs(f: Pick<SessionFacts, 'intervals' | 'end' | 'lastEventMs'>): number {
  let end = f.end?.endMs ?? 0;
  for (const x of f.intervals) end = Math.max(end, x.startMs + x.lenS * 1000);
  return end > 0 ? end : f.lastEventMs;
}

/** A stretch of the session's energy timeline: [startMs, endMs) holding wh. */
export interface Piece {
  startMs: number;
  endMs: number;
  wh: number;
}

/** Everything derived from a session's facts that does not depend on configuration. */
export interface SessionMeasures {
  /** The session's interval length: the most common one (shortest on a tie); 0 without intervals. */
  intervalS: number;
  /** First interval start and last interval end; event times when there is no interval. */
  startMs: number;
  endMs: number;
  seen: number;
  /** Intervals the session should have: max(last seq + 1, last Progress count, last dead-lettered seq + 1). */
  expected: number;
  /** Missing intervals: seq skips (or the time they span, if larger) plus the tail after the last one received. */
  missing: number;
  /** Time spans of missing intervals, for the report. */
  gapRanges: [number, number][];
  conflicts: number;
  conflictMaxDeltaWh: number;
  negatives: number;
  minEnergyWh: number;
  /** Intervals of another length than intervalS. */
  wrongLength: number;
  /** Consecutive seqs where the later starts before the earlier ends, by more than 0 s. */
  overlaps: number;
  maxOverlapS: number;
  /** Consecutive seqs with time between them (timestamps disagree with sequence numbers). */
  timeJumps: number;
  maxJumpS: number;
  /** False when every register reading is 0 (a meter that does not send one). */
  registerAvailable: boolean;
  /** Register goes backwards between consecutive intervals received. */
  resets: number;
  /** EUMD energy, register first: sum over register segments of last minus first reading. */
  eumdWh: number;
  intervalSumWh: number;
  /** Register delta and interval sum over contiguous seq runs (the sum check compares these). */
  runRegisterWh: number;
  runIntervalWh: number;
  /** The energy timeline: sums exactly to eumdWh. */
  pieces: Piece[];
  /**
   * Energy of missing intervals the register measured across their gap (readings on both sides,
   * no reset between): exact, and already in eumdWh.
   */
  registerGapWh: number;
  /**
   * Missing intervals no register reading spans (before the first, after the last, across a
   * reset, or every gap of a meter without a register), and their interpolated energy and
   * timeline (estimate.ts). Not in eumdWh: billed only with `rules.estimateShare.method: interpolate`.
   */
  interpolated: number;
  interpolatedWh: number;
  interpolatedPieces: Piece[];
}

export interface PeriodFilter {
  accountId?: string;
  premiseId?: string;
  pevId?: string;
  programId?: string;
}

export interface Period {
  /** UTC epoch ms, inclusive. */
  fromMs: number;
  /** UTC epoch ms, exclusive. */
  toMs: number;
}
