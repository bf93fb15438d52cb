/**
 * Per-session facts for a period, gathered in a few set-based queries: never one query per
 * session. Sessions are read in batches by session_id range (the raw tables' sort key starts with
 * session_id, so a range reads only its part of each table); each
 * batch is one query that aggregates every session of the range at once, so a million sessions
 * cost a few dozen queries and a batch's rows are all that is in memory.
 *
 * Which sessions. A session touches [from, to) when the span of its intervals and events overlaps
 * it. Its data is read from `sessions.maxSpanDays` before `from` to as long after `to` (partition
 * pruning on interval_start), plus any interval dated after the run's as-of time (a clock in the
 * future must still be seen). Filters on premise and PEV match any record of the session; filters
 * on account and program match the session's enrollment (checked in SQL against the enrollment
 * table and again after the enrollment is resolved here). Every user-supplied value travels as a
 * query parameter.
 *
 * Deduplication follows the read views (002) and the aggregates (006): per (session_id, seq) the
 * first received copy counts (smallest (src_partition, src_offset)); copies with other content are
 * conflicts. Facts read the raw tables, not the aggregates, because interval_raw is partitioned by
 * month and a period's reconcile then reads its period only, and because the validation rules
 * need each interval's meter and quality bits (docs/architecture.md, "Still on other paths"); the
 * property test test/aggregate/rollups-property.test.ts holds both copies of the rule to one answer. The
 * per-interval rows of a session come as parallel arrays, compacted because the result's size is
 * much of a run's cost: seqs only when they are not 0..n-1 in order, lengths only when not
 * constant, quality bits only where set (facts-validation.ts), starts as the first start and
 * differences (none when each is the interval length), registers as the first reading and
 * differences (none when each is the interval's own energy, as on a healthy meter), the offsets
 * and hashes only for the sessions that have copies.
 */
import type { ResultSet } from '@clickhouse/client';
import type { Store } from '../aggregate/store/types.js';
import type { EnrollmentFact, IntervalFact, Period, PeriodFilter, SessionFacts } from './types.js';
import { TsvCursor } from './tsv-read.js';
import { applyValidationFacts, readValidationFacts } from './facts-validation.js';

const DAY_MS = 86_400_000;
/** Sessions evaluated between two turns of the event loop (about 50 ms of work). */
const YIELD_EVERY_ROWS = 1024;

/** Dead-letter codes that explain a missing interval, by the flag they support. */
export const DEAD_NEGATIVE_CODES = ['PEV_NEGATIVE_ENERGY'] as const;
export const DEAD_CLOCK_CODES = ['PEV_FUTURE_TIME', 'PEV_TIME_RANGE', 'PEV_INTERVAL_LENGTH'] as const;

