import { defineRule, flag } from './rule.js';

/**
 * OFF_SCHEDULE: energy in the periods the program asks customers to avoid (EV-TOU-OFFPEAK: the
 * tariff's peak), measured by the same exact time-of-use split as billing.
 */
export const offSchedule = defineRule({
  code: 'OFF_SCHEDULE',
  key: 'offSchedule',
  summary: "charging in the program's restricted time-of-use periods",
  evaluate(f, _m, o, ctx) {
    const restricted = ctx.program?.restrictedPeriods ?? [];
    if (restricted.length === 0 || ctx.touWh === null) return null;
    let wh = 0;
    for (const p of restricted) wh += ctx.touWh[p] ?? 0;
    if (wh <= o.toleranceWh) return null;
    return flag('OFF_SCHEDULE', o.severity, { restrictedWh: wh }, { toleranceWh: o.toleranceWh }, `periods ${restricted.join(', ')}; delay reason ${f.grant?.delayReason ?? 'none reported'}`);
  },
});
