/**
 * Per-kind validation of a decoded record. Runs in the decode workers once per record, so it
 * allocates nothing on the good path: regexes are compiled once here, times stay plain numbers
 * (no Date), and the message string of a RecordError is only built when a check fails.
 *
 * `notAfterMs` is the latest believable observation time: the batch's `now` plus the clock-skew
 * allowance, computed once per batch by the caller (the clock seam; nothing here reads a clock).
 *
 * What is checked, and why each bound:
 *   IDs             the formats the ESCIs and the simulator agree on (docs in schemas/avro); every
 *                   string column is an ID, so after this check no string holds a tab, newline,
 *                   backslash or non-ASCII byte, and the TSV writer can copy it unescaped.
 *   seq, event_seq  0..10,000,000: a 15 s interval for 4.7 years; anything above is a corrupt counter.
 *   interval_s      15, 30, 60, 300 or 900 s: the lengths an EUMD can be configured with.
 *   energy_wh       never negative; at most 350 kW over the interval (the fastest DC charger
 *                   is below that; a home EUMD far below), else physically impossible.
 *   observed times  interval_start, event_time, report_time, plug_in_time, start/end_time: from
 *                   2000-01-01 and not after now + skew (a meter cannot report the future).
 *   planned times   departure, schedule_start/end, valid_from/to: from 2000-01-01 to 2100-01-01;
 *                   they may legitimately lie in the future.
 *   ints            every int lands in an Int32/UInt32 column: a value the column cannot hold
 *                   would make ClickHouse reject the whole insert, so it is rejected here alone.
 */
import { RecordError } from '../../schemas/errors.js';
import { validToMs } from './rows.js';
import type { RecordErrorCode } from '../../schemas/errors.js';
import type {
  EumdInterval, Enrollment, RecordKind, RecordOf, SessionEvent, SessionEventBody, VehicleReport,
} from '../../schemas/index.js';

/** 2000-01-01T00:00:00Z: no PEV program data predates it; earlier values are unset clocks. */
export const MIN_TIME_MS = 946_684_800_000;
/** 2100-01-01T00:00:00Z: upper bound for planned times (ClickHouse DateTime ends in 2106). */
export const MAX_TIME_MS = 4_102_444_800_000;
export const MAX_SEQ = 10_000_000;
/** 350 kW, the physical ceiling for energy over an interval, and for rates. */
export const MAX_POWER_W = 350_000;
export const ALLOWED_INTERVAL_S: readonly number[] = [15, 30, 60, 300, 900];
/** Default clock-skew allowance for future timestamps: 5 minutes. */
export const DEFAULT_CLOCK_SKEW_MS = 300_000;
/** Quality is a bit set with 4 defined bits; unknown higher bits are kept (a newer meter), within UInt16. */
const MAX_QUALITY = 0xffff;
const MAX_INT32 = 2_147_483_647;

/*
 * ID formats, checked with a character-class table rather than regexes: this runs five to seven
 * times per record and a table walk is several times cheaper than a regex call. The regexes
 * below say the same thing and are kept for the documentation and the tests.
 */
export const ID_PATTERNS = {
  vin: /^[A-HJ-NPR-Z0-9]{17}$/,
  premise: /^P[0-9]{9}$/,
  account: /^A[0-9]{9}$/,
  esci: /^ESCI-[0-9A-F]{8}$/,
  eumd: /^EUMD-[0-9A-F]{8}$/,
  session: /^S-[0-9a-f]{16}$/,
  program: /^[A-Z0-9][A-Z0-9-]{0,31}$/,
} as const;

const DIGIT = 1;
const UPPER_HEX = 2;
const LOWER_HEX = 4;
const VIN_CHAR = 8;
const PROGRAM_CHAR = 16;
const CLASS = new Uint8Array(128);
for (let c = 48; c <= 57; c++) CLASS[c]! |= DIGIT | UPPER_HEX | LOWER_HEX | VIN_CHAR | PROGRAM_CHAR;
for (let c = 65; c <= 90; c++) {
  CLASS[c]! |= PROGRAM_CHAR;
  if (c <= 70) CLASS[c]! |= UPPER_HEX;
  if (c !== 73 && c !== 79 && c !== 81) CLASS[c]! |= VIN_CHAR; // no I, O, Q in a VIN
}
for (let c = 97; c <= 102; c++) CLASS[c]! |= LOWER_HEX;
CLASS[45]! |= PROGRAM_CHAR;

