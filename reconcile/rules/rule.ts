/**
 * The shape of a rule: a stable code, the config key of its thresholds, and a pure function from a
 * session's facts and measures to at most one flag. Severity comes from configuration (each rule
 * has a documented default); thresholds are compared "observed > threshold raises".
 */
import type { ProgramConfig, RulesConfig } from '../config.js';
import type { Flag, FlagCode, Period, SessionFacts, SessionMeasures, Severity } from '../types.js';

export interface RuleContext {
  /** The run's "now": intervals after it are in the future. */
  asOfMs: number;
  period: Period;
  /** The session's program, when enrolled in one the configuration knows. */
  program: ProgramConfig | null;
  /** Resolved tariff ID, null when the session cannot be priced. */
  tariffId: string | null;
  /** Whole-session energy by tariff period name (not only the billing period's part). */
  touWh: Readonly<Record<string, number>> | null;
}

export type RuleKey = keyof RulesConfig;

export interface Rule<K extends RuleKey> {
  readonly code: FlagCode;
  readonly key: K;
  /** One line for docs and the report. */
  readonly summary: string;
  evaluate(f: SessionFacts, m: SessionMeasures, o: RulesConfig[K], ctx: RuleContext): Flag | null;
}

/** A rule with its config key erased, so rules of different keys share one table. */
export interface AnyRule {
  readonly code: FlagCode;
  readonly key: RuleKey;
  readonly summary: string;
  run(f: SessionFacts, m: SessionMeasures, rules: RulesConfig, ctx: RuleContext): Flag | null;
}

export function defineRule<K extends RuleKey>(r: Rule<K>): AnyRule {
  return {
    code: r.code,
    key: r.key,
    summary: r.summary,
    run: (f, m, rules, ctx) => r.evaluate(f, m, rules[r.key], ctx),
  };
}

export function flag(
  code: FlagCode,
  severity: Severity,
  observed: Record<string, number>,
  threshold: Record<string, number>,
  detail?: string,
): Flag {
  return detail === undefined ? { code, severity, observed, threshold } : { code, severity, observed, threshold, detail };
}

/**
 * Computed thresholds (a share of an energy, a power over a length) are rounded to 6 decimals so
 * that "at the threshold" means what it says: 120 * 1.1 is 132, not 132.00000000000003.
 */
export function bound(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** A share as a number with 6 decimals, for `observed`. */
export function ratio(a: number, b: number): number {
  return b === 0 ? 0 : Math.round((a / b) * 1e6) / 1e6;
}
