/**
 * One reconciliation run over a period: read the facts batch by batch, measure, apply the rules,
 * bill what is not held, version the billing records, store the session results, and gather what
 * the report shows. The library entry point is `reconcilePeriod`; the CLI (command.ts) and the
 * benchmark call it.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from '../aggregate/store/types.js';
import { PevmeterError } from '../schemas/errors.js';
import {
  BILLING_COLUMNS, adjustmentFor, billedContent, contentDigest, decide, loadStates,
  voidContent, writeBillingRow, type RecordContent, type RecordState, type SessionIdentity,
} from './billing.js';
import { CyclePlan, loadCycleStates, zoneOf } from './cycles.js';
import { checkPeriodOverlap, covered, loadScopes } from './export-scope.js';
import { configHash, resolveConfig, type ProgramConfig, type ReconcileConfig } from './config.js';
import { insertRows, insertWritten, tsvField } from './tsv.js';
import { TsvWriter, escapeTsv } from '../aggregate/store/tsv.js';
import { FactsReader } from './facts.js';
import { markEstimated } from './estimate.js';
import { PeriodLease, type LeaseOptions } from './lease.js';
import { measure } from './measures.js';
import { ReviewBook, scalePieces, type ReviewSummary } from './review/apply.js';
import { evaluateRules, isHeld, type RuleContext } from './rules/index.js';
import { ALL_TIME, TouCalendar, minuteSeries, priceSplit, splitPieces, type PricedBill, type Stretches } from './tou.js';
import { FLAG_CODES, type Flag, type FlagCode, type Period, type PeriodFilter, type SessionFacts, type SessionMeasures } from './types.js';

const DAY_MS = 86_400_000;

export interface ReconcileProgress {
  phase: 'open' | 'batch' | 'done';
  batch: number;
  batches: number;
  sessions: number;
  estimate: number;
  elapsedMs: number;
}

export interface ReconcileOptions {
  /** The run's "now": intervals after it are in the future; UNFINISHED means no summary by then. Default: Date.now(). */
  asOfMs?: number;
  onProgress?: (p: ReconcileProgress) => void;
  /** The run's ID (default: a new UUID); a caller holding the lease passes the ID it took it with. */
  runId?: string;
  /** The period's lease, when the caller holds it (to export under it too); else the run takes its own (lease.ts). */
  lease?: PeriodLease;
  leaseOptions?: LeaseOptions;
  /** Zone the report shows the period in beside UTC (the one local dates were read in); default: the tariffs' zone when they share one, else UTC. */
  timeZone?: string;
  /** Re-price exported records under this run's configuration (new versions, ADJUSTMENT) instead of keeping the configuration they went out under. */
  reprice?: boolean;
  /** The configuration file's text, kept beside its resolved form in reconcile_config. */
  configText?: string;
}

/** Every configuration a run has used, by its hash (reconcile_config), resolved again. */
async function loadConfigHistory(store: Store): Promise<Map<string, ReconcileConfig>> {
  const rows = await store.select<{ sha: string; json: string }>('SELECT config_sha256 AS sha, any(config_json) AS json FROM {db}.reconcile_config GROUP BY config_sha256');
  const out = new Map<string, ReconcileConfig>();
  for (const r of rows) {
    try {
      out.set(r.sha, resolveConfig(JSON.parse(r.json)));
    } catch {
      // A configuration this version can no longer read: its records are re-priced under the current one.
    }
  }
  return out;
}

export interface HeldSample {
  sessionId: string;
  accountId: string;
  premiseId: string;
  pevId: string;
  startMs: number;
  endMs: number;
  /** The session's tariff zone (cycles.timeZone when unpriced): local times beside UTC. */
  timeZone: string;
  eumdWh: number;
  intervalSumWh: number;
  vehicleWh: number | null;
  summaryWh: number | null;
  flags: Flag[];
  /** UTC minute start (ms) and Wh. */
  minutes: [number, number][];
  gapRanges: [number, number][];
  /** Intervals a flag points at: start, end, code. */
  marks: [number, number, string][];
}

