/**
 * In-memory session facts for unit tests: a clean session of n intervals, then edits.
 */
import type { EnrollmentFact, IntervalFact, SessionFacts } from '../../reconcile/types.js';

export const START = Date.UTC(2026, 9, 6, 5, 0, 0); // 22:00 PDT, off-peak
export const ENROLLMENT: EnrollmentFact = {
  pevId: '1HGCM82633A004352',
  premiseId: 'P000000001',
  accountId: 'A000000001',
  programId: 'EV-TOU-OFFPEAK',
  tariffId: 'EV-TOU-2026',
  esciId: 'ESCI-0000000A',
  eumdId: 'EUMD-0000000A',
  validFromMs: Date.UTC(2025, 0, 1),
  validToMs: 0,
  ratedPowerW: 7200,
};

export interface CleanOptions {
  n?: number;
  wh?: number;
  lenS?: number;
  startMs?: number;
  register0?: number;
}

/** A clean session: n intervals of wh each, register continuous, summary, grant and vehicle agreeing. */
export function clean(o: CleanOptions = {}): SessionFacts {
  const n = o.n ?? 30;
  const wh = o.wh ?? 100;
  const L = o.lenS ?? 60;
  const start = o.startMs ?? START;
  let reg = o.register0 ?? 5_000_000;
  const intervals: IntervalFact[] = [];
  for (let k = 0; k < n; k++) {
    reg += wh;
    intervals.push({ seq: k, startMs: start + k * L * 1000, lenS: L, energyWh: wh, registerWh: reg, quality: 0, copies: 1, conflictDeltaWh: 0 });
  }
  const total = n * wh;
  const end = start + n * L * 1000;
  return {
    sessionId: 'S-00000000000000aa',
    esciId: ENROLLMENT.esciId,
    eumdId: ENROLLMENT.eumdId,
    pevId: ENROLLMENT.pevId,
    premiseIds: [ENROLLMENT.premiseId],
    intervals,
    start: { plugInMs: start - 20_000, binding: 'BOUND' },
    request: { requestedWh: total + 1000, maxRateW: 7200 },
    grant: { grantedWh: total, rateW: 7200, scheduleStartMs: start, scheduleEndMs: end + 3_600_000, delayReason: 'NONE' },
    progress: { runningWh: total, intervals: n },
    end: { startMs: start, endMs: end, durationS: n * L, energyWh: total },
    vehicle: { reports: 2, runningWh: total, lastReportMs: end },
    deadLetters: { negative: 0, clock: 0, other: 0 },
    firstEventMs: start - 15_000,
    lastEventMs: end + 2_000,
    enrollment: { ...ENROLLMENT },
    esciPremiseId: ENROLLMENT.premiseId,
    eumdIds: [ENROLLMENT.eumdId],
    deadIntervalSeqs: [],
    enrollmentAtEnd: { ...ENROLLMENT },
  };
}

/** Removes the intervals at the given indexes (as if never received). */
export function drop(f: SessionFacts, ...indexes: number[]): SessionFacts {
  const gone = new Set(indexes);
  return { ...f, intervals: f.intervals.filter((_, k) => !gone.has(k)) };
}

/** Edits interval k. */
export function edit(f: SessionFacts, k: number, patch: Partial<IntervalFact>): SessionFacts {
  return { ...f, intervals: f.intervals.map((x, i) => (i === k ? { ...x, ...patch } : x)) };
}
