/**
 * The shapes a session is made of and handed over in: the premise, the ground truth line, the
 * charging plan, what every session of a fleet shares, and the session stream fleet.ts plays out,
 * with the record types and sizes of its flat delivery plan.
 */
import type { Connection, DelayReason, RecordKind, SessionEvent } from '../../../schemas/index.js';
import type { Calendar } from '../../../schemas/calendar.js';
import type { IdFactory } from '../ids.js';
import type { Rng } from '../random.js';
import type { FaultKind, FlagCode, FleetOptions, MalformedCode } from '../options.js';
import type { Scratch } from './scratch.js';

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
export const FIRST_PROGRESS_SEQ = 3;

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
  /** EUMD quality bits by seq (estimated_intervals); null when every interval's are 0. */
  quality: Map<number, number> | null;
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
  /** The EUMD whose intervals a foreign_meter session carries (the next premise's). */
  otherEumdId: string;
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
