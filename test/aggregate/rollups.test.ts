/**
 * The aggregates kept as rows arrive, and their read API, against chDB: exact counts of resends
 * and conflicts, the same answers as the read-time views, the lookups by key, the backfill of a
 * store made before the aggregates existed, and the error when they are absent.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import {
  exportRollups, minutesOf, refreshRollups, rollupTotals, sessionMinutes, sessionRollup, sessionsBy, staleSessions,
} from '../../aggregate/rollups.js';
import { splitStatements } from '../../aggregate/store/migrate.js';
import { toInt } from '../../aggregate/store/values.js';
import { clickhouseMigrations } from '../../schemas/index.js';
import { tempStore } from '../helpers/services.js';
import {
  PEV, S1, S2, T0, enrollmentRows, intervalRows, sessionEventRows, tsv, vehicleReportRows,
} from './store/fixtures.js';
import type { Store } from '../../aggregate/store/types.js';

const MS = 1000;

async function load(store: Store): Promise<void> {
  const rows = intervalRows();
  // Resends in later inserts, the conflict last: the states must merge across inserts.
  await store.insertTsv('interval_raw', [tsv('interval_raw', rows.slice(0, 4))]);
  await store.insertTsv('interval_raw', [tsv('interval_raw', rows.slice(4, 5))]);
  await store.insertTsv('interval_raw', [tsv('interval_raw', rows.slice(5))]);
  await store.insertTsv('session_event_raw', [tsv('session_event_raw', sessionEventRows())]);
  await store.insertTsv('vehicle_report_raw', [tsv('vehicle_report_raw', vehicleReportRows())]);
  await store.insertTsv('enrollment', [tsv('enrollment', enrollmentRows())]);
}

const S1_ROLLUP = {
  sessionId: S1, esciId: 'ESCI-0000000A', premiseId: 'P000000001', pevId: PEV,
  firstIntervalMs: T0 * MS, lastActivityMs: (T0 + 120) * MS,
  energyWh: 150, intervalsSeen: 4, intervalsExpected: 4, gaps: 0, conflicts: 1,
  hasEnd: true, endEnergyWh: 150, endDurationS: 120, lastProgressWh: 50, grantedWh: 200,
  vehicleRunningWh: 149, vehicleReports: 2,
};

const S1_MINUTES = [
  { sessionId: S1, minuteMs: T0 * MS, energyWh: 50, intervals: 2, runningWh: 50 },
  { sessionId: S1, minuteMs: (T0 + 60) * MS, energyWh: 100, intervals: 2, runningWh: 150 },
];

void t.test('one session: resend counted once, conflict keeps the first copy, minutes with running sums', async (t) => {
  const store = await tempStore(t);
  await load(store);
  t.same(await sessionRollup(store, S1), S1_ROLLUP);
  t.same(await sessionRollup(store, S2), {
    sessionId: S2, esciId: 'ESCI-0000000A', premiseId: 'P000000001', pevId: PEV,
    firstIntervalMs: (T0 + 600) * MS, lastActivityMs: (T0 + 660) * MS,
    energyWh: 10, intervalsSeen: 1, intervalsExpected: 1, gaps: 0, conflicts: 0,
    hasEnd: false, endEnergyWh: null, endDurationS: null, lastProgressWh: 0, grantedWh: 0, vehicleRunningWh: 0, vehicleReports: 0,
  }, 'a session without an end keeps its energy so far');
  t.equal(await sessionRollup(store, 'S-none'), null);
  t.same(await sessionMinutes(store, S1), S1_MINUTES);
  t.same((await minutesOf(store, [S2, S1])).map((m) => [m.sessionId, m.energyWh, m.runningWh]), [[S1, 50, 50], [S1, 100, 150], [S2, 10, 10]]);
  t.same(await rollupTotals(store), { sessions: 2, energyWh: 160, intervals: 5, conflicts: 1, unfinished: 1, minutes: 3 });

  // Every copy inserted again (a replay of the whole history), then merged: nothing changes.
  await load(store);
  for (const table of ['interval_copies', 'session_event_state', 'vehicle_report_state', 'session_by_premise', 'session_by_pev']) {
    await store.client.command({ query: `OPTIMIZE TABLE ${store.database}.${table} FINAL` });
  }
  t.same(await sessionRollup(store, S1), S1_ROLLUP, 'a replay and OPTIMIZE FINAL change nothing');
  t.same(await rollupTotals(store), { sessions: 2, energyWh: 160, intervals: 5, conflicts: 1, unfinished: 1, minutes: 3 });
});

void t.test('lookups by premise, PEV, account and program in a time range', async (t) => {
  const store = await tempStore(t);
  await load(store);
  const month = { fromMs: (T0 - 3600) * MS, toMs: (T0 + 3600) * MS };
  const ids = async (key: Parameters<typeof sessionsBy>[1], range = month): Promise<string[]> =>
    (await sessionsBy(store, key, range)).map((r) => r.sessionId);
  // S2 has no session event: the index finds it by its interval seq 0.
  t.same(await ids({ premiseId: 'P000000001' }), [S1, S2]);
  t.same(await ids({ pevId: PEV }), [S1, S2]);
  t.same(await ids({ accountId: 'A000000001' }), [S1, S2]);
  t.same(await ids({ programId: 'EV-HOME' }), [S1, S2]);
  t.same((await sessionsBy(store, { premiseId: 'P000000001' }, month))[0], S1_ROLLUP, 'the lookup returns full rollups');
  t.same(await ids({ premiseId: 'P000000002' }), [], 'another premise');
  t.same(await ids({ accountId: 'A000000002' }), [], 'another account');
  t.same(await ids({ premiseId: 'P000000001' }, { fromMs: (T0 + 300) * MS, toMs: (T0 + 3600) * MS }), [S2], 'S1 ended before the range');
  t.same(await ids({ pevId: PEV }, { fromMs: (T0 - 3600) * MS, toMs: (T0 + 600) * MS }), [S1], 'S2 starts at the range end');
});

void t.test('the whole period as CSV', async (t) => {
  const store = await tempStore(t);
  await load(store);
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  const bytes = await exportRollups(store, { fromMs: (T0 - 3600) * MS, toMs: (T0 + 3600) * MS }, out);
  const lines = text.trimEnd().split('\n');
  t.equal(bytes, Buffer.byteLength(text));
  t.equal(lines.length, 3, 'header and two sessions');
  t.match(lines[0], /^"session_id","esci_id","premise_id","pev_id","first_interval_ms",/);
  t.match(lines[1], new RegExp(`^"${S1}",.*,150,4,4,1,`));
});

/** What migration 011 adds: the session_version table and the views that feed it. */
const VERSION_VIEWS = ['session_version_copies_mv', 'session_version_events_mv', 'session_version_reports_mv'];

