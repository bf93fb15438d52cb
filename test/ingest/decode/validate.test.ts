import t from 'tap';
import {
  ID_PATTERNS, validateEnrollment, validateInterval, validateRecord, validateSessionEvent, validateVehicleReport,
} from '../../../ingest/decode/validate.js';
import type { EumdInterval, Enrollment, SessionEvent } from '../../../schemas/index.js';
import { ENROLLMENT_CLOSED, ENROLLMENT_OPEN, INTERVAL, NOW_MS, SESSION_EVENTS, SKEW_MS, VEHICLE_REPORT } from './fixtures.js';

const LIMIT = NOW_MS + SKEW_MS;

void t.test('good records of every kind pass', (t) => {
  t.doesNotThrow(() => validateInterval(INTERVAL, LIMIT));
  t.doesNotThrow(() => validateVehicleReport(VEHICLE_REPORT, LIMIT));
  t.doesNotThrow(() => validateEnrollment(ENROLLMENT_OPEN));
  t.doesNotThrow(() => validateEnrollment(ENROLLMENT_CLOSED));
  for (const e of SESSION_EVENTS) t.doesNotThrow(() => validateSessionEvent(e.value as SessionEvent, LIMIT), e.name);
  // Boundaries that are still good.
  t.doesNotThrow(() => validateInterval({ ...INTERVAL, interval_s: 900, energy_wh: 87_500 }, LIMIT), '350 kW for 900 s exactly');
  t.doesNotThrow(() => validateInterval({ ...INTERVAL, interval_s: 15, energy_wh: 1_458 }, LIMIT), 'just under 350 kW for 15 s');
  t.doesNotThrow(() => validateInterval({ ...INTERVAL, interval_start: LIMIT - (LIMIT % 1000) }, LIMIT), 'at now + skew');
  t.doesNotThrow(() => validateInterval({ ...INTERVAL, seq: 10_000_000 }, LIMIT));
  t.doesNotThrow(() => validateInterval({ ...INTERVAL, energy_wh: 0, interval_start: 946_684_800_000 }, LIMIT), '2000-01-01 exactly');
  t.end();
});

type Case = [name: string, kind: 'interval' | 'vehicleReport' | 'enrollment' | 'sessionEvent', record: object, code: string, messagePart: string];

