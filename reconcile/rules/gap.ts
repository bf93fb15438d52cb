import { defineRule, flag } from './rule.js';

/** GAP: intervals missing by sequence number, by the time a skip spans, or after the last Progress count, with their energy as measured or estimated. */
export const gap = defineRule({
  code: 'GAP',
  key: 'gap',
  summary: 'intervals missing (by seq, by the time a seq skip spans, or after the last Progress count)',
  evaluate(f, m, o) {
    if (m.missing <= o.maxMissing) return null;
    return flag(
      'GAP',
      o.severity,
      {
        missing: m.missing, seen: m.seen, expected: m.expected, deadLetteredNegative: f.deadLetters.negative, deadLetteredClock: f.deadLetters.clock,
        // Their energy: measured across the gap by the register (exact, billed), and interpolated
        // where no reading spans it (billed, marked 'estimated', unless rules.estimateShare.method is none).
        registerGapWh: m.registerGapWh, interpolated: m.interpolated, interpolatedWh: m.interpolatedWh,
      },
      { maxMissing: o.maxMissing },
    );
  },
});
