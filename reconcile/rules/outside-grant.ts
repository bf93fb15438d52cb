import { defineRule, flag } from './rule.js';

/**
 * OUTSIDE_GRANT: energy delivered outside the schedule of the Energy Available grant (step 5)
 * while the utility had delayed the charge (step 7: OFF_PEAK, DEMAND_RESPONSE or RANDOM_DELAY).
 * Only intervals wholly outside [schedule start, schedule end) count: an EUMD interval that
 * straddles an edge also holds energy after the start (charging starts at a whole second, not on
 * an interval boundary), and proportion would put part of it before. Treatment (docs/reconcile.md):
 * a warning, and programs list the code in `incentive.withheldOn` to forfeit the session's credit.
 */
export const outsideGrant = defineRule({
  code: 'OUTSIDE_GRANT',
  key: 'outsideGrant',
  summary: 'energy outside the granted schedule while a delay (demand response, off-peak, random) was in force',
  evaluate(f, m, o) {
    const g = f.grant;
    if (g === null || g.delayReason === 'NONE' || g.delayReason === '') return null;
    let beforeWh = 0;
    let afterWh = 0;
    for (const p of m.pieces) {
      if (p.endMs <= g.scheduleStartMs) beforeWh += p.wh;
      else if (g.scheduleEndMs > 0 && p.startMs >= g.scheduleEndMs) afterWh += p.wh;
    }
    const outsideWh = beforeWh + afterWh;
    if (outsideWh <= o.toleranceWh) return null;
    return flag(
      'OUTSIDE_GRANT',
      o.severity,
      { outsideWh, beforeStartWh: beforeWh, afterEndWh: afterWh, eumdWh: m.eumdWh, scheduleStartMs: g.scheduleStartMs, scheduleEndMs: g.scheduleEndMs },
      { toleranceWh: o.toleranceWh },
      `delay reason ${g.delayReason}`,
    );
  },
});