const event = (body: object): object => ({ ...(SESSION_EVENTS[0]!.value), body });
const cases: Case[] = [
  ['session_id malformed', 'interval', { ...INTERVAL, session_id: 'S-0123456789ABCDEF' }, 'PEV_BAD_ID', 'session_id "S-0123456789ABCDEF" is malformed'],
  ['session_id with a tab', 'interval', { ...INTERVAL, session_id: 'S-0123456789abcde\t' }, 'PEV_BAD_ID', 'session_id "S-0123456789abcde\\t" contains control characters'],
  ['esci_id with a newline', 'interval', { ...INTERVAL, esci_id: 'ESCI-0A1B\n2C3' }, 'PEV_BAD_ID', 'esci_id "ESCI-0A1B\\n2C3" contains control characters'],
  ['eumd_id lower-case hex', 'interval', { ...INTERVAL, eumd_id: 'EUMD-00ff00ff' }, 'PEV_BAD_ID', 'eumd_id'],
  ['premise_id short', 'interval', { ...INTERVAL, premise_id: 'P12345678' }, 'PEV_BAD_ID', 'premise_id'],
  ['VIN with O', 'interval', { ...INTERVAL, pev_id: '1HGCM82633O004352' }, 'PEV_BAD_ID', 'pev_id "1HGCM82633O004352" is malformed; expected 17 characters'],
  ['VIN 16 chars', 'vehicleReport', { ...VEHICLE_REPORT, pev_id: '1HGCM82633A00435' }, 'PEV_BAD_ID', 'pev_id'],
  ['VIN non-ASCII', 'interval', { ...INTERVAL, pev_id: '1HGCM82633A00435é' }, 'PEV_BAD_ID', 'pev_id'],
  ['seq negative', 'interval', { ...INTERVAL, seq: -1 }, 'PEV_SEQ_RANGE', 'seq -1 is outside 0..10000000'],
  ['seq too large', 'interval', { ...INTERVAL, seq: 10_000_001 }, 'PEV_SEQ_RANGE', 'seq 10000001'],
  ['interval 45 s', 'interval', { ...INTERVAL, interval_s: 45 }, 'PEV_INTERVAL_LENGTH', 'interval_s 45 is not one of 15, 30, 60, 300, 900'],
  ['interval 0 s', 'interval', { ...INTERVAL, interval_s: 0 }, 'PEV_INTERVAL_LENGTH', 'interval_s 0'],
  ['before 2000', 'interval', { ...INTERVAL, interval_start: 946_684_799_000 }, 'PEV_TIME_RANGE', 'interval_start 946684799000 ms is before 2000-01-01'],
  ['not a whole second', 'interval', { ...INTERVAL, interval_start: 1_700_000_100_500 }, 'PEV_TIME_RANGE', 'not a whole second'],
  ['future beyond skew', 'interval', { ...INTERVAL, interval_start: LIMIT + 1000 - (LIMIT % 1000) }, 'PEV_FUTURE_TIME', 'beyond now plus the clock-skew allowance'],
  ['negative energy', 'interval', { ...INTERVAL, energy_wh: -5 }, 'PEV_NEGATIVE_ENERGY', 'energy_wh -5 Wh is negative'],
  ['above 350 kW', 'interval', { ...INTERVAL, interval_s: 15, energy_wh: 1_459 }, 'PEV_ENERGY_RANGE', 'energy_wh 1459 Wh exceeds 350 kW over 15 s (1458 Wh)'],
  ['negative register', 'interval', { ...INTERVAL, register_wh: -1 }, 'PEV_ENERGY_RANGE', 'register_wh -1'],
  ['quality negative', 'interval', { ...INTERVAL, quality: -1 }, 'PEV_FIELD_RANGE', 'quality -1'],
  ['quality beyond UInt16', 'interval', { ...INTERVAL, quality: 70_000 }, 'PEV_FIELD_RANGE', 'quality 70000'],
  ['report in the future', 'vehicleReport', { ...VEHICLE_REPORT, report_time: LIMIT + 1 }, 'PEV_FUTURE_TIME', 'report_time'],
  ['report running_wh negative', 'vehicleReport', { ...VEHICLE_REPORT, running_wh: -1 }, 'PEV_NEGATIVE_ENERGY', 'running_wh -1'],
  ['account malformed', 'enrollment', { ...ENROLLMENT_OPEN, account_id: 'B000000042' }, 'PEV_BAD_ID', 'account_id'],
  ['program lower-case', 'enrollment', { ...ENROLLMENT_OPEN, program_id: 'ev-tou' }, 'PEV_BAD_ID', 'program_id'],
  ['tariff empty', 'enrollment', { ...ENROLLMENT_OPEN, tariff_id: '' }, 'PEV_BAD_ID', 'tariff_id'],
  ['tariff 33 chars', 'enrollment', { ...ENROLLMENT_OPEN, tariff_id: 'A'.repeat(33) }, 'PEV_BAD_ID', 'tariff_id'],
  ['valid_to before valid_from', 'enrollment', { ...ENROLLMENT_OPEN, valid_to: { long: 1_680_000_000_000 } }, 'PEV_FIELD_RANGE', 'valid_to 1680000000000 ms is not after valid_from'],
  ['valid_from 1999', 'enrollment', { ...ENROLLMENT_OPEN, valid_from: 900_000_000_000 }, 'PEV_TIME_RANGE', 'valid_from'],
  ['rated power 0', 'enrollment', { ...ENROLLMENT_OPEN, rated_power_w: 0 }, 'PEV_FIELD_RANGE', 'rated_power_w 0 W is outside 1..350000'],
  ['event_seq negative', 'sessionEvent', { ...(SESSION_EVENTS[0]!.value), event_seq: -3 }, 'PEV_SEQ_RANGE', 'event_seq -3'],
  ['plug-in in the future', 'sessionEvent', event({ 'pevmeter.v1.SessionStart': { connection: 'CORDSET', binding: 'BOUND', plug_in_time: LIMIT + 1 } }), 'PEV_FUTURE_TIME', 'body.SessionStart.plug_in_time'],
  ['negative rate', 'sessionEvent', event({ 'pevmeter.v1.EnergyAvailable': { granted_wh: 1, rate_w: -1, schedule_start: 1_700_000_000_000, schedule_end: 1_700_000_000_001, delay_reason: 'NONE' } }), 'PEV_FIELD_RANGE', 'body.EnergyAvailable.rate_w -1 W'],
  ['schedule ends before start', 'sessionEvent', event({ 'pevmeter.v1.EnergyAvailable': { granted_wh: 1, rate_w: 1, schedule_start: 1_700_000_000_001, schedule_end: 1_700_000_000_000, delay_reason: 'NONE' } }), 'PEV_FIELD_RANGE', 'schedule_end'],
  ['negative requested', 'sessionEvent', event({ 'pevmeter.v1.EnergyRequest': { requested_wh: -1, max_rate_w: 1, departure_time: 1_700_000_000_000 } }), 'PEV_NEGATIVE_ENERGY', 'body.EnergyRequest.requested_wh'],
  ['departure in 2200', 'sessionEvent', event({ 'pevmeter.v1.EnergyRequest': { requested_wh: 1, max_rate_w: 1, departure_time: 7_258_118_400_000 } }), 'PEV_TIME_RANGE', 'departure_time'],
  ['negative duration', 'sessionEvent', event({ 'pevmeter.v1.SessionEnd': { start_time: 1_700_000_000_000, end_time: 1_700_000_000_000, duration_s: -1, energy_wh: 0 } }), 'PEV_FIELD_RANGE', 'body.SessionEnd.duration_s -1 s'],
  ['end before start', 'sessionEvent', event({ 'pevmeter.v1.SessionEnd': { start_time: 1_700_000_000_001, end_time: 1_700_000_000_000, duration_s: 1, energy_wh: 0 } }), 'PEV_FIELD_RANGE', 'end_time'],
  ['progress intervals negative', 'sessionEvent', event({ 'pevmeter.v1.Progress': { running_wh: 0, intervals: -1 } }), 'PEV_FIELD_RANGE', 'body.Progress.intervals'],
  ['no known branch', 'sessionEvent', event({ 'pevmeter.v1.Other': {} }), 'PEV_AVRO_INVALID', 'no known SessionEvent branch'],
];

