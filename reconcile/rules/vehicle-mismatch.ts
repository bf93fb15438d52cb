import { bound, defineRule, flag, ratio } from './rule.js';

/**
 * VEHICLE_MISMATCH: the vehicle's final running total and the EUMD energy disagree by more than
 * the larger of an absolute and a relative band (docs/reconcile.md explains the defaults).
 */
export const vehicleMismatch = defineRule({
  code: 'VEHICLE_MISMATCH',
  key: 'vehicleMismatch',
  summary: "vehicle's running total and EUMD energy differ beyond max(absolute, relative) band",
  evaluate(f, m, o) {
    if (f.vehicle === null) return null;
    const diff = f.vehicle.runningWh - m.eumdWh;
    const allowed = Math.max(o.toleranceWh, bound(o.toleranceShare * Math.abs(m.eumdWh)));
    if (Math.abs(diff) <= allowed) return null;
    return flag(
      'VEHICLE_MISMATCH',
      o.severity,
      { vehicleWh: f.vehicle.runningWh, eumdWh: m.eumdWh, diffWh: diff, diffShare: ratio(diff, m.eumdWh) },
      { toleranceWh: o.toleranceWh, toleranceShare: o.toleranceShare, allowedWh: allowed },
    );
  },
});
