import { defineRule, flag } from './rule.js';

/** GAP: intervals missing by sequence number, by the time a skip spans, or after the last Progress count. */
export const gap = defineRule({
  code: 'GAP',
  key: 'gap',
  summary: 'intervals missing (by seq, by the time a seq skip spans, or after the last Progress count)',
  evaluate(f, m, o) {
    if (m.missing <= o.maxMissing) return null;
    return flag(
      'GAP',
      o.severity,
      { missing: m.missing, seen: m.seen, expected: m.expected, deadLetteredNegative: f.deadLetters.negative, deadLetteredClock: f.deadLetters.clock },
      { maxMissing: o.maxMissing },
    );
  },
});