/** Takes a store back to before migration 011: no session_version, no minutes in the finished rows. */
async function undoSessionVersion(store: Store): Promise<void> {
  const db = store.database;
  for (const v of VERSION_VIEWS) await store.client.command({ query: `DROP VIEW IF EXISTS ${db}.${v}` });
  await store.client.command({ query: `DROP TABLE IF EXISTS ${db}.session_version` });
  await store.client.command({ query: `ALTER TABLE ${db}.session_rollup_final DROP COLUMN IF EXISTS minutes` });
  await store.client.command({ query: `DELETE FROM ${db}.schema_migrations WHERE name = '011_session_version'` });
}

/** Takes a store back to before migration 010 (and so 011): no counting views, counters or finished rollups. */
async function undoFinishedRollups(store: Store): Promise<void> {
  const db = store.database;
  await undoSessionVersion(store);
  for (const v of ['interval_copies_counted_mv', 'session_event_state_counted_mv', 'vehicle_report_state_counted_mv']) await store.client.command({ query: `DROP VIEW IF EXISTS ${db}.${v}` });
  await store.client.command({ query: `DROP TABLE IF EXISTS ${db}.session_rollup_final` });
  for (const table of ['interval_copies', 'session_event_state', 'vehicle_report_state']) {
    await store.client.command({ query: `ALTER TABLE ${db}.${table} DROP COLUMN IF EXISTS stored_rows` });
  }
  await store.client.command({ query: `DELETE FROM ${db}.schema_migrations WHERE name = '010_session_rollup_final'` });
}

