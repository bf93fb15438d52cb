import { defineRule, flag } from './rule.js';

/** DUPLICATE_CONFLICT: the same interval (session, seq) received with different contents. */
export const duplicateConflict = defineRule({
  code: 'DUPLICATE_CONFLICT',
  key: 'duplicateConflict',
  summary: 'the same interval received with different values (the first received counts)',
  evaluate(_f, m, o) {
    if (m.conflicts <= o.maxConflicts) return null;
    return flag('DUPLICATE_CONFLICT', o.severity, { conflicts: m.conflicts, maxDeltaWh: m.conflictMaxDeltaWh }, { maxConflicts: o.maxConflicts });
  },
});
