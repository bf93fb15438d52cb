import { defineRule, flag } from './rule.js';

/** REGISTER_RESET: the register reading goes backwards; the energy is summed per segment. */
export const registerReset = defineRule({
  code: 'REGISTER_RESET',
  key: 'registerReset',
  summary: 'register reading goes backwards (energy summed per segment)',
  evaluate(_f, m, o) {
    if (m.resets <= o.maxResets) return null;
    return flag('REGISTER_RESET', o.severity, { resets: m.resets, eumdWh: m.eumdWh }, { maxResets: o.maxResets });
  },
});
