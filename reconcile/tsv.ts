/**
 * TabSeparated rows for the reconcile tables: the cheapest format to build here and for
 * ClickHouse to parse (a million result rows a run). Strings use TSV escaping (the helper ingest
 * writes raw rows with); an array is `[...]` with each string in single quotes, escaped the same
 * way plus `\'`, which is how ClickHouse reads arrays inside a TSV field.
 */
import type { Store } from '../aggregate/store/types.js';
import { escapeTsv, type TsvWriter } from '../ingest/decode/rows.js';

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
  if (rows.length === 0) return;
  let text = '';
  for (const row of rows) text += tsvLine(row);
  await store.insertTsvColumns(table, columns, [Buffer.from(text, 'utf8')]);
}

/** Appends the rows of a writer in one insert. */
export async function insertWritten(store: Store, table: string, columns: readonly string[], w: TsvWriter): Promise<void> {
  if (w.rows === 0) return;
  await store.insertTsvColumns(table, columns, [w.result()]);
}
