import { bound, defineRule, flag } from './rule.js';

/**
 * ESCI_MISMATCH: the ESCI's end summary disagrees with the intervals: its energy with the EUMD
 * energy, its end with the last interval (which must contain it), its duration with the time the
 * intervals span or with its own start and end.
 */
export const esciMismatch = defineRule({
  code: 'ESCI_MISMATCH',
  key: 'esciMismatch',
  summary: "ESCI end summary's energy or duration disagrees with the intervals",
  evaluate(f, m, o) {
    const end = f.end;
    if (end === null || m.seen === 0) return null;
    const energyDiff = end.energyWh - m.eumdWh;
    const allowedWh = Math.max(o.energyToleranceWh, bound(o.energyToleranceShare * Math.abs(m.eumdWh)));
    const spanS = (m.endMs - m.startMs) / 1000;
    const durationExcessS = end.durationS - spanS;
    const endAfterS = (end.endMs - m.endMs) / 1000;
    const endBeforeS = (m.endMs - m.intervalS * 1000 - end.endMs) / 1000;
    const selfS = Math.abs(end.durationS - (end.endMs - end.startMs) / 1000);
    const tol = o.durationToleranceS;
    const energyOff = Math.abs(energyDiff) > allowedWh;
    const timeOff = durationExcessS > tol || endAfterS > tol || endBeforeS > tol || selfS > tol;
    if (!energyOff && !timeOff) return null;
    return flag(
      'ESCI_MISMATCH',
      o.severity,
      { summaryWh: end.energyWh, eumdWh: m.eumdWh, diffWh: energyDiff, summaryDurationS: end.durationS, intervalSpanS: spanS, endAfterLastIntervalS: endAfterS, endBeforeLastIntervalS: endBeforeS },
      { energyToleranceWh: o.energyToleranceWh, energyToleranceShare: o.energyToleranceShare, allowedWh, durationToleranceS: tol },
    );
  },
});
