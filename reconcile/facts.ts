/**
 * Per-session facts for a period, gathered in a few set-based queries: never one query per
 * session. Sessions are read in batches by session_id range (the raw tables' sort key starts with
 * session_id, so a range reads only its part of each table and aggregates in key order); each
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
 * Deduplication follows the read views (002): per (session_id, seq) the first received copy
 * counts (smallest (src_partition, src_offset)); copies with other content are conflicts. The
 * per-interval rows of a session come as parallel arrays; the offsets and hashes only for the
 * sessions that have copies, so a clean session's row stays small.
 */
import type { Store } from '../aggregate/store/types.js';
import type { EnrollmentFact, IntervalFact, Period, PeriodFilter, SessionFacts } from './types.js';

const DAY_MS = 86_400_000;

/** Dead-letter codes that explain a missing interval, by the flag they support. */
export const DEAD_NEGATIVE_CODES = ['PEV_NEGATIVE_ENERGY'] as const;
export const DEAD_CLOCK_CODES = ['PEV_FUTURE_TIME', 'PEV_TIME_RANGE', 'PEV_INTERVAL_LENGTH'] as const;

const FACTS_SQL = `
SELECT
  if(i.session_id != '', i.session_id, e.session_id) AS sid,
  i.esci, i.eumd, i.pev, i.premises,
  i.seqs, i.starts, i.lens, i.energies, i.regs, i.quals, i.parts, i.offs, i.hashes,
  e.ev_premises, e.ev_pev, e.ev_esci, e.t0, e.t1,
  e.n_start, e.st, e.n_request, e.req, e.n_available, e.av, e.n_progress, e.pr, e.n_end, e.en,
  v.reports, v.vehicle_wh, v.last_report_ms,
  d.dead_negative, d.dead_clock, d.dead_total
FROM
(
  SELECT
    session_id,
    any(esci_id) AS esci, any(eumd_id) AS eumd, any(pev_id) AS pev, groupUniqArray(premise_id) AS premises,
    groupArray(seq) AS seqs,
    groupArray(toUInt32(interval_start)) AS starts,
    groupArray(interval_s) AS lens,
    groupArray(energy_wh) AS energies,
    groupArray(register_wh) AS regs,
    groupArray(quality) AS quals,
    count() != uniqExact(seq) AS has_copies,
    if(has_copies, groupArray(src_partition), []) AS parts,
    if(has_copies, groupArray(src_offset), []) AS offs,
    if(has_copies, groupArray(toString(content_hash)), []) AS hashes,
    min(interval_start) AS first_start,
    max(interval_start + interval_s) AS last_end
  FROM {db}.interval_raw
  WHERE session_id >= {lo:String} AND session_id < {hi:String}
    AND ((interval_start >= toDateTime({wfrom_s:Int64}, 'UTC') AND interval_start < toDateTime({wto_s:Int64}, 'UTC'))
         OR interval_start >= toDateTime({asof_s:Int64}, 'UTC'))
  GROUP BY session_id
) AS i
FULL OUTER JOIN
(
  SELECT
    session_id,
    groupUniqArray(premise_id) AS ev_premises, any(pev_id) AS ev_pev, any(esci_id) AS ev_esci,
    min(event_time_ms) AS t0, max(event_time_ms) AS t1,
    countIf(event_type = 'START') AS n_start,
    argMinIf((binding, plug_in_ms), (event_seq, src_partition, src_offset), event_type = 'START') AS st,
    countIf(event_type = 'REQUEST') AS n_request,
    argMaxIf((requested_wh, max_rate_w), (event_seq, -src_partition, -src_offset), event_type = 'REQUEST') AS req,
    countIf(event_type = 'AVAILABLE') AS n_available,
    argMaxIf((granted_wh, rate_w, schedule_start_ms, schedule_end_ms, delay_reason), (event_seq, -src_partition, -src_offset), event_type = 'AVAILABLE') AS av,
    countIf(event_type = 'PROGRESS') AS n_progress,
    argMaxIf((running_wh, intervals), (event_seq, -src_partition, -src_offset), event_type = 'PROGRESS') AS pr,
    countIf(event_type = 'END') AS n_end,
    argMaxIf((start_ms, end_ms, duration_s, energy_wh), (event_seq, -src_partition, -src_offset), event_type = 'END') AS en
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
    uniqExact((src_topic, src_partition, src_offset, record_index)) AS dead_total
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

type Row = unknown[];

export interface FactsBatch {
  index: number;
  of: number;
  range: { lo: string; hi: string };
  sessions: SessionFacts[];
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

  constructor(
    private readonly store: Store,
    private readonly q: FactsQuery,
  ) {
    const span = q.maxSpanDays * DAY_MS;
    const wfrom = q.period.fromMs - span;
    const wto = q.period.toMs + span;
    this.params = {
      wfrom_s: Math.floor(wfrom / 1000),
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

  async *read(): AsyncGenerator<FactsBatch> {
    for (let b = 0; b < this.ranges.length; b++) {
      const range = this.ranges[b]!;
      const sessions: SessionFacts[] = [];
      const rs = await this.store.client.query({
        query: FACTS_SQL.replaceAll('{db}', this.store.database),
        format: 'JSONCompactEachRow',
        query_params: { ...this.params, lo: range.lo, hi: range.hi },
        clickhouse_settings: { output_format_json_quote_64bit_integers: 0, optimize_aggregation_in_order: 1, join_use_nulls: 0 },
      });
      for await (const rows of rs.stream<Row>()) {
        for (const row of rows) {
          const f = this.toFacts(row.json());
          if (f !== null) sessions.push(f);
        }
      }
      sessions.sort((a, b) => (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0));
      yield { index: b, of: this.ranges.length, range, sessions };
    }
  }

  private toFacts(r: Row): SessionFacts | null {
    let c = 0;
    const next = (): unknown => r[c++];
    const sessionId = next() as string;
    const esci = next() as string;
    const eumd = next() as string;
    const pev = next() as string;
    const premises = next() as string[];
    const seqs = next() as number[];
    const starts = next() as number[];
    const lens = next() as number[];
    const energies = next() as number[];
    const regs = next() as number[];
    const quals = next() as number[];
    const parts = next() as number[];
    const offs = next() as number[];
    const hashes = next() as string[];
    const evPremises = next() as string[];
    const evPev = next() as string;
    const evEsci = next() as string;
    const t0 = next() as number;
    const t1 = next() as number;
    const nStart = next() as number;
    const st = next() as [string, number];
    const nRequest = next() as number;
    const req = next() as [number, number];
    const nAvailable = next() as number;
    const av = next() as [number, number, number, number, string];
    const nProgress = next() as number;
    const pr = next() as [number, number];
    const nEnd = next() as number;
    const en = next() as [number, number, number, number];
    const reports = next() as number;
    const vehicleWh = next() as number;
    const lastReportMs = next() as number;
    const deadNegative = next() as number;
    const deadClock = next() as number;
    const deadTotal = next() as number;

    const copies: IntervalCopy[] = new Array<IntervalCopy>(seqs.length);
    const withCopies = parts.length === seqs.length;
    for (let k = 0; k < seqs.length; k++) {
      copies[k] = {
        seq: seqs[k]!,
        startMs: starts[k]! * 1000,
        lenS: lens[k]!,
        energyWh: energies[k]!,
        registerWh: regs[k]!,
        quality: quals[k]!,
        partition: withCopies ? parts[k]! : 0,
        offset: withCopies ? offs[k]! : 0,
        hash: withCopies ? hashes[k]! : '',
      };
    }
    const intervals = dedupIntervals(copies);
    const premiseIds = [...new Set([...premises, ...evPremises])].filter((p) => p !== '').sort();
    const esciId = esci !== '' ? esci : evEsci;
    const pevId = pev !== '' ? pev : evPev;
    const start = nStart > 0 ? { plugInMs: st[1], binding: st[0] } : null;
    const atMs = start?.plugInMs ?? (intervals.length > 0 ? Math.min(...intervals.map((x) => x.startMs)) : t0);
    const esciPremiseId = this.enrollments.esciPremise(esciId, atMs, premiseIds);
    const premiseForEnrollment = esciPremiseId ?? premiseIds[0] ?? '';
    const enrollment = this.enrollments.enrollment(pevId, premiseForEnrollment, atMs);
    const fl = this.q.filters;
    if (fl.accountId !== undefined && fl.accountId !== '' && enrollment?.accountId !== fl.accountId) return null;
    if (fl.programId !== undefined && fl.programId !== '' && enrollment?.programId !== fl.programId) return null;
    return {
      sessionId,
      esciId,
      eumdId: eumd,
      pevId,
      premiseIds,
      intervals,
      start,
      request: nRequest > 0 ? { requestedWh: req[0], maxRateW: req[1] } : null,
      grant: nAvailable > 0 ? { grantedWh: av[0], rateW: av[1], scheduleStartMs: av[2], scheduleEndMs: av[3], delayReason: av[4] } : null,
      progress: nProgress > 0 ? { runningWh: pr[0], intervals: pr[1] } : null,
      end: nEnd > 0 ? { startMs: en[0], endMs: en[1], durationS: en[2], energyWh: en[3] } : null,
      vehicle: reports > 0 ? { reports, runningWh: vehicleWh, lastReportMs } : null,
      deadLetters: { negative: deadNegative, clock: deadClock, other: deadTotal - deadNegative - deadClock },
      firstEventMs: t0,
      lastEventMs: t1,
      enrollment,
      esciPremiseId,
    };
  }
}
