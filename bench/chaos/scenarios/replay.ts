/**
 * The replay scenario: a new group reads everything again into a fresh store; rollups, and the
 * reconciliation of both stores, identical.
 */
import { join } from 'node:path';
import { toInt } from '../../../aggregate/store/values.js';
import type { StoreOptions } from '../../../aggregate/store/types.js';
import { checkTruth } from '../../sim/truth.js';
import { resolveConfig } from '../../../reconcile/config.js';
import { reconcilePeriod } from '../../../reconcile/run.js';
import type { Period } from '../../../reconcile/types.js';
import { IngestProcess } from '../ingest-process.js';
import { OffsetReader } from '../kafka.js';
import { drainTimeoutMs, type Prepared, prepare, startChild, cleanup, withStore, embeddedOptions, prepareStore, type Verification, verify, result } from './kit.js';
import type { ChaosContext, Check, ScenarioResult } from './types.js';

interface Rollups {
  sessions: number;
  rollupRows: Map<string, string>;
  minuteRows: number;
  minuteHash: string;
  uniqueRows: number;
  uniqueHash: string;
  deadLetters: number;
}

async function rollupsOf(options: StoreOptions): Promise<Rollups> {
  return withStore(options, async (s) => {
    const rows = await s.select<Record<string, unknown>>('SELECT * FROM {db}.session_rollup ORDER BY session_id');
    const rollupRows = new Map(rows.map((r) => [String(r['session_id']), JSON.stringify(r)]));
    const [m] = await s.select<{ n: unknown; h: unknown }>('SELECT count() AS n, sum(cityHash64(session_id, minute, energy_wh, intervals, running_wh)) AS h FROM {db}.session_minute');
    const [u] = await s.select<{ n: unknown; h: unknown }>(
      'SELECT count() AS n, sum(cityHash64(session_id, seq, esci_id, eumd_id, premise_id, pev_id, interval_start, interval_s, energy_wh, register_wh, quality, copies)) AS h FROM {db}.interval_unique',
    );
    const [d] = await s.select<{ n: unknown }>('SELECT uniqExact(src_topic, src_partition, src_offset, code) AS n FROM {db}.dead_letter');
    return {
      sessions: rows.length,
      rollupRows,
      minuteRows: toInt(m?.n),
      minuteHash: String(m?.h),
      uniqueRows: toInt(u?.n),
      uniqueHash: String(u?.h),
      deadLetters: toInt(d?.n),
    };
  });
}

const DAY_MS = 86_400_000;

/** Whole UTC days around every interval a store holds: the billing period the replay reconciles. */
async function periodOf(options: StoreOptions): Promise<Period> {
  const [r] = await withStore(options, (s) => s.select<{ lo: unknown; hi: unknown }>('SELECT toInt64(min(interval_start)) * 1000 AS lo, toInt64(max(interval_start)) * 1000 AS hi FROM {db}.interval_unique'));
  const lo = toInt(r?.lo);
  const hi = toInt(r?.hi);
  return { fromMs: Math.floor(lo / DAY_MS) * DAY_MS - DAY_MS, toMs: Math.ceil(hi / DAY_MS) * DAY_MS + DAY_MS };
}

interface Reconciled {
  sessions: number;
  billed: number;
  held: number;
  /** Every column of every current reconcile row but the run's identity, checksummed. */
  sessionHash: string;
  flags: number;
  records: number;
  /** Every column of every current billing record but the run's identity and write time. */
  recordHash: string;
}

/**
 * Reconciles `period` on a store as of a fixed instant and checksums what the billing system reads:
 * the current reconcile rows (status, energies, every flag with its numbers and threshold) and the
 * current billing records (lines, amounts, warn codes, digest).
 */
async function reconciledOf(options: StoreOptions, period: Period): Promise<Reconciled> {
  return withStore(options, async (s) => {
    const run = await reconcilePeriod(s, period, {}, resolveConfig({ report: { maxHeldSessions: 0 } }), { asOfMs: period.toMs + DAY_MS });
    const params = { from_ms: period.fromMs, to_ms: period.toMs };
    const [r] = await s.select<{ n: unknown; f: unknown; h: unknown }>(
      `SELECT count() AS n, sum(length(flag_code)) AS f, sum(cityHash64(session_id, status, account_id, premise_id, pev_id, esci_id, program_id, tariff_id, session_start_ms, session_end_ms,
         eumd_wh, interval_sum_wh, period_wh, has_end, esci_wh, has_vehicle, vehicle_wh, has_grant, granted_wh, intervals_seen, intervals_missing,
         flag_code, flag_severity, flag_observed, flag_threshold, flag_detail)) AS h
       FROM {db}.reconcile_current(from_ms = {from_ms:Int64}, to_ms = {to_ms:Int64})`,
      params,
    );
    const [b] = await s.select<{ n: unknown; h: unknown }>(
      `SELECT count() AS n, sum(cityHash64(session_id, version, status, account_id, premise_id, pev_id, program_id, tariff_id, currency, session_start_ms, session_end_ms,
         energy_wh, session_energy_wh, line_kind, line_period, line_wh, line_price_micro, line_amount_minor, incentive_minor, amount_minor, warn_codes, content_digest)) AS h
       FROM {db}.billing_current(from_ms = {from_ms:Int64}, to_ms = {to_ms:Int64})`,
      params,
    );
    return {
      sessions: run.sessions,
      billed: run.billed,
      held: run.held,
      sessionHash: String(r?.h),
      flags: toInt(r?.f),
      records: toInt(b?.n),
      recordHash: String(b?.h),
    };
  });
}

