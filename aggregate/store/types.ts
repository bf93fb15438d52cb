/**
 * The store seam: one small interface, two transports (a ClickHouse server over HTTP, or chDB
 * in-process), both through `@clickhouse/client`. Swapping the transport touches
 * `aggregate/store/connect.ts` only.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { RawTable } from '../../schemas/tables.js';
import type { IntervalColumnsPart } from './columns.js';

export type StoreOptions =
  | {
      kind: 'embedded';
      /** Folder chDB persists to; created if missing. */
      path: string;
      database: string;
    }
  | {
      kind: 'http';
      url: string;
      username: string;
      password: string;
      database: string;
      /** PEM CA certificate for TLS to a server with a private CA. */
      caCertPath?: string;
      requestTimeoutMs: number;
    };

export interface MigrationResult {
  applied: string[];
  skipped: { name: string; reason: string }[];
  serverVersion: string;
}

/** ClickHouse settings for one insert (names and values from our own code). */
export type InsertSettings = Record<string, number | string>;

export interface Store {
  readonly database: string;
  readonly kind: StoreOptions['kind'];
  /** The underlying client for parameterized queries (always `query_params`, never string-built values). */
  readonly client: ClickHouseClient;
  /**
   * Removes this store's credentials, in every form, from free text (schemas/scrub.ts); for
   * errors raised from `client` outside the store's own methods. Optional for test doubles.
   */
  readonly scrub?: (text: string) => string;
  /** Creates the database and applies `schemas/clickhouse/*.sql` idempotently. */
  migrate(): Promise<MigrationResult>;
  /**
   * Appends TabSeparated rows (the columns of INSERT_COLUMNS[table], in order) in one insert.
   * Throws StoreError: retryable when the server is unreachable or overloaded, not retryable when
   * it rejects the insert (missing table, bad credentials, read-only).
   */
  insertTsv(table: RawTable, chunks: readonly Uint8Array[]): Promise<void>;
  /**
   * Appends TabSeparated rows of the named columns to any of the product's tables (`table` is a
   * name from our own code, never user input), with the same errors as `insertTsv`.
   */
  insertTsvColumns(table: string, columns: readonly string[], chunks: readonly Uint8Array[], settings?: InsertSettings): Promise<void>;
  /**
   * chDB only (absent on a server): appends interval_raw rows given as columns (aggregate/store/
   * columns.ts) in one insert, with the same errors as `insertTsv`. ClickHouse parses no text.
   */
  insertIntervalColumns?(parts: readonly IntervalColumnsPart[]): Promise<void>;
  /** Runs a SELECT with server-side parameters and returns JSONEachRow rows. */
  select<T>(query: string, params?: Record<string, unknown>): Promise<T[]>;
  close(): Promise<void>;
}