void t.test('each bad field gets its code and a message naming the field', (t) => {
  for (const [name, kind, record, code, part] of cases) {
    let err: unknown;
    try {
      validateRecord(kind, record as never, LIMIT);
    } catch (e) {
      err = e;
    }
    t.match(err, { name: 'RecordError', code, retryable: false }, name);
    t.ok(err instanceof Error && err.message.includes(part), `${name}: message ${JSON.stringify((err as Error | undefined)?.message)} names ${JSON.stringify(part)}`);
  }
  t.end();
});

void t.test('the character tables accept exactly what the documented regexes accept', (t) => {
  // Random strings near each format (right length, mixed alphabet) and the format's own examples.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefz0123456789-\t\u00e9';
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed % n;
  };
  const gen = (prefix: string, len: number): string => {
    let s = rnd(4) === 0 ? '' : prefix;
    const n = len - s.length + (rnd(5) === 0 ? rnd(3) - 1 : 0);
    for (let i = 0; i < n; i++) s += alphabet[rnd(alphabet.length)];
    return s;
  };
  const probe = (field: keyof typeof ID_PATTERNS, make: () => string, check: (s: string) => boolean): number => {
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const s = make();
      const want = ID_PATTERNS[field].test(s);
      if (check(s) !== want) {
        t.fail(`${field} ${JSON.stringify(s)}: regex says ${want}`);
        return -1;
      }
      if (want) accepted++;
    }
    return accepted;
  };
  const ok = (f: (r: EumdInterval) => void) => (r: EumdInterval): boolean => {
    try {
      f(r);
      return true;
    } catch {
      return false;
    }
  };
  const viaInterval = (field: keyof EumdInterval) => (s: string): boolean => ok((r) => validateInterval(r, LIMIT))({ ...INTERVAL, [field]: s });
  const viaEnrollment = (field: keyof Enrollment) => (s: string): boolean => {
    try {
      validateEnrollment({ ...(ENROLLMENT_OPEN as Enrollment), [field]: s });
      return true;
    } catch {
      return false;
    }
  };
  const hex = (upper: boolean) => (): string => {
    const digits = upper ? '0123456789ABCDEFGa' : '0123456789abcdefgA';
    let s = '';
    for (let i = 0; i < 16 + rnd(2); i++) s += digits[rnd(digits.length)];
    return s;
  };
  t.ok(probe('session', () => gen('S-', 18), viaInterval('session_id')) >= 0);
  t.ok(probe('session', () => 'S-' + hex(false)(), viaInterval('session_id')) > 0, 'some lower-hex sessions accepted');
  t.ok(probe('esci', () => 'ESCI-' + hex(true)().slice(0, 8 + rnd(2) - rnd(2)), viaInterval('esci_id')) > 0);
  t.ok(probe('eumd', () => 'EUMD-' + hex(true)().slice(0, 8), viaInterval('eumd_id')) > 0);
  t.ok(probe('premise', () => 'P' + String(rnd(2_000_000_000)).padStart(9 + rnd(2), '0'), viaInterval('premise_id')) > 0);
  t.ok(probe('vin', () => gen('', 17).toUpperCase(), viaInterval('pev_id')) > 0);
  t.ok(probe('account', () => (rnd(3) ? 'A' : 'P') + String(rnd(1_000_000_000)).padStart(9, '0'), viaEnrollment('account_id')) > 0);
  t.ok(probe('program', () => gen('', 1 + rnd(34)).toUpperCase(), viaEnrollment('program_id')) > 0);
  t.end();
});

