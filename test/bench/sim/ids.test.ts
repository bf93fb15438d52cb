import t from 'tap';
import { IdFactory, VIN_CHARS, vinCheckDigit } from '../../../bench/sim/ids.js';
import { Rng } from '../../../bench/sim/random.js';

void t.test('ID formats are the ones validation expects', (t) => {
  const ids = new IdFactory(new Rng('ids'));
  const rng = new Rng('vin');
  for (const i of [0, 1, 2, 999, 123_456, 4_999_999]) {
    t.match(ids.premiseId(i), /^P\d{9}$/);
    t.match(ids.accountId(i), /^A\d{9}$/);
    t.match(ids.esciId(i), /^ESCI-[0-9A-F]{8}$/);
    t.match(ids.eumdId(i), /^EUMD-[0-9A-F]{8}$/);
    const vin = ids.vin(i, rng);
    t.match(vin, /^[A-HJ-NPR-Z0-9]{17}$/);
    t.equal(vin[8], vinCheckDigit(vin), `check digit of ${vin}`);
  }
  t.throws(() => ids.premiseId(5_000_000), { code: 'PEV_CONFIG' });
  t.end();
});

void t.test('IDs never collide across indexes', (t) => {
  const ids = new IdFactory(new Rng('unique'));
  const rng = new Rng('vins');
  const n = 50_000;
  for (const make of [(i: number) => ids.premiseId(i), (i: number) => ids.accountId(i), (i: number) => ids.esciId(i), (i: number) => ids.eumdId(i), (i: number) => ids.vin(i, rng)]) {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) seen.add(make(i));
    t.equal(seen.size, n);
  }
  t.end();
});

void t.test('VIN check digit (ISO 3779 example VINs)', (t) => {
  t.equal(vinCheckDigit('1M8GDM9AXKP042788'), 'X');
  t.equal(vinCheckDigit('11111111111111111'), '1');
  t.equal(VIN_CHARS.length, 33);
  t.notMatch(VIN_CHARS, /[IOQ]/);
  t.end();
});
