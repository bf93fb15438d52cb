import t from 'tap';
import { Calendar, HOUR_MS } from '../../schemas/calendar.js';

const la = new Calendar('America/Los_Angeles');

void t.test('offsets across the 2026 DST changes in Los Angeles', (t) => {
  t.equal(la.offsetMs(Date.UTC(2026, 9, 1, 12)), -7 * HOUR_MS, 'October: PDT');
  t.equal(la.offsetMs(Date.UTC(2026, 10, 2, 12)), -8 * HOUR_MS, 'after 1 November: PST');
  // Fall back: 2026-11-01 09:00Z is 02:00 PDT, which becomes 01:00 PST.
  t.equal(la.offsetMs(Date.UTC(2026, 10, 1, 8, 59)), -7 * HOUR_MS);
  t.equal(la.offsetMs(Date.UTC(2026, 10, 1, 9, 0)), -8 * HOUR_MS);
  // Spring forward: 2026-03-08 10:00Z is 02:00 PST, which becomes 03:00 PDT.
  t.equal(la.offsetMs(Date.UTC(2026, 2, 8, 9, 59)), -8 * HOUR_MS);
  t.equal(la.offsetMs(Date.UTC(2026, 2, 8, 10, 0)), -7 * HOUR_MS);
  t.end();
});

void t.test('local wall time to UTC, including the doubled and the missing hour', (t) => {
  t.equal(la.toUtc(Date.UTC(2026, 9, 1, 21)), Date.UTC(2026, 9, 2, 4), '21:00 PDT');
  t.equal(la.toUtc(Date.UTC(2026, 10, 1, 1, 30)), Date.UTC(2026, 10, 1, 8, 30), '01:30 occurs twice: the first (PDT)');
  t.equal(la.toUtc(Date.UTC(2026, 10, 1, 3)), Date.UTC(2026, 10, 1, 11), '03:00 PST');
  t.equal(la.toUtc(Date.UTC(2026, 2, 8, 2, 30)), Date.UTC(2026, 2, 8, 10, 30), '02:30 does not exist: read with PST');
  t.end();
});

void t.test('local hour, local day and the next occurrence of an hour', (t) => {
  const at = Date.UTC(2026, 9, 2, 1, 30); // 18:30 PDT on 1 October
  t.equal(la.localHour(at), 18.5);
  t.equal(la.localDayStart(at), Date.UTC(2026, 9, 1));
  t.equal(la.nextLocalHour(at, 21), Date.UTC(2026, 9, 2, 4));
  t.equal(la.nextLocalHour(at, 16), Date.UTC(2026, 9, 2, 23), '16:00 the next day');
  t.equal(la.nextLocalHour(Date.UTC(2026, 9, 2, 4), 21), Date.UTC(2026, 9, 2, 4), 'an exact hit is itself');
  // On the 25-hour day, 16:00 PST is 00:00Z.
  t.equal(la.nextLocalHour(Date.UTC(2026, 10, 1, 12), 16), Date.UTC(2026, 10, 2, 0));
  t.end();
});

void t.test('an unknown zone is a configuration error naming the option', (t) => {
  t.throws(() => new Calendar('Mars/Olympus_Mons'), { code: 'PEV_CONFIG', message: /timeZone/ });
  t.end();
});
