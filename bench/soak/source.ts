/**
 * The soak's data: interval records of simulated fleets, made while they are produced, with the
 * simulator's truth for every record.
 *
 * A soak runs for a time, not for a number of records, and its truth must be whole: the truth of
 * a session is only known for all of its records. So the stream is a sequence of complete fleets
 * (the harness's fleet settings: one simulated day, 60 s intervals, no faults, interval records
 * only), each sized to `chunkRecords()` records when it starts (about one minute of load by
 * default, fewer for the last one). When `chunkRecords()` says 0 the stream ends after the fleet
 * in progress, so every session produced is complete and its truth line counts. Fleets get derived
 * seeds (`seed/0`, `seed/1`, ...), so their session IDs differ; a collision would show as a truth
 * line listed twice, which the checker refuses.
 */
import { simulateFleet, type SessionTruth, type SimMessage } from '../sim/fleet.js';
import type { CheckedTruth } from '../sim/truth.js';
import { FLEET_FROM } from '../harness/data.js';
import type { DataMessage } from '../harness/kafka.js';

const DAY_MS = 86_400_000;

export interface FleetChunkOptions {
  seed: string;
  recordsPerMessage: number;
  /** Keep each session's per-minute truth (memory grows with the run); else sessions only. */
  truthMinutes: boolean;
  /** Records wanted from the next fleet; 0 or less ends the stream. */
  chunkRecords: () => number;
}

export class FleetChunks implements Iterator<DataMessage> {
  readonly truth: CheckedTruth[] = [];
  fleets = 0;
  premises = 0;
  /** Interval records yielded. */
  records = 0;
  private current: Generator<SimMessage, unknown, undefined> | undefined;
  private ended = false;

  constructor(private readonly o: FleetChunkOptions) {}

  /** Interval records per premise so far (the simulator's day averages about 250 at 60 s intervals). */
  recordsPerPremise(): number {
    return this.premises > 0 && this.records > 0 ? this.records / this.premises : 250;
  }

  next(): IteratorResult<DataMessage> {
    for (;;) {
      if (this.ended) return { done: true, value: undefined };
      if (!this.current) {
        const wanted = this.o.chunkRecords();
        if (!(wanted > 0)) {
          this.ended = true;
          continue;
        }
        const premises = Math.max(8, Math.round(wanted / this.recordsPerPremise()));
        const fleet = simulateFleet({
          seed: `${this.o.seed}/${this.fleets}`,
          premises,
          from: FLEET_FROM,
          to: FLEET_FROM + DAY_MS,
          intervalS: 60,
          recordsPerMessage: this.o.recordsPerMessage,
          noFaults: true,
          truthMinutes: this.o.truthMinutes,
        });
        this.fleets++;
        this.premises += premises;
        this.current = fleet.messages((t: SessionTruth) => {
          this.truth.push({ session_id: t.session_id, interval_sum_wh: t.interval_sum_wh, intervals_delivered_unique: t.intervals_delivered_unique, minutes: t.minutes });
        });
      }
      const r = this.current.next();
      if (r.done === true) {
        this.current = undefined;
        continue;
      }
      const m = r.value;
      if (m.kind !== 'interval') continue;
      this.records += m.records;
      return { done: false, value: { key: m.key, value: m.value, records: m.records } };
    }
  }

  /** Yields at most `messages` messages and leaves the rest (for-of on this would end the stream). */
  *take(messages: number): Generator<DataMessage> {
    for (let i = 0; i < messages; i++) {
      const r = this.next();
      if (r.done === true) return;
      yield r.value;
    }
  }
}
