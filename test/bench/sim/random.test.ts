import t from 'tap';
import { Rng } from '../../../bench/sim/random.js';

void t.test('the sequence of a seed never changes (pinned values)', (t) => {
  const r = new Rng('pin');
  t.same([r.u32(), r.u32(), r.u32()], [3973890713, 3808312535, 1244311775]);
  t.equal(r.int(1, 6), 1);
  t.equal(new Rng('pin').fork('a').u32(), 2791105597);
  t.end();
});

void t.test('same seed, same sequence; another seed, another sequence', (t) => {
  const draw = (seed: string | number): number[] => {
    const r = new Rng(seed);
    return Array.from({ length: 100 }, () => r.u32());
  };
  t.same(draw('fleet'), draw('fleet'));
  t.same(draw(42), draw('42'), 'a number seed is its decimal text');
  t.not(draw('fleet').join(), draw('fleet2').join());
  t.end();
});

void t.test('fork is independent of how much the parent has drawn', (t) => {
  const a = new Rng('s');
  const b = new Rng('s');
  for (let i = 0; i < 1000; i++) b.u32();
  t.equal(a.fork('session', 3).u32(), b.fork('session', 3).u32());
  t.not(a.fork('session', 3).u32(), a.fork('session', 4).u32());
  t.end();
});

void t.test('helpers stay in their ranges and cover them', (t) => {
  const r = new Rng('ranges');
  const seen = new Set<number>();
  let floatMin = 1;
  let floatMax = 0;
  for (let i = 0; i < 20_000; i++) {
    const k = r.int(-2, 2);
    if (!(k >= -2 && k <= 2 && Number.isInteger(k))) t.fail(`int out of range: ${k}`);
    seen.add(k);
    const f = r.float();
    floatMin = Math.min(floatMin, f);
    floatMax = Math.max(floatMax, f);
    const x = r.range(5, 7);
    if (!(x >= 5 && x < 7)) t.fail(`range out of range: ${x}`);
  }
  t.same([...seen].sort((a, b) => a - b), [-2, -1, 0, 1, 2]);
  t.ok(floatMin >= 0 && floatMin < 0.001);
  t.ok(floatMax < 1 && floatMax > 0.999);
  t.throws(() => r.int(3, 2), RangeError);
  t.throws(() => r.int(0.5, 2), RangeError);
  t.throws(() => r.choice([]), RangeError);
  t.end();
});

void t.test('normal has the asked mean and deviation; bernoulli its probability', (t) => {
  const r = new Rng('normal');
  const n = 50_000;
  let sum = 0;
  let sq = 0;
  let heads = 0;
  for (let i = 0; i < n; i++) {
    const x = r.normal(10, 2);
    sum += x;
    sq += x * x;
    if (r.bernoulli(0.3)) heads++;
  }
  const mean = sum / n;
  const sd = Math.sqrt(sq / n - mean * mean);
  t.ok(Math.abs(mean - 10) < 0.05, `mean ${mean}`);
  t.ok(Math.abs(sd - 2) < 0.05, `sd ${sd}`);
  t.ok(Math.abs(heads / n - 0.3) < 0.01, `p ${heads / n}`);
  t.end();
});

void t.test('shuffle permutes in place; choice and weighted pick members', (t) => {
  const r = new Rng('shuffle');
  const items = Array.from({ length: 50 }, (_, i) => i);
  const same = r.shuffle(items);
  t.equal(same, items);
  t.same([...items].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  t.not(items.join(), Array.from({ length: 50 }, (_, i) => i).join());
  const counts = { a: 0, b: 0 };
  for (let i = 0; i < 10_000; i++) counts[r.weighted(['a', 'b'] as const, [1, 3])]++;
  t.ok(Math.abs(counts.b / 10_000 - 0.75) < 0.02, `weighted ${counts.b}`);
  t.ok(['x', 'y'].includes(r.choice(['x', 'y'])));
  t.match(r.hex(16), /^[0-9a-f]{16}$/);
  t.end();
});
