import { bound, defineRule, flag } from './rule.js';

/**
 * SPIKE: an interval holds more energy than the power limit allows in its length. The limit is
 * the larger of the grant's rate and the enrollment's rated power (what the connection can
 * physically deliver), or a default when neither is known.
 */
export const spike = defineRule({
  code: 'SPIKE',
  key: 'spike',
  summary: "an interval's energy above what the granted or rated power allows in its length",
  evaluate(f, m, o) {
    const limitW = Math.max(f.grant?.rateW ?? 0, f.enrollment?.ratedPowerW ?? 0) || o.defaultRatedPowerW;
    let spikes = 0;
    let worstWh = 0;
    let worstAllowed = 0;
    let worstExcess = 0;
    for (const x of f.intervals) {
      const allowed = bound(((limitW * x.lenS) / 3600) * (1 + o.powerTolerance) + o.slackWh);
      if (x.energyWh > allowed) {
        spikes++;
        if (x.energyWh - allowed > worstExcess) {
          worstExcess = x.energyWh - allowed;
          worstWh = x.energyWh;
          worstAllowed = allowed;
        }
      }
    }
    if (spikes === 0) return null;
    return flag(
      'SPIKE',
      o.severity,
      { spikes, maxIntervalWh: worstWh, allowedWh: worstAllowed, eumdWh: m.eumdWh },
      { limitW, powerTolerance: o.powerTolerance, slackWh: o.slackWh },
    );
  },
});
