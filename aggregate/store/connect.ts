/**
 * Opens the store on one of its two transports. Both are `@clickhouse/client`; only the connection
 * differs, so every query, insert and error path above this file is shared.
 *
 * chDB binds one data folder per process (libchdb keeps a single global session). Several stores
 * on the same folder share it; a store on a second folder is refused with PEV_CONFIG naming both,
 * until every store on the first is closed. Tests therefore use one chDB folder at a time per
 * process (tap runs each test file in its own process).
 */
import { mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import type { ClickHouseClient } from '@clickhouse/client';
import { createRequire } from 'node:module';
import { createChdbConnection } from 'chdb/connection';
import type { ChdbConnection } from 'chdb/connection';
import type { Config } from '../../schemas/config.js';
import { ConfigError } from '../../schemas/errors.js';
import { INSERT_COLUMNS } from '../../schemas/tables.js';
import type { RawTable } from '../../schemas/tables.js';
import { scrubSecrets } from '../../schemas/scrub.js';
import { StoreError, toStoreError } from './errors.js';
import { lockedStoreError } from './lock.js';
import { ARROW_INSERT_COLUMNS, arrowColumns, type ArrowColumn, type IntervalColumnsPart } from './columns.js';
import { isIdentifier, runMigrations } from './migrate.js';
import type { InsertSettings, MigrationResult, Store, StoreOptions } from './types.js';

/**
 * chdb's Layer 1 (its CommonJS entry; the ESM entry does not carry the Arrow binding): a Session
 * on the store's folder, and the Arrow C-data registration its `arrowstream('name')` table
 * function reads. chdb/connection keeps its own Session private, so the columnar insert opens a
 * second one on the same folder, which chDB allows.
 */
interface ChdbSession {
  readonly connection: unknown;
  queryAsync(sql: string): Promise<unknown>;
  close(): void;
}
interface ChdbLayer1 {
  Session: new (path: string) => ChdbSession;
  _arrowRegisterColumns(connection: unknown, name: string, columns: ArrowColumn[]): void;
  _arrowUnregister(connection: unknown, name: string): void;
}
const chdbLayer1 = createRequire(import.meta.url)('chdb') as ChdbLayer1;

type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>;

/** The chDB folder this process has open, and how many stores use it. */
let embedded: { path: string; refs: number } | undefined;

interface Embedded {
  client: ClickHouseClient;
  /** chDB's zero-copy insert: the buffer goes to the engine's parallel parser without a JS string. */
  rawInsert: (table: string, columns: readonly string[], payload: Buffer, settings: InsertSettings) => Promise<void>;
  /** Interval rows as an Arrow table, read by one INSERT ... SELECT. */
  insertColumns: (table: string, parts: readonly IntervalColumnsPart[]) => Promise<void>;
  release: () => void;
}

function openEmbedded(path: string): Embedded {
  let dir: string;
  try {
    mkdirSync(resolve(path), { recursive: true });
    dir = realpathSync(resolve(path));
  } catch (err) {
    throw new ConfigError(`store path ${JSON.stringify(path)}: cannot create the chDB folder: ${(err as Error).message}`);
  }
  if (embedded !== undefined && embedded.path !== dir) {
    throw new ConfigError(
      `store path ${JSON.stringify(dir)}: chDB allows one data folder per process and ${JSON.stringify(embedded.path)} is open; ` +
        'close every store on it first, or use the same folder',
    );
  }
  let client: ClickHouseClient;
  let chdb: ChdbConnection;
  try {
    // chdb's Connection is typed against @clickhouse/client-common, the client against its own copy
    // of the same declarations; they are identical at runtime but not to the type checker.
    chdb = createChdbConnection({ path: dir });
    client = createClient({ connection: chdb as unknown as ClientConnection, log: { level: ClickHouseLogLevel.OFF } });
  } catch (err) {
    // Another process holds this folder (PEV_STORE_LOCKED), or another chDB user in this process
    // (outside openStore) holds a different one.
    throw lockedStoreError(dir, err) ?? new ConfigError(`store path ${JSON.stringify(dir)}: chDB refused the folder: ${(err as Error).message}`);
  }
  embedded = { path: dir, refs: (embedded?.refs ?? 0) + 1 };
  let released = false;
  let session: ChdbSession | undefined;
  let inserts = 0;
  return {
    client,
    insertColumns: async (table, parts) => {
      session ??= new chdbLayer1.Session(dir);
      // A name per insert: several units' inserts run at once, each on its own registered table.
      const name = `pevmeter_insert_${++inserts}`;
      chdbLayer1._arrowRegisterColumns(session.connection, name, arrowColumns(parts));
      try {
        const columns = ARROW_INSERT_COLUMNS.join(', ');
        await session.queryAsync(`INSERT INTO ${table} (${columns}) SELECT ${columns} FROM arrowstream('${name}')`);
      } finally {
        chdbLayer1._arrowUnregister(session.connection, name);
      }
    },
    rawInsert: async (table, columns, payload, settings) => {
      await chdb.chdb.rawInsert({ table, columns, values: payload, format: 'TabSeparated', settings });
    },
    release: () => {
      if (released || embedded === undefined) return;
      released = true;
      session?.close();
      embedded.refs -= 1;
      if (embedded.refs <= 0) embedded = undefined;
    },
  };
}

function openHttp(options: Extract<StoreOptions, { kind: 'http' }>): { client: ClickHouseClient; secrets: string[] } {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new ConfigError(`store url ${JSON.stringify(options.url.replace(/\/\/[^@/]*@/, '//***@'))} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`store url: protocol ${url.protocol} is not http: or https:`);
  }
  // Credentials in the URL are accepted but removed from it, so the URL the client keeps (and
  // may print) never carries the password. The URL's user is the user: one given both there and
  // as store.username must be the same one, or one user's password would go out as another's.
  const { username, password, urlPassword } = credentialsOf(url, options);
  url.username = '';
  url.password = '';
  let ca: Buffer | undefined;
  if (options.caCertPath !== undefined) {
    try {
      ca = readFileSync(options.caCertPath);
    } catch (err) {
      throw new ConfigError(`store caCertPath ${JSON.stringify(options.caCertPath)}: ${(err as Error).message}`);
    }
  }
  if (!Number.isInteger(options.requestTimeoutMs) || options.requestTimeoutMs <= 0) {
    throw new ConfigError(`store requestTimeoutMs must be a positive integer, got ${String(options.requestTimeoutMs)}`);
  }
  const client = createClient({
    url: url.toString(),
    username,
    password,
    request_timeout: options.requestTimeoutMs,
    // No compression either way: TSV inserts on a LAN are CPU-bound, not bandwidth-bound; and a
    // response-compression setting is refused for read-only users. No `database`: it may not exist
    // before migrate(), and every statement names `{db}.table` anyway. No session: the HTTP
    // interface is stateless here, which is what lets a restarted server carry on.
    compression: { request: false, response: false },
    log: { level: ClickHouseLogLevel.OFF },
    ...(ca === undefined ? {} : { tls: { ca_cert: ca } }),
  });
  // The URL's password as written is scrubbed too: a server may echo it still %-encoded.
  return { client, secrets: [password, urlPassword] };
}

/**
 * The user and password to send. The URL's user wins over the default (`default`); a URL user
 * or password that contradicts store.username or store.password is a configuration error.
 */
export function credentialsOf(url: URL, options: { username: string; password: string }): { username: string; password: string; urlPassword: string } {
  let urlUser: string;
  let urlPassword: string;
  try {
    urlUser = decodeURIComponent(url.username);
    urlPassword = decodeURIComponent(url.password);
  } catch {
    throw new ConfigError('store url: the user info has a malformed %-escape');
  }
  if (urlUser !== '' && options.username !== '' && options.username !== urlUser) {
    throw new ConfigError(
      `store url names user ${JSON.stringify(urlUser)} and store.username (--clickhouse-user, PEVMETER_CLICKHOUSE_USER) names ${JSON.stringify(options.username)}: give the user once`,
    );
  }
  if (urlPassword !== '' && options.password !== '' && options.password !== urlPassword) {
    throw new ConfigError('store url carries a password and store.password (PEVMETER_CLICKHOUSE_PASSWORD) another one: give the password once');
  }
  const username = urlUser !== '' ? urlUser : options.username !== '' ? options.username : 'default';
  return { username, password: options.password !== '' ? options.password : urlPassword, urlPassword: url.password };
}

/**
 * Opens a store. Nothing is created until `migrate()`; an HTTP store does not contact the server
 * here, so a server that is down at start surfaces as a retryable error from `migrate()`.
 */
// async so that a configuration error rejects the promise instead of throwing synchronously.
// eslint-disable-next-line @typescript-eslint/require-await
export async function openStore(options: StoreOptions): Promise<Store> {
  return open(options);
}

function open(options: StoreOptions): Store {
  const db = options.database;
  if (!isIdentifier(db)) {
    throw new ConfigError(`store database ${JSON.stringify(db)} must be an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 characters)`);
  }
  let client: ClickHouseClient;
  let secrets: string[] = [];
  let release = (): void => {};
  let rawInsert: Embedded['rawInsert'] | undefined;
  let insertColumns: Embedded['insertColumns'] | undefined;
  if (options.kind === 'embedded') {
    ({ client, release, rawInsert, insertColumns } = openEmbedded(options.path));
  } else {
    ({ client, secrets } = openHttp(options));
  }
  const kind = options.kind;
  let closed = false;

  const store: Store = {
    database: db,
    kind,
    client,
    scrub: (text) => scrubSecrets(text, secrets),
    migrate(): Promise<MigrationResult> {
      return runMigrations(client, db, secrets);
    },
    insertTsv(table: RawTable, chunks: readonly Uint8Array[]): Promise<void> {
      const columns = (INSERT_COLUMNS as Partial<Record<string, readonly string[]>>)[table];
      if (columns === undefined) {
        return Promise.reject(new StoreError('PEV_STORE_REJECTED', `insert into ${db}.${String(table)}: not a raw table`, false));
      }
      return store.insertTsvColumns(table, columns, chunks);
    },
    async insertTsvColumns(table: string, columns: readonly string[], chunks: readonly Uint8Array[], settings: InsertSettings = {}): Promise<void> {
      if (!isIdentifier(table) || !columns.every(isIdentifier) || columns.length === 0) {
        throw new StoreError('PEV_STORE_REJECTED', `insert into ${db}.${JSON.stringify(table)}: table and columns must be identifiers`, false);
      }
      let bytes = 0;
      for (const c of chunks) bytes += c.byteLength;
      if (bytes === 0) return;
      try {
        if (rawInsert !== undefined) {
          // One contiguous buffer, handed over without a copy into a JS string (client.insert on
          // chDB would decode every chunk to a string and splice it into the SQL text).
          await rawInsert(`${db}.${table}`, columns, Buffer.concat(chunks), settings);
        } else {
          // The HTTP client streams the chunks as they are.
          await client.insert({
            table: `${db}.${table}`,
            values: Readable.from(chunks, { objectMode: false }),
            format: 'TabSeparated',
            columns: [...columns] as [string, ...string[]],
            ...(Object.keys(settings).length > 0 ? { clickhouse_settings: settings } : {}),
          });
        }
      } catch (err) {
        throw toStoreError(err, `insert of ${bytes} bytes into ${db}.${table}`, secrets);
      }
    },
    ...(insertColumns === undefined ? {} : {
      async insertIntervalColumns(parts: readonly IntervalColumnsPart[]): Promise<void> {
        let rows = 0;
        for (const p of parts) rows += p.rows;
        if (rows === 0) return;
        try {
          await insertColumns(`${db}.interval_raw`, parts);
        } catch (err) {
          throw toStoreError(err, `insert of ${rows} rows as columns into ${db}.interval_raw`, secrets);
        }
      },
    }),
    async select<T>(query: string, params?: Record<string, unknown>): Promise<T[]> {
      const sql = query.replaceAll('{db}', db);
      try {
        const rs = await client.query({
          query: sql,
          format: 'JSONEachRow',
          // chDB defaults to unquoted 64-bit integers (lossy above 2^53); servers default to
          // quoted, and a readonly=1 user may not change settings, so only chDB is told.
          ...(kind === 'embedded' ? { clickhouse_settings: { output_format_json_quote_64bit_integers: 1 } } : {}),
          ...(params !== undefined && Object.keys(params).length > 0 ? { query_params: params } : {}),
        });
        return await rs.json<T>();
      } catch (err) {
        const head = sql.replace(/\s+/g, ' ').trim().slice(0, 120);
        throw toStoreError(err, `select on ${db} (${head})`, secrets);
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      try {
        await client.close();
      } finally {
        release();
      }
    },
  };
  return store;
}

/** The store options a resolved configuration asks for. */
export function storeOptionsOf(cfg: Config): StoreOptions {
  const s = cfg.store;
  if (s.kind === 'embedded') return { kind: 'embedded', path: s.path, database: s.database };
  const o: StoreOptions = { kind: 'http', url: s.url, username: s.username, password: s.password, database: s.database, requestTimeoutMs: s.requestTimeoutMs };
  if (s.caCertPath) o.caCertPath = s.caCertPath;
  return o;
}
