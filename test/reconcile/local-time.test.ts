/**
 * Periods as people write them: local dates in the program's zone, DST days of both kinds, and
 * local times written back with their offsets.
 */
import t from 'tap';
import { resolveConfig } from '../../reconcile/config.js';
import { parsePeriod, periodZone } from '../../reconcile/local-time.js';
import { formatLocal } from '../../schemas/calendar.js';

const LA = 'America/Los_Angeles';
const H = 3_600_000;

void t.test('local dates are local midnights; a month alone is that month', (t) => {
  t.same(parsePeriod('2026-10', undefined, LA), { fromMs: Date.UTC(2026, 9, 1, 7), toMs: Date.UTC(2026, 10, 1, 7) }, 'October in Los Angeles');
  t.same(parsePeriod('2026-10', '2026-11', LA), parsePeriod('2026-10', undefined, LA));
  t.same(parsePeriod('2026-12', undefined, LA), { fromMs: Date.UTC(2026, 11, 1, 8), toMs: Date.UTC(2027, 0, 1, 8) }, 'into the next year');
  t.same(parsePeriod('2026-10-03', '2026-10-08', LA), { fromMs: Date.UTC(2026, 9, 3, 7), toMs: Date.UTC(2026, 9, 8, 7) });
  t.same(parsePeriod('2026-10-03', '2026-10-08', 'Europe/Berlin'), { fromMs: Date.UTC(2026, 9, 2, 22), toMs: Date.UTC(2026, 9, 7, 22) });
  t.same(parsePeriod('2026-10-03', '2026-10-08T07:00:00Z', LA), { fromMs: Date.UTC(2026, 9, 3, 7), toMs: Date.UTC(2026, 9, 8, 7) }, 'a local date and an instant mix');
  t.same(parsePeriod('2026-10-01T07:00:00Z', '1793520000000', null), { fromMs: Date.UTC(2026, 9, 1, 7), toMs: 1_793_520_000_000 }, 'instants need no zone');
  t.end();
});

void t.test('DST: the spring-forward day has 23 hours, the fall-back day 25, months likewise', (t) => {
  const spring = parsePeriod('2026-03-08', '2026-03-09', LA);
  t.equal(spring.toMs - spring.fromMs, 23 * H);
  t.equal(spring.fromMs, Date.UTC(2026, 2, 8, 8));
  const fall = parsePeriod('2026-11-01', '2026-11-02', LA);
  t.equal(fall.toMs - fall.fromMs, 25 * H);
  t.equal(fall.fromMs, Date.UTC(2026, 10, 1, 7));
  const march = parsePeriod('2026-03', undefined, LA);
  t.equal(march.toMs - march.fromMs, 31 * 24 * H - H);
  const november = parsePeriod('2026-11', undefined, LA);
  t.equal(november.toMs - november.fromMs, 30 * 24 * H + H);
  t.end();
});

void t.test('refusals name the flag', (t) => {
  t.throws(() => parsePeriod('2026-10-03', undefined, LA), { code: 'PEV_INPUT', message: /--to is required unless --from is a month/ });
  t.throws(() => parsePeriod('2026-02-30', '2026-03-01', LA), { code: 'PEV_INPUT', message: /--from: 2026-02-30 is not a date/ });
  t.throws(() => parsePeriod('2026-10', undefined, null), { code: 'PEV_INPUT', message: /more than one time zone: name one with --tz/ });
  t.throws(() => parsePeriod('2026-10-01T00:00:00', '2026-11', LA), { code: 'PEV_INPUT', message: /--from: .* has no time zone/ });
  t.end();
});

void t.test('which zone: --tz, else the program\'s tariff, else the one the tariffs share', (t) => {
  const one = resolveConfig({});
  t.equal(periodZone(one, {}), LA, 'the built-in tariffs are all in Los Angeles');
  t.equal(periodZone(one, { tz: 'Europe/Berlin' }), 'Europe/Berlin');
  t.throws(() => periodZone(one, { tz: 'Mars/Olympus' }), { code: 'PEV_INPUT', message: /--tz/ });
  const two = resolveConfig({
    tariffs: {
      'EV-TOU-2026': { timeZone: LA, currency: 'USD', defaultPeriod: 'flat', prices: { flat: '30' } },
      'EV-NY': { timeZone: 'America/New_York', currency: 'USD', defaultPeriod: 'flat', prices: { flat: '30' } },
    },
    programs: { 'EV-TOU-OFFPEAK': { tariff: 'EV-TOU-2026' }, 'EV-EAST': { tariff: 'EV-NY' } },
  });
  t.equal(periodZone(two, {}), null, 'two zones and no flag: none');
  t.equal(periodZone(two, { program: 'EV-EAST' }), 'America/New_York');
  t.end();
});

void t.test('formatLocal: wall time and offset, both sides of both transitions', (t) => {
  t.equal(formatLocal(LA, Date.UTC(2026, 9, 5, 5)), '2026-10-04T22:00:00-07:00');
  t.equal(formatLocal(LA, Date.UTC(2026, 10, 1, 8, 30)), '2026-11-01T01:30:00-07:00', 'first 01:30');
  t.equal(formatLocal(LA, Date.UTC(2026, 10, 1, 9, 30)), '2026-11-01T01:30:00-08:00', 'second 01:30');
  t.equal(formatLocal(LA, Date.UTC(2026, 2, 8, 9, 59, 59)), '2026-03-08T01:59:59-08:00');
  t.equal(formatLocal(LA, Date.UTC(2026, 2, 8, 10)), '2026-03-08T03:00:00-07:00', 'spring forward: 02:00 never shows');
  t.equal(formatLocal('Asia/Kolkata', Date.UTC(2026, 0, 1)), '2026-01-01T05:30:00+05:30');
  t.equal(formatLocal('UTC', Date.UTC(2026, 0, 1)), '2026-01-01T00:00:00+00:00');
  t.end();
});
