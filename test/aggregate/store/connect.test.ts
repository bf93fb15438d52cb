/**
 * The store against the real ClickHouse engine in-process (chDB): migrations, TSV inserts of every
 * raw table, exact read-time dedup through the views, error mapping, and chDB's one-folder rule.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { IntervalColumns } from '../../../aggregate/store/columns.js';
import { openStore } from '../../../aggregate/store/connect.js';
import { toInt } from '../../../aggregate/store/values.js';
import { clickhouseMigrations, packageRoot } from '../../../schemas/index.js';
import { tempStore } from '../../helpers/services.js';
import {
  DEAD_MESSAGE, S1, S2, T0, deadLetterRows, enrollmentRows, intervalRows, sessionEventRows, tsv, vehicleReportRows,
} from './fixtures.js';

const ALL = clickhouseMigrations().map((m) => m.name);

void t.test('migrate applies every migration once, then nothing', async (t) => {
  const store = await tempStore(t, { migrate: false });
  const first = await store.migrate();
  t.same(first.applied, ALL);
  t.same(first.skipped, []);
  t.match(first.serverVersion, /^\d+\.\d+/);
  const second = await store.migrate();
  t.same(second.applied, []);
  t.same(second.skipped, []);
  const recorded = await store.select<{ name: string }>('SELECT DISTINCT name FROM {db}.schema_migrations ORDER BY name');
  t.same(recorded.map((r) => r.name), ALL);
});

void t.test('a store migrated before 004 has its billing digest columns renamed, once', async (t) => {
  const store = await tempStore(t);
  const columns = async (): Promise<string[]> =>
    (await store.select<{ c: string }>("SELECT concat(table, '.', name) AS c FROM system.columns WHERE database = {db:String} AND table LIKE 'billing_%' AND name LIKE 'content_%' ORDER BY c", { db: store.database })).map((r) => r.c);
  t.same(await columns(), ['billing_export.content_digest', 'billing_record.content_digest']);
  // The state 003 left before 004 existed: the columns under their old name, 004 not recorded.
  for (const table of ['billing_record', 'billing_export']) {
    await store.client.command({ query: `ALTER TABLE ${store.database}.${table} RENAME COLUMN content_digest TO content_sha256` });
  }
  await store.client.command({ query: `DELETE FROM ${store.database}.schema_migrations WHERE name = '004_billing_digest'` });
  t.same(await columns(), ['billing_export.content_sha256', 'billing_record.content_sha256']);
  t.same((await store.migrate()).applied, ['004_billing_digest']);
  t.same(await columns(), ['billing_export.content_digest', 'billing_record.content_digest']);
  t.same((await store.migrate()).applied, [], 'applied once');
});

void t.test('a store migrated before 005: session_rollup end fields become NULL without an END, 0 Wh stays 0', async (t) => {
  const store = await tempStore(t);
  // The state 002 left: the old view, 005 not recorded.
  const v002 = readFileSync(join(packageRoot(), 'schemas', 'clickhouse', '002_read_views.sql'), 'utf8');
  const old = v002.slice(v002.indexOf('CREATE VIEW IF NOT EXISTS {db}.session_rollup')).replace('CREATE VIEW IF NOT EXISTS', 'CREATE OR REPLACE VIEW').replaceAll('{db}', store.database);
  await store.client.command({ query: old.trim().replace(/;$/, '') });
  await store.client.command({ query: `DELETE FROM ${store.database}.schema_migrations WHERE name = '005_session_rollup_end_nullable'` });
  const ev = { esci_id: 'ESCI-0000000A', premise_id: 'P000000001', pev_id: '1HGCM82633A004352', src_topic: 'pev.session-event', src_partition: 0, ingested_ms: 1 };
  const iv = { esci_id: 'ESCI-0000000A', eumd_id: 'EUMD-0000000B', premise_id: 'P000000001', pev_id: '1HGCM82633A004352', seq: 0, interval_start: T0, interval_s: 60, register_wh: 0, src_topic: 'x', src_partition: 0, ingested_ms: 1 };
  await store.insertTsv('interval_raw', [tsv('interval_raw', [
    { ...iv, session_id: 'S-00000000000000a1', energy_wh: 0, src_offset: 0 },
    { ...iv, session_id: 'S-00000000000000a2', energy_wh: 7, src_offset: 1 },
  ])]);
  await store.insertTsv('session_event_raw', [tsv('session_event_raw', [
    { ...ev, session_id: 'S-00000000000000a1', event_seq: 0, event_type: 'END', event_time_ms: (T0 + 60) * 1000, duration_s: 60, energy_wh: 0, src_offset: 0 },
    { ...ev, session_id: 'S-00000000000000a2', event_seq: 0, event_type: 'START', event_time_ms: T0 * 1000, src_offset: 1 },
  ])]);
  const ends = async () => (await store.select<{ s: string; e: unknown; d: unknown }>('SELECT session_id AS s, end_energy_wh AS e, end_duration_s AS d FROM {db}.session_rollup ORDER BY s')).map((r) => [r.s, r.e === null ? null : toInt(r.e), r.d === null ? null : toInt(r.d)]);
  t.same(await ends(), [['S-00000000000000a1', 0, 60], ['S-00000000000000a2', 0, 0]], 'before 005: a START without END reads as ended at 0 Wh');
  t.same((await store.migrate()).applied, ['005_session_rollup_end_nullable']);
  t.same(await ends(), [['S-00000000000000a1', 0, 60], ['S-00000000000000a2', null, null]], 'after: ended at 0 Wh stays 0; never ended is NULL');
  t.same((await store.migrate()).applied, [], 'applied once');
});

void t.test('TSV rows of every raw table read back deduplicated and exact', async (t) => {
  const store = await tempStore(t);
  // Merges stopped, so the raw table shows every delivery until OPTIMIZE below. Resends arrive in
  // a later insert (on 20.x+ servers and chDB, optimize_on_insert would already collapse an exact
  // duplicate inside one insert block: harmless to totals, but `deliveries` would read 1).
  await store.client.command({ query: `SYSTEM STOP MERGES ${store.database}.interval_raw` });
  const rows = intervalRows();
  const first = tsv('interval_raw', rows.slice(0, 4));
  const cut = first.indexOf(0x0a, first.length >> 1) + 7; // chunks need not end on a row
  await store.insertTsv('interval_raw', [first.subarray(0, cut), first.subarray(cut)]);
  await store.insertTsv('interval_raw', [tsv('interval_raw', rows.slice(4))]);
  await store.insertTsv('session_event_raw', [tsv('session_event_raw', sessionEventRows())]);
  await store.insertTsv('vehicle_report_raw', [tsv('vehicle_report_raw', vehicleReportRows())]);
  await store.insertTsv('enrollment', [tsv('enrollment', enrollmentRows())]);
  await store.insertTsv('dead_letter', [tsv('dead_letter', deadLetterRows())]);
  const raw = await store.select<{ n: string; wh: string }>('SELECT count() AS n, sum(energy_wh) AS wh FROM {db}.interval_raw');
  t.same(raw.map((r) => [toInt(r.n), toInt(r.wh)]), [[7, 289]], 'raw table keeps every delivery');

  const unique = await store.select<Record<string, unknown>>(
    'SELECT seq, energy_wh, copies, deliveries, min_energy_wh, max_energy_wh FROM {db}.interval_unique WHERE session_id = {s:String} ORDER BY seq',
    { s: S1 },
  );
  t.same(
    unique.map((r) => [r['seq'], r['energy_wh'], r['copies'], r['deliveries'], r['min_energy_wh'], r['max_energy_wh']].map(toInt)),
    [
      [0, 20, 1, 1, 20, 20],
      [1, 30, 1, 2, 30, 30],
      [2, 40, 1, 1, 40, 40],
      [3, 60, 2, 2, 60, 99],
    ],
    'exact resend counted once, conflict keeps the first received value and copies = 2',
  );

  const minutes = await store.select<Record<string, unknown>>(
    'SELECT session_id, toUnixTimestamp(minute) AS m, energy_wh, intervals, running_wh FROM {db}.session_minute ORDER BY session_id, m',
  );
  t.same(
    minutes.map((r) => [r['session_id'], ...[r['m'], r['energy_wh'], r['intervals'], r['running_wh']].map(toInt)]),
    [
      [S1, T0, 50, 2, 50],
      [S1, T0 + 60, 100, 2, 150],
      [S2, T0 + 600, 10, 1, 10],
    ],
  );

  const rollup = await store.select<Record<string, unknown>>('SELECT * FROM {db}.session_rollup ORDER BY session_id');
  const pick = (r: Record<string, unknown> | undefined, keys: string[]) => keys.map((k) => (k === 'session_id' ? r?.[k] : toInt(r?.[k])));
  const keys = [
    'session_id', 'energy_wh', 'intervals_seen', 'intervals_expected', 'gaps', 'conflicts', 'has_end', 'end_energy_wh',
    'end_duration_s', 'last_progress_wh', 'granted_wh', 'vehicle_running_wh', 'vehicle_reports',
  ];
  t.same(pick(rollup[0], keys), [S1, 150, 4, 4, 0, 1, 1, 150, 120, 50, 200, 149, 2]);
  t.same(pick(rollup[1], keys.slice(0, 7)), [S2, 10, 1, 1, 0, 0, 0], 'a session without an end keeps its energy so far');
  t.same([rollup[1]?.['end_energy_wh'], rollup[1]?.['end_duration_s']], [null, null], 'and has no end energy or duration: NULL, not 0');
  t.equal(rollup.length, 2);

  const events = await store.select<{ n: string; copies: string }>('SELECT count() AS n, sum(copies) AS copies FROM {db}.session_event_unique');
  t.same(events.map((r) => [toInt(r.n), toInt(r.copies)]), [[4, 4]], 'the resent end summary is one event');

  const enr = await store.select<Record<string, unknown>>('SELECT pev_id, account_id, valid_to_ms, rated_power_w FROM {db}.enrollment');
  t.same(enr.map((r) => [r['pev_id'], r['account_id'], toInt(r['valid_to_ms']), toInt(r['rated_power_w'])]), [['1HGCM82633A004352', 'A000000001', 0, 7200]]);

  const dl = await store.select<{ message: string; code: string; src_offset: string }>('SELECT message, code, src_offset FROM {db}.dead_letter');
  t.same(dl.map((r) => [r.code, r.message, toInt(r.src_offset)]), [['PEV_NO_MAGIC', DEAD_MESSAGE, 7]], 'TSV escaping and UTF-8 round-trip');

  // Merges collapse exact duplicates (ReplacingMergeTree) but never change a total.
  await store.client.command({ query: `SYSTEM START MERGES ${store.database}.interval_raw` });
  await store.client.command({ query: `OPTIMIZE TABLE ${store.database}.interval_raw FINAL` });
  const after = await store.select<{ n: string; wh: string; d: string }>(
    'SELECT count() AS n, sum(energy_wh) AS wh, sum(deliveries) AS d FROM {db}.interval_unique WHERE session_id = {s:String}',
    { s: S1 },
  );
  t.same(after.map((r) => [toInt(r.n), toInt(r.wh), toInt(r.d)]), [[4, 150, 5]], 'after OPTIMIZE FINAL: 4 intervals, 150 Wh, resend merged away');
});

void t.test('interval rows as columns: stored exactly, counted once by the aggregates, concurrent inserts all land', async (t) => {
  const store = await tempStore(t);
  t.ok('insertIntervalColumns' in store, 'chDB takes interval rows as columns');
  const insert = store.insertIntervalColumns!.bind(store);
  // intervalRows(): S1 with an exact resend and a conflict, S2 with one interval; the second part
  // carries the resends, from another partition, as a redelivery would.
  const part = (rows: Record<string, string | number>[], partition: number, ingestedMs: number) => {
    const c = new IntervalColumns(rows.length);
    for (const r of rows) {
      c.write({
        session_id: String(r['session_id']), seq: Number(r['seq']), esci_id: String(r['esci_id']), eumd_id: String(r['eumd_id']),
        premise_id: String(r['premise_id']), pev_id: String(r['pev_id']), interval_start: Number(r['interval_start']) * 1000,
        interval_s: Number(r['interval_s']), energy_wh: Number(r['energy_wh']), register_wh: Number(r['register_wh']), quality: Number(r['quality']),
      }, Number(r['src_offset']));
    }
    return c.result('pev.eumd-interval', partition, ingestedMs);
  };
  const rows = intervalRows();
  await insert([part(rows.slice(0, 4), 3, 1), part(rows.slice(6), 3, 1)]);
  await insert([part(rows.slice(4, 6), 5, 2)]);
  await insert([part([], 0, 0)]);
  const raw = await store.select<Record<string, unknown>>(
    'SELECT session_id, seq, toUnixTimestamp(interval_start) AS start, energy_wh, register_wh, src_topic, src_partition, src_offset, ingested_ms FROM {db}.interval_raw ORDER BY src_offset',
  );
  t.same(
    raw.map((r) => [r['session_id'], ...['seq', 'start', 'energy_wh', 'register_wh'].map((k) => toInt(r[k])), r['src_topic'], ...['src_partition', 'src_offset', 'ingested_ms'].map((k) => toInt(r[k]))]),
    rows.map((r) => [r['session_id'], r['seq'], r['interval_start'], r['energy_wh'], r['register_wh'], 'pev.eumd-interval', Number(r['src_offset']) >= 14 && Number(r['src_offset']) <= 15 ? 5 : 3, r['src_offset'], Number(r['src_offset']) >= 14 && Number(r['src_offset']) <= 15 ? 2 : 1]),
    'every column of every row, as written',
  );
  const rollup = await store.select<Record<string, unknown>>('SELECT session_id, energy_wh, intervals_seen, conflicts FROM {db}.session_rollup ORDER BY session_id');
  t.same(rollup.map((r) => [r['session_id'], toInt(r['energy_wh']), toInt(r['intervals_seen']), toInt(r['conflicts'])]), [[S1, 150, 4, 1], [S2, 10, 1, 0]]);

  // Eight inserts at once, each its own registered table.
  let expected = 0;
  const batches = Array.from({ length: 8 }, (_, b) => {
    const c = new IntervalColumns(500);
    for (let i = 0; i < 500; i++) {
      const energy = 1 + ((i + b) % 7);
      expected += energy;
      c.write({ session_id: `S-${(0x100 + b).toString(16).padStart(16, '0')}`, seq: i, esci_id: 'ESCI-0000000A', eumd_id: 'EUMD-0000000B', premise_id: 'P000000001', pev_id: 'JH4KA7561PC008269', interval_start: (T0 + i * 60) * 1000, interval_s: 60, energy_wh: energy, register_wh: 0, quality: 0 }, i);
    }
    return c.result('x', b, 1);
  });
  await Promise.all(batches.map((p) => insert([p])));
  const [all] = await store.select<{ n: string; wh: string }>("SELECT count() AS n, sum(energy_wh) AS wh FROM {db}.interval_raw WHERE src_topic = 'x'");
  t.same([toInt(all?.n), toInt(all?.wh)], [4000, expected]);
});

void t.test('concurrent inserts into one embedded store all land', async (t) => {
  const store = await tempStore(t);
  const batches = Array.from({ length: 8 }, (_, b) =>
    tsv('interval_raw', Array.from({ length: 500 }, (_, i) => ({
      session_id: `S-${b.toString(16).padStart(16, '0')}`, seq: i, interval_start: T0 + i * 60, interval_s: 60, energy_wh: 1 + (i % 7),
      src_topic: 'x', src_partition: b, src_offset: i, ingested_ms: 1,
    }))),
  );
  await Promise.all(batches.map((b) => store.insertTsv('interval_raw', [b])));
  const [r] = await store.select<{ n: string; wh: string }>('SELECT count() AS n, sum(energy_wh) AS wh FROM {db}.interval_raw');
  let expected = 0;
  for (let i = 0; i < 500; i++) expected += 1 + (i % 7);
  t.same([toInt(r?.n), toInt(r?.wh)], [4000, 8 * expected]);
});

void t.test('insert failures are mapped to StoreError', async (t) => {
  const store = await tempStore(t);
  await store.client.command({ query: 'CREATE DATABASE IF NOT EXISTS unmigrated' });
  const other = await openStore({ kind: 'embedded', path: join(t.testdirName, 'chdb'), database: 'unmigrated' });
  t.teardown(() => other.close());
  const row = tsv('vehicle_report_raw', vehicleReportRows().slice(0, 1));
  await t.rejects(other.insertTsv('vehicle_report_raw', [row]), {
    name: 'StoreError',
    code: 'PEV_STORE_REJECTED',
    retryable: false,
    message: /unmigrated\.vehicle_report_raw/,
  }, 'missing table: rejected, not retryable, names the table');
  const one = new IntervalColumns(1);
  one.write({ session_id: S1, seq: 0, esci_id: 'ESCI-0000000A', eumd_id: 'EUMD-0000000B', premise_id: 'P000000001', pev_id: 'JH4KA7561PC008269', interval_start: T0 * 1000, interval_s: 60, energy_wh: 1, register_wh: 1, quality: 0 }, 0);
  await t.rejects(other.insertIntervalColumns!([one.result('x', 0, 1)]), {
    name: 'StoreError',
    code: 'PEV_STORE_REJECTED',
    retryable: false,
    message: /1 rows as columns into unmigrated\.interval_raw/,
  }, 'the columnar insert too');
  await t.rejects(store.insertTsv('vehicle_report_raw', [Buffer.from('S-1\tnot-a-number\n')]), {
    code: 'PEV_STORE_REJECTED',
    retryable: false,
    message: /vehicle_report_raw/,
  }, 'malformed row: rejected');
  await t.rejects(store.select('SELEC 1'), { code: 'PEV_STORE_REJECTED', retryable: false }, 'syntax error: rejected');
  await store.insertTsv('interval_raw', []);
  await store.insertTsv('interval_raw', [new Uint8Array(0)]);
  const [n] = await store.select<{ n: string }>('SELECT count() AS n FROM {db}.interval_raw');
  t.equal(toInt(n?.n), 0, 'empty inserts are no-ops');
});

void t.test('configuration errors name the option', async (t) => {
  await t.rejects(openStore({ kind: 'embedded', path: join(t.testdirName, 'x'), database: 'bad-name; DROP' }), {
    code: 'PEV_CONFIG',
    message: /database "bad-name; DROP" must be an identifier/,
  });
  await t.rejects(openStore({ kind: 'http', url: 'not a url', username: 'u', password: 'p', database: 'd', requestTimeoutMs: 1000 }), {
    code: 'PEV_CONFIG',
    message: /store url/,
  });
});

void t.test('chDB: one data folder per process, persisted across close and reopen', async (t) => {
  const dirA = join(t.testdirName, 'a');
  t.teardown(() => rmSync(t.testdirName, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  const dirB = join(t.testdirName, 'b');
  const a = await openStore({ kind: 'embedded', path: dirA, database: 'pevmeter' });
  await a.migrate();
  await a.insertTsv('interval_raw', [tsv('interval_raw', intervalRows().slice(0, 4))]);
  await a.insertTsv('interval_raw', [tsv('interval_raw', intervalRows().slice(4))]);
  const a2 = await openStore({ kind: 'embedded', path: dirA, database: 'pevmeter' });
  const [shared] = await a2.select<{ n: string }>('SELECT count() AS n FROM {db}.interval_unique');
  t.equal(toInt(shared?.n), 5, 'a second store on the same folder shares it');
  await t.rejects(openStore({ kind: 'embedded', path: dirB, database: 'pevmeter' }), {
    code: 'PEV_CONFIG',
    message: /chDB allows one data folder per process.*\/a".*is open/,
  }, 'a second folder is refused, naming both');
  await a.close();
  await t.rejects(openStore({ kind: 'embedded', path: dirB, database: 'pevmeter' }), { code: 'PEV_CONFIG' }, 'still refused while a2 is open');
  await a2.close();

  const b = await openStore({ kind: 'embedded', path: dirB, database: 'pevmeter' });
  const mb = await b.migrate();
  t.same(mb.applied, ALL, 'after closing the first folder, another opens fresh');
  await b.close();

  const again = await openStore({ kind: 'embedded', path: dirA, database: 'pevmeter' });
  t.teardown(() => again.close());
  t.same((await again.migrate()).applied, [], 'reopened folder remembers its migrations');
  const [r] = await again.select<{ wh: string }>('SELECT sum(energy_wh) AS wh FROM {db}.session_rollup');
  t.equal(toInt(r?.wh), 160, 'data persisted: 150 Wh + 10 Wh');
});
