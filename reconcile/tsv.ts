/**
 * TabSeparated rows for the reconcile tables: the cheapest format to build here and for
 * ClickHouse to parse (a million result rows a run). Strings use TSV escaping (the helper ingest
 * writes raw rows with); an array is `[...]` with each string in single quotes, escaped the same
 * way plus `\'`, which is how ClickHouse reads arrays inside a TSV field.
 */
import type { Store } from '../aggregate/store/types.js';
import { escapeTsv, type TsvWriter } from '../aggregate/store/tsv.js';

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

/**
 * Appends the rows of a writer in one insert. Without merging on insert: the tables are
 * ReplacingMergeTree and one insert never holds two rows of one key (a session's record version,
 * a session of a run), so there is nothing to collapse, and skipping it takes a third off the
 * insert (62,000 billing rows on chDB: 1.25 -> 0.83 s). Reads pick the newest row anyway.
 */
export async function insertWritten(store: Store, table: string, columns: readonly string[], w: TsvWriter): Promise<void> {
  if (w.rows === 0) return;
  await store.insertTsvColumns(table, columns, [w.result()], { optimize_on_insert: 0 });
}