export interface RunSummary {
  runId: string;
  /** The period reconciled; for a cycle run, the window its facts were read over (each account bills its own cycle period). */
  period: Period;
  /** The bill cycle ('2026-10'), or '' for a run over an explicit period. */
  cycle: string;
  /** Zone the period is shown in beside UTC. */
  timeZone: string;
  filters: PeriodFilter;
  asOfMs: number;
  configSha256: string;
  startedMs: number;
  finishedMs: number;
  sessions: number;
  billed: number;
  held: number;
  /** EUMD energy of every session reconciled, whole sessions. */
  eumdWh: number;
  /** Billed energy inside the period, and the amount, per currency. */
  billedWh: number;
  amountMinor: Record<string, number>;
  incentiveMinor: Record<string, number>;
  flags: Record<FlagCode, { sessions: number; warn: number; hold: number }>;
  /** Sessions held, by the hold codes they carry. */
  heldBy: Partial<Record<FlagCode, number>>;
  records: { created: number; rewritten: number; newVersions: number; unchanged: number; voided: number };
  adjustments: number;
  histogram: {
    binPercent: number;
    rangePercent: number;
    /** counts[i] covers [-range + i*bin, -range + (i+1)*bin) percent. */
    counts: number[];
    below: number;
    above: number;
    withVehicle: number;
    toleranceShare: number;
    toleranceWh: number;
  };
  heldSamples: HeldSample[];
  heldSampleCap: number;
  /** What the run did with operators' review actions (review/apply.ts). */
  review: ReviewSummary;
  batches: number;
  sessionsPerSecond: number;
  /**
   * Exported records whose bill under this run's configuration differs from the bill under the
   * configuration they went out under: `kept` as exported (the default), or `repriced` (new
   * versions, with --reprice). `sessions`: the first 100 of them.
   */
  reprice: { kept: number; repriced: number; sessions: string[] };
  /**
   * Where the time went, ms: waiting for a batch's facts query, loading its billing state,
   * parsing and evaluating its sessions (rules, pricing, rows), waiting for the writes before it.
   */
  timings: { openMs: number; readMs: number; stateMs: number; evaluateMs: number; writeMs: number };
}

/** Parses a period bound: ISO 8601 with a zone, or epoch ms. Local times without a zone are refused. */
export function parseInstant(name: string, v: string | number): number {
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (/^-?\d+$/.test(v)) ms = Number(v);
  else {
    if (!/(Z|[+-]\d\d:?\d\d)$/.test(v) && !/^\d{4}-\d{2}-\d{2}$/.test(v)) {
      throw new PevmeterError('PEV_INPUT', `${name}: ${JSON.stringify(v)} has no time zone; write an instant (2026-10-01T00:00:00Z) or a local date (2026-10-01, 2026-10)`);
    }
    ms = Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v);
  }
  if (!Number.isInteger(ms)) throw new PevmeterError('PEV_INPUT', `${name}: ${JSON.stringify(v)} is not an ISO 8601 date-time or epoch milliseconds`);
  return ms;
}

export function checkPeriod(period: Period): void {
  if (!(period.toMs > period.fromMs)) {
    throw new PevmeterError('PEV_INPUT', `period: to (${new Date(period.toMs).toISOString()}) must be after from (${new Date(period.fromMs).toISOString()})`);
  }
  if (period.toMs - period.fromMs > 400 * DAY_MS) throw new PevmeterError('PEV_INPUT', 'period: at most 400 days');
}

const SESSION_COLUMNS = [
  'period_from_ms', 'period_to_ms', 'session_id', 'run_id', 'run_seq', 'status', 'account_id', 'premise_id', 'pev_id',
  'esci_id', 'program_id', 'tariff_id', 'session_start_ms', 'session_end_ms', 'eumd_wh', 'interval_sum_wh', 'period_wh',
  'has_end', 'esci_wh', 'has_vehicle', 'vehicle_wh', 'has_grant', 'granted_wh', 'intervals_seen', 'intervals_missing',
  'flag_code', 'flag_severity', 'flag_observed', 'flag_threshold', 'flag_detail', 'cycle',
] as const;

/** A cycle run bills whole sessions: the pricing split sees no edge. */
const ALL_PERIOD: Period = { fromMs: -8.64e15, toMs: 8.64e15 };

/** A batch's rows start in a buffer of this size and double as needed. */
const ROWS_INITIAL_BYTES = 4 * 1024 * 1024;

