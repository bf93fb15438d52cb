/**
 * Reads ClickHouse TabSeparated output field by field, straight from the result's text: no line
 * splitting, no intermediate arrays of cells, no JSON. The facts query returns a few hundred
 * bytes per session, a million sessions a run; parsing them as JSON rows cost more than the
 * rules did.
 *
 * What ClickHouse writes (TabSeparated): fields separated by TAB, rows ended by LF; a string with
 * `\` escapes (`\t \n \\ \'` and the other C escapes); an integer in decimal; an array as
 * `[e1,e2]` with each string element in single quotes, escaped the same way.
 */
const TAB = 9;
const LF = 10;
const BACKSLASH = 92;
const QUOTE = 39;
const COMMA = 44;
const OPEN = 91;
const CLOSE = 93;
const MINUS = 45;
const ZERO = 48;

const SIMPLE_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', '0': '\0', a: '\x07', v: '\v', e: '\x1b' };

/** Undoes ClickHouse's escaping of `s` (which contains at least one backslash). */
function unescape(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const e = s[++i]!;
    if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out += SIMPLE_ESCAPES[e] ?? e;
    }
  }
  return out;
}

export class TsvCursor {
  private pos = 0;

  constructor(private readonly text: string) {}

  /** Whether another row follows. */
  get more(): boolean {
    return this.pos < this.text.length;
  }

  private fail(what: string): never {
    const at = this.text.slice(Math.max(0, this.pos - 20), this.pos + 20);
    // Not bad input: the query's own output did not have the shape its SELECT gives (a bug).
    throw new Error(`unexpected ClickHouse output at ${this.pos} (${what}): ${JSON.stringify(at)}`);
  }

  /** Steps over the separator after a field: TAB, or LF at the end of a row. */
  private next(): void {
    const c = this.text.charCodeAt(this.pos);
    if (c !== TAB && c !== LF) this.fail('expected a field separator');
    this.pos++;
  }

  /** A string field. */
  str(): string {
    const t = this.text;
    const start = this.pos;
    let end = start;
    let escaped = false;
    for (;;) {
      const c = t.charCodeAt(end);
      if (c === TAB || c === LF || Number.isNaN(c)) break;
      if (c === BACKSLASH) {
        escaped = true;
        end++;
      }
      end++;
    }
    this.pos = end;
    this.next();
    const raw = t.slice(start, end);
    return escaped ? unescape(raw) : raw;
  }

  /** An integer field (exact up to 2^53 in magnitude). */
  int(): number {
    const v = this.number();
    this.next();
    return v;
  }

  private number(): number {
    const t = this.text;
    let p = this.pos;
    let neg = false;
    if (t.charCodeAt(p) === MINUS) {
      neg = true;
      p++;
    }
    let v = 0;
    const first = p;
    for (;;) {
      const d = t.charCodeAt(p) - ZERO;
      if (!(d >= 0 && d <= 9)) break;
      v = v * 10 + d;
      p++;
    }
    if (p === first) this.fail('expected an integer');
    this.pos = p;
    return neg ? -v : v;
  }

  /** An Array(integer) field. */
  ints(): number[] {
    return this.array(this.readNumber);
  }

  /** An Array(String) field. */
  strs(): string[] {
    return this.array(this.readQuoted);
  }

  private readonly readNumber = (): number => this.number();
  private readonly readQuoted = (): string => this.quoted();

  /** `[e1,e2,...]` then the field separator, each element read by `element`. */
  private array<T>(element: () => T): T[] {
    const t = this.text;
    if (t.charCodeAt(this.pos) !== OPEN) this.fail('expected [');
    this.pos++;
    const out: T[] = [];
    if (t.charCodeAt(this.pos) === CLOSE) {
      this.pos++;
    } else {
      for (;;) {
        out.push(element());
        const c = t.charCodeAt(this.pos++);
        if (c === CLOSE) break;
        if (c !== COMMA) this.fail('expected , or ]');
      }
    }
    this.next();
    return out;
  }

  /** A single-quoted, escaped string (an array element). */
  private quoted(): string {
    const t = this.text;
    if (t.charCodeAt(this.pos) !== QUOTE) this.fail("expected '");
    const start = ++this.pos;
    let end = start;
    let escaped = false;
    for (;;) {
      const c = t.charCodeAt(end);
      if (c === QUOTE) break;
      if (Number.isNaN(c)) this.fail('unterminated string');
      if (c === BACKSLASH) {
        escaped = true;
        end++;
      }
      end++;
    }
    this.pos = end + 1;
    const raw = t.slice(start, end);
    return escaped ? unescape(raw) : raw;
  }
}
