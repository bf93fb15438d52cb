/**
 * The store over HTTP against a real ClickHouse server process: Debian's clickhouse-server 18.16
 * (test/services/clickhouse-server.sh), or CLICKHOUSE_URL when set. The ingest migration and TSV
 * inserts must work there; the read views need a newer server and are skipped with a reason.
 * The outage tests stop and restart a private server of their own, never the shared one.
 */
import t from 'tap';
import { sessionRollup } from '../../../aggregate/rollups.js';
import { openStore } from '../../../aggregate/store/connect.js';
import { compareVersions } from '../../../aggregate/store/migrate.js';
import type { Store } from '../../../aggregate/store/types.js';
import { toBigInt, toInt } from '../../../aggregate/store/values.js';
import { clickhouseMigrations } from '../../../schemas/index.js';
import { clickhouseServer, httpStoreOptions, privateClickhouseServer, uniqueName } from '../../helpers/services.js';
import {
  DEAD_MESSAGE, S1, deadLetterRows, enrollmentRows, intervalRows, sessionEventRows, tsv, vehicleReportRows,
} from './fixtures.js';

async function count(store: Store, table: string): Promise<number> {
  const [r] = await store.select<{ n: unknown }>(`SELECT count() AS n FROM {db}.${table}`);
  return toInt(r?.n);
}

