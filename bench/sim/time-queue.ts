/**
 * The fleet's merge of session streams: a priority queue of items by (time, index), made for
 * what the simulator does with it millions of times: look at the earliest item, then put it back
 * a little later (its session's next message, usually a metering interval later).
 *
 * A 4-ary min-heap whose keys live in typed arrays in heap order: sifting through a thousand
 * sessions in flight touches a few compact cache lines, never a session object; four children
 * per node halve the levels of a binary heap and sit side by side. Almost every operation is
 * retimeTop, a sift down that moves a hole and writes the entry once where it stops.
 *
 * (A bucket queue, 128 ms or 1 s buckets sorted on arrival, measured no faster here: the
 * messages of a minute bunch into its first two seconds, so buckets are large and sorting them
 * costs what the heap does.)
 */

export interface Indexed {
  /** Ties in time go by it; unique per item. */
  readonly index: number;
}

export class TimeQueue<T extends Indexed> {
  size = 0;
  private time = new Float64Array(1024);
  private index = new Float64Array(1024);
  private readonly items: T[] = [];

  topTime(): number {
    if (this.size === 0) throw new Error('TimeQueue: empty');
    return this.time[0]!;
  }

  top(): T {
    if (this.size === 0) throw new Error('TimeQueue: empty');
    return this.items[0]!;
  }

  push(item: T, time: number): void {
    if (this.size === this.time.length) {
      const t = new Float64Array(this.size * 2);
      t.set(this.time);
      this.time = t;
      const x = new Float64Array(this.size * 2);
      x.set(this.index);
      this.index = x;
    }
    this.items.push(item);
    this.up(this.size++, item, time, item.index);
  }

  /** The top item's time becomes `time` (never earlier than now). */
  retimeTop(time: number): void {
    this.down(this.items[0]!, time, this.index[0]!);
  }

  pop(): void {
    const last = --this.size;
    const item = this.items.pop()!;
    if (last > 0) this.down(item, this.time[last]!, this.index[last]!);
  }

  private up(i: number, item: T, t: number, x: number): void {
    const time = this.time;
    const index = this.index;
    while (i > 0) {
      const parent = (i - 1) >> 2;
      const tp = time[parent]!;
      if (!(t < tp || (t === tp && x < index[parent]!))) break;
      time[i] = tp;
      index[i] = index[parent]!;
      this.items[i] = this.items[parent]!;
      i = parent;
    }
    time[i] = t;
    index[i] = x;
    this.items[i] = item;
  }

  private down(item: T, t: number, x: number): void {
    const time = this.time;
    const index = this.index;
    const n = this.size;
    let i = 0;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= n) break;
      let child = first;
      let tc = time[first]!;
      const last = Math.min(first + 4, n);
      for (let k = first + 1; k < last; k++) {
        const tk = time[k]!;
        if (tk < tc || (tk === tc && index[k]! < index[child]!)) {
          child = k;
          tc = tk;
        }
      }
      if (!(tc < t || (tc === t && index[child]! < x))) break;
      time[i] = tc;
      index[i] = index[child]!;
      this.items[i] = this.items[child]!;
      i = child;
    }
    time[i] = t;
    index[i] = x;
    this.items[i] = item;
  }
}
