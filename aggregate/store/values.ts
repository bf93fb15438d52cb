/**
 * Normalizing values read back with `Store.select`. 64-bit integers (Int64/UInt64 columns, and
 * `sum()`/`count()` results, which are 64-bit) arrive as strings: the embedded store asks chDB for
 * quoted output (`output_format_json_quote_64bit_integers = 1`, otherwise lossy above 2^53, e.g. a
 * UInt64 content hash), and servers quote them by default. 8- to 32-bit integers arrive as numbers.
 * A server configured not to quote returns numbers. Pass any of these through `toInt` (or
 * `toBigInt` for values that may exceed 2^53).
 */
import { PevmeterError } from '../../schemas/errors.js';

/** An integer column value as a JS number; throws when it is not an integer or not exactly representable. */
export function toInt(v: unknown): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'bigint') n = Number(v);
  else if (typeof v === 'string' && /^-?\d+$/.test(v)) n = Number(v);
  else throw new PevmeterError('PEV_STORE_REJECTED', `toInt: ${JSON.stringify(v)} is not an integer`);
  if (!Number.isSafeInteger(n)) {
    throw new PevmeterError('PEV_STORE_REJECTED', `toInt: ${String(v)} is beyond 2^53; read it with toBigInt`);
  }
  return n;
}

/** An integer column value as a bigint, exact for every UInt64/Int64 (hashes, arrival ranks). */
export function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  throw new PevmeterError('PEV_STORE_REJECTED', `toBigInt: ${JSON.stringify(v)} is not an exact integer`);
}