void t.test('a store made before the aggregates is backfilled once, to the same answers', async (t) => {
  const store = await tempStore(t);
  // The state the release before 006 left: raw rows and no aggregates.
  const db = store.database;
  for (const v of [...VERSION_VIEWS, 'interval_copies_counted_mv', 'session_event_state_counted_mv', 'vehicle_report_state_counted_mv', 'session_by_premise_events_mv', 'session_by_premise_intervals_mv',
    'session_by_pev_events_mv', 'session_by_pev_intervals_mv', 'enrollment_by_account_mv', 'enrollment_by_program_mv']) {
    await store.client.command({ query: `DROP VIEW ${db}.${v}` });
  }
  for (const table of ['interval_copies', 'session_event_state', 'vehicle_report_state', 'session_by_premise', 'session_by_pev', 'enrollment_by_account', 'enrollment_by_program', 'session_rollup_final', 'session_version']) {
    await store.client.command({ query: `DROP TABLE ${db}.${table}` });
  }
  const aggregates = "('006_session_aggregates', '009_interval_copies', '010_session_rollup_final', '011_session_version')";
  await store.client.command({ query: `DELETE FROM ${db}.schema_migrations WHERE name IN ${aggregates}` });
  await load(store);
  await t.rejects(sessionRollup(store, S1), {
    name: 'StoreError', code: 'PEV_STORE_REJECTED', retryable: false,
    message: /no aggregate tables: migrations 006_session_aggregates, 009_interval_copies, 010_session_rollup_final, 011_session_version are not all applied/,
  }, 'a clear error while the aggregates are absent');

  t.same((await store.migrate()).applied, ['006_session_aggregates', '009_interval_copies', '010_session_rollup_final', '011_session_version']);
  t.same(await sessionRollup(store, S1), S1_ROLLUP, 'backfilled from the raw tables');
  t.same(await store.select('SHOW TABLES FROM {db} LIKE \'interval_state%\''), [], "006's interval state is replaced by 009's copies");
  t.same(await sessionsBy(store, { accountId: 'A000000001' }, { fromMs: (T0 - 3600) * MS, toMs: (T0 + 3600) * MS }).then((r) => r.length), 2);
  t.same((await store.migrate()).applied, [], 'applied once');
  // The migrations run a second time (cut off and restarted) change nothing either. 006's and
  // 009's backfills insert the columns their tables had then, so 010 and 011 are undone first.
  await undoFinishedRollups(store);
  await store.client.command({ query: `DELETE FROM ${db}.schema_migrations WHERE name IN ${aggregates}` });
  t.same((await store.migrate()).applied, ['006_session_aggregates', '009_interval_copies', '010_session_rollup_final', '011_session_version']);
  t.same(await sessionRollup(store, S1), S1_ROLLUP);
  const [raw] = await store.select<{ n: string }>('SELECT count() AS n FROM {db}.interval_copies FINAL');
  t.equal(toInt(raw?.n), 2, 'one state row per session block after merging');
  t.equal((await refreshRollups(store)).stale, 2, 'both sessions finish');
  t.same(await sessionRollup(store, S1), S1_ROLLUP, 'and read the same from the finished rows');
});

void t.test("a store made by the release before 009 (006's interval states) moves to interval_copies with the same answers", async (t) => {
  const store = await tempStore(t);
  const db = store.database;
  // Put back what 006 made and 009 and 010 replace, and let rows arrive through 006's views.
  await undoFinishedRollups(store);
  await store.client.command({ query: `DROP TABLE ${db}.interval_copies` });
  await store.client.command({ query: `DELETE FROM ${db}.schema_migrations WHERE name = '009_interval_copies'` });
  const m006 = clickhouseMigrations().find((m) => m.name === '006_session_aggregates');
  const stateDdl = splitStatements(m006!.sql.replaceAll('{db}', db)).filter((s) => /^CREATE (TABLE|MATERIALIZED VIEW) IF NOT EXISTS \S+\.(interval_state(_mv)?|session_event_state_mv|vehicle_report_state_mv)\s/m.test(s));
  t.equal(stateDdl.length, 4, "006's interval_state table and view, and its event and vehicle views");
  for (const stmt of stateDdl) await store.client.command({ query: stmt });
  await load(store);
  const [before] = await store.select<{ n: string }>('SELECT count() AS n FROM {db}.interval_state');
  t.ok(toInt(before?.n) > 0, 'the rows went to the old states');

  t.same((await store.migrate()).applied, ['009_interval_copies', '010_session_rollup_final', '011_session_version']);
  t.same(await store.select('SHOW TABLES FROM {db} LIKE \'interval_state%\''), [], 'the old view and table are gone');
  t.same(
    (await store.select<{ name: string }>("SELECT name FROM system.tables WHERE database = {db:String} AND name LIKE '%state%mv' ORDER BY name", { db })).map((r) => r.name),
    ['session_event_state_counted_mv', 'vehicle_report_state_counted_mv'],
    "010's counting views replace 006's",
  );
  t.same(await sessionRollup(store, S1), S1_ROLLUP, 'backfilled from interval_raw: the same rollup');
  // Rows arriving after the move reach the new table only, and an exact resend still counts once.
  await store.insertTsv('interval_raw', [tsv('interval_raw', intervalRows().slice(0, 4))]);
  t.same(await sessionRollup(store, S1), S1_ROLLUP, 'a resend after the move changes nothing');
  t.equal((await refreshRollups(store)).stale, 2);
  await store.insertTsv('vehicle_report_raw', [tsv('vehicle_report_raw', vehicleReportRows().slice(0, 1))]);
  t.same(await staleSessions(store), [S1], 'a row through a counting view makes its session stale');
  t.same(await sessionRollup(store, S1), S1_ROLLUP);
});

