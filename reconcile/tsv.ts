/**
 * TabSeparated rows for the reconcile tables: the cheapest format to build here and for
 * ClickHouse to parse (a million result rows a run). Strings use TSV escaping (the helper ingest
 * writes raw rows with); an array is `[...]` with each string in single quotes, escaped the same
 * way plus `\'`, which is how ClickHouse reads arrays inside a TSV field.
 */
import type { Store } from '../aggregate/store/types.js';
import { escapeTsv } from '../ingest/decode/rows.js';

export type TsvValue = string | number | readonly string[] | readonly number[];

/** A string as an element of a TSV array field. */
export function tsvQuoted(s: string): string {
  return "'" + escapeTsv(s).replaceAll("'", "\\'") + "'";
}

export function tsvField(v: TsvValue): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return escapeTsv(v);
  if (v.length === 0) return '[]';
  if (typeof v[0] === 'number') return '[' + v.join(',') + ']';
  return '[' + (v as readonly string[]).map(tsvQuoted).join(',') + ']';
}

export function tsvLine(values: readonly TsvValue[]): string {
  let out = tsvField(values[0]!);
  for (let i = 1; i < values.length; i++) out += '\t' + tsvField(values[i]!);
  return out + '\n';
}

/** Appends rows (values in `columns` order) to `table` in one insert. */
export async function insertRows(store: Store, table: string, columns: readonly string[], rows: readonly (readonly TsvValue[])[]): Promise<void> {
  const lines: string[] = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) lines[i] = tsvLine(rows[i]!);
  await insertLines(store, table, columns, lines);
}

/** Appends rows already written as TSV lines (each ending in a newline) in one insert. */
export async function insertLines(store: Store, table: string, columns: readonly string[], lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  await store.insertTsvColumns(table, columns, [Buffer.from(lines.join(''), 'utf8')]);
}
