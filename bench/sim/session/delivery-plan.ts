/**
 * Every record a session delivers with its delivery time: intervals with their latency (shuffled
 * under out_of_order), resent and conflicting copies, events, vehicle reports, malformed copies.
 */
import type { Rng } from '../random.js';
import { MALFORMED_CODES } from '../options.js';
import type { Delivered } from './delivery-faults.js';
import { ItemList } from './items.js';
import { fieldsOf, type RecordValues } from './layout.js';
import type { Metered } from './meter.js';
import type { Events, Reports } from './records.js';
import { IT_CONFLICT, IT_EVENT, IT_INTERVAL, IT_MALFORMED, IT_PROGRESS, IT_VEHICLE, PLAN_RECORD, type ChargePlan, type Malformed, type SessionContext, type SessionSpec } from './types.js';

/** Every record the session delivers, with its delivery time, in runs (intervals, copies, events...). */
export function deliveryPlan(
  ctx: SessionContext, spec: SessionSpec, plan: ChargePlan, m: Metered, d: Delivered, ev: Events, vr: Reports,
  fr: Rng, dr: Rng, detail: Record<string, unknown>,
): { list: ItemList; malformed: Malformed[]; values: RecordValues } {
  const n = plan.n;
  const I = ctx.intervalMs;
  const sc = ctx.scratch;
  const list = new ItemList(sc, n * 2 + ev.events.length + ev.progressTime.length + vr.reportTime.length + 8);
  const itemTime = list.time;
  const intervalItem = sc.i32('intervalItem', n).fill(-1);
  scheduleIntervals(list, intervalItem, d.delivered, plan.firstSlot, I, dr);
  if (d.oooWindow > 0) shuffleWindows(list, intervalItem, d.oooWindow, fr);
  list.mark();
  for (const k of d.resendSeqs) list.add(IT_INTERVAL, k, itemTime[intervalItem[k]!]! + fr.int(2, 10) * I + fr.int(200, 2000));
  if (d.conflictSeq >= 0) list.add(IT_CONFLICT, d.conflictSeq, itemTime[intervalItem[d.conflictSeq]!]! + fr.int(2, 10) * I + fr.int(200, 2000));
  list.mark();
  // Session events in event_seq order: start, request, available, the progress reports, end.
  for (let e = 0; e < 3; e++) list.add(IT_EVENT, e, ev.eventDue[e]!);
  for (let j = 0; j < ev.progressDue.length; j++) list.add(IT_PROGRESS, j, ev.progressDue[j]!);
  if (ev.events.length > 3) list.add(IT_EVENT, 3, ev.eventDue[3]!);
  list.mark();
  for (let v = 0; v < vr.reportTime.length; v++) list.add(IT_VEHICLE, v, vr.reportTime[v]! + dr.int(200, 2000));
  const values: RecordValues = {
    start: d.outStart, energy: d.outEnergy, register: m.register, conflictWh: d.conflictWh,
    reportTime: vr.reportTime, reportWh: vr.reportWh,
    progressTime: ev.progressTime, progressWh: ev.progressWh, progressIntervals: ev.progressIntervals,
  };
  const malformed: Malformed[] = [];
  list.mark();
  if (spec.fault === 'malformed') {
    const copies = fr.int(1, 3);
    const realItems = list.count;
    for (let c = 0; c < copies; c++) {
      // The first copy cycles through the codes across malformed sessions, so each code appears.
      const code = c === 0 ? MALFORMED_CODES[spec.variant % MALFORMED_CODES.length]! : fr.choice(MALFORMED_CODES);
      const source = fr.int(0, realItems - 1);
      const param = code === 'PEV_TRUNCATED' ? fr.int(1, 8) : fr.int(1, 255);
      const fields = new Float64Array(PLAN_RECORD);
      fieldsOf(list.type[source]!, list.ref[source]!, values, fields, 0);
      malformed.push({ code, param, fields });
      list.add(IT_MALFORMED, malformed.length - 1, itemTime[source]! + fr.int(1, 500));
    }
    Object.assign(detail, { codes: malformed.map((x) => x.code) });
  }
  return { list, malformed, values };
}

/** out_of_order: delivery times permuted within each window of intervals (never all in place). */
function shuffleWindows(list: ItemList, intervalItem: Int32Array, window: number, fr: Rng): void {
  const itemTime = list.time;
  const n = intervalItem.length;
  let moved = false;
  for (let b = 0; b < n; b += window) {
    const idx: number[] = [];
    for (let k = b; k < Math.min(n, b + window); k++) idx.push(intervalItem[k]!);
    const times = fr.shuffle(idx.map((it) => itemTime[it]!));
    idx.forEach((it, j) => {
      if (itemTime[it] !== times[j]) moved = true;
      itemTime[it] = times[j]!;
    });
  }
  if (!moved) {
    const a = intervalItem[0]!;
    const b = intervalItem[1]!;
    const t = itemTime[a]!;
    itemTime[a] = itemTime[b]!;
    itemTime[b] = t;
  }
}

/** Interval k is due at its end plus 0.2-2 s of latency; one draw per interval, delivered or not. */
function scheduleIntervals(list: ItemList, itemOf: Int32Array, delivered: Uint8Array, firstSlot: number, I: number, rng: Rng): void {
  for (let k = 0; k < itemOf.length; k++) {
    const due = (firstSlot + k + 1) * I + rng.int(200, 2000);
    if (delivered[k]) itemOf[k] = list.add(IT_INTERVAL, k, due);
  }
}