/** `prefix` then exactly `bodyLen` characters of class `cls`. */
function idOk(s: string, prefix: string, bodyLen: number, cls: number): boolean {
  const p = prefix.length;
  const n = s.length;
  if (n !== p + bodyLen) return false;
  for (let i = 0; i < p; i++) if (s.charCodeAt(i) !== prefix.charCodeAt(i)) return false;
  for (let i = p; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || (CLASS[c]! & cls) === 0) return false;
  }
  return true;
}

function programOk(s: string): boolean {
  const n = s.length;
  // A leading '-' reads as an option on a command line and as a formula in a spreadsheet.
  if (n < 1 || n > 32 || s.charCodeAt(0) === 45) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || (CLASS[c]! & PROGRAM_CHAR) === 0) return false;
  }
  return true;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** A value for an error message: quoted, control characters escaped, bounded in length. */
function show(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v.length > 48 ? v.slice(0, 48) + '...' : v) : String(v);
  return s;
}

function fail(code: RecordErrorCode, message: string): never {
  throw new RecordError(code, message);
}

function checkId(field: string, v: unknown, ok: boolean, expected: string): void {
  if (ok) return;
  if (typeof v === 'string' && CONTROL.test(v)) fail('PEV_BAD_ID', `${field} ${show(v)} contains control characters; expected ${expected}`);
  fail('PEV_BAD_ID', `${field} ${show(v)} is malformed; expected ${expected}`);
}

const VIN_TEXT = '17 characters of A-H, J-N, P, R-Z, 0-9 (a VIN)';
const PREMISE_TEXT = "'P' then 9 digits";
const ACCOUNT_TEXT = "'A' then 9 digits";
const ESCI_TEXT = "'ESCI-' then 8 upper-case hex digits";
const EUMD_TEXT = "'EUMD-' then 8 upper-case hex digits";
const SESSION_TEXT = "'S-' then 16 lower-case hex digits";
const PROGRAM_TEXT = '1 to 32 characters of A-Z, 0-9 and -, not starting with -';

function checkSeq(field: string, v: number): void {
  if (Number.isInteger(v) && v >= 0 && v <= MAX_SEQ) return;
  fail('PEV_SEQ_RANGE', `${field} ${show(v)} is outside 0..${MAX_SEQ}`);
}

function checkObservedTime(field: string, v: number, notAfterMs: number): void {
  if (!(v >= MIN_TIME_MS) || !Number.isInteger(v)) fail('PEV_TIME_RANGE', `${field} ${show(v)} ms is before 2000-01-01T00:00:00Z or not an integer`);
  if (v > notAfterMs) fail('PEV_FUTURE_TIME', `${field} ${show(v)} ms is ${v - notAfterMs} ms beyond now plus the clock-skew allowance`);
}

function checkPlannedTime(field: string, v: number): void {
  if (v >= MIN_TIME_MS && v < MAX_TIME_MS && Number.isInteger(v)) return;
  fail('PEV_TIME_RANGE', `${field} ${show(v)} ms is outside 2000-01-01 to 2100-01-01 UTC`);
}

function checkEnergy(field: string, v: number): void {
  if (v >= 0 && Number.isSafeInteger(v)) return;
  if (v < 0) fail('PEV_NEGATIVE_ENERGY', `${field} ${show(v)} Wh is negative`);
  fail('PEV_ENERGY_RANGE', `${field} ${show(v)} Wh is not a safe integer`);
}

function checkInt(field: string, v: number, min: number, max: number, unit: string): void {
  if (Number.isInteger(v) && v >= min && v <= max) return;
  fail('PEV_FIELD_RANGE', `${field} ${show(v)}${unit} is outside ${min}..${max}`);
}

