/**
 * Billing records: what a billable session of a period costs, tied to account, premise and PEV,
 * versioned so that nothing exported ever changes silently.
 *
 * Versions. A record's content (everything billed and everything the bill says, not the run that
 * wrote it) has a digest. Re-running a period compares the new content with the current version:
 *   - same content: nothing is written (idempotent: same inputs, same records, no duplicates);
 *   - different, current version not exported: rewritten at the same version (nobody saw it);
 *   - different, current version exported (frozen): a new version, and an ADJUSTMENT flag;
 *   - a billed session that is now held gets a VOID version (energy and amount 0), by the same rules.
 * ADJUSTMENT stays on a session while its current version differs from what was last exported,
 * or while it is a record no export carried although an export whose filters match it went out
 * (data that arrived after the export; export-scope.ts).
 *
 * A period's records have cycle ''; a bill cycle's (cycles.ts) carry the cycle and their
 * account's cycle period, and their state is looked up by (cycle, session).
 *
 * Export. `exportPeriod` writes the current version of the records of a period that have not gone
 * out yet (VOID only when an earlier version went out; mode 'all' repeats everything) as CSV (one
 * row per bill line) or JSON lines (one object per record), each with the version it supersedes
 * and the differences from it, and records each (session, version) in billing_export, which
 * freezes it. An export is therefore a delta file: the billing system applies each once.
 */
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { writeOutput } from './output.js';
import { formatLocal } from '../schemas/calendar.js';
import type { Store } from '../aggregate/store/types.js';
import type { RulesConfig } from './config.js';
import { adjustmentFlag } from './rules/index.js';
import type { TsvWriter } from '../aggregate/store/tsv.js';
import { insertRows, tsvField, tsvQuoted } from './tsv.js';
import { NO_REVIEW, recordReviews, reviewKey } from './review/export.js';
import type { BillLine, PricedBill } from './tou.js';
import type { Flag, Period, PeriodFilter } from './types.js';

export type RecordStatus = 'BILLED' | 'VOID';

export interface BillingRecord {
  sessionId: string;
  version: number;
  status: RecordStatus;
  accountId: string;
  premiseId: string;
  pevId: string;
  programId: string;
  tariffId: string;
  currency: string;
  sessionStartMs: number;
  sessionEndMs: number;
  /** EUMD energy inside the period. */
  energyWh: number;
  /** EUMD energy of the whole session. */
  sessionEnergyWh: number;
  lines: BillLine[];
  incentiveMinor: number;
  amountMinor: number;
  /** Warn flags the bill carries (UNFINISHED, GAP...), ADJUSTMENT excepted. */
  warnCodes: string[];
  contentDigest: string;
}

/** The billed content of a session, before a version is assigned. */
export type RecordContent = Omit<BillingRecord, 'version' | 'contentDigest'>;

/*
 * A 106-bit digest (two independent 53-bit hashes in the manner of cyrb53, as 28 hex digits). Not
 * cryptographic: it only tells whether a session's record changed since the version stored, and
 * costs a fraction of a SHA-256 per record on the million-record path. The four lanes are fed
 * character by character; a record's content is fed field by field, numbers digit by digit, so
 * its text is never built (a million records a run). The stored digests are of that text, so
 * the characters fed must stay exactly those of `contentText` (test/reconcile/billing.test.ts).
 * The simulator's seed hash (bench/sim/random.ts) is of the same family but not this one: each
 * output is pinned by its own contract (docs/architecture.md, "Layers").
 */
let h1 = 0;
let h2 = 0;
let h3 = 0;
let h4 = 0;
const DIGITS = new Uint8Array(24);

function lanesReset(): void {
  h1 = 0xdeadbeef;
  h2 = 0x41c6ce57;
  h3 = 0x9e3779b9;
  h4 = 0x85ebca6b;
}

function feedChar(ch: number): void {
  h1 = Math.imul(h1 ^ ch, 2654435761);
  h2 = Math.imul(h2 ^ ch, 1597334677);
  h3 = Math.imul(h3 ^ ch, 2246822507);
  h4 = Math.imul(h4 ^ ch, 3266489909);
}

