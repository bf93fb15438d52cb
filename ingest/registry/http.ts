/**
 * A Confluent-compatible Schema Registry over HTTP (Confluent Schema Registry, Apicurio's
 * /apis/ccompat/v7, Redpanda, Karapace), through one undici Pool with keep-alive.
 *
 *   GET  {url}/schemas/ids/{id}              200 {"schema": "<json text>", "schemaType"?: "AVRO", ...}
 *                                            404 {"error_code": 40403, "message": "Schema not found"}
 *   POST {url}/subjects/{subject}/versions   {"schema": "<json text>"} -> 200 {"id": N}
 *
 * Outcomes of a lookup, and what the caller does with them:
 *   schema text         parsed once here (avsc) so garbage never reaches the workers; cached
 *                       forever (an ID names one schema for the registry's lifetime)
 *   null                404 with error_code 40403, or a schema that is not Avro: records that
 *                       use the ID are dead-lettered PEV_UNKNOWN_SCHEMA. Cached briefly, in case
 *                       the registry was being restored.
 *   RegistryError       PEV_REGISTRY_UNAVAILABLE (connection refused or reset, timeout, 408, 429,
 *                       5xx) after bounded retries with exponential backoff and full jitter;
 *                       PEV_REGISTRY_RESPONSE (HTTP 200 that is no schema, 401/403, a 404 without
 *                       40403, which is what a wrong base URL looks like). Both retryable: the
 *                       caller pauses consumption and tries again later; nothing is dead-lettered.
 *
 * Credentials (basic auth from the options or from the URL's user info, or a bearer token) go
 * into one Authorization header built at construction; no message, error or callback argument
 * ever contains them or the URL's user info.
 */
import { Pool } from 'undici';
import { ConfigError, RegistryError } from '../../schemas/errors.js';
import type { RegistryErrorCode } from '../../schemas/errors.js';
import { localSchemas, parseSchema } from '../../schemas/index.js';
import type { ResolvedSchema, SchemaResolver } from './types.js';

export interface HttpRegistryOptions {
  /** Base URL, path prefix included, e.g. http://127.0.0.1:8081 or http://host/apis/ccompat/v7. */
  url: string;
  /** Basic auth user (with password). User info in the URL does the same. */
  username?: string;
  password?: string;
  /** Bearer token; exclusive with basic auth. */
  token?: string;
  /** Connect, headers and body timeout of one attempt, ms (default 5000). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 4). */
  retries?: number;
  /** First backoff, ms (default 200); doubles per retry, capped by maxBackoffMs (default 5000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Keep-alive connections to the registry (default 4). */
  connections?: number;
  /**
   * Largest answer body read, bytes (default 4 MiB, DEFAULT_MAX_RESPONSE_BYTES). A larger one is
   * PEV_REGISTRY_TOO_LARGE: read no further than the limit, the connection dropped, and not
   * retried at once, so a registry that serves 300 MB costs at most this much per attempt.
   */
  maxResponseBytes?: number;
  /** How long a "does not exist" answer is cached, ms (default 30000). */
  notFoundCacheMs?: number;
  /** Told about every retry (for a log line); never given credentials. */
  onRetry?: (event: RetryEvent) => void;
  /** Jitter source in [0, 1) (tests pass a constant). */
  random?: () => number;
}

export interface RetryEvent {
  what: string;
  attempt: number;
  delayMs: number;
  code: RegistryErrorCode;
  message: string;
}

interface Failure {
  fail: true;
  code: RegistryErrorCode;
  message: string;
  /** Worth another attempt now (a server restarting, a proxy's error page)? */
  retry: boolean;
}

function failure(code: Failure['code'], message: string, retry: boolean): Failure {
  return { fail: true, code, message, retry };
}

function isFailure(v: unknown): v is Failure {
  return typeof v === 'object' && v !== null && (v as { fail?: unknown }).fail === true;
}

/** Our schemas are a few KiB; the largest real-world Avro schemas are well under a MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** The body as text, or undefined once it passes `max` bytes (the rest is never read). */
async function readBounded(body: AsyncIterable<Buffer> & { destroy(): unknown }, max: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > max) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

function positiveInt(name: string, v: number | undefined, dflt: number, min = 0): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < min) throw new ConfigError(`registry.${name} must be an integer >= ${min}; got ${String(v)}`);
  return v;
}

/** HTTP plumbing shared by lookups and registration: auth, timeouts, retries. */
export class RegistryHttp {
  /** The URL without user info or query: safe to print. */
  readonly endpoint: string;
  private readonly prefix: string;
  private readonly pool: Pool;
  private readonly headers: Record<string, string>;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly onRetry: ((e: RetryEvent) => void) | undefined;
  private readonly random: () => number;

