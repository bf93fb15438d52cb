/** What the fault runs share: the scenario names, the context a scenario runs in, and the result it reports. */
import type { OffsetCheck, TruthCheck } from '../../sim/truth.js';
import type { BrokerControl, ClickhouseControl } from '../services.js';

export const SCENARIOS = ['kill', 'broker', 'store', 'rejected', 'scale', 'replay', 'checker'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ChaosContext {
  /** The shared broker (every scenario but `broker`). */
  brokers: string;
  workDir: string;
  /** Records to feed per scenario (at least; the fleet is sized with a margin). */
  records: number;
  seed: string;
  partitions: number;
  /** SIGKILLs in the kill scenario. */
  kills: number;
  brokerDownMs: number;
  storeDownMs: number;
  /** A private broker the broker scenario may kill (started on first use). */
  privateBroker: () => Promise<BrokerControl>;
  /** A private ClickHouse server (18.16) the store scenarios may stop (started on first use). */
  clickhouse: () => Promise<ClickhouseControl>;
  log: (line: string) => void;
  /** Keep topics, stores and logs after the run. */
  keep: boolean;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  status: 'pass' | 'fail' | 'unverified';
  recordsFed: number;
  messagesFed: number;
  intervalRecords: number;
  sessions: number;
  faultsInjected: number;
  faults: string[];
  /** Interval records and Wh missing from the totals, plus offsets committed with nothing stored. */
  lost: { records: number; wh: number; uncoveredOffsets: number };
  doubleCounted: { records: number; wh: number };
  /** Longest time from the end of a fault to progress (or lag zero, per scenario); null when n/a. */
  recoveryMs: number | null;
  recoveryNote: string;
  /** Interval rows stored beyond one per (partition, offset, seq): Kafka redelivery made durable. */
  redelivered: number | null;
  rawRows: number | null;
  truth: Pick<TruthCheck, 'status' | 'source' | 'sessions' | 'mismatchedSessions' | 'mismatchedMinutes' | 'unexpectedSessions' | 'examples' | 'expected' | 'actual'> & { error?: string };
  offsets: Pick<OffsetCheck, 'status' | 'uncovered' | 'lag'> & { copies: number; error?: string };
  checks: Check[];
  seconds: number;
  details: Record<string, unknown>;
}
