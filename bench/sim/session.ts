/**
 * One charging session, from plan to delivery: the power curve and the EUMD's intervals, the
 * injected fault, the session events and vehicle reports, the order its records reach Kafka in,
 * and its ground truth. fleet.ts decides which sessions exist and streams them; this file makes
 * each one, in steps that each read like the use case:
 *
 *   planCharge      steps 1-7 up to the power curve: binding, request, grant, schedule, delay
 *   meter           step 8: the EUMD register and the intervals (spike, register reset)
 *   deliveryFaults  what the network does to the intervals (gap, resend, clock skew...)
 *   sessionEvents   steps 9-10: progress and end summary as the ESCI reports them
 *   vehicleReports  step 7's running total as the vehicle measures it
 *   deliveryPlan    every record with its delivery time, packed into messages, flattened
 *   truth           what reconciliation must find
 */
import type { Connection, DelayReason, RecordKind, SessionEvent } from '../../schemas/index.js';
import type { Calendar } from '../../schemas/calendar.js';
import type { IdFactory } from './ids.js';
import type { Rng } from './random.js';
import { intervalPrefix, vehiclePrefix, encodeStrings } from './avro-write.js';
import { FAULT_FLAGS, MALFORMED_CODES, type FaultKind, type FlagCode, type FleetOptions, type MalformedCode } from './options.js';

/** On-peak hours of EV-TOU-OFFPEAK, local time: [16:00, 21:00). */
export const ON_PEAK_START_HOUR = 16;
export const ON_PEAK_END_HOUR = 21;

// Fault variants (Fleet hands them out with the kind).
export const GAP_SMALL = 0;
export const GAP_LARGE = 1;

export interface Premise {
  index: number;
  premiseId: string;
  accountId: string;
  esciId: string;
  eumdId: string;
  pevId: string;
  programId: string;
  tariffId: string;
  tou: boolean;
  connection: Connection;
  ratedW: number;
  vehicleMaxW: number;
  batteryWh: number;
  validFrom: number;
}

/** One line of truth.jsonl. */
export interface SessionTruth {
  session_id: string;
  esci_id: string;
  /** The premise the ESCI belongs to (what the records say may differ: wrong_premise). */
  premise_id: string;
  reported_premise_id: string;
  account_id: string;
  pev_id: string;
  /** False for a visiting car (not_enrolled). */
  enrolled: boolean;
  program_id: string;
  tariff_id: string;
  connection: Connection;
  plug_in_ms: number;
  /** Charging start and end, UTC ms, as the true SessionEnd states them. */
  start_ms: number;
  end_ms: number;
  interval_s: number;
  /** Energy Available as sent (lowered under exceeds_grant). */
  granted_wh: number;
  rate_w: number;
  delay_reason: DelayReason;
  /** True energy delivered: the EUMD register delta over the whole session (a spike included). */
  energy_wh: number;
  /** Sum of the unique intervals, first received, that pass validation: what the ingest rollup must show. */
  interval_sum_wh: number;
  /** Intervals the EUMD produced (seq 0..intervals_total-1). */
  intervals_total: number;
  /** Distinct seqs delivered that pass validation (rows of interval_unique). */
  intervals_delivered_unique: number;
  /** SessionEnd energy as delivered; null when no SessionEnd arrives. */
  summary_wh: number | null;
  /** Last vehicle running total delivered; null when none. */
  vehicle_wh: number | null;
  faults: FaultKind[];
  expected_flags: FlagCode[];
  /** What exactly was injected (seqs, sizes); null for a clean session. */
  detail: Record<string, unknown> | null;
  /** Per UTC minute (epoch seconds) of interval_start: energy of the counted intervals. */
  minutes: [number, number][];
}

/** A session's charging schedule and power curve (everything before any interval exists). */
export interface ChargePlan {
  startEventMs: number;
  requestEventMs: number;
  availableEventMs: number;
  requestedWh: number;
  grantedWh: number;
  rateW: number;
  scheduleStart: number;
  scheduleEnd: number;
  delay: DelayReason;
  /** Charging start (whole second) and end, UTC ms. */
  cs: number;
  ce: number;
  /** Constant-phase power (W), taper start share of E, taper end power share, energy (Wh, real). */
  power: number;
  f: number;
  m: number;
  energy: number;
  /** Constant phase and taper durations, seconds. */
  t1: number;
  taper: number;
  total: number;
  /** Intervals, and the slot number (start / interval) of the first. */
  n: number;
  firstSlot: number;
}

// Record types in a session's delivery plan.
export const IT_INTERVAL = 0;
export const IT_CONFLICT = 1;
export const IT_EVENT = 2;
export const IT_VEHICLE = 3;
export const IT_MALFORMED = 4;
export const IT_PROGRESS = 5;

