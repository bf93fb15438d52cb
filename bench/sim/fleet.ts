/**
 * The fleet simulator: premises with an enrolled PEV, an ESCI and an EUMD each, charging sessions
 * over a time range, the Kafka messages their devices would send, in delivery order, and the
 * ground truth of every session. Deterministic: the same options give the same bytes.
 *
 * How a run unfolds
 *   1. Plan (constructor): premises, then each premise's sessions (plug-in, departure) day by day
 *      in its local time zone, then a preliminary charging plan per session (to know its interval
 *      count and schedule). Sessions are numbered in plug-in order.
 *   2. Faults (constructor): round(share * sessions) sessions per kind, each faulted session
 *      carrying exactly one kind, chosen among the sessions a kind can apply to.
 *   3. Stream (`messages()`, `forEach()`, or `forEachBody()` straight into container files):
 *      enrollments first, then every session's messages interleaved by delivery time through a
 *      time queue of session streams (time-queue.ts). A session is built (session/build.ts: intervals, events, vehicle
 *      reports, its fault, its ground truth) when the stream reaches its plug-in time and dropped
 *      after its last message, so memory follows the sessions in flight, not the run's length.
 *
 * Randomness: every premise and session draws from its own fork of the seed (random.ts), so what
 * one session looks like does not depend on the others.
 *
 * The physics, simplified but with the shapes utilities see
 *   - Plug-in: evenings (most; around 18:30 local) with departure the next morning, some
 *     mornings with a short stay.
 *   - Steps 4-5: the PEV asks for the energy to reach its target state of charge; the utility grants
 *     at most what fits the schedule window: for EV-TOU-OFFPEAK, off-peak only (on-peak is
 *     16:00-21:00 local, so an evening plug-in waits until 21:00: delay OFF_PEAK); sometimes a
 *     demand-response event (30-120 min) or a short random delay (1-15 min).
 *   - Step 7-8: constant power just under the granted rate (1,440 W cordset; 7,200 or 11,040 W
 *     premise EVSE: multiples of 240 W, so a full interval at the rate is a whole number of Wh at
 *     every allowed length), then a linear taper to 15-30% of it near full.
 *   - The EUMD register is the integer floor of a real-valued meter, so intervals (register
 *     differences) are integers that add up exactly to the register delta, and the fractional
 *     remainder carries over to the next interval and the next session at that premise.
 *   - The vehicle's own running total is within +-1.5% of the EUMD (a per-session bias).
 */
import { TOPICS, RECORD_KINDS, latestSchema, type RecordKind, type Enrollment } from '../../schemas/index.js';
import { writeFrameHeader, FRAME_HEADER_BYTES } from '../../ingest/codec/framing.js';
import { ConfigError } from '../../schemas/errors.js';
import type avro from 'avsc';
import { Rng } from './random.js';
import { Calendar, DAY_MS, HOUR_MS } from '../../schemas/calendar.js';
import { IdFactory } from './ids.js';
import { TimeQueue } from './time-queue.js';
import { unionBranch, writeLong, writeLongAt } from './avro-write.js';
import {
  FAULT_KINDS, GAP_QUALITY_GATE_SHARE, MALFORMED_CODES, UNKNOWN_SCHEMA_ID, resolveFleetOptions,
  type FaultKind, type FleetOptions, type FleetOptionsInput, type MalformedCode,
} from './options.js';
import { buildSession } from './session/build.js';
import { GAP_LARGE, GAP_SMALL } from './session/delivery-faults.js';
import { ON_PEAK_END_HOUR, ON_PEAK_START_HOUR, planCharge } from './session/plan.js';
import { Scratch } from './session/scratch.js';
import {
  IT_INTERVAL, IT_MALFORMED, IT_PROGRESS, IT_VEHICLE, PLAN_MESSAGE, PLAN_RECORD, TOPIC_INDEX_KIND,
  type ChargePlan, type Premise, type SessionContext, type SessionStream, type SessionTruth,
} from './session/types.js';

export * from './options.js';
export { ON_PEAK_END_HOUR, ON_PEAK_START_HOUR } from './session/plan.js';
export type { SessionTruth } from './session/types.js';

export const PROGRAM_TOU = 'EV-TOU-OFFPEAK';
export const PROGRAM_FLAT = 'EV-FLAT';
const TARIFF_OF: Record<string, string> = { [PROGRAM_TOU]: 'EV-TOU-2026', [PROGRAM_FLAT]: 'EV-FLAT-2026' };

/**
 * One Kafka message as the devices would send it. Its bytes live in a shared arena that is never
 * written again once handed out; `value` makes a Buffer view on first use (views cost more than
 * the encoding itself, and a file writer needs none: it reads `arena` at `offset` directly).
 */
