import { defineRule, flag } from './rule.js';

/** PREMISE_MISMATCH: the records name a premise the ESCI does not belong to, or more than one premise. */
export const premiseMismatch = defineRule({
  code: 'PREMISE_MISMATCH',
  key: 'premiseMismatch',
  summary: 'ESCI reports for a premise it does not belong to',
  evaluate(f, _m, o) {
    const esciPremise = f.esciPremiseId;
    const foreign = esciPremise === null ? [] : f.premiseIds.filter((p) => p !== esciPremise);
    if (foreign.length === 0 && f.premiseIds.length <= 1) return null;
    return flag(
      'PREMISE_MISMATCH',
      o.severity,
      { reportedPremises: f.premiseIds.length, foreignPremises: foreign.length },
      {},
      `ESCI ${f.esciId} belongs to ${esciPremise ?? 'no known premise'}; records name ${f.premiseIds.join(', ')}`,
    );
  },
});
