import { bound, defineRule, flag } from './rule.js';

/**
 * SUM_CHECK: over runs of consecutive seqs, the register delta and the interval energies must
 * agree (intervals are register differences on a healthy meter). Gaps are left out: the register
 * spans them, the intervals cannot.
 */
export const sumCheck = defineRule({
  code: 'SUM_CHECK',
  key: 'sumCheck',
  summary: 'interval sum and register delta disagree over contiguous runs',
  evaluate(_f, m, o) {
    if (!m.registerAvailable) return null;
    const diff = Math.abs(m.runRegisterWh - m.runIntervalWh);
    const allowed = Math.max(o.toleranceWh, bound(o.toleranceShare * Math.abs(m.runRegisterWh)));
    if (diff <= allowed) return null;
    return flag(
      'SUM_CHECK',
      o.severity,
      { registerWh: m.runRegisterWh, intervalWh: m.runIntervalWh, diffWh: diff },
      { toleranceWh: o.toleranceWh, toleranceShare: o.toleranceShare, allowedWh: allowed },
    );
  },
});
