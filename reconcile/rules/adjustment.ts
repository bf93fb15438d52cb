/**
 * ADJUSTMENT: a billing record differs from the version already exported (or appears after the
 * period was exported). Raised by billing.ts when it writes a new version, never by a session's
 * facts alone, so it is not in the per-session rule table.
 */
import type { RulesConfig } from '../config.js';
import type { Flag } from '../types.js';
import { flag } from './rule.js';

export interface AdjustmentInput {
  /** Last exported version, 0 when none. */
  exportedVersion: number;
  exportedEnergyWh: number;
  exportedAmountMinor: number;
  version: number;
  energyWh: number;
  amountMinor: number;
  /** 1 when the session is no longer billable (a VOID version). */
  voided: boolean;
}

export function adjustmentFlag(a: AdjustmentInput, o: RulesConfig['adjustment']): Flag {
  return flag(
    'ADJUSTMENT',
    o.severity,
    {
      exportedVersion: a.exportedVersion,
      exportedEnergyWh: a.exportedEnergyWh,
      exportedAmountMinor: a.exportedAmountMinor,
      version: a.version,
      energyWh: a.energyWh,
      amountMinor: a.amountMinor,
      deltaEnergyWh: a.energyWh - a.exportedEnergyWh,
      deltaAmountMinor: a.amountMinor - a.exportedAmountMinor,
      voided: a.voided ? 1 : 0,
    },
    {},
  );
}