function feedText(text: string): void {
  let a = h1;
  let b = h2;
  let c = h3;
  let d = h4;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    a = Math.imul(a ^ ch, 2654435761);
    b = Math.imul(b ^ ch, 1597334677);
    c = Math.imul(c ^ ch, 2246822507);
    d = Math.imul(d ^ ch, 3266489909);
  }
  h1 = a;
  h2 = b;
  h3 = c;
  h4 = d;
}

/** The characters of `${n}`: decimal digits for a safe integer, the string otherwise. */
function feedNumber(value: number): void {
  if (!Number.isSafeInteger(value) || Object.is(value, -0)) {
    feedText(String(value));
    return;
  }
  let n = value;
  if (n < 0) {
    feedChar(45);
    n = -n;
  }
  let k = DIGITS.length;
  // Millisecond times: the low 8 digits, then the rest (below 2^31 for any safe integer), so that
  // every division is an int32 one.
  if (n >= 2_147_483_648) {
    const hi = Math.floor(n / 1e8);
    let lo = n - hi * 1e8;
    for (let d = 0; d < 8; d++) {
      const q = (lo / 10) | 0;
      DIGITS[--k] = 48 + (lo - q * 10);
      lo = q;
    }
    n = hi;
  }
  do {
    const q = (n / 10) | 0;
    DIGITS[--k] = 48 + (n - q * 10);
    n = q;
  } while (n > 0);
  for (; k < DIGITS.length; k++) feedChar(DIGITS[k]!);
}

/** Two-digit lowercase hex of each byte value. */
const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Mixes two lanes into 53 bits (21 high, 32 low) written as 14 hex digits: the same text as
 * `(2 ** 32 * hi + lo).toString(16).padStart(14, '0')`, by table, because converting a 53-bit
 * double to hex took four fifths of the digest's time.
 */
function mixHex(a: number, b: number): string {
  a = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
  b = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
  const hi = 2097151 & b;
  const lo = a >>> 0;
  return HEX2[hi >>> 16]! + HEX2[(hi >>> 8) & 255]! + HEX2[hi & 255]! + HEX2[lo >>> 24]! + HEX2[(lo >>> 16) & 255]! + HEX2[(lo >>> 8) & 255]! + HEX2[lo & 255]!;
}

/** The digest of a string. */
export function digest(text: string): string {
  lanesReset();
  feedText(text);
  return mixHex(h1, h2) + mixHex(h3, h4);
}

/** Warn codes in the order the digest takes them: sorted. */
function sortedCodes(codes: readonly string[]): readonly string[] {
  return codes.length < 2 ? codes : [...codes].sort();
}

/**
 * The text a record's digest is of: everything billed and said on the bill, not the run that
 * wrote it. `contentDigest(c)` equals `digest(contentText(c))` without building it.
 */
export function contentText(c: RecordContent): string {
  let text = `${c.sessionId}|${c.status}|${c.accountId}|${c.premiseId}|${c.pevId}|${c.programId}|${c.tariffId}|${c.currency}|${c.sessionStartMs}|${c.sessionEndMs}|${c.energyWh}|${c.sessionEnergyWh}|${c.incentiveMinor}|${c.amountMinor}|`;
  for (const l of c.lines) text += `${l.kind}:${l.period}:${l.wh}:${l.priceMicro}:${l.amountMinor};`;
  return text + '|' + sortedCodes(c.warnCodes).join(',');
}

const BAR = 124;
const COLON = 58;
const SEMICOLON = 59;
const COMMA = 44;