const FACTS_SQL = `
SELECT
  if(i.session_id != '', i.session_id, e.session_id) AS sid,
  i.esci, i.pev, i.premises,
  i.n, i.seqs, i.slot0, i.slot_steps, i.energies, i.reg0, i.reg_steps, i.parts, i.offs, i.hashes,
  if(i.session_id != '' AND arraySort(e.ev_premises) = arraySort(i.premises), [], e.ev_premises),
  if(i.session_id != '', '', e.ev_pev), if(i.session_id != '', '', e.ev_esci), e.t0, e.t1, e.kinds,
  e.st.4, e.st.5,
  e.req.4, e.req.5,
  e.av.4, e.av.5, e.av.6, e.av.7, e.av.8,
  e.pr.4, e.pr.5,
  e.en.4, e.en.5, e.en.6, e.en.7,
  v.reports, v.vehicle_wh, v.last_report_ms,
  d.dead_negative, d.dead_clock, d.dead_total,
  i.eumds, i.q_seqs, i.q_bits, d.dead_payloads
FROM
(
  SELECT
    session_id,
    any(esci_id) AS esci, any(pev_id) AS pev, groupUniqArray(premise_id) AS premises,
    count() AS n,
    groupArray(seq) AS seqs_all,
    if(seqs_all = range(toUInt32(n)), [], seqs_all) AS seqs,
    -- One array for start and length: seconds from the window start * 65536 + interval_s.
    groupArray((toInt64(toUInt32(interval_start)) - {wfrom_s:Int64}) * 65536 + interval_s) AS slots_all,
    slots_all[1] AS slot0,
    min(interval_s) AS len_min,
    if(len_min = max(interval_s) AND arrayAll(x -> x = len_min * 65536, arrayPopFront(arrayDifference(slots_all))), [], arrayDifference(slots_all)) AS slot_steps,
    groupArray(energy_wh) AS energies,
    groupArray(register_wh) AS regs_all,
    regs_all[1] AS reg0,
    if(arrayPopFront(arrayDifference(regs_all)) = arrayPopFront(energies), [], arrayDifference(regs_all)) AS reg_steps,
    n != uniqExact(seq) AS has_copies,
    if(has_copies, groupArray(src_partition), []) AS parts,
    if(has_copies, groupArray(src_offset), []) AS offs,
    if(has_copies, groupArray(toString(content_hash)), []) AS hashes,
    min(interval_start) AS first_start,
    max(interval_start + interval_s) AS last_end,
    -- Validation facts (readValidationFacts): the meter, and the quality bits only where set.
    arraySort(groupUniqArray(eumd_id)) AS eumds,
    groupArrayIf(seq, quality != 0) AS q_seqs,
    groupArrayIf(quality, quality != 0) AS q_bits
  FROM {db}.interval_raw
  WHERE session_id >= {lo:String} AND session_id < {hi:String}
    AND ((interval_start >= toDateTime({wfrom_s:Int64}, 'UTC') AND interval_start < toDateTime({wto_s:Int64}, 'UTC'))
         OR interval_start >= toDateTime({asof_s:Int64}, 'UTC'))
  GROUP BY session_id
) AS i
FULL OUTER JOIN
(
  -- Per event type, the latest event_seq and of its copies the first received: the max (min for
  -- START, the earliest) of a tuple led by (event_seq, -partition, -offset). One aggregate per
  -- type instead of a key and a value each: the events are a third of a run's SQL time.
  SELECT
    session_id,
    groupUniqArray(premise_id) AS ev_premises, any(pev_id) AS ev_pev, any(esci_id) AS ev_esci,
    min(event_time_ms) AS t0, max(event_time_ms) AS t1,
    groupBitOr(multiIf(event_type = 'START', 1, event_type = 'REQUEST', 2, event_type = 'AVAILABLE', 4, event_type = 'PROGRESS', 8, event_type = 'END', 16, 0)) AS kinds,
    minIf((event_seq, src_partition, src_offset, binding, plug_in_ms), event_type = 'START') AS st,
    maxIf((event_seq, -src_partition, -src_offset, requested_wh, max_rate_w), event_type = 'REQUEST') AS req,
    maxIf((event_seq, -src_partition, -src_offset, granted_wh, rate_w, schedule_start_ms, schedule_end_ms, delay_reason), event_type = 'AVAILABLE') AS av,
    maxIf((event_seq, -src_partition, -src_offset, running_wh, intervals), event_type = 'PROGRESS') AS pr,
    maxIf((event_seq, -src_partition, -src_offset, start_ms, end_ms, duration_s, energy_wh), event_type = 'END') AS en
  FROM {db}.session_event_raw
  WHERE session_id >= {lo:String} AND session_id < {hi:String}
    AND event_time_ms >= {wfrom_ms:Int64} AND event_time_ms < {wto_ms:Int64}
  GROUP BY session_id
) AS e ON e.session_id = i.session_id
LEFT JOIN
(
  SELECT
    session_id,
    uniqExact(report_time_ms) AS reports,
    argMax(running_wh, (report_time_ms, -src_partition, -src_offset)) AS vehicle_wh,
    max(report_time_ms) AS last_report_ms
  FROM {db}.vehicle_report_raw
  WHERE session_id >= {lo:String} AND session_id < {hi:String}
    AND report_time_ms >= {wfrom_ms:Int64} AND report_time_ms < {wto_ms:Int64}
  GROUP BY session_id
) AS v ON v.session_id = sid
LEFT JOIN
(
  SELECT
    session_id,
    uniqExactIf((src_topic, src_partition, src_offset, record_index), code IN ('${DEAD_NEGATIVE_CODES.join("', '")}')) AS dead_negative,
    uniqExactIf((src_topic, src_partition, src_offset, record_index), code IN ('${DEAD_CLOCK_CODES.join("', '")}')) AS dead_clock,
    uniqExact((src_topic, src_partition, src_offset, record_index)) AS dead_total,
    -- Dead letters of the interval topic (whatever it is named: the topic interval_raw's rows came
    -- from), but for a seq out of range, which names no slot of the session.
    groupArrayIf(payload_base64, code != 'PEV_SEQ_RANGE' AND src_topic IN (SELECT DISTINCT src_topic FROM {db}.interval_raw WHERE session_id >= {lo:String} AND session_id < {hi:String})) AS dead_payloads
  FROM {db}.dead_letter
  WHERE session_id >= {lo:String} AND session_id < {hi:String}
  GROUP BY session_id
) AS d ON d.session_id = sid
WHERE
  least(if(i.session_id != '', toInt64(toUInt32(i.first_start)) * 1000, 9223372036854775807), if(e.session_id != '', e.t0, 9223372036854775807)) < {to_ms:Int64}
  AND greatest(if(i.session_id != '', toInt64(toUInt32(i.last_end)) * 1000, 0), if(e.session_id != '', e.t1, 0)) > {from_ms:Int64}
  AND ({premise:String} = '' OR has(i.premises, {premise:String}) OR has(e.ev_premises, {premise:String}))
  AND ({pev:String} = '' OR i.pev = {pev:String} OR e.ev_pev = {pev:String})
  AND ({account:String} = '' OR if(i.session_id != '', i.pev, e.ev_pev) IN (SELECT pev_id FROM {db}.enrollment WHERE account_id = {account:String}))
  AND ({program:String} = '' OR if(i.session_id != '', i.pev, e.ev_pev) IN (SELECT pev_id FROM {db}.enrollment WHERE program_id = {program:String}))
`;

