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
  process(slices: readonly PartitionSlice[], signal: AbortSignal): Promise<UnitOutcome>;
}