export class SimMessage {
  private view: Buffer | undefined;

  constructor(
    readonly kind: RecordKind,
    /** esci_id; pev_id for enrollments. */
    readonly key: string,
    readonly timestampMs: number,
    /** Framed records in the value; the Kafka header `pev-records` carries it when above 1. */
    readonly records: number,
    /** Record ends within the value when records > 1 (null for one record: it ends at `length`). */
    private readonly ends: number[] | null,
    /** Set on the garbage copies injected by the `malformed` fault (never part of a container file). */
    readonly malformed: MalformedCode | null,
    /** Index of the session in plug-in order; -1 for enrollments. */
    readonly session: number,
    readonly arena: Buffer,
    readonly offset: number,
    readonly length: number,
  ) {}

  get topic(): string {
    return TOPICS[this.kind];
  }

  /** Confluent-framed records back to back (or one mangled record when `malformed`). */
  get value(): Buffer {
    return (this.view ??= this.arena.subarray(this.offset, this.offset + this.length));
  }

  /** Record i is value[bounds[i], bounds[i+1]), framing header included. */
  get bounds(): number[] {
    return this.ends ? [0, ...this.ends] : [0, this.length];
  }

  /** End of record i within the value (exclusive). */
  recordEnd(i: number): number {
    return this.ends ? this.ends[i]! : this.length;
  }
}

export interface TopicCounts {
  messages: number;
  records: number;
  bytes: number;
}

export interface FleetCounts {
  /** Per topic: messages, good records and value bytes, malformed messages included. */
  topics: Record<string, TopicCounts>;
  malformed: { messages: number; bytes: number; byCode: Record<MalformedCode, number>; byTopic: Record<string, number> };
  sessions: number;
  /** Intervals the EUMDs produced, and interval records delivered (copies and bad ones included). */
  intervalsProduced: number;
  intervalRecords: number;
  energyWh: number;
  intervalSumWh: number;
}

export interface FleetManifest {
  generator: string;
  seed: string;
  options: FleetOptions & { from_iso: string; to_iso: string };
  schema_ids: Record<string, number>;
  premises: number;
  sessions: number;
  faulted_sessions: number;
  faults: Record<FaultKind, number>;
  gap_sizes: { small: number; large: number; quality_gate_share: number };
  topics: Record<string, TopicCounts>;
  malformed: FleetCounts['malformed'];
  totals: { intervals_produced: number; interval_records: number; energy_wh: number; interval_sum_wh: number };
}

/** Preliminary-plan facts that decide which faults a session can carry. */
const FLAG_OFF_SCHEDULE_OK = 1;
const FLAG_DEMAND_RESPONSE = 2;

/** The order faults are handed out in: the pickiest kinds first, so they find their sessions. */
const ASSIGN_ORDER: { kind: FaultKind; variant: number }[] = [
  { kind: 'off_schedule', variant: 0 },
  { kind: 'future_time', variant: 0 },
  { kind: 'negative_interval', variant: 0 },
  { kind: 'gap', variant: GAP_SMALL },
  { kind: 'interrupted', variant: 0 },
  { kind: 'out_of_order', variant: 0 },
  { kind: 'clock_skew', variant: 0 },
  { kind: 'register_reset', variant: 0 },
  { kind: 'gap', variant: GAP_LARGE },
  { kind: 'conflict', variant: 0 },
  { kind: 'spike', variant: 0 },
  { kind: 'resend', variant: 0 },
  ...FAULT_KINDS.filter((k) => !['off_schedule', 'future_time', 'negative_interval', 'gap', 'interrupted', 'out_of_order', 'clock_skew', 'register_reset', 'conflict', 'spike', 'resend'].includes(k))
    .map((kind) => ({ kind, variant: 0 })),
];

const FAULT_INDEX = new Map<FaultKind, number>(FAULT_KINDS.map((k, i) => [k, i]));
function faultIndex(kind: FaultKind): number {
  return FAULT_INDEX.get(kind) ?? -1;
}

export class Fleet {
  readonly options: FleetOptions;
  readonly sessionCount: number;
  /** Sessions per fault kind (exactly round(share * sessions)). */
  readonly faultCounts: Record<FaultKind, number>;
  /** Gap sessions below and above the QUALITY_GATE share. */
  readonly gapSizes = { small: 0, large: 0 };
  readonly counts: FleetCounts;
  /** The same objects as counts.topics, by kind: no string-keyed lookup per message. */
  private readonly topicCounts: Record<RecordKind, TopicCounts>;

