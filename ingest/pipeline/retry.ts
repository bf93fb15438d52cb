/**
 * Retry with capped exponential backoff and full jitter, for failures that are worth waiting out
 * (a store or registry that is down). Never used for rejections: those halt or dead-letter.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PevmeterError } from '../../schemas/errors.js';

export interface RetryOptions {
  initialMs: number;
  maxMs: number;
  /** Stop retrying (and throw the last error) once this signal aborts. */
  signal?: AbortSignal;
  /** Called before each wait, with the error and the attempt number (from 1). */
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void;
  /** Give up after this many attempts; unlimited when absent (an outage may last). */
  maxAttempts?: number;
}

export function isRetryable(err: unknown): boolean {
  return err instanceof PevmeterError && err.retryable;
}

export async function retrying<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryable(err) || opts.signal?.aborted || (opts.maxAttempts !== undefined && attempt >= opts.maxAttempts)) throw err;
      const cap = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt - 1, 20));
      const waitMs = Math.round(cap / 2 + Math.random() * (cap / 2));
      opts.onRetry?.(err, attempt, waitMs);
      try {
        await sleep(waitMs, undefined, opts.signal ? { signal: opts.signal } : undefined);
      } catch {
        throw err;
      }
    }
  }
}