/** Appends a session's result as one TSV row in SESSION_COLUMNS order (a million a run). */
function writeSessionRow(
  w: TsvWriter, head: string, runTail: string, status: string, id: SessionIdentity,
  f: SessionFacts, m: SessionMeasures, periodWh: number, flags: readonly Flag[], cycle: string,
): void {
  w.escaped(head);
  w.str(f.sessionId); w.tab();
  w.escaped(runTail);
  w.str(status); w.tab();
  w.str(id.accountId); w.tab();
  w.str(id.premiseId); w.tab();
  w.str(f.pevId); w.tab();
  w.str(f.esciId); w.tab();
  w.str(id.programId); w.tab();
  w.str(id.tariffId); w.tab();
  w.integer(m.startMs); w.tab();
  w.integer(m.endMs); w.tab();
  w.integer(m.eumdWh); w.tab();
  w.integer(m.intervalSumWh); w.tab();
  w.integer(periodWh); w.tab();
  w.integer(f.end === null ? 0 : 1); w.tab();
  w.integer(f.end?.energyWh ?? 0); w.tab();
  w.integer(f.vehicle === null ? 0 : 1); w.tab();
  w.integer(f.vehicle?.runningWh ?? 0); w.tab();
  w.integer(f.grant === null ? 0 : 1); w.tab();
  w.integer(f.grant?.grantedWh ?? 0); w.tab();
  w.integer(m.seen); w.tab();
  w.integer(m.missing); w.tab();
  if (flags.length === 0) {
    w.escaped('[]\t[]\t[]\t[]\t[]');
  } else {
    w.escaped(
      `${tsvField(flags.map((x) => x.code))}\t${tsvField(flags.map((x) => x.severity))}\t${tsvField(flags.map((x) => JSON.stringify(x.observed)))}\t` +
        `${tsvField(flags.map((x) => JSON.stringify(x.threshold)))}\t${tsvField(flags.map((x) => x.detail ?? ''))}`,
    );
  }
  w.tab();
  w.str(cycle);
  w.end();
}

/** The tariffs' zone when they all share one, else UTC. */
function displayZone(cfg: ReconcileConfig): string {
  const zones = new Set(Object.values(cfg.tariffs).map((t) => t.timeZone));
  return zones.size === 1 ? [...zones][0]! : 'UTC';
}

let lastSeq = 0;
/** Strictly increasing per process; across processes, runs a millisecond apart order by time. */
function nextRunSeq(): number {
  const s = Math.max(Date.now() * 1000, lastSeq + 1);
  lastSeq = s;
  return s;
}

function emptyFlags(): RunSummary['flags'] {
  return Object.fromEntries(FLAG_CODES.map((c) => [c, { sessions: 0, warn: 0, hold: 0 }])) as RunSummary['flags'];
}

/** Interval marks for the report: the intervals a flag is about. */
function marksOf(f: SessionFacts, m: SessionMeasures, flags: readonly Flag[], cfg: ReconcileConfig): [number, number, string][] {
  const out: [number, number, string][] = [];
  const codes = new Set(flags.map((x) => x.code));
  const limitW = Math.max(f.grant?.rateW ?? 0, f.enrollment?.ratedPowerW ?? 0) || cfg.rules.spike.defaultRatedPowerW;
  let prevEnd = -Infinity;
  let prevSeq = -2;
  for (const x of f.intervals) {
    const end = x.startMs + x.lenS * 1000;
    if (codes.has('DUPLICATE_CONFLICT') && x.copies > 1) out.push([x.startMs, end, 'DUPLICATE_CONFLICT']);
    if (codes.has('NEGATIVE') && x.energyWh < 0) out.push([x.startMs, end, 'NEGATIVE']);
    if (codes.has('SPIKE') && x.energyWh > ((limitW * x.lenS) / 3600) * (1 + cfg.rules.spike.powerTolerance) + cfg.rules.spike.slackWh) out.push([x.startMs, end, 'SPIKE']);
    if (codes.has('CLOCK') && ((x.seq === prevSeq + 1 && x.startMs !== prevEnd) || x.lenS !== m.intervalS)) out.push([x.startMs, end, 'CLOCK']);
    prevEnd = end;
    prevSeq = x.seq;
  }
  return out;
}

/**
 * Reconciles every session touching `period` (optionally filtered), writes the results and billing
 * records, and returns what the report shows. Re-running with the same data writes no new record.
 */
export async function reconcilePeriod(
  store: Store,
  period: Period,
  filters: PeriodFilter,
  cfg: ReconcileConfig,
  opts: ReconcileOptions = {},
): Promise<RunSummary> {
  checkPeriod(period);
  await checkPeriodOverlap(store, period, filters);
  return reconcileRun(store, period, null, filters, cfg, opts);
}

