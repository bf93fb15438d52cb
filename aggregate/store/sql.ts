/**
 * `pevmeter sql`: one query of the user's against the store, its answer streamed as ClickHouse
 * formats it. Read-only unless asked: the query runs with the ClickHouse setting `readonly = 1`,
 * so the engine itself refuses INSERT, ALTER, DROP, CREATE and any attempt to change a setting
 * (`SET readonly = 0`, `SETTINGS readonly = 0`); nothing here parses SQL to guess what it does.
 */
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PevmeterError } from '../../schemas/errors.js';
import { scrubSecrets } from '../../schemas/scrub.js';
import { clickhouseCode, isRetryable, toStoreError } from './errors.js';
import type { Store } from './types.js';

export interface UserSqlOptions {
  /** A ClickHouse output format (TabSeparatedWithNames, CSVWithNames, JSONEachRow, PrettyCompact...); a FORMAT clause in the query wins. */
  format: string;
  /** Run without `readonly`: the query may change data. */
  allowWrites?: boolean;
  out: Writable;
}

const FORMAT_NAME = /^[A-Za-z][A-Za-z0-9]*$/;
const READONLY = 164;
/** UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, IP_ADDRESS_NOT_ALLOWED, AUTHENTICATION_FAILED: the store's fault, not the query's. */
const AUTH_CODES = new Set([192, 193, 194, 195, 516]);

/**
 * The query as sent (trailing semicolons dropped) and its settings. The format goes as
 * `default_format`, not as an appended FORMAT clause: ClickHouse applies it to whatever produces
 * rows, a FORMAT in the query wins, and an INSERT ... VALUES is not turned into a bad insert
 * format. Both transports accept it beside `readonly` (HTTP checks a request's settings against
 * the user's before applying them; the chDB adapter turns default_format into its format option).
 */
export function userQuery(query: string, o: Pick<UserSqlOptions, 'format' | 'allowWrites'>): { query: string; settings: Record<string, string> } {
  if (!FORMAT_NAME.test(o.format)) throw new PevmeterError('PEV_INPUT', `--format: ${JSON.stringify(o.format)} is not a ClickHouse format name (TabSeparatedWithNames, CSVWithNames, JSONEachRow, PrettyCompact...)`);
  const q = query.replace(/[\s;]+$/, '');
  if (q === '') throw new PevmeterError('PEV_INPUT', 'the query is empty: give it as an argument or on stdin');
  return { query: q, settings: { default_format: o.format, ...(o.allowWrites === true ? {} : { readonly: '1' }) } };
}

/**
 * Runs the query and streams its answer to `o.out`. On the embedded store the chDB adapter applies
 * settings with SET on its one session, so `readonly` stays on until the store's last handle in
 * the process closes: `pevmeter sql` closes it right after; a caller that wants to write again
 * reopens the store.
 */
export async function runUserSql(store: Store, query: string, o: UserSqlOptions): Promise<void> {
  const q = userQuery(query, o);
  try {
    const rs = await store.client.exec({ query: q.query, clickhouse_settings: q.settings });
    await pipeline(rs.stream, o.out, { end: false });
  } catch (err) {
    if (err instanceof PevmeterError) throw err;
    const code = clickhouseCode(err);
    // The engine answered: the query itself is at fault (syntax, unknown table, a write refused).
    if (code !== undefined && !AUTH_CODES.has(code) && !isRetryable(err)) {
      const reason = (store.scrub ?? scrubSecrets)((err as Error).message.split('\n')[0] ?? '').trim().replace(/[.\s]+$/, '');
      const hint = code === READONLY ? '; pevmeter sql is read-only: add --allow-writes to change data' : '';
      throw new PevmeterError('PEV_INPUT', `the query was refused: ${reason}${hint}`, { cause: err });
    }
    throw toStoreError(err, 'sql', store.scrub ?? []);
  }
}
