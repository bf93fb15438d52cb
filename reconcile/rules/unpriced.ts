import { defineRule, flag } from './rule.js';

/** UNPRICED: enrolled in a program or tariff the configuration does not define: cannot be billed. */
export const unpriced = defineRule({
  code: 'UNPRICED',
  key: 'unpriced',
  summary: "enrolled program or tariff not in the configuration",
  evaluate(f, _m, o, ctx) {
    if (f.enrollment === null || ctx.tariffId !== null) return null;
    return flag('UNPRICED', o.severity, {}, {}, `program ${f.enrollment.programId}, tariff ${f.enrollment.tariffId}`);
  },
});
