import t from 'tap';
import { resolveConfig } from '../../reconcile/config.js';
import {
  ALL_TIME, TouCalendar, allocate, amountMinor, minuteSeries, priceSplit, splitPieces,
} from '../../reconcile/tou.js';
import { localToUtc, utcOffsetMs } from '../../schemas/calendar.js';
import type { Piece } from '../../reconcile/types.js';

const LA = 'America/Los_Angeles';
const H = 3_600_000;
const cfg = resolveConfig({});
const TOU = cfg.tariffs['EV-TOU-2026']!;
const iso = (s: string): number => Date.parse(s);

/** Energy by period name from a split's inside (or outside) array. */
function byName(cal: { periods: readonly string[] }, xs: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  cal.periods.forEach((p, i) => {
    if ((xs[i] ?? 0) !== 0) out[p] = xs[i]!;
  });
  return out;
}

/** 900-second intervals of `wh` each from `startIso`, `n` of them. */
function quarterHours(startIso: string, n: number, wh: number): Piece[] {
  const s = iso(startIso);
  return Array.from({ length: n }, (_, k) => ({ startMs: s + k * 900_000, endMs: s + (k + 1) * 900_000, wh }));
}

void t.test('local wall times to UTC across DST: gaps map to the transition, repeats to the first occurrence', (t) => {
  const cases: [string, [number, number, number, number], string][] = [
    ['spring forward, before the gap', [2026, 3, 8, 60 + 59], '2026-03-08T09:59:00.000Z'],
    ['spring forward, inside the gap (02:30)', [2026, 3, 8, 150], '2026-03-08T10:00:00.000Z'],
    ['spring forward, 02:00 (skipped)', [2026, 3, 8, 120], '2026-03-08T10:00:00.000Z'],
    ['spring forward, 03:00 (first instant after)', [2026, 3, 8, 180], '2026-03-08T10:00:00.000Z'],
    ['spring forward, 06:00 PDT', [2026, 3, 8, 360], '2026-03-08T13:00:00.000Z'],
    ['fall back, 00:00 PDT', [2026, 11, 1, 0], '2026-11-01T07:00:00.000Z'],
    ['fall back, 01:30 occurs twice: the first', [2026, 11, 1, 90], '2026-11-01T08:30:00.000Z'],
    ['fall back, 02:00 PST', [2026, 11, 1, 120], '2026-11-01T10:00:00.000Z'],
    ['next midnight as minute 1440', [2026, 11, 1, 1440], '2026-11-02T08:00:00.000Z'],
    ['ordinary day', [2026, 10, 5, 16 * 60], '2026-10-05T23:00:00.000Z'],
  ];
  for (const [name, [y, m, d, min], want] of cases) t.equal(new Date(localToUtc(LA, y, m, d, min)).toISOString(), want, name);
  t.equal(utcOffsetMs(LA, iso('2026-03-08T09:59:59Z')), -8 * H);
  t.equal(utcOffsetMs(LA, iso('2026-03-08T10:00:00Z')), -7 * H);
  t.equal(utcOffsetMs('UTC', iso('2026-03-08T10:00:00Z')), 0);
  t.end();
});

void t.test('calendar: 23- and 25-hour days have the right stretches', (t) => {
  const cal = new TouCalendar('EV-TOU-2026', TOU, iso('2026-03-07T00:00:00Z'), iso('2026-11-03T00:00:00Z'));
  const stretch = (at: string): [string, string, string] => {
    const k = cal.stretchAt(iso(at));
    return [new Date(cal.cuts[k]!).toISOString(), new Date(cal.cuts[k + 1]!).toISOString(), cal.periods[cal.periodOf[k]!]!];
  };
  // 2026-03-08: the super off-peak night 00:00-06:00 local is 5 hours long.
  t.same(stretch('2026-03-08T09:30:00Z'), ['2026-03-08T08:00:00.000Z', '2026-03-08T13:00:00.000Z', 'super_off_peak']);
  t.same(stretch('2026-03-08T23:00:00Z'), ['2026-03-08T23:00:00.000Z', '2026-03-09T04:00:00.000Z', 'peak']);
  // 2026-11-01: the same night is 7 hours long.
  t.same(stretch('2026-11-01T13:59:59Z'), ['2026-11-01T07:00:00.000Z', '2026-11-01T14:00:00.000Z', 'super_off_peak']);
  t.same(stretch('2026-11-01T14:00:00Z'), ['2026-11-01T14:00:00.000Z', '2026-11-02T00:00:00.000Z', 'off_peak']);
  t.same(stretch('2026-11-02T00:00:00Z'), ['2026-11-02T00:00:00.000Z', '2026-11-02T05:00:00.000Z', 'peak']);
  t.equal(cal.periodAt(iso('2026-10-05T22:59:59Z')), 'off_peak');
  t.equal(cal.periodAt(iso('2026-10-05T23:00:00Z')), 'peak');
  t.throws(() => cal.stretchAt(iso('2027-01-01T00:00:00Z')), RangeError);
  t.end();
});