export function validateInterval(r: EumdInterval, notAfterMs: number): void {
  checkId('session_id', r.session_id, idOk(r.session_id, 'S-', 16, LOWER_HEX), SESSION_TEXT);
  checkId('esci_id', r.esci_id, idOk(r.esci_id, 'ESCI-', 8, UPPER_HEX), ESCI_TEXT);
  checkId('eumd_id', r.eumd_id, idOk(r.eumd_id, 'EUMD-', 8, UPPER_HEX), EUMD_TEXT);
  checkId('premise_id', r.premise_id, idOk(r.premise_id, 'P', 9, DIGIT), PREMISE_TEXT);
  checkId('pev_id', r.pev_id, idOk(r.pev_id, '', 17, VIN_CHAR), VIN_TEXT);
  checkSeq('seq', r.seq);
  const s = r.interval_s;
  if (s !== 15 && s !== 30 && s !== 60 && s !== 300 && s !== 900) {
    fail('PEV_INTERVAL_LENGTH', `interval_s ${show(s)} is not one of 15, 30, 60, 300, 900 seconds`);
  }
  const t = r.interval_start;
  checkObservedTime('interval_start', t, notAfterMs);
  if (t % 1000 !== 0) fail('PEV_TIME_RANGE', `interval_start ${show(t)} ms is not a whole second`);
  const e = r.energy_wh;
  if (e < 0) fail('PEV_NEGATIVE_ENERGY', `energy_wh ${show(e)} Wh is negative`);
  // Integer form of e > 350 kW * s / 3600: no rounding at the boundary.
  if (!Number.isSafeInteger(e) || e * 3600 > MAX_POWER_W * s) {
    fail('PEV_ENERGY_RANGE', `energy_wh ${show(e)} Wh exceeds ${MAX_POWER_W / 1000} kW over ${s} s (${Math.floor((MAX_POWER_W * s) / 3600)} Wh)`);
  }
  const reg = r.register_wh;
  if (!(reg >= 0) || !Number.isSafeInteger(reg)) fail('PEV_ENERGY_RANGE', `register_wh ${show(reg)} Wh is negative or not a safe integer`);
  checkInt('quality', r.quality, 0, MAX_QUALITY, '');
}

export function validateVehicleReport(r: VehicleReport, notAfterMs: number): void {
  checkId('session_id', r.session_id, idOk(r.session_id, 'S-', 16, LOWER_HEX), SESSION_TEXT);
  checkId('pev_id', r.pev_id, idOk(r.pev_id, '', 17, VIN_CHAR), VIN_TEXT);
  checkId('esci_id', r.esci_id, idOk(r.esci_id, 'ESCI-', 8, UPPER_HEX), ESCI_TEXT);
  checkObservedTime('report_time', r.report_time, notAfterMs);
  checkEnergy('running_wh', r.running_wh);
}

export function validateEnrollment(r: Enrollment): void {
  checkId('pev_id', r.pev_id, idOk(r.pev_id, '', 17, VIN_CHAR), VIN_TEXT);
  checkId('premise_id', r.premise_id, idOk(r.premise_id, 'P', 9, DIGIT), PREMISE_TEXT);
  checkId('account_id', r.account_id, idOk(r.account_id, 'A', 9, DIGIT), ACCOUNT_TEXT);
  checkId('program_id', r.program_id, programOk(r.program_id), PROGRAM_TEXT);
  checkId('tariff_id', r.tariff_id, programOk(r.tariff_id), PROGRAM_TEXT);
  checkId('esci_id', r.esci_id, idOk(r.esci_id, 'ESCI-', 8, UPPER_HEX), ESCI_TEXT);
  checkId('eumd_id', r.eumd_id, idOk(r.eumd_id, 'EUMD-', 8, UPPER_HEX), EUMD_TEXT);
  checkPlannedTime('valid_from', r.valid_from);
  const raw: unknown = r.valid_to;
  if (raw !== null) {
    const to = validToMs(raw);
    checkPlannedTime('valid_to', to);
    if (to <= r.valid_from) fail('PEV_FIELD_RANGE', `valid_to ${show(to)} ms is not after valid_from ${show(r.valid_from)} ms`);
  }
  checkInt('rated_power_w', r.rated_power_w, 1, MAX_POWER_W, ' W');
}

