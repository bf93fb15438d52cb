/** A session's records to deliver, and their order by delivery time. */
import type { Scratch } from './scratch.js';

/** A session's records to deliver: type, reference (seq, event, report or malformed copy) and due time. */
export class ItemList {
  count = 0;
  readonly type: Uint8Array;
  readonly ref: Int32Array;
  readonly time: Float64Array;
  /** Start of each run of items added in nearly increasing time (intervals, copies, events...). */
  private readonly runs: number[] = [0];
  private readonly scratch: Scratch;

  constructor(scratch: Scratch, capacity: number) {
    this.scratch = scratch;
    this.type = scratch.u8('itemType', capacity);
    this.ref = scratch.i32('itemRef', capacity);
    this.time = scratch.f64('itemTime', capacity);
  }

  add(type: number, ref: number, time: number): number {
    const j = this.count++;
    this.type[j] = type;
    this.ref[j] = ref;
    this.time[j] = time;
    return j;
  }

  /** Starts a new run. */
  mark(): void {
    this.runs.push(this.count);
  }

  /**
   * Item numbers ordered by (time, item number). Each run is almost sorted already (only
   * out-of-order windows and resend delays disturb it), so an insertion sort per run costs about
   * its length, and a merge of the few runs finishes the job: far cheaper than a general sort.
   */
  sortedOrder(): Int32Array {
    const n = this.count;
    const t = this.time;
    const idx = this.scratch.i32('sortIdx', n);
    for (let j = 0; j < n; j++) idx[j] = j;
    const runs = this.runs.filter((start, r) => start < n && start !== this.runs[r + 1]);
    for (let r = 0; r < runs.length; r++) {
      const a = runs[r]!;
      const b = runs[r + 1] ?? n;
      for (let j = a + 1; j < b; j++) {
        const x = idx[j]!;
        const tx = t[x]!;
        let k = j - 1;
        // Strictly greater only: equal times keep item order.
        while (k >= a && t[idx[k]!]! > tx) {
          idx[k + 1] = idx[k]!;
          k--;
        }
        idx[k + 1] = x;
      }
    }
    if (runs.length <= 1) return idx;
    const out = this.scratch.i32('sortOut', n);
    const head = runs.slice();
    const end = runs.map((_, r) => runs[r + 1] ?? n);
    for (let o = 0; o < n; o++) {
      let best = -1;
      let bestTime = Infinity;
      for (let r = 0; r < head.length; r++) {
        if (head[r]! >= end[r]!) continue;
        // Runs hold increasing item numbers, so on equal times the earlier run wins.
        const tr = t[idx[head[r]!]!]!;
        if (tr < bestTime) {
          best = r;
          bestTime = tr;
        }
      }
      out[o] = idx[head[best]!]!;
      head[best]!++;
    }
    return out;
  }
}
