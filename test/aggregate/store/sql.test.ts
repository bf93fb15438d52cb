/**
 * `pevmeter sql`: a user's query against the real engine (chDB in-process, and the ClickHouse
 * server over HTTP), its answer in the format asked, and writes refused by the engine's own
 * `readonly` setting unless --allow-writes; then the command itself (built CLI): the query from
 * stdin, a pipe's default format, exit codes.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { openStore } from '../../../aggregate/store/connect.js';
import { runUserSql, userQuery } from '../../../aggregate/store/sql.js';
import { toInt } from '../../../aggregate/store/values.js';
import { PevmeterError } from '../../../schemas/errors.js';
import { packageRoot } from '../../../schemas/index.js';
import { clickhouseServer, httpStoreOptions } from '../../helpers/services.js';
import { deadLetterRows, tsv } from './fixtures.js';

function sink(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  let s = '';
  out.on('data', (c: Buffer) => (s += c.toString()));
  return { out, text: () => s };
}

void t.test('userQuery: the format as default_format, readonly unless writes are allowed, names only', (t) => {
  t.same(userQuery('SELECT 1;  \n', { format: 'CSV' }), { query: 'SELECT 1', settings: { default_format: 'CSV', readonly: '1' } });
  t.same(userQuery('SELECT 1', { format: 'CSV', allowWrites: true }), { query: 'SELECT 1', settings: { default_format: 'CSV' } });
  t.throws(() => userQuery('SELECT 1', { format: 'CSV; DROP TABLE x' }), { code: 'PEV_INPUT', message: /--format: .* is not a ClickHouse format name/ });
  t.throws(() => userQuery(' ;\n', { format: 'CSV' }), { code: 'PEV_INPUT', message: /the query is empty/ });
  t.end();
});

void t.test('embedded store: formats, writes refused unless allowed', async (t) => {
  const dir = join(t.testdirName, 'chdb');
  rmSync(dir, { recursive: true, force: true });
  t.teardown(() => rmSync(t.testdirName, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  let store = await openStore({ kind: 'embedded', path: dir, database: 'pevmeter' });
  await store.migrate();
  await store.insertTsv('dead_letter', [tsv('dead_letter', deadLetterRows())]);
  const text = async (q: string, format = 'TabSeparatedWithNames', allowWrites = false) => {
    const s = sink();
    await runUserSql(store, q, { format, out: s.out, ...(allowWrites ? { allowWrites } : {}) });
    return s.text();
  };
  // Writes first: a read-only query leaves the embedded session read-only until the store closes.
  t.equal(await text("INSERT INTO pevmeter.dead_letter (code, src_offset) VALUES ('PEV_X', 8)", 'CSV', true), '', '--allow-writes: an INSERT ... VALUES runs');
  const q = 'SELECT code, src_offset FROM pevmeter.dead_letter ORDER BY src_offset';
  for (const [format, want] of [
    ['TabSeparatedWithNames', 'code\tsrc_offset\nPEV_NO_MAGIC\t7\nPEV_X\t8\n'],
    ['CSVWithNames', '"code","src_offset"\n"PEV_NO_MAGIC",7\n"PEV_X",8\n'],
    ['JSONEachRow', '{"code":"PEV_NO_MAGIC","src_offset":7}\n{"code":"PEV_X","src_offset":8}\n'],
  ] as const) {
    t.equal(await text(q, format), want, format);
  }
  t.equal(await text(`${q} FORMAT CSV;`), '"PEV_NO_MAGIC",7\n"PEV_X",8\n', 'a FORMAT clause in the query wins');

  for (const write of [
    "INSERT INTO pevmeter.dead_letter (code) VALUES ('PEV_Y')",
    'TRUNCATE TABLE pevmeter.dead_letter',
    'DROP TABLE pevmeter.dead_letter',
    'SELECT 1 SETTINGS readonly = 0',
  ]) {
    const err = await text(write).then(() => undefined, (e: unknown) => e);
    t.ok(err instanceof PevmeterError, `${write}: refused`);
    t.equal((err as PevmeterError).code, 'PEV_INPUT', `${write}: PEV_INPUT`);
    t.match((err as Error).message, /readonly mode.*; pevmeter sql is read-only: add --allow-writes to change data$/, `${write}: says why and what to do`);
  }
  const bad = await text('SELECT * FROM pevmeter.no_such_table').then(() => undefined, (e: unknown) => e);
  t.match(bad, { code: 'PEV_INPUT', message: /the query was refused: .*no_such_table/ }, 'an unknown table: PEV_INPUT naming it');
  await store.close();
  store = await openStore({ kind: 'embedded', path: dir, database: 'pevmeter' });
  t.same((await store.select<{ code: string; n: string }>('SELECT code, count() AS n FROM {db}.dead_letter GROUP BY code ORDER BY code')).map((r) => [r.code, toInt(r.n)]), [['PEV_NO_MAGIC', 1], ['PEV_X', 1]], 'reopened: the two rows, nothing else written');
  await store.close();
});

void t.test('ClickHouse server over HTTP: the same readonly refusal', async (t) => {
  const server = await clickhouseServer();
  const store = await openStore(httpStoreOptions(server, 'default'));
  t.teardown(() => store.close());
  const s = sink();
  await runUserSql(store, 'SELECT 1 + 1 AS two', { format: 'TabSeparatedWithNames', out: s.out });
  t.equal(s.text(), 'two\n2\n');
  await t.rejects(runUserSql(store, 'CREATE TABLE default.pev_sql_test_never (x Int8) ENGINE = Memory', { format: 'CSV', out: sink().out }), { code: 'PEV_INPUT', message: /Code: 164.*readonly mode/ });
  const [exists] = await store.select<{ n: string }>("SELECT count() AS n FROM system.tables WHERE database = 'default' AND name = 'pev_sql_test_never'");
  t.equal(toInt(exists?.n), 0, 'no table was created');
});

void t.test('the command: query on stdin, TabSeparatedWithNames in a pipe, exit codes', (t) => {
  const cli = join(packageRoot(), 'dist', 'cli.js');
  const data = join(t.testdirName, 'cli-chdb');
  rmSync(data, { recursive: true, force: true });
  t.teardown(() => rmSync(t.testdirName, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  const run = (args: string[], input?: string) => spawnSync(process.execPath, [cli, 'sql', '--data', data, ...args], { encoding: 'utf8', timeout: 60_000, ...(input !== undefined ? { input } : {}) });
  const migrate = spawnSync(process.execPath, [cli, 'migrate', '--data', data, '--log-level', 'error'], { encoding: 'utf8', timeout: 60_000 });
  t.equal(migrate.status, 0, 'migrated');
  const a = run([], "SELECT name FROM system.tables WHERE database = 'pevmeter' AND name LIKE 'session_%' AND engine = 'View' ORDER BY name;\n");
  t.equal(a.status, 0, 'exit 0');
  t.equal(a.stdout, 'name\nsession_event_unique\nsession_minute\nsession_rollup\n', 'the query from stdin, TabSeparatedWithNames in a pipe');
  const b = run(['--format', 'JSONEachRow', 'SELECT count() AS n FROM pevmeter.interval_raw']);
  t.equal(b.stdout, '{"n":0}\n', '--format, the query as an argument');
  const c = run(["INSERT INTO pevmeter.dead_letter (code) VALUES ('PEV_X')"]);
  t.equal(c.status, 64, 'a write: exit 64');
  t.match(c.stderr, /^pevmeter: PEV_INPUT: the query was refused: .*readonly mode.*add --allow-writes/m);
  const d = run(['--allow-writes', "INSERT INTO pevmeter.dead_letter (code) VALUES ('PEV_X')"]);
  t.equal(d.status, 0, '--allow-writes: exit 0');
  t.equal(run(['SELECT count() AS n FROM pevmeter.dead_letter']).stdout, 'n\n1\n', 'one row written');
  t.end();
});
