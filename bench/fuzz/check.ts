/**
 * What must hold for every batch the decoder is given, however hostile its bytes:
 *
 *   totality      decodeBatch returned (it never throws) within the time bound
 *   accounting    per message: rows written + declared records inside its dead letters = declared,
 *                 where declared = max(N, 1) for header `pev-records: N`, read here from the
 *                 documented rule (docs/schemas.md), not with the product's parser, so a parsing
 *                 bug cannot agree with itself; and so per batch: stats.ok + stats.deadRecords =
 *                 stats.records
 *   shape         every TSV line of the kind's table has exactly its INSERT_COLUMNS, every
 *                 dead_letter line its 8 columns (free text cannot add a tab or a line); row
 *                 counts agree with the lines; every code is a documented record code
 *   letters       parallel arrays of one length, message indexes in range, payload ends ascending
 *
 * Tasks are built with offsets[m] = m, so src_offset in a row names its message directly.
 */
import type { Message, MessageHeader } from 'node-rdkafka';
import type { Config } from '../../schemas/config.js';
import type { BatchResult, FramedTask } from '../../ingest/decode/task.js';
import { RECORD_ERROR_CODES } from '../../schemas/errors.js';
import { buildFramedTask } from '../../ingest/pipeline/processor.js';
import type { RecordKind } from '../../schemas/index.js';
import { INSERT_COLUMNS, TABLE_OF_KIND } from '../../schemas/tables.js';
import type { FuzzBatch } from './generate.js';

const CODES = new Set<string>(RECORD_ERROR_CODES);
const TAB = 9;
const LF = 10;

/** The worker task for a fuzz batch, exactly as the Kafka processor would build it. */
export function taskOf(batch: FuzzBatch, schemas: readonly { id: number; text: string }[], cfg: Config, nowMs: number): FramedTask {
  const messages = batch.messages.map((m, i) => ({
    topic: 'fuzz', partition: 0, offset: i, value: m.value, size: m.value?.length ?? 0, timestamp: nowMs, ...(m.headers ? { headers: m.headers } : {}),
  })) as Message[];
  return buildFramedTask('fuzz', 0, batch.kind, messages, schemas, cfg, nowMs);
}

/**
 * Records a message declares, by the rule as written: the first `pev-records` header holds a count
 * in plain decimal digits, 1 to 65,535; without the header a message holds 1; any other value is
 * unusable and the message is dead-lettered whole, as 1 record.
 */
export function declaredRecords(headers: readonly MessageHeader[] | undefined): number {
  const h = headers?.find((x) => Object.hasOwn(x, 'pev-records'));
  if (h === undefined) return 1;
  const v = h['pev-records']!;
  const text = typeof v === 'string' ? v : Buffer.from(v).toString('latin1');
  if (!/^[0-9]{1,5}$/.test(text)) return 1;
  const n = Number.parseInt(text, 10);
  return n >= 1 && n <= 65_535 ? n : 1;
}

/** Declared records of each message of a batch. */
export function declaredOf(batch: FuzzBatch): number[] {
  return batch.messages.map((m) => declaredRecords(m.headers));
}

/** Rows per src_offset in TSV `bytes`, checking each line has `columns` fields. */
function rowsPerOffset(bytes: Uint8Array, columns: number, offsetColumn: number, counts: number[], problems: string[], what: string): number {
  let lines = 0;
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== LF) continue;
    let tabs = 0;
    let field = 0;
    let fieldStart = start;
    let offsetText = '';
    for (let j = start; j <= i; j++) {
      if (j === i || bytes[j] === TAB) {
        if (field === offsetColumn) offsetText = Buffer.from(bytes.subarray(fieldStart, j)).toString('latin1');
        field++;
        fieldStart = j + 1;
        if (j < i) tabs++;
      }
    }
    if (tabs !== columns - 1) problems.push(`${what} line ${lines} has ${tabs + 1} fields; expected ${columns}`);
    const offset = Number(offsetText);
    if (!Number.isInteger(offset) || offset < 0 || offset >= counts.length) problems.push(`${what} line ${lines} has src_offset ${JSON.stringify(offsetText)}`);
    else counts[offset]!++;
    lines++;
    start = i + 1;
  }
  if (start !== bytes.length) problems.push(`${what} does not end with a line feed`);
  return lines;
}

