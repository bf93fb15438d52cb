/**
 * Maps whatever `@clickhouse/client` (HTTP or chDB) throws to a StoreError whose `retryable` decides
 * between pausing consumption and halting. The rule: if the same insert can succeed later without a
 * human changing anything (server back up, merges caught up, memory freed), it is retryable;
 * if the server understood the request and refused it (bad credentials, missing table, read-only
 * user, malformed rows), retrying would loop forever, so it is not.
 */
import { PevmeterError } from '../../schemas/errors.js';
import { scrubSecrets } from '../../schemas/scrub.js';

/** The store failed a write. `retryable` decides between pausing and halting. */
export class StoreError extends PevmeterError {
  constructor(code: 'PEV_STORE_UNAVAILABLE' | 'PEV_STORE_REJECTED' | 'PEV_STORE_LOCKED', message: string, retryable: boolean, cause?: unknown) {
    super(code, message, { retryable, cause });
    this.name = 'StoreError';
  }
}

/**
 * ClickHouse error codes that mean "try again later". The list follows ClickHouse's own Kafka
 * Connect sink (its retriable codes), minus READONLY (164): a read-only user is a configuration
 * mistake that no retry fixes.
 */
const RETRYABLE_CODES = new Set([
  3, // UNEXPECTED_END_OF_FILE: the connection was cut mid-request
  32, // ATTEMPT_TO_READ_AFTER_EOF
  159, // TIMEOUT_EXCEEDED
  160, // TOO_SLOW
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  203, // NO_FREE_CONNECTION
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  236, // ABORTED
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY (a replica lost its keeper session)
  252, // TOO_MANY_PARTS
  285, // TOO_FEW_LIVE_REPLICAS
  286, // UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE
  319, // UNKNOWN_STATUS_OF_INSERT
  394, // QUERY_WAS_CANCELLED (server shutting down)
  425, // SYSTEM_ERROR
  439, // CANNOT_SCHEDULE_TASK
  999, // KEEPER_EXCEPTION
]);

/** Socket-level failures: the server is down, restarting, or the network dropped the connection. */
const NETWORK_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

const TRANSIENT_TEXT = /too many parts|memory limit|timeout error|socket hang up|connection (reset|refused)|server is shutting down/i;

/**
 * The ClickHouse error code in a message. Two shapes exist: `Code: 60. DB::Exception: ...` (19.x
 * and later, chDB) and `Code: 60, e.displayText() = DB::Exception: ...` (18.16, which the client's
 * own parser does not recognise, so `err.code` is missing there).
 */
export function clickhouseCode(err: unknown): number | undefined {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
    if (typeof code === 'number') return code;
    const m = /\bCode: (\d+)[.,]/.exec(err.message);
    if (m?.[1] !== undefined) return Number(m[1]);
  }
  return undefined;
}

function errnoOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_ERRNOS.has(code)) return code;
  }
  return undefined;
}

/** Whether the failure is worth retrying unchanged. Exported for the tests and for callers' metrics. */
export function isRetryable(err: unknown): boolean {
  if (errnoOf(err) !== undefined) return true;
  const code = clickhouseCode(err);
  if (code !== undefined) return RETRYABLE_CODES.has(code);
  const message = err instanceof Error ? err.message : String(err);
  if (TRANSIENT_TEXT.test(message)) return true;
  // No ClickHouse code and no socket error: a proxy or load balancer in front of the server
  // answered with its own error page (502/503/504). That passes once the server is back.
  return /<html|\b50[234]\b|bad gateway|service unavailable|gateway time-?out/i.test(message);
}

/**
 * A StoreError for a failed operation. `what` names the operation and table
 * (e.g. `insert into pevmeter.interval_raw`); credentials (`secrets`, in every form, and any
 * URL password or auth header a server echoed) are scrubbed from every text kept.
 */
export function toStoreError(err: unknown, what: string, secrets: readonly (string | undefined)[] | ((text: string) => string) = []): StoreError {
  if (err instanceof StoreError) return err;
  const retryable = isRetryable(err);
  const errno = errnoOf(err);
  const code = clickhouseCode(err);
  const raw = err instanceof Error ? err.message : String(err);
  // 18.16 appends `, e.what() = DB::Exception`; the first line carries the reason.
  const clean = typeof secrets === 'function' ? secrets(raw) : scrubSecrets(raw, secrets);
  let reason = clean.split('\n')[0]?.replace(/, e\.what\(\) = DB::Exception\s*$/, '').trim() ?? '';
  if (reason.length > 500) reason = reason.slice(0, 500) + '...';
  if (code !== undefined && !/\bCode: \d+/.test(reason)) {
    // The client already parsed `Code: N ... (TYPE)` out of the text: put both back for the reader.
    const type = (err as { type?: unknown }).type;
    reason = `Code: ${code}${typeof type === 'string' ? ` (${type})` : ''}. ${reason}`;
  }
  if (code === 115 && /param_/.test(raw)) {
    reason += ' (this server predates query parameters; use a ClickHouse release with {name:Type} parameters for parameterized reads)';
  }
  const detail = errno !== undefined && !reason.includes(errno) ? `${errno}: ${reason}` : reason;
  const message = `${what} failed (${retryable ? 'retryable' : 'not retryable'}): ${detail}`;
  // The cause keeps the code and errno for debugging but never the unredacted text.
  const cause = Object.assign(new Error(clean), {
    ...(code === undefined ? {} : { clickhouseCode: code }),
    ...(errno === undefined ? {} : { errno }),
  });
  return new StoreError(retryable ? 'PEV_STORE_UNAVAILABLE' : 'PEV_STORE_REJECTED', message, retryable, cause);
}