  private readonly cal: Calendar;
  private readonly root: Rng;
  private readonly ids: IdFactory;
  private readonly premises: Premise[] = [];
  private readonly register: Float64Array;
  private readonly vehicleEvery: number;
  /** What buildSession shares across sessions. */
  private readonly ctx: SessionContext;
  // Per session, in plug-in order.
  private readonly sPremise: Int32Array;
  private readonly sOrdinal: Int32Array;
  private readonly sPlugIn: Float64Array;
  private readonly sDeparture: Float64Array;
  private readonly sFault: Int8Array;
  private readonly sVariant: Uint8Array;
  /** enrollment_ends: per premise, when its enrollment ends (inside the session) and when it is renewed. */
  private readonly enrollmentCuts = new Map<number, { endMs: number; renewMs: number }>();
  private stream:
    | { queue: TimeQueue<SessionStream>; enrollment: number; enrollments: Enrollment[]; next: number; onSession: ((truth: SessionTruth) => void) | undefined }
    | undefined;
  private arena = Buffer.allocUnsafe(0);
  private at = 0;
  private readonly intervalSchemaId = latestSchema('interval').id;
  private readonly eventSchemaId = latestSchema('sessionEvent').id;
  private readonly vehicleSchemaId = latestSchema('vehicleReport').id;
  private readonly enrollmentSchemaId = latestSchema('enrollment').id;
  private readonly eventType = latestSchema('sessionEvent').type;
  private readonly enrollmentType = latestSchema('enrollment').type;

  constructor(input: FleetOptionsInput = {}) {
    const o = resolveFleetOptions(input);
    this.options = o;
    this.cal = new Calendar(o.timeZone);
    this.root = new Rng(o.seed);
    this.ids = new IdFactory(this.root.fork('ids'));
    this.vehicleEvery = Math.max(1, Math.round(o.vehicleReportEveryS / o.intervalS));
    const fromYear = new Date(o.from).getUTCFullYear();
    this.ctx = {
      options: o,
      intervalMs: o.intervalS * 1000,
      vehicleEvery: this.vehicleEvery,
      // A whole number of days, so the shifted interval stays on its boundary; lands in 2099.
      futureShiftMs: Date.UTC(2099, 0, 1) - Date.UTC(fromYear, 0, 1),
      cal: this.cal,
      ids: this.ids,
      scratch: new Scratch(),
    };

    for (let p = 0; p < o.premises; p++) this.premises.push(this.makePremise(p));
    this.register = new Float64Array(o.premises);
    for (let p = 0; p < o.premises; p++) this.register[p] = this.root.fork('register', p).range(100_000, 9_000_000);

    // 1. Sessions per premise, then plug-in order.
    const premiseOf: number[] = [];
    const ordinalOf: number[] = [];
    const plugIns: number[] = [];
    const departures: number[] = [];
    for (let p = 0; p < o.premises; p++) this.planPremiseSessions(p, premiseOf, ordinalOf, plugIns, departures);
    const count = plugIns.length;
    const sorted = Array.from({ length: count }, (_, i) => i);
    sorted.sort((a, b) => plugIns[a]! - plugIns[b]! || premiseOf[a]! - premiseOf[b]!);
    this.sessionCount = count;
    this.sPremise = Int32Array.from(sorted, (i) => premiseOf[i]!);
    this.sOrdinal = Int32Array.from(sorted, (i) => ordinalOf[i]!);
    this.sPlugIn = Float64Array.from(sorted, (i) => plugIns[i]!);
    this.sDeparture = Float64Array.from(sorted, (i) => departures[i]!);

    // Preliminary plans: interval counts and what each session could carry.
    const sN = new Int32Array(count);
    const sFlags = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const prem = this.premises[this.sPremise[i]!]!;
      const plan = this.planCharge(i, false);
      sN[i] = plan.n;
      // off_schedule charges from plug-in instead of waiting: an off-peak session plugged in at
      // 16:00-20:00 then charges on-peak for at least an hour.
      const h = this.cal.localHour(this.sPlugIn[i]!);
      if (prem.tou && plan.delay === 'OFF_PEAK' && h >= ON_PEAK_START_HOUR && h < ON_PEAK_END_HOUR - 1) sFlags[i] = FLAG_OFF_SCHEDULE_OK;
      if (plan.delay === 'DEMAND_RESPONSE') sFlags[i] = sFlags[i]! | FLAG_DEMAND_RESPONSE;
    }

    // 2. Faults.
    this.sFault = new Int8Array(count).fill(-1);
    this.sVariant = new Uint8Array(count);
    this.faultCounts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
    this.assignFaults(sN, sFlags);
    this.cutEnrollments();