void t.test('finished rollups: read while current, stale after any new row, refreshed exactly', async (t) => {
  const store = await tempStore(t);
  await load(store);
  const month = { fromMs: (T0 - 3600) * MS, toMs: (T0 + 3600) * MS };
  t.same(await staleSessions(store), [S1, S2], 'nothing finished yet');
  t.same(await sessionRollup(store, S1), S1_ROLLUP, 'answered from the states meanwhile');
  const progress: [number, number][] = [];
  t.same((await refreshRollups(store, { chunk: 1, onProgress: (done, total) => progress.push([done, total]) })).stale, 2);
  t.same(progress, [[0, 2], [1, 2], [2, 2]], 'progress per chunk');
  t.same(await staleSessions(store), []);
  t.equal((await refreshRollups(store)).stale, 0, 'a second refresh has nothing to do');
  const [row] = await store.select<Record<string, unknown>>('SELECT energy_wh, version FROM {db}.session_rollup_final FINAL WHERE session_id = {sid:String}', { sid: S1 });
  t.same([toInt(row?.['energy_wh']), toInt(row?.['version'])], [150, 6 + 5 + 3], "S1's finished row: 150 Wh, version 14 from its 6 interval, 5 event and 3 report rows");

  const [version] = await store.select<{ v: string }>('SELECT sum(stored_rows) AS v FROM {db}.session_version WHERE session_id = {sid:String}', { sid: S1 });
  t.equal(toInt(version?.v), 14, 'the same count in session_version, fed by views on the state tables');
  t.same(await sessionMinutes(store, S1), S1_MINUTES, 'minutes from the finished row equal those from the states');

  // A finished row that still matches its version is what every read returns: mark it to see.
  const marked =
    'INSERT INTO {db}.session_rollup_final SELECT * REPLACE (999 AS energy_wh, [(toUInt32({t0:UInt32}), 999, 7)] AS minutes) ' +
    'FROM {db}.session_rollup_final FINAL WHERE session_id = {sid:String}';
  await store.client.command({ query: marked.replaceAll('{db}', store.database), query_params: { sid: S1, t0: T0 } });
  // Merged, so the marked row is the only one left (equal versions: the last inserted stays); a point
  // lookup reads any row of the current version, which real refreshes compute from the same rows.
  await store.client.command({ query: `OPTIMIZE TABLE ${store.database}.session_rollup_final FINAL` });
  t.equal((await sessionRollup(store, S1))?.energyWh, 999, 'the point lookup reads the finished row');
  t.same((await sessionsBy(store, { premiseId: 'P000000001' }, month)).map((r) => r.energyWh), [999, 10], 'so does a key lookup');
  t.equal((await rollupTotals(store)).energyWh, 999 + 10, 'and the whole-store read');
  t.same(await sessionMinutes(store, S1), [{ sessionId: S1, minuteMs: T0 * MS, energyWh: 999, intervals: 7, runningWh: 999 }], 'and the minutes lookup');

  // Any new row of the session, even an exact resend that changes no answer, makes it stale.
  await store.insertTsv('interval_raw', [tsv('interval_raw', intervalRows().slice(0, 1))]);
  t.same(await staleSessions(store), [S1]);
  t.same(await sessionRollup(store, S1), S1_ROLLUP, 'answered from the states again');
  t.same(await sessionMinutes(store, S1), S1_MINUTES, 'minutes too');
  t.same((await sessionsBy(store, { premiseId: 'P000000001' }, month)).map((r) => r.energyWh), [150, 10]);
  t.same(await rollupTotals(store), { sessions: 2, energyWh: 160, intervals: 5, conflicts: 1, unfinished: 1, minutes: 3 });
  t.equal((await refreshRollups(store)).stale, 1, 'only S1 is computed again');
  t.equal((await sessionRollup(store, S1))?.energyWh, 150);
  for (const [table, rows] of [['session_event_raw', sessionEventRows()], ['vehicle_report_raw', vehicleReportRows()]] as const) {
    await store.insertTsv(table, [tsv(table, rows.slice(0, 1))]);
    t.same(await staleSessions(store), [S1], `a ${table} row makes it stale too`);
    await refreshRollups(store);
  }
  await store.client.command({ query: `OPTIMIZE TABLE ${store.database}.session_rollup_final FINAL` });
  t.same(await sessionRollup(store, S1), S1_ROLLUP, 'merged to one row per session, the newest');
  const [n] = await store.select<{ n: string }>('SELECT count() AS n FROM {db}.session_rollup_final');
  t.equal(toInt(n?.n), 2);

  // A current row without minutes (as a build before 011 would write it) leaves them to the states.
  const noMinutes = 'INSERT INTO {db}.session_rollup_final SELECT * REPLACE ([] AS minutes, 999 AS energy_wh) FROM {db}.session_rollup_final FINAL WHERE session_id = {sid:String}';
  await store.client.command({ query: noMinutes.replaceAll('{db}', store.database), query_params: { sid: S1 } });
  await store.client.command({ query: `OPTIMIZE TABLE ${store.database}.session_rollup_final FINAL` });
  t.equal((await sessionRollup(store, S1))?.energyWh, 999, 'the row is current');
  t.same(await sessionMinutes(store, S1), S1_MINUTES, 'its empty minutes are not read');
});