void t.test('calendar: a window past midnight, days and months filters, first window wins', (t) => {
  const tariff = resolveConfig({
    tariffs: {
      'T-NIGHT': {
        timeZone: 'UTC',
        currency: 'EUR',
        defaultPeriod: 'day',
        windows: [
          { period: 'weekend', from: '00:00', to: '24:00', days: ['sat', 'sun'] },
          { period: 'night', from: '22:00', to: '06:00', months: [1] },
        ],
        prices: { day: '20', night: '10', weekend: '15' },
      },
    },
    programs: { 'P-N': { tariff: 'T-NIGHT' } },
  }).tariffs['T-NIGHT']!;
  const cal = new TouCalendar('T-NIGHT', tariff, iso('2026-01-01T00:00:00Z'), iso('2026-02-10T00:00:00Z'));
  t.equal(cal.periodAt(iso('2026-01-05T23:00:00Z')), 'night', 'Monday 23:00 in January');
  t.equal(cal.periodAt(iso('2026-01-06T05:59:59Z')), 'night', 'Tuesday 05:59, the night that started Monday');
  t.equal(cal.periodAt(iso('2026-01-06T06:00:00Z')), 'day');
  t.equal(cal.periodAt(iso('2026-01-10T23:00:00Z')), 'weekend', 'Saturday night: the first window wins');
  t.equal(cal.periodAt(iso('2026-01-31T23:30:00Z')), 'weekend', 'Saturday 31 January');
  t.equal(cal.periodAt(iso('2026-02-01T02:00:00Z')), 'weekend', 'Sunday 1 February');
  t.equal(cal.periodAt(iso('2026-02-02T23:00:00Z')), 'day', 'Monday in February: no night window');
  t.equal(cal.periodAt(iso('2026-02-01T01:00:00Z')), 'weekend');
  t.end();
});

void t.test('exact split across the spring-forward night (23-hour day)', (t) => {
  const cal = new TouCalendar('EV-TOU-2026', TOU, iso('2026-03-07T00:00:00Z'), iso('2026-03-10T00:00:00Z'));
  // 00:00 PST to 08:00 PDT local = 08:00Z to 15:00Z: 28 quarter hours of 250 Wh.
  const pieces = quarterHours('2026-03-08T08:00:00Z', 28, 250);
  const split = splitPieces(pieces, cal, { fromMs: iso('2026-03-01T08:00:00Z'), toMs: iso('2026-04-01T07:00:00Z') });
  t.same(byName(cal, split.inside), { super_off_peak: 5000, off_peak: 2000 }, 'five local hours of night, two of morning');
  t.same(byName(cal, split.outside), {});
  t.end();
});

void t.test('exact split across the fall-back night (25-hour day)', (t) => {
  const cal = new TouCalendar('EV-TOU-2026', TOU, iso('2026-10-30T00:00:00Z'), iso('2026-11-03T00:00:00Z'));
  // 00:00 PDT to 07:00 PST local = 07:00Z to 15:00Z: 32 quarter hours of 250 Wh.
  const pieces = quarterHours('2026-11-01T07:00:00Z', 32, 250);
  const split = splitPieces(pieces, cal, { fromMs: iso('2026-10-01T07:00:00Z'), toMs: iso('2026-11-01T12:00:00Z') });
  t.same(byName(cal, split.inside), { super_off_peak: 5000 }, 'inside the period: 07:00Z-12:00Z');
  t.same(byName(cal, split.outside), { super_off_peak: 2000, off_peak: 1000 }, 'after it: 12:00Z-14:00Z night, 14:00Z-15:00Z morning');
  t.end();
});