/** Topic index of the plan (interval 0, session event 1, vehicle report 2) to record kind. */
export const TOPIC_INDEX_KIND: RecordKind[] = ['interval', 'sessionEvent', 'vehicleReport'];

export function topicOfType(t: number): number {
  return t === IT_EVENT || t === IT_PROGRESS ? 1 : t === IT_VEHICLE ? 2 : 0;
}

/** Plan doubles per message header and per record. */
export const PLAN_MESSAGE = 3;
export const PLAN_RECORD = 5;
/** Progress events follow SessionStart, EnergyRequest and EnergyAvailable. */
const FIRST_PROGRESS_SEQ = 3;

export interface Malformed {
  code: MalformedCode;
  /** Bytes cut (PEV_TRUNCATED) or the wrong first byte (PEV_NO_MAGIC). */
  param: number;
  /** The record it is a mangled copy of: its plan fields type, ref, a, b, c (see SessionStream.plan). */
  fields: Float64Array;
}

/** A materialized session, ready to stream. */
export interface SessionStream {
  index: number;
  esciId: string;
  /** Encoded Avro strings every record of a kind starts with (see avro-write.ts). */
  intervalPrefix: Buffer;
  vehiclePrefix: Buffer;
  /** A session event is session_id, event_seq, then esci_id, premise_id, pev_id: the two string runs. */
  eventHead: Buffer;
  eventIds: Buffer;
  intervalS: number;
  /** Session events other than Progress, by event index (ref of IT_EVENT records). */
  events: SessionEvent[];
  malformed: Malformed[];
  /**
   * The session's messages in delivery order, flattened into one array that streaming reads
   * front to back, so a message costs a cache line or two however many sessions are in flight
   * (a struct of arrays per session cost a miss per array per message once thousands were live):
   *   message   time, topic index, record count, then per record: type, ref, a, b, c
   *   interval  ref = seq, a = interval_start, b = energy_wh, c = register_wh
   *   vehicle   a = report_time, b = running_wh
   *   progress  ref = event_seq, a = event_time, b = running_wh, c = intervals
   *   event     ref = index into `events`
   *   malformed ref = index into `malformed`
   */
  plan: Float64Array;
  pos: number;
}

/** What every session of a fleet shares. */
export interface SessionContext {
  options: FleetOptions;
  intervalMs: number;
  /** A vehicle report every this many intervals. */
  vehicleEvery: number;
  /** Added to an interval start to land it in 2099 (future_time). */
  futureShiftMs: number;
  cal: Calendar;
  ids: IdFactory;
  scratch: Scratch;
}

/** One session to build. */
export interface SessionSpec {
  index: number;
  premise: Premise;
  /** The premise that a wrong_premise ESCI reports instead. */
  otherPremiseId: string;
  plugIn: number;
  departure: number;
  fault: FaultKind | null;
  variant: number;
  /** The session's own random stream (planCharge forks 'plan' from it). */
  rng: Rng;
  /** The premise's EUMD register (real-valued) before this session. */
  registerBefore: number;
}

export interface BuiltSession {
  stream: SessionStream;
  truth: SessionTruth;
  registerAfter: number;
  intervals: number;
}

/**
 * Steps 1-7 of a session up to the power curve. A pure function of its inputs: the fleet's
 * preliminary plan (for fault eligibility) and the materialized one agree.
 */
export function planCharge(ctx: SessionContext, prem: Premise, plugIn: number, departure: number, r: Rng, offSchedule: boolean): ChargePlan {
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
  const power = rateW * k;
  const f = 1 - taperShare;
  // Seconds of charging per Wh of a session of this shape: constant phase, then the taper.
  const secondsPerWh = 3600 * (f / power + (2 * (1 - f)) / (power * (1 + m)));
  const windowS = Math.max(0, (scheduleEnd - cs) / 1000);
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
    scheduleStart: cs, scheduleEnd, delay, cs, ce, power, f, m, energy, t1, taper, total, n, firstSlot,
  };
}

/** Whether clock_skew may move this session's first intervals before its plug-in (see deliveryFaults). */
export function skewBeforeStartAllowed(ctx: SessionContext, prem: Premise, plan: ChargePlan): boolean {
  return !prem.tou && plan.delay === 'NONE' && ctx.options.intervalS <= 60;
}

