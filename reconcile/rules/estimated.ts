import { QUALITY_ESTIMATED, QUALITY_OUTAGE } from '../types.js';
import { defineRule, flag } from './rule.js';

/**
 * ESTIMATED: intervals the EUMD itself marked estimated (quality bit 1) or as spanning a power
 * outage (bit 8). Treatment (docs/reconcile.md): a warning: the session is billed on the register,
 * which measured the energy whatever the interval says, and the bill carries the code so the
 * customer and the billing system see that some of its intervals are not actual readings.
 */
export const estimated = defineRule({
  code: 'ESTIMATED',
  key: 'estimated',
  summary: 'intervals marked estimated or outage by the EUMD',
  evaluate(f, _m, o) {
    let est = 0;
    let estWh = 0;
    let outage = 0;
    let outageWh = 0;
    let marked = 0;
    for (const x of f.intervals) {
      if (x.quality === 0) continue;
      const e = (x.quality & QUALITY_ESTIMATED) !== 0;
      const out = (x.quality & QUALITY_OUTAGE) !== 0;
      if (e) {
        est++;
        estWh += x.energyWh;
      }
      if (out) {
        outage++;
        outageWh += x.energyWh;
      }
      if (e || out) marked++;
    }
    if (marked <= o.maxIntervals) return null;
    return flag('ESTIMATED', o.severity, { intervals: marked, estimated: est, estimatedWh: estWh, outage, outageWh }, { maxIntervals: o.maxIntervals });
  },
});
