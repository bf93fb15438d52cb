/**
 * The seam between the Kafka loop and what processes a unit of work: the loop consumes, slices
 * per partition and commits in consume order; a UnitProcessor decodes and stores one unit and says
 * what it held. Both sides import this file, neither imports the other.
 */
import type { Message } from 'node-rdkafka';

export interface PartitionSlice {
  topic: string;
  partition: number;
  /** Ownership epoch when consumed: commits are skipped if the partition moved since. */
  epoch: number;
  messages: Message[];
}

export interface UnitOutcome {
  records: number;
  deadLetters: number;
}

export interface UnitProcessor {
  /**
   * `signal` is the hard abort; `stop` the graceful one. A unit that is only waiting (on a
   * registry that does not answer) throws UnitAbandoned once `stop` aborts, instead of holding
   * the drain until the hard abort: it has written nothing, and is not committed.
   */
  process(slices: readonly PartitionSlice[], signal: AbortSignal, stop?: AbortSignal): Promise<UnitOutcome>;
}

/** A unit given up on at shutdown while it could not progress; its messages are read again at the next start. */
export class UnitAbandoned extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'UnitAbandoned';
  }
}