/** The digest of everything billed and said on the bill, fed as `contentText` spells it. */
export function contentDigest(c: RecordContent): string {
  lanesReset();
  feedText(c.sessionId);
  feedChar(BAR);
  feedText(c.status);
  feedChar(BAR);
  feedText(c.accountId);
  feedChar(BAR);
  feedText(c.premiseId);
  feedChar(BAR);
  feedText(c.pevId);
  feedChar(BAR);
  feedText(c.programId);
  feedChar(BAR);
  feedText(c.tariffId);
  feedChar(BAR);
  feedText(c.currency);
  feedChar(BAR);
  feedNumber(c.sessionStartMs);
  feedChar(BAR);
  feedNumber(c.sessionEndMs);
  feedChar(BAR);
  feedNumber(c.energyWh);
  feedChar(BAR);
  feedNumber(c.sessionEnergyWh);
  feedChar(BAR);
  feedNumber(c.incentiveMinor);
  feedChar(BAR);
  feedNumber(c.amountMinor);
  feedChar(BAR);
  for (const l of c.lines) {
    feedText(l.kind);
    feedChar(COLON);
    feedText(l.period);
    feedChar(COLON);
    feedNumber(l.wh);
    feedChar(COLON);
    feedNumber(l.priceMicro);
    feedChar(COLON);
    feedNumber(l.amountMinor);
    feedChar(SEMICOLON);
  }
  feedChar(BAR);
  const codes = sortedCodes(c.warnCodes);
  for (let i = 0; i < codes.length; i++) {
    if (i > 0) feedChar(COMMA);
    feedText(codes[i]!);
  }
  return mixHex(h1, h2) + mixHex(h3, h4);
}

export interface SessionIdentity {
  sessionId: string;
  accountId: string;
  premiseId: string;
  pevId: string;
  programId: string;
  tariffId: string;
  sessionStartMs: number;
  sessionEndMs: number;
  sessionEnergyWh: number;
}

export function billedContent(id: SessionIdentity, bill: PricedBill, warnCodes: readonly string[]): RecordContent {
  return {
    sessionId: id.sessionId,
    status: 'BILLED',
    accountId: id.accountId,
    premiseId: id.premiseId,
    pevId: id.pevId,
    programId: id.programId,
    tariffId: id.tariffId,
    currency: bill.currency,
    sessionStartMs: id.sessionStartMs,
    sessionEndMs: id.sessionEndMs,
    energyWh: bill.energyWh,
    sessionEnergyWh: id.sessionEnergyWh,
    lines: bill.lines,
    incentiveMinor: bill.incentiveMinor,
    amountMinor: bill.totalMinor,
    warnCodes: warnCodes.includes('ADJUSTMENT') ? warnCodes.filter((c) => c !== 'ADJUSTMENT') : [...warnCodes],
  };
}

export function voidContent(id: SessionIdentity, currency: string): RecordContent {
  return { ...id, status: 'VOID', currency, energyWh: 0, lines: [], incentiveMinor: 0, amountMinor: 0, warnCodes: [] };
}

/** The current version of a session's record, and the last exported one. */
export interface RecordState {
  latest: { version: number; status: RecordStatus; sha: string; energyWh: number; amountMinor: number; currency: string } | null;
  exported: { version: number; sha: string; energyWh: number; amountMinor: number; configSha?: string } | null;
}

export type Decision =
  | { write: false; version: number; kind: 'unchanged' | 'none' }
  | { write: true; version: number; kind: 'created' | 'rewritten' | 'new-version' };

/**
 * What to write for a session given its state and the content it should have now (null: held,
 * nothing billable). Pure; the rules are those of the module comment.
 */
export function decide(state: RecordState, want: RecordContent | null, wantSha: string): Decision {
  const latest = state.latest;
  if (want === null || want.status === 'VOID') {
    if (latest === null || latest.status === 'VOID') return { write: false, version: latest?.version ?? 0, kind: 'none' };
  } else if (latest === null) {
    return { write: true, version: 1, kind: 'created' };
  }
  if (latest === null) return { write: false, version: 0, kind: 'none' };
  if (latest.sha === wantSha) return { write: false, version: latest.version, kind: 'unchanged' };
  const frozen = state.exported !== null && state.exported.version === latest.version;
  return frozen ? { write: true, version: latest.version + 1, kind: 'new-version' } : { write: true, version: latest.version, kind: 'rewritten' };
}

/** ADJUSTMENT for a session whose current content (after this run) is not what its period's export carried. */
export function adjustmentFor(
  state: RecordState,
  current: { version: number; status: RecordStatus; sha: string; energyWh: number; amountMinor: number } | null,
  periodExported: boolean,
  o: RulesConfig['adjustment'],
): Flag | null {
  if (!periodExported || current === null) return null;
  const ex = state.exported;
  if (ex === null ? current.status !== 'BILLED' : ex.sha === current.sha) return null;
  return adjustmentFlag(
    {
      exportedVersion: ex?.version ?? 0,
      exportedEnergyWh: ex?.energyWh ?? 0,
      exportedAmountMinor: ex?.amountMinor ?? 0,
      version: current.version,
      energyWh: current.energyWh,
      amountMinor: current.amountMinor,
      voided: current.status === 'VOID',
    },
    o,
  );
}