/** Problems with one batch's result (empty when every invariant holds). */
export function checkBatch(batch: FuzzBatch, result: BatchResult): string[] {
  const problems: string[] = [];
  const kind: RecordKind = batch.kind;
  const declared = declaredOf(batch);
  const n = declared.length;
  const total = declared.reduce((a, b) => a + b, 0);
  const s = result.stats;
  if (s.messages !== n) problems.push(`stats.messages ${s.messages}; expected ${n}`);
  if (s.records !== total) problems.push(`stats.records ${s.records}; expected ${total}`);
  let ok = 0;
  for (const k of Object.keys(s.ok) as RecordKind[]) {
    if (k !== kind && s.ok[k] !== 0) problems.push(`stats.ok.${k} = ${s.ok[k]} in a ${kind} batch`);
    ok += s.ok[k];
  }
  if (ok + s.deadRecords !== s.records) problems.push(`ok ${ok} + dead ${s.deadRecords} != records ${s.records}`);

  const [rows, deadRows] = result.tables;
  const table = TABLE_OF_KIND[kind];
  if (rows?.table !== table || deadRows?.table !== 'dead_letter') {
    problems.push(`tables are ${result.tables.map((x) => x.table).join(', ')}; expected ${table}, dead_letter`);
    return problems;
  }
  const perMessage = new Array<number>(n).fill(0);
  const columns = INSERT_COLUMNS[table].length;
  const lines = rowsPerOffset(rows.tsv, columns, columns - 2, perMessage, problems, table);
  if (lines !== rows.rows || rows.rows !== s.ok[kind]) problems.push(`${table}: ${lines} lines, rows ${rows.rows}, ok ${s.ok[kind]}`);
  const deadLines = rowsPerOffset(deadRows.tsv, INSERT_COLUMNS.dead_letter.length, 2, new Array<number>(n).fill(0), problems, 'dead_letter');

  const d = result.dead;
  if (deadLines !== d.count || deadRows.rows !== d.count) problems.push(`dead_letter: ${deadLines} lines, rows ${deadRows.rows}, letters ${d.count}`);
  for (const a of [d.messageIndex, d.recordIndex, d.records, d.offset, d.payloadEnds]) if (a.length !== d.count) problems.push(`dead-letter array of length ${a.length}; count ${d.count}`);
  if (d.code.length !== d.count || d.text.length !== d.count || d.sessionId.length !== d.count) problems.push('dead-letter code/text/session arrays disagree with count');
  let deadRecords = 0;
  let byCode = 0;
  let lastEnd = 0;
  for (let i = 0; i < d.count; i++) {
    const m = d.messageIndex[i]!;
    const code = d.code[i]!;
    if (!CODES.has(code)) problems.push(`letter ${i}: code ${code} is not a record error code`);
    if (m >= n) problems.push(`letter ${i}: message index ${m} of ${n}`);
    else perMessage[m]! += d.records[i]!;
    if (d.offset[i] !== m) problems.push(`letter ${i}: offset ${d.offset[i]} for message ${m}`);
    deadRecords += d.records[i]!;
    const end = d.payloadEnds[i]!;
    if (end < lastEnd) problems.push(`letter ${i}: payload end ${end} before ${lastEnd}`);
    lastEnd = end;
  }
  if (d.count > 0 && lastEnd !== d.payload.length) problems.push(`payload ends at ${lastEnd}; payload is ${d.payload.length} bytes`);
  for (const v of Object.values(s.deadByCode)) byCode += v ?? 0;
  if (byCode !== d.count) problems.push(`deadByCode sums to ${byCode}; letters ${d.count}`);
  if (deadRecords !== s.deadRecords) problems.push(`letters stand for ${deadRecords} records; stats.deadRecords ${s.deadRecords}`);
  for (let m = 0; m < n; m++) {
    if (perMessage[m] !== declared[m]) {
      problems.push(`message ${m} (${batch.messages[m]!.mutations}): rows + dead-lettered = ${perMessage[m]}; declared ${declared[m]}`);
    }
  }
  return problems;
}
