/**
 * The records besides the intervals: the session events (steps 1-5 and 9-10) as the ESCI reports
 * them, and the vehicle's running totals (step 7) as the vehicle measures them.
 */
import type { SessionEvent } from '../../../schemas/index.js';
import type { Rng } from '../random.js';
import type { Delivered } from './delivery-faults.js';
import type { Metered } from './meter.js';
import { FIRST_PROGRESS_SEQ, type ChargePlan, type SessionContext, type SessionSpec } from './types.js';

export interface Events {
  /** SessionStart, EnergyRequest, EnergyAvailable and SessionEnd (when sent), with due times. */
  events: SessionEvent[];
  eventDue: number[];
  /** Progress events, by their order: event time, running sum, intervals covered, due time. */
  progressTime: number[];
  progressWh: number[];
  progressIntervals: number[];
  progressDue: number[];
  summaryWh: number | null;
}

/** Steps 1-5 and 9-10 as the ESCI reports them. */
export function sessionEvents(
  ctx: SessionContext, spec: SessionSpec, plan: ChargePlan, m: Metered, d: Delivered, grantedWh: number,
  ids: { sessionId: string; esciId: string; premiseId: string; pevId: string }, fr: Rng, dr: Rng, detail: Record<string, unknown>,
): Events {
  const I = ctx.intervalMs;
  const n = plan.n;
  const prem = spec.premise;
  const events: SessionEvent[] = [];
  const event = (seq: number, time: number, body: SessionEvent['body']): void => {
    events.push({ session_id: ids.sessionId, event_seq: seq, esci_id: ids.esciId, premise_id: ids.premiseId, pev_id: ids.pevId, event_time: time, body });
  };
  event(0, plan.startEventMs, { 'pevmeter.v1.SessionStart': { connection: prem.connection, binding: spec.fault === 'auth_failed' ? 'AUTH_FAILED' : 'BOUND', plug_in_time: spec.plugIn } });
  event(1, plan.requestEventMs, { 'pevmeter.v1.EnergyRequest': { requested_wh: plan.requestedWh, max_rate_w: prem.vehicleMaxW, departure_time: spec.departure } });
  event(2, plan.availableEventMs, {
    'pevmeter.v1.EnergyAvailable': {
      granted_wh: grantedWh, rate_w: plan.rateW, schedule_start: plan.scheduleStart, schedule_end: plan.scheduleEnd, delay_reason: plan.delay,
    },
  });
  const progressTime: number[] = [];
  const progressWh: number[] = [];
  const progressIntervals: number[] = [];
  for (let k = ctx.options.progressEvery - 1; k < n && k <= d.cut; k += ctx.options.progressEvery) {
    progressTime.push((plan.firstSlot + k + 1) * I + dr.int(50, 400));
    progressWh.push(m.cum[k]!);
    progressIntervals.push(k + 1);
  }
  let summaryWh: number | null = null;
  if (spec.fault !== 'interrupted') {
    let endMs = plan.ce;
    let durationS = Math.round((plan.ce - plan.cs) / 1000);
    summaryWh = m.total;
    if (spec.fault === 'esci_summary_off') {
      const off = fr.range(0.05, 0.2);
      summaryWh = fr.bernoulli(0.5) ? Math.ceil(m.total * (1 + off)) : Math.floor(m.total * (1 - off));
      const trueDuration = durationS;
      if (fr.bernoulli(0.5)) {
        const shiftMin = fr.int(15, 45);
        endMs += shiftMin * 60_000;
        durationS += shiftMin * 60;
      }
      Object.assign(detail, { summary_wh: summaryWh, true_wh: m.total, duration_s: durationS, true_duration_s: trueDuration });
    }
    event(FIRST_PROGRESS_SEQ + progressTime.length, (plan.firstSlot + n) * I + dr.int(500, 3000), {
      'pevmeter.v1.SessionEnd': { start_time: plan.cs, end_time: endMs, duration_s: durationS, energy_wh: summaryWh },
    });
  }
  // Latency draws in event_seq order.
  const dueOf = (t: number): number => t + dr.int(200, 2000);
  const eventDue = events.slice(0, 3).map((e) => dueOf(e.event_time));
  const progressDue = progressTime.map(dueOf);
  if (events.length > 3) eventDue.push(dueOf(events[3]!.event_time));
  return { events, eventDue, progressTime, progressWh, progressIntervals, progressDue, summaryWh };
}

export interface Reports {
  reportTime: number[];
  reportWh: number[];
}

/**
 * Step 7: the vehicle's running total at interval ends every few minutes and at charging end,
 * off by a per-session bias within +-1.5% (10-25% under vehicle_off).
 */
export function vehicleReports(ctx: SessionContext, spec: SessionSpec, plan: ChargePlan, m: Metered, d: Delivered, fr: Rng, dr: Rng, detail: Record<string, unknown>): Reports {
  const fault = spec.fault;
  const bias = fault === 'vehicle_off'
    ? (fr.bernoulli(0.5) ? 1 : -1) * fr.range(0.1, 0.25)
    : Math.max(-0.015, Math.min(0.015, dr.normal(0, 0.006)));
  if (fault === 'vehicle_off') Object.assign(detail, { bias });
  const reportTime: number[] = [];
  const reportWh: number[] = [];
  if (fault === 'vehicle_missing') return { reportTime, reportWh };
  for (let k = ctx.vehicleEvery - 1; k < plan.n; k += ctx.vehicleEvery) {
    const t = (plan.firstSlot + k + 1) * ctx.intervalMs;
    if (t >= plan.ce || k > d.cut) break;
    reportTime.push(t);
    reportWh.push(Math.round(m.cum[k]! * (1 + bias)));
  }
  if (fault !== 'interrupted') {
    reportTime.push(plan.ce);
    reportWh.push(Math.round(m.total * (1 + bias)));
  }
  return { reportTime, reportWh };
}
