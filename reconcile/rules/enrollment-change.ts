import { sessionEndMs } from '../types.js';
import { defineRule, flag } from './rule.js';

/**
 * ENROLLMENT_CHANGE: the enrollment ends inside the session (valid at its start, not at its end),
 * or one starts inside it (none, or another, at its start). The program's prices and incentive
 * apply only while enrolled, so the session is held for a person to bill the enrolled part;
 * NOT_ENROLLED is raised as well when no enrollment was valid at the start.
 */
export const enrollmentChange = defineRule({
  code: 'ENROLLMENT_CHANGE',
  key: 'enrollmentChange',
  summary: 'the enrollment ends or starts inside the session',
  evaluate(f, m, o) {
    const startMs = f.start?.plugInMs ?? m.startMs;
    const endMs = sessionEndMs(f);
    const e = f.enrollment;
    const later = f.enrollmentAtEnd;
    // Seconds of the session outside the enrollment of its start, and before the one of its end.
    const endedS = e !== null && e.validToMs !== 0 && e.validToMs < endMs ? (endMs - Math.max(e.validToMs, startMs)) / 1000 : 0;
    const startedS = later !== null && later.validFromMs > startMs && later.validFromMs !== e?.validFromMs ? (Math.min(later.validFromMs, endMs) - startMs) / 1000 : 0;
    if (Math.max(endedS, startedS) <= o.toleranceS) return null;
    return flag(
      'ENROLLMENT_CHANGE',
      o.severity,
      {
        sessionStartMs: startMs,
        sessionEndMs: endMs,
        enrollmentEndMs: endedS > 0 ? e!.validToMs : 0,
        enrollmentStartMs: startedS > 0 ? later!.validFromMs : 0,
        endedS,
        startedS,
      },
      { toleranceS: o.toleranceS },
      `PEV ${f.pevId} program ${e?.programId ?? later?.programId ?? 'none'}`,
    );
  },
});