const STATE_SQL = `
SELECT r.session_id AS session_id, r.version AS version, r.status AS status, r.content_digest AS sha, r.energy_wh AS energy_wh,
  r.amount_minor AS amount_minor, r.currency AS currency
FROM
(
  SELECT session_id, version, status, content_digest, energy_wh, amount_minor, currency
  FROM {db}.billing_record FINAL
  WHERE period_from_ms = {from_ms:Int64} AND period_to_ms = {to_ms:Int64} AND cycle = ''
    AND session_id >= {lo:String} AND session_id < {hi:String}
  ORDER BY session_id, version DESC
  LIMIT 1 BY session_id
) AS r
`;

const EXPORTED_SQL = `
SELECT session_id, max(version) AS ex_version, argMax(content_digest, version) AS ex_sha, argMax(energy_wh, version) AS ex_energy_wh,
  argMax(amount_minor, version) AS ex_amount_minor, argMax(config_sha256, version) AS ex_config
FROM {db}.billing_export
WHERE period_from_ms = {from_ms:Int64} AND period_to_ms = {to_ms:Int64} AND cycle = ''
  AND session_id >= {lo:String} AND session_id < {hi:String}
GROUP BY session_id
`;

/** Billing state of every session of a session-ID range of a period, in two set-based queries. */
export async function loadStates(store: Store, period: Period, range: { lo: string; hi: string }): Promise<Map<string, RecordState>> {
  const params = { from_ms: period.fromMs, to_ms: period.toMs, lo: range.lo, hi: range.hi };
  // Both queries are sent at once: on chDB they queue together, ahead of later writes.
  const [latest, exported] = await Promise.all([
    store.select<Record<string, string | number>>(STATE_SQL, params),
    store.select<Record<string, string | number>>(EXPORTED_SQL, params),
  ]);
  return recordStates(latest, exported);
}

/**
 * The billing state of each session from the rows of a latest-version query and an exported-version
 * query (columns as STATE_SQL and EXPORTED_SQL name them; the cycle queries name them alike).
 */
export function recordStates(latest: readonly Record<string, string | number>[], exported: readonly Record<string, string | number>[]): Map<string, RecordState> {
  const out = new Map<string, RecordState>();
  for (const r of latest) {
    out.set(String(r['session_id']), {
      latest: {
        version: Number(r['version']),
        status: String(r['status']) as RecordStatus,
        sha: String(r['sha']),
        energyWh: Number(r['energy_wh']),
        amountMinor: Number(r['amount_minor']),
        currency: String(r['currency']),
      },
      exported: null,
    });
  }
  for (const r of exported) {
    const id = String(r['session_id']);
    const s = out.get(id) ?? { latest: null, exported: null };
    s.exported = { version: Number(r['ex_version']), sha: String(r['ex_sha']), energyWh: Number(r['ex_energy_wh']), amountMinor: Number(r['ex_amount_minor']), configSha: String(r['ex_config']) };
    out.set(id, s);
  }
  return out;
}

export const BILLING_COLUMNS = [
  'period_from_ms', 'period_to_ms', 'session_id', 'version', 'status', 'account_id', 'premise_id', 'pev_id',
  'program_id', 'tariff_id', 'currency', 'session_start_ms', 'session_end_ms', 'energy_wh', 'session_energy_wh',
  'line_kind', 'line_period', 'line_wh', 'line_price_micro', 'line_amount_minor', 'incentive_minor', 'amount_minor',
  'warn_codes', 'content_digest', 'run_id', 'updated_ms', 'cycle', 'time_zone', 'config_sha256',
] as const;

/** Line kinds and tariff period names as TSV array elements: a handful of names, a million lines. */
const quotedNames = new Map<string, string>();
function quotedName(name: string): string {
  let q = quotedNames.get(name);
  if (q === undefined) {
    q = tsvQuoted(name);
    if (quotedNames.size < 1024) quotedNames.set(name, q);
  }
  return q;
}

