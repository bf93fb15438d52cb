/**
 * One charging session, from plan to delivery: the power curve and the EUMD's intervals, the
 * injected fault, the session events and vehicle reports, the order its records reach Kafka in,
 * and its ground truth. fleet.ts decides which sessions exist and streams them; this file makes
 * each one, in steps that each read like the use case, one file per step:
 *
 *   planCharge      plan.ts             steps 1-7 up to the power curve: binding, request, grant, schedule, delay
 *   meter           meter.ts            step 8: the EUMD register and the intervals (spike, register reset)
 *   deliveryFaults  delivery-faults.ts  what the network does to the intervals (gap, resend, clock skew...)
 *   sessionEvents   records.ts          steps 9-10: progress and end summary as the ESCI reports them
 *   vehicleReports  records.ts          step 7's running total as the vehicle measures it
 *   deliveryPlan    delivery-plan.ts    every record with its delivery time, packed into messages, flattened (layout.ts)
 *   truth           here, minutes.ts    what reconciliation must find
 *
 * The shapes they pass along are in types.ts; scratch.ts and items.ts hold the reused buffers.
 */
import { intervalPrefix, vehiclePrefix, encodeStrings } from '../avro-write.js';
import { FAULT_FLAGS, type FlagCode } from '../options.js';
import { QUALITY_ESTIMATED } from '../../../reconcile/types.js';
import { GAP_LARGE, deliveryFaults } from './delivery-faults.js';
import { deliveryPlan } from './delivery-plan.js';
import { flattenPlan, flattenSingles, groupMessages } from './layout.js';
import { meter } from './meter.js';
import { attachMinutes, countedIntervals } from './minutes.js';
import { ON_PEAK_END_HOUR, ON_PEAK_START_HOUR, planCharge } from './plan.js';
import { sessionEvents, vehicleReports } from './records.js';
import type { BuiltSession, SessionContext, SessionSpec, SessionStream, SessionTruth } from './types.js';

