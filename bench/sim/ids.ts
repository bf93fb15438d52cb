/**
 * Identifiers for simulated premises, devices and vehicles, in the formats validation expects
 * (see the briefing): premise 'P' + 9 digits, account 'A' + 9 digits, 'ESCI-'/'EUMD-' + 8 upper-case
 * hex digits, VIN 17 characters of [A-HJ-NPR-Z0-9].
 *
 * Every ID is a bijection of an index (an affine permutation of the ID space), so IDs look random
 * yet never collide, without a set of the IDs already issued.
 */
import { ConfigError } from '../../schemas/errors.js';
import type { Rng } from './random.js';

/** Largest index any ID function accepts: keeps a * i below 2^53 in the decimal permutations. */
export const MAX_ID_INDEX = 5_000_000;

function checkIndex(i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= MAX_ID_INDEX) throw new ConfigError(`ID index ${i} is outside [0, ${MAX_ID_INDEX})`);
}

/** Multiplier coprime with 10^9 (odd, not a multiple of 5), below 10^9. */
function decimalMultiplier(rng: Rng): number {
  for (;;) {
    const a = rng.int(100_000_001, 999_999_999);
    if (a % 2 !== 0 && a % 5 !== 0) return a;
  }
}

export class IdFactory {
  private readonly premiseA: number;
  private readonly premiseB: number;
  private readonly accountA: number;
  private readonly accountB: number;
  private readonly esciA: number;
  private readonly esciB: number;
  private readonly eumdA: number;
  private readonly eumdB: number;
  private readonly vinA: number;
  private readonly vinB: number;

  constructor(rng: Rng) {
    this.premiseA = decimalMultiplier(rng);
    this.premiseB = rng.int(0, 999_999_999);
    this.accountA = decimalMultiplier(rng);
    this.accountB = rng.int(0, 999_999_999);
    // Odd multipliers are invertible modulo 2^32.
    this.esciA = rng.u32() | 1;
    this.esciB = rng.u32();
    this.eumdA = rng.u32() | 1;
    this.eumdB = rng.u32();
    // Its last digit is 1, 3, 7 or 9, so it stays coprime with 10^6 after the modulo.
    this.vinA = decimalMultiplier(rng) % 1_000_000;
    this.vinB = rng.int(0, 999_999);
  }

  premiseId(i: number): string {
    checkIndex(i);
    return 'P' + String((this.premiseA * i + this.premiseB) % 1_000_000_000).padStart(9, '0');
  }

  accountId(i: number): string {
    checkIndex(i);
    return 'A' + String((this.accountA * i + this.accountB) % 1_000_000_000).padStart(9, '0');
  }

  esciId(i: number): string {
    return 'ESCI-' + ((Math.imul(this.esciA, i) + this.esciB) >>> 0).toString(16).toUpperCase().padStart(8, '0');
  }

  eumdId(i: number): string {
    return 'EUMD-' + ((Math.imul(this.eumdA, i) + this.eumdB) >>> 0).toString(16).toUpperCase().padStart(8, '0');
  }

  /**
   * A VIN that is unique per index: the plant code (position 11) and the 6-digit serial carry the
   * index, the rest is drawn from `rng` (a real manufacturer prefix, model-year letter, and the
   * ISO 3779 check digit in position 9, so a strict validator accepts it too).
   */
  vin(i: number, rng: Rng): string {
    checkIndex(i);
    const serial = (this.vinA * (i % 1_000_000) + this.vinB) % 1_000_000;
    const plant = VIN_CHARS[Math.floor(i / 1_000_000)] ?? 'Z';
    let body = rng.choice(WMIS);
    for (let k = 0; k < 5; k++) body += rng.choice(VIN_LETTERS_DIGITS);
    const year = rng.choice(MODEL_YEARS);
    const vin = body + '0' + year + plant + String(serial).padStart(6, '0');
    return vin.slice(0, 8) + vinCheckDigit(vin) + vin.slice(9);
  }
}

/** The VIN alphabet: digits and upper-case letters without I, O and Q. */
export const VIN_CHARS = '0123456789ABCDEFGHJKLMNPRSTUVWXYZ';
const VIN_LETTERS_DIGITS = [...VIN_CHARS];
/** World manufacturer identifiers of makes that sell plug-in vehicles in the US. */
const WMIS = ['5YJ', '7SA', '1N4', 'KNM', 'KM8', '1G1', '3FM', 'WBY', 'WVG', 'JTM', '1FT', '7FC'];
/** Model-year codes 2018-2026. */
const MODEL_YEARS = ['J', 'K', 'L', 'M', 'N', 'P', 'R', 'S', 'T'];

const TRANSLITERATION: Record<string, number> = {
  A: 1, B: 2, C: 3, D: 4, E: 5, F: 6, G: 7, H: 8, J: 1, K: 2, L: 3, M: 4, N: 5, P: 7, R: 9,
  S: 2, T: 3, U: 4, V: 5, W: 6, X: 7, Y: 8, Z: 9,
};
const WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];

/** ISO 3779 / 49 CFR 565 check digit of a 17-character VIN ('X' stands for 10). */
export function vinCheckDigit(vin: string): string {
  let sum = 0;
  for (let k = 0; k < 17; k++) {
    const c = vin[k] ?? '0';
    const v = c >= '0' && c <= '9' ? c.charCodeAt(0) - 48 : (TRANSLITERATION[c] ?? 0);
    sum += v * (WEIGHTS[k] ?? 0);
  }
  const r = sum % 11;
  return r === 10 ? 'X' : String(r);
}