const OPEN = 91;
const CLOSE = 93;

/** One line_* array of names, then a TAB. Each writer leaves room for one byte after it. */
function lineNames(w: TsvWriter, L: readonly BillLine[], key: 'kind' | 'period'): void {
  w.reserve(1);
  w.byte(OPEN);
  for (let i = 0; i < L.length; i++) {
    if (i > 0) w.byte(COMMA);
    w.escaped(quotedName(L[i]![key]));
  }
  w.reserve(2);
  w.byte(CLOSE); w.tab();
}

/** One line_* array of integers, then a TAB. */
function lineInts(w: TsvWriter, L: readonly BillLine[], key: 'wh' | 'priceMicro' | 'amountMinor'): void {
  w.reserve(1);
  w.byte(OPEN);
  for (let i = 0; i < L.length; i++) {
    if (i > 0) w.byte(COMMA);
    w.integer(L[i]![key]);
  }
  w.reserve(2);
  w.byte(CLOSE); w.tab();
}

/**
 * Appends a billing record (its content, version and digest) as one TSV row in BILLING_COLUMNS
 * order, straight into the batch's buffer (a million a run: no per-row string or object).
 */
export function writeBillingRow(
  w: TsvWriter, period: Period, r: RecordContent, version: number, digestHex: string, runId: string, updatedMs: number, cycle = '', timeZone = '', configSha = '',
): void {
  const L = r.lines;
  w.integer(period.fromMs); w.tab();
  w.integer(period.toMs); w.tab();
  w.str(r.sessionId); w.tab();
  w.integer(version); w.tab();
  w.str(r.status); w.tab();
  w.str(r.accountId); w.tab();
  w.str(r.premiseId); w.tab();
  w.str(r.pevId); w.tab();
  w.str(r.programId); w.tab();
  w.str(r.tariffId); w.tab();
  w.str(r.currency); w.tab();
  w.integer(r.sessionStartMs); w.tab();
  w.integer(r.sessionEndMs); w.tab();
  w.integer(r.energyWh); w.tab();
  w.integer(r.sessionEnergyWh); w.tab();
  lineNames(w, L, 'kind');
  lineNames(w, L, 'period');
  lineInts(w, L, 'wh');
  lineInts(w, L, 'priceMicro');
  lineInts(w, L, 'amountMinor');
  w.integer(r.incentiveMinor); w.tab();
  w.integer(r.amountMinor); w.tab();
  w.escaped(r.warnCodes.length === 0 ? '[]' : tsvField(r.warnCodes)); w.tab();
  w.str(digestHex); w.tab();
  w.str(runId); w.tab();
  w.integer(updatedMs); w.tab();
  w.str(cycle); w.tab();
  w.str(timeZone); w.tab();
  w.str(configSha);
  w.end();
}

// ------------------------------------------------------------------ export

export type ExportFormat = 'csv' | 'json';

interface CurrentRow {
  period_from_ms: number;
  period_to_ms: number;
  session_id: string;
  version: number;
  status: RecordStatus;
  account_id: string;
  premise_id: string;
  pev_id: string;
  program_id: string;
  tariff_id: string;
  currency: string;
  session_start_ms: number;
  session_end_ms: number;
  energy_wh: number;
  session_energy_wh: number;
  line_kind: string[];
  line_period: string[];
  line_wh: number[];
  line_price_micro: number[];
  line_amount_minor: number[];
  incentive_minor: number;
  amount_minor: number;
  warn_codes: string[];
  content_digest: string;
  cycle: string;
  time_zone: string;
  config_sha256: string;
  exported_before: [number, number, number][];
}

