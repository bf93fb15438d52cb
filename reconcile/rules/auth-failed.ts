import { defineRule, flag } from './rule.js';

/**
 * AUTH_FAILED: the ESCI reported the PEV's binding as AUTH_FAILED (use case step 2: the PEV was
 * not authenticated), so nothing ties the energy to the enrolled vehicle. NOT_ENROLLED covers the
 * other failed binding result.
 */
export const authFailed = defineRule({
  code: 'AUTH_FAILED',
  key: 'authFailed',
  summary: 'the ESCI reported the binding as AUTH_FAILED (PEV not authenticated)',
  evaluate(f, m, o) {
    if (f.start?.binding !== 'AUTH_FAILED') return null;
    return flag('AUTH_FAILED', o.severity, { sessionStartMs: f.start.plugInMs, eumdWh: m.eumdWh }, {}, `binding ${f.start.binding} reported by ESCI ${f.esciId}`);
  },
});
