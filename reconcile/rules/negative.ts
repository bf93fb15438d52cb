import { defineRule, flag } from './rule.js';

/** NEGATIVE: an interval with negative energy, stored or dead-lettered (PEV_NEGATIVE_ENERGY). */
export const negative = defineRule({
  code: 'NEGATIVE',
  key: 'negative',
  summary: 'an interval with negative energy (stored or dead-lettered)',
  evaluate(f, m, o) {
    const count = m.negatives + f.deadLetters.negative;
    if (count <= o.maxNegative) return null;
    return flag('NEGATIVE', o.severity, { stored: m.negatives, deadLettered: f.deadLetters.negative, minEnergyWh: m.minEnergyWh }, { maxNegative: o.maxNegative });
  },
});
