/**
 * Reads interval columns back as TabSeparated text in INSERT_COLUMNS order, so a columnar batch
 * can be compared with the text path line for line. Goes through `arrowColumns`, the form chDB
 * receives, so the join of parts is checked too.
 */
import { arrowColumns, type ArrowColumn, type IntervalColumnsPart } from '../../aggregate/store/columns.js';
import { INSERT_COLUMNS } from '../../schemas/tables.js';

function cell(c: ArrowColumn, row: number): string {
  const b = c.buffers;
  switch (c.format) {
    case 'u': {
      const offsets = new Int32Array(b[1]!.buffer, b[1]!.byteOffset, c.length + 1);
      return b[2]!.subarray(offsets[row], offsets[row + 1]).toString('utf8');
    }
    case 'I':
      return String(b[1]!.readUInt32LE(row * 4));
    case 'i':
      return String(b[1]!.readInt32LE(row * 4));
    case 'l':
      return String(b[1]!.readBigInt64LE(row * 8));
  }
}

export function columnsAsTsv(parts: readonly IntervalColumnsPart[]): string {
  const columns = arrowColumns(parts);
  const byName = new Map(columns.map((c) => [c.name, c]));
  const rows = columns[0]?.length ?? 0;
  let out = '';
  for (let r = 0; r < rows; r++) {
    out += INSERT_COLUMNS.interval_raw.map((name) => cell(byName.get(name)!, r)).join('\t') + '\n';
  }
  return out;
}
