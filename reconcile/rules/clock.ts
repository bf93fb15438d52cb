import { defineRule, flag } from './rule.js';

/**
 * CLOCK: interval timestamps that cannot be right: in the future (stored past the run's as-of
 * time, or dead-lettered for it), ended before the plug-in, overlapping the previous interval,
 * apart from the previous seq by a time jump, or of another length than the session's.
 */
export const clock = defineRule({
  code: 'CLOCK',
  key: 'clock',
  summary: 'interval in the future, before the session start, overlapping, jumping, or of the wrong length',
  evaluate(f, m, o, ctx) {
    const futureLimit = ctx.asOfMs + o.futureToleranceS * 1000;
    let future = 0;
    let beforeStartS = Number.NEGATIVE_INFINITY;
    const plugIn = f.start?.plugInMs;
    for (const x of f.intervals) {
      const end = x.startMs + x.lenS * 1000;
      if (end > futureLimit) future++;
      if (plugIn !== undefined) beforeStartS = Math.max(beforeStartS, (plugIn - end) / 1000);
    }
    const before = plugIn !== undefined && f.intervals.length > 0 && beforeStartS > o.beforeStartToleranceS;
    const overlap = m.overlaps > 0 && m.maxOverlapS > o.jumpToleranceS;
    const jump = m.timeJumps > 0 && m.maxJumpS > o.jumpToleranceS;
    if (future === 0 && f.deadLetters.clock === 0 && !before && !overlap && !jump && m.wrongLength === 0) return null;
    return flag(
      'CLOCK',
      o.severity,
      {
        future,
        deadLettered: f.deadLetters.clock,
        beforeStartS: Number.isFinite(beforeStartS) ? beforeStartS : 0,
        overlaps: m.overlaps,
        maxOverlapS: m.maxOverlapS,
        timeJumps: m.timeJumps,
        maxJumpS: m.maxJumpS,
        wrongLength: m.wrongLength,
      },
      { futureToleranceS: o.futureToleranceS, beforeStartToleranceS: o.beforeStartToleranceS, jumpToleranceS: o.jumpToleranceS },
    );
  },
});