    this.topicCounts = {
      interval: { messages: 0, records: 0, bytes: 0 },
      sessionEvent: { messages: 0, records: 0, bytes: 0 },
      vehicleReport: { messages: 0, records: 0, bytes: 0 },
      enrollment: { messages: 0, records: 0, bytes: 0 },
    };
    this.counts = {
      topics: Object.fromEntries(RECORD_KINDS.map((k) => [TOPICS[k], this.topicCounts[k]])),
      malformed: {
        messages: 0,
        bytes: 0,
        byCode: Object.fromEntries(MALFORMED_CODES.map((c) => [c, 0])) as Record<MalformedCode, number>,
        byTopic: Object.fromEntries(Object.values(TOPICS).map((t) => [t, 0])),
      },
      sessions: 0,
      intervalsProduced: 0,
      intervalRecords: 0,
      energyWh: 0,
      intervalSumWh: 0,
    };
  }

  /**
   * What manifest.json records: the options, and once the stream has run, what was written.
   * Deterministic (no clock readings), so two runs with the same options write the same file.
   */
  manifest(): FleetManifest {
    const o = this.options;
    return {
      generator: 'pevmeter simulate',
      seed: o.seed,
      options: { ...o, from_iso: new Date(o.from).toISOString(), to_iso: new Date(o.to).toISOString() },
      schema_ids: Object.fromEntries(RECORD_KINDS.map((k) => [TOPICS[k], latestSchema(k).id])),
      premises: o.premises,
      sessions: this.sessionCount,
      faulted_sessions: Object.values(this.faultCounts).reduce((a, b) => a + b, 0),
      faults: { ...this.faultCounts },
      gap_sizes: { ...this.gapSizes, quality_gate_share: GAP_QUALITY_GATE_SHARE },
      topics: JSON.parse(JSON.stringify(this.counts.topics)) as Record<string, TopicCounts>,
      malformed: JSON.parse(JSON.stringify(this.counts.malformed)) as FleetCounts['malformed'],
      totals: {
        intervals_produced: this.counts.intervalsProduced,
        interval_records: this.counts.intervalRecords,
        energy_wh: this.counts.energyWh,
        interval_sum_wh: this.counts.intervalSumWh,
      },
    };
  }

  /**
   * Enrollment records, one per premise, in premise order; two for a premise whose enrollment an
   * enrollment_ends session cuts (the first ends inside that session, the renewal starts after it).
   */
  enrollments(): Enrollment[] {
    return this.premises.flatMap((p) => this.premiseEnrollments(p));
  }

  private premiseEnrollments(p: Premise): Enrollment[] {
    const cut = this.enrollmentCuts.get(p.index);
    const first = this.enrollment(p, p.validFrom, cut?.endMs ?? null);
    return cut === undefined ? [first] : [first, this.enrollment(p, cut.renewMs, null)];
  }

  private enrollment(p: Premise, validFrom: number, validTo: number | null): Enrollment {
    return {
      pev_id: p.pevId,
      premise_id: p.premiseId,
      account_id: p.accountId,
      program_id: p.programId,
      tariff_id: p.tariffId,
      esci_id: p.esciId,
      eumd_id: p.eumdId,
      valid_from: validFrom,
      valid_to: validTo === null ? null : { long: validTo },
      rated_power_w: p.ratedW,
    };
  }

  /**
   * Every message, in delivery order: enrollments first (timestamped at their valid_from), then
   * the sessions' messages ordered by delivery time (ties: session index, then the session's own
   * order). `onSession` receives each session's truth when the stream reaches its plug-in, before
   * its first message. A fleet streams once: either `messages()` or `forEach()`.
   */
  *messages(onSession?: (truth: SessionTruth) => void): Generator<SimMessage, FleetCounts, undefined> {
    this.start(onSession);
    for (let m = this.step(); m !== undefined; m = this.step()) yield m;
    return this.counts;
  }

  /** The same stream through a callback: no generator in the loop, for synchronous sinks. */
  forEach(onMessage: (message: SimMessage) => void, onSession?: (truth: SessionTruth) => void): FleetCounts {
    this.start(onSession);
    for (let m = this.step(); m !== undefined; m = this.step()) onMessage(m);
    return this.counts;
  }

  private start(onSession: ((truth: SessionTruth) => void) | undefined): void {
    if (this.stream) throw new Error('Fleet.messages: a fleet streams once; create another Fleet for a second pass');
    this.stream = { queue: new TimeQueue<SessionStream>(), enrollment: 0, next: 0, enrollments: this.enrollments(), onSession };
  }

  /** The next message of the stream, or undefined at its end. */
  private step(): SimMessage | undefined {
    const st = this.stream!;
    if (st.enrollment < st.enrollments.length) {
      const e = st.enrollments[st.enrollment++]!;
      this.reserve(MAX_RECORD_BYTES);
      const end = this.enrollmentType.encode(e, this.arena, writeFrameHeader(this.arena, this.at, this.enrollmentSchemaId));
      return this.finish('enrollment', e.pev_id, end, e.valid_from, 1, null, null, -1);
    }
    const top = this.due();
    if (top === undefined) return undefined;
    const msg = this.emit(top);
    this.advance(top);
    return msg;
  }

  /**
   * The record bodies alone, straight into one writer per kind (an Avro container file's block):
   * the same records in the same order as `messages()` minus the framing, with no message objects
   * and no copy in between. Malformed messages are counted, not written (they have no body).
   */
  forEachBody(writers: Record<RecordKind, BodyWriter>, onSession?: (truth: SessionTruth) => void): FleetCounts {
    this.start(onSession);
    const st = this.stream!;
    for (const e of st.enrollments) {
      const w = writers.enrollment;
      const buf = w.room(MAX_RECORD_BYTES);
      const end = this.enrollmentType.encode(e, buf, w.at);
      this.countBodies('enrollment', FRAME_HEADER_BYTES + end - w.at, 1);
      w.done(end);
    }
    st.enrollment = st.enrollments.length;
    for (let top = this.due(); top !== undefined; top = this.due()) {
      this.emitBodies(top, writers);
      this.advance(top);
    }
    return this.counts;
  }

  /** The session whose next message is due first (materializing sessions as the stream reaches them). */
  private due(): SessionStream | undefined {
    const st = this.stream!;
    const queue = st.queue;
    // A session's first message comes after its plug-in, so once the earliest pending message is
    // due before the next plug-in, no session yet to come can precede it.
    while (st.next < this.sessionCount && (queue.size === 0 || this.sPlugIn[st.next]! <= queue.topTime())) {
      const cursor = this.materialize(st.next++, st.onSession);
      if (cursor.plan.length > 0) queue.push(cursor, cursor.plan[0]!);
    }
    return queue.size === 0 ? undefined : queue.top();
  }

  /** After the top cursor sent a message: reorder it, or drop it when it has sent everything. */
  private advance(top: SessionStream): void {
    const queue = this.stream!.queue;
    if (top.pos < top.plan.length) queue.retimeTop(top.plan[top.pos]!);
    else queue.pop();
  }

  // ---------------------------------------------------------------- planning

  private makePremise(p: number): Premise {
    const r = this.root.fork('premise', p);
    const tou = r.bernoulli(0.8);
    const cordset = r.bernoulli(0.2);
    const evse11 = r.bernoulli(0.2);
    const ratedW = cordset ? 1440 : evse11 ? 11_040 : 7200;
    const vehicleMaxW = r.bernoulli(0.35) ? 11_040 : 7200;
    const batteryWh = r.choice([40_000, 58_000, 64_000, 75_000, 82_000, 100_000]);
    const validFrom = Math.floor(this.options.from / DAY_MS) * DAY_MS - r.int(30, 900) * DAY_MS;
    const programId = tou ? PROGRAM_TOU : PROGRAM_FLAT;
    return {
      index: p,
      premiseId: this.ids.premiseId(p),
      accountId: this.ids.accountId(p),
      esciId: this.ids.esciId(p),
      eumdId: this.ids.eumdId(p),
      pevId: this.ids.vin(p, r.fork('vin')),
      programId,
      tariffId: TARIFF_OF[programId] ?? programId,
      tou,
      connection: cordset ? 'CORDSET' : 'PREMISE_EVSE',
      ratedW,
      vehicleMaxW,
      batteryWh,
      validFrom,
    };
  }

  /**
   * A premise's plug-ins, day by day in local time: a morning stay (20% of days, plug-in
   * 07:00-11:30, 2-5 h) and an evening one (65%, plug-in around 18:30, leaving 06:00-08:30 the
   * next day). Every draw happens whether or not the session is kept, so the range does not
   * change which numbers a day gets.
   */
  private planPremiseSessions(p: number, premiseOf: number[], ordinalOf: number[], plugIns: number[], departures: number[]): void {
    const { from, to } = this.options;
    const r = this.root.fork('days', p);
    let lastDeparture = -Infinity;
    let ordinal = 0;
    const keep = (plugIn: number, departure: number): void => {
      if (plugIn < from || plugIn >= to || plugIn < lastDeparture + 30 * 60_000) return;
      premiseOf.push(p);
      ordinalOf.push(ordinal++);
      plugIns.push(plugIn);
      departures.push(departure);
      lastDeparture = departure;
    };
    for (let day = this.cal.localDayStart(from); day <= this.cal.localDayStart(to - 1); day += DAY_MS) {
      const morning = r.float() < 0.2;
      const morningHour = r.range(7, 11.5);
      const morningStay = r.range(2, 5) * HOUR_MS;
      const evening = r.float() < 0.65;
      const eveningHour = Math.min(23.5, Math.max(16, r.normal(18.5, 1.5)));
      const leaveHour = r.range(6, 8.5);
      if (morning) {
        const plugIn = wholeSecond(this.cal.toUtc(day + morningHour * HOUR_MS));
        keep(plugIn, wholeSecond(plugIn + morningStay));
      }
      if (evening) {
        const plugIn = wholeSecond(this.cal.toUtc(day + eveningHour * HOUR_MS));
        keep(plugIn, wholeSecond(this.cal.toUtc(day + DAY_MS + leaveHour * HOUR_MS)));
      }
    }
  }

  private sessionRng(i: number): Rng {
    return this.root.fork('session', this.sPremise[i]!, this.sOrdinal[i]!);
  }

  /** The session's charging plan (session/plan.ts planCharge) from its own random stream. */
  private planCharge(i: number, offSchedule: boolean): ChargePlan {
    const prem = this.premises[this.sPremise[i]!]!;
    return planCharge(this.ctx, prem, this.sPlugIn[i]!, this.sDeparture[i]!, this.sessionRng(i).fork('plan'), offSchedule);
  }

  private assignFaults(sN: Int32Array, sFlags: Uint8Array): void {
    const o = this.options;
    const S = this.sessionCount;
    const order = this.root.fork('faults').shuffle(Array.from({ length: S }, (_, i) => i));
    const ve = this.vehicleEvery;
    const cutPremises = new Set<number>();
    const eligible = (kind: FaultKind, variant: number, i: number): boolean => {
      const n = sN[i]!;
      switch (kind) {
        case 'off_schedule': return (sFlags[i]! & FLAG_OFF_SCHEDULE_OK) !== 0;
        case 'dr_violation': return (sFlags[i]! & FLAG_DEMAND_RESPONSE) !== 0;
        // One cut enrollment per premise: a second would end the renewal of the first.
        case 'enrollment_ends': return n >= 4 && !cutPremises.has(this.sPremise[i]!);
        // One missing interval must stay under the QUALITY_GATE share, with margin.
        case 'future_time':
        case 'negative_interval': return n >= 12;
        case 'gap': return variant === GAP_SMALL ? n >= 13 : n >= 3;
        case 'interrupted': return n >= Math.max(ve + 2, 3);
        case 'out_of_order':
        case 'clock_skew':
        case 'register_reset': return n >= 4;
        case 'conflict':
        case 'spike':
        case 'estimated_intervals': return n >= 3;
        case 'resend': return n >= 2;
        default: return n >= 1;
      }
    };
    for (const { kind, variant } of ASSIGN_ORDER) {
      const total = Math.round(o.faults[kind] * S);
      // Gap sessions split in two sizes: the first half (rounded up) small, the rest large.
      const want = kind === 'gap' ? (variant === GAP_SMALL ? Math.ceil(total / 2) : Math.floor(total / 2)) : total;
      let got = 0;
      for (let j = 0; j < S && got < want; j++) {
        const i = order[j]!;
        if (this.sFault[i] !== -1 || !eligible(kind, variant, i)) continue;
        this.sFault[i] = faultIndex(kind);
        this.sVariant[i] = variant;
        if (kind === 'enrollment_ends') cutPremises.add(this.sPremise[i]!);
        got++;
      }
      if (got < want) {
        throw new ConfigError(
          `faults.${kind}: ${want} sessions wanted (share ${o.faults[kind]} of ${S}) but only ${got} sessions are left that this kind can apply to; lower the share or simulate more premises or days`,
        );
      }
      this.faultCounts[kind] += got;
      if (kind === 'gap') this.gapSizes[variant === GAP_SMALL ? 'small' : 'large'] = got;
    }
    // Malformed sessions cycle through the three corruptions, so each appears.
    let ordinal = 0;
    const malformed = faultIndex('malformed');
    for (let i = 0; i < S; i++) if (this.sFault[i] === malformed) this.sVariant[i] = ordinal++ % MALFORMED_CODES.length;
  }

  /**
   * enrollment_ends: the premise's enrollment ends halfway through the session's charging (whole
   * second) and is renewed 15 minutes after its departure, before the premise's next plug-in
   * (at least 30 minutes later) and after its last interval (at most 15 minutes long) has ended.
   */
  private cutEnrollments(): void {
    const kind = faultIndex('enrollment_ends');
    for (let i = 0; i < this.sessionCount; i++) {
      if (this.sFault[i] !== kind) continue;
      const plan = this.planCharge(i, false);
      this.enrollmentCuts.set(this.sPremise[i]!, {
        endMs: wholeSecond((plan.cs + plan.ce) / 2),
        renewMs: this.sDeparture[i]! + 15 * 60_000,
      });
    }
  }

  // ---------------------------------------------------------------- materializing

  /** Builds session i (session/build.ts), hands its truth over, and returns its stream. */
  private materialize(i: number, onSession?: (truth: SessionTruth) => void): SessionStream {
    const p = this.sPremise[i]!;
    const faultIdx = this.sFault[i]!;
    const built = buildSession(this.ctx, {
      index: i,
      premise: this.premises[p]!,
      otherPremiseId: this.ids.premiseId((p + 1) % Math.max(this.options.premises, 2)),
      otherEumdId: this.ids.eumdId((p + 1) % Math.max(this.options.premises, 2)),
      plugIn: this.sPlugIn[i]!,
      departure: this.sDeparture[i]!,
      fault: faultIdx >= 0 ? FAULT_KINDS[faultIdx]! : null,
      variant: this.sVariant[i]!,
      rng: this.sessionRng(i),
      registerBefore: this.register[p]!,
    });
    this.register[p] = built.registerAfter;
    const c = this.counts;
    c.sessions++;
    c.intervalsProduced += built.intervals;
    c.energyWh += built.truth.energy_wh;
    c.intervalSumWh += built.truth.interval_sum_wh;
    onSession?.(built.truth);
    return built.stream;
  }

  // ---------------------------------------------------------------- encoding

  /**
   * Messages are encoded straight into an arena and handed out as views of it: no copy per
   * message, and a consumer may keep a message as long as it likes, because a filled arena is
   * never written again (it is dropped, and collected once no view holds it).
   */
  private reserve(bytes: number): void {
    if (this.arena.length - this.at >= bytes) return;
    this.arena = Buffer.allocUnsafe(Math.max(ARENA_BYTES, bytes));
    this.at = 0;
  }

  /** Writes the record at fields[at] (SessionStream.plan layout) framed, at `pos` of the arena; returns the end. */
  private encodeRecord(c: SessionStream, fields: Float64Array, at: number, pos: number): number {
    const type = fields[at]!;
    const id = type === IT_INTERVAL ? this.intervalSchemaId : type === IT_VEHICLE ? this.vehicleSchemaId : this.eventSchemaId;
    return encodeBody(c, fields, at, this.arena, writeFrameHeader(this.arena, pos, id), this.eventType);
  }

  /** emit() for body writers: the same records, counted the same way, written without framing. */
  private emitBodies(c: SessionStream, writers: Record<RecordKind, BodyWriter>): void {
    const p = c.plan;
    let at = c.pos;
    const topic = p[at + 1]!;
    const count = p[at + 2]!;
    at += PLAN_MESSAGE;
    const kind = TOPIC_INDEX_KIND[topic]!;
    if (p[at] === IT_MALFORMED) {
      // Counted exactly as the framed stream would (its length depends on the corruption), then dropped.
      this.emit(c);
      return;
    }
    const w = writers[kind];
    let bytes = 0;
    for (let k = 0; k < count; k++, at += PLAN_RECORD) {
      const type = p[at]!;
      if (type === IT_INTERVAL) this.counts.intervalRecords++;
      const buf = w.room(MAX_RECORD_BYTES);
      const from = w.at;
      const end = encodeBody(c, p, at, buf, from, this.eventType);
      bytes += FRAME_HEADER_BYTES + end - from;
      w.done(end);
    }
    c.pos = at;
    this.countBodies(kind, bytes, count);
  }

  /** Counts one message of `records` good records whose framed value is `bytes` long. */
  private countBodies(kind: RecordKind, bytes: number, records: number): void {
    const t = this.topicCounts[kind];
    t.messages++;
    t.bytes += bytes;
    t.records += records;
  }

  private emit(c: SessionStream): SimMessage {
    const p = c.plan;
    let at = c.pos;
    const time = p[at]!;
    const topic = p[at + 1]!;
    const count = p[at + 2]!;
    at += PLAN_MESSAGE;
    this.reserve(count * MAX_RECORD_BYTES);
    const start = this.at;
    const ends: number[] | null = count > 1 ? [] : null;
    let pos = start;
    let mal: MalformedCode | null = null;
    for (let k = 0; k < count; k++, at += PLAN_RECORD) {
      const type = p[at]!;
      if (type === IT_INTERVAL) {
        this.counts.intervalRecords++;
        pos = this.encodeRecord(c, p, at, pos);
      } else if (type === IT_MALFORMED) {
        const m = c.malformed[p[at + 1]!]!;
        mal = m.code;
        const end = this.encodeRecord(c, m.fields, 0, pos);
        if (m.code === 'PEV_TRUNCATED') pos = end - Math.min(m.param, end - pos - FRAME_HEADER_BYTES - 1);
        else {
          if (m.code === 'PEV_NO_MAGIC') this.arena[pos] = m.param;
          else writeFrameHeader(this.arena, pos, UNKNOWN_SCHEMA_ID);
          pos = end;
        }
      } else {
        pos = this.encodeRecord(c, p, at, pos);
      }
      if (ends) ends.push(pos - start);
    }
    c.pos = at;
    return this.finish(TOPIC_INDEX_KIND[topic]!, c.esciId, pos, time, count, ends, mal, c.index);
  }

  /** Hands out arena[at, end) as a message and counts it. */
  private finish(
    kind: RecordKind, key: string, end: number, timestampMs: number, records: number, ends: number[] | null,
    malformed: MalformedCode | null, session: number,
  ): SimMessage {
    const offset = this.at;
    const length = end - offset;
    this.at = end;
    const t = this.topicCounts[kind];
    t.messages++;
    t.bytes += length;
    if (malformed) {
      const m = this.counts.malformed;
      m.messages++;
      m.bytes += length;
      m.byCode[malformed]++;
      const topic = TOPICS[kind];
      m.byTopic[topic] = (m.byTopic[topic] ?? 0) + 1;
    } else {
      t.records += records;
    }
    return new SimMessage(kind, key, timestampMs, records, ends, malformed, session, this.arena, offset, length);
  }
}

