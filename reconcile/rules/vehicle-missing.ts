import { defineRule, flag } from './rule.js';

/** VEHICLE_MISSING: energy was metered but the vehicle never reported a running total. */
export const vehicleMissing = defineRule({
  code: 'VEHICLE_MISSING',
  key: 'vehicleMissing',
  summary: 'no vehicle running total for a session with metered energy',
  evaluate(f, m, o) {
    if (f.vehicle !== null || m.eumdWh <= 0) return null;
    return flag('VEHICLE_MISSING', o.severity, { eumdWh: m.eumdWh, vehicleReports: 0 }, {});
  },
});