const EXPORT_ROWS_SQL = `
SELECT
  r.period_from_ms AS period_from_ms, r.period_to_ms AS period_to_ms, r.session_id AS session_id, r.version AS version, r.status AS status, r.account_id AS account_id, r.premise_id AS premise_id,
  r.pev_id AS pev_id, r.program_id AS program_id, r.tariff_id AS tariff_id, r.currency AS currency,
  r.session_start_ms AS session_start_ms, r.session_end_ms AS session_end_ms, r.energy_wh AS energy_wh,
  r.session_energy_wh AS session_energy_wh, r.line_kind AS line_kind, r.line_period AS line_period, r.line_wh AS line_wh,
  r.line_price_micro AS line_price_micro, r.line_amount_minor AS line_amount_minor, r.incentive_minor AS incentive_minor,
  r.amount_minor AS amount_minor, r.warn_codes AS warn_codes, r.content_digest AS content_digest,
  r.cycle AS cycle, r.time_zone AS time_zone, r.config_sha256 AS config_sha256, e.ex AS exported_before
FROM
(
  SELECT *
  FROM {db}.billing_record FINAL
  WHERE cycle = {cycle:String} AND ({cycle:String} != '' OR (period_from_ms = {from_ms:Int64} AND period_to_ms = {to_ms:Int64}))
    AND ({account:String} = '' OR account_id = {account:String})
    AND ({premise:String} = '' OR premise_id = {premise:String})
    AND ({pev:String} = '' OR pev_id = {pev:String})
    AND ({program:String} = '' OR program_id = {program:String})
  ORDER BY session_id, version DESC, updated_ms DESC
  LIMIT 1 BY session_id
) AS r
LEFT JOIN
(
  SELECT session_id, groupArray((version, energy_wh, amount_minor)) AS ex
  FROM (SELECT DISTINCT session_id, version, energy_wh, amount_minor FROM {db}.billing_export
        WHERE cycle = {cycle:String} AND ({cycle:String} != '' OR (period_from_ms = {from_ms:Int64} AND period_to_ms = {to_ms:Int64})))
  GROUP BY session_id
) AS e ON e.session_id = r.session_id
ORDER BY session_id
`;

export interface ExportedRecord {
  session_id: string;
  version: number;
  status: RecordStatus;
  account_id: string;
  premise_id: string;
  pev_id: string;
  program_id: string;
  tariff_id: string;
  currency: string;
  session_start: string;
  session_end: string;
  /** The record's energy in the period (a session crossing the period's edge has more). */
  record_energy_wh: number;
  record_amount_minor: number;
  /** This very version went out in an earlier export ('all' mode only). */
  already_exported: boolean;
  /** Highest version exported before this one (0: none), and the differences from it. */
  previous_version: number;
  delta_energy_wh: number;
  delta_amount_minor: number;
  warn_codes: string[];
  session_energy_wh: number;
  incentive_minor: number;
  content_digest: string;
  /** The bill cycle ('' for a period's record) and the record's period (its account's cycle period). */
  cycle: string;
  period_from: string;
  period_to: string;
  /** The tariff's zone when the record was written (UTC for records from before it was kept), and the session in it. */
  time_zone: string;
  session_start_local: string;
  session_end_local: string;
  /** The operator's review action behind this record (RELEASE, HOLD, ACCEPT_ESTIMATE, CORRECT), its ID and what the run did with it (APPLIED, REHELD, NOT_NEEDED); empty without one. */
  review_action: string;
  review_action_id: string;
  review_outcome: string;
  lines: { kind: string; period: string; wh: number; price_micro_per_kwh: number; amount_minor: number }[];
}

export interface ExportResult {
  exportId: string;
  records: number;
  voided: number;
  energyWh: number;
  amountMinor: number;
  file: string;
}

/**
 * A record's fields, in CSV column order: one list, so the CSV's columns and the JSON's keys
 * cannot drift apart (docs/reconcile.md promises they are the same).
 */
export const EXPORT_RECORD_FIELDS = [
  'session_id', 'version', 'status', 'account_id', 'premise_id', 'pev_id', 'program_id', 'tariff_id', 'currency',
  'session_start', 'session_end', 'record_energy_wh', 'record_amount_minor', 'already_exported', 'previous_version', 'delta_energy_wh',
  'delta_amount_minor', 'warn_codes', 'session_energy_wh', 'incentive_minor', 'content_digest',
  'cycle', 'period_from', 'period_to', 'time_zone', 'session_start_local', 'session_end_local',
  'review_action', 'review_action_id', 'review_outcome',
] as const satisfies readonly Exclude<keyof ExportedRecord, 'lines'>[];
const CSV_HEADER = [...EXPORT_RECORD_FIELDS, 'line_kind', 'line_period', 'line_wh', 'line_price_micro_per_kwh', 'line_amount_minor'];

