import { defineRule, flag } from './rule.js';

/**
 * NOT_ENROLLED: the PEV has no enrollment at the premise (the ESCI's, when known) valid at the
 * session's start, or the ESCI reported the binding as NOT_ENROLLED.
 */
export const notEnrolled = defineRule({
  code: 'NOT_ENROLLED',
  key: 'notEnrolled',
  summary: 'PEV not enrolled at this premise on that date',
  evaluate(f, m, o) {
    const binding = f.start?.binding ?? '';
    if (f.enrollment !== null && binding !== 'NOT_ENROLLED') return null;
    const premise = f.esciPremiseId ?? f.premiseIds[0] ?? '';
    return flag(
      'NOT_ENROLLED',
      o.severity,
      { enrolled: f.enrollment === null ? 0 : 1, bindingNotEnrolled: binding === 'NOT_ENROLLED' ? 1 : 0, sessionStartMs: f.start?.plugInMs ?? m.startMs },
      {},
      `PEV ${f.pevId} at premise ${premise}`,
    );
  },
});
