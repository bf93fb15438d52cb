/**
 * TabSeparated text, written straight into a growable byte buffer: the store's insert format.
 *
 *   row    := field ( TAB field )* LF
 *   field  := decimal integer | text
 *   text   := UTF-8 with  \ -> \\   TAB -> \t   LF -> \n   CR -> \r   NUL -> \0   BS -> \b   FF -> \f
 *
 * ClickHouse's TabSeparated parser reads exactly these escapes. Numbers are written digit by digit:
 * no String() per field, no concatenation, no per-row allocation. Ingest's row writers
 * (ingest/decode/rows.ts) and reconcile's result rows both write through it.
 */
export const TAB = 9;
const LF = 10;
const MINUS = 45;
export const ZERO = 48;

/**
 * A byte buffer that grows by doubling. `bytes` and `buf` view the same ArrayBuffer (the Buffer
 * view only for Node's UTF-8 and base64 writers); the result hands out a view of the written part
 * whose ArrayBuffer can be transferred to another thread.
 */
export class TsvWriter {
  bytes: Uint8Array<ArrayBuffer>;
  buf: Buffer;
  len = 0;
  rows = 0;

  constructor(initialBytes = 64 * 1024) {
    this.bytes = new Uint8Array(new ArrayBuffer(Math.max(64, initialBytes)));
    this.buf = Buffer.from(this.bytes.buffer, 0, this.bytes.byteLength);
  }

  /** Makes room for `n` more bytes. Callers reserve an upper bound once per row, not per byte. */
  reserve(n: number): void {
    const need = this.len + n;
    if (need <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(new ArrayBuffer(size));
    next.set(this.bytes.subarray(0, this.len));
    this.bytes = next;
    this.buf = Buffer.from(next.buffer, 0, next.byteLength);
  }

  /** An ASCII string known to need no escaping (a validated ID, an enum symbol). Reserve first. */
  ascii(s: string): void {
    const b = this.bytes;
    let p = this.len;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.len = p;
  }

  /** Pre-encoded bytes (a per-batch origin prefix). Reserve first. */
  raw(src: Uint8Array): void {
    const b = this.bytes;
    let p = this.len;
    for (let i = 0; i < src.length; i++) b[p++] = src[i]!;
    this.len = p;
  }

  /** An integer of up to 2^53 in magnitude, in decimal. Reserve 17 bytes first. */
  int(value: number): void {
    let n = value;
    if (n < 0) {
      this.bytes[this.len++] = MINUS;
      n = -n;
    }
    if (n < 2_147_483_648) {
      this.small(n);
      return;
    }
    // Millisecond times and offsets: split into groups of 8 digits so every division is an
    // int32 division (a float division per digit costs about twice as much).
    const hi = Math.floor(n / 1e8);
    if (hi < 2_147_483_648) {
      this.small(hi);
    } else {
      const top = Math.floor(hi / 1e8);
      this.small(top);
      this.pad8(hi - top * 1e8);
    }
    this.pad8(n - hi * 1e8);
  }

  /** 0 <= n < 2^31. */
  private small(value: number): void {
    let n = value;
    const digits = n < 100_000
      ? (n < 100 ? (n < 10 ? 1 : 2) : n < 1000 ? 3 : n < 10_000 ? 4 : 5)
      : n < 10_000_000 ? (n < 1_000_000 ? 6 : 7) : n < 100_000_000 ? 8 : n < 1_000_000_000 ? 9 : 10;
    const b = this.bytes;
    let i = this.len + digits;
    this.len = i;
    while (n >= 10) {
      const q = (n / 10) | 0;
      b[--i] = ZERO + (n - q * 10);
      n = q;
    }
    b[--i] = ZERO + n;
  }

  /** 0 <= n < 10^8 as exactly 8 digits. */
  private pad8(value: number): void {
    let n = value;
    const b = this.bytes;
    let i = this.len + 8;
    this.len = i;
    for (let k = 0; k < 8; k++) {
      const q = (n / 10) | 0;
      b[--i] = ZERO + (n - q * 10);
      n = q;
    }
  }

  tab(): void {
    this.bytes[this.len++] = TAB;
  }

  /** One byte (a bracket or comma of an array field). Reserve first. */
  byte(b: number): void {
    this.bytes[this.len++] = b;
  }

  /** Ends a row. */
  end(): void {
    this.bytes[this.len++] = LF;
    this.rows++;
  }

  /** Free text, TSV-escaped and UTF-8 encoded. Off the hot path (reserves for itself). */
  text(s: string): void {
    const escaped = escapeTsv(s);
    this.reserve(Buffer.byteLength(escaped, 'utf8') + 1);
    this.len += this.buf.write(escaped, this.len, 'utf8');
  }

  /**
   * Any string, TSV-escaped: copied byte by byte when it is ASCII with nothing to escape (the
   * IDs read back from the store), else through `text()`. Reserves for itself and the separator
   * after it, as do `escaped` and `integer`.
   */
  str(s: string): void {
    this.reserve(s.length + 1);
    const b = this.bytes;
    const start = this.len;
    let p = start;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      // Backslash, every control character up to CR (TAB, LF, CR, NUL, BS, FF among them), non-ASCII.
      if (c >= 128 || c === 92 || c <= 13) {
        this.len = start;
        this.text(s);
        return;
      }
      b[p++] = c;
    }
    this.len = p;
  }

  /** Text already in its TSV form (an escaped array element), UTF-8 encoded. Reserves for itself. */
  escaped(s: string): void {
    this.reserve(s.length * 3 + 1);
    const b = this.bytes;
    let p = this.len;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 128) {
        // Non-ASCII: Node's UTF-8 encoder from here on (short strings: cheaper to copy ASCII by hand).
        this.len = p + this.buf.write(s.slice(i), p, 'utf8');
        return;
      }
      b[p++] = c;
    }
    this.len = p;
  }

  /** An integer field that reserves for itself (rows whose size is not bounded up front). */
  integer(value: number): void {
    this.reserve(18);
    this.int(value);
  }

  /** Bytes as base64 text (dead-letter payloads). Reserves for itself. */
  base64(src: Uint8Array): void {
    const text = Buffer.from(src.buffer, src.byteOffset, src.byteLength).toString('base64');
    this.reserve(text.length);
    this.len += this.buf.write(text, this.len, 'latin1');
  }

  /** The written bytes, as a view whose ArrayBuffer can be transferred. */
  result(): Uint8Array<ArrayBuffer> {
    return this.bytes.subarray(0, this.len);
  }
}

const NEEDS_ESCAPE = /[\\\t\n\r\0\b\f]/;
const ESCAPE_ALL = /[\\\t\n\r\0\b\f]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0', '\b': '\\b', '\f': '\\f' };

/** TabSeparated escaping of one field's text. */
export function escapeTsv(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPE_ALL, (c) => ESCAPES[c] ?? c) : s;
}
