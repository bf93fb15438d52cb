import t from 'tap';
import { toBigInt, toInt } from '../../../aggregate/store/values.js';

void t.test('toInt accepts numbers and integer strings, refuses the rest', (t) => {
  t.equal(toInt(150), 150);
  t.equal(toInt('150'), 150);
  t.equal(toInt('-5'), -5);
  t.equal(toInt(7n), 7);
  t.equal(toInt(String(2 ** 53 - 1)), 2 ** 53 - 1);
  t.throws(() => toInt('18446744073709551615'), { code: 'PEV_STORE_REJECTED', message: /beyond 2\^53/ });
  t.throws(() => toInt(1.5), { code: 'PEV_STORE_REJECTED' });
  t.throws(() => toInt('1.5'), { code: 'PEV_STORE_REJECTED' });
  t.throws(() => toInt(undefined), { code: 'PEV_STORE_REJECTED' });
  t.throws(() => toInt(null), { code: 'PEV_STORE_REJECTED' });
  t.end();
});

void t.test('toBigInt is exact for 64-bit values', (t) => {
  t.equal(toBigInt('18446744073709551615'), 18446744073709551615n);
  t.equal(toBigInt(-3), -3n);
  t.throws(() => toBigInt(2 ** 60), { code: 'PEV_STORE_REJECTED' }, 'a number beyond 2^53 already lost precision');
  t.end();
});
