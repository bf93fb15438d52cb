import { defineRule, flag, ratio } from './rule.js';

/** QUALITY_GATE: the share of missing intervals is too high to bill on. */
export const qualityGate = defineRule({
  code: 'QUALITY_GATE',
  key: 'qualityGate',
  summary: 'share of missing intervals above the gate',
  evaluate(_f, m, o) {
    if (m.expected === 0) return null;
    // Compared as missing > share * expected, exact for the shares people write (0.1, 0.05).
    if (m.missing <= o.maxMissingShare * m.expected + 1e-9) return null;
    return flag('QUALITY_GATE', o.severity, { missingShare: ratio(m.missing, m.expected), missing: m.missing, expected: m.expected }, { maxMissingShare: o.maxMissingShare });
  },
});
