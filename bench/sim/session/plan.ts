/**
 * Steps 1-7 of a session up to the power curve (planCharge): when it may charge, what it asks
 * for and is granted, and the shape of its charge.
 */
import type { DelayReason } from '../../../schemas/index.js';
import type { Rng } from '../random.js';
import type { ChargePlan, Premise, SessionContext } from './types.js';

/** On-peak hours of EV-TOU-OFFPEAK, local time: [16:00, 21:00). */
export const ON_PEAK_START_HOUR = 16;
export const ON_PEAK_END_HOUR = 21;

/**
 * Steps 1-7 of a session up to the power curve. A pure function of its inputs: the fleet's
 * preliminary plan (for fault eligibility) and the materialized one agree.
 */
export function planCharge(
  ctx: SessionContext, prem: Premise, plugIn: number, departure: number, r: Rng, offSchedule: boolean, ignoreDemandResponse = false,
): ChargePlan {
  const cal = ctx.cal;
  const startEventMs = plugIn + r.int(5, 30) * 1000;
  const requestEventMs = startEventMs + r.int(1, 3) * 1000;
  const availableEventMs = requestEventMs + r.int(1, 4) * 1000;
  const earliest = availableEventMs + r.int(1, 10) * 1000;
  // Most days top up a commute (US home sessions average 10-20 kWh); some charge to full.
  const soc0 = r.range(0.35, 0.8);
  const target = Math.max(r.weighted([0.8, 0.9, 1], [0.55, 0.25, 0.2]), soc0 + 0.08);
  const k = r.range(0.985, 0.998);
  const taperShare = target >= 0.9 ? r.range(0.06, 0.12) : r.range(0.02, 0.04);
  const m = r.range(0.15, 0.3);
  const u = r.float();
  const drDelayMs = r.int(30, 120) * 60_000;
  const randomDelayMs = r.int(60, 900) * 1000;

  const rateW = Math.min(prem.ratedW, prem.vehicleMaxW);
  const requestedWh = Math.round((prem.batteryWh * (target - soc0)) / 0.9);
  let cs = earliest;
  let delay: DelayReason = 'NONE';
  let scheduleEnd: number;
  if (offSchedule || !prem.tou) {
    scheduleEnd = departure;
  } else {
    // Off-peak program: an afternoon or evening plug-in waits for 21:00; a night or morning one
    // starts now but must stop by 16:00.
    const h = cal.localHour(earliest);
    if (h >= 12 && h < ON_PEAK_END_HOUR) {
      cs = cal.nextLocalHour(earliest, ON_PEAK_END_HOUR);
      delay = 'OFF_PEAK';
    }
    scheduleEnd = Math.min(departure, cal.nextLocalHour(cs, ON_PEAK_START_HOUR));
  }
  if (!offSchedule) {
    const extra = u < 0.04 ? drDelayMs : u < 0.12 ? randomDelayMs : 0;
    // A delay that would leave under half an hour of window is not applied.
    if (extra > 0 && scheduleEnd - (cs + extra) >= 30 * 60_000) {
      cs += extra;
      delay = u < 0.04 ? 'DEMAND_RESPONSE' : 'RANDOM_DELAY';
    }
  }
  // dr_violation: the grant says wait for the demand-response event to pass, the charger starts
  // anyway; the schedule sent is the granted one, the energy and the window it fits are the same.
  const scheduleStart = cs;
  if (ignoreDemandResponse && delay === 'DEMAND_RESPONSE') cs -= drDelayMs;
  const power = rateW * k;
  const f = 1 - taperShare;
  // Seconds of charging per Wh of a session of this shape: constant phase, then the taper.
  const secondsPerWh = 3600 * (f / power + (2 * (1 - f)) / (power * (1 + m)));
  const windowS = Math.max(0, (scheduleEnd - scheduleStart) / 1000);
  const grantedWh = Math.max(1, Math.min(requestedWh, Math.floor(windowS / secondsPerWh)));
  // Half a Wh under the grant: the integer register delta can then never exceed the grant.
  const energy = grantedWh - 0.5;
  const t1 = (energy * f * 3600) / power;
  const taper = (2 * energy * (1 - f) * 3600) / (power * (1 + m));
  const total = t1 + taper;
  const ce = cs + Math.ceil(total * 1000);
  const I = ctx.intervalMs;
  const firstSlot = Math.floor(cs / I);
  const n = Math.ceil(ce / I) - firstSlot;
  return {
    startEventMs, requestEventMs, availableEventMs, requestedWh, grantedWh, rateW,
    scheduleStart, scheduleEnd, delay, cs, ce, power, f, m, energy, t1, taper, total, n, firstSlot,
  };
}

/** Whether clock_skew may move this session's first intervals before its plug-in (see deliveryFaults). */
export function skewBeforeStartAllowed(ctx: SessionContext, prem: Premise, plan: ChargePlan): boolean {
  return !prem.tou && plan.delay === 'NONE' && ctx.options.intervalS <= 60;
}
