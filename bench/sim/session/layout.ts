/**
 * A session's records packed into messages and flattened, in delivery order, into the plan
 * fleet.ts streams from (the layout of SessionStream.plan).
 */
import type { ItemList } from './items.js';
import type { Scratch } from './scratch.js';
import { FIRST_PROGRESS_SEQ, IT_CONFLICT, IT_INTERVAL, IT_MALFORMED, IT_PROGRESS, IT_VEHICLE, PLAN_MESSAGE, PLAN_RECORD, topicOfType, type Malformed } from './types.js';

/** What the plan fields of a session's records are read from. */
export interface RecordValues {
  start: Float64Array;
  energy: Float64Array;
  register: Float64Array;
  conflictWh: number;
  reportTime: number[];
  reportWh: number[];
  progressTime: number[];
  progressWh: number[];
  progressIntervals: number[];
}

/** Writes a record's plan fields (see SessionStream.plan) at out[w]; a conflicting copy is an interval with other energy. */
export function fieldsOf(type: number, ref: number, v: RecordValues, out: Float64Array, w: number): number {
  out[w] = type === IT_CONFLICT ? IT_INTERVAL : type;
  out[w + 1] = ref;
  out[w + 2] = 0;
  out[w + 3] = 0;
  out[w + 4] = 0;
  if (type === IT_INTERVAL || type === IT_CONFLICT) {
    out[w + 2] = v.start[ref]!;
    out[w + 3] = type === IT_CONFLICT ? v.conflictWh : v.energy[ref]!;
    out[w + 4] = v.register[ref]!;
  } else if (type === IT_VEHICLE) {
    out[w + 2] = v.reportTime[ref]!;
    out[w + 3] = v.reportWh[ref]!;
  } else if (type === IT_PROGRESS) {
    out[w + 1] = FIRST_PROGRESS_SEQ + ref;
    out[w + 2] = v.progressTime[ref]!;
    out[w + 3] = v.progressWh[ref]!;
    out[w + 4] = v.progressIntervals[ref]!;
  }
  return w + PLAN_RECORD;
}

/** Messages of a session: message j holds items order[msgEnd[j-1] .. msgEnd[j]). */
export interface MessageLayout {
  messages: number;
  msgTime: Float64Array;
  msgEnd: Int32Array;
  msgTopic: Uint8Array;
  order: Int32Array;
}

/**
 * Sorts a session's items by delivery time and packs them into messages. With more than one
 * record per message, the ESCI fills one batch per topic and sends it when full (at the time of
 * its last record) or at its last delivery; a copy of an interval never rides in the same batch
 * as its original, so "first received" is always an earlier message. Malformed copies always
 * travel alone. (One record per message skips this: flattenSingles.)
 */
export function groupMessages(list: ItemList, malformed: Malformed[], R: number, scratch: Scratch): MessageLayout {
  const { count: items, type: itemType, ref: itemRef, time: itemTime } = list;
  const sorted = list.sortedOrder();
  const msgTime = scratch.f64('msgTime', items);
  const msgEnd = scratch.i32('msgEnd', items);
  const msgTopic = scratch.u8('msgTopic', items);
  const topicOfItem = (it: number): number => {
    const t = itemType[it]!;
    return topicOfType(t === IT_MALFORMED ? malformed[itemRef[it]!]!.fields[0]! : t);
  };
  let messages = 0;
  const order = scratch.i32('order', items);
  let written = 0;
  const open: number[][] = [[], [], []];
  const serial = [0, 0, 0];
  const batchOf = new Map<number, number>();
  const flush = (topic: number, time: number): void => {
    const batch = open[topic]!;
    if (batch.length === 0) return;
    for (const it of batch) order[written++] = it;
    msgTime[messages] = time;
    msgTopic[messages] = topic;
    msgEnd[messages++] = written;
    batch.length = 0;
    serial[topic]!++;
  };
  let last = items > 0 ? itemTime[sorted[0]!]! : 0;
  for (let j = 0; j < items; j++) {
    const it = sorted[j]!;
    const t = itemTime[it]!;
    last = t;
    if (itemType[it] === IT_MALFORMED) {
      order[written++] = it;
      msgTime[messages] = t;
      msgTopic[messages] = topicOfItem(it);
      msgEnd[messages++] = written;
      continue;
    }
    const topic = topicOfItem(it);
    if (topic === 0) {
      const seq = itemRef[it]!;
      if (batchOf.get(seq) === serial[0] && open[0]!.length > 0) flush(0, t);
      batchOf.set(seq, serial[0]!);
    }
    open[topic]!.push(it);
    if (open[topic]!.length >= R) flush(topic, t);
  }
  for (let topic = 0; topic < 3; topic++) flush(topic, last);
  return { messages, msgTime, msgEnd, msgTopic, order };
}

/** The session's messages flattened in delivery order (the layout of SessionStream.plan). */
export function flattenPlan(layout: MessageLayout, list: ItemList, values: RecordValues): Float64Array {
  const flat = new Float64Array(layout.messages * PLAN_MESSAGE + list.count * PLAN_RECORD);
  const { msgEnd, msgTime, msgTopic, order } = layout;
  const { type, ref } = list;
  let w = 0;
  let from = 0;
  for (let j = 0; j < layout.messages; j++) {
    const to = msgEnd[j]!;
    flat[w] = msgTime[j]!;
    flat[w + 1] = msgTopic[j]!;
    flat[w + 2] = to - from;
    w += PLAN_MESSAGE;
    for (let k = from; k < to; k++) {
      const it = order[k]!;
      w = fieldsOf(type[it]!, ref[it]!, values, flat, w);
    }
    from = to;
  }
  return flat;
}

/** flattenPlan for one record per message: each item, in delivery order, is a message. */
export function flattenSingles(list: ItemList, malformed: Malformed[], values: RecordValues): Float64Array {
  const sorted = list.sortedOrder();
  const n = list.count;
  const flat = new Float64Array(n * (PLAN_MESSAGE + PLAN_RECORD));
  const { type, ref, time } = list;
  let w = 0;
  for (let j = 0; j < n; j++) {
    const it = sorted[j]!;
    const t = type[it]!;
    flat[w] = time[it]!;
    flat[w + 1] = topicOfType(t === IT_MALFORMED ? malformed[ref[it]!]!.fields[0]! : t);
    flat[w + 2] = 1;
    w = fieldsOf(t, ref[it]!, values, flat, w + PLAN_MESSAGE);
  }
  return flat;
}