  constructor(options: HttpRegistryOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new ConfigError('registry.url is not a URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`registry.url must be http: or https:; got ${url.protocol}`);
    this.timeoutMs = positiveInt('timeoutMs', options.timeoutMs, 5000, 1);
    this.retries = positiveInt('retries', options.retries, 4);
    this.backoffMs = positiveInt('backoffMs', options.backoffMs, 200);
    this.maxBackoffMs = positiveInt('maxBackoffMs', options.maxBackoffMs, 5000);
    const connections = positiveInt('connections', options.connections, 4, 1);
    this.maxResponseBytes = positiveInt('maxResponseBytes', options.maxResponseBytes, DEFAULT_MAX_RESPONSE_BYTES, 1);
    this.headers = { accept: 'application/vnd.schemaregistry.v1+json, application/json' };
    const urlUser = url.username ? decodeURIComponent(url.username) : undefined;
    const urlPassword = url.password ? decodeURIComponent(url.password) : undefined;
    // Credentials given twice must agree, or one user's password would go out as another's.
    if (urlUser !== undefined && options.username !== undefined && options.username !== urlUser) {
      throw new ConfigError('registry.url names a user and registry.username another: give the user once');
    }
    if (urlPassword !== undefined && options.password !== undefined && options.password !== urlPassword) {
      throw new ConfigError('registry.url carries a password and registry.password another: give the password once');
    }
    const user = urlUser ?? options.username;
    const password = options.password ?? urlPassword;
    if (options.token !== undefined && user !== undefined) throw new ConfigError('registry.token and registry.username are exclusive: use one kind of credentials');
    if (options.token !== undefined) {
      if (!options.token) throw new ConfigError('registry.token is empty');
      this.headers['authorization'] = `Bearer ${options.token}`;
    } else if (user !== undefined) {
      if (password === undefined) throw new ConfigError('registry.username needs registry.password');
      this.headers['authorization'] = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    }
    this.prefix = url.pathname.replace(/\/+$/, '');
    this.endpoint = `${url.protocol}//${url.host}${this.prefix}`;
    this.onRetry = options.onRetry;
    this.random = options.random ?? Math.random;
    this.pool = new Pool(url.origin, {
      connections,
      keepAliveTimeout: 30_000,
      connectTimeout: this.timeoutMs,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
  }

  /**
   * One logical call: attempts until `interpret` accepts the answer, a failure is final, or the
   * retries are spent. Throws RegistryError.
   */
  async call<T>(
    what: string, method: 'GET' | 'POST', path: string, body: string | undefined,
    interpret: (status: number, text: string) => T | Failure,
  ): Promise<T> {
    let last: Failure = failure('PEV_REGISTRY_UNAVAILABLE', 'no attempt made', false);
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      let outcome: T | Failure;
      try {
        const headers = body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/vnd.schemaregistry.v1+json' };
        // undici's own timeouts tick at about one second; the signal bounds an attempt exactly.
        const res = await this.pool.request({ method, path: this.prefix + path, headers, body: body ?? null, signal: AbortSignal.timeout(this.timeoutMs) });
        const declared = Number(res.headers['content-length']);
        const text = declared > this.maxResponseBytes ? undefined : await readBounded(res.body, this.maxResponseBytes);
        if (text === undefined) {
          res.body.destroy();
          const size = Number.isFinite(declared) ? `${declared} bytes` : 'more';
          outcome = failure('PEV_REGISTRY_TOO_LARGE', `registry at ${this.endpoint} answered HTTP ${res.statusCode} with ${size}; the limit is ${this.maxResponseBytes} bytes (registry.maxResponseBytes)`, false);
        } else {
          outcome = interpret(res.statusCode, text);
        }
      } catch (err) {
        const why = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : networkText(err);
        outcome = failure('PEV_REGISTRY_UNAVAILABLE', `cannot reach the registry at ${this.endpoint}: ${why}`, true);
      }
      if (!isFailure(outcome)) return outcome;
      last = outcome;
      if (!outcome.retry || attempt === this.retries) break;
      const cap = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** attempt);
      const delayMs = Math.floor(this.random() * cap);
      this.onRetry?.({ what, attempt: attempt + 1, delayMs, code: outcome.code, message: outcome.message });
      await new Promise((r) => setTimeout(r, delayMs));
    }
    throw new RegistryError(last.code, `${what}: ${last.message}`);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Error text of a failed request: the undici code and message, which carry neither headers nor user info. */
function networkText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const cause = (err as { cause?: { code?: unknown } }).cause?.code;
  return [typeof code === 'string' ? code : undefined, typeof cause === 'string' ? cause : undefined, err.message]
    .filter((x): x is string => x !== undefined && x !== '').join(': ');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function snippet(text: string): string {
  return JSON.stringify(text.length > 80 ? text.slice(0, 80) + '...' : text);
}

/** Reading an HTTP status that is not 200, for any call. */
function statusFailure(status: number, text: string, endpoint: string): Failure {
  if (status === 408 || status === 429 || status >= 500) {
    return failure('PEV_REGISTRY_UNAVAILABLE', `registry at ${endpoint} answered HTTP ${status}`, true);
  }
  if (status === 401 || status === 403) {
    return failure('PEV_REGISTRY_RESPONSE', `registry at ${endpoint} refused the request (HTTP ${status}); check registry.username/password or registry.token`, false);
  }
  return failure('PEV_REGISTRY_RESPONSE', `registry at ${endpoint} answered HTTP ${status}: ${snippet(text)}`, false);
}

export class HttpSchemaResolver implements SchemaResolver {
  readonly http: RegistryHttp;
  private readonly cache = new Map<number, { value: ResolvedSchema | null; until: number }>();
  private readonly inflight = new Map<number, Promise<ResolvedSchema | null>>();
  private readonly notFoundCacheMs: number;
  /** Requests sent (tests: a cache hit sends none). */
  requests = 0;

  constructor(options: HttpRegistryOptions) {
    this.http = new RegistryHttp(options);
    this.notFoundCacheMs = positiveInt('notFoundCacheMs', options.notFoundCacheMs, 30_000);
  }

  async resolve(ids: readonly number[]): Promise<Map<number, ResolvedSchema | null>> {
    const out = new Map<number, ResolvedSchema | null>();
    const waits: Promise<void>[] = [];
    const now = Date.now();
    for (const id of new Set(ids)) {
      const hit = this.cache.get(id);
      if (hit && hit.until > now) {
        out.set(id, hit.value);
        continue;
      }
      waits.push(this.lookup(id).then((v) => void out.set(id, v)));
    }
    await Promise.all(waits);
    return out;
  }

  private lookup(id: number): Promise<ResolvedSchema | null> {
    let p = this.inflight.get(id);
    if (!p) {
      p = this.fetch(id).finally(() => this.inflight.delete(id));
      this.inflight.set(id, p);
    }
    return p;
  }

  private async fetch(id: number): Promise<ResolvedSchema | null> {
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) return null;
    const endpoint = this.http.endpoint;
    const value = await this.http.call(`schema ${id}`, 'GET', `/schemas/ids/${id}`, undefined, (status, text): ResolvedSchema | null | Failure => {
      this.requests++;
      const json = parseJson(text) as { schema?: unknown; schemaType?: unknown; error_code?: unknown } | undefined;
      if (status === 404) {
        if (json?.error_code === 40403) return null;
        return failure('PEV_REGISTRY_RESPONSE', `registry at ${endpoint} answered 404 without error_code 40403 (is registry.url the API root?): ${snippet(text)}`, false);
      }
      if (status !== 200) return statusFailure(status, text, endpoint);
      if (typeof json !== 'object' || json === null || typeof json.schema !== 'string') {
        return failure('PEV_REGISTRY_RESPONSE', `registry at ${endpoint} answered HTTP 200 without a schema: ${snippet(text)}`, true);
      }
      // A Protobuf or JSON Schema under this ID is, for an Avro topic, no schema at all.
      if (json.schemaType !== undefined && json.schemaType !== 'AVRO') return null;
      try {
        parseSchema(json.schema);
      } catch (err) {
        return failure('PEV_REGISTRY_RESPONSE', `schema ${id} from ${endpoint} does not parse as Avro: ${err instanceof Error ? err.message : String(err)}`, true);
      }
      return { id, text: json.schema };
    });
    this.cache.set(id, { value, until: value === null ? Date.now() + this.notFoundCacheMs : Infinity });
    return value;
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

/**
 * Registers every schema of schemas/subjects.json under its subject (tests, the simulator).
 * Registration is idempotent in Confluent-compatible registries: the same schema text under the
 * same subject answers with the ID it already has. The registry assigns IDs; they equal the
 * local IDs only in a registry loaded with them (Confluent's IMPORT mode), so callers frame with
 * the returned `registryId`.
 */
export async function registerLocalSchemas(
  url: string, options: Omit<HttpRegistryOptions, 'url'> = {},
): Promise<{ subject: string; localId: number; registryId: number }[]> {
  const http = new RegistryHttp({ ...options, url });
  try {
    const out: { subject: string; localId: number; registryId: number }[] = [];
    for (const s of localSchemas()) {
      const registryId = await http.call(`register ${s.subject}`, 'POST', `/subjects/${encodeURIComponent(s.subject)}/versions`,
        JSON.stringify({ schema: s.text, schemaType: 'AVRO' }), (status, text): number | Failure => {
          if (status !== 200) return statusFailure(status, text, http.endpoint);
          const json = parseJson(text) as { id?: unknown } | undefined;
          if (typeof json?.id !== 'number') return failure('PEV_REGISTRY_RESPONSE', `registration answered HTTP 200 without an id: ${snippet(text)}`, false);
          return json.id;
        });
      out.push({ subject: s.subject, localId: s.id, registryId });
    }
    return out;
  } finally {
    await http.close();
  }
}