function csvValue(v: ExportedRecord[(typeof EXPORT_RECORD_FIELDS)[number]]): string | number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (Array.isArray(v)) return v.join(' ');
  return v;
}

/**
 * One CSV field. Spreadsheets run a cell that starts with = + - @ (or a tab or carriage return
 * before one) as a formula: such text is prefixed with ' and quoted, as OWASP's CSV injection
 * advice says. Numbers are written as numbers (a negative delta stays a number).
 */
export function csvField(v: string | number): string {
  if (typeof v === 'number') return String(v);
  const formula = /^[=+\-@\t\r]/.test(v);
  const s = formula ? `'${v}` : v;
  return formula || /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export interface ExportOptions {
  /**
   * 'pending' (default): the records whose current version has not gone out yet: everything on a
   * period's first export, the adjustments afterwards. 'all': every current record, again.
   */
  mode?: 'pending' | 'all';
  nowMs?: number;
  /** Replace an existing file (never a symbolic link); see reconcile/output.ts. */
  force?: boolean;
}

/** Exports the current records of a period (optionally filtered) and freezes what it exported. */
export function exportPeriod(
  store: Store,
  period: Period,
  filters: PeriodFilter,
  format: ExportFormat,
  file: string,
  opts: ExportOptions = {},
): Promise<ExportResult> {
  return exportRecords(store, { cycle: '', period }, filters, format, file, opts);
}

/**
 * Exports the current records of a bill cycle (every account's own cycle period; optionally
 * filtered) and freezes what it exported. Independent of other cycles' exports.
 */
export function exportCycle(
  store: Store,
  cycle: string,
  filters: PeriodFilter,
  format: ExportFormat,
  file: string,
  opts: ExportOptions = {},
): Promise<ExportResult> {
  if (cycle === '') throw new Error('exportCycle: a cycle label is required');
  return exportRecords(store, { cycle, period: { fromMs: 0, toMs: 0 } }, filters, format, file, opts);
}

async function exportRecords(
  store: Store,
  sel: { cycle: string; period: Period },
  filters: PeriodFilter,
  format: ExportFormat,
  file: string,
  opts: ExportOptions,
): Promise<ExportResult> {
  const period = sel.period;
  const mode = opts.mode ?? 'pending';
  const nowMs = opts.nowMs ?? Date.now();
  const rows = await store.select<CurrentRow>(EXPORT_ROWS_SQL, {
    cycle: sel.cycle,
    from_ms: period.fromMs,
    to_ms: period.toMs,
    account: filters.accountId ?? '',
    premise: filters.premiseId ?? '',
    pev: filters.pevId ?? '',
    program: filters.programId ?? '',
  });
  const reviews = await recordReviews(store);
  const records: ExportedRecord[] = [];
  /** Each record's own period (a cycle's accounts bill different ones), and the configuration that priced it. */
  const periods: Period[] = [];
  const configs: string[] = [];
  for (const r of rows) {
    const version = Number(r.version);
    const exportedAll = (r.exported_before ?? []).map((x) => x.map(Number) as [number, number, number]);
    const already = exportedAll.some((x) => x[0] === version);
    if (already && mode === 'pending') continue;
    const before = exportedAll.filter((x) => x[0] < version);
    before.sort((a, b) => b[0] - a[0]);
    const prev = before[0];
    // A VOID version goes out only to cancel something that went out before.
    if (r.status === 'VOID' && prev === undefined) continue;
    const energy = Number(r.energy_wh);
    const amount = Number(r.amount_minor);
    const zone = r.time_zone === '' ? 'UTC' : r.time_zone;
    const own = { fromMs: Number(r.period_from_ms), toMs: Number(r.period_to_ms) };
    periods.push(own);
    configs.push(r.config_sha256);
    const review = reviews.get(reviewKey(own, r.session_id)) ?? NO_REVIEW;
    // In EXPORT_RECORD_FIELDS order: JSON.stringify keeps it.
    records.push({
      session_id: r.session_id,
      version,
      status: r.status,
      account_id: r.account_id,
      premise_id: r.premise_id,
      pev_id: r.pev_id,
      program_id: r.program_id,
      tariff_id: r.tariff_id,
      currency: r.currency,
      session_start: new Date(Number(r.session_start_ms)).toISOString(),
      session_end: new Date(Number(r.session_end_ms)).toISOString(),
      record_energy_wh: energy,
      record_amount_minor: amount,
      already_exported: already,
      previous_version: prev?.[0] ?? 0,
      delta_energy_wh: energy - (prev?.[1] ?? 0),
      delta_amount_minor: amount - (prev?.[2] ?? 0),
      warn_codes: r.warn_codes,
      session_energy_wh: Number(r.session_energy_wh),
      incentive_minor: Number(r.incentive_minor),
      content_digest: r.content_digest,
      cycle: r.cycle,
      period_from: new Date(Number(r.period_from_ms)).toISOString(),
      period_to: new Date(Number(r.period_to_ms)).toISOString(),
      time_zone: zone,
      session_start_local: formatLocal(zone, Number(r.session_start_ms)),
      session_end_local: formatLocal(zone, Number(r.session_end_ms)),
      review_action: review.action,
      review_action_id: review.actionId,
      review_outcome: review.outcome,
      lines: r.line_kind.map((kind, i) => ({
        kind,
        period: r.line_period[i] ?? '',
        wh: Number(r.line_wh[i]),
        price_micro_per_kwh: Number(r.line_price_micro[i]),
        amount_minor: Number(r.line_amount_minor[i]),
      })),
    });
  }
  let text = '';
  if (format === 'json') {
    for (const rec of records) text += JSON.stringify(rec) + '\n';
  } else {
    text = CSV_HEADER.join(',') + '\n';
    for (const rec of records) {
      const head = EXPORT_RECORD_FIELDS.map((f) => csvField(csvValue(rec[f])));
      // A record without bill lines still takes one row: 'void' when it cancels a version, 'none'
      // when it bills nothing (0 Wh in the period), which a billing system must not read as a void.
      const lines = rec.lines.length > 0 ? rec.lines : [{ kind: rec.status === 'VOID' ? 'void' : 'none', period: '', wh: 0, price_micro_per_kwh: 0, amount_minor: 0 }];
      for (const l of lines) {
        text += [...head, ...[l.kind, l.period, l.wh, l.price_micro_per_kwh, l.amount_minor].map(csvField)].join(',') + '\n';
      }
    }
  }
  // Written before the export is recorded: a file that cannot be written freezes nothing.
  writeOutput(file, text, { force: opts.force === true, flag: '--out' });
  const exportId = randomUUID();
  await insertRows(
    store,
    'billing_export',
    ['export_id', 'period_from_ms', 'period_to_ms', 'session_id', 'version', 'status', 'content_digest', 'energy_wh', 'amount_minor', 'exported_ms', 'format', 'file', 'cycle', 'account_id', 'config_sha256'],
    records.map((rec, i) => [exportId, periods[i]!.fromMs, periods[i]!.toMs, rec.session_id, rec.version, rec.status, rec.content_digest, rec.record_energy_wh, rec.record_amount_minor, nowMs, format, basename(file), sel.cycle, rec.account_id, configs[i]!]),
  );
  // What this export covered, even where it carried nothing: a record of these filters that
  // appears later is an adjustment (export-scope.ts).
  await insertRows(
    store,
    'billing_export_scope',
    ['export_id', 'period_from_ms', 'period_to_ms', 'cycle', 'filter_account', 'filter_premise', 'filter_pev', 'filter_program', 'exported_ms'],
    [[exportId, period.fromMs, period.toMs, sel.cycle, filters.accountId ?? '', filters.premiseId ?? '', filters.pevId ?? '', filters.programId ?? '', nowMs]],
  );
  let energyWh = 0;
  let amountMinor = 0;
  let voided = 0;
  for (const rec of records) {
    energyWh += rec.record_energy_wh;
    amountMinor += rec.record_amount_minor;
    if (rec.status === 'VOID') voided++;
  }
  return { exportId, records: records.length, voided, energyWh, amountMinor, file };
}