export function validateSessionEvent(r: SessionEvent, notAfterMs: number): void {
  checkId('session_id', r.session_id, idOk(r.session_id, 'S-', 16, LOWER_HEX), SESSION_TEXT);
  checkSeq('event_seq', r.event_seq);
  checkId('esci_id', r.esci_id, idOk(r.esci_id, 'ESCI-', 8, UPPER_HEX), ESCI_TEXT);
  checkId('premise_id', r.premise_id, idOk(r.premise_id, 'P', 9, DIGIT), PREMISE_TEXT);
  checkId('pev_id', r.pev_id, idOk(r.pev_id, '', 17, VIN_CHAR), VIN_TEXT);
  checkObservedTime('event_time', r.event_time, notAfterMs);
  validateBody(r.body, notAfterMs);
}

/**
 * The body is a wrapped union: an object with one key, the branch's full name. Property lookups
 * in a fixed order find it without Object.keys (which would allocate an array per record).
 */
function validateBody(body: SessionEventBody, notAfterMs: number): void {
  const b = body as Partial<Record<string, unknown>>;
  let v: unknown;
  if ((v = b['pevmeter.v1.Progress']) !== undefined) {
    const p = v as { running_wh: number; intervals: number };
    checkEnergy('body.Progress.running_wh', p.running_wh);
    checkInt('body.Progress.intervals', p.intervals, 0, MAX_SEQ, '');
  } else if ((v = b['pevmeter.v1.SessionStart']) !== undefined) {
    const p = v as { plug_in_time: number };
    checkObservedTime('body.SessionStart.plug_in_time', p.plug_in_time, notAfterMs);
  } else if ((v = b['pevmeter.v1.EnergyRequest']) !== undefined) {
    const p = v as { requested_wh: number; max_rate_w: number; departure_time: number };
    checkEnergy('body.EnergyRequest.requested_wh', p.requested_wh);
    checkInt('body.EnergyRequest.max_rate_w', p.max_rate_w, 0, MAX_POWER_W, ' W');
    checkPlannedTime('body.EnergyRequest.departure_time', p.departure_time);
  } else if ((v = b['pevmeter.v1.EnergyAvailable']) !== undefined) {
    const p = v as { granted_wh: number; rate_w: number; schedule_start: number; schedule_end: number };
    checkEnergy('body.EnergyAvailable.granted_wh', p.granted_wh);
    checkInt('body.EnergyAvailable.rate_w', p.rate_w, 0, MAX_POWER_W, ' W');
    checkPlannedTime('body.EnergyAvailable.schedule_start', p.schedule_start);
    checkPlannedTime('body.EnergyAvailable.schedule_end', p.schedule_end);
    if (p.schedule_end < p.schedule_start) {
      fail('PEV_FIELD_RANGE', `body.EnergyAvailable.schedule_end ${show(p.schedule_end)} ms is before schedule_start ${show(p.schedule_start)} ms`);
    }
  } else if ((v = b['pevmeter.v1.SessionEnd']) !== undefined) {
    const p = v as { start_time: number; end_time: number; duration_s: number; energy_wh: number };
    checkObservedTime('body.SessionEnd.start_time', p.start_time, notAfterMs);
    checkObservedTime('body.SessionEnd.end_time', p.end_time, notAfterMs);
    if (p.end_time < p.start_time) {
      fail('PEV_FIELD_RANGE', `body.SessionEnd.end_time ${show(p.end_time)} ms is before start_time ${show(p.start_time)} ms`);
    }
    checkInt('body.SessionEnd.duration_s', p.duration_s, 0, MAX_INT32, ' s');
    checkEnergy('body.SessionEnd.energy_wh', p.energy_wh);
  } else {
    fail('PEV_AVRO_INVALID', 'body holds no known SessionEvent branch');
  }
}

/** Validates a record of `kind`; throws RecordError naming the field and the expectation. */
export function validateRecord<K extends RecordKind>(kind: K, record: RecordOf[K], notAfterMs: number): void {
  switch (kind) {
    case 'interval': return validateInterval(record as EumdInterval, notAfterMs);
    case 'sessionEvent': return validateSessionEvent(record as SessionEvent, notAfterMs);
    case 'vehicleReport': return validateVehicleReport(record as VehicleReport, notAfterMs);
    case 'enrollment': return validateEnrollment(record as Enrollment);
  }
  return fail('PEV_WRONG_RECORD_TYPE', `unknown record kind ${show(kind)}`);
}
