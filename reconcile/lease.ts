/**
 * One reconcile run per period at a time, on any store: a lease kept as rows of
 * `reconcile_lease` (migration 007). ClickHouse has no locks and no transactions, but on one
 * server (and in chDB) an INSERT is visible to every SELECT that starts after it returns. On that
 * alone the protocol below lets at most one run of a period proceed:
 *
 *   1. insert CLAIM(run, rank = start time, expiry);
 *   2. read the period's rows (latest row per run; DONE and expired rows are dead):
 *      - another run ACTIVE: insert DONE for ours and refuse (PEV_RECONCILE_BUSY);
 *      - another live CLAIM that ranks before ours (rank, then run ID): the same;
 *      - no other live run: insert ACTIVE and proceed;
 *      - only later-ranked CLAIMs: wait and read again (they retreat or are refused), refusing
 *        after `waitMs`.
 *
 * Why at most one proceeds: a run proceeds only after a read that saw no other live run. Of two
 * runs, take the one whose read came later: it started after the other's read, which came after
 * the other's insert, so it sees the other's claim and does not proceed on that read. The ranks
 * only decide which of two runs that see each other steps back (so one of them goes ahead), never
 * whether two proceed. In a tight race both may be refused; the error says to retry.
 *
 * While it runs the holder renews its lease (an ACTIVE row with a later expiry) every third of
 * the TTL, and `check()` refuses to write once the lease has expired unrenewed (another run may
 * then have taken the period). A crashed run's lease expires after the TTL. `release()` writes
 * DONE. On a replicated cluster, reads must see the inserts of other replicas: set
 * `insert_quorum` to every replica and `select_sequential_consistency = 1` for the reconcile
 * user, or point every run at one replica (docs/reconcile.md, "Concurrent runs").
 *
 * The table is small (a few rows per run) and read whole, without query parameters, so the lease
 * also works on the ClickHouse 18.16 test server, which has none.
 */
import { hostname } from 'node:os';
import type { Store } from '../aggregate/store/types.js';
import { PevmeterError } from '../schemas/errors.js';
import { insertRows } from './tsv.js';
import type { Period } from './types.js';

export type LeaseState = 'CLAIM' | 'ACTIVE' | 'DONE';

export interface LeaseOptions {
  /** A lease not renewed for this long is dead (a crashed run). Default 10 minutes. */
  ttlMs?: number;
  /** How long to wait for later-ranked claims to step back before refusing. Default 10 s. */
  waitMs?: number;
  /** Between reads while waiting. Default 200 ms. */
  pollMs?: number;
  /** Who holds it, for the other run's error. Default: host and process ID. */
  holder?: string;
}

interface LeaseRow {
  period_from_ms: number | string;
  period_to_ms: number | string;
  run_id: string;
  holder: string;
  state: LeaseState;
  rank_ms: number | string;
  written_ms: number | string;
  expires_ms: number | string;
}

export interface LeaseHolder {
  runId: string;
  holder: string;
  state: LeaseState;
  rankMs: number;
  expiresMs: number;
}

const COLUMNS = ['period_from_ms', 'period_to_ms', 'run_id', 'holder', 'state', 'rank_ms', 'written_ms', 'expires_ms'] as const;
const STATE_ORDER: Record<LeaseState, number> = { CLAIM: 0, ACTIVE: 1, DONE: 2 };