void t.test('a tariff boundary inside an interval splits it pro rata, exactly', (t) => {
  const cal = new TouCalendar('EV-TOU-2026', TOU, iso('2026-10-04T00:00:00Z'), iso('2026-10-07T00:00:00Z'));
  const period = { fromMs: iso('2026-10-01T07:00:00Z'), toMs: iso('2026-11-01T07:00:00Z') };
  const cases: [string, Piece, Record<string, number>][] = [
    // 16:00 PDT = 23:00Z. 30 s on each side of it: 101 Wh -> 50.5 each, the spare Wh to the earlier part.
    ['60 s interval, boundary in the middle', { startMs: iso('2026-10-05T22:59:30Z'), endMs: iso('2026-10-05T23:00:30Z'), wh: 101 }, { off_peak: 51, peak: 50 }],
    // 10 s before, 5 s after: 7 * 10/15 = 4.67 and 2.33: floors 4 and 2, the spare Wh to the larger remainder.
    ['15 s interval, boundary after 10 s', { startMs: iso('2026-10-05T22:59:50Z'), endMs: iso('2026-10-05T23:00:05Z'), wh: 7 }, { off_peak: 5, peak: 2 }],
    // 1 s before, 59 s after: 120 * 1/60 = 2 exactly.
    ['boundary one second in', { startMs: iso('2026-10-05T22:59:59Z'), endMs: iso('2026-10-05T23:00:59Z'), wh: 120 }, { off_peak: 2, peak: 118 }],
    ['wholly before the boundary', { startMs: iso('2026-10-05T22:59:00Z'), endMs: iso('2026-10-05T23:00:00Z'), wh: 120 }, { off_peak: 120 }],
    ['wholly after it', { startMs: iso('2026-10-05T23:00:00Z'), endMs: iso('2026-10-05T23:01:00Z'), wh: 120 }, { peak: 120 }],
  ];
  for (const [name, piece, want] of cases) {
    const split = splitPieces([piece], cal, period);
    t.same(byName(cal, split.inside), want, name);
  }
  t.end();
});

void t.test('a session over local midnight and the period end: split at both, priced exactly', (t) => {
  const cal = new TouCalendar('EV-TOU-2026', TOU, iso('2026-10-04T00:00:00Z'), iso('2026-10-08T00:00:00Z'));
  // The period ends at local midnight 2026-10-06 00:00 PDT = 07:00Z, where super off-peak starts.
  const period = { fromMs: iso('2026-10-05T07:00:00Z'), toMs: iso('2026-10-06T07:00:00Z') };
  // 23:30:30 to 00:30:30 local, 60 s intervals of 97 Wh: one interval straddles midnight.
  const start = iso('2026-10-06T06:30:30Z');
  const pieces: Piece[] = Array.from({ length: 60 }, (_, k) => ({ startMs: start + k * 60_000, endMs: start + (k + 1) * 60_000, wh: 97 }));
  const split = splitPieces(pieces, cal, period);
  // 29 whole minutes before midnight (2813 Wh), the straddling one split 30/30 s (49 before, 48 after), 30 after.
  t.same(byName(cal, split.inside), { off_peak: 29 * 97 + 49 });
  t.same(byName(cal, split.outside), { super_off_peak: 48 + 30 * 97 });
  const program = cfg.programs['EV-TOU-OFFPEAK'];
  const bill = priceSplit(cal, split.inside, program, []);
  // 2862 Wh at 31.2 cents/kWh = 89.2944 -> 89; credit 5 cents/kWh on off-peak = 14.31 -> 14.
  t.same(bill, {
    currency: 'USD',
    lines: [
      { kind: 'energy', period: 'off_peak', wh: 2862, priceMicro: 31_200_000, amountMinor: 89 },
      { kind: 'incentive', period: 'off_peak+super_off_peak', wh: 2862, priceMicro: -5_000_000, amountMinor: -14 },
    ],
    energyWh: 2862,
    incentiveWh: 2862,
    incentiveMinor: -14,
    totalMinor: 75,
  });
  const withheld = priceSplit(cal, split.inside, program, ['OFF_SCHEDULE']);
  t.equal(withheld.totalMinor, 89, 'OFF_SCHEDULE withholds the credit');
  t.equal(priceSplit(cal, split.inside, program, ['OUTSIDE_GRANT']).totalMinor, 89, 'OUTSIDE_GRANT withholds the credit too');
  t.equal(withheld.lines.length, 1);
  t.end();
});

