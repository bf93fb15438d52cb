import { defineRule, flag } from './rule.js';

/**
 * METER_MISMATCH: the intervals come from an EUMD that is not the one enrolled for the PEV at the
 * premise (a swapped or foreign submeter), so they are not the billing-grade measure of this
 * enrollment. Without an enrollment there is nothing to compare with (NOT_ENROLLED holds it).
 */
export const meterMismatch = defineRule({
  code: 'METER_MISMATCH',
  key: 'meterMismatch',
  summary: 'intervals from an EUMD other than the enrolled one',
  evaluate(f, _m, o) {
    const enrolled = f.enrollment?.eumdId;
    if (enrolled === undefined || enrolled === '') return null;
    const foreign = f.eumdIds.filter((id) => id !== enrolled);
    if (foreign.length === 0) return null;
    return flag(
      'METER_MISMATCH',
      o.severity,
      { meters: f.eumdIds.length, foreignMeters: foreign.length },
      {},
      `enrolled EUMD ${enrolled}; intervals from ${f.eumdIds.join(', ')}`,
    );
  },
});