let lastWritten = 0;
/** Strictly increasing in this process: a run's rows never tie. */
function writtenMs(): number {
  lastWritten = Math.max(Date.now(), lastWritten + 1);
  return lastWritten;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function periodText(p: Period): string {
  return `[${iso(p.fromMs)}, ${iso(p.toMs)})`;
}

/** The live runs of a period other than `runId`: latest row per run, not DONE, not expired. */
export async function liveRuns(store: Store, period: Period, nowMs = Date.now()): Promise<LeaseHolder[]> {
  const rows = await store.select<LeaseRow>(
    'SELECT period_from_ms, period_to_ms, run_id, holder, state, rank_ms, written_ms, expires_ms FROM {db}.reconcile_lease',
  );
  const latest = new Map<string, LeaseRow>();
  for (const r of rows) {
    if (Number(r.period_from_ms) !== period.fromMs || Number(r.period_to_ms) !== period.toMs) continue;
    const prev = latest.get(r.run_id);
    const later = prev === undefined || Number(r.written_ms) > Number(prev.written_ms) ||
      (Number(r.written_ms) === Number(prev.written_ms) && STATE_ORDER[r.state] > STATE_ORDER[prev.state]);
    if (later) latest.set(r.run_id, r);
  }
  const out: LeaseHolder[] = [];
  for (const r of latest.values()) {
    if (r.state === 'DONE' || Number(r.expires_ms) <= nowMs) continue;
    out.push({ runId: r.run_id, holder: r.holder, state: r.state, rankMs: Number(r.rank_ms), expiresMs: Number(r.expires_ms) });
  }
  out.sort((a, b) => a.rankMs - b.rankMs || (a.runId < b.runId ? -1 : 1));
  return out;
}

function busy(period: Period, other: LeaseHolder): PevmeterError {
  return new PevmeterError(
    'PEV_RECONCILE_BUSY',
    `another reconcile run holds the period ${periodText(period)}: run ${other.runId} on ${other.holder}, ` +
      `${other.state === 'ACTIVE' ? 'running' : 'starting'} since ${iso(other.rankMs)}, lease until ${iso(other.expiresMs)}; ` +
      `wait for it to finish and run again, or if that process is gone, retry after ${iso(other.expiresMs)}`,
    { retryable: true },
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A period's lease, held by one run. */
export class PeriodLease {
  private expiresMs: number;
  private timer: NodeJS.Timeout | undefined;
  private released = false;
  private renewing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly store: Store,
    readonly period: Period,
    readonly runId: string,
    private readonly holder: string,
    private readonly rankMs: number,
    private readonly ttlMs: number,
    expiresMs: number,
  ) {
    this.expiresMs = expiresMs;
  }

  /** Claims the period for `runId`, or throws PEV_RECONCILE_BUSY naming the run that holds it. */
  static async acquire(store: Store, period: Period, runId: string, o: LeaseOptions = {}): Promise<PeriodLease> {
    const ttlMs = o.ttlMs ?? 600_000;
    const waitMs = o.waitMs ?? 10_000;
    const pollMs = o.pollMs ?? 200;
    const holder = o.holder ?? `${hostname()} pid ${process.pid}`;
    const rankMs = Date.now();
    const write = async (state: LeaseState, expiresMs: number): Promise<void> => {
      await insertRows(store, 'reconcile_lease', COLUMNS, [[period.fromMs, period.toMs, runId, holder, state, rankMs, writtenMs(), expiresMs]]);
    };
    await write('CLAIM', rankMs + ttlMs);
    const deadline = Date.now() + waitMs;
    try {
      for (;;) {
        const others = (await liveRuns(store, period)).filter((r) => r.runId !== runId);
        const active = others.find((r) => r.state === 'ACTIVE');
        if (active !== undefined) throw busy(period, active);
        const first = others[0];
        if (first === undefined) {
          const expiresMs = Date.now() + ttlMs;
          await write('ACTIVE', expiresMs);
          const lease = new PeriodLease(store, period, runId, holder, rankMs, ttlMs, expiresMs);
          lease.timer = setInterval(() => lease.renew(), Math.max(20, Math.floor(ttlMs / 3)));
          lease.timer.unref();
          return lease;
        }
        if (first.rankMs < rankMs || (first.rankMs === rankMs && first.runId < runId)) throw busy(period, first);
        if (Date.now() >= deadline) throw busy(period, first);
        await sleep(pollMs);
      }
    } catch (err) {
      // Step back: our claim must not keep a later run waiting.
      await write('DONE', rankMs).catch(() => {});
      throw err;
    }
  }

  private renew(): void {
    if (this.released) return;
    if (Date.now() >= this.expiresMs) {
      // Lost: another run may hold the period now; renewing would take it back from under it.
      if (this.timer !== undefined) clearInterval(this.timer);
      return;
    }
    const expiresMs = Date.now() + this.ttlMs;
    this.renewing = insertRows(this.store, 'reconcile_lease', COLUMNS, [
      [this.period.fromMs, this.period.toMs, this.runId, this.holder, 'ACTIVE', this.rankMs, writtenMs(), expiresMs],
    ]).then(
      () => {
        this.expiresMs = Math.max(this.expiresMs, expiresMs);
      },
      () => {
        // Not renewed: check() refuses to write once the lease runs out.
      },
    );
  }

  /** Throws PEV_RECONCILE_BUSY when the lease ran out unrenewed: another run may hold the period now. */
  check(): void {
    if (Date.now() >= this.expiresMs) {
      throw new PevmeterError(
        'PEV_RECONCILE_BUSY',
        `run ${this.runId} lost its lease on the period ${periodText(this.period)} (expired ${iso(this.expiresMs)} without renewal): it stops before writing more; run it again`,
        { retryable: true },
      );
    }
  }

  get expires(): number {
    return this.expiresMs;
  }

  /** Ends the lease (DONE). Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.renewing;
    await insertRows(this.store, 'reconcile_lease', COLUMNS, [
      [this.period.fromMs, this.period.toMs, this.runId, this.holder, 'DONE', this.rankMs, writtenMs(), this.expiresMs],
    ]);
  }
}