void t.test('three periods priced in one bill; flat tariff; no tariff at all', (t) => {
  const cal = new TouCalendar('EV-TOU-2026', TOU, iso('2026-10-04T00:00:00Z'), iso('2026-10-08T00:00:00Z'));
  // 20:45 to 06:15 local: peak 15 min, off-peak 3 h, super off-peak 6 h, off-peak 15 min.
  const pieces = quarterHours('2026-10-06T03:45:00Z', 38, 1800);
  const split = splitPieces(pieces, cal, { fromMs: iso('2026-10-01T07:00:00Z'), toMs: iso('2026-11-01T07:00:00Z') });
  t.same(byName(cal, split.inside), { off_peak: 13 * 1800, peak: 1800, super_off_peak: 24 * 1800 });
  const bill = priceSplit(cal, split.inside, cfg.programs['EV-TOU-OFFPEAK'], []);
  // off_peak 23400 Wh * 31.2 = 730.08 -> 730; peak 1800 * 48.5 = 87.3 -> 87; super 43200 * 24.75 = 1069.2 -> 1069;
  // credit on 66600 Wh * 5 = 333.
  t.same(bill.lines.map((l) => [l.period, l.wh, l.amountMinor]), [
    ['off_peak', 23400, 730],
    ['peak', 1800, 87],
    ['super_off_peak', 43200, 1069],
    ['off_peak+super_off_peak', 66600, -333],
  ]);
  t.equal(bill.totalMinor, 730 + 87 + 1069 - 333);

  const flat = new TouCalendar('EV-FLAT-2026', cfg.tariffs['EV-FLAT-2026']!, iso('2026-10-04T00:00:00Z'), iso('2026-10-08T00:00:00Z'));
  const fs = splitPieces(pieces, flat, { fromMs: iso('2026-10-01T07:00:00Z'), toMs: iso('2026-11-01T07:00:00Z') });
  t.same(byName(flat, fs.inside), { flat: 68400 });
  t.equal(priceSplit(flat, fs.inside, cfg.programs['EV-FLAT'], []).totalMinor, 2298, '68400 Wh * 33.6 = 2298.24');

  const none = splitPieces(pieces, ALL_TIME, { fromMs: iso('2026-10-06T06:00:00Z'), toMs: iso('2026-11-01T07:00:00Z') });
  t.same([none.inside[0], none.outside[0]], [68400 - 9 * 1800, 9 * 1800], 'no tariff: split at the period edge only');
  t.end();
});

void t.test('allocate: floor shares, leftover to the largest remainders, ties to the earlier part', (t) => {
  const cases: [number, number[], number[]][] = [
    [10, [1, 1, 1], [4, 3, 3]],
    [2, [1, 1, 1], [1, 1, 0]],
    [7, [10, 5], [5, 2]],
    [101, [30_000, 30_000], [51, 50]],
    [0, [5, 7], [0, 0]],
    [-7, [10, 5], [-5, -2]],
    [5, [1], [5]],
    [1, [1, 2, 3, 4], [0, 0, 0, 1]],
    [3, [2, 1, 2, 1], [1, 1, 1, 0]],
  ];
  for (const [total, w, want] of cases) t.same(allocate(total, w), want, `${total} over ${w.join(':')}`);
  // Products beyond 2^53 take the BigInt path and still add up.
  const big = allocate(9_000_000_001, [1_000_000_007, 2_000_000_011, 3]);
  t.equal(big.reduce((a, b) => a + b, 0), 9_000_000_001);
  t.same(big, [3_000_000_000, 5_999_999_992, 9]);
  t.end();
});

void t.test('amounts: half up on the magnitude, exact for large values', (t) => {
  const cases: [number, number, number][] = [
    [3300, 31_200_000, 103], // 102.96
    [1000, 500_000, 1], // 0.5 exactly -> 1
    [999, 500_000, 0], // 0.4995
    [1000, 1_500_000, 2], // 1.5 -> 2
    [3000, 500_000, 2], // 1.5 -> 2
    [-1000, 500_000, -1], // magnitude rounds half up
    [0, 48_500_000, 0],
    [1, 1, 0],
    [1_000_000_000, 999_999_999_999, 999_999_999_999], // 10^9 Wh at 999999.999999 per kWh
  ];
  for (const [wh, price, want] of cases) t.equal(amountMinor(wh, price), want, `${wh} Wh at ${price} micro`);
  t.end();
});

void t.test('minute series: pieces spread over UTC minutes exactly', (t) => {
  const m = minuteSeries([
    { startMs: iso('2026-10-05T10:00:30Z'), endMs: iso('2026-10-05T10:01:30Z'), wh: 61 },
    { startMs: iso('2026-10-05T10:01:30Z'), endMs: iso('2026-10-05T10:04:30Z'), wh: 30 },
  ]);
  t.same(m, [
    [iso('2026-10-05T10:00:00Z'), 31],
    [iso('2026-10-05T10:01:00Z'), 30 + 5],
    [iso('2026-10-05T10:02:00Z'), 10],
    [iso('2026-10-05T10:03:00Z'), 10],
    [iso('2026-10-05T10:04:00Z'), 5],
  ]);
  t.end();
});
