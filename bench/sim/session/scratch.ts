/** Typed arrays reused from session to session, so building a session allocates little. */

/**
 * Typed arrays reused across sessions, by role: `f64('cum', n)` is a view of the first n elements
 * of a buffer that only grows. A view is valid until the next request for the same role.
 */
export class Scratch {
  private readonly f64s = new Map<string, Float64Array>();
  private readonly i32s = new Map<string, Int32Array>();
  private readonly u8s = new Map<string, Uint8Array>();

  f64(role: string, n: number): Float64Array {
    let a = this.f64s.get(role);
    if (!a || a.length < n) this.f64s.set(role, (a = new Float64Array(Math.max(n, 1024, (a?.length ?? 0) * 2))));
    return a.subarray(0, n);
  }

  i32(role: string, n: number): Int32Array {
    let a = this.i32s.get(role);
    if (!a || a.length < n) this.i32s.set(role, (a = new Int32Array(Math.max(n, 1024, (a?.length ?? 0) * 2))));
    return a.subarray(0, n);
  }

  u8(role: string, n: number): Uint8Array {
    let a = this.u8s.get(role);
    if (!a || a.length < n) this.u8s.set(role, (a = new Uint8Array(Math.max(n, 1024, (a?.length ?? 0) * 2))));
    return a.subarray(0, n);
  }
}