/**
 * Where forEachBody writes: a buffer with room at `at`, then `done(end)` once a body ends there.
 * ContainerWriter is one.
 */
export interface BodyWriter {
  /** Makes room for `bytes` at `at` (may flush and move `at`); returns the buffer to write into. */
  room(bytes: number): Buffer;
  readonly at: number;
  done(end: number): void;
}

/** Union branch of Progress in SessionEvent.body, from the schema (not a constant that could drift). */
const PROGRESS_BRANCH = unionBranch(latestSchema('sessionEvent').text, 'body', 'Progress');

/**
 * Writes the record at fields[at] (SessionStream.plan layout) as an Avro body at buf[pos]; returns
 * the end. Intervals, vehicle reports and progress events, the frequent ones, are a session's
 * encoded IDs plus a few varints; the rare events go through avsc. The fields are read here from
 * the array, not passed in: a timestamp passed to a call that is not inlined is a heap-allocated
 * number, one per record.
 */
function encodeBody(c: SessionStream, fields: Float64Array, at: number, buf: Buffer, pos: number, eventType: avro.Type): number {
  const type = fields[at]!;
  // TypedArray set, not Buffer.copy: the same memmove without copy()'s argument handling, which
  // costs more than the 80 bytes themselves.
  if (type === IT_INTERVAL) {
    buf.set(c.intervalPrefix, pos);
    pos = writeLongAt(buf, pos + c.intervalPrefix.length, fields, at + 1);
    pos = writeLongAt(buf, pos, fields, at + 2);
    pos = writeLong(buf, pos, c.intervalS);
    pos = writeLongAt(buf, pos, fields, at + 3);
    pos = writeLongAt(buf, pos, fields, at + 4);
    // quality: 0 but for an estimated_intervals session's marked seqs.
    if (c.quality !== null) return writeLong(buf, pos, c.quality.get(fields[at + 1]!) ?? 0);
    buf[pos] = 0;
    return pos + 1;
  }
  if (type === IT_VEHICLE) {
    buf.set(c.vehiclePrefix, pos);
    pos = writeLongAt(buf, pos + c.vehiclePrefix.length, fields, at + 2);
    return writeLongAt(buf, pos, fields, at + 3);
  }
  if (type === IT_PROGRESS) {
    // SessionEvent: session_id, event_seq, esci_id, premise_id, pev_id, event_time, body branch, running_wh, intervals.
    buf.set(c.eventHead, pos);
    pos = writeLongAt(buf, pos + c.eventHead.length, fields, at + 1);
    buf.set(c.eventIds, pos);
    pos = writeLongAt(buf, pos + c.eventIds.length, fields, at + 2);
    pos = writeLong(buf, pos, PROGRESS_BRANCH);
    pos = writeLongAt(buf, pos, fields, at + 3);
    return writeLongAt(buf, pos, fields, at + 4);
  }
  return eventType.encode(c.events[fields[at + 1]!], buf, pos);
}

/** Arena size: many messages per allocation. */
const ARENA_BYTES = 1 << 20;
/** Generous bound on one framed record (an event with its IDs is under 200 bytes). */
const MAX_RECORD_BYTES = 1024;

/** The fleet for `options` (see FleetOptions for every option and its default). */
export function simulateFleet(options: FleetOptionsInput = {}): Fleet {
  return new Fleet(options);
}

function wholeSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

