/**
 * The rule table, in the order flags are reported. One module per rule; ADJUSTMENT is raised by
 * billing (rules/adjustment.ts), the rest by `evaluateRules` over a session's facts.
 */
import type { RulesConfig } from '../config.js';
import type { Flag, SessionFacts, SessionMeasures } from '../types.js';
import { authFailed } from './auth-failed.js';
import { clock } from './clock.js';
import { duplicateConflict } from './duplicate-conflict.js';
import { enrollmentChange } from './enrollment-change.js';
import { esciMismatch } from './esci-mismatch.js';
import { estimated } from './estimated.js';
import { estimateShare } from './estimate-share.js';
import { exceedsGrant } from './exceeds-grant.js';
import { gap } from './gap.js';
import { meterMismatch } from './meter-mismatch.js';
import { negative } from './negative.js';
import { notEnrolled } from './not-enrolled.js';
import { offSchedule } from './off-schedule.js';
import { outsideGrant } from './outside-grant.js';
import { premiseMismatch } from './premise-mismatch.js';
import { qualityGate } from './quality-gate.js';
import { registerReset } from './register-reset.js';
import type { AnyRule, RuleContext } from './rule.js';
import { spike } from './spike.js';
import { sumCheck } from './sum-check.js';
import { unfinished } from './unfinished.js';
import { unpriced } from './unpriced.js';
import { vehicleMismatch } from './vehicle-mismatch.js';
import { vehicleMissing } from './vehicle-missing.js';

export { adjustmentFlag, type AdjustmentInput } from './adjustment.js';
export type { AnyRule, RuleContext } from './rule.js';

export const RULES: readonly AnyRule[] = [
  gap,
  qualityGate,
  duplicateConflict,
  sumCheck,
  registerReset,
  negative,
  spike,
  clock,
  vehicleMismatch,
  vehicleMissing,
  esciMismatch,
  unfinished,
  notEnrolled,
  premiseMismatch,
  exceedsGrant,
  offSchedule,
  unpriced,
  authFailed,
  outsideGrant,
  enrollmentChange,
  meterMismatch,
  estimated,
  estimateShare,
];

export function evaluateRules(f: SessionFacts, m: SessionMeasures, rules: RulesConfig, ctx: RuleContext): Flag[] {
  const out: Flag[] = [];
  for (const r of RULES) {
    const fl = r.run(f, m, rules, ctx);
    if (fl !== null) out.push(fl);
  }
  return out;
}

export function isHeld(flags: readonly Flag[]): boolean {
  return flags.some((f) => f.severity === 'hold');
}
