import { bound, defineRule, flag, ratio } from './rule.js';

/** EXCEEDS_GRANT: more energy delivered than the Energy Available granted (step 5). */
export const exceedsGrant = defineRule({
  code: 'EXCEEDS_GRANT',
  key: 'exceedsGrant',
  summary: 'more energy delivered than the Energy Available grant',
  evaluate(f, m, o) {
    if (f.grant === null) return null;
    const over = m.eumdWh - f.grant.grantedWh;
    const allowed = Math.max(o.toleranceWh, bound(o.toleranceShare * f.grant.grantedWh));
    if (over <= allowed) return null;
    return flag(
      'EXCEEDS_GRANT',
      o.severity,
      { eumdWh: m.eumdWh, grantedWh: f.grant.grantedWh, overWh: over, overShare: ratio(over, f.grant.grantedWh) },
      { toleranceWh: o.toleranceWh, toleranceShare: o.toleranceShare, allowedWh: allowed },
    );
  },
});