const ENROLLMENT_SQL = `
SELECT pev_id, premise_id, valid_from_ms, e.1 AS account_id, e.2 AS program_id, e.3 AS tariff_id, e.4 AS esci_id, e.5 AS eumd_id, e.6 AS valid_to_ms, e.7 AS rated_power_w
FROM
(
  SELECT pev_id, premise_id, valid_from_ms,
    argMax((account_id, program_id, tariff_id, esci_id, eumd_id, valid_to_ms, rated_power_w), (ingested_ms, src_partition, src_offset)) AS e
  FROM {db}.enrollment
  WHERE valid_from_ms < {wto_ms:Int64}
  GROUP BY pev_id, premise_id, valid_from_ms
)
WHERE e.6 = 0 OR e.6 > {wfrom_ms:Int64}
`;

const ESTIMATE_SQL = `
SELECT uniq(session_id) AS n
FROM {db}.interval_raw
WHERE interval_start >= toDateTime({wfrom_s:Int64}, 'UTC') AND interval_start < toDateTime({wto_s:Int64}, 'UTC')
`;

/** Enrollments by PEV and by ESCI, newest validity first. */
export class EnrollmentIndex {
  private readonly byPev = new Map<string, EnrollmentFact[]>();
  private readonly byEsci = new Map<string, EnrollmentFact[]>();

  constructor(rows: readonly EnrollmentFact[]) {
    const sorted = [...rows].sort((a, b) => b.validFromMs - a.validFromMs);
    for (const r of sorted) {
      push(this.byPev, r.pevId, r);
      push(this.byEsci, r.esciId, r);
    }
  }

  /** Every enrollment, each once. */
  list(): EnrollmentFact[] {
    return [...this.byPev.values()].flat();
  }

  get size(): number {
    let n = 0;
    for (const list of this.byPev.values()) n += list.length;
    return n;
  }

  /** Premise the ESCI belongs to at `atMs`; of several, the one the session reports if it is one of them. */
  esciPremise(esciId: string, atMs: number, reported: readonly string[]): string | null {
    const list = this.byEsci.get(esciId);
    if (list === undefined) return null;
    let found: string | null = null;
    for (const e of list) {
      if (!validAt(e, atMs)) continue;
      if (reported.includes(e.premiseId)) return e.premiseId;
      found ??= e.premiseId;
    }
    return found;
  }

  /** The PEV's enrollment at a premise valid at `atMs`. */
  enrollment(pevId: string, premiseId: string, atMs: number): EnrollmentFact | null {
    for (const e of this.byPev.get(pevId) ?? []) if (e.premiseId === premiseId && validAt(e, atMs)) return e;
    return null;
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list === undefined) m.set(k, [v]);
  else list.push(v);
}

function validAt(e: EnrollmentFact, t: number): boolean {
  return e.validFromMs <= t && (e.validToMs === 0 || t < e.validToMs);
}

/** One stored copy of an interval, as read. */
export interface IntervalCopy {
  seq: number;
  startMs: number;
  lenS: number;
  energyWh: number;
  registerWh: number;
  quality: number;
  partition: number;
  offset: number;
  hash: string;
}

/**
 * Read-time deduplication of a session's stored interval copies: per seq, the copy received first
 * (smallest partition, then offset) counts; distinct contents (by hash) above one are a conflict.
 */