/**
 * Reconciles, for every account (or the filtered ones), the sessions of its own period of bill
 * cycle `cycle` ('2026-10'), in its program's time zone (reconcile/cycles.ts): each session whole,
 * in the one cycle its start falls in.
 */
export async function reconcileCycle(
  store: Store,
  cycle: string,
  filters: PeriodFilter,
  cfg: ReconcileConfig,
  opts: ReconcileOptions = {},
): Promise<RunSummary> {
  const plan = new CyclePlan(cfg, cycle);
  return reconcileRun(store, plan.readWindow, plan, filters, cfg, opts);
}

async function reconcileRun(
  store: Store,
  period: Period,
  plan: CyclePlan | null,
  filters: PeriodFilter,
  cfg: ReconcileConfig,
  opts: ReconcileOptions,
): Promise<RunSummary> {
  const runId = opts.runId ?? randomUUID();
  // One run per period (a cycle's read window) at a time, whatever the store: a second is refused (PEV_RECONCILE_BUSY).
  const lease = opts.lease ?? (await PeriodLease.acquire(store, period, runId, opts.leaseOptions));
  try {
    return await reconcileLeased(store, period, plan, filters, cfg, opts, runId, lease);
  } finally {
    if (opts.lease === undefined) await lease.release();
  }
}

