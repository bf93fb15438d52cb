import t from 'tap';
import { TimeQueue } from '../../../bench/sim/time-queue.js';
import { Rng } from '../../../bench/sim/random.js';

interface Item {
  index: number;
}

/** The reference: a list kept sorted by (time, index). */
class Reference {
  entries: { time: number; item: Item }[] = [];
  push(item: Item, time: number): void {
    this.entries.push({ time, item });
    this.entries.sort((a, b) => a.time - b.time || a.item.index - b.item.index);
  }
  top(): { time: number; item: Item } {
    return this.entries[0]!;
  }
  shift(): void {
    this.entries.shift();
  }
}

void t.test('takes items in (time, index) order, as a sorted list would, under the simulator\'s use', (t) => {
  const HOUR = 3_600_000;
  for (const seed of ['a', 'b', 'c', 'd']) {
    const rng = new Rng(`queue-${seed}`);
    const q = new TimeQueue<Item>();
    const ref = new Reference();
    const items = Array.from({ length: 300 }, (_, index) => ({ index }));
    let nextItem = 0;
    let now = 0;
    const taken: string[] = [];
    const expected: string[] = [];
    for (let step = 0; step < 20_000; step++) {
      const op = rng.float();
      if ((op < 0.05 || ref.entries.length === 0) && nextItem < items.length) {
        // A new stream: at or after the last time taken; sometimes after a peek already loaded a later bucket.
        if (ref.entries.length > 0 && rng.bernoulli(0.5)) q.topTime();
        const time = now + rng.int(0, 5000);
        q.push(items[nextItem]!, time);
        ref.push(items[nextItem]!, time);
        nextItem++;
        continue;
      }
      if (ref.entries.length === 0) break;
      const top = ref.top();
      if (q.topTime() !== top.time) t.fail(`step ${step}: top time ${q.topTime()}, expected ${top.time}`);
      const got = q.top();
      taken.push(`${q.topTime()}/${got.index}`);
      expected.push(`${top.time}/${top.item.index}`);
      now = top.time;
      ref.shift();
      if (rng.float() < 0.9) {
        // Put back later: the same bucket, the next interval, or far ahead (another ring lap).
        const r = rng.float();
        const later = r < 0.3 ? rng.int(0, 800) : r < 0.95 ? rng.int(1000, 3 * 60_000) : rng.int(19 * HOUR, 40 * HOUR);
        q.retimeTop(now + later);
        ref.push(got, now + later);
      } else {
        q.pop();
      }
      if (q.size !== ref.entries.length) t.fail(`step ${step}: size ${q.size}, expected ${ref.entries.length}`);
    }
    t.same(taken, expected, `seed ${seed}: ${taken.length} items in order`);
  }
  t.end();
});

void t.test('equal times go by index; an empty queue says so', (t) => {
  const q = new TimeQueue<Item>();
  for (const index of [5, 1, 3]) q.push({ index }, 1000);
  q.push({ index: 0 }, 1001);
  const order: number[] = [];
  while (q.size > 0) {
    order.push(q.top().index);
    q.pop();
  }
  t.same(order, [1, 3, 5, 0]);
  t.throws(() => q.top(), /empty/);
  t.end();
});