export function dedupIntervals(copies: IntervalCopy[]): IntervalFact[] {
  copies.sort((a, b) => a.seq - b.seq || a.partition - b.partition || a.offset - b.offset);
  const out: IntervalFact[] = [];
  for (let k = 0; k < copies.length; ) {
    const first = copies[k]!;
    let j = k + 1;
    const hashes = new Set<string>([first.hash]);
    let delta = 0;
    while (j < copies.length && copies[j]!.seq === first.seq) {
      const c = copies[j]!;
      if (!hashes.has(c.hash)) {
        hashes.add(c.hash);
        delta = Math.max(delta, Math.abs(c.energyWh - first.energyWh));
      }
      j++;
    }
    out.push({
      seq: first.seq,
      startMs: first.startMs,
      lenS: first.lenS,
      energyWh: first.energyWh,
      registerWh: first.registerWh,
      quality: first.quality,
      copies: hashes.size,
      conflictDeltaWh: delta,
    });
    k = j;
  }
  return out;
}

/** Session ID ranges covering every string: 'S-' then the first two hex digits split evenly. */
export function sessionRanges(batches: number): { lo: string; hi: string }[] {
  const n = Math.max(1, Math.min(256, batches));
  const out: { lo: string; hi: string }[] = [];
  const edge = (b: number): string => 'S-' + Math.floor((b * 256) / n).toString(16).padStart(2, '0');
  for (let b = 0; b < n; b++) {
    // Outer edges: '' and U+007F bound every ASCII ID, and validation admits nothing else.
    out.push({ lo: b === 0 ? '' : edge(b), hi: b === n - 1 ? '\u007f' : edge(b + 1) });
  }
  return out;
}

export interface FactsQuery {
  period: Period;
  filters: PeriodFilter;
  asOfMs: number;
  maxSpanDays: number;
  batchSessions: number;
}

export interface FactsBatch<T = undefined> {
  index: number;
  of: number;
  range: { lo: string; hi: string };
  /** What `read`'s `alongside` returned for this batch's range (see `read`). */
  alongside: Promise<T>;
  /** Calls `fn` with each session of the batch (in no particular order); resolves to the count. */
  each(fn: (f: SessionFacts) => void): Promise<number>;
}

/**
 * Reads the facts of every session touching the period, batch by batch. `estimate` is known
 * once `open()` resolves (an approximate count, for progress and the batch count).
 */
export class FactsReader {
  estimate = 0;
  enrollments: EnrollmentIndex = new EnrollmentIndex([]);
  private ranges: { lo: string; hi: string }[] = [];
  private readonly params: Record<string, string | number>;
  private readonly windowFromS: number;

  constructor(
    private readonly store: Store,
    private readonly q: FactsQuery,
  ) {
    const span = q.maxSpanDays * DAY_MS;
    const wfrom = q.period.fromMs - span;
    const wto = q.period.toMs + span;
    this.windowFromS = Math.floor(wfrom / 1000);
    this.params = {
      wfrom_s: this.windowFromS,
      wto_s: Math.ceil(wto / 1000),
      wfrom_ms: wfrom,
      wto_ms: wto,
      asof_s: Math.max(Math.ceil(wto / 1000), Math.floor(q.asOfMs / 1000)),
      from_ms: q.period.fromMs,
      to_ms: q.period.toMs,
      premise: q.filters.premiseId ?? '',
      pev: q.filters.pevId ?? '',
      account: q.filters.accountId ?? '',
      program: q.filters.programId ?? '',
    };
  }

  async open(): Promise<void> {
    const est = await this.store.select<{ n: string | number }>(ESTIMATE_SQL, this.params);
    this.estimate = Number(est[0]?.n ?? 0);
    this.ranges = sessionRanges(Math.ceil(this.estimate / this.q.batchSessions));
    const rows = await this.store.select<Record<string, string | number>>(ENROLLMENT_SQL, this.params);
    this.enrollments = new EnrollmentIndex(
      rows.map((r) => ({
        pevId: String(r['pev_id']),
        premiseId: String(r['premise_id']),
        accountId: String(r['account_id']),
        programId: String(r['program_id']),
        tariffId: String(r['tariff_id']),
        esciId: String(r['esci_id']),
        eumdId: String(r['eumd_id']),
        validFromMs: Number(r['valid_from_ms']),
        validToMs: Number(r['valid_to_ms']),
        ratedPowerW: Number(r['rated_power_w']),
      })),
    );
  }