void t.test('migrate, insert every raw table, read back (shared server)', async (t) => {
  const server = await clickhouseServer();
  const db = uniqueName('store_srv');
  const store = await openStore(httpStoreOptions(server, db));
  t.teardown(async () => {
    await store.client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await store.close();
  });

  const first = await store.migrate();
  const old = compareVersions(first.serverVersion, '23.8') < 0;
  const runnable = clickhouseMigrations().filter((m) => compareVersions(first.serverVersion, m.minServer) >= 0);
  const tooNew = clickhouseMigrations().filter((m) => compareVersions(first.serverVersion, m.minServer) < 0);
  t.same(first.applied, runnable.map((m) => m.name));
  t.same(first.skipped, tooNew.map((m) => ({ name: m.name, reason: `needs ClickHouse ${m.minServer} or newer, server is ${first.serverVersion}` })));
  t.ok(first.applied.includes('001_ingest_tables'), 'the ingest tables apply on every supported server');
  if (old) t.ok(first.skipped.some((s) => s.name === '002_read_views'), `read views skipped on ${first.serverVersion}`);
  const second = await store.migrate();
  t.same(second.applied, [], 'second run applies nothing');
  t.same(second.skipped, first.skipped, 'and skips the same, with the same reason');

  t.notOk('insertIntervalColumns' in store, 'a server takes text: no columnar insert, so the workers write TSV');
  await store.insertTsv('interval_raw', [tsv('interval_raw', intervalRows().slice(0, 4))]);
  await store.insertTsv('interval_raw', [tsv('interval_raw', intervalRows().slice(4))]);
  await store.insertTsv('session_event_raw', [tsv('session_event_raw', sessionEventRows())]);
  await store.insertTsv('vehicle_report_raw', [tsv('vehicle_report_raw', vehicleReportRows())]);
  await store.insertTsv('enrollment', [tsv('enrollment', enrollmentRows())]);
  await store.insertTsv('dead_letter', [tsv('dead_letter', deadLetterRows())]);

  // Distinct (key, content) pairs do not depend on whether parts merged yet.
  const [d] = await store.select<Record<string, unknown>>(
    'SELECT count() AS n, sum(e) AS wh FROM (SELECT session_id, seq, content_hash, any(energy_wh) AS e FROM {db}.interval_raw GROUP BY session_id, seq, content_hash)',
  );
  t.same([toInt(d?.['n']), toInt(d?.['wh'])], [6, 259], 'six distinct interval contents (one exact resend), 20+30+40+60+99+10 Wh');
  const [k] = await store.select<Record<string, unknown>>('SELECT uniqExact(session_id, seq) AS n FROM {db}.interval_raw');
  t.equal(toInt(k?.['n']), 5, 'five natural keys');
  t.equal(await count(store, 'enrollment'), 1);
  const [ve] = await store.select<Record<string, unknown>>('SELECT count() AS n FROM (SELECT DISTINCT session_id, report_time_ms, running_wh FROM {db}.vehicle_report_raw)');
  t.equal(toInt(ve?.['n']), 2);
  if (old) {
    // The write path works without the aggregates; reading them says what is missing.
    await t.rejects(sessionRollup(store, S1), { code: 'PEV_STORE_REJECTED', retryable: false, message: /migrations 006_session_aggregates, 009_interval_copies, 010_session_rollup_final, 011_session_version are not all applied \(they need ClickHouse 23\.8/ });
  } else {
    t.equal((await sessionRollup(store, S1))?.energyWh, 150, 'a 23.8+ server keeps the aggregates as rows arrive');
  }
  const [dl] = await store.select<{ message: string }>('SELECT message FROM {db}.dead_letter');
  t.equal(dl?.message, DEAD_MESSAGE, 'TSV escaping and UTF-8 round-trip');
  const [h] = await store.select<{ h: unknown; r: unknown }>('SELECT content_hash AS h, arrival_rank AS r FROM {db}.interval_raw WHERE src_offset = 10');
  t.type(h?.h, 'string', '64-bit integers arrive quoted from a server too');
  t.equal(toBigInt(h?.r), 18446744073709551615n - 10n, 'arrival_rank exact beyond 2^53');

  if (old) {
    await t.rejects(store.select('SELECT {a:UInt8} AS a', { a: 1 }), {
      code: 'PEV_STORE_REJECTED',
      message: /predates query parameters/,
    }, `query parameters are refused by ${first.serverVersion} with a clear reason`);
  } else {
    t.same(await store.select('SELECT {a:UInt8} AS a', { a: 1 }), [{ a: 1 }]);
  }
});

void t.test('wrong password: rejected, not retryable, password not in the message', async (t) => {
  const server = await clickhouseServer();
  const secret = 'Wr0ng-Secret-Pa55';
  const store = await openStore(httpStoreOptions(server, uniqueName('store_auth'), { password: secret }));
  t.teardown(() => store.close());
  const err = await store.insertTsv('interval_raw', [tsv('interval_raw', intervalRows())]).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.match(err, { name: 'StoreError', code: 'PEV_STORE_REJECTED', retryable: false, message: /interval_raw/ });
  const text = JSON.stringify({ m: (err as Error).message, s: (err as Error).stack, c: String((err as Error).cause) });
  t.notOk(text.includes(secret), 'the password appears nowhere in the error');
  t.match((err as Error).message, /password|Authentication failed/i, 'the reason is stated');
  await t.rejects(store.migrate(), { code: 'PEV_STORE_REJECTED', retryable: false }, 'migrate too');
});

void t.test('outage: a stopped server is retryable, the restarted one takes the insert (private server)', async (t) => {
  const server = await privateClickhouseServer(t);
  const store = await openStore(httpStoreOptions(server, 'outage', { requestTimeoutMs: 2000 }));
  t.teardown(() => store.close());
  const m = await store.migrate();
  t.ok(m.applied.includes('001_ingest_tables'));
  const rows = intervalRows();
  await store.insertTsv('interval_raw', [tsv('interval_raw', rows.slice(0, 2))]);

  await server.stop();
  await t.rejects(store.insertTsv('interval_raw', [tsv('interval_raw', rows.slice(2, 4))]), {
    name: 'StoreError',
    code: 'PEV_STORE_UNAVAILABLE',
    retryable: true,
    message: /outage\.interval_raw.*ECONNREFUSED/,
  }, 'connection refused while down');
  await t.rejects(store.migrate(), { code: 'PEV_STORE_UNAVAILABLE', retryable: true }, 'migrate while down');

  await server.start();
  await store.insertTsv('interval_raw', [tsv('interval_raw', rows.slice(2, 4))]);
  t.equal(await count(store, 'interval_raw'), 4, 'data from before the outage kept, the retried insert landed');

  // A hung server (stopped process, sockets open): the request times out, retryable.
  server.signal('SIGSTOP');
  try {
    await t.rejects(store.insertTsv('interval_raw', [tsv('interval_raw', rows.slice(4))]), {
      code: 'PEV_STORE_UNAVAILABLE',
      retryable: true,
      message: /outage\.interval_raw.*Timeout/i,
    }, 'request timeout on a hung server');
  } finally {
    server.signal('SIGCONT');
  }
  // The timed-out insert may or may not have landed (the classic unknown outcome): a retry appends
  // the same rows again, and read-time dedup by (session_id, seq, content) counts them once.
  await store.insertTsv('interval_raw', [tsv('interval_raw', rows.slice(4))]);
  const [d] = await store.select<Record<string, unknown>>(
    'SELECT count() AS n FROM (SELECT DISTINCT session_id, seq, content_hash FROM {db}.interval_raw)',
  );
  t.equal(toInt(d?.['n']), 6);
});

void t.test('read-only user: rejected, not retryable (private server)', async (t) => {
  const server = await privateClickhouseServer(t);
  const writer = await openStore(httpStoreOptions(server, 'ro'));
  t.teardown(() => writer.close());
  await writer.migrate();
  const reader = await openStore(httpStoreOptions(server, 'ro', { username: 'reader' }));
  t.teardown(() => reader.close());
  await t.rejects(reader.insertTsv('vehicle_report_raw', [tsv('vehicle_report_raw', vehicleReportRows())]), {
    code: 'PEV_STORE_REJECTED',
    retryable: false,
    message: /ro\.vehicle_report_raw.*readonly/,
  });
});

void t.test('read-only user can select (no settings are sent over HTTP)', async (t) => {
  const server = await privateClickhouseServer(t);
  const reader = await openStore(httpStoreOptions(server, 'default', { username: 'reader' }));
  t.teardown(() => reader.close());
  const [r] = await reader.select<{ n: unknown }>('SELECT toUInt64(18446744073709551615) AS n');
  t.equal(toBigInt(r?.n), 18446744073709551615n);
});