/** Builds the session: its stream for fleet.ts and its ground truth. */
export function buildSession(ctx: SessionContext, spec: SessionSpec): BuiltSession {
  const { premise: prem, fault } = spec;
  const plan = planCharge(ctx, prem, spec.plugIn, spec.departure, spec.rng.fork('plan'), fault === 'off_schedule', fault === 'dr_violation');
  const fr = spec.rng.fork('fault');
  const dr = spec.rng.fork('deliver');
  const sessionId = 'S-' + spec.rng.fork('id').hex(16);
  const pevId = fault === 'not_enrolled' ? ctx.ids.vin(ctx.options.premises + spec.index, fr.fork('visitor')) : prem.pevId;
  const reportedPremise = fault === 'wrong_premise' ? spec.otherPremiseId : prem.premiseId;
  const eumdId = fault === 'foreign_meter' ? spec.otherEumdId : prem.eumdId;
  const detail: Record<string, unknown> = {};

  const m = meter(ctx, spec, plan, fr, detail);
  const d = deliveryFaults(ctx, spec, plan, m, fr, detail);

  // Step 5's grant as sent.
  let grantedWh = plan.grantedWh;
  if (fault === 'exceeds_grant') {
    grantedWh = Math.floor(m.total / fr.range(1.05, 1.3));
    Object.assign(detail, { granted_wh: grantedWh, delivered_wh: m.total });
  }
  // A meter glitch is not the customer exceeding the grant: the grant covers it.
  if (fault === 'spike') grantedWh = Math.max(grantedWh, m.total);

  const ids = { sessionId, esciId: prem.esciId, premiseId: reportedPremise, pevId };
  const ev = sessionEvents(ctx, spec, plan, m, d, grantedWh, ids, fr, dr, detail);
  const vr = vehicleReports(ctx, spec, plan, m, d, fr, dr, detail);
  const { list, malformed, values } = deliveryPlan(ctx, spec, plan, m, d, ev, vr, fr, dr, detail);
  const R = ctx.options.recordsPerMessage;
  const plan2 = R === 1 ? flattenSingles(list, malformed, values) : flattenPlan(groupMessages(list, malformed, R, ctx.scratch), list, values);

  const stream: SessionStream = {
    index: spec.index,
    esciId: prem.esciId,
    intervalPrefix: intervalPrefix(prem.esciId, eumdId, reportedPremise, pevId, sessionId),
    vehiclePrefix: vehiclePrefix(sessionId, pevId, prem.esciId),
    eventHead: encodeStrings(sessionId),
    eventIds: encodeStrings(prem.esciId, reportedPremise, pevId),
    intervalS: ctx.options.intervalS,
    events: ev.events,
    malformed,
    quality: fault === 'estimated_intervals' ? estimatedSeqs(plan.n, fr, detail) : null,
    plan: plan2,
    pos: 0,
  };

  // Ground truth.
  const n = plan.n;
  for (let k = 0; k < n; k++) if (!d.delivered[k]) d.counted[k] = 0;
  const { sum: intervalSum, unique, minutes } = countedIntervals(d.outStart, m.energy, d.counted, ctx.options.truthMinutes, ctx.scratch);
  if (fault === 'off_schedule') {
    let onPeakWh = 0;
    for (let k = 0; k < n; k++) {
      const h = ctx.cal.localHour(m.start[k]!);
      if (h >= ON_PEAK_START_HOUR && h < ON_PEAK_END_HOUR) onPeakWh += m.energy[k]!;
    }
    Object.assign(detail, { on_peak_wh: onPeakWh });
  }
  const flags: FlagCode[] = fault ? [...FAULT_FLAGS[fault]] : [];
  if (fault === 'gap' && spec.variant === GAP_LARGE) flags.push('QUALITY_GATE');
  if (fault === 'not_enrolled') Object.assign(detail, { pev_id: pevId });
  if (fault === 'auth_failed') Object.assign(detail, { binding: 'AUTH_FAILED' });
  if (fault === 'foreign_meter') Object.assign(detail, { eumd_id: eumdId, enrolled_eumd_id: prem.eumdId });
  if (fault === 'dr_violation') {
    // Energy of the intervals wholly before the granted start: what OUTSIDE_GRANT must report.
    let beforeWh = 0;
    for (let k = 0; k < n; k++) if (m.start[k]! + ctx.intervalMs <= plan.scheduleStart) beforeWh += m.energy[k]!;
    Object.assign(detail, { schedule_start_ms: plan.scheduleStart, charge_start_ms: plan.cs, outside_wh: beforeWh });
  }
  if (fault === 'wrong_premise') Object.assign(detail, { reported_premise_id: reportedPremise });
  const truth: SessionTruth = {
    session_id: sessionId,
    esci_id: prem.esciId,
    premise_id: prem.premiseId,
    reported_premise_id: reportedPremise,
    account_id: prem.accountId,
    pev_id: pevId,
    enrolled: fault !== 'not_enrolled',
    program_id: prem.programId,
    tariff_id: prem.tariffId,
    connection: prem.connection,
    plug_in_ms: spec.plugIn,
    start_ms: plan.cs,
    end_ms: plan.ce,
    interval_s: ctx.options.intervalS,
    granted_wh: grantedWh,
    rate_w: plan.rateW,
    delay_reason: plan.delay,
    energy_wh: m.total,
    interval_sum_wh: intervalSum,
    intervals_total: n,
    intervals_delivered_unique: unique,
    summary_wh: ev.summaryWh,
    vehicle_wh: vr.reportWh.length > 0 ? vr.reportWh[vr.reportWh.length - 1]! : null,
    faults: fault ? [fault] : [],
    expected_flags: flags,
    detail: fault ? detail : null,
    minutes: [],
  };
  attachMinutes(truth, minutes);
  return { stream, truth, registerAfter: m.registerAfter, intervals: n };
}

/**
 * estimated_intervals: one to three intervals, never the first or the last, that the EUMD marks
 * estimated (quality bit 1). Their energy stays the register's, so the bill does not change.
 */
function estimatedSeqs(n: number, fr: SessionSpec['rng'], detail: Record<string, unknown>): Map<number, number> {
  const count = Math.min(n - 2, fr.int(1, 3));
  const first = fr.int(1, n - 1 - count);
  const q = new Map<number, number>();
  for (let k = first; k < first + count; k++) q.set(k, QUALITY_ESTIMATED);
  Object.assign(detail, { estimated_seqs: [...q.keys()] });
  return q;
}
