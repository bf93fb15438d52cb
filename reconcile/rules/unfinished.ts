import { defineRule, flag } from './rule.js';

/**
 * UNFINISHED: no end summary had arrived by the run's as-of time. The session is billed from the
 * EUMD energy to the last interval received when nothing else holds it; the flag says so.
 */
export const unfinished = defineRule({
  code: 'UNFINISHED',
  key: 'unfinished',
  summary: 'no end summary by the cutoff: billed to the last interval received',
  evaluate(f, m, o, ctx) {
    if (f.end !== null) return null;
    return flag('UNFINISHED', o.severity, { lastIntervalEndMs: m.seen > 0 ? m.endMs : 0, eumdWh: m.eumdWh, seen: m.seen }, { cutoffMs: ctx.asOfMs });
  },
});