  get batches(): number {
    return this.ranges.length;
  }

  private query(b: number): Promise<ResultSet<'TabSeparated'>> {
    const range = this.ranges[b]!;
    return this.store.client.query({
      query: FACTS_SQL.replaceAll('{db}', this.store.database),
      format: 'TabSeparated',
      query_params: { ...this.params, lo: range.lo, hi: range.hi },
      // Aggregation in key order was slower here (chDB, 65,536 sessions: 1.35 s vs 0.97 s a batch).
      clickhouse_settings: { join_use_nulls: 0 },
    });
  }

  /**
   * Batches in session-ID order, read one batch ahead. `alongside(range)`, when given, is the
   * caller's own query for a batch's range (its billing state); the reader issues it right after
   * that batch's facts query and hands its promise over with the batch.
   *
   * The order matters on chDB, which runs one query at a time in a queue of its own. Batch k+1's
   * facts and `alongside` queries are issued when batch k's `each` starts, so they are queued
   * ahead of the writes the caller makes after evaluating batch k: ClickHouse (its own threads)
   * works through k+1's reads and k's writes while the caller evaluates, and batch k+1 is ready
   * when the caller is. Issued earlier (before the caller's own queries for batch k), they would
   * delay those; issued later, ClickHouse and the evaluation take turns instead of overlapping.
   */
  async *read<T = undefined>(alongside?: (range: { lo: string; hi: string }) => Promise<T>): AsyncGenerator<FactsBatch<T>> {
    const issue = (b: number): { facts: Promise<ResultSet<'TabSeparated'>>; alongside: Promise<T> } => {
      const facts = this.query(b);
      const other = alongside === undefined ? Promise.resolve(undefined as T) : alongside(this.ranges[b]!);
      // A query issued ahead that fails while the caller is busy must not be an unhandled rejection.
      facts.catch(() => {});
      other.catch(() => {});
      return { facts, alongside: other };
    };
    let next = this.ranges.length > 0 ? issue(0) : undefined;
    for (let b = 0; b < this.ranges.length; b++) {
      const range = this.ranges[b]!;
      const current = next!;
      next = undefined;
      const rs = await current.facts;
      const prefetch = (): void => {
        if (next === undefined && b + 1 < this.ranges.length) next = issue(b + 1);
      };
      let consumed = false;
      const each = async (fn: (f: SessionFacts) => void): Promise<number> => {
        if (consumed) throw new Error('FactsBatch.each: a batch is read once');
        consumed = true;
        prefetch();
        // Facts are built, used and dropped one session at a time: they die young, which keeps
        // a million sessions' objects out of the old generation.
        let count = 0;
        let sinceYield = 0;
        const rows = new TsvCursor(await rs.text());
        while (rows.more) {
          const f = this.toFacts(rows);
          if (f !== null) {
            count++;
            fn(f);
          }
          // The batch's result is read whole, so without this it would be evaluated in one
          // synchronous stretch of seconds, during which no I/O callback runs: chdb-node starts
          // each parameterized query (the next batch's reads) from the completion callback of
          // the one before, so those reads would wait for the evaluation to end.
          if (++sinceYield === YIELD_EVERY_ROWS) {
            sinceYield = 0;
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
        }
        return count;
      };
      yield { index: b, of: this.ranges.length, range, alongside: current.alongside, each };
      if (!consumed) rs.close();
      prefetch();
    }
  }

  /** One row of FACTS_SQL, its columns in SELECT order. */
  private toFacts(r: TsvCursor): SessionFacts | null {
    const sessionId = r.str();
    const esci = r.str();
    const pev = r.str();
    const premises = r.strs();
    const n = r.int();
    const seqList = r.ints();
    const slot0 = r.int();
    const slotSteps = r.ints();
    const energies = r.ints();
    const reg0 = r.int();
    const regSteps = r.ints();
    const parts = r.ints();
    const offs = r.ints();
    const hashes = r.strs();
    const evPremises = r.strs();
    const evPev = r.str();
    const evEsci = r.str();
    const t0 = r.int();
    const t1 = r.int();
    const kinds = r.int();
    const binding = r.str();
    const plugInMs = r.int();
    const requestedWh = r.int();
    const maxRateW = r.int();
    const grantedWh = r.int();
    const rateW = r.int();
    const scheduleStartMs = r.int();
    const scheduleEndMs = r.int();
    const delayReason = r.str();
    const progressWh = r.int();
    const progressIntervals = r.int();
    const endStartMs = r.int();
    const endEndMs = r.int();
    const endDurationS = r.int();
    const endEnergyWh = r.int();
    const reports = r.int();
    const vehicleWh = r.int();
    const lastReportMs = r.int();
    const deadNegative = r.int();
    const deadClock = r.int();
    const deadTotal = r.int();
    const validation = readValidationFacts(r);

    // Arrays arrive compacted (see FACTS_SQL): seqs omitted when 0..n-1 in order; start and
    // length in one number (window offset * 65536 + length), as the first value and differences,
    // none when every step is one interval length; registers as the first reading and
    // differences, none when each equals the interval's own energy.
    const seqs = seqList.length === n ? seqList : null;
    const stepsGiven = slotSteps.length === n;
    const regsGiven = regSteps.length === n;
    const base = this.windowFromS;
    let intervals: IntervalFact[];
    let firstStartMs = Infinity;
    const copies: IntervalCopy[] | null = n > 0 && parts.length === n ? new Array<IntervalCopy>(n) : null;
    const plain: IntervalFact[] | null = copies === null ? new Array<IntervalFact>(n) : null;
    let sorted = true;
    for (let k = 0, slot = slot0, rg = reg0; k < n; k++) {
      if (k > 0) {
        slot += stepsGiven ? slotSteps[k]! : (slot0 % 65536) * 65536;
        rg += regsGiven ? regSteps[k]! : energies[k]!;
      }
      const lenS = slot % 65536;
      const startMs = (base + (slot - lenS) / 65536) * 1000;
      if (startMs < firstStartMs) firstStartMs = startMs;
      const seq = seqs === null ? k : seqs[k]!;
      if (copies !== null) {
        copies[k] = { seq, startMs, lenS, energyWh: energies[k]!, registerWh: rg, quality: 0, partition: parts[k]!, offset: offs[k]!, hash: hashes[k]! };
      } else {
        plain![k] = { seq, startMs, lenS, energyWh: energies[k]!, registerWh: rg, quality: 0, copies: 1, conflictDeltaWh: 0 };
        if (k > 0 && seq < plain![k - 1]!.seq) sorted = false;
      }
    }
    if (copies !== null) {
      // Copies of some seq were stored: deduplicate by arrival.
      intervals = dedupIntervals(copies);
    } else {
      intervals = plain!;
      if (!sorted) intervals.sort((a, b) => a.seq - b.seq);
    }
    const premiseIds = [...new Set([...premises, ...evPremises])].filter((p) => p !== '').sort();
    const esciId = esci !== '' ? esci : evEsci;
    const pevId = pev !== '' ? pev : evPev;
    const start = (kinds & 1) !== 0 ? { plugInMs, binding } : null;
    const atMs = start?.plugInMs ?? (n > 0 ? firstStartMs : t0);
    const esciPremiseId = this.enrollments.esciPremise(esciId, atMs, premiseIds);
    const premiseForEnrollment = esciPremiseId ?? premiseIds[0] ?? '';
    const enrollment = this.enrollments.enrollment(pevId, premiseForEnrollment, atMs);
    const end = (kinds & 16) !== 0 ? { startMs: endStartMs, endMs: endEndMs, durationS: endDurationS, energyWh: endEnergyWh } : null;
    const fl = this.q.filters;
    if (fl.accountId !== undefined && fl.accountId !== '' && enrollment?.accountId !== fl.accountId) return null;
    if (fl.programId !== undefined && fl.programId !== '' && enrollment?.programId !== fl.programId) return null;
    return {
      sessionId,
      esciId,
      eumdId: enrollment?.eumdId ?? '',
      pevId,
      premiseIds,
      intervals,
      start,
      request: (kinds & 2) !== 0 ? { requestedWh, maxRateW } : null,
      grant: (kinds & 4) !== 0 ? { grantedWh, rateW, scheduleStartMs, scheduleEndMs, delayReason } : null,
      progress: (kinds & 8) !== 0 ? { runningWh: progressWh, intervals: progressIntervals } : null,
      end,
      vehicle: reports > 0 ? { reports, runningWh: vehicleWh, lastReportMs } : null,
      deadLetters: { negative: deadNegative, clock: deadClock, other: deadTotal - deadNegative - deadClock },
      firstEventMs: t0,
      lastEventMs: t1,
      enrollment,
      esciPremiseId,
      ...applyValidationFacts(validation, intervals, (endMs) => this.enrollments.enrollment(pevId, premiseForEnrollment, endMs - 1), sessionId, end, t1),
    };
  }
}
