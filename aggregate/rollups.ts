/**
 * The read API over the aggregates kept as rows arrive (schemas/clickhouse/006_session_aggregates.sql,
 * 009_interval_copies.sql for the interval copies, 010_session_rollup_final.sql and
 * 011_session_version.sql for the finished rollups and their versions): one session's rollup and
 * minutes, and the sessions of a premise, PEV, account or program in a time range. Callers (the
 * CLI, the checkers, the benchmarks) use these functions instead of writing SQL against the
 * aggregate tables.
 *
 * Cost follows the answer: every query here first narrows to a set of session IDs through a table
 * ordered by the lookup key (interval_copies and the state tables by session_id, session_by_premise
 * and session_by_pev by premise and PEV, enrollment_by_account/_program by account and program),
 * then reads those sessions' finished rollups where they are current (`refreshRollups` writes
 * them; a session's version in session_version tells a current one) and merges the states of the
 * others only. The
 * only full reads are the whole-store ones (`allRollups`, `rollupTotals`, `exportRollups`).
 *
 * Exactly-once lives in the states (a set of distinct copies per session block, see the
 * migration) and in `copiesSql`, the one place that picks the counted copy of each seq; the rest
 * only sums those, so every answer is exact before and after merges, whatever the delivery order.
 */
import { createWriteStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { StoreError, clickhouseCode } from './store/errors.js';
import type { Store } from './store/types.js';
import { toInt } from './store/values.js';

/** The migrations that create the aggregates; their absence is what the error below names. */
export const AGGREGATES_MIGRATIONS = ['006_session_aggregates', '009_interval_copies', '010_session_rollup_final', '011_session_version'] as const;

/** One session's rollup. Times in epoch milliseconds (UTC), energy in Wh. */
export interface SessionRollup {
  sessionId: string;
  esciId: string;
  premiseId: string;
  pevId: string;
  /** Start of the earliest counted interval. */
  firstIntervalMs: number;
  /** End of the latest counted interval. */
  lastActivityMs: number;
  /** Sum of the counted intervals (the first received copy of each seq). */
  energyWh: number;
  intervalsSeen: number;
  /** Highest seq + 1. */
  intervalsExpected: number;
  gaps: number;
  /** Seqs that arrived with more than one content. */
  conflicts: number;
  hasEnd: boolean;
  /** Null without an END event (as the read-time view session_rollup, migration 005). */
  endEnergyWh: number | null;
  endDurationS: number | null;
  lastProgressWh: number;
  grantedWh: number;
  vehicleRunningWh: number;
  vehicleReports: number;
}

/** One session's minute (UTC): energy of the intervals starting in it, and the running sum at its end. */
export interface SessionMinute {
  sessionId: string;
  minuteMs: number;
  energyWh: number;
  intervals: number;
  runningWh: number;
}

export type SessionKey =
  | { premiseId: string }
  | { pevId: string }
  | { accountId: string }
  | { programId: string };

export interface TimeRange {
  fromMs: number;
  toMs: number;
  /**
   * The longest a session may last (default 7 days, reconcile's `sessions.maxSpanDays`): the
   * index keeps the times of the rows that feed it (events, interval seq 0), so it is searched
   * this much wider and the exact overlap is then taken from the rollup.
   */
  maxSpanMs?: number;
}

const DEFAULT_SPAN_MS = 7 * 86_400_000;

/**
 * Session IDs of a lookup key, as a subquery (its parameters are `key`, `lo_ms`, `hi_ms`). The
 * account and program lookups reach PEVs and premises through the enrollment indexes; a session
 * counts for an account when its PEV was enrolled under the account at its premise.
 */
function sessionsOf(key: SessionKey): string {
  if ('premiseId' in key) {
    return `SELECT session_id FROM {db}.session_by_premise WHERE premise_id = {key:String} GROUP BY session_id HAVING min(first_ms) < {hi_ms:Int64} AND max(last_ms) >= {lo_ms:Int64}`;
  }
  if ('pevId' in key) {
    return `SELECT session_id FROM {db}.session_by_pev WHERE pev_id = {key:String} GROUP BY session_id HAVING min(first_ms) < {hi_ms:Int64} AND max(last_ms) >= {lo_ms:Int64}`;
  }
  const [table, column] = 'accountId' in key ? ['enrollment_by_account', 'account_id'] : ['enrollment_by_program', 'program_id'];
  return (
    // Aliases differ from the column names: ClickHouse would otherwise read the aggregate into the
    // inner WHERE.
    `SELECT session_id FROM (SELECT session_id, any(premise_id) AS s_premise, any(pev_id) AS s_pev, min(first_ms) AS s_first, max(last_ms) AS s_last ` +
    `FROM {db}.session_by_pev WHERE pev_id IN (SELECT pev_id FROM {db}.${table} WHERE ${column} = {key:String}) GROUP BY session_id) ` +
    `WHERE s_first < {hi_ms:Int64} AND s_last >= {lo_ms:Int64} ` +
    `AND (s_pev, s_premise) IN (SELECT DISTINCT pev_id, premise_id FROM {db}.${table} WHERE ${column} = {key:String})`
  );
}

function keyValue(key: SessionKey): string {
  if ('premiseId' in key) return key.premiseId;
  if ('pevId' in key) return key.pevId;
  if ('accountId' in key) return key.accountId;
  return key.programId;
}

/**
 * The rollup of the sessions that `filter` (a condition on session_id, applied inside each state
 * table's read so its primary key narrows the read) selects. Sessions with no counted interval
 * are left out, as in the read-time view session_rollup. `minutes` adds each session's minutes as
 * session_rollup_final keeps them (migration 011): what a refresh stores.
 */
function rollupSql(filter: string, with_: { minutes?: boolean } = {}): string {
  const minutes =
    with_.minutes === true
      ? `,
  arrayReduce('sumMap', [arrayMap(x -> toUInt32(intDiv(intDiv(x.4, 65536), 60) * 60), i.firsts)], [arrayMap(x -> toInt64(x.3), i.firsts)], [arrayMap(x -> toUInt32(1), i.firsts)]) AS by_minute,
  arrayZip(by_minute.1, by_minute.2, by_minute.3) AS minutes`
      : '';
  return `
SELECT
  i.session_id AS session_id,
  i.esci_id AS esci_id,
  arrayStringConcat(arraySort(i.premises), ',') AS premise_id,
  i.pev_id AS pev_id,
  toInt64(arrayMin(x -> intDiv(x.4, 65536), i.firsts)) * 1000 AS first_interval_ms,
  toInt64(arrayMax(x -> intDiv(x.4, 65536) + x.4 % 65536, i.firsts)) * 1000 AS last_activity_ms,
  arraySum(x -> x.3, i.firsts) AS energy_wh,
  length(i.firsts) AS intervals_seen,
  arrayMax(x -> x.1, i.firsts) + 1 AS intervals_expected,
  i.conflicts AS conflicts,
  bitAnd(e.kinds, 16) != 0 AS has_end,
  if(has_end, toNullable(e.en.7), NULL) AS end_energy_wh,
  if(has_end, toNullable(e.en.6), NULL) AS end_duration_s,
  e.pr.4 AS last_progress_wh,
  e.av.4 AS granted_wh,
  v.latest.4 AS vehicle_running_wh,
  v.reports AS vehicle_reports${minutes}
FROM (${copiesSql(filter)}) AS i
LEFT JOIN
(
  SELECT session_id, groupBitOr(kinds) AS kinds, maxIfMerge(end_ev) AS en, maxIfMerge(progress_ev) AS pr, maxIfMerge(available_ev) AS av
  FROM {db}.session_event_state WHERE ${filter} GROUP BY session_id
) AS e ON e.session_id = i.session_id
LEFT JOIN
(
  SELECT session_id, uniqExactMerge(report_times) AS reports, max(latest) AS latest
  FROM {db}.vehicle_report_state WHERE ${filter} GROUP BY session_id
) AS v ON v.session_id = i.session_id`;
}

/**
 * Per session: its stored copies sorted by (seq, arrival), the counted ones (the first of each
 * seq: \`firsts\`), and the number of seqs with more than one content (\`contents\` keeps the
 * seq order of \`all_copies\`; a content whose seq equals the one before it is a second content).
 * Tuples are (seq, arrival, energy_wh, slot, register_wh, content_hash) as migration 009 describes.
 *
 * Both are linear in a session's copies: each copy is compared with the seq before it (an array
 * shifted by one), never by indexing the array inside a lambda, which ClickHouse evaluates by
 * copying the whole array once per element (quadratic: about half the CPU of a whole-month read).
 */
function copiesSql(filter: string): string {
  return `
  SELECT session_id, any(esci_id) AS esci_id, any(pev_id) AS pev_id, groupUniqArrayArray(premises) AS premises,
    arraySort(groupUniqArrayArray(copies)) AS all_copies,
    arrayFilter((x, prev) -> toInt64(x.1) != prev, all_copies, arrayPushFront(arrayPopBack(arrayMap(x -> toInt64(x.1), all_copies)), -1)) AS firsts,
    arrayDistinct(arrayMap(x -> (x.1, x.6), all_copies)) AS contents,
    length(arrayDistinct(arrayMap(c -> c.1, arrayFilter((c, prev) -> toInt64(c.1) = prev, contents, arrayPushFront(arrayPopBack(arrayMap(c -> toInt64(c.1), contents)), -1))))) AS conflicts
  FROM {db}.interval_copies WHERE ${filter} GROUP BY session_id`;
}

function minutesSql(filter: string): string {
  return `
SELECT session_id, toInt64(minute) * 1000 AS minute_ms, energy_wh, intervals,
  sum(energy_wh) OVER (PARTITION BY session_id ORDER BY minute ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_wh
FROM
(
  SELECT session_id, intDiv(intDiv(x.4, 65536), 60) * 60 AS minute, sum(x.3) AS energy_wh, count() AS intervals
  FROM (${copiesSql(filter)})
  ARRAY JOIN firsts AS x
  GROUP BY session_id, minute
)
ORDER BY session_id, minute`;
}

/**
 * The rollup's columns, in rollupSql's order: what session_rollup_final stores (migration 010),
 * besides the minutes (011), which only the minutes lookup reads.
 */
const ROLLUP_COLUMNS = [
  'session_id', 'esci_id', 'premise_id', 'pev_id', 'first_interval_ms', 'last_activity_ms', 'energy_wh', 'intervals_seen',
  'intervals_expected', 'conflicts', 'has_end', 'end_energy_wh', 'end_duration_s', 'last_progress_wh', 'granted_wh',
  'vehicle_running_wh', 'vehicle_reports',
] as const;

/**
 * Each session's current version: the rows its state tables have counted (migration 011,
 * session_version), for the sessions with at least one interval copy (the sessions a rollup has).
 */
function versionsSql(filter: string): string {
  return `SELECT session_id, sum(stored_rows) AS version FROM {db}.session_version WHERE ${filter} GROUP BY session_id HAVING max(has_copies) = 1`;
}

/** One session's current version, as a scalar subquery (0 for a session never stored). */
const ONE_VERSION = 'SELECT sum(stored_rows) FROM {db}.session_version WHERE session_id = {sid:String}';

/**
 * The finished rows of the named sessions that are current, and only those: one session by a scalar
 * version (`{sid}`), several by (session, version) pairs (`{sids}`, a run of sorted IDs bounded by
 * `{lo}` and `{hi}`). Cheaper than joining the versions to the finished rows (10 ms against 14 ms
 * for one session on the 1,000,000-session store); the callers infer the stale sessions from the
 * IDs missing in the answer. No FINAL: rows of equal version (two refreshes racing) were each
 * computed while the session's counter stood at that version, so each is the session as it was
 * then, and any one of them will do.
 */
function freshSql(ids: 'one' | 'many'): string {
  const cols = ROLLUP_COLUMNS.join(', ');
  if (ids === 'one') return `SELECT ${cols} FROM {db}.session_rollup_final WHERE session_id = {sid:String} AND version = (${ONE_VERSION}) LIMIT 1`;
  return `SELECT ${cols} FROM {db}.session_rollup_final WHERE ${NAMED_RUN} AND (session_id, version) IN (${versionsSql(NAMED_RUN)}) LIMIT 1 BY session_id`;
}

/**
 * A run of sorted session IDs: the bounds let each table's primary key read one range, where the
 * ID set alone (spread over the whole table) would make a long list read nearly every granule.
 */
const NAMED_RUN = 'session_id >= {lo:String} AND session_id <= {hi:String} AND session_id IN {sids:Array(String)}';

function namedRun(sids: readonly string[]): Record<string, unknown> {
  return { sids, lo: sids[0], hi: sids[sids.length - 1] };
}

/**
 * One session's minutes from its current finished row, as stored: [(minute, Wh, intervals)]. No row
 * when the finished row is stale or missing, or was written before the minutes were kept. The
 * running sums are added in `keptMinutes`: an ARRAY JOIN here cost 1.5 ms more per lookup.
 */
const FRESH_MINUTES_SQL = `
SELECT minutes FROM {db}.session_rollup_final
WHERE session_id = {sid:String} AND version = (${ONE_VERSION}) AND notEmpty(minutes) LIMIT 1`;

function keptMinutes(sessionId: string, r: Row): SessionMinute[] {
  let running = 0;
  return (r['minutes'] as [unknown, unknown, unknown][]).map(([minute, wh, intervals]) => {
    running += toInt(wh);
    return { sessionId, minuteMs: toInt(minute) * 1000, energyWh: toInt(wh), intervals: toInt(intervals), runningWh: running };
  });
}

/**
 * Sessions whose finished rollup is missing or older than their rows, in session ID order, with
 * their current version.
 */
function staleSql(): string {
  return `
SELECT cur.session_id AS session_id, cur.version AS version FROM (${versionsSql('1')}) AS cur
LEFT ANTI JOIN (SELECT session_id, version FROM {db}.session_rollup_final FINAL) AS f ON f.session_id = cur.session_id AND f.version = cur.version
ORDER BY session_id`;
}

/**
 * The most session IDs a query names as a parameter (chDB 3.4 parses an array parameter of 30,000
 * IDs in 0.04 s and one of 50,000 in 9 s). A longer list of named sessions is read in runs of
 * this many; above this many stale sessions a whole-store read computes every rollup from the
 * states (as before migration 010) instead of naming the stale ones; `pevmeter refresh` brings the
 * finished rollups up to date.
 */
const IDS_PER_QUERY = 20_000;

/** How the reads split their work; the default suits every store, tests make it small. */
export interface ReadOptions {
  /** The most session IDs named in one query (default 20,000; at least 1). */
  idsPerQuery?: number;
}

/** A count of IDs per query as given (ReadOptions.idsPerQuery, a refresh's chunk), at least 1. */
function idsPerQuery(n: number | undefined): number {
  return Math.max(1, Math.trunc(n ?? IDS_PER_QUERY));
}

/**
 * Every session's rollup: the finished row of each session whose version still matches, and the
 * state-computed rollup of the others (`stale`, found just before). A session that changes between
 * the two reads is answered from its finished row as it stood when `stale` was taken: every row is
 * the exact rollup of that session at some moment during the call, as with any read of live data.
 */
function everySql(stale: readonly string[] | 'all'): string {
  if (stale === 'all') return `SELECT ${ROLLUP_COLUMNS.join(', ')} FROM (${rollupSql('1')})`;
  return `
SELECT ${ROLLUP_COLUMNS.join(', ')} FROM {db}.session_rollup_final FINAL WHERE session_id NOT IN {stale:Array(String)}
UNION ALL
SELECT ${ROLLUP_COLUMNS.join(', ')} FROM (${rollupSql('session_id IN {stale:Array(String)}')})`;
}

type Row = Record<string, unknown>;

function toRollup(r: Row): SessionRollup {
  const int = (k: string): number => toInt(r[k]);
  const premises = String(r['premise_id']);
  return {
    sessionId: String(r['session_id']),
    esciId: String(r['esci_id']),
    // Several premises reported by one session's intervals are a data error reconcile flags; the
    // rollup names them all, comma-separated and sorted.
    premiseId: premises,
    pevId: String(r['pev_id']),
    firstIntervalMs: int('first_interval_ms'),
    lastActivityMs: int('last_activity_ms'),
    energyWh: int('energy_wh'),
    intervalsSeen: int('intervals_seen'),
    intervalsExpected: int('intervals_expected'),
    gaps: int('intervals_expected') - int('intervals_seen'),
    conflicts: int('conflicts'),
    hasEnd: isTrue(r['has_end']),
    endEnergyWh: r['end_energy_wh'] === null ? null : int('end_energy_wh'),
    endDurationS: r['end_duration_s'] === null ? null : int('end_duration_s'),
    lastProgressWh: int('last_progress_wh'),
    grantedWh: int('granted_wh'),
    vehicleRunningWh: int('vehicle_running_wh'),
    vehicleReports: int('vehicle_reports'),
  };
}

function toMinute(r: Row): SessionMinute {
  return {
    sessionId: String(r['session_id']),
    minuteMs: toInt(r['minute_ms']),
    energyWh: toInt(r['energy_wh']),
    intervals: toInt(r['intervals']),
    runningWh: toInt(r['running_wh']),
  };
}

/**
 * UNKNOWN_TABLE: the store predates the aggregates, or its server was too old to create them.
 * UNKNOWN_SETTING (param_...): a server older than query parameters (18.16), so older than the
 * aggregates too.
 */
const TOO_OLD = new Set([60, 115]);

async function select(store: Store, what: string, sql: string, params: Record<string, unknown>): Promise<Row[]> {
  try {
    return await store.select<Row>(sql, params);
  } catch (err) {
    throw missingAggregates(err, store, what);
  }
}

function missingAggregates(err: unknown, store: Store, what: string): unknown {
  // toStoreError keeps the server's code on its cause.
  const kept = err instanceof StoreError ? (err.cause as { clickhouseCode?: unknown } | undefined)?.clickhouseCode : undefined;
  const code = kept ?? clickhouseCode(err);
  if (typeof code === 'number' && TOO_OLD.has(code)) {
    return new StoreError(
      'PEV_STORE_REJECTED',
      `${what}: ${store.database} has no aggregate tables: migrations ${AGGREGATES_MIGRATIONS.join(', ')} are not all applied ` +
        '(they need ClickHouse 23.8 or newer; run `pevmeter migrate` against such a server)',
      false,
      err,
    );
  }
  return err;
}

function isTrue(v: unknown): boolean {
  return typeof v === 'boolean' ? v : toInt(v) === 1;
}

function bySessionId(a: SessionRollup, b: SessionRollup): number {
  return a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0;
}

/**
 * The rollups of the named sessions, in session ID order: their current finished rows, then the
 * rest (stale, or without any rollup) computed from the states. A long list is read in sorted runs
 * of `idsPerQuery`.
 */
async function rollupsOf(store: Store, what: string, ids: readonly string[], opts: ReadOptions = {}): Promise<SessionRollup[]> {
  if (ids.length === 1) {
    const [row] = await select(store, what, freshSql('one'), { sid: ids[0] });
    if (row !== undefined) return [toRollup(row)];
    return (await select(store, what, rollupSql('session_id = {sid:String}'), { sid: ids[0] })).map(toRollup);
  }
  const sorted = [...new Set(ids)].sort();
  const per = idsPerQuery(opts.idsPerQuery);
  const out: SessionRollup[] = [];
  for (let i = 0; i < sorted.length; i += per) {
    const run = sorted.slice(i, i + per);
    const rows = (await select(store, what, freshSql('many'), namedRun(run))).map(toRollup);
    const fresh = new Set(rows.map((r) => r.sessionId));
    const stale = run.filter((id) => !fresh.has(id));
    if (stale.length > 0) rows.push(...(await select(store, what, rollupSql(NAMED_RUN), namedRun(stale))).map(toRollup));
    out.push(...rows.sort(bySessionId));
  }
  return out;
}

/** The stale sessions (sorted) and the version of each when the list was taken. */
async function staleVersions(store: Store): Promise<{ sids: string[]; versions: number[] }> {
  const rows = await select(store, 'stale rollups', staleSql(), {});
  return { sids: rows.map((r) => String(r['session_id'])), versions: rows.map((r) => toInt(r['version'])) };
}

/** Sessions whose finished rollup is missing or older than their stored rows, in session ID order. */
export async function staleSessions(store: Store): Promise<string[]> {
  return (await staleVersions(store)).sids;
}

/** What `everySql` needs: the stale sessions by name, or 'all' when there are too many to name. */
async function everyParams(store: Store, opts: ReadOptions): Promise<{ stale: readonly string[] | 'all'; params: Record<string, unknown> }> {
  const stale = await staleSessions(store);
  return stale.length > idsPerQuery(opts.idsPerQuery) ? { stale: 'all', params: {} } : { stale, params: { stale } };
}

export interface RefreshResult {
  /** Sessions whose finished rollup was missing or out of date. */
  stale: number;
  seconds: number;
}

/**
 * Brings session_rollup_final up to date: computes the rollup and minutes of every stale session
 * from its states, `chunk` sessions per insert, and stores them with the session's version as the
 * stale list saw it. That list is read before any chunk's states, and a state row is written before
 * the counter row that counts it (migration 011), so a stored version is never newer than the rows
 * its rollup was computed from: a row stored meanwhile makes the session stale again, never
 * wrongly current. Safe while ingest runs and when run twice.
 */
export async function refreshRollups(
  store: Store,
  opts: { chunk?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<RefreshResult> {
  const started = performance.now();
  const { sids, versions } = await staleVersions(store);
  const chunk = idsPerQuery(opts.chunk);
  opts.onProgress?.(0, sids.length);
  const columns = [...ROLLUP_COLUMNS, 'minutes'].join(', ');
  const sql =
    `INSERT INTO {db}.session_rollup_final (${columns}, version, refreshed_at) ` +
    `SELECT ${columns}, transform(session_id, {sids:Array(String)}, {versions:Array(UInt64)}, toUInt64(0)), now64(3) FROM (${rollupSql(NAMED_RUN, { minutes: true })})`;
  for (let i = 0; i < sids.length; i += chunk) {
    try {
      await store.client.command({
        query: sql.replaceAll('{db}', store.database),
        query_params: { ...namedRun(sids.slice(i, i + chunk)), versions: versions.slice(i, i + chunk) },
      });
    } catch (err) {
      throw missingAggregates(err, store, 'refresh of the finished rollups');
    }
    opts.onProgress?.(Math.min(i + chunk, sids.length), sids.length);
  }
  return { stale: sids.length, seconds: (performance.now() - started) / 1000 };
}

/** One session's rollup, or null when it has no counted interval. */
export async function sessionRollup(store: Store, sessionId: string): Promise<SessionRollup | null> {
  const [r] = await rollupsOf(store, `rollup of session ${sessionId}`, [sessionId]);
  return r ?? null;
}

/**
 * One session's minutes, in time order, with the running sum at the end of each: from its finished
 * row while current, else computed from its interval copies.
 */
export async function sessionMinutes(store: Store, sessionId: string): Promise<SessionMinute[]> {
  const what = `minutes of session ${sessionId}`;
  const [kept] = await select(store, what, FRESH_MINUTES_SQL, { sid: sessionId });
  if (kept !== undefined) return keptMinutes(sessionId, kept);
  return (await select(store, what, minutesSql('session_id = {sid:String}'), { sid: sessionId })).map(toMinute);
}

function rangeParams(key: SessionKey, range: TimeRange): Record<string, unknown> {
  const span = range.maxSpanMs ?? DEFAULT_SPAN_MS;
  return { key: keyValue(key), lo_ms: range.fromMs - span, hi_ms: range.toMs };
}

/**
 * The rollups of one premise's, PEV's, account's or program's sessions that overlap
 * [fromMs, toMs), in session ID order. Two queries: the session IDs from the key's index, then
 * their rollups (naming the IDs once costs less than a subquery each state table evaluates again;
 * a program holding most of a fleet is read in runs of `idsPerQuery` IDs).
 */
export async function sessionsBy(store: Store, key: SessionKey, range: TimeRange, opts: ReadOptions = {}): Promise<SessionRollup[]> {
  const what = `sessions of ${JSON.stringify(key)}`;
  const ids = (await select(store, what, sessionsOf(key), rangeParams(key, range))).map((r) => String(r['session_id']));
  if (ids.length === 0) return [];
  const rollups = await rollupsOf(store, what, ids, opts);
  return rollups.filter((r) => r.firstIntervalMs < range.toMs && r.lastActivityMs > range.fromMs);
}

/** Minutes of several sessions at once (a report's charts), in session then time order. */
export async function minutesOf(store: Store, sessionIds: readonly string[]): Promise<SessionMinute[]> {
  if (sessionIds.length === 0) return [];
  const rows = await select(store, `minutes of ${sessionIds.length} sessions`, minutesSql('session_id IN {sids:Array(String)}'), { sids: sessionIds });
  return rows.map(toMinute);
}

/**
 * Minutes of the sessions whose ID hashes to `slice` of `slices` (cityHash64(session_id) % slices):
 * how a checker walks every minute of a large store without holding it all at once.
 */
export async function minutesSlice(store: Store, slice: number, slices: number): Promise<SessionMinute[]> {
  const rows = await select(
    store,
    `minutes of slice ${slice}/${slices}`,
    minutesSql('cityHash64(session_id) % {slices:UInt32} = {slice:UInt32}'),
    { slice, slices },
  );
  return rows.map(toMinute);
}

/** Every session's rollup (sessions with at least one counted interval), in session ID order. */
export async function allRollups(store: Store, opts: ReadOptions = {}): Promise<SessionRollup[]> {
  const { stale, params } = await everyParams(store, opts);
  // Ordered outside: an ORDER BY after a UNION ALL would bind to its last SELECT only.
  const rows = await select(store, 'every rollup', `SELECT * FROM (${everySql(stale)}) ORDER BY session_id`, params);
  return rows.map(toRollup);
}

/** Totals over every session: what a run summary and a fault run's checker start from. */
export interface RollupTotals {
  sessions: number;
  energyWh: number;
  intervals: number;
  conflicts: number;
  unfinished: number;
  minutes: number;
}

export async function rollupTotals(store: Store, opts: ReadOptions = {}): Promise<RollupTotals> {
  const { stale, params } = await everyParams(store, opts);
  const sql =
    `SELECT count() AS sessions, sum(energy_wh) AS energy_wh, sum(intervals_seen) AS intervals, sum(conflicts) AS conflicts, ` +
    `countIf(NOT has_end) AS unfinished, (SELECT count() FROM (${minutesSql('1')})) AS minutes FROM (${everySql(stale)})`;
  const [r] = await select(store, 'rollup totals', sql, params);
  return {
    sessions: toInt(r?.['sessions'] ?? 0),
    energyWh: toInt(r?.['energy_wh'] ?? 0),
    intervals: toInt(r?.['intervals'] ?? 0),
    conflicts: toInt(r?.['conflicts'] ?? 0),
    unfinished: toInt(r?.['unfinished'] ?? 0),
    minutes: toInt(r?.['minutes'] ?? 0),
  };
}

/**
 * Writes the rollups of the sessions overlapping [fromMs, toMs) as CSV with a header, in session
 * ID order, to `out`: a stream, or a file path. Resolves to the bytes written. ClickHouse formats
 * the CSV; into a file on the embedded store it also writes it (INTO OUTFILE), which for a month of
 * a million sessions takes about a tenth of the time of passing the same bytes through Node.
 */
export async function exportRollups(
  store: Store,
  range: Pick<TimeRange, 'fromMs' | 'toMs'>,
  out: Writable | string,
  opts: ReadOptions = {},
): Promise<number> {
  try {
    const { stale, params } = await everyParams(store, opts);
    const sql = `SELECT * FROM (${everySql(stale)}) WHERE first_interval_ms < {to_ms:Int64} AND last_activity_ms > {from_ms:Int64} ORDER BY session_id`.replaceAll(
      '{db}',
      store.database,
    );
    const query_params = { ...params, from_ms: range.fromMs, to_ms: range.toMs };
    if (typeof out === 'string' && store.kind === 'embedded') {
      const path = resolve(out).replaceAll('\\', '\\\\').replaceAll("'", "\\'");
      await store.client.command({ query: `${sql} INTO OUTFILE '${path}' TRUNCATE FORMAT CSVWithNames`, query_params });
      return statSync(out).size;
    }
    const sink = typeof out === 'string' ? createWriteStream(out) : out;
    const rs = await store.client.query({ query: sql, format: 'CSVWithNames', query_params });
    let bytes = 0;
    for await (const rows of rs.stream()) {
      const text = (rows as { text: string }[]).map((r) => r.text + '\n').join('');
      bytes += Buffer.byteLength(text);
      if (!sink.write(text)) await new Promise<void>((done) => sink.once('drain', () => done()));
    }
    if (typeof out === 'string') await new Promise<void>((done, fail) => sink.end((err?: Error | null) => (err ? fail(err) : done())));
    return bytes;
  } catch (err) {
    throw missingAggregates(err, store, 'export of rollups');
  }
}

/** Keys drawn from the index tables, for benchmarks and spot checks. */
export interface SampledKeys {
  sessionIds: string[];
  premiseIds: string[];
  pevIds: string[];
  accountIds: string[];
  programIds: string[];
}

/**
 * Up to `n` keys of each kind, spread by hash (the same `seed` gives the same keys). Reads each
 * index table once: meant for a benchmark's set-up, not for a request path.
 */
export async function sampleKeys(store: Store, n: number, seed = 1): Promise<SampledKeys> {
  const pick = async (column: string, table: string): Promise<string[]> => {
    const rows = await select(
      store,
      `sample of ${table}.${column}`,
      `SELECT k FROM (SELECT DISTINCT ${column} AS k FROM {db}.${table}) ORDER BY cityHash64(k, {seed:UInt64}) LIMIT {n:UInt32}`,
      { n, seed },
    );
    return rows.map((r) => String(r['k']));
  };
  return {
    sessionIds: await pick('session_id', 'session_by_pev'),
    premiseIds: await pick('premise_id', 'session_by_premise'),
    pevIds: await pick('pev_id', 'session_by_pev'),
    accountIds: await pick('account_id', 'enrollment_by_account'),
    programIds: await pick('program_id', 'enrollment_by_program'),
  };
}