export async function replayScenario(ctx: ChaosContext): Promise<ScenarioResult> {
  const started = Date.now();
  const p = await prepare(ctx, 'replay', ctx.brokers);
  try {
    const total = p.feed.messages;
    const first = embeddedOptions(p, 'chdb');
    const second = embeddedOptions(p, 'chdb-replay');
    await prepareStore(first);
    await prepareStore(second);
    const checks: Check[] = [];
    const a = startChild(p, { untilIdleMs: 4_000 });
    const aExit = await a.wait(drainTimeoutMs(total), 'first pass');
    const replayGroup = `${p.group}-replay`;
    const replayStarted = Date.now();
    const b = IngestProcess.start({ brokers: p.brokers, group: replayGroup, configFile: p.configFile, logFile: p.logFile, dataDir: join(p.dir, 'chdb-replay'), untilIdleMs: 4_000 });
    p.children.push(b);
    const bExit = await b.wait(drainTimeoutMs(total), 'replay');
    const replayMs = Date.now() - replayStarted;
    checks.push({ name: 'both passes drained and exited 0', ok: aExit.code === 0 && bExit.code === 0, detail: `first ${JSON.stringify(aExit)}, replay ${JSON.stringify(bExit)}` });
    const ra = await rollupsOf(first);
    const rb = await rollupsOf(second);
    let differing = 0;
    const examples: string[] = [];
    for (const [id, row] of ra.rollupRows) {
      if (rb.rollupRows.get(id) !== row) {
        differing++;
        if (examples.length < 5) examples.push(`${id}: ${row} vs ${rb.rollupRows.get(id) ?? 'missing'}`);
      }
    }
    for (const id of rb.rollupRows.keys()) if (!ra.rollupRows.has(id)) differing++;
    checks.push({ name: 'session rollups identical (every column)', ok: differing === 0 && ra.sessions === rb.sessions, detail: `${ra.sessions} vs ${rb.sessions} sessions, ${differing} differ${examples.length ? `: ${examples.join('; ')}` : ''}` });
    checks.push({ name: 'per-minute running sums identical', ok: ra.minuteRows === rb.minuteRows && ra.minuteHash === rb.minuteHash, detail: `${ra.minuteRows} vs ${rb.minuteRows} rows, checksum ${ra.minuteHash} vs ${rb.minuteHash}` });
    checks.push({ name: 'deduplicated intervals identical', ok: ra.uniqueRows === rb.uniqueRows && ra.uniqueHash === rb.uniqueHash, detail: `${ra.uniqueRows} vs ${rb.uniqueRows} rows` });
    checks.push({ name: 'dead letters identical', ok: ra.deadLetters === rb.deadLetters, detail: `${ra.deadLetters} vs ${rb.deadLetters}` });
    const period = await periodOf(first);
    const ca = await reconciledOf(first, period);
    const cb = await reconciledOf(second, period);
    checks.push({
      name: 'reconciliation identical: flags and billing records',
      ok: ca.sessions > 0 && ca.sessions === cb.sessions && ca.sessionHash === cb.sessionHash && ca.records === cb.records && ca.recordHash === cb.recordHash,
      detail: `${ca.sessions} vs ${cb.sessions} sessions (${ca.billed}/${cb.billed} billed, ${ca.held}/${cb.held} held), ${ca.flags} vs ${cb.flags} flags, checksum ${ca.sessionHash} vs ${cb.sessionHash}; ${ca.records} vs ${cb.records} billing records, checksum ${ca.recordHash} vs ${cb.recordHash}`,
    });
    // The replay group's offsets are checked against the replay store; the first pass against truth too.
    const firstTruth = await withStore(first, (s) => checkTruth(s, p.feed.truths));
    checks.push({ name: 'the first pass equals the truth too', ok: firstTruth.status === 'pass', detail: `${firstTruth.status} ${firstTruth.examples.slice(0, 2).join('; ')}` });
    const replay: Prepared = { ...p, group: replayGroup, reader: await OffsetReader.open(p.brokers, replayGroup) };
    let v: Verification;
    try {
      v = await verify(replay, second, 'aggregates');
    } finally {
      await replay.reader.close();
    }
    return result(p, v, {
      faults: ['full replay from the earliest offset by a new group into a fresh store'],
      recoveryMs: null,
      recoveryNote: `no recovery: the replay itself took ${replayMs} ms`,
      checks,
      started,
      details: { replayMs, sessions: ra.sessions, minuteRows: ra.minuteRows, uniqueRows: ra.uniqueRows, deadLetters: ra.deadLetters, reconciled: ca },
    });
  } finally {
    await cleanup(ctx, p);
  }
}
