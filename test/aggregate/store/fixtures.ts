/**
 * Hand-built TabSeparated rows for the store tests: every column of INSERT_COLUMNS[table] in
 * order, unset columns defaulted (0 for numbers, '' for strings), values escaped as ClickHouse's
 * TabSeparated expects.
 */
import { INSERT_COLUMNS } from '../../../schemas/tables.js';
import type { RawTable } from '../../../schemas/tables.js';

const STRING_COLUMNS = new Set([
  'session_id', 'esci_id', 'eumd_id', 'premise_id', 'pev_id', 'src_topic', 'event_type', 'connection',
  'binding', 'delay_reason', 'account_id', 'program_id', 'tariff_id', 'code', 'message', 'payload_base64',
]);

function escape(v: string | number): string {
  if (typeof v === 'number') return String(v);
  return v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
}

export function tsv(table: RawTable, rows: Record<string, string | number>[]): Buffer {
  const cols: readonly string[] = INSERT_COLUMNS[table];
  let out = '';
  for (const row of rows) {
    for (const k of Object.keys(row)) if (!cols.includes(k)) throw new Error(`${table} has no column ${k}`);
    out += cols.map((c) => escape(row[c] ?? (STRING_COLUMNS.has(c) ? '' : 0))).join('\t') + '\n';
  }
  return Buffer.from(out, 'utf8');
}

export const S1 = 'S-00000000000000a1';
export const S2 = 'S-00000000000000b2';
export const PEV = '1HGCM82633A004352';
/** A minute boundary (UTC), in epoch seconds as the interval_start column takes it. */
export const T0 = 1_700_000_040;

const base = { esci_id: 'ESCI-0000000A', eumd_id: 'EUMD-0000000B', premise_id: 'P000000001', pev_id: PEV, src_topic: 'pev.eumd-interval', src_partition: 3, ingested_ms: 1 };

/**
 * Session S1: four 30 s intervals, 20 + 30 + 40 + 60 = 150 Wh; seq 1 resent exactly (a second
 * delivery, counted once) and seq 3 resent later with a different value (a conflict: the first
 * received, 60 Wh, counts). Naively summed, the raw rows give 20 + 30 + 40 + 60 + 30 + 99 = 279.
 * Session S2: one 60 s interval of 10 Wh and no end summary.
 */
export function intervalRows(): Record<string, string | number>[] {
  const iv = (session_id: string, seq: number, start: number, interval_s: number, energy_wh: number, register_wh: number, src_offset: number) =>
    ({ ...base, session_id, seq, interval_start: start, interval_s, energy_wh, register_wh, quality: 0, src_offset });
  return [
    iv(S1, 0, T0, 30, 20, 1020, 10),
    iv(S1, 1, T0 + 30, 30, 30, 1050, 11),
    iv(S1, 2, T0 + 60, 30, 40, 1090, 12),
    iv(S1, 3, T0 + 90, 30, 60, 1150, 13),
    iv(S1, 1, T0 + 30, 30, 30, 1050, 14),
    iv(S1, 3, T0 + 90, 30, 99, 1189, 15),
    iv(S2, 0, T0 + 600, 60, 10, 5010, 16),
  ];
}

const ev = { esci_id: 'ESCI-0000000A', premise_id: 'P000000001', pev_id: PEV, src_topic: 'pev.session-event', src_partition: 3, ingested_ms: 1 };
const ms = (s: number) => s * 1000;

export function sessionEventRows(): Record<string, string | number>[] {
  return [
    { ...ev, session_id: S1, event_seq: 0, event_type: 'START', event_time_ms: ms(T0 - 60), connection: 'CORDSET', binding: 'BOUND', plug_in_ms: ms(T0 - 60), src_offset: 20 },
    { ...ev, session_id: S1, event_seq: 1, event_type: 'AVAILABLE', event_time_ms: ms(T0 - 30), granted_wh: 200, rate_w: 7200, schedule_start_ms: ms(T0), schedule_end_ms: ms(T0 + 3600), delay_reason: 'NONE', src_offset: 21 },
    { ...ev, session_id: S1, event_seq: 2, event_type: 'PROGRESS', event_time_ms: ms(T0 + 60), running_wh: 50, intervals: 2, src_offset: 22 },
    { ...ev, session_id: S1, event_seq: 3, event_type: 'END', event_time_ms: ms(T0 + 120), start_ms: ms(T0), end_ms: ms(T0 + 120), duration_s: 120, energy_wh: 150, src_offset: 23 },
    // The ESCI resends its end summary after a reconnect.
    { ...ev, session_id: S1, event_seq: 3, event_type: 'END', event_time_ms: ms(T0 + 120), start_ms: ms(T0), end_ms: ms(T0 + 120), duration_s: 120, energy_wh: 150, src_offset: 24 },
  ];
}

const vr = { pev_id: PEV, esci_id: 'ESCI-0000000A', src_topic: 'pev.vehicle-report', src_partition: 3, ingested_ms: 1 };

export function vehicleReportRows(): Record<string, string | number>[] {
  return [
    { ...vr, session_id: S1, report_time_ms: ms(T0 + 60), running_wh: 48, src_offset: 30 },
    { ...vr, session_id: S1, report_time_ms: ms(T0 + 120), running_wh: 149, src_offset: 31 },
    { ...vr, session_id: S1, report_time_ms: ms(T0 + 120), running_wh: 149, src_offset: 32 },
  ];
}

export function enrollmentRows(): Record<string, string | number>[] {
  return [
    { pev_id: PEV, premise_id: 'P000000001', account_id: 'A000000001', program_id: 'EV-HOME', tariff_id: 'TOU-2', esci_id: 'ESCI-0000000A', eumd_id: 'EUMD-0000000B', valid_from_ms: ms(T0 - 86_400), valid_to_ms: 0, rated_power_w: 7200, src_topic: 'pev.enrollment', src_partition: 0, src_offset: 0, ingested_ms: 1 },
  ];
}

/** A message with a tab, a newline, a backslash and non-ASCII text: TSV escaping must round-trip it. */
export const DEAD_MESSAGE = 'bad\tframe\nat byte 5 \\ Zählerstand ⚡';

export function deadLetterRows(): Record<string, string | number>[] {
  return [
    { src_topic: 'pev.eumd-interval', src_partition: 1, src_offset: 7, code: 'PEV_NO_MAGIC', message: DEAD_MESSAGE, session_id: '', payload_base64: 'BwAAA+kB', ingested_ms: 1 },
  ];
}