void t.test("a store made by the release before 011: one version table, every rollup finished again with its minutes", async (t) => {
  const store = await tempStore(t);
  await load(store);
  await refreshRollups(store);
  await undoSessionVersion(store);
  const [before] = await store.select<{ n: string }>('SELECT count() AS n FROM {db}.session_rollup_final');
  t.equal(toInt(before?.n), 2, "010's finished rows");
  t.same((await store.migrate()).applied, ['011_session_version']);
  const [after] = await store.select<{ n: string }>('SELECT count() AS n FROM {db}.session_rollup_final');
  t.equal(toInt(after?.n), 0, 'they go: they have no minutes');
  const versions = await store.select<{ session_id: string; v: string; c: number }>(
    'SELECT session_id, sum(stored_rows) AS v, max(has_copies) AS c FROM {db}.session_version GROUP BY session_id ORDER BY session_id',
  );
  t.same(versions.map((r) => [r.session_id, toInt(r.v), toInt(r.c)]), [[S1, 14, 1], [S2, 1, 1]], 'backfilled from the three state tables');
  t.same(await staleSessions(store), [S1, S2]);
  t.same(await sessionRollup(store, S1), S1_ROLLUP, 'answered from the states meanwhile');
  t.equal((await refreshRollups(store)).stale, 2);
  t.same(await sessionMinutes(store, S1), S1_MINUTES);
  await store.insertTsv('vehicle_report_raw', [tsv('vehicle_report_raw', vehicleReportRows().slice(0, 1))]);
  t.same(await staleSessions(store), [S1], 'a row stored after the migration moves the version through its view');
});

void t.test('the whole period as CSV into a file: ClickHouse writes it', async (t) => {
  const store = await tempStore(t);
  await load(store);
  // Not t.testdir(): that folder holds the store.
  const dir = mkdtempSync(join(tmpdir(), 'pev-rollups-csv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "rollups 'quoted'.csv");
  await exportRollups(store, { fromMs: (T0 - 3600) * MS, toMs: (T0 + 3600) * MS }, path);
  const fromStates = readFileSync(path, 'utf8');
  await refreshRollups(store);
  const bytes = await exportRollups(store, { fromMs: (T0 - 3600) * MS, toMs: (T0 + 3600) * MS }, path);
  const text = readFileSync(path, 'utf8');
  t.equal(text, fromStates, 'finished rows print exactly as rollups computed from the states');
  t.equal(bytes, Buffer.byteLength(text));
  const lines = text.trimEnd().split('\n');
  t.equal(lines.length, 3, 'header and two sessions');
  t.match(lines[1], new RegExp(`^"${S1}",.*,150,4,4,1,`));
  t.match(lines[2], new RegExp(`^"${S2}",.*,10,1,1,0,`));
  await exportRollups(store, { fromMs: (T0 + 500) * MS, toMs: (T0 + 3600) * MS }, path);
  t.equal(readFileSync(path, 'utf8').trimEnd().split('\n').length, 2, 'written again from the start: S2 alone');
});