async function reconcileLeased(
  store: Store,
  period: Period,
  plan: CyclePlan | null,
  filters: PeriodFilter,
  cfg: ReconcileConfig,
  opts: ReconcileOptions,
  runId: string,
  lease: PeriodLease,
): Promise<RunSummary> {
  const startedMs = Date.now();
  const asOfMs = opts.asOfMs ?? startedMs;
  const runSeq = nextRunSeq();
  const progress = opts.onProgress ?? (() => {});
  const reviews = await ReviewBook.load(store);
  const cycle = plan === null ? '' : plan.cycle.label;
  // Which exports went out for this period (or cycle), and to whom: ADJUSTMENT on a record that
  // never went out only where an export matching it did (export-scope.ts).
  const scopes = await loadScopes(store, cycle, period);
  const states = plan === null
    ? (range: { lo: string; hi: string }) => loadStates(store, period, range)
    : (range: { lo: string; hi: string }) => loadCycleStates(store, cycle, range);

  const reader = new FactsReader(store, {
    period,
    filters,
    asOfMs,
    maxSpanDays: cfg.sessions.maxSpanDays,
    batchSessions: cfg.sessions.batchSessions,
  });
  await reader.open();
  if (plan !== null) await plan.checkOverlap(store, reader.enrollments.list(), filters);
  progress({ phase: 'open', batch: 0, batches: reader.batches, sessions: 0, estimate: reader.estimate, elapsedMs: Date.now() - startedMs });

  // One calendar per tariff over everything a run can read, built on first use.
  const span = cfg.sessions.maxSpanDays * DAY_MS;
  // Calendars per configuration (the run's, and those exported records were priced with).
  const calendars = new Map<string, TouCalendar>();
  const calendarOf = (c: ReconcileConfig, sha: string, tariffId: string, program: ProgramConfig | null): TouCalendar => {
    // The program's incentive versions are cuts too: one calendar per (configuration, tariff, program dates).
    const dates = (program?.versions ?? []).map((v) => v.effectiveFrom);
    const key = `${sha}|${tariffId}|${dates.join(',')}`;
    let cal = calendars.get(key);
    if (cal === undefined) {
      const t = c.tariffs[tariffId];
      if (t === undefined) throw new Error(`tariff ${tariffId} vanished from the configuration`);
      cal = new TouCalendar(tariffId, t, period.fromMs - span - DAY_MS, Math.max(period.toMs, asOfMs) + span + DAY_MS, dates);
      calendars.set(key, cal);
    }
    return cal;
  };
  const configSha = configHash(cfg);
  // The configuration history: this run's configuration by its hash (the text it was read from
  // too), and every earlier one, so a record exported under one is re-billed under it (below).
  await insertRows(store, 'reconcile_config', ['config_sha256', 'config_json', 'source_text', 'first_used_ms'], [[configSha, JSON.stringify(cfg), opts.configText ?? '', startedMs]]);
  const history = await loadConfigHistory(store);

  /** A session's rules and bill under a configuration (the run's, or an exported record's). */
  const evaluate = (c: ReconcileConfig, sha: string, f: SessionFacts, m: SessionMeasures, billingPeriod: Period) => {
    const e = f.enrollment;
    const program = e === null ? null : (c.programs[e.programId] ?? null);
    const tariffId = e === null || program === null ? null : c.tariffs[e.tariffId] !== undefined ? e.tariffId : program.tariff;
    const cal: Stretches = tariffId === null ? ALL_TIME : calendarOf(c, sha, tariffId, program);
    // Missing intervals no register reading spans: billed as interpolated, when configured (estimate.ts).
    const interpolate = c.rules.estimateShare.method === 'interpolate' && m.interpolatedWh !== 0;
    const billPieces = interpolate ? [...m.pieces, ...m.interpolatedPieces] : m.pieces;
    const splitWindow = plan === null ? period : ALL_PERIOD;
    let split = splitPieces(billPieces, cal, splitWindow);
    let touWh: Record<string, number> | null = null;
    if (tariffId !== null) {
      touWh = {};
      // By period name: a rule speaks of 'peak', whichever tariff version priced it.
      const names = (cal as TouCalendar).baseNames;
      cal.periods.forEach((_, i) => (touWh![names[i]!] = (touWh![names[i]!] ?? 0) + (split.inside[i] ?? 0) + (split.outside[i] ?? 0)));
    }
    const ctx: RuleContext = { asOfMs, period: billingPeriod, program, tariffId, touWh };
    const flags = evaluateRules(f, m, c.rules, ctx);
    const review = reviews.decide(f, m, flags);
    const held = review?.held ?? isHeld(flags);
    const sessionWh = review?.correctedWh ?? (interpolate ? m.eumdWh + m.interpolatedWh : m.eumdWh);
    if (review !== null && review.correctedWh !== null) split = splitPieces(scalePieces(billPieces, review.correctedWh, m.startMs, m.endMs), cal, splitWindow);
    const identity: SessionIdentity = {
      sessionId: f.sessionId,
      accountId: e?.accountId ?? '',
      premiseId: f.esciPremiseId ?? f.premiseIds[0] ?? '',
      pevId: f.pevId,
      programId: e?.programId ?? '',
      tariffId: tariffId ?? '',
      sessionStartMs: m.startMs,
      sessionEndMs: m.endMs,
      sessionEnergyWh: sessionWh,
    };
    let bill: PricedBill | null = null;
    let want: RecordContent | null = null;
    if (!held && tariffId !== null) {
      const codes = flags.map((x) => x.code);
      bill = priceSplit(cal as TouCalendar, split.inside, program ?? undefined, codes);
      if (interpolate && review?.correctedWh == null) markEstimated(bill, cal.periods, splitPieces(m.interpolatedPieces, cal, splitWindow).inside);
      want = billedContent(identity, bill, flags.filter((x) => x.severity === 'warn').map((x) => x.code));
    }
    return { tariffId, split, flags, held, identity, bill, want, sha, zone: zoneOf(c, tariffId), review, sessionWh };
  };

  const R = cfg.report.histogramRangePercent;
  const summary: RunSummary = {
    runId, period, cycle, timeZone: opts.timeZone ?? displayZone(cfg), filters, asOfMs, configSha256: configHash(cfg), startedMs, finishedMs: 0,
    sessions: 0, billed: 0, held: 0, eumdWh: 0, billedWh: 0, amountMinor: {}, incentiveMinor: {},
    flags: emptyFlags(), heldBy: {},
    records: { created: 0, rewritten: 0, newVersions: 0, unchanged: 0, voided: 0 },
    adjustments: 0,
    histogram: {
      binPercent: 1, rangePercent: R, counts: new Array<number>(2 * R).fill(0), below: 0, above: 0, withVehicle: 0,
      toleranceShare: cfg.rules.vehicleMismatch.toleranceShare, toleranceWh: cfg.rules.vehicleMismatch.toleranceWh,
    },
    heldSamples: [], heldSampleCap: cfg.report.maxHeldSessions, review: reviews.summary, batches: reader.batches, sessionsPerSecond: 0,
    timings: { openMs: Date.now() - startedMs, readMs: 0, stateMs: 0, evaluateMs: 0, writeMs: 0 },
    reprice: { kept: 0, repriced: 0, sessions: [] },
  };
  const cap = cfg.report.maxHeldSessions;

  const sessionHead = `${period.fromMs}\t${period.toMs}\t`;
  const runTail = `${escapeTsv(runId)}\t${runSeq}\t`;
  const timings = summary.timings;
  let writing: Promise<void> = Promise.resolve();
  let mark = Date.now();
  const lap = (key: keyof RunSummary['timings']): void => {
    const now = Date.now();
    timings[key] += now - mark;
    mark = now;
  };
  for await (const batch of reader.read<Map<string, RecordState>>(states)) {
    lap('readMs');
    const states = await batch.alongside;
    lap('stateMs');
    const billingRows = new TsvWriter(ROWS_INITIAL_BYTES);
    const sessionRows = new TsvWriter(ROWS_INITIAL_BYTES);
    await batch.each((f) => {
      const m = measure(f);
      const e = f.enrollment;
      const program0 = e === null ? null : (cfg.programs[e.programId] ?? null);
      const tariff0 = e === null || program0 === null ? null : cfg.tariffs[e.tariffId] !== undefined ? e.tariffId : program0.tariff;
      // A cycle run bills the sessions its account's cycle holds, whole; the others are another cycle's.
      const billingPeriod = plan === null ? period : plan.assign(f, e?.accountId ?? '', tariff0);
      if (billingPeriod === null) return;
      const state = states.get(f.sessionId) ?? { latest: null, exported: null };
      let ev = evaluate(cfg, configSha, f, m, billingPeriod);
      // Changing the configuration never changes an exported record by itself: a session whose
      // record went out is re-billed (for new data) under the configuration it went out under,
      // unless the run is told to re-price (opts.reprice). Counted either way when the two differ.
      const exSha = state.exported?.configSha ?? '';
      const exCfg = exSha !== '' && exSha !== configSha ? history.get(exSha) : undefined;
      if (exCfg !== undefined) {
        const old = evaluate(exCfg, exSha, f, m, billingPeriod);
        const differs = (old.want === null ? '' : contentDigest(old.want)) !== (ev.want === null ? '' : contentDigest(ev.want));
        if (differs) {
          if (opts.reprice === true) summary.reprice.repriced++;
          else summary.reprice.kept++;
          if (summary.reprice.sessions.length < 100) summary.reprice.sessions.push(f.sessionId);
        }
        if (opts.reprice !== true) ev = old;
      }
      const { tariffId, split, flags, held, identity, bill } = ev;
      let want = ev.want;
      let periodWh = 0;
      for (const x of split.inside) periodWh += x;
      if (want === null && state.latest !== null && state.latest.status === 'BILLED') {
        want = voidContent(identity, state.latest.currency);
      }
      const wantSha = want === null ? '' : contentDigest(want);
      const d = decide(state, want, wantSha);
      let current: { version: number; status: 'BILLED' | 'VOID'; sha: string; energyWh: number; amountMinor: number } | null = state.latest;
      if (d.write && want !== null) {
        writeBillingRow(billingRows, billingPeriod, want, d.version, wantSha, runId, runSeq, cycle, ev.zone, ev.sha);
        current = { version: d.version, status: want.status, sha: wantSha, energyWh: want.energyWh, amountMinor: want.amountMinor };
        if (want.status === 'VOID') summary.records.voided++;
        else if (d.kind === 'created') summary.records.created++;
        else if (d.kind === 'rewritten') summary.records.rewritten++;
        else summary.records.newVersions++;
      } else if (d.kind === 'unchanged') {
        summary.records.unchanged++;
      }
      const adj = adjustmentFor(state, current, state.exported !== null || covered(scopes, identity), cfg.rules.adjustment);
      if (adj !== null) {
        flags.push(adj);
        summary.adjustments++;
      }

      // Totals.
      summary.sessions++;
      summary.eumdWh += m.eumdWh;
      if (held) {
        summary.held++;
        for (const fl of flags) if (fl.severity === 'hold') summary.heldBy[fl.code] = (summary.heldBy[fl.code] ?? 0) + 1;
      } else if (bill !== null) {
        summary.billed++;
        summary.billedWh += bill.energyWh;
        summary.amountMinor[bill.currency] = (summary.amountMinor[bill.currency] ?? 0) + bill.totalMinor;
        summary.incentiveMinor[bill.currency] = (summary.incentiveMinor[bill.currency] ?? 0) + bill.incentiveMinor;
      }
      const seenCodes = new Set<FlagCode>();
      for (const fl of flags) {
        const c = summary.flags[fl.code];
        if (!seenCodes.has(fl.code)) c.sessions++;
        seenCodes.add(fl.code);
        c[fl.severity]++;
      }
      if (f.vehicle !== null && m.eumdWh > 0) {
        const h = summary.histogram;
        h.withVehicle++;
        // Integer bin arithmetic: (vehicle - eumd) * 100 / eumd percent, floored.
        const bin = Math.floor(((f.vehicle.runningWh - m.eumdWh) * 100) / m.eumdWh) + R;
        if (bin < 0) h.below++;
        else if (bin >= 2 * R) h.above++;
        else h.counts[bin]!++;
      }
      if (held && cap > 0) {
        const samples = summary.heldSamples;
        // Keep the `cap` smallest session IDs: the same sessions whatever the batch order.
        if (samples.length < cap || f.sessionId < samples[samples.length - 1]!.sessionId) {
          samples.push({
            sessionId: f.sessionId,
            accountId: identity.accountId,
            premiseId: identity.premiseId,
            pevId: f.pevId,
            startMs: m.startMs,
            endMs: m.endMs,
            timeZone: zoneOf(cfg, tariffId),
            eumdWh: m.eumdWh,
            intervalSumWh: m.intervalSumWh,
            vehicleWh: f.vehicle?.runningWh ?? null,
            summaryWh: f.end?.energyWh ?? null,
            flags,
            minutes: minuteSeries(m.pieces),
            gapRanges: m.gapRanges,
            marks: marksOf(f, m, flags, cfg),
          });
          samples.sort((a, b) => (a.sessionId < b.sessionId ? -1 : 1));
          if (samples.length > cap) samples.length = cap;
        }
      }

      const head = billingPeriod === period ? sessionHead : `${billingPeriod.fromMs}\t${billingPeriod.toMs}\t`;
      const status = held ? 'HELD' : bill !== null ? 'BILLED' : 'UNBILLED';
      if (ev.review !== null) reviews.settle(billingPeriod, runId, runSeq, ev.review, status, held ? 0 : ev.sessionWh);
      writeSessionRow(sessionRows, head, runTail, status, identity, f, m, periodWh, flags, cycle);
    });
    lap('evaluateMs');
    // The batch's writes run while the next batch is evaluated; one batch of writes in flight.
    await writing;
    lap('writeMs');
    lease.check();
    // Both at once: on chDB, inserts (unlike parameterized queries) run side by side.
    writing = Promise.all([
      insertWritten(store, 'billing_record', BILLING_COLUMNS, billingRows),
      insertWritten(store, 'reconcile_session', SESSION_COLUMNS, sessionRows),
    ]).then(() => {});
    writing.catch(() => {});
    progress({
      phase: 'batch', batch: batch.index + 1, batches: batch.of, sessions: summary.sessions,
      estimate: reader.estimate, elapsedMs: Date.now() - startedMs,
    });
  }

  await writing;
  lap('writeMs');
  lease.check();
  await reviews.write(store);
  summary.finishedMs = Date.now();
  const seconds = Math.max(0.001, (summary.finishedMs - startedMs) / 1000);
  summary.sessionsPerSecond = Math.round(summary.sessions / seconds);
  let amount = 0;
  for (const v of Object.values(summary.amountMinor)) amount += v;
  const brief = { ...summary, heldSamples: undefined };
  await insertRows(
    store,
    'reconcile_run',
    ['run_id', 'period_from_ms', 'period_to_ms', 'filter_account', 'filter_premise', 'filter_pev', 'filter_program', 'config_sha256',
      'as_of_ms', 'started_ms', 'finished_ms', 'sessions', 'billed', 'held', 'energy_wh', 'amount_minor', 'summary_json', 'cycle'],
    [[runId, period.fromMs, period.toMs, filters.accountId ?? '', filters.premiseId ?? '', filters.pevId ?? '', filters.programId ?? '',
      summary.configSha256, asOfMs, startedMs, summary.finishedMs, summary.sessions, summary.billed, summary.held, summary.billedWh,
      amount, JSON.stringify(brief), cycle]],
  );
  progress({ phase: 'done', batch: reader.batches, batches: reader.batches, sessions: summary.sessions, estimate: reader.estimate, elapsedMs: summary.finishedMs - startedMs });
  return summary;
}
