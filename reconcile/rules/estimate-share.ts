import { defineRule, flag, ratio } from './rule.js';

/**
 * ESTIMATE_SHARE: too much of the session's energy would be interpolated (estimate.ts): missing
 * intervals no register reading spans. The share is interpolated Wh over the session's energy with
 * them (EUMD + interpolated). With `method: none` nothing is interpolated, so nothing is raised
 * here (GAP and QUALITY_GATE still count the missing intervals). Exact register fills are not
 * estimates and do not count.
 */
export const estimateShare = defineRule({
  code: 'ESTIMATE_SHARE',
  key: 'estimateShare',
  summary: 'share of the session\'s energy interpolated for missing intervals above the limit',
  evaluate(_f, m, o) {
    if (o.method === 'none' || m.interpolatedWh <= 0) return null;
    const total = m.eumdWh + m.interpolatedWh;
    const share = ratio(m.interpolatedWh, total);
    if (share <= o.maxShare) return null;
    return flag(
      'ESTIMATE_SHARE',
      o.severity,
      { interpolatedWh: m.interpolatedWh, interpolated: m.interpolated, registerGapWh: m.registerGapWh, sessionWh: total, share },
      { maxShare: o.maxShare },
    );
  },
});