void t.test('validateRecord on a vehicle report and an event goes to the right validator', (t) => {
  t.doesNotThrow(() => validateRecord('vehicleReport', VEHICLE_REPORT, LIMIT));
  t.throws(() => validateRecord('vehicleReport', { ...VEHICLE_REPORT, esci_id: 'x' }, LIMIT), { code: 'PEV_BAD_ID' });
  t.throws(() => validateRecord('nope' as never, INTERVAL as never, LIMIT), { code: 'PEV_WRONG_RECORD_TYPE' });
  t.end();
});

void t.test('program and tariff IDs may not start with -: an option on a command line, a formula in a spreadsheet', (t) => {
  for (const field of ['program_id', 'tariff_id'] as const) {
    t.throws(() => validateEnrollment({ ...(ENROLLMENT_OPEN as Enrollment), [field]: '-EV-TOU' }), { code: 'PEV_BAD_ID', message: new RegExp(`^${field} "-EV-TOU" .*not starting with -`) }, `${field} -EV-TOU refused`);
    t.doesNotThrow(() => validateEnrollment({ ...(ENROLLMENT_OPEN as Enrollment), [field]: 'EV-TOU-' }), `${field} EV-TOU- accepted`);
  }
  t.notOk(ID_PATTERNS.program.test('-X'));
  t.end();
});
