/**
 * Makes one unit of work durable: every table's rows in one insert each (interval rows as columns
 * on chDB), and the unit's dead letters acknowledged by the dead-letter sink. Retryable failures
 * (store or broker down) are retried with backoff until they succeed or the kill signal fires; a
 * rejection is thrown, and the caller halts without committing.
 *
 * Re-inserting rows after an insert that failed half-way is safe by design: raw tables are
 * append-only and every total is deduplicated by natural key at read time.
 */
import { RAW_TABLES, type RawTable } from '../../schemas/tables.js';
import type { Store } from '../../aggregate/store/types.js';
import type { Config } from '../../schemas/config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { DeadLetter, DeadLetterSink } from '../kafka/dead-letter.js';
import { retrying } from './retry.js';
import type { IntervalColumnsPart } from '../../aggregate/store/columns.js';
import type { TableRows } from '../decode/task.js';

export class TableBuffers {
  readonly chunks = new Map<RawTable, Uint8Array[]>();
  readonly rows = new Map<RawTable, number>();
  /** interval_raw rows that came as columns (a columnar store); never beside text chunks of it. */
  readonly intervalColumns: IntervalColumnsPart[] = [];

  /** One table's rows of a decoded batch, in whichever form the worker wrote them. */
  addRows(t: TableRows): void {
    if (t.columns) this.addColumns(t.columns);
    else this.add(t.table, t.tsv, t.rows);
  }

  private addColumns(part: IntervalColumnsPart): void {
    if (part.rows === 0) return;
    this.intervalColumns.push(part);
    this.rows.set('interval_raw', (this.rows.get('interval_raw') ?? 0) + part.rows);
  }

  add(table: RawTable, chunk: Uint8Array, rows: number): void {
    if (rows === 0) return;
    let list = this.chunks.get(table);
    if (!list) this.chunks.set(table, (list = []));
    list.push(chunk);
    this.rows.set(table, (this.rows.get(table) ?? 0) + rows);
  }

  rowCount(table: RawTable): number {
    return this.rows.get(table) ?? 0;
  }
}

export class DurableSink {
  constructor(
    private readonly cfg: Config,
    private readonly store: Store,
    private readonly deadLetters: DeadLetterSink,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Whether interval rows should come as columns: the store takes them so (chDB). */
  get columnar(): boolean {
    return this.store.insertIntervalColumns !== undefined;
  }

  async write(buffers: TableBuffers, letters: readonly DeadLetter[], kill: AbortSignal): Promise<void> {
    const retry = {
      initialMs: this.cfg.pipeline.retryInitialMs,
      maxMs: this.cfg.pipeline.retryMaxMs,
      signal: kill,
    };
    const jobs: Promise<void>[] = [];
    for (const table of RAW_TABLES) {
      const chunks = buffers.chunks.get(table) ?? [];
      const parts = table === 'interval_raw' ? buffers.intervalColumns : [];
      if (chunks.length === 0 && parts.length === 0) continue;
      const rows = buffers.rowCount(table);
      jobs.push(
        retrying(
          async () => {
            const end = this.metrics.insertSeconds.startTimer({ table });
            if (parts.length > 0) await this.store.insertIntervalColumns!(parts);
            if (chunks.length > 0) await this.store.insertTsv(table, chunks);
            end();
          },
          {
            ...retry,
            onRetry: (err, attempt, waitMs) => {
              this.metrics.storeRetries.inc();
              this.log.warn({ table, rows, attempt, waitMs, err: (err as Error).message }, 'store write failed; partitions stay paused until it succeeds');
            },
          },
        ).then(() => {
          this.metrics.rowsWritten.inc({ table }, rows);
        }),
      );
    }
    if (letters.length > 0) {
      jobs.push(
        retrying(() => this.deadLetters.send(letters), {
          ...retry,
          onRetry: (err, attempt, waitMs) => this.log.warn({ letters: letters.length, attempt, waitMs, err: (err as Error).message }, 'dead-letter write failed; retrying'),
        }),
      );
    }
    // allSettled, then rethrow: a rejected write must not leave a sibling insert racing a halt.
    const results = await Promise.allSettled(jobs);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }
}