/** Builds the session: its stream for fleet.ts and its ground truth. */
export function buildSession(ctx: SessionContext, spec: SessionSpec): BuiltSession {
  const { premise: prem, fault } = spec;
  const plan = planCharge(ctx, prem, spec.plugIn, spec.departure, spec.rng.fork('plan'), fault === 'off_schedule');
  const fr = spec.rng.fork('fault');
  const dr = spec.rng.fork('deliver');
  const sessionId = 'S-' + spec.rng.fork('id').hex(16);
  const pevId = fault === 'not_enrolled' ? ctx.ids.vin(ctx.options.premises + spec.index, fr.fork('visitor')) : prem.pevId;
  const reportedPremise = fault === 'wrong_premise' ? spec.otherPremiseId : prem.premiseId;
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
    intervalPrefix: intervalPrefix(prem.esciId, prem.eumdId, reportedPremise, pevId, sessionId),
    vehiclePrefix: vehiclePrefix(sessionId, pevId, prem.esciId),
    eventHead: encodeStrings(sessionId),
    eventIds: encodeStrings(prem.esciId, reportedPremise, pevId),
    intervalS: ctx.options.intervalS,
    events: ev.events,
    malformed,
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

interface Metered {
  /** True interval starts, energies and registers (as measured; spike and reset included). */
  start: Float64Array;
  energy: Float64Array;
  register: Float64Array;
  /** Running sum of energy through each interval. */
  cum: Float64Array;
  total: number;
  registerAfter: number;
}

/** Step 8: the EUMD's intervals. Register = floor of the real meter reading at each interval end. */
function meter(ctx: SessionContext, spec: SessionSpec, plan: ChargePlan, fr: Rng, detail: Record<string, unknown>): Metered {
  const n = plan.n;
  // Per-session arrays are views of buffers reused from session to session: only the flat plan
  // outlives a session's building.
  const sc = ctx.scratch;
  const start = sc.f64('start', n);
  const energy = sc.f64('energy', n);
  const register = sc.f64('register', n);
  const r0 = spec.registerBefore;
  meterIntervals(plan, ctx.intervalMs, r0, start, energy, register);
  let after = r0 + plan.energy;
  if (spec.fault === 'spike') {
    const j = fr.int(1, n - 2);
    const maxWh = (Math.max(plan.rateW, spec.premise.ratedW) * ctx.options.intervalS) / 3600;
    const extra = Math.ceil(maxWh * fr.range(3, 8));
    energy[j] = energy[j]! + extra;
    for (let k = j; k < n; k++) register[k] = register[k]! + extra;
    after += extra;
    Object.assign(detail, { seq: j, extra_wh: extra, max_interval_wh: maxWh });
  }
  if (spec.fault === 'register_reset') {
    const r = fr.int(2, n - 2);
    const base = register[r - 1]!;
    for (let k = r; k < n; k++) register[k] = register[k]! - base;
    after -= base;
    Object.assign(detail, { seq: r, register_before_wh: base });
  }
  const cum = sc.f64('cum', n);
  const total = prefixSums(energy, cum);
  return { start, energy, register, cum, total, registerAfter: after };
}

interface Delivered {
  /** Interval starts and energies as delivered. */
  outStart: Float64Array;
  outEnergy: Float64Array;
  /** 1 when the interval is delivered at all; 1 when it is delivered and passes validation. */
  delivered: Uint8Array;
  counted: Uint8Array;
  /** Last seq delivered (interrupted), else n - 1. */
  cut: number;
  conflictSeq: number;
  conflictWh: number;
  resendSeqs: number[];
  oooWindow: number;
}

/** What the network, the ESCI or the EUMD's clock do to the intervals on their way. */
function deliveryFaults(ctx: SessionContext, spec: SessionSpec, plan: ChargePlan, m: Metered, fr: Rng, detail: Record<string, unknown>): Delivered {
  const n = plan.n;
  const I = ctx.intervalMs;
  const sc = ctx.scratch;
  const { start, energy } = m;
  const outStart = sc.f64('outStart', n);
  outStart.set(start);
  const outEnergy = sc.f64('outEnergy', n);
  outEnergy.set(energy);
  const delivered = sc.u8('delivered', n).fill(1);
  const counted = sc.u8('counted', n).fill(1);
  const d: Delivered = { outStart, outEnergy, delivered, counted, cut: n - 1, conflictSeq: -1, conflictWh: 0, resendSeqs: [], oooWindow: 0 };
  switch (spec.fault) {
    case 'gap': {
      // One run of lost intervals, never the first or the last, so the register span still
      // gives the true energy; small gaps stay under the QUALITY_GATE share, large ones exceed it.
      const missing = spec.variant === GAP_SMALL
        ? Math.max(1, Math.floor(n * fr.range(0.02, 0.08)))
        : Math.min(n - 2, Math.ceil(n * fr.range(0.15, 0.35)));
      const g0 = fr.int(1, n - 1 - missing);
      for (let k = g0; k < g0 + missing; k++) delivered[k] = counted[k] = 0;
      Object.assign(detail, { first_missing_seq: g0, missing, missing_share: missing / n, quality_gate: spec.variant === GAP_LARGE });
      break;
    }
    case 'interrupted': {
      // Cut right after a vehicle report, so the vehicle's last total and the intervals agree.
      const candidates: number[] = [];
      for (let k = ctx.vehicleEvery - 1; k <= n - 2; k += ctx.vehicleEvery) if (k >= 1) candidates.push(k);
      d.cut = fr.choice(candidates);
      for (let k = d.cut + 1; k < n; k++) delivered[k] = counted[k] = 0;
      Object.assign(detail, { last_seq: d.cut });
      break;
    }
    case 'clock_skew': {
      // Either the first intervals carry times before the plug-in (only where that cannot look
      // like on-peak charging or move the span by more than a few minutes), or a few intervals
      // repeat the previous one's start. Starts stay on interval boundaries.
      const beforeStart = skewBeforeStartAllowed(ctx, spec.premise, plan) && fr.bernoulli(0.5);
      const seqs: number[] = [];
      if (beforeStart) {
        const count = Math.min(fr.int(1, 2), n - 2);
        const shift = fr.int(count, 3);
        const target = Math.floor(spec.plugIn / I) * I - shift * I;
        const by = start[0]! - target;
        for (let k = 0; k < count; k++) {
          outStart[k] = start[k]! - by;
          seqs.push(k);
        }
      } else {
        const want = fr.int(1, 3);
        const pool = fr.shuffle(Array.from({ length: n - 2 }, (_, k) => k + 1));
        for (const k of pool) {
          if (seqs.length >= want) break;
          if (seqs.includes(k - 1) || seqs.includes(k + 1)) continue;
          seqs.push(k);
        }
        seqs.sort((a, b) => a - b);
        for (const k of seqs) outStart[k] = start[k - 1]!;
      }
      Object.assign(detail, { variant: beforeStart ? 'before_start' : 'overlap', seqs });
      break;
    }
    case 'future_time': {
      const k = fr.int(1, n - 2);
      outStart[k] = start[k]! + ctx.futureShiftMs;
      counted[k] = 0;
      Object.assign(detail, { seq: k, interval_start: outStart[k] });
      break;
    }
    case 'negative_interval': {
      const k = fr.int(1, n - 2);
      outEnergy[k] = -(energy[k]! > 0 ? energy[k]! : fr.int(1, 50));
      counted[k] = 0;
      Object.assign(detail, { seq: k, delivered_wh: outEnergy[k], true_wh: energy[k] });
      break;
    }
    case 'conflict': {
      d.conflictSeq = fr.int(1, n - 2);
      const e = energy[d.conflictSeq]!;
      // Smaller than the true value (never negative, never a spike) unless there is no room.
      d.conflictWh = e >= 2 ? e - 1 - fr.int(0, Math.min(e - 2, 10)) : e + 1;
      Object.assign(detail, { seq: d.conflictSeq, first_wh: e, conflicting_wh: d.conflictWh });
      break;
    }
    case 'resend': {
      const copies = Math.max(1, Math.round(n * fr.range(0.01, 0.05)));
      d.resendSeqs = fr.shuffle(Array.from({ length: n }, (_, k) => k)).slice(0, copies).sort((a, b) => a - b);
      Object.assign(detail, { seqs: d.resendSeqs });
      break;
    }
    case 'out_of_order':
      d.oooWindow = fr.int(3, Math.min(8, n));
      Object.assign(detail, { window: d.oooWindow });
      break;
    default:
      break;
  }
  return d;
}

interface Events {
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
function sessionEvents(
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
  event(0, plan.startEventMs, { 'pevmeter.v1.SessionStart': { connection: prem.connection, binding: 'BOUND', plug_in_time: spec.plugIn } });
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

interface Reports {
  reportTime: number[];
  reportWh: number[];
}

/**
 * Step 7: the vehicle's running total at interval ends every few minutes and at charging end,
 * off by a per-session bias within +-1.5% (10-25% under vehicle_off).
 */
function vehicleReports(ctx: SessionContext, spec: SessionSpec, plan: ChargePlan, m: Metered, d: Delivered, fr: Rng, dr: Rng, detail: Record<string, unknown>): Reports {
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

/** Every record the session delivers, with its delivery time, in runs (intervals, copies, events...). */
function deliveryPlan(
  ctx: SessionContext, spec: SessionSpec, plan: ChargePlan, m: Metered, d: Delivered, ev: Events, vr: Reports,
  fr: Rng, dr: Rng, detail: Record<string, unknown>,
): { list: ItemList; malformed: Malformed[]; values: RecordValues } {
  const n = plan.n;
  const I = ctx.intervalMs;
  const sc = ctx.scratch;
  const list = new ItemList(sc, n * 2 + ev.events.length + ev.progressTime.length + vr.reportTime.length + 8);
  const itemTime = list.time;
  const intervalItem = sc.i32('intervalItem', n).fill(-1);
  scheduleIntervals(list, intervalItem, d.delivered, plan.firstSlot, I, dr);
  if (d.oooWindow > 0) shuffleWindows(list, intervalItem, d.oooWindow, fr);
  list.mark();
  for (const k of d.resendSeqs) list.add(IT_INTERVAL, k, itemTime[intervalItem[k]!]! + fr.int(2, 10) * I + fr.int(200, 2000));
  if (d.conflictSeq >= 0) list.add(IT_CONFLICT, d.conflictSeq, itemTime[intervalItem[d.conflictSeq]!]! + fr.int(2, 10) * I + fr.int(200, 2000));
  list.mark();
  // Session events in event_seq order: start, request, available, the progress reports, end.
  for (let e = 0; e < 3; e++) list.add(IT_EVENT, e, ev.eventDue[e]!);
  for (let j = 0; j < ev.progressDue.length; j++) list.add(IT_PROGRESS, j, ev.progressDue[j]!);
  if (ev.events.length > 3) list.add(IT_EVENT, 3, ev.eventDue[3]!);
  list.mark();
  for (let v = 0; v < vr.reportTime.length; v++) list.add(IT_VEHICLE, v, vr.reportTime[v]! + dr.int(200, 2000));
  const values: RecordValues = {
    start: d.outStart, energy: d.outEnergy, register: m.register, conflictWh: d.conflictWh,
    reportTime: vr.reportTime, reportWh: vr.reportWh,
    progressTime: ev.progressTime, progressWh: ev.progressWh, progressIntervals: ev.progressIntervals,
  };
  const malformed: Malformed[] = [];
  list.mark();
  if (spec.fault === 'malformed') {
    const copies = fr.int(1, 3);
    const realItems = list.count;
    for (let c = 0; c < copies; c++) {
      // The first copy cycles through the codes across malformed sessions, so each code appears.
      const code = c === 0 ? MALFORMED_CODES[spec.variant % MALFORMED_CODES.length]! : fr.choice(MALFORMED_CODES);
      const source = fr.int(0, realItems - 1);
      const param = code === 'PEV_TRUNCATED' ? fr.int(1, 8) : fr.int(1, 255);
      const fields = new Float64Array(PLAN_RECORD);
      fieldsOf(list.type[source]!, list.ref[source]!, values, fields, 0);
      malformed.push({ code, param, fields });
      list.add(IT_MALFORMED, malformed.length - 1, itemTime[source]! + fr.int(1, 500));
    }
    Object.assign(detail, { codes: malformed.map((x) => x.code) });
  }
  return { list, malformed, values };
}

/** out_of_order: delivery times permuted within each window of intervals (never all in place). */
function shuffleWindows(list: ItemList, intervalItem: Int32Array, window: number, fr: Rng): void {
  const itemTime = list.time;
  const n = intervalItem.length;
  let moved = false;
  for (let b = 0; b < n; b += window) {
    const idx: number[] = [];
    for (let k = b; k < Math.min(n, b + window); k++) idx.push(intervalItem[k]!);
    const times = fr.shuffle(idx.map((it) => itemTime[it]!));
    idx.forEach((it, j) => {
      if (itemTime[it] !== times[j]) moved = true;
      itemTime[it] = times[j]!;
    });
  }
  if (!moved) {
    const a = intervalItem[0]!;
    const b = intervalItem[1]!;
    const t = itemTime[a]!;
    itemTime[a] = itemTime[b]!;
    itemTime[b] = t;
  }
}

/** What the plan fields of a session's records are read from. */
interface RecordValues {
  start: Float64Array;
  energy: Float64Array;
  register: Float64Array;
  conflictWh: number;
  reportTime: number[];
  reportWh: number[];
  progressTime: number[];
  progressWh: number[];
  progressIntervals: number[];
}

/** Writes a record's plan fields (see SessionStream.plan) at out[w]; a conflicting copy is an interval with other energy. */
function fieldsOf(type: number, ref: number, v: RecordValues, out: Float64Array, w: number): number {
  out[w] = type === IT_CONFLICT ? IT_INTERVAL : type;
  out[w + 1] = ref;
  out[w + 2] = 0;
  out[w + 3] = 0;
  out[w + 4] = 0;
  if (type === IT_INTERVAL || type === IT_CONFLICT) {
    out[w + 2] = v.start[ref]!;
    out[w + 3] = type === IT_CONFLICT ? v.conflictWh : v.energy[ref]!;
    out[w + 4] = v.register[ref]!;
  } else if (type === IT_VEHICLE) {
    out[w + 2] = v.reportTime[ref]!;
    out[w + 3] = v.reportWh[ref]!;
  } else if (type === IT_PROGRESS) {
    out[w + 1] = FIRST_PROGRESS_SEQ + ref;
    out[w + 2] = v.progressTime[ref]!;
    out[w + 3] = v.progressWh[ref]!;
    out[w + 4] = v.progressIntervals[ref]!;
  }
  return w + PLAN_RECORD;
}

/** Messages of a session: message j holds items order[msgEnd[j-1] .. msgEnd[j]). */
interface MessageLayout {
  messages: number;
  msgTime: Float64Array;
  msgEnd: Int32Array;
  msgTopic: Uint8Array;
  order: Int32Array;
}

/**
 * Sorts a session's items by delivery time and packs them into messages. With more than one
 * record per message, the ESCI fills one batch per topic and sends it when full (at the time of
 * its last record) or at its last delivery; a copy of an interval never rides in the same batch
 * as its original, so "first received" is always an earlier message. Malformed copies always
 * travel alone. (One record per message skips this: flattenSingles.)
 */
function groupMessages(list: ItemList, malformed: Malformed[], R: number, scratch: Scratch): MessageLayout {
  const { count: items, type: itemType, ref: itemRef, time: itemTime } = list;
  const sorted = list.sortedOrder();
  const msgTime = scratch.f64('msgTime', items);
  const msgEnd = scratch.i32('msgEnd', items);
  const msgTopic = scratch.u8('msgTopic', items);
  const topicOfItem = (it: number): number => {
    const t = itemType[it]!;
    return topicOfType(t === IT_MALFORMED ? malformed[itemRef[it]!]!.fields[0]! : t);
  };
  let messages = 0;
  const order = scratch.i32('order', items);
  let written = 0;
  const open: number[][] = [[], [], []];
  const serial = [0, 0, 0];
  const batchOf = new Map<number, number>();
  const flush = (topic: number, time: number): void => {
    const batch = open[topic]!;
    if (batch.length === 0) return;
    for (const it of batch) order[written++] = it;
    msgTime[messages] = time;
    msgTopic[messages] = topic;
    msgEnd[messages++] = written;
    batch.length = 0;
    serial[topic]!++;
  };
  let last = items > 0 ? itemTime[sorted[0]!]! : 0;
  for (let j = 0; j < items; j++) {
    const it = sorted[j]!;
    const t = itemTime[it]!;
    last = t;
    if (itemType[it] === IT_MALFORMED) {
      order[written++] = it;
      msgTime[messages] = t;
      msgTopic[messages] = topicOfItem(it);
      msgEnd[messages++] = written;
      continue;
    }
    const topic = topicOfItem(it);
    if (topic === 0) {
      const seq = itemRef[it]!;
      if (batchOf.get(seq) === serial[0] && open[0]!.length > 0) flush(0, t);
      batchOf.set(seq, serial[0]!);
    }
    open[topic]!.push(it);
    if (open[topic]!.length >= R) flush(topic, t);
  }
  for (let topic = 0; topic < 3; topic++) flush(topic, last);
  return { messages, msgTime, msgEnd, msgTopic, order };
}

/** The session's messages flattened in delivery order (the layout of SessionStream.plan). */
function flattenPlan(layout: MessageLayout, list: ItemList, values: RecordValues): Float64Array {
  const flat = new Float64Array(layout.messages * PLAN_MESSAGE + list.count * PLAN_RECORD);
  const { msgEnd, msgTime, msgTopic, order } = layout;
  const { type, ref } = list;
  let w = 0;
  let from = 0;
  for (let j = 0; j < layout.messages; j++) {
    const to = msgEnd[j]!;
    flat[w] = msgTime[j]!;
    flat[w + 1] = msgTopic[j]!;
    flat[w + 2] = to - from;
    w += PLAN_MESSAGE;
    for (let k = from; k < to; k++) {
      const it = order[k]!;
      w = fieldsOf(type[it]!, ref[it]!, values, flat, w);
    }
    from = to;
  }
  return flat;
}

/** flattenPlan for one record per message: each item, in delivery order, is a message. */
function flattenSingles(list: ItemList, malformed: Malformed[], values: RecordValues): Float64Array {
  const sorted = list.sortedOrder();
  const n = list.count;
  const flat = new Float64Array(n * (PLAN_MESSAGE + PLAN_RECORD));
  const { type, ref, time } = list;
  let w = 0;
  for (let j = 0; j < n; j++) {
    const it = sorted[j]!;
    const t = type[it]!;
    flat[w] = time[it]!;
    flat[w + 1] = topicOfType(t === IT_MALFORMED ? malformed[ref[it]!]!.fields[0]! : t);
    flat[w + 2] = 1;
    w = fieldsOf(t, ref[it]!, values, flat, w + PLAN_MESSAGE);
  }
  return flat;
}

/**
 * The EUMD's intervals: start of each, and the integer register at its end (floor of the real
 * meter reading `r0 + energy so far`), the interval's energy being the register difference.
 */
function meterIntervals(plan: ChargePlan, I: number, r0: number, start: Float64Array, energy: Float64Array, register: Float64Array): void {
  let prev = Math.floor(r0);
  const n = start.length;
  for (let k = 0; k < n; k++) {
    const slot = plan.firstSlot + k;
    start[k] = slot * I;
    const reg = Math.floor(r0 + energyAt(plan, ((slot + 1) * I - plan.cs) / 1000));
    energy[k] = reg - prev;
    register[k] = reg;
    prev = reg;
  }
}

/** Energy (Wh, real) delivered `t` seconds after charging start: constant power, then a linear taper. */
function energyAt(plan: ChargePlan, t: number): number {
  if (t <= 0) return 0;
  if (t >= plan.total) return plan.energy;
  if (t <= plan.t1) return (plan.power * t) / 3600;
  const u = t - plan.t1;
  return plan.energy * plan.f + (plan.power * u - ((plan.power - plan.m * plan.power) * u * u) / (2 * plan.taper)) / 3600;
}

/** Running sums into `cum`; returns the total. */
function prefixSums(values: Float64Array, cum: Float64Array): number {
  let run = 0;
  for (let k = 0; k < values.length; k++) cum[k] = run += values[k]!;
  return run;
}

/** Interval k is due at its end plus 0.2-2 s of latency; one draw per interval, delivered or not. */
function scheduleIntervals(list: ItemList, itemOf: Int32Array, delivered: Uint8Array, firstSlot: number, I: number, rng: Rng): void {
  for (let k = 0; k < itemOf.length; k++) {
    const due = (firstSlot + k + 1) * I + rng.int(200, 2000);
    if (delivered[k]) itemOf[k] = list.add(IT_INTERVAL, k, due);
  }
}

/**
 * Sum, count and per-minute energy of the counted intervals, minutes by their delivered start:
 * the pairs flattened (minute, Wh, minute, Wh...) in minute order, one allocation per session.
 */
function countedIntervals(start: Float64Array, energy: Float64Array, counted: Uint8Array, withMinutes: boolean, scratch: Scratch): { sum: number; unique: number; minutes: Float64Array } {
  let sum = 0;
  let unique = 0;
  let pairs = 0;
  let lastMinute = -Infinity;
  let sorted = true;
  // At most one pair per interval; pairs are staged in scratch and copied once, exactly sized.
  const staged = scratch.f64('minutes', withMinutes ? 2 * start.length : 0);
  for (let k = 0; k < start.length; k++) {
    if (!counted[k]) continue;
    const e = energy[k]!;
    sum += e;
    unique++;
    if (!withMinutes) continue;
    const minute = Math.floor(start[k]! / 60_000) * 60;
    if (pairs > 0 && minute === lastMinute) {
      staged[2 * pairs - 1] = staged[2 * pairs - 1]! + e;
    } else {
      if (minute < lastMinute) sorted = false;
      staged[2 * pairs] = minute;
      staged[2 * pairs + 1] = e;
      pairs++;
      lastMinute = minute;
    }
  }
  if (sorted) return { sum, unique, minutes: staged.slice(0, 2 * pairs) };
  // Clock skew can repeat or reorder minutes: merge equal minutes, sort.
  const by = new Map<number, number>();
  for (let j = 0; j < pairs; j++) by.set(staged[2 * j]!, (by.get(staged[2 * j]!) ?? 0) + staged[2 * j + 1]!);
  const keys = [...by.keys()].sort((x, y) => x - y);
  const minutes = new Float64Array(keys.length * 2);
  keys.forEach((key, j) => {
    minutes[2 * j] = key;
    minutes[2 * j + 1] = by.get(key)!;
  });
  return { sum, unique, minutes };
}

/**
 * The truth's `minutes` as [minute, Wh] pairs, built on first read from the flat pairs, which
 * stay reachable under MINUTES for writers that print them without building the pairs (a million
 * little arrays per million intervals are most of what the garbage collector would otherwise do).
 * The property is an enumerable getter, so JSON.stringify and spreads see an ordinary array.
 */
export const MINUTES = Symbol('pevmeter.sim.minutes');

function attachMinutes(truth: SessionTruth, flat: Float64Array): SessionTruth {
  let pairs: [number, number][] | undefined;
  Object.defineProperty(truth, 'minutes', {
    enumerable: true,
    configurable: true,
    get: (): [number, number][] => {
      if (!pairs) {
        pairs = new Array<[number, number]>(flat.length / 2);
        for (let j = 0; j < pairs.length; j++) pairs[j] = [flat[2 * j]!, flat[2 * j + 1]!];
      }
      return pairs;
    },
  });
  Object.defineProperty(truth, MINUTES, { value: flat, enumerable: false });
  return truth;
}

/** The flat minute pairs of a truth made here, or undefined for a truth from elsewhere. */
export function flatMinutes(truth: SessionTruth): Float64Array | undefined {
  return (truth as unknown as Record<symbol, Float64Array | undefined>)[MINUTES];
}

/**
 * Typed arrays reused across sessions, by role: `f64('cum', n)` is a view of the first n elements
 * of a buffer that only grows. A view is valid until the next request for the same role.
 */
export class Scratch {
  private readonly f64s = new Map<string, Float64Array>();
  private readonly i32s = new Map<string, Int32Array>();
  private readonly u8s = new Map<string, Uint8Array>();

  f64(role: string, n: number): Float64Array {
    let a = this.f64s.get(role);
    if (!a || a.length < n) this.f64s.set(role, (a = new Float64Array(Math.max(n, 1024, (a?.length ?? 0) * 2))));
    return a.subarray(0, n);
  }

  i32(role: string, n: number): Int32Array {
    let a = this.i32s.get(role);
    if (!a || a.length < n) this.i32s.set(role, (a = new Int32Array(Math.max(n, 1024, (a?.length ?? 0) * 2))));
    return a.subarray(0, n);
  }

  u8(role: string, n: number): Uint8Array {
    let a = this.u8s.get(role);
    if (!a || a.length < n) this.u8s.set(role, (a = new Uint8Array(Math.max(n, 1024, (a?.length ?? 0) * 2))));
    return a.subarray(0, n);
  }
}

/** A session's records to deliver: type, reference (seq, event, report or malformed copy) and due time. */
class ItemList {
  count = 0;
  readonly type: Uint8Array;
  readonly ref: Int32Array;
  readonly time: Float64Array;
  /** Start of each run of items added in nearly increasing time (intervals, copies, events...). */
  private readonly runs: number[] = [0];
  private readonly scratch: Scratch;

  constructor(scratch: Scratch, capacity: number) {
    this.scratch = scratch;
    this.type = scratch.u8('itemType', capacity);
    this.ref = scratch.i32('itemRef', capacity);
    this.time = scratch.f64('itemTime', capacity);
  }

  add(type: number, ref: number, time: number): number {
    const j = this.count++;
    this.type[j] = type;
    this.ref[j] = ref;
    this.time[j] = time;
    return j;
  }

  /** Starts a new run. */
  mark(): void {
    this.runs.push(this.count);
  }

  /**
   * Item numbers ordered by (time, item number). Each run is almost sorted already (only
   * out-of-order windows and resend delays disturb it), so an insertion sort per run costs about
   * its length, and a merge of the few runs finishes the job: far cheaper than a general sort.
   */
  sortedOrder(): Int32Array {
    const n = this.count;
    const t = this.time;
    const idx = this.scratch.i32('sortIdx', n);
    for (let j = 0; j < n; j++) idx[j] = j;
    const runs = this.runs.filter((start, r) => start < n && start !== this.runs[r + 1]);
    for (let r = 0; r < runs.length; r++) {
      const a = runs[r]!;
      const b = runs[r + 1] ?? n;
      for (let j = a + 1; j < b; j++) {
        const x = idx[j]!;
        const tx = t[x]!;
        let k = j - 1;
        // Strictly greater only: equal times keep item order.
        while (k >= a && t[idx[k]!]! > tx) {
          idx[k + 1] = idx[k]!;
          k--;
        }
        idx[k + 1] = x;
      }
    }
    if (runs.length <= 1) return idx;
    const out = this.scratch.i32('sortOut', n);
    const head = runs.slice();
    const end = runs.map((_, r) => runs[r + 1] ?? n);
    for (let o = 0; o < n; o++) {
      let best = -1;
      let bestTime = Infinity;
      for (let r = 0; r < head.length; r++) {
        if (head[r]! >= end[r]!) continue;
        // Runs hold increasing item numbers, so on equal times the earlier run wins.
        const tr = t[idx[head[r]!]!]!;
        if (tr < bestTime) {
          best = r;
          bestTime = tr;
        }
      }
      out[o] = idx[head[best]!]!;
      head[best]!++;
    }
    return out;
  }
}
