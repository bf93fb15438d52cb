/**
 * A small seeded PRNG for the fleet simulator: sfc32 (Chris Doty-Humphrey's Small Fast Counting
 * generator, 128-bit state, period at least 2^32, passes PractRand to many terabytes), seeded
 * through cyrb128 so any string or number gives a well-mixed state. Written here rather than taken
 * from a package because the simulator's promise is byte-identical output for a seed forever:
 * the sequence must never change under us with a dependency upgrade.
 *
 * Same seed => same sequence. `fork(label)` derives an independent generator from this one's seed
 * and a label without consuming from this one, so the values of one session or premise do not
 * depend on how many numbers were drawn for the others.
 */

/**
 * cyrb128: hashes a string to four 32-bit words (a seed for sfc32). Not shared with the billing
 * digest (reconcile/billing.ts): changing either would change every fleet or every stored digest.
 */
function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

const TWO_POW_32 = 4294967296;

export class Rng {
  /** The seed text this generator was made from; forks extend it. */
  readonly seed: string;
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** Box-Muller makes normals in pairs; the second one waits here. */
  private spare = NaN;

  constructor(seed: number | string) {
    this.seed = String(seed);
    [this.a, this.b, this.c, this.d] = cyrb128(this.seed);
    // sfc32 wants a few rounds to spread a weak seed over the whole state.
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A generator for `label`, independent of this one's position in its sequence. */
  fork(...label: (string | number)[]): Rng {
    return new Rng(this.seed + '/' + label.join('/'));
  }

  /** Next unsigned 32-bit integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  float(): number {
    return this.u32() / TWO_POW_32;
  }

  /** Uniform in [min, max). */
  range(min: number, max: number): number {
    return min + (max - min) * this.float();
  }

  /**
   * Uniform integer in [min, max], both inclusive. Multiply-shift on 32 bits: the bias is below
   * (max - min + 1) / 2^32, far under anything a simulation could notice.
   */
  int(min: number, max: number): number {
    if (!Number.isInteger(min) || !Number.isInteger(max) || max < min) {
      throw new RangeError(`Rng.int: expected integers min <= max, got ${min}, ${max}`);
    }
    return min + Math.floor(this.float() * (max - min + 1));
  }

  /** Normal deviate (Box-Muller). */
  normal(mean = 0, sd = 1): number {
    if (!Number.isNaN(this.spare)) {
      const z = this.spare;
      this.spare = NaN;
      return mean + sd * z;
    }
    // 1 - float() is in (0, 1], so the logarithm is finite.
    const u = 1 - this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.float() < p;
  }

  /** One element, uniformly. */
  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Rng.choice: empty list');
    return items[Math.floor(this.float() * items.length)] as T;
  }

  /** One element, with probability proportional to its weight. */
  weighted<T>(items: readonly T[], weights: readonly number[]): T {
    let total = 0;
    for (const w of weights) total += w;
    let x = this.float() * total;
    for (let i = 0; i < items.length; i++) {
      x -= weights[i] ?? 0;
      if (x < 0) return items[i] as T;
    }
    return items[items.length - 1] as T;
  }

  /** Fisher-Yates, in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.float() * (i + 1));
      const x = items[i] as T;
      items[i] = items[j] as T;
      items[j] = x;
    }
    return items;
  }

  /** `digits` hexadecimal digits, lower case. */
  hex(digits: number): string {
    let out = '';
    while (out.length < digits) out += this.u32().toString(16).padStart(8, '0');
    return out.slice(0, digits);
  }
}
